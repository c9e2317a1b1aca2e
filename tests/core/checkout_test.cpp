#include "core/checkout.hpp"
#include "core/snapshot.hpp"
#include "support/objects.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <sys/stat.h>

using namespace treecast;

namespace {

using CheckoutTest = test::StoreTest;

} // namespace

TEST_F(CheckoutTest, RandomTreesRoundTripExactly)
{
  for (std::uint64_t seed : {1, 2, 3, 4}) {
    std::mt19937_64 rng(seed);
    const std::string tree = m_dir / ("tree" + std::to_string(seed));
    test::random_tree(tree, rng, 120);
    const auto m = snapshot_of(tree);
    const std::string out = m_dir / ("out" + std::to_string(seed));
    auto r = core::checkout(*m_store, m, out, core::Owners::keep);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(test::compare_trees(tree, out), "") << "seed " << seed;
    // mtimes are restored too.
    for (const auto& e : m.entries) {
      struct stat st
      {};
      ASSERT_EQ(::lstat((out + "/" + e.path).c_str(), &st), 0);
      EXPECT_EQ(st.st_mtim.tv_sec * 1'000'000'000ll + st.st_mtim.tv_nsec, e.mtime_ns) << e.path;
    }
  }
}

TEST_F(CheckoutTest, ReadOnlyFoldersAndSparseFiles)
{
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/ro/file", "inside a read-only folder", 0444);
  ASSERT_EQ(::chmod((tree + "/ro").c_str(), 0555), 0);
  test::write_file(tree + "/sparse", "");
  ASSERT_EQ(::truncate((tree + "/sparse").c_str(), 256 << 20), 0);
  const auto m = snapshot_of(tree);
  const std::string out = m_dir / "out";
  auto r = core::checkout(*m_store, m, out, core::Owners::keep);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(test::compare_trees(tree, out), "");
  struct stat st
  {};
  ASSERT_EQ(::stat((out + "/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 256 << 20);
  EXPECT_LT(st.st_blocks * 512, 1 << 20); // still sparse
}

TEST_F(CheckoutTest, RefusesANonEmptyFolderAndLeavesItAlone)
{
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/a", "a");
  const auto m = snapshot_of(tree);
  test::write_file(m_dir / "busy/mine", "do not touch");
  auto r = core::checkout(*m_store, m, m_dir / "busy", core::Owners::keep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::Errc::conflict);
  EXPECT_NE(r.error().message.find("not empty"), std::string::npos);
  EXPECT_EQ(test::read_file(m_dir / "busy/mine"), "do not touch");

  test::make_dir(m_dir / "empty", 0750);
  ASSERT_TRUE(core::checkout(*m_store, m, m_dir / "empty", core::Owners::keep));
  EXPECT_EQ(test::read_file(m_dir / "empty/a"), "a");
  struct stat st
  {};
  ASSERT_EQ(::stat((m_dir / "empty").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u); // keeps its own mode
}

TEST_F(CheckoutTest, ACorruptObjectFailsAndLeavesNothingBehind)
{
  const std::string tree = m_dir / "tree";
  std::string big;
  for (int i = 0; i < 50000; ++i) {
    big += std::to_string(i);
  }
  test::write_file(tree + "/big", big);
  const auto m = snapshot_of(tree);
  test::corrupt_object(*m_store, m.find("big")->hash);

  auto r = core::checkout(*m_store, m, m_dir / "out", core::Owners::keep);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, util::Errc::data);
  EXPECT_NE(r.error().message.find(m.find("big")->hash.hex()), std::string::npos)
    << r.error().message;
  EXPECT_FALSE(std::filesystem::exists(m_dir / "out"));
  for (const auto& e : std::filesystem::directory_iterator(m_dir.path())) {
    EXPECT_EQ(e.path().filename().string().find("treecast-checkout"), std::string::npos);
  }
}

TEST_F(CheckoutTest, OwnersAreRestoredByNameAsRoot)
{
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to change owners";
  }
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/daemon-file", "x");
  test::write_file(tree + "/numeric-file", "y");
  ASSERT_EQ(::chown((tree + "/daemon-file").c_str(), 1, 1), 0); // daemon:daemon on Debian
  ASSERT_EQ(::chown((tree + "/numeric-file").c_str(), 4242, 4243), 0);
  auto m = snapshot_of(tree);
  // A name that exists here wins over the recorded number.
  auto* e = const_cast<core::Entry*>(m.find("daemon-file"));
  ASSERT_EQ(e->user, "daemon");
  e->uid = 9999;
  auto r = core::checkout(*m_store, m, m_dir / "out", core::Owners::restore);
  ASSERT_TRUE(r) << r.error().message;
  struct stat st
  {};
  ASSERT_EQ(::stat((m_dir / "out/daemon-file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1u);
  ASSERT_EQ(::stat((m_dir / "out/numeric-file").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 4242u);
  EXPECT_EQ(st.st_gid, 4243u);
}
