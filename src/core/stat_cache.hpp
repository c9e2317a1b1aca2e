#pragma once

// The snapshot's stat cache, as git's index does it: for each file of the
// channel's latest snapshot, the stat fields seen and the content hash. A
// file whose fields are all unchanged is not read again.
//
// The racy case: a file written in the same clock tick as (or after) the
// snapshot began may change again without its mtime moving. An entry whose
// mtime or ctime is not older than the start of the snapshot that recorded it
// is never trusted; such files are hashed again next time.
//
// It is a cache: a missing, foreign or corrupt file is simply empty.

#include "util/hash.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unordered_map>

namespace treecast::core {

struct StatKey
{
  std::uint64_t dev = 0;
  std::uint64_t ino = 0;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  std::uint32_t mode = 0; // st_mode: type and permission bits

  bool operator==(const StatKey&) const = default;
};

// A timestamp in nanoseconds since the epoch.
[[nodiscard]] std::int64_t timestamp_ns(const timespec& ts);
// The fields of st that the stat cache compares.
[[nodiscard]] StatKey stat_key(const struct stat& st);

class StatCache
{
public:
  StatCache() = default;
  explicit StatCache(std::int64_t start_ns) : m_start_ns(start_ns) {}

  // The recorded hash when key matches and is not racy; nullopt otherwise.
  std::optional<util::Hash128> lookup(const std::string& path, const StatKey& key) const;
  void insert(std::string path, const StatKey& key, const util::Hash128& hash);

  std::int64_t start_ns() const { return m_start_ns; }
  std::size_t size() const { return m_entries.size(); }

  // Load never fails: an unreadable cache is an empty one.
  [[nodiscard]] static StatCache load(const std::string& path);
  [[nodiscard]] util::Status save(const std::string& path) const;

private:
  struct Item
  {
    StatKey key;
    util::Hash128 hash;
  };
  std::int64_t m_start_ns = 0;
  std::unordered_map<std::string, Item> m_entries;
};

} // namespace treecast::core
