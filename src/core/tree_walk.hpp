#pragma once

// Walks a tree the way a snapshot sees it: regular files, folders (empty
// ones too) and symlinks (recorded, never followed), each with its stat
// fields. Sockets, FIFOs and devices are skipped with a warning; excluded
// paths, the store and any treecast state folder are left out. An entry
// that cannot be read fails the walk with its path and the OS error.

#include "core/exclude.hpp"
#include "core/manifest.hpp"
#include "core/stat_cache.hpp"
#include "util/result.hpp"

#include <deque>
#include <string>
#include <vector>

namespace treecast::core {

// A folder holding one of these files is a store or a follower's state
// folder and is never part of a tree.
inline constexpr const char* k_store_marker = ".treecast-store";
inline constexpr const char* k_state_marker = ".treecast-state";

struct WalkItem
{
  Entry entry; // everything but the content hash, which the walk does not read
  StatKey key;
};

struct WalkResult
{
  // In walk order, not sorted. A deque: it grows without moving what it
  // holds, which matters for trees of a hundred thousand entries.
  std::deque<WalkItem> items;
  std::vector<std::string> warnings;
};

[[nodiscard]] util::Result<WalkResult> walk_tree(const std::string& root,
                                                 const ExcludeList& excludes);

// Fills uid/gid and the names of st into entry (names cached per id).
class OwnerNames
{
public:
  std::string user(std::uint32_t uid);
  std::string group(std::uint32_t gid);

private:
  std::vector<std::pair<std::uint32_t, std::string>> m_users;
  std::vector<std::pair<std::uint32_t, std::string>> m_groups;
};

} // namespace treecast::core
