#include "fuzz_targets.hpp"

#include "core/delta.hpp"
#include "wire/codec.hpp"

#include <algorithm>
#include <cstdlib>

namespace treecast::fuzz {

namespace {

std::string text(std::size_t size, unsigned seed)
{
  std::string out;
  unsigned x = seed;
  while (out.size() < size) {
    x = x * 1103515245 + 12345;
    out +=
      "option_" + std::to_string((x >> 16) % 97) + " = " + std::to_string((x >> 8) % 1000) + ";\n";
  }
  out.resize(size);
  return out;
}

core::Entry entry(const std::string& path, core::EntryType type, const std::string& content)
{
  core::Entry e;
  e.path = path;
  e.type = type;
  e.mode = type == core::EntryType::directory ? 0755 : 0644;
  e.user = "root";
  e.group = "root";
  if (type == core::EntryType::file) {
    e.size = content.size();
    e.hash =
      util::hash_bytes({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
  } else if (type == core::EntryType::symlink) {
    e.target = content;
  }
  return e;
}

Base make_base()
{
  Base b;
  const std::pair<std::string, std::string> files[] = {
    {"etc", ""},
    {"etc/a.conf", text(3000, 1)},
    {"etc/b.conf", text(4000, 2)},
    {"etc/link", "a.conf"},
    {"lib", ""},
    {"lib/big.js", text(200 * 1024, 3)},
  };
  for (const auto& [path, content] : files) {
    const bool folder = path == "etc" || path == "lib";
    const auto type = folder               ? core::EntryType::directory
                      : path == "etc/link" ? core::EntryType::symlink
                                           : core::EntryType::file;
    b.manifest.entries.push_back(entry(path, type, content));
    b.contents.push_back(type == core::EntryType::file ? content : std::string());
  }
  b.manifest.header.channel = "fuzz";
  b.manifest.header.number = 1;
  b.manifest.header.time_ns = 1'700'000'000'000'000'000;
  core::finalize(b.manifest);
  return b;
}

// The follower's side in memory: bases from base(), new files discarded.
class Target final : public core::DeltaTarget
{
public:
  util::Result<std::span<const std::uint8_t>> base(std::size_t index, std::uint64_t offset,
                                                   std::uint64_t length) override
  {
    const std::string& content = fuzz::base().contents.at(index);
    return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(content.data()),
                                         content.size())
      .subspan(offset, length);
  }
  util::Status begin_file(std::size_t) override { return {}; }
  util::Status write(std::span<const std::uint8_t>) override { return {}; }
  util::Status end_file(std::size_t) override { return {}; }
};

} // namespace

const Base& base()
{
  static const Base b = make_base();
  return b;
}

bool delta(const std::uint8_t* data, std::size_t size)
{
  std::size_t at = 0;
  core::DeltaReader reader(
    [&](std::span<std::uint8_t> buffer) -> util::Result<std::size_t> {
      // Odd-sized reads, so records straddle them.
      const std::size_t n = std::min<std::size_t>({buffer.size(), size - at, 997});
      std::copy_n(data + at, n, buffer.begin());
      at += n;
      return n;
    },
    "fuzz");
  auto header = reader.read_header();
  if (!header) {
    return false;
  }
  static const core::Manifest nothing;
  const core::Manifest& from = header->from_number == 0 ? nothing : base().manifest;
  auto to = reader.read_manifest(from);
  if (!to) {
    return false;
  }
  Target target;
  return reader.read_payload(from, *to, target).ok();
}

bool manifest(const std::uint8_t* data, std::size_t size)
{
  return core::decode({data, size}, "fuzz").ok();
}

bool wire(const std::uint8_t* data, std::size_t size)
{
  auto m = wire::decode({data, size});
  if (!m) {
    return false;
  }
  const auto again = wire::encode(*m);
  if (!std::equal(again.begin(), again.end(), data, data + size)) {
    std::abort(); // two encodings of one message
  }
  return true;
}

} // namespace treecast::fuzz
