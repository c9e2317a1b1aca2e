#pragma once

// A follower's tree and its state folder (DESIGN.md, "Follower state and
// commit"). The state folder lives beside the tree, on its file system:
//
//   .DIR.treecast/.treecast-state   marker and format: "treecast follower state 1"
//   .DIR.treecast/lock              flock: one treecast at a time on DIR
//   .DIR.treecast/current           the manifest of the version DIR holds
//   .DIR.treecast/statcache         DIR's stat fields, per entry of current
//   .DIR.treecast/owners            "restore" or "keep": how owners were set
//   .DIR.treecast/stage/            the next version's tree, being built
//   .DIR.treecast/stage.manifest    its manifest (and stage.statcache, stage.owners)
//   .DIR.treecast/prepared          "MODE TAG": the stage is whole and waits for
//                                   a decision (a transaction's prepare)
//   .DIR.treecast/journal           "exchange INODE": a commit in progress
//   .DIR.treecast/previous/         the tree before the last commit (undo)
//   .DIR.treecast/previous.manifest its manifest
//
// A commit swaps stage/ and DIR in one renameat2(RENAME_EXCHANGE): readers
// see the old tree or the new one, never a mix. The journal names the
// stage's inode, so after a crash the next command tells whether the swap
// happened (DIR is now that inode: finish the commit) or not (discard the
// stage), and says which. DIR is always exactly one whole version.

#include "core/checkout.hpp"
#include "core/delta.hpp"
#include "core/manifest.hpp"
#include "core/stat_cache.hpp"
#include "core/store.hpp"
#include "util/executor.hpp"
#include "util/file.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace treecast::core {

// One way DIR differs from the version it should hold.
struct Drift
{
  std::string path;
  std::string what; // "modified", "added", "removed", "type", "mode", "owner", "target"
};

struct ApplyReport
{
  Manifest from;
  Manifest to;
  std::size_t written = 0; // new files from the delta
  std::size_t linked = 0;  // unchanged files shared with the old tree
  std::size_t copied = 0;  // files copied from the old tree (moved, or new metadata)
  std::uint64_t bytes_written = 0;
};

enum class CommitMode : std::uint8_t
{
  atomic,  // the new tree is built whole beside DIR and swapped in at once
  inplace, // new files are staged, then renamed into place one by one
};

// A stage built and made durable by prepare(), waiting for commit or abort.
struct Prepared
{
  std::string tag; // what prepare() was given: the transaction
  CommitMode mode = CommitMode::atomic;
  Manifest to;
};

// Test hook: called at each step of apply and commit with the step's name;
// a test makes it kill the process to check recovery. Unset in treecast.
extern std::function<void(const char*)> g_fault_point;

class Follower
{
public:
  // Opens DIR's state (state: the folder, or "" for the default beside DIR)
  // and locks it; waits for another treecast on DIR (wait false: a conflict
  // error at once instead, for daemons). Create::no: a missing
  // state is an Errc::not_found error. Interrupted work is finished or
  // discarded first (recovered()).
  [[nodiscard]] static util::Result<Follower> open(const std::string& dir, const std::string& state,
                                                   Create create, bool wait = true);

  const std::string& dir() const { return m_dir; }
  const std::string& state() const { return m_state; }
  // What was done about work a killed treecast left; empty when none.
  const std::string& recovered() const { return m_recovered; }
  // The version DIR holds; number 0 (no entries) when none is recorded.
  const Manifest& current() const { return m_current; }

