// treecast checkout: a version comes back byte for byte (contents, modes,
// symlink targets, empty folders), into a new or empty folder only, and a
// corrupt store never yields a half-written tree.

#include "cli/cli_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <random>
#include <regex>
#include <sys/stat.h>
#include <unistd.h>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

using cli_checkout = CliTest;

// Regular files under root, sorted, as paths relative to it.
std::vector<std::string> files_under(const std::string& root)
{
  std::vector<std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file() && !e.is_symlink()) {
      files.push_back(fs::relative(e.path(), root).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string random_bytes(std::size_t n, std::uint64_t seed)
{
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(rng());
  }
  return s;
}

} // namespace

TEST_F(cli_checkout, RandomTreesRoundTripExactly)
{
  for (const std::uint64_t seed : {101, 202, 303}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    m_channel = "random" + std::to_string(seed);
    const std::string tree = m_temp / ("tree" + std::to_string(seed));
    std::mt19937_64 rng(seed);
    random_tree(tree, rng, 80);
    const std::string label = snapshot(tree).substr(0, 15);

    const std::string out = m_temp / ("out" + std::to_string(seed));
    const RunResult r = tc({"checkout", "latest", out});
    ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
    EXPECT_TRUE(r.out.starts_with(label + " checked out into ")) << r.out;
    EXPECT_EQ(compare_trees(tree, out), "");
  }
}

