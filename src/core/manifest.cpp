// Manifest encoding. Layout (man/treecast-formats.5, MANIFEST):
//
//   "TCMF" u8:version  section:header  section:entries  section:info  hash128
//
// where a section is a varint length and that many bytes, and the final 16
// bytes are the XXH3-128 of everything before them. The entries section is
// what the version id hashes; paths in it are prefix-compressed against the
// previous path (as git's index v4 does), which roughly halves deep trees.

#include "manifest.hpp"

#include "util/bytes.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <unordered_set>

namespace treecast::core {

namespace {

constexpr std::uint8_t k_magic[4] = {'T', 'C', 'M', 'F'};
constexpr std::uint8_t k_version = 1;
constexpr std::uint8_t k_has_xattrs = 0x80; // format: on an entry's type byte
// The smallest possible entry: prefix, suffix length, one path byte, type,
// mode, uid, user, gid, group.
constexpr std::size_t k_min_entry_bytes = 9;

util::ByteWriter encode_entries(const std::vector<Entry>& entries)
{
  util::ByteWriter w;
  w.reserve(entries.size() * 48); // a typical entry; saves regrowing megabytes
  w.varint(entries.size());
  std::string_view previous;
  for (const Entry& e : entries) {
    const std::size_t shared = util::common_prefix(previous, e.path);
    w.varint(shared);
    w.str(std::string_view(e.path).substr(shared));
    // The type's high bit: extended attributes follow the entry's fields.
    // An entry without them encodes as it always did, and keeps its id.
    w.u8(static_cast<std::uint8_t>(e.type) | (e.xattrs.empty() ? 0 : k_has_xattrs));
    w.varint(e.mode);
    w.varint(e.uid);
    w.str(e.user);
    w.varint(e.gid);
    w.str(e.group);
    if (e.type == EntryType::file) {
      w.varint(e.size);
      w.bytes(e.hash.bytes);
    } else if (e.type == EntryType::symlink) {
      w.str(e.target);
    }
    if (!e.xattrs.empty()) {
      write_xattrs(w, e.xattrs);
    }
    previous = e.path;
  }
  return w;
}

util::Error bad(std::string_view origin, std::string message)
{
  return util::make_error(util::Errc::data,
                          "invalid manifest " + util::quote(origin) + ": " + message);
}

} // namespace

const char* to_string(EntryType type)
{
  switch (type) {
    case EntryType::file:
      return "file";
    case EntryType::directory:
      return "dir";
    case EntryType::symlink:
      return "symlink";
  }
  return "unknown";
}

bool Entry::same_identity(const Entry& o) const
{
  return path == o.path && type == o.type && mode == o.mode && uid == o.uid && gid == o.gid &&
         user == o.user && group == o.group && size == o.size && hash == o.hash &&
         target == o.target && xattrs == o.xattrs;
}

const Entry* Manifest::find(std::string_view path) const
{
  auto it = std::lower_bound(entries.begin(), entries.end(), path,
                             [](const Entry& e, std::string_view p) { return e.path < p; });
  return it != entries.end() && it->path == path ? &*it : nullptr;
}

std::uint64_t Manifest::content_bytes() const
{
  std::uint64_t total = 0;
  for (const Entry& e : entries) {
    total += e.type == EntryType::file ? e.size : 0;
  }
  return total;
}

std::size_t Manifest::file_count() const
{
  return static_cast<std::size_t>(std::count_if(
    entries.begin(), entries.end(), [](const Entry& e) { return e.type == EntryType::file; }));
}

unsigned xattr_scope(const Manifest& manifest)
{
  unsigned scope = 0;
  for (const Entry& e : manifest.entries) {
    for (const auto& x : e.xattrs) {
      scope |= x.first.rfind("system.posix_acl_", 0) == 0 ? k_record_acls : k_record_xattrs;
    }
  }
  return scope;
}

util::Hash128 compute_id(const std::vector<Entry>& entries)
{
  return util::hash_bytes(encode_entries(entries).data());
}

void finalize(Manifest& manifest)
{
  sort_entries(manifest.entries);
  manifest.id = compute_id(manifest.entries);
}

void sort_entries(std::vector<Entry>& entries)
{
  // Sort positions, then move each entry once: cheaper than moving entries
  // (five strings each) around during the sort.
  if (!std::is_sorted(entries.begin(), entries.end(),
                      [](const Entry& a, const Entry& b) { return a.path < b.path; })) {
    std::vector<std::uint32_t> order(entries.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return entries[a].path < entries[b].path; });
    std::vector<Entry> sorted;
    sorted.reserve(entries.size());
    for (const std::uint32_t i : order) {
      sorted.push_back(std::move(entries[i]));
    }
    entries = std::move(sorted);
  }
}

