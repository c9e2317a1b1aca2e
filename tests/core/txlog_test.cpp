// The master's transaction log and epoch: what is appended is read back
// after a restart, a line cut short by a crash is ignored, and anything
// else that is not an event is refused by its line number.

#include "core/txlog.hpp"
#include "support/store_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace treecast;

namespace {

class TxnLogTest : public test::StoreTest
{
protected:
  std::string path() const { return m_store->channel_dir("nginx") + "/transactions"; }
  void SetUp() override
  {
    StoreTest::SetUp();
    std::filesystem::create_directories(m_store->channel_dir("nginx"));
  }
};

core::TxnEvent event(core::TxnEvent::Kind kind, std::uint64_t txn, std::uint64_t number)
{
  core::TxnEvent e;
  e.kind = kind;
  e.epoch = 0xfeed;
  e.txn = txn;
  e.number = number;
  e.id.bytes[0] = static_cast<std::uint8_t>(number);
  return e;
}

TEST_F(TxnLogTest, EventsAppendedAreReadBack)
{
  {
    auto log = core::TxnLog::open(*m_store, "nginx");
    ASSERT_TRUE(log) << log.error().message;
    EXPECT_TRUE(log->events().empty());
    ASSERT_TRUE(log->append(event(core::TxnEvent::Kind::begin, 1, 2)));
    ASSERT_TRUE(log->append(event(core::TxnEvent::Kind::commit, 1, 2)));
  }
  auto log = core::TxnLog::open(*m_store, "nginx");
  ASSERT_TRUE(log);
  ASSERT_EQ(log->events().size(), 2U);
  EXPECT_EQ(log->events()[1].kind, core::TxnEvent::Kind::commit);
  EXPECT_EQ(log->events()[1].epoch, 0xfeedU);
  EXPECT_EQ(log->events()[1].number, 2U);
  EXPECT_EQ(log->events()[1].id.bytes[0], 2);
  EXPECT_EQ(test::read_file(path()).substr(0, 13), "begin 65261 1");
}

TEST_F(TxnLogTest, ALineCutShortIsIgnoredAndTheNextStartsAfreshOthersAreRefused)
{
  test::write_file(path(), "begin 1 1 2 " + std::string(32, 'a') + "\ncommit 1 1 2 aaaa");
  auto log = core::TxnLog::open(*m_store, "nginx");
  ASSERT_TRUE(log) << log.error().message;
  ASSERT_EQ(log->events().size(), 1U);
  ASSERT_TRUE(log->append(event(core::TxnEvent::Kind::abort, 1, 2)));
  auto again = core::TxnLog::open(*m_store, "nginx");
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->events().size(), 2U);
  EXPECT_EQ(again->events()[1].kind, core::TxnEvent::Kind::abort);

  test::write_file(path(), "begin 1 1 2 " + std::string(32, 'a') + "\nrollback everything\n");
  auto bad = core::TxnLog::open(*m_store, "nginx");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("line 2 is not a transaction event"), std::string::npos);
}

TEST_F(TxnLogTest, TheEpochIsDrawnOnceAndKept)
{
  auto first = core::store_epoch(*m_store);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_NE(*first, 0U);
  auto second = core::store_epoch(*m_store);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first, *second);
  test::write_file(m_store->root() + "/epoch", "something else\n");
  EXPECT_FALSE(core::store_epoch(*m_store));
}

} // namespace

TEST_F(TxnLogTest, ACanaryEventKeepsItsGroup)
{
  auto log = core::TxnLog::open(*m_store, "nginx");
  ASSERT_TRUE(log);
  auto canary = event(core::TxnEvent::Kind::canary, 3, 7);
  canary.group = "eu-canary";
  ASSERT_TRUE(log->append(event(core::TxnEvent::Kind::begin, 3, 7)));
  ASSERT_TRUE(log->append(canary));
  EXPECT_NE(test::read_file(path()).find("\ncanary 65261 3 7 07"), std::string::npos)
    << test::read_file(path());
  auto again = core::TxnLog::open(*m_store, "nginx");
  ASSERT_TRUE(again) << again.error().message;
  ASSERT_EQ(again->events().size(), 2U);
  EXPECT_EQ(again->events()[1].kind, core::TxnEvent::Kind::canary);
  EXPECT_EQ(again->events()[1].group, "eu-canary");
  EXPECT_EQ(again->events()[1].number, 7U);
  // A canary line without its group is not an event.
  test::write_file(path(), test::read_file(path()) + "canary 1 4 7 " + std::string(32, '0') + "\n");
  EXPECT_FALSE(core::TxnLog::open(*m_store, "nginx"));
}
