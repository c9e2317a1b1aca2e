// A follower's engine, driven by scripted publications, replies, action
// results and clock ticks (man/treecast-protocol.7, THE FOLLOWER'S RULES).

#include "sync/subscriber.hpp"

#include <gtest/gtest.h>

using namespace treecast;
using namespace treecast::sync;
using wire::Outcome;
using wire::VersionRef;

namespace {

constexpr std::uint32_t k_chunk = 1000;

VersionRef v(std::uint64_t n)
{
  util::Hash128 id;
  id.bytes[0] = static_cast<std::uint8_t>(n);
  id.bytes[15] = 0x55;
  return {n, id};
}

class FakeReplica final : public Replica
{
public:
  VersionRef version() const override { return m_version; }
  std::optional<Staged> staged() const override { return m_staged; }
  util::Status begin_delta(const VersionRef&, const VersionRef&, std::uint64_t total) override
  {
    m_spool.assign(total, 0);
    ++m_begun;
    return {};
  }
  util::Status write_delta(std::uint64_t offset, std::span<const std::uint8_t> data) override
  {
    if (m_fail_write) {
      return util::make_error(util::Errc::io, "No space left on device");
    }
    std::copy(data.begin(), data.end(), m_spool.begin() + static_cast<std::ptrdiff_t>(offset));
    return {};
  }

  VersionRef m_version = v(3);
  std::optional<Staged> m_staged;
  std::vector<std::uint8_t> m_spool;
  int m_begun = 0;
  bool m_fail_write = false;
};

class SubscriberTest : public ::testing::Test
{
protected:
  SubscriberTest() { (void)m_sub.start(m_now); }

  wire::Prepare prepare(std::uint64_t txn, std::uint64_t to = 5) const
  {
    wire::Prepare p;
    p.channel = "nginx";
    p.txn = {77, txn};
    p.version = v(to);
    p.prior = v(4);
    p.chain = {v(4), v(3)};
    p.delta_bytes = 2500;
    p.timeout_ms = 30000;
    return p;
  }
  FollowerOutputs chunk(std::uint64_t offset, std::uint64_t total = 2500, std::uint64_t to = 5,
                        std::uint64_t from = 3)
  {
    const std::size_t n =
      static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk, total - offset));
    return m_sub.receive(
      wire::Chunk{"nginx", v(from), v(to), offset, total,
                  std::vector<std::uint8_t>(n, static_cast<std::uint8_t>(offset))},
      m_now);
  }
  FollowerOutputs decision(std::uint64_t txn, Outcome outcome, std::uint64_t to = 5)
  {
    return m_sub.receive(wire::Decision{"nginx", {77, txn}, outcome, v(to), ""}, m_now);
  }
  static std::vector<std::uint64_t> fetched(const FollowerOutputs& out)
  {
    std::vector<std::uint64_t> offsets;
    for (const auto& m : out.send) {
      if (const auto* f = std::get_if<wire::Fetch>(&m)) {
        offsets.push_back(f->offset);
      }
    }
    return offsets;
  }
  template <typename T>
  static const T* sent(const FollowerOutputs& out)
  {
    for (const auto& m : out.send) {
      if (const auto* t = std::get_if<T>(&m)) {
        return t;
      }
    }
    return nullptr;
  }
  // Receives the whole delta of 2500 bytes (3 chunks); the stage action.
  Action receive_delta(std::uint64_t txn)
  {
    EXPECT_EQ(fetched(m_sub.receive(prepare(txn), m_now)), std::vector<std::uint64_t>{0});
    EXPECT_EQ(fetched(chunk(0)), (std::vector<std::uint64_t>{1000, 2000}));
    EXPECT_TRUE(chunk(1000).actions.empty());
    const FollowerOutputs last = chunk(2000);
    EXPECT_EQ(last.actions.size(), 1U);
    return last.actions.empty() ? Action{} : last.actions[0];
  }

  FakeReplica m_replica;
  Subscriber m_sub{m_replica, {"web-1", "nginx", 2000, 10000, 2, k_chunk}};
  Millis m_now = 1000;
};

