#include "stat_cache.hpp"

#include "util/bytes.hpp"
#include "util/file.hpp"
#include "util/zstd.hpp"

#include <algorithm>
#include <vector>

namespace treecast::core {

namespace {

// "TCSC" u8:version u64le:start zstd(entries) hash128 (a local cache file,
// not exchanged between hosts; documented in treecast-formats(5) all the same).
constexpr std::uint8_t k_magic[4] = {'T', 'C', 'S', 'C'};
constexpr std::uint8_t k_version = 1;
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

std::optional<util::Hash128> StatCache::lookup(const std::string& path, const StatKey& key) const
{
  const auto it = m_entries.find(path);
  if (it == m_entries.end() || !(it->second.key == key)) {
    return std::nullopt;
  }
  if (key.mtime_ns >= m_start_ns || key.ctime_ns >= m_start_ns) {
    return std::nullopt; // racy: may have changed within the same tick
  }
  return it->second.hash;
}

void StatCache::insert(std::string path, const StatKey& key, const util::Hash128& hash)
{
  m_entries.insert_or_assign(std::move(path), Item{key, hash});
}

StatCache StatCache::load(const std::string& path)
{
  auto bytes = util::read_file(path, k_max_bytes);
  if (!bytes || bytes->size() < 4 + 1 + 8 + 16) {
    return {};
  }
  const auto body = std::span(*bytes).first(bytes->size() - 16);
  util::Hash128 stored;
  std::copy_n(bytes->end() - 16, 16, stored.bytes.begin());
  if (util::hash_bytes(body) != stored || !std::equal(k_magic, k_magic + 4, body.begin()) ||
      body[4] != k_version) {
    return {};
  }
  util::ByteReader header(body.subspan(5, 8));
  StatCache cache(static_cast<std::int64_t>(header.u64le("start")));
  auto entries = util::zstd_decompress(body.subspan(13), k_max_bytes);
  if (!entries) {
    return {};
  }
  util::ByteReader r(*entries);
  const auto count = r.varint_max("count", entries->size());
  for (std::uint64_t i = 0; i < count && r.ok(); ++i) {
    std::string name = r.str("path", 4096);
    Item item;
    item.key.dev = r.varint("dev");
    item.key.ino = r.varint("ino");
    item.key.size = r.varint("size");
    item.key.mtime_ns = static_cast<std::int64_t>(r.u64le("mtime"));
    item.key.ctime_ns = static_cast<std::int64_t>(r.u64le("ctime"));
    item.key.mode = static_cast<std::uint32_t>(r.varint("mode"));
    const auto hash = r.bytes("hash", 16);
    if (r.ok()) {
      std::copy(hash.begin(), hash.end(), item.hash.bytes.begin());
      cache.m_entries.emplace(std::move(name), item);
    }
  }
  if (!r.ok() || !r.at_end()) {
    return {};
  }
  return cache;
}

util::Status StatCache::save(const std::string& path) const
{
  util::ByteWriter entries;
  entries.varint(m_entries.size());
  for (const auto& [name, item] : m_entries) {
    entries.str(name);
    entries.varint(item.key.dev);
    entries.varint(item.key.ino);
    entries.varint(item.key.size);
    entries.u64le(static_cast<std::uint64_t>(item.key.mtime_ns));
    entries.u64le(static_cast<std::uint64_t>(item.key.ctime_ns));
    entries.varint(item.key.mode);
    entries.bytes(item.hash.bytes);
  }
  util::ByteWriter out;
  out.bytes(k_magic);
  out.u8(k_version);
  out.u64le(static_cast<std::uint64_t>(m_start_ns));
  out.bytes(util::zstd_compress(entries.data(), 1));
  const auto checksum = util::hash_bytes(out.data());
  out.bytes(checksum.bytes);
  return util::write_file_atomic(path, out.data(), util::Durability::none);
}

} // namespace treecast::core