std::vector<std::uint8_t> encode(const Manifest& manifest)
{
  util::ByteWriter header;
  header.str(manifest.header.channel);
  header.varint(manifest.header.number);
  header.varint(manifest.header.parent);
  header.u64le(static_cast<std::uint64_t>(manifest.header.time_ns));
  header.str(manifest.header.message);

  const util::ByteWriter entries = encode_entries(manifest.entries);

  util::ByteWriter info;
  info.varint(manifest.entries.size());
  for (const Entry& e : manifest.entries) {
    info.varint(util::zigzag(e.mtime_ns));
  }

  util::ByteWriter out;
  out.bytes(k_magic);
  out.u8(k_version);
  const util::ByteWriter* sections[] = {&header, &entries, &info};
  for (const util::ByteWriter* section : sections) {
    out.varint(section->size());
    out.bytes(section->data());
  }
  const util::Hash128 checksum = util::hash_bytes(out.data());
  out.bytes(checksum.bytes);
  return out.take();
}

util::Status validate_path(std::string_view path)
{
  if (path.empty()) {
    return util::make_error(util::Errc::data, "empty path");
  }
  if (path.size() > k_max_path) {
    return util::make_error(util::Errc::data, "path longer than " + std::to_string(k_max_path) +
                                                " bytes: " + util::quote(path.substr(0, 64)) +
                                                "...");
  }
  if (path.find('\0') != std::string_view::npos) {
    return util::make_error(util::Errc::data, "path holds a NUL byte: " + util::quote(path));
  }
  if (path.front() == '/') {
    return util::make_error(util::Errc::data, "absolute path: " + util::quote(path));
  }
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part = path.substr(start, end - start);
    if (part.empty()) {
      return util::make_error(util::Errc::data, "empty path component: " + util::quote(path));
    }
    if (part == "." || part == "..") {
      return util::make_error(util::Errc::data,
                              "path component '" + std::string(part) + "': " + util::quote(path));
    }
    if (part.size() > k_max_name) {
      return util::make_error(util::Errc::data, "path component longer than " +
                                                  std::to_string(k_max_name) +
                                                  " bytes: " + util::quote(path));
    }
    if (end == path.size()) {
      return {};
    }
    start = end + 1;
  }
}

util::Status validate_channel(std::string_view name)
{
  auto ok_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  };
  if (name.empty() || name.size() > 128 || !std::all_of(name.begin(), name.end(), ok_char) ||
      name.front() == '.' || name.front() == '-' || name.front() == '_') {
    return util::make_error(util::Errc::usage,
                            "invalid channel name " + util::quote(name) +
                              ": use 1 to 128 letters, digits, '.', '_' or '-', starting with a "
                              "letter or digit");
  }
  return {};
}

