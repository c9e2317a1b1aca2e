#pragma once

// A follower's Replica on a real tree and its state folder
// (core::Follower). The quick calls (version, staged, the spool) are the
// daemon loop's; run() does an action's slow work and may be called on
// another thread, as long as the loop calls nothing else meanwhile but
// version() and staged(), which answer from what settle() last took.

#include "core/follower.hpp"
#include "sync/replica.hpp"
#include "sync/signing.hpp"
#include "sync/subscriber.hpp"
#include "util/executor.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

namespace treecast::sync {

struct TreeReplicaOptions
{
  std::string channel;
  std::string dir;
  std::string state; // "" for the default beside dir
  core::CommitMode mode = core::CommitMode::atomic;
  core::Owners owners = core::Owners::keep;
  std::string check; // shell command run against the stage before a yes
  std::string exec;  // shell command run after a commit
  // follow --exec-splay: the commit only marks the reload as owed
  // (STATE/exec.pending) and the daemon runs it later, with
  // run_deferred_exec(), after its ACK; a daemon stopped or killed before
  // then runs it when it starts again.
  bool defer_exec = false;
  // follow --health: a shell command run after a commit and its reload;
  // when it fails, the ACK says unhealthy (push --canary rolls the
  // canaries back). With a deferred reload, it runs after that instead,
  // and only its log line tells.
  std::string health;
  std::chrono::milliseconds hook_timeout{std::chrono::minutes(5)};
  const std::atomic<bool>* cancel = nullptr; // set: hooks are killed (the daemon stops)
  // Master keys whose signature a version needs (none: any version).
  std::vector<VerifyKey> trusted;
};

class TreeReplica final : public Replica
{
public:
  [[nodiscard]] static util::Result<std::unique_ptr<TreeReplica>> open(TreeReplicaOptions options);

  wire::VersionRef version() const override { return m_version; }
  std::optional<Staged> staged() const override { return m_staged; }
  util::Status begin_delta(const wire::VersionRef& from, const wire::VersionRef& to,
                           std::uint64_t total) override;
  util::Status write_delta(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  // Does the action: stage (and check), commit (and exec), abort, or apply
  // at once (staged, checked and committed). The error, or "".
  [[nodiscard]] std::string run(const Action& action, util::Executor& executor);
  // After run(), on the loop: version() and staged() follow the tree.
  void settle();
  // The state folder.
  const std::string& state_dir() const { return m_follower->state(); }
  // What recovery did on open, if anything.
  const std::string& recovered() const { return m_follower->recovered(); }
  // The delta being received: bytes written so far, of its size. (A
  // chunk asked for again after a stall counts again.)
  std::uint64_t spooled() const { return m_spooled; }
  std::uint64_t spool_total() const { return m_spool_total; }
  std::string unhealthy() const override { return m_unhealthy; }
  // A deferred reload is owed (after settle()).
  bool exec_pending() const { return m_exec_pending; }
  // Runs the reload hook for the version the tree holds now, once however
  // many commits it stands for, and clears the mark. On the worker, as
  // run(); settle() after it.
  void run_deferred_exec();
  // Log lines from the last run() (a failed reload hook, ...).
  std::vector<util::LogEntry> take_log() { return std::move(m_log); }

private:
  explicit TreeReplica(TreeReplicaOptions options) : m_options(std::move(options)) {}
  std::string stage_and_check(const Action& action, util::Executor& executor);
  void run_exec(std::uint64_t version);
  // The health check after a commit: "" when it passes (or there is none).
  std::string run_health(std::uint64_t version);
  std::string exec_mark() const { return m_follower->state() + "/exec.pending"; }
  void read_state();

  TreeReplicaOptions m_options;
  std::optional<core::Follower> m_follower;
  std::string m_spool;
  util::Fd m_spool_fd;
  wire::VersionRef m_version;
  std::optional<Staged> m_staged;
  wire::VersionRef m_next_version; // run()'s, until settle()
  std::optional<Staged> m_next_staged;
  bool m_exec_pending = false;
  std::string m_unhealthy;
  std::string m_next_unhealthy;
  std::uint64_t m_spooled = 0;
  std::uint64_t m_spool_total = 0;
  bool m_next_exec_pending = false;
  std::vector<util::LogEntry> m_log;
};

// The tag a transaction's stage is kept under, and back.
[[nodiscard]] std::string txn_tag(const wire::TxnRef& txn);
[[nodiscard]] std::optional<wire::TxnRef> txn_of_tag(const std::string& tag);

} // namespace treecast::sync
