#pragma once

// What every integration test of the treecast command shares: a fresh
// folder holding the tree, the store and checkouts; a runner that passes
// --store and --channel explicitly on every call, with a deadline; and a way
// to run treecast as a user that permission bits apply to (tests run as root
// in CI).

#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace treecast::test {

// One call of the command; the deadline keeps a hung process from hanging
// the suite.
inline constexpr std::chrono::seconds k_deadline{60};

class CliTest : public ::testing::Test
{
protected:
  // treecast ARGS... --store STORE --channel CHANNEL
  RunResult tc(std::vector<std::string> args) const
  {
    return tc_channel(m_channel, std::move(args));
  }
  RunResult tc_channel(const std::string& channel, std::vector<std::string> args) const;
  // treecast ARGS... with nothing added (usage errors); $TREECAST_STORE
  // still points into the test's folder, never at the machine's store.
  RunResult tc_raw(const std::vector<std::string>& args) const;

  // `snapshot DIR`, asserting success; returns stdout.
  std::string snapshot(const std::string& dir, std::vector<std::string> extra = {}) const;
  // `log --json` parsed, newest first; empty when log fails.
  nlohmann::json log_json() const;
  // `show VERSION --json` parsed; null when show fails.
  nlohmann::json show_json(const std::string& version) const;
  // Paths of `show VERSION --json`'s entries, in manifest order.
  std::vector<std::string> paths_of(const std::string& version) const;

  // Objects in the store, loose and packed.
  std::size_t object_count() const;
  bool has_object(const std::string& hash_hex) const;
  // Flips a bit of the object's stored bytes (support/objects.hpp).
  void corrupt_object(const std::string& hash_hex) const;
  // Removes the object's file, or the pack holding it.
  void remove_object(const std::string& hash_hex) const;
  std::string version_file(std::size_t number) const;

  // Runs treecast with ARGS (nothing added) as a user whom permission bits
  // apply to: uid/gid 65534 through setpriv when we are root, ourselves
  // otherwise. When that is impossible here, sets *why and returns an empty
  // result without running anything; callers GTEST_SKIP() << *why.
  RunResult tc_unprivileged(const std::vector<std::string>& args, std::string* why) const;
  // Makes m_temp reachable and writable by that user (chmod 0777).
  void open_to_unprivileged() const;

  TempDir m_temp;
  std::string m_store = m_temp / "store";
  const std::string m_tree = m_temp / "tree";
  std::string m_channel = "web";
};

// The absolute path of a program found in $PATH; "" when absent.
std::string find_program(const std::string& name);

// Lines of text, without their '\n'.
std::vector<std::string> lines_of(const std::string& text);

// Names in folder that start with prefix (to spot leftovers), unsorted.
std::vector<std::string> siblings_starting_with(const std::string& folder,
                                                const std::string& prefix);

// gtest prints this when an EXPECT on a RunResult fails.
void PrintTo(const RunResult& r, std::ostream* os);

} // namespace treecast::test
