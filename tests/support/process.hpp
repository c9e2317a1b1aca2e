#pragma once

// Runs the real treecast binary (or any program) with a deadline, capturing
// its exit code, stdout and stderr. A program still running at the deadline
// is killed and reported as timed out.

#include <chrono>
#include <string>
#include <vector>

namespace treecast::test {

struct RunResult
{
  int exit_code = -1; // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};

// argv[0] is the program; env entries "NAME=VALUE" are added to the caller's.
[[nodiscard]] RunResult run(const std::vector<std::string>& argv,
                            const std::vector<std::string>& env = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(120));

// run() of the treecast binary under test.
[[nodiscard]] RunResult treecast(const std::vector<std::string>& args,
                                 const std::vector<std::string>& env = {},
                                 std::chrono::milliseconds timeout = std::chrono::seconds(120));

} // namespace treecast::test
