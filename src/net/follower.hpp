#pragma once

// The follower daemon (treecast follow), and its one-shot form (treecast
// sync): the Subscriber on a tree, bound to ZeroMQ. A SUB on the master's
// PORT, subscribed to the channel, and a DEALER on PORT+1
// (man/treecast-protocol.7). Staging and committing run on a worker
// thread; the loop keeps answering.

#include "net/master.hpp"
#include "sync/tree_replica.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <vector>

namespace treecast::net {

struct FollowerOptions
{
  std::string host = "127.0.0.1";
  int port = 7400;
  std::string id;    // this follower's name
  std::string group; // follow --group (push --canary GROUP); or empty
  // CURVE: this follower's key file, and the master's public key file it
  // pins (both or neither).
  std::string key;
  std::string master_key;
  sync::TreeReplicaOptions tree;
  // treecast sync: stop once the tree is at the master's committed
  // version, or when the deadline passes.
  bool once = false;
  std::chrono::milliseconds deadline{std::chrono::seconds(60)};
  // systemd: ready, watchdog, status; this channel's loop is number loop
  // (run_followers numbers them).
  ServiceNotifier* service = nullptr;
  std::size_t loop = 0;
  // follow --exec-splay: a reload owed runs after a random delay up to
  // this (tree.defer_exec must be set), once the worker is idle.
  std::chrono::milliseconds exec_splay{0};
  // Called from the loop while a delta comes in: bytes received, of its
  // size (sync's progress line).
  std::function<void(std::uint64_t, std::uint64_t)> progress;
};

// Exit codes of the one-shot form (treecast(1), EXIT STATUS).
inline constexpr int k_exit_not_in_step = 6;   // the delta could not be applied
inline constexpr int k_exit_unreachable = 9;   // no answer from the master
inline constexpr int k_exit_interrupted = 130; // stopped by a signal

// Runs until stop is set (or, once, until in step); the exit code. An
// error: it could not start (the follower's id, its tree).
[[nodiscard]] util::Result<int> run_follower(const FollowerOptions& options,
                                             const std::atomic<bool>& stop, const LogLine& log);
// Several channels in one process, a thread each; when one stops with an
// error, the others stop too. The first error, else the largest exit code.
[[nodiscard]] util::Result<int> run_followers(const std::vector<FollowerOptions>& channels,
                                              const std::atomic<bool>& stop, const LogLine& log);

} // namespace treecast::net
