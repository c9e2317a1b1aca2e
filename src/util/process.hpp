#pragma once

// Runs an operator's hook (follow --check, --exec): a shell command, with
// variables added to the environment, its standard error captured (the
// first max_err bytes; the rest is read and dropped), standard input
// empty, standard output passed through. A hook still running at the
// deadline is killed with its process group.

#include "util/result.hpp"

#include <atomic>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace treecast::util {

struct HookResult
{
  int exit_code = -1; // -1: killed by a signal, or timed out
  bool timed_out = false;
  std::string err;
};

// cancel, when given and set while the hook runs, kills it as the deadline
// does (a daemon that stops does not wait for its hooks). A hook whose
// daemon dies is killed too.
[[nodiscard]] Result<HookResult> run_hook(
  const std::string& command, const std::vector<std::pair<std::string, std::string>>& env,
  std::chrono::milliseconds timeout, std::size_t max_err = 4096,
  const std::atomic<bool>* cancel = nullptr);

// What a failed hook says: its standard error trimmed, else its exit.
[[nodiscard]] std::string hook_failure(const std::string& what, const HookResult& r);

} // namespace treecast::util
