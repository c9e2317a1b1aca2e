#include "core/gc.hpp"
#include "core/snapshot.hpp"
#include "core/txlog.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace treecast;

namespace {

using GcTest = test::StoreTest;

} // namespace

TEST_F(GcTest, DropsOldVersionsAndTheContentOnlyTheyUsed)
{
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/shared", "kept by every version");
  test::write_file(tree + "/f", "v1 only");
  const auto v1 = snapshot_of(tree, "c");
  test::write_file(tree + "/f", "v2 only");
  (void)snapshot_of(tree, "c");
  test::write_file(tree + "/f", "v3 content");
  const auto v3 = snapshot_of(tree, "c");
  // Another channel still uses v1's content.
  const std::string other = m_dir / "other";
  test::write_file(other + "/x", "v2 only");

  (void)snapshot_of(other, "d");
  auto r = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->dropped, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(r->objects_removed, 1u); // "v1 only"; "v2 only" is still used by channel d
  EXPECT_FALSE(m_store->has_object(v1.find("f")->hash));
  EXPECT_TRUE(m_store->has_object(v3.find("shared")->hash));
  EXPECT_TRUE(m_store->has_object(v3.find("f")->hash));

  // Numbers continue from the latest: never reused.
  test::write_file(tree + "/f", "v4");
  EXPECT_EQ(snapshot_of(tree, "c").header.number, 4u);
}

TEST_F(GcTest, RemovesLeftoversOfKilledProcessesAndRefusesKeepZero)
{
  test::write_file(m_dir / "store/tmp/object.abc123", "partial");
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/a", "a");
  (void)snapshot_of(tree, "c");
  auto r = core::gc(*m_store, "c", 5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->temp_removed, 1u);
  EXPECT_TRUE(r->dropped.empty());
  EXPECT_TRUE(std::filesystem::is_empty(m_dir / "store/tmp"));

  auto zero = core::gc(*m_store, "c", 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, util::Errc::usage);
}

TEST_F(GcTest, KeepsTheFleetsVersionAndTheOneInFlight)
{
  const std::string tree = m_dir / "tree";
  for (int i = 1; i <= 5; ++i) {
    test::write_file(tree + "/f", "content " + std::to_string(i));
    (void)snapshot_of(tree, "c");
  }
  // The fleet holds v2; a transaction proposes v4 and is undecided.
  auto log = core::TxnLog::open(*m_store, "c");
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::begin, 1, 1, 2, {}}));
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::commit, 1, 1, 2, {}}));
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::begin, 1, 2, 4, {}}));
  auto r = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->dropped, (std::vector<std::uint64_t>{1, 3}));
  EXPECT_EQ(*m_store->versions("c"), (std::vector<std::uint64_t>{2, 4, 5}));
}

TEST_F(GcTest, KeepsTheCanarysVersion)
{
  const std::string tree = m_dir / "tree";
  for (int i = 1; i <= 5; ++i) {
    test::write_file(tree + "/f", "content " + std::to_string(i));
    (void)snapshot_of(tree, "c");
  }
  // The fleet holds v2; group canary holds v3 (push --canary whose rest
  // of the fleet did not follow).
  auto log = core::TxnLog::open(*m_store, "c");
  ASSERT_TRUE(log);
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::begin, 1, 1, 2, {}}));
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::commit, 1, 1, 2, {}}));
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::begin, 1, 2, 3, {}}));
  ASSERT_TRUE(log->append({core::TxnEvent::Kind::canary, 1, 2, 3, {}, "canary"}));
  auto r = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*m_store->versions("c"), (std::vector<std::uint64_t>{2, 3, 5}));
}
