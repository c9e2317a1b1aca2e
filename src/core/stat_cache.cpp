#include "stat_cache.hpp"

#include "util/bytes.hpp"
#include "util/file.hpp"
#include "util/zstd.hpp"

#include <algorithm>
#include <vector>

namespace treecast::core {

namespace {

// "TCSC" u8:version u64le:start hash128:manifest-id zstd(records) hash128 (a
// local cache file, not exchanged between hosts; documented in
// treecast-formats(5) all the same).
constexpr std::uint8_t k_magic[4] = {'T', 'C', 'S', 'C'};
constexpr std::uint8_t k_version = 2;
constexpr std::size_t k_header = 4 + 1 + 8 + 16;
constexpr std::size_t k_max_bytes = std::size_t{1} << 30;

} // namespace

std::int64_t timestamp_ns(const timespec& ts)
{
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

StatKey stat_key(const struct stat& st)
{
  return StatKey{static_cast<std::uint64_t>(st.st_dev),
                 static_cast<std::uint64_t>(st.st_ino),
                 static_cast<std::uint64_t>(st.st_size),
                 timestamp_ns(st.st_mtim),
                 timestamp_ns(st.st_ctim),
                 static_cast<std::uint32_t>(st.st_mode)};
}

bool StatCache::trusted(std::size_t index, const StatKey& key) const
{
  if (index >= m_keys.size() || !(m_keys[index] == key)) {
    return false;
  }
  // Racy: a time in the same tick as the start may hide a later change.
  return key.mtime_ns < m_start_ns && key.ctime_ns < m_start_ns;
}

StatCache StatCache::load(const std::string& path)
{
  auto bytes = util::read_file(path, k_max_bytes);
  if (!bytes || bytes->size() < k_header + 16) {
    return {};
  }
  const auto body = std::span(*bytes).first(bytes->size() - 16);
  util::Hash128 stored;
  std::copy_n(bytes->end() - 16, 16, stored.bytes.begin());
  if (util::hash_bytes(body) != stored || !std::equal(k_magic, k_magic + 4, body.begin()) ||
      body[4] != k_version) {
    return {};
  }
  util::ByteReader header(body.subspan(5, k_header - 5));
  const auto start = static_cast<std::int64_t>(header.u64le("start"));
  util::Hash128 id;
  const auto id_bytes = header.bytes("manifest id", 16);
  if (!header.ok()) {
    return {};
  }
  std::copy(id_bytes.begin(), id_bytes.end(), id.bytes.begin());
  auto records = util::zstd_decompress(body.subspan(k_header), k_max_bytes);
  if (!records) {
    return {};
  }
  util::ByteReader r(*records);
  // A record takes at least 19 bytes: the count cannot exceed that share.
  const auto count = r.varint_max("count", records->size() / 19);
  std::vector<StatKey> keys;
  keys.reserve(static_cast<std::size_t>(count));
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    StatKey key;
    key.dev = r.varint("dev");
    key.ino = r.varint("ino");
    key.size = r.varint("size");
    key.mtime_ns = static_cast<std::int64_t>(r.u64le("mtime"));
    key.ctime_ns = static_cast<std::int64_t>(r.u64le("ctime"));
    key.mode = static_cast<std::uint32_t>(r.varint("mode"));
    keys.push_back(key);
  }
  if (!r.ok() || !r.at_end()) {
    return {};
  }
  return StatCache(id, start, std::move(keys));
}

util::Status StatCache::save(const std::string& path) const
{
  util::ByteWriter records;
  records.varint(m_keys.size());
  for (const StatKey& key : m_keys) {
    records.varint(key.dev);
    records.varint(key.ino);
    records.varint(key.size);
    records.u64le(static_cast<std::uint64_t>(key.mtime_ns));
    records.u64le(static_cast<std::uint64_t>(key.ctime_ns));
    records.varint(key.mode);
  }
  util::ByteWriter out;
  out.bytes(k_magic);
  out.u8(k_version);
  out.u64le(static_cast<std::uint64_t>(m_start_ns));
  out.bytes(m_manifest_id.bytes);
  out.bytes(util::zstd_compress(records.data(), 1));
  const auto checksum = util::hash_bytes(out.data());
  out.bytes(checksum.bytes);
  return util::write_file_atomic(path, out.data(), util::Durability::none);
}

} // namespace treecast::core
