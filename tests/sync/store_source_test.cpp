// The master's Source on a real store: versions, the transaction log across
// a restart, and deltas from the store's cache.

#include "support/store_fixture.hpp"
#include "support/tree.hpp"
#include "sync/store_source.hpp"
#include "util/executor.hpp"

#include <gtest/gtest.h>

using namespace treecast;
using namespace treecast::sync;

namespace {

class StoreSourceTest : public test::StoreTest
{
protected:
  void SetUp() override
  {
    StoreTest::SetUp();
    const std::string tree = m_dir / "tree";
    test::write_file(tree + "/a.conf", "one\n");
    m_v1 = snapshot_of(tree, "nginx");
    test::write_file(tree + "/a.conf", "two\n");
    m_v2 = snapshot_of(tree, "nginx");
  }
  core::Manifest m_v1;
  core::Manifest m_v2;
};

TEST_F(StoreSourceTest, VersionsLogAndDeltasComeFromTheStore)
{
  const wire::VersionRef v1 = version_of(m_v1);
  const wire::VersionRef v2 = version_of(m_v2);
  {
    auto source = StoreSource::open(*m_store, {"nginx"});
    ASSERT_TRUE(source) << source.error().message;
    StoreSource& s = **source;
    EXPECT_TRUE(s.committed("nginx", 5).empty());
    EXPECT_TRUE(s.has_version("nginx", v1));
    EXPECT_TRUE(s.has_version("nginx", {}));
    EXPECT_FALSE(s.has_version("nginx", {1, m_v2.id})) << "a number with another id";
    EXPECT_FALSE(s.has_version("nginx", {7, m_v2.id}));
    ASSERT_TRUE(s.log_begin("nginx", {s.epoch(), 1}, v1));
    ASSERT_TRUE(s.log_decision("nginx", {s.epoch(), 1}, wire::Outcome::commit, v1));
    ASSERT_TRUE(s.log_begin("nginx", {s.epoch(), 2}, v2));
    EXPECT_EQ(s.committed("nginx", 5), std::vector<wire::VersionRef>{v1});
  }
  // A restart reads it all back: transaction 2 is undecided.
  auto source = StoreSource::open(*m_store, {"nginx"});
  ASSERT_TRUE(source);
  StoreSource& s = **source;
  const auto last = s.last_txn("nginx");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->txn.number, 2U);
  EXPECT_EQ(last->version, v2);
  EXPECT_EQ(last->outcome, wire::Outcome::none);
  EXPECT_EQ(s.committed("nginx", 5), std::vector<wire::VersionRef>{v1});

  EXPECT_FALSE(s.delta_size("nginx", v1, v2));
  util::SerialExecutor serial;
  auto made = core::cached_delta(*m_store, m_v1, m_v2, s.options(), serial);
  ASSERT_TRUE(made) << made.error().message;
  const auto size = s.delta_size("nginx", v1, v2);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, made->report.delta_bytes);
  const std::string whole = test::read_file(made->path);
  auto part = s.read_delta("nginx", v1, v2, 4, 10);
  ASSERT_TRUE(part) << part.error().message;
  EXPECT_EQ(std::string(part->begin(), part->end()), whole.substr(4, 10));
}

TEST_F(StoreSourceTest, ManyVersionsAskedForKeepTheCacheBounded)
{
  const std::string tree = m_dir / "tree";
  std::vector<wire::VersionRef> all{version_of(m_v1), version_of(m_v2)};
  for (int i = 0; i < 40; ++i) {
    test::write_file(tree + "/a.conf", "round " + std::to_string(i) + "\n");
    all.push_back(version_of(snapshot_of(tree, "nginx")));
  }
  auto source = StoreSource::open(*m_store, {"nginx"});
  ASSERT_TRUE(source);
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& v : all) {
      EXPECT_TRUE((*source)->has_version("nginx", v)) << "v" << v.number;
    }
  }
}

} // namespace
