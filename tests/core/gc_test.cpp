#include "core/gc.hpp"
#include "core/snapshot.hpp"
#include "support/store_fixture.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace treecast;

namespace {

class GcTest : public test::StoreTest
{
protected:
  core::Manifest snap(const std::string& channel, const std::string& tree)
  {
    core::SnapshotOptions options;
    options.channel = channel;
    util::SerialExecutor serial;
    auto r = core::snapshot(*m_store, tree, options, serial);
    EXPECT_TRUE(r) << r.error().message;
    return r->manifest;
  }
};

} // namespace

TEST_F(GcTest, DropsOldVersionsAndTheContentOnlyTheyUsed)
{
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/shared", "kept by every version");
  test::write_file(tree + "/f", "v1 only");
  const auto v1 = snap("c", tree);
  test::write_file(tree + "/f", "v2 only");
  (void)snap("c", tree);
  test::write_file(tree + "/f", "v3 content");
  const auto v3 = snap("c", tree);
  // Another channel still uses v1's content.
  const std::string other = m_dir / "other";
  test::write_file(other + "/x", "v2 only");

  (void)snap("d", other);
  auto r = core::gc(*m_store, "c", 1);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->dropped, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(r->objects_removed, 1u); // "v1 only"; "v2 only" is still used by channel d
  EXPECT_FALSE(m_store->has_object(v1.find("f")->hash));
  EXPECT_TRUE(m_store->has_object(v3.find("shared")->hash));
  EXPECT_TRUE(m_store->has_object(v3.find("f")->hash));

  // Numbers continue from the latest: never reused.
  test::write_file(tree + "/f", "v4");
  EXPECT_EQ(snap("c", tree).header.number, 4u);
}

TEST_F(GcTest, RemovesLeftoversOfKilledProcessesAndRefusesKeepZero)
{
  test::write_file(m_dir / "store/tmp/object.abc123", "partial");
  const std::string tree = m_dir / "tree";
  test::write_file(tree + "/a", "a");
  (void)snap("c", tree);
  auto r = core::gc(*m_store, "c", 5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->temp_removed, 1u);
  EXPECT_TRUE(r->dropped.empty());
  EXPECT_TRUE(std::filesystem::is_empty(m_dir / "store/tmp"));

  auto zero = core::gc(*m_store, "c", 0);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().code, util::Errc::usage);
}