util::Result<Manifest> decode(std::span<const std::uint8_t> bytes, std::string_view origin)
{
  if (bytes.size() < sizeof k_magic + 1 + 16 ||
      !std::equal(std::begin(k_magic), std::end(k_magic), bytes.begin())) {
    return bad(origin, "not a treecast manifest (bad magic or too short)");
  }
  const auto body = bytes.first(bytes.size() - 16);
  util::Hash128 stored;
  std::copy_n(bytes.end() - 16, 16, stored.bytes.begin());
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION // tools/fuzz.sh: reach the checks behind it
  if (util::hash_bytes(body) != stored) {
    return bad(origin, "checksum mismatch (truncated or corrupt)");
  }
#endif

  util::ByteReader r(body);
  r.bytes("magic", sizeof k_magic);
  if (const auto version = r.u8("format version"); version != k_version) {
    return bad(origin, "unsupported format version " + std::to_string(version));
  }

  Manifest m;
  {
    const auto section = r.bytes("header", r.varint_max("header length", r.remaining()));
    util::ByteReader h(section);
    m.header.channel = h.str("channel", 128);
    m.header.number = h.varint("number");
    m.header.parent = h.varint("parent");
    m.header.time_ns = static_cast<std::int64_t>(h.u64le("time"));
    m.header.message = h.str("message", k_max_message);
    if (h.ok() && !h.at_end()) {
      h.fail("trailing bytes in header");
    }
    if (!r.ok() || !h.ok()) {
      return bad(origin, r.ok() ? h.error() : r.error());
    }
    if (auto s = validate_channel(m.header.channel); !s) {
      return bad(origin, s.error().message);
    }
    if (m.header.number == 0 || m.header.parent >= m.header.number) {
      return bad(origin, "version number " + std::to_string(m.header.number) + " with parent " +
                           std::to_string(m.header.parent));
    }
  }

  const auto entries_section = r.bytes("entries", r.varint_max("entries length", r.remaining()));
  if (!r.ok()) {
    return bad(origin, r.error());
  }
  m.id = util::hash_bytes(entries_section);
  {
    util::ByteReader e(entries_section);
    const auto count = e.varint_max("entry count", entries_section.size() / k_min_entry_bytes + 1);
    m.entries.reserve(count);
    std::unordered_set<std::string_view> folders;
    std::string previous;
    for (std::uint64_t i = 0; i < count && e.ok(); ++i) {
      Entry entry;
      const auto shared = e.varint_max("path prefix", previous.size());
      const auto suffix = e.str_view("path", k_max_path);
      entry.path.reserve(shared + suffix.size());
      entry.path.assign(previous, 0, shared);
      entry.path.append(suffix);
      // Canonical: the shared prefix is always the longest one, so one tree
      // has one encoding and one id.
      if (e.ok() && i > 0 && util::common_prefix(previous, entry.path) != shared) {
        e.fail("path prefix of " + util::quote(entry.path) + " is not the longest shared one");
      }
      const auto type_byte = e.u8("type");
      const auto type = static_cast<std::uint8_t>(type_byte & ~k_has_xattrs);
      entry.mode = static_cast<std::uint32_t>(e.varint_max("mode", 07777));
      entry.uid = static_cast<std::uint32_t>(e.varint_max("uid", UINT32_MAX));
      entry.user = e.str("user", k_max_name);
      entry.gid = static_cast<std::uint32_t>(e.varint_max("gid", UINT32_MAX));
      entry.group = e.str("group", k_max_name);
      if (type == static_cast<std::uint8_t>(EntryType::file)) {
        entry.type = EntryType::file;
        entry.size = e.varint_max("size", INT64_MAX);
        const auto hash = e.bytes("hash", 16);
        if (e.ok()) {
          std::copy(hash.begin(), hash.end(), entry.hash.bytes.begin());
        }
      } else if (type == static_cast<std::uint8_t>(EntryType::directory)) {
        entry.type = EntryType::directory;
      } else if (type == static_cast<std::uint8_t>(EntryType::symlink)) {
        entry.type = EntryType::symlink;
        entry.target = e.str("symlink target", k_max_path);
        if (e.ok() && (entry.target.empty() || entry.target.find('\0') != std::string::npos)) {
          e.fail("symlink target empty or holding NUL at " + util::quote(entry.path));
        }
      } else if (e.ok()) {
        e.fail("unknown entry type " + std::to_string(type) + " at " + util::quote(entry.path));
      }
      if (e.ok() && (type_byte & k_has_xattrs) != 0) {
        if (entry.type == EntryType::symlink) {
          e.fail("extended attributes on the symlink " + util::quote(entry.path));
        } else {
          entry.xattrs = read_xattrs(e, false);
        }
      }
      if (!e.ok()) {
        break;
      }
      if (auto s = validate_path(entry.path); !s) {
        return bad(origin, "entry " + std::to_string(i) + ": " + s.error().message);
      }
      if (i > 0 && !(previous < entry.path)) {
        return bad(origin, entry.path == previous
                             ? "duplicate path " + util::quote(entry.path)
                             : "entries not sorted at " + util::quote(entry.path));
      }
      previous = entry.path;
      m.entries.push_back(std::move(entry));
    }
    if (e.ok() && !e.at_end()) {
      e.fail("trailing bytes in entries");
    }
    if (!e.ok()) {
      return bad(origin, e.error());
    }
    // Every parent must be a folder of this manifest: nothing is ever written
    // through a symlink or under a file.
    for (const Entry& entry : m.entries) {
      const auto slash = entry.path.rfind('/');
      if (slash != std::string::npos &&
          !folders.contains(std::string_view(entry.path).substr(0, slash))) {
        return bad(origin, util::quote(entry.path) + " is not under a folder of the manifest");
      }
      if (entry.type == EntryType::directory) {
        folders.insert(entry.path);
      }
    }
  }

  {
    const auto section = r.bytes("info", r.varint_max("info length", r.remaining()));
    util::ByteReader info(section);
    const auto count = info.varint("info count");
    if (info.ok() && count != m.entries.size()) {
      info.fail("info count " + std::to_string(count) + " differs from entry count " +
                std::to_string(m.entries.size()));
    }
    for (Entry& entry : m.entries) {
      entry.mtime_ns = util::unzigzag(info.varint("mtime"));
    }
    if (info.ok() && !info.at_end()) {
      info.fail("trailing bytes in info");
    }
    if (!r.ok() || !info.ok()) {
      return bad(origin, r.ok() ? info.error() : r.error());
    }
  }
  if (!r.at_end()) {
    return bad(origin, "trailing bytes after the info section");
  }
  return m;
}

} // namespace treecast::core