TEST_F(SubscriberTest, ItFetchesTheDeltaWithinItsWindowStagesVotesThenCommits)
{
  const Action stage = receive_delta(1);
  EXPECT_EQ(stage.kind, Action::Kind::stage);
  EXPECT_EQ(stage.from, v(3));
  EXPECT_EQ(stage.to, v(5));
  EXPECT_EQ(m_replica.m_begun, 1);
  EXPECT_EQ(m_replica.m_spool[2499], static_cast<std::uint8_t>(2000));
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::staging);

  const FollowerOutputs voted = m_sub.done(stage, "", m_now);
  ASSERT_NE(sent<wire::Vote>(voted), nullptr);
  EXPECT_TRUE(sent<wire::Vote>(voted)->yes);
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::voted);

  const FollowerOutputs commit = decision(1, Outcome::commit);
  ASSERT_EQ(commit.actions.size(), 1U);
  EXPECT_EQ(commit.actions[0].kind, Action::Kind::commit);
  m_replica.m_version = v(5);
  const FollowerOutputs acked = m_sub.done(commit.actions[0], "", m_now);
  const auto* ack = sent<wire::Ack>(acked);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->result, wire::AckResult::committed);
  EXPECT_EQ(ack->version, v(5));
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::idle);
  // The same decision again, from a heartbeat: already done.
  EXPECT_TRUE(decision(1, Outcome::commit).actions.empty());
}

TEST_F(SubscriberTest, AnInlineDeltaFromThePriorVersionNeedsNoRequest)
{
  m_replica.m_version = v(4);
  wire::Prepare p = prepare(1);
  p.inline_delta = {1, 2, 3};
  const FollowerOutputs out = m_sub.receive(p, m_now);
  EXPECT_TRUE(fetched(out).empty());
  ASSERT_EQ(out.actions.size(), 1U);
  EXPECT_EQ(m_replica.m_spool, (std::vector<std::uint8_t>{1, 2, 3}));
}

TEST_F(SubscriberTest, ARefusedStageVotesNoWithTheReasonAndAcksTheAbort)
{
  const Action stage = receive_delta(1);
  const FollowerOutputs out = m_sub.done(stage, "nginx -t: unknown directive", m_now);
  const auto* vote = sent<wire::Vote>(out);
  ASSERT_NE(vote, nullptr);
  EXPECT_FALSE(vote->yes);
  EXPECT_EQ(vote->reason, "nginx -t: unknown directive");
  const FollowerOutputs aborted = decision(1, Outcome::abort);
  ASSERT_NE(sent<wire::Ack>(aborted), nullptr);
  EXPECT_EQ(sent<wire::Ack>(aborted)->result, wire::AckResult::aborted);
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::idle);
}

TEST_F(SubscriberTest, AYesVoterNeverAbortsOnItsOwnAndLearnsAMissedDecision)
{
  (void)m_sub.done(receive_delta(1), "", m_now);
  for (int i = 0; i < 100; ++i) {
    m_now += 1000;
    const FollowerOutputs out = m_sub.tick(m_now);
    EXPECT_TRUE(out.actions.empty());
    for (const auto& m : out.send) {
      // It only asks, and says its yes again.
      const auto* vote = std::get_if<wire::Vote>(&m);
      EXPECT_TRUE(std::holds_alternative<wire::Hello>(m) || (vote != nullptr && vote->yes));
    }
  }
  // The DECISION was lost; the heartbeat repeats it.
  const FollowerOutputs beat =
    m_sub.receive(wire::Heartbeat{"nginx", 77, v(5), {}, {{77, 1}, Outcome::commit, v(5)}}, m_now);
  ASSERT_EQ(beat.actions.size(), 1U);
  EXPECT_EQ(beat.actions[0].kind, Action::Kind::commit);
}

TEST_F(SubscriberTest, AfterARestartAKeptStageAsksForItsDecision)
{
  m_replica.m_staged = Staged{{77, 4}, v(5)};
  Subscriber restarted(m_replica, {"web-1", "nginx", 2000, 10000, 2, k_chunk});
  const FollowerOutputs hi = restarted.start(m_now);
  const auto* hello = sent<wire::Hello>(hi);
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->state, wire::FollowerState::staged);
  EXPECT_EQ(hello->txn, (wire::TxnRef{77, 4}));
  wire::Welcome w;
  w.channel = "nginx";
  w.epoch = 77;
  w.committed = v(5);
  w.last = {{77, 4}, Outcome::abort, v(5)};
  const FollowerOutputs out = restarted.receive(w, m_now);
  ASSERT_EQ(out.actions.size(), 1U);
  EXPECT_EQ(out.actions[0].kind, Action::Kind::abort);
}

TEST_F(SubscriberTest, AStageWhoseTransactionWasOvertakenFollowsTheCommittedVersion)
{
  m_replica.m_staged = Staged{{77, 4}, v(5)};
  Subscriber restarted(m_replica, {"web-1", "nginx", 2000, 10000, 2, k_chunk});
  (void)restarted.start(m_now);
  // Transaction 6 was decided since; the master holds v5: commit the stage.
  const FollowerOutputs out = restarted.receive(
    wire::Heartbeat{"nginx", 77, v(5), {}, {{77, 6}, Outcome::abort, v(6)}}, m_now);
  ASSERT_EQ(out.actions.size(), 1U);
  EXPECT_EQ(out.actions[0].kind, Action::Kind::commit);
}

