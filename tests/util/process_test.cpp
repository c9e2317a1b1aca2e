// Hooks: their exit, their words, their environment and their deadline.

#include "util/process.hpp"

#include <gtest/gtest.h>

using namespace treecast;
using namespace std::chrono_literals;

namespace {

TEST(Hook, ExitStatusErrorAndEnvironmentComeBack)
{
  auto ok = util::run_hook("test \"$TREECAST_VERSION\" = 7", {{"TREECAST_VERSION", "7"}}, 10s);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->exit_code, 0);
  auto bad = util::run_hook("echo 'nginx: [emerg] unknown directive' >&2; exit 1", {}, 10s);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->exit_code, 1);
  EXPECT_EQ(util::hook_failure("the check", *bad), "nginx: [emerg] unknown directive");
  auto silent = util::run_hook("exit 3", {}, 10s);
  ASSERT_TRUE(silent);
  EXPECT_EQ(util::hook_failure("the check", *silent), "the check exited with status 3");
}

TEST(Hook, ItsWordsAreBoundedAndALateHookIsKilled)
{
  auto loud = util::run_hook("head -c 100000 /dev/zero | tr '\\0' x >&2", {}, 10s, 1000);
  ASSERT_TRUE(loud);
  EXPECT_EQ(loud->exit_code, 0);
  EXPECT_EQ(loud->err.size(), 1000U);
  const auto start = std::chrono::steady_clock::now();
  auto late = util::run_hook("sleep 30", {}, 300ms);
  ASSERT_TRUE(late);
  EXPECT_TRUE(late->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(util::hook_failure("the check", *late), "the check did not finish in time");
  // One that closes its standard error and goes on is still held to it.
  const auto start2 = std::chrono::steady_clock::now();
  auto quiet = util::run_hook("exec 2>/dev/null; sleep 30", {}, 300ms);
  ASSERT_TRUE(quiet);
  EXPECT_TRUE(quiet->timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - start2, 10s);
  // And a stop cancels it.
  std::atomic<bool> stop{true};
  auto cancelled = util::run_hook("sleep 30", {}, 30s, 4096, &stop);
  ASSERT_TRUE(cancelled);
  EXPECT_TRUE(cancelled->timed_out);
}

} // namespace
