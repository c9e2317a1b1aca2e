#include "delta_edits.hpp"

#include "util/bytes.hpp"
#include "util/zstd.hpp"

#include <optional>
#include <stdexcept>
#include <unordered_map>

namespace treecast::core {

using namespace edit;

namespace {

// Whether b's extended attributes differ from those of the entry its edit
// starts from (a: A's at its path, or its source; none: a new path). They
// ride with the mode (k_xattrs_follow), since every field bit is taken.
bool xattrs_changed(const Entry* a, const Entry& b)
{
  return a == nullptr || a->type != b.type ? !b.xattrs.empty() : a->xattrs != b.xattrs;
}

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
  f |= a->mode != b.mode || xattrs_changed(a, b) ? k_mode : 0;
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

namespace {

// For a path of B that A lacks, an entry of A to start from, so that a
// rename, move or copy gives its new path and nothing else: a file of the
// same content, a symlink of the same target, a folder of the same name.
// Entries that B lacks come first (a rename rather than a copy); then the
// first in A's order, so the choice depends on A and B alone.
class Sources
{
public:
  Sources(const Manifest& from, const Manifest& to) : m_from(from), m_to(to) {}

  std::optional<std::size_t> find(const Entry& b)
  {
    if (!m_ready) {
      index();
    }
    const std::vector<std::size_t>* candidates = nullptr;
    if (b.type == EntryType::file && b.size > 0) {
      candidates = lookup(m_by_hash, b.hash);
    } else if (b.type == EntryType::symlink) {
      candidates = lookup(m_by_target, b.target);
    } else if (b.type == EntryType::directory) {
      candidates = lookup(m_folder_by_name, base_name(b.path));
    }
    if (candidates == nullptr) {
      return std::nullopt;
    }
    for (const std::size_t i : *candidates) {
      if (m_to.find(m_from.entries[i].path) == nullptr) {
        return i;
      }
    }
    if (b.type == EntryType::directory) {
      return std::nullopt; // a folder is only renamed, never copied
    }
    return candidates->front();
  }

private:
  static std::string_view base_name(std::string_view path)
  {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
  }

  template <typename Map, typename Key>
  static const std::vector<std::size_t>* lookup(const Map& map, const Key& key)
  {
    const auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  }

  void index()
  {
    m_ready = true;
    for (std::size_t i = 0; i < m_from.entries.size(); ++i) {
      const Entry& a = m_from.entries[i];
      if (a.type == EntryType::file && a.size > 0) {
        m_by_hash[a.hash].push_back(i);
      } else if (a.type == EntryType::symlink) {
        m_by_target[a.target].push_back(i);
      } else if (a.type == EntryType::directory) {
        m_folder_by_name[base_name(a.path)].push_back(i);
      }
    }
  }

  const Manifest& m_from;
  const Manifest& m_to;
  bool m_ready = false;
  std::unordered_map<util::Hash128, std::vector<std::size_t>> m_by_hash;
  std::unordered_map<std::string_view, std::vector<std::size_t>> m_by_target;
  std::unordered_map<std::string_view, std::vector<std::size_t>> m_folder_by_name;
};

void write_fields(util::ByteWriter& w, std::uint8_t f, const Entry& b, std::int64_t& previous_mtime,
                  bool xattrs)
{
  w.u8(f);
  if (f & k_type) {
    w.u8(static_cast<std::uint8_t>(b.type));
  }
  if (f & k_mode) {
    w.varint(b.mode | (xattrs ? k_xattrs_follow : 0));
    if (xattrs) {
      write_xattrs(w, b.xattrs);
    }
  }
  if (f & k_owner) {
    w.varint(b.uid);
    w.str(b.user);
    w.varint(b.gid);
    w.str(b.group);
  }
  if (f & k_size) {
    w.varint(b.size);
  }
  if (f & k_hash) {
    w.bytes(b.hash.bytes);
  }
  if (f & k_target) {
    w.str(b.target);
  }
  if (f & k_mtime) {
    w.varint(util::zigzag(b.mtime_ns - previous_mtime));
    previous_mtime = b.mtime_ns;
  }
}

} // namespace

std::vector<std::uint8_t> encode_edits(const Manifest& from, const Manifest& to,
                                       const std::vector<bool>& written)
{
  util::ByteWriter w;
  std::vector<std::size_t> removed;
  for (std::size_t i = 0; i < from.entries.size(); ++i) {
    if (to.find(from.entries[i].path) == nullptr) {
      removed.push_back(i);
    }
  }
  w.varint(removed.size());
  std::size_t next = 0;
  for (const std::size_t i : removed) {
    w.varint(i - next);
    next = i + 1;
  }
  w.str(to.header.channel);
  w.varint(to.header.number);
  w.varint(to.header.parent);
  w.u64le(static_cast<std::uint64_t>(to.header.time_ns));
  w.str(to.header.message);

  Sources sources(from, to);
  util::ByteWriter edits;
  std::size_t count = 0;
  std::size_t next_held = 0; // one past the entry of A the last held edit named
  std::string_view previous_path;
  std::int64_t previous_mtime = to.header.time_ns;
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& b = to.entries[i];
    if (const Entry* a = from.find(b.path); a != nullptr) {
      const std::uint8_t f = fields_of(a, b, written[i]);
      if (f == 0) {
        continue;
      }
      const auto index = static_cast<std::size_t>(a - from.entries.data());
      edits.varint(k_ref_held + (index - next_held));
      next_held = index + 1;
      write_fields(edits, f, b, previous_mtime, xattrs_changed(a, b));
    } else {
      const std::optional<std::size_t> source = sources.find(b);
      const std::size_t shared = util::common_prefix(previous_path, b.path);
      edits.varint(source ? k_ref_new_from : k_ref_new);
      if (source) {
        edits.varint(*source);
      }
      edits.varint(shared);
      edits.str(std::string_view(b.path).substr(shared));
      const Entry* start = source ? &from.entries[*source] : nullptr;
      write_fields(edits, fields_of(start, b, written[i]), b, previous_mtime,
                   xattrs_changed(start, b));
    }
    count += 1;
    previous_path = b.path;
  }
  w.varint(count);
  w.bytes(edits.data());
  return w.take();
}

} // namespace treecast::core
