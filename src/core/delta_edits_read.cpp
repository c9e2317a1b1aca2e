// Reading a delta's MANIFEST section (delta_edits.hpp): B from A and the
// edits, every field checked as it is read.

#include "delta_edits.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"

#include <algorithm>

namespace treecast::core {

using namespace edit;

namespace {

// The reader adds which delta and where.
util::Error bad(std::string_view /*origin*/, const std::string& message)
{
  return util::make_error(util::Errc::data, "MANIFEST: " + message);
}

// Reads an edit's fields onto e, which holds the entry it starts from (A's,
// or a new one); a is that entry of A, or null.
void read_fields(util::ByteReader& r, std::uint8_t f, const Entry* a, Entry& e,
                 std::int64_t& previous_mtime)
{
  if (a == nullptr &&
      (f & (k_type | k_mode | k_owner | k_mtime)) != (k_type | k_mode | k_owner | k_mtime)) {
    r.fail("new path " + util::quote(e.path) + " without all its fields");
    return;
  }
  if (f & k_type) {
    const auto type = r.u8("type");
    if (!r.ok()) {
      return;
    }
    if (type < 1 || type > 3) {
      r.fail("unknown entry type " + std::to_string(type) + " at " + util::quote(e.path));
      return;
    }
    if (a != nullptr && static_cast<EntryType>(type) == a->type) {
      r.fail("a type that did not change at " + util::quote(e.path));
      return;
    }
    e.type = static_cast<EntryType>(type);
    // A new type starts without the old one's content.
    e.size = 0;
    e.hash = {};
    e.target.clear();
    e.xattrs.clear();
    const unsigned needs = e.type == EntryType::file      ? k_size
                           : e.type == EntryType::symlink ? k_target
                                                          : 0;
    if ((f & needs) != needs || (e.type == EntryType::file && !(f & k_hash))) {
      r.fail("a new " + std::string(to_string(e.type)) + " without its content at " +
             util::quote(e.path));
      return;
    }
  }
  if (f & k_mode) {
    const auto mode = static_cast<std::uint32_t>(r.varint_max("mode", k_xattrs_follow | 07777));
    if (r.ok() && (mode & ~(k_xattrs_follow | 07777)) != 0) {
      r.fail("mode " + std::to_string(mode) + " at " + util::quote(e.path));
      return;
    }
    e.mode = mode & 07777;
    if ((mode & k_xattrs_follow) != 0) {
      e.xattrs = read_xattrs(r, true);
      if (r.ok() && e.type == EntryType::symlink && !e.xattrs.empty()) {
        r.fail("extended attributes on the symlink " + util::quote(e.path));
        return;
      }
    }
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
    return;
  }
  if ((f & k_target) && e.type != EntryType::symlink) {
    r.fail("a target for " + util::quote(e.path) + ", which is not a symlink");
    return;
  }
  if ((f & k_written) && !(f & k_hash)) {
    r.fail("the payload's content for " + util::quote(e.path) + " without its hash");
    return;
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
  if ((f & k_written) && r.ok() && e.size == 0) {
    r.fail("the payload's content for the empty file " + util::quote(e.path));
    return;
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
}

} // namespace

util::Result<Edits> decode_edits(const Manifest& from, std::span<const std::uint8_t> section,
                                 std::string_view origin)
{
  const auto& a = from.entries;
  util::ByteReader r(section);
  // Per entry of A: kept, removed, or edited (each once at most).
  enum class Fate : std::uint8_t
  {
    kept,
    removed,
    edited,
  };
  std::vector<Fate> fate(a.size(), Fate::kept);
  const auto removed_count = r.varint_max("removed count", a.size());
  std::uint64_t next = 0;
  for (std::uint64_t i = 0; i < removed_count && r.ok(); ++i) {
    const auto index = next + r.varint_max("removed entry", a.size());
    if (r.ok() && index >= a.size()) {
      r.fail("removes entry " + std::to_string(index) + " of a version of " +
             std::to_string(a.size()));
      break;
    }
    fate[index] = Fate::removed;
    next = index + 1;
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

  // Each edit takes at least 2 bytes: the count is bounded by what is left.
  const auto count = r.varint_max("edit count", r.remaining() / 2 + 1);
  std::vector<Entry> changed;
  std::vector<bool> changed_written;
  changed.reserve(count);
  std::string previous_path;
  std::uint64_t next_held = 0;
  std::int64_t previous_mtime = h.time_ns;
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    const auto ref = r.varint_max("edit reference", UINT64_MAX - a.size());
    const Entry* base = nullptr; // the entry of A the edit starts from
    Entry e;
    std::uint8_t f = 0;
    if (r.ok() && ref >= k_ref_held) {
      const std::uint64_t index = next_held + (ref - k_ref_held);
      if (index >= a.size()) {
        r.fail("edits entry " + std::to_string(index) + " of a version of " +
               std::to_string(a.size()));
        break;
      }
      next_held = index + 1;
      base = &a[index];
      e = *base;
      if (fate[index] == Fate::removed) {
        r.fail(util::quote(e.path) + " both removed and edited");
        break;
      }
      fate[index] = Fate::edited;
      f = r.u8("fields");
      if (r.ok() && f == 0) {
        r.fail("an edit that changes nothing at " + util::quote(e.path));
      }
    } else if (r.ok()) {
      if (ref == k_ref_new_from) {
        const auto source = r.varint_max("edit source", a.size());
        if (r.ok() && source == a.size()) {
          r.fail("starts from entry " + std::to_string(source) + " of a version of " +
                 std::to_string(a.size()));
          break;
        }
        base = r.ok() ? &a[source] : nullptr;
        if (base != nullptr) {
          e = *base;
        }
      }
      const auto shared = r.varint_max("path prefix", previous_path.size());
      const auto suffix = r.str_view("path", k_max_path);
      e.path = previous_path.substr(0, shared);
      e.path.append(suffix);
      // Canonical: the shared prefix is always the longest one.
      if (r.ok() && i > 0 && util::common_prefix(previous_path, e.path) != shared) {
        r.fail("path prefix of " + util::quote(e.path) + " is not the longest shared one");
      }
      if (r.ok() && from.find(e.path) != nullptr) {
        r.fail("gives the path " + util::quote(e.path) + ", which the version held here has");
      }
      f = r.u8("fields");
    }
    if (r.ok() && i > 0 && !(previous_path < e.path)) {
      r.fail(e.path == previous_path ? "duplicate path " + util::quote(e.path)
                                     : "edits not sorted at " + util::quote(e.path));
    }
    if (!r.ok()) {
      break;
    }
    read_fields(r, f, base, e, previous_mtime);
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
  entries.reserve(a.size() + changed.size());
  std::size_t i = 0;
  std::size_t k = 0;
  while (i < a.size() || k < changed.size()) {
    if (i < a.size() && fate[i] == Fate::removed) {
      ++i;
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
