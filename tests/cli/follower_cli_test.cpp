// treecast delta, apply, verify and undo: a follower's tree moves from one
// whole version to another, or stays as it was, and says why.

#include "cli/cli_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sys/stat.h>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

class cli_follower : public CliTest
{
protected:
  // Two versions of m_tree, with pristine copies of each in v1/ and v2/.
  void make_versions()
  {
    write_file(m_tree + "/nginx/nginx.conf", "worker_processes 2;\n");
    write_file(m_tree + "/nginx/sites/a.conf", std::string(5000, 'a'));
    write_file(m_tree + "/certs/site.pem", "certificate one\n", 0600);
    write_file(m_tree + "/old.txt", "to be renamed\n");
    make_symlink("sites/a.conf", m_tree + "/nginx/default");
    snapshot(m_tree);
    fs::copy(m_tree, m_temp / "v1", fs::copy_options::recursive | fs::copy_options::copy_symlinks);

    write_file(m_tree + "/nginx/nginx.conf", "worker_processes 4;\n");
    write_file(m_tree + "/certs/site.pem", "certificate two\n", 0600);
    fs::rename(m_tree + "/old.txt", m_tree + "/nginx/new.txt");
    fs::permissions(m_tree + "/nginx/sites/a.conf", fs::perms(0640));
    write_file(m_tree + "/added/big.bin", std::string(300000, 'b') + "end");
    fs::remove(m_tree + "/nginx/default");
    snapshot(m_tree);
    fs::copy(m_tree, m_temp / "v2", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  }

  std::string delta(const std::string& from, const std::string& to)
  {
    const std::string file = m_temp / ("d-" + from + "-" + to);
    const auto r = tc({"delta", "--from", from, "--to", to, "-o", file});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return file;
  }

  const std::string m_dir = m_temp / "follower";
};

TEST_F(cli_follower, ApplyBringsTheTreeToTheNewVersionAndUndoSwapsBack)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  const auto verified = tc_raw({"verify", m_dir});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_NE(verified.out.find("is at v1"), std::string::npos) << verified.out;

  const auto applied = tc_raw({"apply", delta("1", "2"), m_dir});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_NE(applied.out.find("is at v2"), std::string::npos) << applied.out;
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);

  const auto undone = tc_raw({"undo", m_dir});
  ASSERT_EQ(undone.exit_code, 0) << undone.err;
  EXPECT_NE(undone.out.find("back at v1"), std::string::npos) << undone.out;
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);
  ASSERT_EQ(tc_raw({"undo", m_dir}).exit_code, 0);
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");

  // Back again with the reverse delta.
  ASSERT_EQ(tc_raw({"apply", delta("2", "1"), m_dir}).exit_code, 0);
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
}

TEST_F(cli_follower, AnInplaceApplyRenamesTheNewFilesIntoTheSameFolder)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  struct stat before
  {};
  ASSERT_EQ(::stat(m_dir.c_str(), &before), 0);
  const auto applied = tc_raw({"apply", "--commit", "inplace", delta("1", "2"), m_dir});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);
  // The same folder, not a swapped-in one (a mount point stays mounted).
  struct stat after
  {};
  ASSERT_EQ(::stat(m_dir.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino);
  // No old tree is kept, so there is nothing to undo to.
  const auto undone = tc_raw({"undo", m_dir});
  EXPECT_EQ(undone.exit_code, 6);
  // And back, in place too.
  ASSERT_EQ(tc_raw({"apply", "--commit", "inplace", delta("2", "1"), m_dir}).exit_code, 0);
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
}

TEST_F(cli_follower, ADeltaCanBePipedFromTheMasterToTheFollower)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  const std::string bin = TREECAST_BIN;
  const auto piped = run({"/bin/sh", "-c",
                          "'" + bin + "' delta --from 1 --to 2 -o - --store '" + m_store +
                            "' --channel web | '" + bin + "' apply - '" + m_dir + "'"},
                         {}, k_deadline);
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_NE(piped.err.find("v1 -> v2"), std::string::npos) << piped.err; // the summary, on stderr
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");
}

