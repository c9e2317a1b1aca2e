#include "delta_edits.hpp"

#include "util/bytes.hpp"
#include "util/file.hpp"
#include "util/zstd.hpp"

#include <algorithm>
#include <stdexcept>

namespace treecast::core {

namespace {

enum Field : std::uint8_t
{ // format
  k_type = 0x01,
  k_mode = 0x02,
  k_owner = 0x04,
  k_size = 0x08,
  k_hash = 0x10,
  k_target = 0x20,
  k_mtime = 0x40,
  k_written = 0x80,
};

// The fields of b to write, given A's entry at its path (or none).
std::uint8_t fields_of(const Entry* a, const Entry& b, bool written)
{
  if (a == nullptr || a->type != b.type) {
    unsigned f = k_type | k_mode | k_owner | k_mtime;
    if (b.type == EntryType::file) {
      f |= k_size | k_hash | (written ? k_written : 0);
    } else if (b.type == EntryType::symlink) {
      f |= k_target;
    }
    return static_cast<std::uint8_t>(f);
  }
  unsigned f = 0;
  f |= a->mode != b.mode ? k_mode : 0;
  f |= a->uid != b.uid || a->gid != b.gid || a->user != b.user || a->group != b.group ? k_owner : 0;
  f |= a->mtime_ns != b.mtime_ns ? k_mtime : 0;
  if (b.type == EntryType::file) {
    f |= a->size != b.size ? k_size : 0;
    f |= a->hash != b.hash ? k_hash : 0;
    f |= written ? k_written | k_hash : 0;
  } else if (b.type == EntryType::symlink) {
    f |= a->target != b.target ? k_target : 0;
  }
  return static_cast<std::uint8_t>(f);
}

// The reader adds which delta and where.
util::Error bad(std::string_view /*origin*/, const std::string& message)
{
  return util::make_error(util::Errc::data, "MANIFEST: " + message);
}

} // namespace

std::vector<std::uint8_t> edits_prefix(const Manifest& from)
{
  std::vector<std::uint8_t> prefix;
  for (const Entry& e : from.entries) {
    prefix.insert(prefix.end(), e.path.begin(), e.path.end());
    prefix.push_back('\n');
    if (prefix.size() > k_max_edits_prefix) {
      return {};
    }
  }
  return prefix;
}

std::vector<std::uint8_t> compress_edits(const Manifest& from,
                                         std::span<const std::uint8_t> section)
{
  const std::vector<std::uint8_t> prefix = edits_prefix(from);
  util::ZstdCompressor compressor(19);
  if (prefix.empty()) {
    compressor.begin(section.size());
  } else {
    compressor.begin_patch(prefix, section.size());
  }
  compressor.pledge(section.size());
  std::vector<std::uint8_t> out;
  const util::ByteSink sink = [&](std::span<const std::uint8_t> data) -> util::Status {
    out.insert(out.end(), data.begin(), data.end());
    return {};
  };
  if (auto s = compressor.update(section, sink); !s) {
    throw std::logic_error(s.error().message);
  }
  if (auto s = compressor.finish(sink); !s) {
    throw std::logic_error(s.error().message);
  }
  return out;
}

util::Result<std::vector<std::uint8_t>> decompress_edits(const Manifest& from,
                                                         std::span<const std::uint8_t> compressed,
                                                         std::uint64_t max_size)
{
  const std::vector<std::uint8_t> prefix = edits_prefix(from);
  util::ZstdDecompressor decompressor;
  decompressor.one_frame_only();
  if (prefix.empty()) {
    decompressor.begin();
  } else {
    decompressor.begin_patch(prefix);
  }
  std::vector<std::uint8_t> out;
  auto s = decompressor.update(compressed, [&](std::span<const std::uint8_t> data) -> util::Status {
    if (out.size() + data.size() > max_size) {
      return util::make_error(util::Errc::data, "decompressed size exceeds the limit of " +
                                                  std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), data.begin(), data.end());
    return {};
  });
  if (!s) {
    return s.error();
  }
  if (!decompressor.frame_complete()) {
    return util::make_error(util::Errc::data, "truncated zstd frame");
  }
  return out;
}

std::vector<std::uint8_t> encode_edits(const Manifest& from, const Manifest& to,
                                       const std::vector<bool>& written)
{
  util::ByteWriter w;
  std::vector<std::string_view> removed;
  for (const Entry& e : from.entries) {
    if (to.find(e.path) == nullptr) {
      removed.push_back(e.path);
    }
  }
  w.varint(removed.size());
  for (const std::string_view path : removed) {
    w.str(path);
  }
  w.str(to.header.channel);
  w.varint(to.header.number);
  w.varint(to.header.parent);
  w.u64le(static_cast<std::uint64_t>(to.header.time_ns));
  w.str(to.header.message);

  util::ByteWriter edits;
  std::size_t count = 0;
  std::string_view previous_path;
  std::int64_t previous_mtime = to.header.time_ns;
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& b = to.entries[i];
    const Entry* a = from.find(b.path);
    const std::uint8_t f = fields_of(a, b, written[i]);
    if (f == 0) {
      continue;
    }
    count += 1;
    const std::size_t shared = util::common_prefix(previous_path, b.path);
    edits.varint(shared);
    edits.str(std::string_view(b.path).substr(shared));
    previous_path = b.path;
    edits.u8(f);
    if (f & k_type) {
      edits.u8(static_cast<std::uint8_t>(b.type));
    }
    if (f & k_mode) {
      edits.varint(b.mode);
    }
    if (f & k_owner) {
      edits.varint(b.uid);
      edits.str(b.user);
      edits.varint(b.gid);
      edits.str(b.group);
    }
    if (f & k_size) {
      edits.varint(b.size);
    }
    if (f & k_hash) {
      edits.bytes(b.hash.bytes);
    }
    if (f & k_target) {
      edits.str(b.target);
    }
    if (f & k_mtime) {
      edits.varint(util::zigzag(b.mtime_ns - previous_mtime));
      previous_mtime = b.mtime_ns;
    }
  }
  w.varint(count);
  w.bytes(edits.data());
  return w.take();
}

