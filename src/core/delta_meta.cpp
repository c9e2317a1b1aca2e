#include "delta_meta.hpp"

#include "core/delta_format.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"

namespace treecast::core {

namespace {

std::uint64_t size_of(const Manifest& m, std::size_t index)
{
  return m.entries[index].size;
}

util::Error bad(const std::string& message)
{
  return util::make_error(util::Errc::data, message);
}

// A prefix range's and an output's first varint (format): the file, as the
// zigzag of its index minus the previous one's, shifted left past flags.
constexpr std::uint64_t k_whole = 1;  // prefix: the whole file
constexpr std::uint64_t k_copied = 1; // output: copied from A, not decoded
constexpr std::uint64_t k_rest = 2;   // output: the rest of the file

std::uint64_t step(std::size_t index, std::size_t& previous)
{
  const auto z = util::zigzag(static_cast<std::int64_t>(index - previous));
  previous = index;
  return z;
}

std::uint64_t next_index(std::uint64_t zigzag, std::uint64_t& previous)
{
  previous += static_cast<std::uint64_t>(util::unzigzag(zigzag));
  return previous;
}

} // namespace

util::Status check_file(const Manifest& m, std::uint64_t index, const char* what)
{
  if (index >= m.entries.size() || m.entries[index].type != EntryType::file) {
    return bad(std::string(what) + " " + std::to_string(index) + " is not a file");
  }
  return {};
}

util::Status check_range(const Entry& e, std::uint64_t offset, std::uint64_t length)
{
  if (offset > e.size || length > e.size - offset) {
    return bad("range " + std::to_string(offset) + "+" + std::to_string(length) + " beyond the " +
               std::to_string(e.size) + " bytes of " + util::quote(e.path));
  }
  return {};
}

std::vector<std::uint8_t> encode_frame_meta(const Manifest& from, const Manifest& to,
                                            std::span<const Range> prefix,
                                            std::span<const Range> outputs)
{
  util::ByteWriter meta;
  std::size_t ranges = 0;
  for (const Range& r : prefix) {
    ranges += r.length > 0 ? 1 : 0;
  }
  meta.varint(ranges);
  std::size_t previous = 0;
  for (const Range& r : prefix) {
    if (r.length == 0) {
      continue;
    }
    const bool whole = r.offset == 0 && r.length == size_of(from, r.index);
    meta.varint(step(r.index, previous) << 1 | (whole ? k_whole : 0));
    if (!whole) {
      meta.varint(r.offset);
      meta.varint(r.length);
    }
  }
  meta.varint(outputs.size());
  previous = 0;
  for (const Range& r : outputs) {
    // Outputs are made in file order: r.offset is what the file has so far.
    const bool rest = r.offset + r.length == size_of(to, r.index);
    const bool copied = r.source != k_from_frame;
    meta.varint(step(r.index, previous) << 2 | (rest ? k_rest : 0) | (copied ? k_copied : 0));
    if (!rest) {
      meta.varint(r.length);
    }
    if (copied) {
      meta.varint(r.source);
      meta.varint(r.source_offset);
    }
  }
  return meta.take();
}

util::Result<FrameMeta> decode_frame_meta(std::span<const std::uint8_t> meta, const Manifest& from,
                                          const Manifest& to, std::size_t current,
                                          std::uint64_t given)
{
  FrameMeta out;
  util::ByteReader r(meta);
  // Each range and output takes a byte at least.
  out.prefix.resize(r.varint_max("prefix count", meta.size()));
  std::uint64_t previous = 0;
  std::uint64_t prefix_total = 0;
  for (MetaRange& p : out.prefix) {
    const auto head = r.varint("prefix file");
    p.index = next_index(head >> 1, previous);
    if (!r.ok()) {
      break;
    }
    if (auto s = check_file(from, p.index, "FRAME prefix"); !s) {
      return s.error();
    }
    const Entry& e = from.entries[p.index];
    if (head & k_whole) {
      p.length = e.size;
    } else {
      p.offset = r.varint("prefix offset");
      p.length = r.varint("prefix length");
      if (!r.ok()) {
        break;
      }
    }
    if (auto s = check_range(e, p.offset, p.length); !s) {
      return s.error();
    }
    if (p.length == 0) {
      return bad("FRAME prefix range of no bytes of " + util::quote(e.path));
    }
    prefix_total += p.length;
    if (prefix_total > k_max_frame_prefix) {
      return bad("FRAME prefix above the limit of " + std::to_string(k_max_frame_prefix));
    }
  }
  out.outputs.resize(r.varint_max("output count", meta.size()));
  previous = 0;
  for (MetaRange& o : out.outputs) {
    const auto head = r.varint("output file");
    o.index = next_index(head >> 2, previous);
    if (!r.ok()) {
      break;
    }
    if (auto s = check_file(to, o.index, "FRAME output"); !s) {
      return s.error();
    }
    const Entry& e = to.entries[o.index];
    // What the file has before this output: the outputs of one file come
    // one after another, so only the last file can have any.
    o.offset = o.index == current ? given : 0;
    if (o.offset >= e.size) {
      return bad("FRAME output for " + util::quote(e.path) + ", which has its " +
                 std::to_string(e.size) + " bytes");
    }
    o.length = head & k_rest ? e.size - o.offset : r.varint("output length");
    if (head & k_copied) {
      o.source = r.varint("output source");
      o.source_offset = r.varint("output source offset");
    }
    if (!r.ok()) {
      break;
    }
    if (o.length == 0 || o.length > e.size - o.offset) {
      return bad("FRAME output of " + std::to_string(o.length) + " bytes for " +
                 util::quote(e.path) + ", which has " + std::to_string(o.offset) + " of its " +
                 std::to_string(e.size));
    }
    current = o.index;
    given = o.offset + o.length;
    if (o.copied()) {
      if (auto s = check_file(from, o.source, "FRAME output source"); !s) {
        return s.error();
      }
      if (auto s = check_range(from.entries[o.source], o.source_offset, o.length); !s) {
        return s.error();
      }
      continue;
    }
    out.decoded += o.length;
    if (out.decoded > k_max_frame_output) {
      return bad("FRAME output above the limit of " + std::to_string(k_max_frame_output));
    }
  }
  if (r.ok() && !r.at_end()) {
    r.fail("trailing bytes");
  }
  if (!r.ok()) {
    return bad("FRAME: " + r.error());
  }
  if (out.decoded == 0) {
    return bad("FRAME with nothing to decode");
  }
  return out;
}

} // namespace treecast::core
