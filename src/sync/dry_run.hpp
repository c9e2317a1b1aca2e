#pragma once

// push --dry-run: what a push would send, without sending it. The tree is
// read as a snapshot that records nothing (core::SnapshotOptions::record),
// compared with the committed version, and the delta from every version
// the fleet holds is made into a counter, not the delta cache: the version
// is not recorded, so nothing may be kept under its id.

#include "core/diff.hpp"
#include "core/snapshot.hpp"
#include "core/store.hpp"
#include "util/executor.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace treecast::sync {

struct DryRunChange
{
  core::ChangeKind kind;
  std::string path;
  std::string from_path; // renamed: the path before
};

struct DryRunDelta
{
  std::uint64_t from = 0; // the version a follower holds (0: none)
  std::uint64_t bytes = 0;
  std::vector<std::string> followers;
  std::string error; // the delta could not be made (its version is gone)
};

struct DryRun
{
  std::uint64_t committed = 0; // the fleet's version now
  core::Manifest version;      // what the tree would be, numbered as the next one
  bool unchanged = false;      // the tree is the committed version
  std::vector<DryRunChange> changes;
  std::size_t entries_before = 0; // of the committed version
  std::size_t deleted = 0;        // its entries the new version would not have
  std::vector<DryRunDelta> deltas;
};

// held: the followers by the version they hold. committed: the channel's
// committed version (0: none yet); its delta is always measured.
[[nodiscard]] util::Result<DryRun> dry_run(const core::Store& store, const std::string& dir,
                                           core::SnapshotOptions options, std::uint64_t committed,
                                           std::map<std::uint64_t, std::vector<std::string>> held,
                                           int level, util::Executor& executor);

} // namespace treecast::sync