TEST_F(cli_checkout, OlderVersionAfterTheTreeChangedGivesTheOldTree)
{
  // The same seed builds the same tree twice: one to edit, one to keep.
  std::mt19937_64 rng(7);
  random_tree(m_tree, rng, 60);
  std::mt19937_64 same(7);
  random_tree(m_temp / "pristine", same, 60);
  ASSERT_EQ(compare_trees(m_tree, m_temp / "pristine"), "");
  snapshot(m_tree);

  const std::vector<std::string> files = files_under(m_tree);
  ASSERT_GE(files.size(), 3u);
  fs::remove(m_tree + "/" + files[0]);
  const std::string edited = m_tree + "/" + files[1];
  fs::permissions(edited, fs::perms::owner_write, fs::perm_options::add);
  write_file(edited, "edited\n", 0600);
  ASSERT_EQ(::chmod((m_tree + "/" + files[2]).c_str(), 0750), 0);
  write_file(m_tree + "/added/deep/file", "added\n");
  make_dir(m_tree + "/added/empty");
  EXPECT_TRUE(snapshot(m_tree).starts_with("v2 "));

  RunResult r = tc({"checkout", "v1", m_temp / "v1"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(compare_trees(m_temp / "pristine", m_temp / "v1"), "");
  r = tc({"checkout", "latest", m_temp / "v2"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(compare_trees(m_tree, m_temp / "v2"), "");
}

TEST_F(cli_checkout, IntoANonEmptyFolderFailsWithExit6AndLeavesItUntouched)
{
  write_file(m_tree + "/a", "version content\n");
  snapshot(m_tree);
  const std::string out = m_temp / "out";
  write_file(out + "/precious", "do not touch\n", 0600);
  make_dir(out + "/sub", 0700);
  write_file(m_temp / "copy/precious", "do not touch\n", 0600);
  make_dir(m_temp / "copy/sub", 0700);
  ::chmod((m_temp / "copy").c_str(), 0755);
  ::chmod(out.c_str(), 0755);

  const RunResult r = tc({"checkout", "v1", out});
  EXPECT_EQ(r.exit_code, 6) << testing::PrintToString(r);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "treecast: error: " + out + " is not empty; check out into an empty or new folder\n");
  EXPECT_EQ(compare_trees(m_temp / "copy", out), "");
  EXPECT_EQ(siblings_starting_with(m_temp.path(), ".out"), std::vector<std::string>{});

  // A file in the way is refused the same way.
  write_file(m_temp / "file", "x");
  const RunResult f = tc({"checkout", "v1", m_temp / "file"});
  EXPECT_EQ(f.exit_code, 6) << testing::PrintToString(f);
  EXPECT_NE(f.err.find("not a folder"), std::string::npos) << f.err;
  EXPECT_EQ(read_file(m_temp / "file"), "x");
}

TEST_F(cli_checkout, IntoAnExistingEmptyFolderWorks)
{
  write_file(m_tree + "/conf/a.conf", "a = 1\n");
  write_file(m_tree + "/conf/b.conf", "b = 22\n");
  make_dir(m_tree + "/empty");
  make_symlink("conf/a.conf", m_tree + "/link");
  const std::string label = snapshot(m_tree).substr(0, 15);
  const std::string out = m_temp / "out";
  make_dir(out, 0750);

  const RunResult r = tc({"checkout", "latest", out});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  // "1 symlink" or "1 symlinks": either reads fine.
  const std::string head = label + " checked out into " + out + " ";
  ASSERT_TRUE(r.out.starts_with(head)) << r.out;
  EXPECT_TRUE(std::regex_match(r.out.substr(head.size()),
                               std::regex("\\(2 files, 2 folders, 1 symlinks?, 13 B\\)\n")))
    << r.out;
  EXPECT_EQ(compare_trees(m_tree, out), "");
  struct stat st
  {};
  ASSERT_EQ(::stat(out.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u) << "the folder keeps its own mode";
}

TEST_F(cli_checkout, FilesOfWholeZstdBlocksCheckOut)
{
  // 128 KiB is libzstd's block size: the decompressed output fills the read
  // buffer exactly at the end of the frame.
  write_file(m_tree + "/random-128k", random_bytes(128 * 1024, 1));
  write_file(m_tree + "/zeros-256k", std::string(256 * 1024, '\0'));
  write_file(m_tree + "/random-128k-plus-1", random_bytes(128 * 1024 + 1, 2));
  snapshot(m_tree);
  const RunResult r = tc({"checkout", "latest", m_temp / "out"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(compare_trees(m_tree, m_temp / "out"), "");
}

TEST_F(cli_checkout, SparseGibFileStaysSparse)
{
  constexpr off_t k_size = off_t{1} << 30;
  constexpr off_t k_marker_at = off_t{300} << 20;
  const std::string marker = "a few bytes of data in the middle";
  make_dir(m_tree);
  {
    const int fd = ::open((m_tree + "/disk.img").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0640);
    ASSERT_GE(fd, 0) << std::strerror(errno);
    ASSERT_EQ(::ftruncate(fd, k_size), 0) << std::strerror(errno);
    ASSERT_EQ(::pwrite(fd, marker.data(), marker.size(), k_marker_at),
              static_cast<ssize_t>(marker.size()));
    ::close(fd);
  }
  write_file(m_tree + "/small", "small\n");

  RunResult r = tc({"snapshot", m_tree});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_TRUE(
    std::regex_match(r.out, std::regex("v1 [0-9a-f]{12} \\(2 changed, 1\\.0 GiB new\\)\n")))
    << r.out;
  EXPECT_LT(object_count(), 3u);

  const std::string out = m_temp / "out";
  r = tc({"checkout", "v1", out});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  struct stat st
  {};
  ASSERT_EQ(::stat((out + "/disk.img").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, k_size);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_LT(st.st_blocks * 512, 4 << 20) << "the checked-out file is not sparse";
  const int fd = ::open((out + "/disk.img").c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string back(marker.size() + 2, 'x');
  EXPECT_EQ(::pread(fd, back.data(), back.size(), k_marker_at - 1),
            static_cast<ssize_t>(back.size()));
  ::close(fd);
  EXPECT_EQ(back, std::string(1, '\0') + marker + std::string(1, '\0'));
  EXPECT_EQ(read_file(out + "/small"), "small\n");
}

TEST_F(cli_checkout, CorruptObjectFailsWithExit3NamingItAndCreatesNothing)
{
  write_file(m_tree + "/good", "fine\n");
  write_file(m_tree + "/nginx.conf", random_bytes(20000, 3));
  snapshot(m_tree);
  std::string hash;
  const nlohmann::json v1 = show_json("v1");
  for (const auto& e : v1["entries"]) {
    if (e["path"] == "nginx.conf") {
      hash = e["hash"];
    }
  }
  ASSERT_EQ(hash.size(), 32u);
  ASSERT_TRUE(has_object(hash));
  corrupt_object(hash);

  const std::string out = m_temp / "out";
  const RunResult r = tc({"checkout", "latest", out});
  EXPECT_EQ(r.exit_code, 3) << testing::PrintToString(r);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("object " + hash), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("corrupt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nginx.conf"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  EXPECT_EQ(siblings_starting_with(m_temp.path(), ".out"), std::vector<std::string>{});

  // An existing empty folder stays as it was.
  make_dir(out);
  const RunResult again = tc({"checkout", "latest", out});
  EXPECT_EQ(again.exit_code, 3) << testing::PrintToString(again);
  EXPECT_TRUE(fs::is_empty(out));
}

TEST_F(cli_checkout, MissingObjectFailsWithExit3)
{
  write_file(m_tree + "/a", "content a\n");
  snapshot(m_tree);
  const std::string hash = show_json("v1")["entries"][0]["hash"];
  remove_object(hash);
  const RunResult r = tc({"checkout", "v1", m_temp / "out"});
  EXPECT_EQ(r.exit_code, 3) << testing::PrintToString(r);
  EXPECT_NE(r.err.find(hash), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(m_temp / "out"));
}

TEST_F(cli_checkout, WorksFromAStoreTheUserCannotWrite)
{
  // Reading a version needs read access to the store only: an operator
  // checks out from the master's store, or from a read-only mount. A store
  // is made private (0700); here its owner has opened it to others.
  open_to_unprivileged();
  write_file(m_tree + "/etc/app.conf", "k = v\n");
  snapshot(m_tree);
  fs::permissions(m_store,
                  fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                    fs::perms::others_exec,
                  fs::perm_options::add);
  for (const auto& e : fs::recursive_directory_iterator(m_store)) {
    fs::permissions(e.path(),
                    fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                    fs::perm_options::remove);
  }
  fs::permissions(m_store,
                  fs::perms::owner_write | fs::perms::group_write | fs::perms::others_write,
                  fs::perm_options::remove);

  std::string why;
  const RunResult r = tc_unprivileged(
    {"checkout", "latest", m_temp / "out", "--store", m_store, "--channel", m_channel}, &why);
  if (!why.empty()) {
    GTEST_SKIP() << why;
  }
  EXPECT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(compare_trees(m_tree, m_temp / "out"), "");
}

TEST_F(cli_checkout, AsRootOwnersAreRestoredUnlessKept)
{
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root: giving files to another owner";
  }
  write_file(m_tree + "/www/index.html", "<html>\n");
  write_file(m_tree + "/root-only", "r\n", 0600);
  ASSERT_EQ(::chown((m_tree + "/www").c_str(), 65534, 65534), 0);
  ASSERT_EQ(::chown((m_tree + "/www/index.html").c_str(), 65534, 65534), 0);
  ASSERT_EQ(::lchown(m_tree.c_str(), 0, 0), 0);
  snapshot(m_tree);

  auto owner = [](const std::string& path) {
    struct stat st
    {};
    EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
    return std::pair<uid_t, gid_t>(st.st_uid, st.st_gid);
  };
  RunResult r = tc({"checkout", "latest", m_temp / "restored"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(owner(m_temp / "restored/www"), (std::pair<uid_t, gid_t>(65534, 65534)));
  EXPECT_EQ(owner(m_temp / "restored/www/index.html"), (std::pair<uid_t, gid_t>(65534, 65534)));
  EXPECT_EQ(owner(m_temp / "restored/root-only"), (std::pair<uid_t, gid_t>(0, 0)));

  r = tc({"checkout", "latest", m_temp / "kept", "--owners", "keep"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(owner(m_temp / "kept/www/index.html"), (std::pair<uid_t, gid_t>(0, ::getegid())));
  EXPECT_EQ(compare_trees(m_tree, m_temp / "kept"), "");

  r = tc({"checkout", "latest", m_temp / "bad", "--owners", "someone"});
  EXPECT_EQ(r.exit_code, 2) << testing::PrintToString(r);
  EXPECT_FALSE(fs::exists(m_temp / "bad"));
}

TEST_F(cli_checkout, EmptyTreeChecksOutAsAnEmptyFolder)
{
  make_dir(m_tree);
  EXPECT_TRUE(
    std::regex_match(snapshot(m_tree), std::regex("v1 [0-9a-f]{12} \\(0 changed, 0 B new\\)\n")));
  const RunResult r = tc({"checkout", "v1", m_temp / "out"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_TRUE(fs::is_directory(m_temp / "out"));
  EXPECT_TRUE(fs::is_empty(m_temp / "out"));
}
