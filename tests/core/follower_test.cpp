// Crash safety of apply and undo: a child process is killed with SIGKILL at
// each step in turn (core::g_fault_point), and the next open of the
// follower must leave DIR exactly one whole version, the one it records.

#include "core/checkout.hpp"
#include "core/follower.hpp"
#include "support/store_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <fcntl.h>
#include <filesystem>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace treecast;
namespace fs = std::filesystem;
using test::write_file;

namespace {

class FollowerCrashTest : public test::StoreTest
{
protected:
  void SetUp() override
  {
    StoreTest::SetUp();
    const std::string tree = m_dir / "tree";
    write_file(tree + "/etc/app.conf", "mode = one\n");
    write_file(tree + "/etc/keep.conf", std::string(4000, 'k'));
    write_file(tree + "/etc/old.conf", "going away\n");
    write_file(tree + "/data/blob", std::string(200000, 'x'));
    write_file(tree + "/cache/tmp.txt", "gone\n");
    m_a = snapshot_of(tree);
    fs::copy(tree, m_dir / "a", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    write_file(tree + "/etc/app.conf", "mode = two\n");
    fs::remove(tree + "/etc/old.conf");
    write_file(tree + "/etc/new.conf", "arrived\n");
    write_file(tree + "/data/blob", std::string(200000, 'y'));
    write_file(tree + "/data/more", "more\n");
    // Types change: a file becomes a folder, a folder a symlink.
    fs::remove(tree + "/etc/keep.conf");
    write_file(tree + "/etc/keep.conf/inside", std::string(4000, 'k'));
    fs::permissions(tree + "/etc/app.conf", fs::perms(0600));
    fs::remove_all(tree + "/cache");
    fs::create_symlink("data", tree + "/cache");
    m_b = snapshot_of(tree);
    fs::copy(tree, m_dir / "b", fs::copy_options::recursive | fs::copy_options::copy_symlinks);

    util::SerialExecutor serial;
    std::vector<std::uint8_t> bytes;
    auto made =
      core::make_delta(*m_store, m_a, m_b, {}, serial, [&](std::span<const std::uint8_t> d) {
        bytes.insert(bytes.end(), d.begin(), d.end());
        return util::Status{};
      });
    ASSERT_TRUE(made) << made.error().message;
    m_delta = m_dir / "a-b.delta";
    write_file(m_delta, std::string(bytes.begin(), bytes.end()));
  }

  // A follower at A in a new folder.
  std::string follower_at_a(int round)
  {
    const std::string dir = m_dir / ("f" + std::to_string(round));
    auto done = core::checkout(*m_store, m_a, dir, core::Owners::keep);
    EXPECT_TRUE(done) << done.error().message;
    auto f = core::Follower::open(dir, "", core::Create::yes);
    EXPECT_TRUE(f) << f.error().message;
    util::SerialExecutor serial;
    EXPECT_TRUE(f->record(m_a, core::Owners::keep, serial));
    return dir;
  }

  // Opens delta and DIR's follower, then runs work on them.
  template <typename Work>
  static util::Status with_delta(const std::string& dir, const std::string& delta, Work work)
  {
    util::Fd fd(::open(delta.c_str(), O_RDONLY | O_CLOEXEC));
    auto source = core::file_source(fd);
    core::DeltaReader reader(std::move(*source), delta);
    auto header = reader.read_header();
    if (!header) {
      return header.error();
    }
    auto f = core::Follower::open(dir, "", core::Create::yes);
    if (!f) {
      return f.error();
    }
    util::SerialExecutor serial;
    auto r = work(*f, reader, *header, serial);
    return r ? util::Status{} : util::Status(r.error());
  }

  static util::Status apply(const std::string& dir, const std::string& delta,
                            core::CommitMode mode = core::CommitMode::atomic)
  {
    return with_delta(dir, delta, [&](auto& f, auto& reader, auto& header, auto& serial) {
      return f.apply(reader, header, core::Owners::keep, mode, serial);
    });
  }

  // The first half of an apply, for a transaction tagged tag.
  static util::Status prepare(const std::string& dir, const std::string& delta,
                              core::CommitMode mode, const std::string& tag)
  {
    return with_delta(dir, delta, [&](auto& f, auto& reader, auto& header, auto& serial) {
      return f.prepare(reader, header, core::Owners::keep, mode, serial, tag);
    });
  }

  static util::Status commit_prepared(const std::string& dir)
  {
    auto f = core::Follower::open(dir, "", core::Create::yes);
    if (!f) {
      return f.error();
    }
    util::SerialExecutor serial;
    auto r = f->commit_prepared(serial);
    return r ? util::Status{} : util::Status(r.error());
  }

  // Runs work in a child that dies at the nth call of point; true when it
  // was killed there, false when it finished without reaching it.
  static bool killed_at(const std::string& point, int nth, const std::function<void()>& work)
  {
    const pid_t pid = ::fork();
    if (pid == 0) {
      int seen = 0;
      core::g_fault_point = [&](const char* name) {
        if (point == name && ++seen == nth) {
          ::raise(SIGKILL);
        }
      };
      work();
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  // DIR is exactly A or exactly B, recorded as such, with no drift.
  void expect_whole(const std::string& dir, const std::string& where)
  {
    auto f = core::Follower::open(dir, "", core::Create::yes);
    ASSERT_TRUE(f) << where << ": " << f.error().message;
    EXPECT_FALSE(f->recovered().empty()) << where << ": recovery said nothing";
    const bool at_b = f->current().id == m_b.id;
    EXPECT_TRUE(at_b || f->current().id == m_a.id) << where;
    EXPECT_EQ(test::compare_trees(m_dir / (at_b ? "b" : "a"), dir), "") << where;
    util::SerialExecutor serial;
    auto drift = f->drift(serial);
    ASSERT_TRUE(drift) << drift.error().message;
    EXPECT_TRUE(drift->empty()) << where << ": " << core::drift_message(dir, f->current(), *drift);
    EXPECT_FALSE(fs::exists(f->state() + "/stage")) << where;
    EXPECT_FALSE(fs::exists(f->state() + "/journal")) << where;
  }

  // Kills an apply at each point in turn, on a fresh follower at A each
  // time; then DIR must be whole, and the follower must carry on.
  void crash_at_each(core::CommitMode mode, const std::vector<std::pair<const char*, int>>& points)
  {
    for (const auto& [point, nth] : points) {
      const std::string dir = follower_at_a(m_round++);
      const std::string where = std::string(point) + " #" + std::to_string(nth);
      ASSERT_TRUE(killed_at(point, nth, [&] { (void)apply(dir, m_delta, mode); })) << where;
      expect_whole(dir, where);
      bool at_a = false;
      {
        auto f = core::Follower::open(dir, "", core::Create::yes);
        ASSERT_TRUE(f);
        at_a = f->current().id == m_a.id;
      }
      if (at_a) {
        auto s = apply(dir, m_delta, mode);
        ASSERT_TRUE(s) << where << ": " << s.error().message;
        EXPECT_EQ(test::compare_trees(m_dir / "b", dir), "") << where;
      }
    }
  }

  core::Manifest m_a;
  core::Manifest m_b;
  std::string m_delta;
  int m_round = 0;
};

TEST_F(FollowerCrashTest, KilledAtAnyStepOfAnAtomicApplyTheTreeIsOneWholeVersion)
{
  crash_at_each(core::CommitMode::atomic, {{"stage created", 1},
                                           {"file written", 1},
                                           {"file written", 2},
                                           {"payload read", 1},
                                           {"stage built", 1},
                                           {"stage durable", 1},
                                           {"journal written", 1},
                                           {"exchanged", 1},
                                           {"committed", 1}});
}

TEST_F(FollowerCrashTest, KilledAtAnyStepOfAnInplaceApplyTheTreeIsOneWholeVersion)
{
  crash_at_each(core::CommitMode::inplace, {{"stage created", 1},
                                            {"file written", 1},
                                            {"payload read", 1},
                                            {"stage built", 1},
                                            {"stage durable", 1},
                                            {"journal written", 1},
                                            {"inplace removed", 1},
                                            {"inplace renamed", 1},
                                            {"committed", 1}});
}

TEST_F(FollowerCrashTest, AFullDiskFailsTheApplyAndLeavesTheTreeAsItWas)
{
  // A file size limit stands in for a full disk: writes past it fail with
  // EFBIG, as they would with ENOSPC.
  const std::string dir = follower_at_a(200);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{100000, 100000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const auto s = apply(dir, m_delta);
    ::_exit(!s && s.error().code == util::Errc::io ? 42 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 42) << "the apply did not fail with an I/O error";
  auto f = core::Follower::open(dir, "", core::Create::yes);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->current().id, m_a.id);
  EXPECT_EQ(test::compare_trees(m_dir / "a", dir), "");
  EXPECT_FALSE(fs::exists(f->state() + "/stage"));
}

TEST_F(FollowerCrashTest, KilledDuringUndoTheTreeIsOneWholeVersion)
{
  int round = 100;
  for (const char* point : {"undo journal written", "undo exchanged"}) {
    const std::string dir = follower_at_a(round++);
    ASSERT_TRUE(apply(dir, m_delta));
    ASSERT_TRUE(killed_at(point, 1,
                          [&] {
                            auto f = core::Follower::open(dir, "", core::Create::yes);
                            (void)f->undo();
                          }))
      << point;
    expect_whole(dir, point);
  }
}

TEST_F(FollowerCrashTest, APreparedStageWaitsForItsDecisionAcrossRestarts)
{
  for (const auto mode : {core::CommitMode::atomic, core::CommitMode::inplace}) {
    const std::string dir = follower_at_a(m_round++);
    const auto s = prepare(dir, m_delta, mode, "5eed:17");
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(test::compare_trees(m_dir / "a", dir), "");
    {
      auto f = core::Follower::open(dir, "", core::Create::yes);
      ASSERT_TRUE(f) << f.error().message;
      ASSERT_TRUE(f->prepared());
      EXPECT_EQ(f->prepared()->tag, "5eed:17");
      EXPECT_EQ(f->prepared()->mode, mode);
      EXPECT_EQ(f->prepared()->to.id, m_b.id);
      EXPECT_EQ(f->current().id, m_a.id);
      EXPECT_NE(f->recovered().find("kept v2 staged for 5eed:17"), std::string::npos)
        << f->recovered();
    }
    const auto again = prepare(dir, m_delta, mode, "5eed:18");
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, util::Errc::conflict);
    EXPECT_NE(again.error().message.find("staged for 5eed:17"), std::string::npos);

    const auto c = commit_prepared(dir);
    ASSERT_TRUE(c) << c.error().message;
    EXPECT_EQ(test::compare_trees(m_dir / "b", dir), "");
    auto f = core::Follower::open(dir, "", core::Create::yes);
    ASSERT_TRUE(f);
    EXPECT_FALSE(f->prepared());
    EXPECT_EQ(f->current().id, m_b.id);
    EXPECT_TRUE(f->recovered().empty()) << f->recovered();
    EXPECT_FALSE(fs::exists(f->state() + "/prepared"));
    EXPECT_FALSE(fs::exists(f->state() + "/stage"));
  }
}

TEST_F(FollowerCrashTest, AnAbortedPrepareLeavesTheTreeAsItWas)
{
  const std::string dir = follower_at_a(m_round++);
  ASSERT_TRUE(prepare(dir, m_delta, core::CommitMode::atomic, "5eed:17"));
  {
    auto f = core::Follower::open(dir, "", core::Create::yes);
    ASSERT_TRUE(f && f->prepared());
    ASSERT_TRUE(f->abort_prepared());
    EXPECT_FALSE(f->prepared());
  }
  EXPECT_EQ(test::compare_trees(m_dir / "a", dir), "");
  auto f = core::Follower::open(dir, "", core::Create::yes);
  ASSERT_TRUE(f);
  EXPECT_FALSE(f->prepared());
  EXPECT_TRUE(f->recovered().empty()) << f->recovered();
  EXPECT_FALSE(fs::exists(f->state() + "/stage"));
  EXPECT_FALSE(fs::exists(f->state() + "/prepared"));
}

TEST_F(FollowerCrashTest, ATreeChangedAfterThePrepareRefusesTheCommit)
{
  const std::string dir = follower_at_a(m_round++);
  ASSERT_TRUE(prepare(dir, m_delta, core::CommitMode::atomic, "5eed:17"));
  write_file(dir + "/etc/by-hand.conf", "added by hand\n");
  const auto c = commit_prepared(dir);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, util::Errc::conflict);
  EXPECT_NE(c.error().message.find("etc/by-hand.conf (added)"), std::string::npos)
    << c.error().message;
  auto f = core::Follower::open(dir, "", core::Create::yes);
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->prepared()) << "the stage is kept for an abort";
  EXPECT_EQ(f->current().id, m_a.id);
  ASSERT_TRUE(f->abort_prepared());
}

TEST_F(FollowerCrashTest, KilledAroundAPrepareTheStageIsKeptOnlyWhenWhole)
{
  // Before the marker: discarded. After it: kept, and committed later.
  for (const char* point : {"stage durable", "prepared"}) {
    const std::string dir = follower_at_a(m_round++);
    ASSERT_TRUE(killed_at(
      point, 1, [&] { (void)prepare(dir, m_delta, core::CommitMode::atomic, "5eed:17"); }))
      << point;
    EXPECT_EQ(test::compare_trees(m_dir / "a", dir), "") << point;
    auto f = core::Follower::open(dir, "", core::Create::yes);
    ASSERT_TRUE(f) << f.error().message;
    const bool kept = std::string(point) == "prepared";
    EXPECT_EQ(f->prepared().has_value(), kept) << point;
    EXPECT_EQ(fs::exists(f->state() + "/stage"), kept) << point;
  }
  // Killed while committing a prepared stage: whole. Before the swap the
  // stage is kept (its transaction was decided: the commit is done again);
  // after it, the commit is finished and no marker is left.
  for (const char* point : {"journal written", "exchanged", "committed"}) {
    const std::string dir = follower_at_a(m_round++);
    ASSERT_TRUE(prepare(dir, m_delta, core::CommitMode::atomic, "5eed:17"));
    ASSERT_TRUE(killed_at(point, 1, [&] { (void)commit_prepared(dir); })) << point;
    const bool before_swap = std::string(point) == "journal written";
    if (!before_swap) {
      expect_whole(dir, point); // the first open: recovery finishes the commit
    }
    {
      auto f = core::Follower::open(dir, "", core::Create::yes);
      ASSERT_TRUE(f);
      EXPECT_EQ(f->prepared().has_value(), before_swap) << point;
      EXPECT_FALSE(fs::exists(f->state() + "/journal")) << point;
      EXPECT_EQ(fs::exists(f->state() + "/prepared"), before_swap) << point;
    }
    if (before_swap) {
      EXPECT_EQ(test::compare_trees(m_dir / "a", dir), "");
      ASSERT_TRUE(commit_prepared(dir));
      EXPECT_EQ(test::compare_trees(m_dir / "b", dir), "");
    }
  }
}

TEST_F(FollowerCrashTest, AFileSwappedForASymlinkBeforeTheCommitRefusesIt)
{
  // Between the vote and the commit, someone puts a symlink to a folder
  // outside where a file was: the commit must not go through it.
  const std::string dir = follower_at_a(m_round++);
  ASSERT_TRUE(prepare(dir, m_delta, core::CommitMode::inplace, "5eed:17"));
  fs::create_directories(m_dir / "outside");
  fs::remove(dir + "/etc/old.conf");
  fs::create_directory_symlink(m_dir / "outside", dir + "/etc/old.conf");
  const auto c = commit_prepared(dir);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().code, util::Errc::conflict);
  EXPECT_NE(c.error().message.find("etc/old.conf"), std::string::npos) << c.error().message;
  EXPECT_TRUE(fs::is_empty(m_dir / "outside"));
  auto f = core::Follower::open(dir, "", core::Create::yes);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->current().id, m_a.id);
  ASSERT_TRUE(f->abort_prepared());
}

} // namespace