TEST_F(cli_follower, ApplyAndVerifySpeakJson)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  const auto applied = tc_raw({"apply", "--json", delta("1", "2"), m_dir});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  const auto a = nlohmann::json::parse(applied.out);
  EXPECT_EQ(a["from"], 1);
  EXPECT_EQ(a["to"]["number"], 2);
  EXPECT_EQ(a["channel"], "web");
  EXPECT_EQ(a["written"], 3); // nginx.conf, site.pem, big.bin
  write_file(m_dir + "/nginx/nginx.conf", "edited\n");
  const auto verified = tc_raw({"verify", "--json", m_dir});
  EXPECT_EQ(verified.exit_code, 6);
  const auto v = nlohmann::json::parse(verified.out);
  EXPECT_EQ(v["number"], 2);
  ASSERT_EQ(v["drift"].size(), 1U);
  EXPECT_EQ(v["drift"][0]["path"], "nginx/nginx.conf");
  EXPECT_EQ(v["drift"][0]["what"], "modified");
}

TEST_F(cli_follower, AnInplaceFollowerCanKeepItsStateInsideTheTree)
{
  // As on a mount point: the state folder inside DIR, on its file system,
  // never part of a version and never drift.
  make_versions();
  fs::create_directories(m_dir);
  const std::string state = m_dir + "/.treecast";
  const auto first =
    tc_raw({"apply", "--commit", "inplace", "--state", state, delta("0", "1"), m_dir});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto second =
    tc_raw({"apply", "--commit", "inplace", "--state", state, delta("1", "2"), m_dir});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(tc_raw({"verify", "--state", state, m_dir}).exit_code, 0);
  // An atomic commit would carry the state folder away with the old tree.
  const auto atomic = tc_raw({"apply", "--state", state, delta("2", "1"), m_dir});
  EXPECT_EQ(atomic.exit_code, 6);
  EXPECT_NE(atomic.err.find("works with --commit inplace only"), std::string::npos) << atomic.err;
  fs::remove_all(state);
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");
  EXPECT_FALSE(fs::exists(m_temp / ".follower.treecast"));
}

TEST_F(cli_follower, ADeltaFromNothingBuildsANewFollower)
{
  make_versions();
  const auto applied = tc_raw({"apply", delta("0", "2"), m_dir});
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);
}

TEST_F(cli_follower, AChangedTreeIsRefusedAndLeftAsItWas)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  write_file(m_dir + "/nginx/nginx.conf", "edited by hand\n");
  write_file(m_dir + "/stray.txt", "left here\n");
  fs::copy(m_dir, m_temp / "edited", fs::copy_options::recursive | fs::copy_options::copy_symlinks);

  const auto verified = tc_raw({"verify", m_dir});
  EXPECT_EQ(verified.exit_code, 6);
  EXPECT_NE(verified.out.find("has drifted from v1: 2 paths differ"), std::string::npos)
    << verified.out;
  EXPECT_NE(verified.out.find("modified nginx/nginx.conf"), std::string::npos) << verified.out;
  EXPECT_NE(verified.out.find("added stray.txt"), std::string::npos) << verified.out;

  const auto applied = tc_raw({"apply", delta("1", "2"), m_dir});
  EXPECT_EQ(applied.exit_code, 6);
  EXPECT_NE(applied.err.find("has drifted from v1"), std::string::npos) << applied.err;
  EXPECT_NE(applied.err.find("nginx/nginx.conf (modified)"), std::string::npos) << applied.err;
  EXPECT_EQ(compare_trees(m_temp / "edited", m_dir), "");
}

TEST_F(cli_follower, ADeltaForAnotherVersionIsRefused)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "2", m_dir}).exit_code, 0);
  const auto applied = tc_raw({"apply", delta("1", "2"), m_dir});
  EXPECT_EQ(applied.exit_code, 6);
  EXPECT_NE(applied.err.find("the delta goes from v1"), std::string::npos) << applied.err;
  EXPECT_NE(applied.err.find("holds v2"), std::string::npos) << applied.err;
  EXPECT_EQ(compare_trees(m_temp / "v2", m_dir), "");
}