util::Result<Edits> decode_edits(const Manifest& from, std::span<const std::uint8_t> section,
                                 std::string_view origin)
{
  util::ByteReader r(section);
  const auto removed_count = r.varint_max("removed count", from.entries.size());
  std::vector<std::string> removed;
  removed.reserve(removed_count);
  for (std::uint64_t i = 0; i < removed_count && r.ok(); ++i) {
    removed.push_back(r.str("removed path", k_max_path));
    if (r.ok() && i > 0 && !(removed[i - 1] < removed[i])) {
      r.fail("removed paths not sorted at " + util::quote(removed[i]));
    } else if (r.ok() && from.find(removed[i]) == nullptr) {
      r.fail("removes " + util::quote(removed[i]) + ", which the version held here lacks");
    }
  }
  Edits out;
  Header& h = out.to.header;
  h.channel = r.str("channel", 128);
  h.number = r.varint("number");
  h.parent = r.varint("parent");
  h.time_ns = static_cast<std::int64_t>(r.u64le("time"));
  h.message = r.str("message", k_max_message);
  if (!r.ok()) {
    return bad(origin, r.error());
  }
  if (auto s = validate_channel(h.channel); !s) {
    return bad(origin, s.error().message);
  }
  if (h.number == 0 || h.parent >= h.number) {
    return bad(origin, "version number " + std::to_string(h.number) + " with parent " +
                         std::to_string(h.parent));
  }

  // Each edit takes at least 3 bytes: the count is bounded by what is left.
  const auto count = r.varint_max("edit count", r.remaining() / 3 + 1);
  std::vector<Entry> changed;
  std::vector<bool> changed_written;
  changed.reserve(count);
  std::string previous_path;
  std::int64_t previous_mtime = h.time_ns;
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    const auto shared = r.varint_max("path prefix", previous_path.size());
    const auto suffix = r.str_view("path", k_max_path);
    std::string path = previous_path.substr(0, shared);
    path.append(suffix);
    // Canonical: the shared prefix is always the longest one.
    if (r.ok() && i > 0 && util::common_prefix(previous_path, path) != shared) {
      r.fail("path prefix of " + util::quote(path) + " is not the longest shared one");
    }
    if (r.ok() && std::binary_search(removed.begin(), removed.end(), path)) {
      r.fail(util::quote(path) + " both removed and edited");
    }
    if (r.ok() && i > 0 && !(previous_path < path)) {
      r.fail(path == previous_path ? "duplicate path " + util::quote(path)
                                   : "edits not sorted at " + util::quote(path));
    }
    const std::uint8_t f = r.u8("fields");
    if (!r.ok()) {
      break;
    }
    const Entry* a = from.find(path);
    Entry e;
    if (a != nullptr) {
      e = *a;
    } else if ((f & (k_type | k_mode | k_owner | k_mtime)) !=
               (k_type | k_mode | k_owner | k_mtime)) {
      r.fail("new path " + util::quote(path) + " without all its fields");
      break;
    }
    e.path = std::move(path);
    if (f & k_type) {
      const auto type = r.u8("type");
      if (type < 1 || type > 3) {
        r.fail("unknown entry type " + std::to_string(type) + " at " + util::quote(e.path));
        break;
      }
      if (a != nullptr && static_cast<EntryType>(type) == a->type) {
        r.fail("a type that did not change at " + util::quote(e.path));
        break;
      }
      e.type = static_cast<EntryType>(type);
      // A new type starts without the old one's content.
      e.size = 0;
      e.hash = {};
      e.target.clear();
      const unsigned needs = e.type == EntryType::file      ? k_size
                             : e.type == EntryType::symlink ? k_target
                                                            : 0;
      if ((f & needs) != needs || (e.type == EntryType::file && !(f & k_hash))) {
        r.fail("a new " + std::string(to_string(e.type)) + " without its content at " +
               util::quote(e.path));
        break;
      }
    }
    if (f & k_mode) {
      e.mode = static_cast<std::uint32_t>(r.varint_max("mode", 07777));
    }
    if (f & k_owner) {
      e.uid = static_cast<std::uint32_t>(r.varint_max("uid", UINT32_MAX));
      e.user = r.str("user", k_max_name);
      e.gid = static_cast<std::uint32_t>(r.varint_max("gid", UINT32_MAX));
      e.group = r.str("group", k_max_name);
    }
    const bool file = e.type == EntryType::file;
    if ((f & (k_size | k_hash | k_written)) && !file) {
      r.fail("a size or content for " + util::quote(e.path) + ", which is not a file");
      break;
    }
    if ((f & k_target) && e.type != EntryType::symlink) {
      r.fail("a target for " + util::quote(e.path) + ", which is not a symlink");
      break;
    }
    if ((f & k_written) && !(f & k_hash)) {
      r.fail("the payload's content for " + util::quote(e.path) + " without its hash");
      break;
    }
    if (f & k_size) {
      e.size = r.varint_max("size", INT64_MAX);
    }
    if (f & k_hash) {
      const auto hash = r.bytes("hash", 16);
      if (r.ok()) {
        std::copy(hash.begin(), hash.end(), e.hash.bytes.begin());
      }
    }
    if (f & k_written) {
      if (r.ok() && e.size == 0) {
        r.fail("the payload's content for the empty file " + util::quote(e.path));
        break;
      }
    }
    if (f & k_target) {
      e.target = r.str("symlink target", k_max_path);
      if (r.ok() && (e.target.empty() || e.target.find('\0') != std::string::npos)) {
        r.fail("symlink target empty or holding NUL at " + util::quote(e.path));
      }
    }
    if (f & k_mtime) {
      previous_mtime =
        static_cast<std::int64_t>(static_cast<std::uint64_t>(previous_mtime) +
                                  static_cast<std::uint64_t>(util::unzigzag(r.varint("mtime"))));
      e.mtime_ns = previous_mtime;
    }
    if (a != nullptr && f == 0) {
      r.fail("an edit that changes nothing at " + util::quote(e.path));
    }
    if (!r.ok()) {
      break;
    }
    if (auto s = validate_path(e.path); !s) {
      return bad(origin, s.error().message);
    }
    previous_path = e.path;
    changed_written.push_back((f & k_written) != 0);
    changed.push_back(std::move(e));
  }
  if (r.ok() && !r.at_end()) {
    r.fail("trailing bytes");
  }
  if (!r.ok()) {
    return bad(origin, r.error());
  }

  // B: A without the removed paths, with the edited entries in place.
  auto& entries = out.to.entries;
  entries.reserve(from.entries.size() + changed.size());
  std::size_t i = 0;
  std::size_t k = 0;
  std::size_t gone = 0;
  const auto& a = from.entries;
  while (i < a.size() || k < changed.size()) {
    if (i < a.size() && gone < removed.size() && a[i].path == removed[gone]) {
      ++i;
      ++gone;
    } else if (k == changed.size() || (i < a.size() && a[i].path < changed[k].path)) {
      entries.push_back(a[i++]);
      out.written.push_back(false);
    } else {
      if (i < a.size() && a[i].path == changed[k].path) {
        ++i;
      }
      entries.push_back(std::move(changed[k]));
      out.written.push_back(changed_written[k]);
      ++k;
    }
  }
  // The whole of B passes the manifest's own checks (paths, parents).
  if (auto checked = decode(encode(out.to), origin); !checked) {
    return bad(origin, checked.error().message);
  }
  return out;
}

} // namespace treecast::core