  // How DIR differs from current(), sorted by path. Files whose stat fields
  // match the stat cache are not read; others are hashed.
  [[nodiscard]] util::Result<std::vector<Drift>> drift(util::Executor& executor);
  // Records that DIR holds manifest (after a checkout into it), its owners
  // set as owners says.
  [[nodiscard]] util::Status record(const Manifest& manifest, Owners owners,
                                    util::Executor& executor);
  // Applies a delta whose header was read: checks DIR for drift, builds the
  // stage, and commits it.
  [[nodiscard]] util::Result<ApplyReport> apply(DeltaReader& reader, const DeltaHeader& header,
                                                Owners owners, CommitMode mode,
                                                util::Executor& executor);
  // The first half of apply, for a transaction: the same checks, then the
  // stage is built, made durable and recorded as prepared under tag (no
  // whitespace), and kept across restarts until commit_prepared() or
  // abort_prepared(). DIR does not change. Refused while another stage
  // waits.
  [[nodiscard]] util::Result<ApplyReport> prepare(DeltaReader& reader, const DeltaHeader& header,
                                                  Owners owners, CommitMode mode,
                                                  util::Executor& executor, const std::string& tag);
  // The stage waiting for a decision, if any (also one kept by a treecast
  // that stopped after its prepare).
  const std::optional<Prepared>& prepared() const { return m_prepared; }
  // Commits the prepared stage, unless DIR drifted since it was built (a
  // conflict; the stage is kept). The report's counts are those of the
  // prepare when it ran in this process, else zero.
  [[nodiscard]] util::Result<ApplyReport> commit_prepared(util::Executor& executor);
  // Discards the prepared stage; DIR stays as it is. Nothing staged: no-op.
  [[nodiscard]] util::Status abort_prepared();
  // Swaps back the tree kept by the last commit; returns the version DIR
  // holds now.
  [[nodiscard]] util::Result<Manifest> undo();

private:
  Follower() = default;
  std::string path(const char* name) const { return m_state + "/" + name; }
  [[nodiscard]] util::Status recover();
  [[nodiscard]] util::Status finish_exchange();
  [[nodiscard]] util::Status discard_stage();
  // A fresh, empty stage/ (any old one discarded), open.
  [[nodiscard]] util::Result<util::Fd> new_stage();
  void load();
  [[nodiscard]] util::Status check_same_file_system(CommitMode mode) const;
  // Build the stage and make it durable; then put it in place.
  [[nodiscard]] util::Result<ApplyReport> stage_atomic(DeltaReader& reader, Manifest to,
                                                       Owners owners, util::Executor& executor,
                                                       int live, ApplyReport report);
  [[nodiscard]] util::Status swap_atomic(const Manifest& to);
  [[nodiscard]] util::Result<ApplyReport> stage_inplace(DeltaReader& reader, Manifest to,
                                                        Owners owners, int live,
                                                        ApplyReport report);
  [[nodiscard]] util::Status roll_inplace(const Manifest& to);
  // Renames the staged files of an inplace commit into DIR and fixes what
  // else differs from stage.manifest; every step can be done again.
  [[nodiscard]] util::Status roll_forward(const Manifest& to);
  [[nodiscard]] util::Status finish_inplace(const Manifest& to);
  [[nodiscard]] util::Status save_owners(const char* name, Owners owners) const;
  [[nodiscard]] util::Status save_keys(const std::string& tree, const Manifest& manifest,
                                       const std::string& cache_path, util::Executor& executor);

  std::string m_dir;
  std::string m_state;
  util::Fd m_lock;
  std::string m_recovered;
  Manifest m_current;
  StatCache m_cache;
  Owners m_owners = Owners::keep; // how DIR's owners were set
  std::optional<Prepared> m_prepared;
  ApplyReport m_prepared_report;
};

// What a follower's state folder says, read without taking its lock (so
// while a treecast follow holds it): the version DIR holds, a stage that
// waits for a decision, and the folder itself. Not for changing anything.
struct FollowerPeek
{
  std::string state;
  Manifest current;                 // number 0: none recorded
  std::optional<Prepared> prepared; // its manifest, tag and mode
};
[[nodiscard]] util::Result<FollowerPeek> peek_follower(const std::string& dir,
                                                       const std::string& state);

// "DIR has drifted from v7: 3 files differ: a (modified), b (added), ..."
[[nodiscard]] std::string drift_message(const std::string& dir, const Manifest& current,
                                        const std::vector<Drift>& drift);

} // namespace treecast::core