TEST_F(cli_follower, ACorruptDeltaLeavesTheTreeWholeAndNoStageBehind)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  const std::string file = delta("1", "2");
  const auto size = fs::file_size(file);
  // A bit flipped near the end: in the payload, after the manifest.
  {
    std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(size - 40));
    char c = 0;
    f.get(c);
    f.seekp(static_cast<std::streamoff>(size - 40));
    f.put(static_cast<char>(c ^ 0x20));
  }
  const auto applied = tc_raw({"apply", file, m_dir});
  EXPECT_EQ(applied.exit_code, 3) << applied.err;
  EXPECT_NE(applied.err.find("invalid delta"), std::string::npos) << applied.err;
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
  EXPECT_FALSE(fs::exists(m_temp / ".follower.treecast/stage"));
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);

  // Cut short, too.
  fs::resize_file(file, size / 2);
  EXPECT_EQ(tc_raw({"apply", file, m_dir}).exit_code, 3);
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
}

TEST_F(cli_follower, AStageLeftByAKilledApplyIsDiscardedAndSaidSo)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  write_file(m_temp / ".follower.treecast/stage/half-written", "x");
  const auto verified = tc_raw({"verify", m_dir});
  EXPECT_EQ(verified.exit_code, 0) << verified.err;
  EXPECT_NE(verified.err.find("discarded an interrupted apply"), std::string::npos) << verified.err;
  EXPECT_FALSE(fs::exists(m_temp / ".follower.treecast/stage"));
}

TEST_F(cli_follower, OwnersLeftToTheCallerAreNotDrift)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir, "--owners", "keep"}).exit_code, 0);
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);
  ASSERT_EQ(tc_raw({"apply", delta("1", "2"), m_dir, "--owners", "keep"}).exit_code, 0);
  EXPECT_EQ(tc_raw({"verify", m_dir}).exit_code, 0);
}

TEST_F(cli_follower, AFolderWithoutStateIsNotAFollower)
{
  fs::create_directories(m_dir);
  const auto verified = tc_raw({"verify", m_dir});
  EXPECT_EQ(verified.exit_code, 5);
  EXPECT_NE(verified.err.find("has no treecast state"), std::string::npos) << verified.err;
  EXPECT_EQ(tc_raw({"undo", m_dir}).exit_code, 5);
  EXPECT_FALSE(fs::exists(m_temp / ".follower.treecast"));
}

TEST_F(cli_follower, UndoWithoutAnApplyIsRefused)
{
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  const auto undone = tc_raw({"undo", m_dir});
  EXPECT_EQ(undone.exit_code, 6);
  EXPECT_NE(undone.err.find("no previous tree"), std::string::npos) << undone.err;
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
}

} // namespace

TEST_F(cli_follower, ABindMountedTreeIsRefusedBeforeAnythingIsStaged)
{
  const std::string unshare = find_program("unshare");
  if (unshare.empty()) {
    GTEST_SKIP() << "unshare(1) is not installed";
  }
  make_versions();
  ASSERT_EQ(tc({"checkout", "1", m_dir}).exit_code, 0);
  // The tree bind-mounted on itself: the same file system, another mount.
  const std::string d = delta("1", "2");
  const RunResult r =
    run({unshare, "-m", "sh", "-c", "mount --bind \"$0\" \"$0\" && exec \"$1\" apply \"$2\" \"$0\"",
         m_dir, TREECAST_BIN, d});
  if (r.err.find("treecast:") == std::string::npos) { // unshare or mount refused
    GTEST_SKIP() << "no mount namespace here: " << r.err;
  }
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("is a mount point: an atomic commit swaps the folder itself"),
            std::string::npos)
    << r.err;
  EXPECT_EQ(compare_trees(m_temp / "v1", m_dir), "");
}
