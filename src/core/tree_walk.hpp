#pragma once

// Walks a tree the way a snapshot sees it: regular files, folders (empty
// ones too) and symlinks (recorded, never followed), each with its stat
// fields. Sockets, FIFOs and devices are skipped with a warning; excluded
// paths, the store and any treecast state folder are left out. An entry
// that cannot be read fails the walk with its path and the OS error.
//
// Any number of threads may walk one tree together, a folder at a time: a
// walk of a large tree is mostly lstat(2) calls, and two cores make them
// twice as fast. What they find comes out sorted by path, in the manifest's
// order, whatever order the threads took.

#include "core/exclude.hpp"
#include "core/manifest.hpp"
#include "core/stat_cache.hpp"
#include "core/xattrs.hpp"
#include "util/executor.hpp"
#include "util/result.hpp"

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace treecast::core {

// A folder holding one of these files is a store or a follower's state
// folder and is never part of a tree.
inline constexpr const char* k_store_marker = ".treecast-store";
inline constexpr const char* k_state_marker = ".treecast-state";

// One entry as found: small and flat, since a tree may hold millions. The
// text it points to belongs to the WalkResult.
struct WalkItem
{
  std::string_view path;   // relative, '/'-separated, raw bytes as on disk
  std::string_view target; // symlink: the link's target, never followed
  StatKey key;             // file type and permission bits, size, times
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  util::Hash128 hash; // file: the content hash; the walk does not read it
  Xattrs xattrs;      // when the snapshot records them; the walk does not read them

  EntryType type() const;
};

// Holds the bytes of paths and targets in large blocks, so a tree of a
// hundred thousand entries costs a few allocations, not a hundred thousand.
class TextArena
{
public:
  // Copies a, then (when both are non-empty) '/' and b; the view stays valid
  // as long as the arena, even when the arena is moved.
  std::string_view join(std::string_view a, std::string_view b);
  std::string_view copy(std::string_view a) { return join(a, {}); }

private:
  std::vector<std::unique_ptr<char[]>> m_blocks;
  char* m_free = nullptr;
  std::size_t m_left = 0;
};

struct WalkResult
{
  std::vector<WalkItem> items;       // sorted by path, byte order
  std::vector<std::string> warnings; // sorted
  std::vector<TextArena> text;       // what the items' views point to
};

class TreeWalk
{
public:
  TreeWalk(std::string root, const ExcludeList& excludes);
  ~TreeWalk();
  TreeWalk(const TreeWalk&) = delete;
  TreeWalk& operator=(const TreeWalk&) = delete;

  // Walks until the whole tree is done or an error stopped it. Any number
  // of threads may call it at once; each returns when nothing is left.
  void work();
  // Once every work() call has returned: what they found, or the error
  // (of several, the one with the smallest path).
  [[nodiscard]] util::Result<WalkResult> finish();

private:
  struct Folder
  {
    std::string_view path; // "" for the root
  };
  struct Worker;
  util::Status read_folder(Worker& worker, const Folder& folder, std::vector<Folder>& found);

  std::string m_root;
  const ExcludeList& m_excludes;
  int m_root_fd = -1;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::vector<Folder> m_pending; // a stack: depth first keeps it short
  std::size_t m_busy = 0;        // workers reading a folder
  bool m_failed = false;
  std::vector<std::pair<std::string, util::Error>> m_errors;
  std::deque<Worker> m_workers;
};

// Walks root on the executor's threads.
[[nodiscard]] util::Result<WalkResult> walk_tree(const std::string& root,
                                                 const ExcludeList& excludes,
                                                 util::Executor& executor);

// The names of owners and groups, looked up once per id.
class OwnerNames
{
public:
  const std::string& user(std::uint32_t uid);
  const std::string& group(std::uint32_t gid);

private:
  std::deque<std::pair<std::uint32_t, std::string>> m_users;
  std::deque<std::pair<std::uint32_t, std::string>> m_groups;
};

} // namespace treecast::core
