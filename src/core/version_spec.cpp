#include "version_spec.hpp"

#include "util/file.hpp"

#include <algorithm>
#include <charconv>

namespace treecast::core {

namespace {

std::optional<std::uint64_t> parse_number(std::string_view text)
{
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

util::Error unknown(std::string_view channel, std::string_view spec, std::string why)
{
  return util::make_error(util::Errc::not_found, "channel " + std::string(channel) + ": " +
                                                   util::quote(spec) + ": " + why);
}

std::string dropped_message(std::uint64_t number)
{
  std::string message = "v";
  message += std::to_string(number);
  message += " was dropped by gc";
  return message;
}

} // namespace

util::Result<std::uint64_t> resolve_version(const Store& store, std::string_view channel,
                                            std::string_view spec)
{
  auto versions = store.versions(channel);
  if (!versions) {
    return versions.error();
  }
  if (versions->empty()) {
    return util::make_error(util::Errc::not_found, "channel " + std::string(channel) +
                                                     " has no versions in " +
                                                     util::quote(store.root()));
  }
  auto exists = [&](std::uint64_t n) {
    return std::binary_search(versions->begin(), versions->end(), n);
  };

  if (spec.starts_with("latest")) {
    auto latest = store.latest(channel);
    if (!latest) {
      return latest.error();
    }
    if (!*latest) {
      return unknown(channel, spec, "the channel has no latest version");
    }
    std::uint64_t back = 0;
    if (spec.size() > 6) {
      auto n = spec[6] == '~' ? parse_number(spec.substr(7)) : std::nullopt;
      if (!n) {
        return util::make_error(util::Errc::usage,
                                util::quote(spec) + ": expected latest or latest~N");
      }
      back = *n;
    }
    const std::uint64_t number = (*latest)->number;
    if (back >= number || !exists(number - back)) {
      return unknown(channel, spec,
                     back >= number ? "there are not that many versions"
                                    : dropped_message(number - back));
    }
    return number - back;
  }

  const bool v_prefixed = spec.size() > 1 && spec[0] == 'v';
  if (auto n = parse_number(v_prefixed ? spec.substr(1) : spec)) {
    if (exists(*n)) {
      return *n;
    }
    // Too short for an id prefix: it can only have meant a number.
    if (v_prefixed || spec.size() < 4) {
      return unknown(channel, spec, "no such version (it may have been dropped by gc)");
    }
  }

  const bool hex =
    spec.size() >= 4 && spec.size() <= 32 && std::all_of(spec.begin(), spec.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
  if (!hex) {
    return util::make_error(util::Errc::usage, util::quote(spec) +
                                                 " is not a version: use v3, 3, latest, latest~2 "
                                                 "or an id prefix of at least 4 hex digits");
  }
  std::string prefix(spec);
  std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                 [](char c) { return static_cast<char>(std::tolower(c)); });
  std::optional<std::uint64_t> match;
  util::Hash128 matched_id;
  for (const std::uint64_t n : *versions) {
    auto manifest = store.read_manifest(channel, n);
    if (!manifest) {
      return manifest.error();
    }
    if (manifest->id.hex().starts_with(prefix)) {
      // Equal trees share an id; a prefix naming several numbers is ambiguous
      // unless they all hold the same tree, then the newest is meant.
      if (match && manifest->id != matched_id) {
        return util::make_error(util::Errc::usage,
                                util::quote(spec) + " is ambiguous: it matches v" +
                                  std::to_string(*match) + " and v" + std::to_string(n));
      }
      match = n;
      matched_id = manifest->id;
    }
  }
  if (!match) {
    return unknown(channel, spec, "no version has that number or id");
  }
  return *match;
}

} // namespace treecast::core