TEST_F(SubscriberTest, AMissedPrepareIsLearnedFromWelcome)
{
  const FollowerOutputs beat =
    m_sub.receive(wire::Heartbeat{"nginx", 77, v(4), {77, 2}, {}}, m_now);
  ASSERT_NE(sent<wire::Hello>(beat), nullptr);
  wire::Welcome w;
  w.channel = "nginx";
  w.epoch = 77;
  w.committed = v(4);
  w.has_prepare = true;
  w.prepare = prepare(2);
  EXPECT_EQ(fetched(m_sub.receive(w, m_now)), std::vector<std::uint64_t>{0});
}

TEST_F(SubscriberTest, ABehindFollowerCatchesUpWithOneDelta)
{
  const FollowerOutputs beat =
    m_sub.receive(wire::Heartbeat{"nginx", 77, v(9), {}, {{77, 8}, Outcome::commit, v(9)}}, m_now);
  const auto* f = sent<wire::Fetch>(beat);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->from, v(3));
  EXPECT_EQ(f->to, v(9));
  const FollowerOutputs out = chunk(0, 500, 9);
  ASSERT_EQ(out.actions.size(), 1U);
  EXPECT_EQ(out.actions[0].kind, Action::Kind::apply);
  m_replica.m_version = v(9);
  EXPECT_TRUE(m_sub.done(out.actions[0], "", m_now).send.empty());
  EXPECT_TRUE(
    fetched(m_sub.receive(wire::Heartbeat{"nginx", 77, v(9), {}, {{77, 8}, Outcome::commit, v(9)}},
                          m_now))
      .empty());
}

TEST_F(SubscriberTest, WaitAndSilenceAskAgainFromWhatIsOnDisk)
{
  (void)m_sub.receive(prepare(1), m_now);
  (void)m_sub.receive(wire::Wait{300}, m_now);
  EXPECT_TRUE(fetched(m_sub.tick(m_now + 299)).empty());
  EXPECT_EQ(fetched(m_sub.tick(m_now + 300)), std::vector<std::uint64_t>{0});
  m_now += 300;
  (void)chunk(0);
  m_now += 9999;
  EXPECT_TRUE(fetched(m_sub.tick(m_now)).empty());
  m_now += 1;
  EXPECT_EQ(fetched(m_sub.tick(m_now)), (std::vector<std::uint64_t>{1000, 2000}));
}

TEST_F(SubscriberTest, DuplicatesAndStrangersChangeNothing)
{
  (void)m_sub.receive(prepare(1), m_now);
  EXPECT_TRUE(m_sub.receive(prepare(1), m_now).send.empty()) << "a duplicate PREPARE";
  EXPECT_TRUE(chunk(1000).send.empty()) << "a chunk never asked for";
  EXPECT_TRUE(
    m_sub.receive(wire::Chunk{"nginx", v(1), v(5), 0, 10, std::vector<std::uint8_t>(10)}, m_now)
      .send.empty())
    << "another delta";
  wire::Prepare other = prepare(1);
  other.channel = "other";
  EXPECT_TRUE(m_sub.receive(other, m_now).send.empty()) << "another channel";
}

TEST_F(SubscriberTest, OnePhaseCommitsAsSoonAsTheStageIsVerified)
{
  wire::Prepare p = prepare(1);
  p.one_phase = true;
  (void)m_sub.receive(p, m_now);
  (void)chunk(0);
  (void)chunk(1000);
  const FollowerOutputs staged = chunk(2000);
  const FollowerOutputs out = m_sub.done(staged.actions.at(0), "", m_now);
  EXPECT_EQ(sent<wire::Vote>(out), nullptr);
  ASSERT_EQ(out.actions.size(), 1U);
  EXPECT_EQ(out.actions[0].kind, Action::Kind::commit);
}

TEST_F(SubscriberTest, ADecisionHeardWhileFetchingIsKept)
{
  (void)m_sub.receive(prepare(1), m_now);
  EXPECT_TRUE(decision(1, Outcome::commit).send.empty());
  (void)chunk(0);
  (void)chunk(1000);
  const FollowerOutputs out = m_sub.done(chunk(2000).actions.at(0), "", m_now);
  EXPECT_EQ(sent<wire::Vote>(out), nullptr) << "decided already: no vote";
  EXPECT_EQ(out.actions.at(0).kind, Action::Kind::commit);

  // An abort while fetching drops the work.
  (void)m_sub.done(out.actions[0], "", m_now);
  m_replica.m_version = v(5);
  (void)m_sub.receive(prepare(2, 6), m_now);
  const FollowerOutputs dropped = decision(2, Outcome::abort, 6);
  ASSERT_NE(sent<wire::Ack>(dropped), nullptr);
  EXPECT_EQ(sent<wire::Ack>(dropped)->result, wire::AckResult::aborted);
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::idle);
}

