#pragma once

// The snapshot's stat cache, as git's index does it: for each entry of the
// channel's latest version, in the manifest's order, the stat fields seen
// when it was recorded. A file whose fields are all unchanged is not read
// again: its hash is the one the manifest holds.
//
// The cache names the version id it follows and is used only with that
// manifest, so a lookup is an index, not a search by path.
//
// The racy case: a file written in the same clock tick as (or after) the
// snapshot began may change again without its mtime moving. A record whose
// mtime or ctime is not older than the start of the snapshot that wrote it
// is never trusted; such files are hashed again next time.
//
// It is a cache: a missing, foreign or corrupt file is simply empty.

#include "util/hash.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <string>
#include <sys/stat.h>
#include <vector>

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
  // keys[i] belongs to entry i of the manifest whose id is manifest_id.
  StatCache(const util::Hash128& manifest_id, std::int64_t start_ns, std::vector<StatKey> keys)
    : m_manifest_id(manifest_id), m_start_ns(start_ns), m_keys(std::move(keys))
  {
  }

  // True when the cache follows this manifest (its id and entry count).
  bool follows(const util::Hash128& manifest_id, std::size_t entries) const
  {
    return !m_keys.empty() && m_manifest_id == manifest_id && m_keys.size() == entries;
  }
  // True when entry index was recorded with exactly key and not racily.
  bool trusted(std::size_t index, const StatKey& key) const;

  const util::Hash128& manifest_id() const { return m_manifest_id; }
  std::int64_t start_ns() const { return m_start_ns; }
  std::size_t size() const { return m_keys.size(); }

  // Load never fails: an unreadable cache is an empty one.
  [[nodiscard]] static StatCache load(const std::string& path);
  [[nodiscard]] util::Status save(const std::string& path) const;

private:
  util::Hash128 m_manifest_id;
  std::int64_t m_start_ns = 0;
  std::vector<StatKey> m_keys;
};

} // namespace treecast::core
