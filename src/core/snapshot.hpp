#pragma once

// Recording a tree as a new version of a channel.
//
// One streaming read per file feeds the hasher and, for new content, the
// compressor; a file whose stat fields match the stat cache is not read at
// all. Files are read on the executor's threads. All or nothing: any error
// leaves the channel as it was, and the store never holds an object whose
// content does not match its name.

#include "core/store.hpp"
#include "util/executor.hpp"

#include <functional>
#include <string>
#include <vector>

namespace treecast::core {

struct SnapshotOptions
{
  std::string channel;
  std::string message;
  std::vector<std::string> excludes;
  int level = 3;      // zstd level of stored objects
  int read_tries = 4; // a file that keeps changing while read fails the snapshot
  // false (push --dry-run): the new content is stored, so deltas to the
  // tree can be made, but no version is recorded and the stat cache is
  // left as it was; the report's manifest is the version the tree would
  // be. Content no version uses goes at the next gc.
  bool record = true;
  // Extended attributes and POSIX ACLs to record (core/xattrs.hpp:
  // k_record_xattrs, k_record_acls); 0: none.
  unsigned xattrs = 0;
  // Called from the reading threads as each block of a file is read: the
  // bytes just read, and what all the files to read add up to (a file that
  // changed while read, and is read again, counts again).
  std::function<void(std::uint64_t read, std::uint64_t total)> progress;
  // Test hook: called after a file's first block was read, with its path
  // relative to the tree and the attempt number (0, 1, ...).
  std::function<void(const std::string&, int)> after_first_block;
};

struct SnapshotReport
{
  bool recorded = false;   // false: the tree equals the latest version
  Manifest manifest;       // the new version, or the unchanged latest one
  std::size_t changed = 0; // entries added, removed or modified since the parent
  std::size_t files_read = 0;
  std::uint64_t bytes_read = 0;
  std::size_t new_objects = 0;
  std::uint64_t new_bytes = 0; // raw size of content new to the store
  std::vector<std::string> warnings;
};

[[nodiscard]] util::Result<SnapshotReport> snapshot(const Store& store, const std::string& dir,
                                                    const SnapshotOptions& options,
                                                    util::Executor& executor);

// Records the tree of an earlier version again, as the channel's next
// version (a rollback: the same entries, so the same id, under a new
// number), with message. Every content must still be in the store.
[[nodiscard]] util::Result<Manifest> republish(const Store& store, const Manifest& earlier,
                                               const std::string& message);

} // namespace treecast::core