TEST_F(SubscriberTest, AFetchThatCannotCompleteRefusesTheTransaction)
{
  (void)m_sub.receive(prepare(1), m_now);
  const FollowerOutputs out = m_sub.receive(
    wire::Error{wire::ErrorCode::unknown_version, "channel nginx has no version v5"}, m_now);
  const auto* vote = sent<wire::Vote>(out);
  ASSERT_NE(vote, nullptr);
  EXPECT_FALSE(vote->yes);
  EXPECT_EQ(vote->reason, "cannot fetch the delta v3 -> v5: channel nginx has no version v5");

  (void)decision(1, Outcome::abort);
  m_replica.m_fail_write = true;
  (void)m_sub.receive(prepare(2), m_now);
  const FollowerOutputs full = chunk(0);
  ASSERT_NE(sent<wire::Vote>(full), nullptr);
  EXPECT_EQ(sent<wire::Vote>(full)->reason, "No space left on device");
}

TEST_F(SubscriberTest, ARefusalWhoseDecisionWentByUnheardDoesNotHoldItForever)
{
  (void)m_sub.done(receive_delta(1), "check failed", m_now);
  // Cut off: the abort of 1 is never heard; transaction 2 commits v6 since.
  const FollowerOutputs beat =
    m_sub.receive(wire::Heartbeat{"nginx", 77, v(6), {}, {{77, 2}, Outcome::commit, v(6)}}, m_now);
  const auto* f = sent<wire::Fetch>(beat);
  ASSERT_NE(f, nullptr) << "it catches up instead of waiting";
  EXPECT_EQ(f->to, v(6));
}

TEST_F(SubscriberTest, AStageOfAnotherEpochFollowsTheCommittedVersion)
{
  m_replica.m_staged = Staged{{77, 20}, v(5)};
  Subscriber restarted(m_replica, {"web-1", "nginx", 2000, 10000, 2, k_chunk});
  (void)restarted.start(m_now);
  const FollowerOutputs out = restarted.receive(
    wire::Heartbeat{"nginx", 78, v(4), {}, {{78, 1}, Outcome::commit, v(4)}}, m_now);
  ASSERT_EQ(out.actions.size(), 1U);
  EXPECT_EQ(out.actions[0].kind, Action::Kind::abort);
}

TEST_F(SubscriberTest, AnErrorForNoFetchInFlightStopsNothing)
{
  (void)m_sub.receive(prepare(1), m_now);
  (void)m_sub.receive(wire::Wait{100}, m_now); // nothing in flight now
  const FollowerOutputs out =
    m_sub.receive(wire::Error{wire::ErrorCode::internal, "a late answer to something else"}, m_now);
  EXPECT_EQ(sent<wire::Vote>(out), nullptr);
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::fetching);
  EXPECT_EQ(sent<wire::Vote>(m_sub.receive(
              wire::Error{wire::ErrorCode::malformed, "VOTE: reason too long"}, m_now)),
            nullptr);
}

} // namespace

TEST_F(SubscriberTest, AnotherGroupsCanaryIsNotItsToTakeNorToFollow)
{
  // m_sub is in no group: a canary PREPARE for "canary" is not its own.
  wire::Prepare p = prepare(1);
  p.group = "canary";
  const FollowerOutputs ignored = m_sub.receive(p, m_now);
  EXPECT_TRUE(ignored.send.empty());
  EXPECT_TRUE(ignored.actions.empty());
  EXPECT_EQ(m_sub.phase(), Subscriber::Phase::idle);
  // Nor is the canary's version: it stays with the committed one it holds.
  wire::Heartbeat beat{"nginx", 77, v(3), {}, {{77, 1}, Outcome::commit, v(5)}};
  beat.canary = {"canary", v(5), {}};
  EXPECT_TRUE(fetched(m_sub.receive(beat, m_now)).empty());
  EXPECT_EQ(m_sub.target(), v(3));
}

TEST_F(SubscriberTest, ACanaryFollowerHoldsItsGroupsVersion)
{
  Subscriber canary{m_replica, {"web-1", "nginx", 2000, 10000, 2, k_chunk, "canary"}};
  wire::Heartbeat beat{"nginx", 77, v(3), {}, {{77, 1}, Outcome::commit, v(5)}};
  beat.canary = {"canary", v(5), {}};
  const FollowerOutputs out = canary.receive(beat, m_now);
  const auto* f = sent<wire::Fetch>(out);
  ASSERT_NE(f, nullptr) << "it catches up to its group's version";
  EXPECT_EQ(f->from, v(3));
  EXPECT_EQ(f->to, v(5));
  EXPECT_EQ(canary.target(), v(5));
  EXPECT_EQ(canary.master_committed(), v(3));
}
