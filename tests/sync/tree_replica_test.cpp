// A follower's Replica on a real tree: the spool, a stage kept for its
// transaction across a restart, the check and reload hooks.

#include "core/checkout.hpp"
#include "support/store_fixture.hpp"
#include "support/tree.hpp"
#include "sync/store_source.hpp"
#include "sync/tree_replica.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace treecast;
using namespace treecast::sync;

namespace {

class TreeReplicaTest : public test::StoreTest
{
protected:
  void SetUp() override
  {
    StoreTest::SetUp();
    const std::string tree = m_dir / "tree";
    test::write_file(tree + "/nginx.conf", "worker_processes 1;\n");
    m_v1 = snapshot_of(tree, "nginx");
    std::filesystem::copy(tree, m_dir / "v1", std::filesystem::copy_options::recursive);
    test::write_file(tree + "/nginx.conf", "worker_processes 4;\n");
    test::write_file(tree + "/conf.d/gzip.conf", "gzip on;\n");
    m_v2 = snapshot_of(tree, "nginx");
    std::filesystem::copy(tree, m_dir / "v2", std::filesystem::copy_options::recursive);
    m_follower = m_dir / "follower";
    ASSERT_TRUE(core::checkout(*m_store, m_v1, m_follower, core::Owners::keep));
    auto f = core::Follower::open(m_follower, "", core::Create::yes);
    ASSERT_TRUE(f);
    util::SerialExecutor serial;
    ASSERT_TRUE(f->record(m_v1, core::Owners::keep, serial));
    auto made = core::cached_delta(*m_store, m_v1, m_v2, {}, serial);
    ASSERT_TRUE(made) << made.error().message;
    m_delta = test::read_file(made->path);
  }

  std::unique_ptr<TreeReplica> open(const std::string& check = "", const std::string& exec = "")
  {
    TreeReplicaOptions o;
    o.channel = "nginx";
    o.dir = m_follower;
    o.check = check;
    o.exec = exec;
    auto r = TreeReplica::open(o);
    EXPECT_TRUE(r) << r.error().message;
    return r ? std::move(*r) : nullptr;
  }
  void spool(TreeReplica& r)
  {
    const std::vector<std::uint8_t> bytes(m_delta.begin(), m_delta.end());
    ASSERT_TRUE(r.begin_delta(version_of(m_v1), version_of(m_v2), bytes.size()));
    // In two pieces, the second first, as chunks may land.
    const std::size_t half = bytes.size() / 2;
    ASSERT_TRUE(r.write_delta(half, std::span(bytes).subspan(half)));
    ASSERT_TRUE(r.write_delta(0, std::span(bytes).first(half)));
  }
  Action action(Action::Kind kind) const
  {
    return Action{kind, {0xabc, 7}, version_of(m_v1), version_of(m_v2)};
  }

  core::Manifest m_v1;
  core::Manifest m_v2;
  std::string m_follower;
  std::string m_delta;
  util::SerialExecutor m_serial;
};

TEST_F(TreeReplicaTest, AStageWaitsAcrossARestartThenCommitsAndTheHookRuns)
{
  {
    auto r = open();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->version(), version_of(m_v1));
    spool(*r);
    EXPECT_EQ(r->run(action(Action::Kind::stage), m_serial), "");
    r->settle();
    ASSERT_TRUE(r->staged());
    EXPECT_EQ(r->staged()->txn, (wire::TxnRef{0xabc, 7}));
    EXPECT_EQ(r->staged()->version, version_of(m_v2));
    EXPECT_EQ(test::compare_trees(m_dir / "v1", m_follower), "");
  }
  auto r =
    open("", "echo \"$TREECAST_CHANNEL $TREECAST_VERSION\" > " + std::string(m_dir / "reloaded"));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->staged()) << "kept across the restart";
  EXPECT_EQ(r->run(action(Action::Kind::commit), m_serial), "");
  r->settle();
  EXPECT_FALSE(r->staged());
  EXPECT_EQ(r->version(), version_of(m_v2));
  EXPECT_EQ(test::compare_trees(m_dir / "v2", m_follower), "");
  EXPECT_EQ(test::read_file(m_dir / "reloaded"), "nginx 2\n");
}

TEST_F(TreeReplicaTest, AFailingCheckRefusesWithItsWordsAndKeepsNothing)
{
  auto r = open(
    "test -f \"$TREECAST_STAGE/conf.d/gzip.conf\" && echo 'gzip is not allowed' >&2 && exit 1");
  ASSERT_TRUE(r);
  spool(*r);
  EXPECT_EQ(r->run(action(Action::Kind::stage), m_serial), "gzip is not allowed");
  r->settle();
  EXPECT_FALSE(r->staged());
  EXPECT_EQ(test::compare_trees(m_dir / "v1", m_follower), "");
  // A catch-up passes the same check.
  spool(*r);
  EXPECT_EQ(r->run(action(Action::Kind::apply), m_serial), "gzip is not allowed");
  r->settle();
  EXPECT_EQ(r->version(), version_of(m_v1));
}

TEST_F(TreeReplicaTest, ACatchUpAppliesAtOnce)
{
  auto r = open("test -d \"$TREECAST_STAGE\"");
  ASSERT_TRUE(r);
  spool(*r);
  EXPECT_EQ(r->run(action(Action::Kind::apply), m_serial), "");
  r->settle();
  EXPECT_EQ(r->version(), version_of(m_v2));
  EXPECT_EQ(test::compare_trees(m_dir / "v2", m_follower), "");
}

TEST_F(TreeReplicaTest, ATreeOfAnotherChannelIsRefused)
{
  TreeReplicaOptions o;
  o.channel = "certs";
  o.dir = m_follower;
  auto r = TreeReplica::open(o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("holds a version of channel nginx, not certs"),
            std::string::npos);
}

} // namespace
