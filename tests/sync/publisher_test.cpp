// The master's engine, driven by scripted requests and clock ticks: every
// rule of a transaction without a socket (man/treecast-protocol.7).

#include "sync/publisher.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>

using namespace treecast;
using namespace treecast::sync;
using wire::Outcome;
using wire::VersionRef;

namespace {

VersionRef v(std::uint64_t n)
{
  util::Hash128 id;
  id.bytes[0] = static_cast<std::uint8_t>(n);
  id.bytes[15] = 0xAA;
  return {n, id};
}

// A store in memory: committed versions, a transaction log, deltas.
class FakeSource final : public Source
{
public:
  std::uint64_t epoch() const override { return 77; }
  std::vector<VersionRef> committed(const std::string& channel, std::size_t n) const override
  {
    std::vector<VersionRef> out;
    const auto it = m_committed.find(channel);
    if (it != m_committed.end()) {
      for (auto r = it->second.rbegin(); r != it->second.rend() && out.size() < n; ++r) {
        out.push_back(*r);
      }
    }
    return out;
  }
  bool has_version(const std::string&, const VersionRef& version) const override
  {
    return version.number == 0 || version.number <= m_latest;
  }
  std::optional<LoggedTxn> last_txn(const std::string&) const override
  {
    if (m_log.empty()) {
      return std::nullopt;
    }
    return m_log.back();
  }
  util::Status log_begin(const std::string&, const wire::TxnRef& txn,
                         const VersionRef& version) override
  {
    m_log.push_back({txn, version, Outcome::none});
    return {};
  }
  util::Status log_decision(const std::string& channel, const wire::TxnRef& txn, Outcome outcome,
                            const VersionRef& version) override
  {
    if (m_fail_log) {
      m_fail_log = false;
      return util::make_error(util::Errc::io, "disk full");
    }
    m_log.push_back({txn, version, outcome});
    if (outcome == Outcome::commit) {
      m_committed[channel].push_back(version);
    }
    return {};
  }
  util::Status log_canary(const std::string&, const wire::TxnRef& txn, const VersionRef& version,
                          const std::string& group) override
  {
    m_log.push_back({txn, version, Outcome::commit});
    m_canary = {group, version, {}};
    return {};
  }
  wire::Canary canary(const std::string&) const override { return m_canary; }
  std::optional<std::uint64_t> delta_size(const std::string&, const VersionRef& from,
                                          const VersionRef& to) const override
  {
    const auto it = m_deltas.find({from.number, to.number});
    return it == m_deltas.end() ? std::nullopt : std::optional<std::uint64_t>(it->second.size());
  }
  util::Result<std::vector<std::uint8_t>> read_delta(const std::string&, const VersionRef& from,
                                                     const VersionRef& to, std::uint64_t offset,
                                                     std::size_t length) const override
  {
    const auto& d = m_deltas.at({from.number, to.number});
    return std::vector<std::uint8_t>(d.begin() + static_cast<std::ptrdiff_t>(offset),
                                     d.begin() + static_cast<std::ptrdiff_t>(offset + length));
  }

  std::uint64_t m_latest = 1;
  std::map<std::string, std::vector<VersionRef>> m_committed;
  wire::Canary m_canary;
  std::vector<LoggedTxn> m_log;
  std::map<std::pair<std::uint64_t, std::uint64_t>, std::vector<std::uint8_t>> m_deltas;
  bool m_fail_log = false;
};

class PublisherTest : public ::testing::Test
{
protected:
  void SetUp() override
  {
    m_source.m_committed["nginx"] = {v(1)};
    m_source.m_latest = 2;
    m_source.m_deltas[{1, 2}] = std::vector<std::uint8_t>(1000, 9);
    (void)m_pub.start(m_now);
  }

  Outputs hello(const std::string& id, std::uint64_t at = 1,
                wire::FollowerState state = wire::FollowerState::idle)
  {
    return m_pub.request("peer-" + id,
                         wire::Hello{id, "nginx", at ? v(at) : VersionRef{}, state, {}, ""}, m_now);
  }
  Outputs vote(const std::string& id, bool yes, const std::string& reason = "")
  {
    return m_pub.request("peer-" + id, wire::Vote{id, "nginx", m_txn, yes, reason}, m_now);
  }
  Outputs ack(const std::string& id, wire::AckResult result = wire::AckResult::committed)
  {
    return m_pub.request(
      "peer-" + id,
      wire::Ack{id, "nginx", m_txn, result, result == wire::AckResult::committed ? v(2) : v(1), ""},
      m_now);
  }
  Outputs push(PushRequest p = {})
  {
    p.channel = "nginx";
    p.version = v(2);
    auto out = m_pub.begin(p, m_now);
    EXPECT_TRUE(out) << out.error().message;
    if (!out) {
      return {};
    }
    for (const Publish& pub : out->publish) {
      if (const auto* prepare = std::get_if<wire::Prepare>(&pub.message)) {
        m_txn = prepare->txn;
      }
    }
    return *out;
  }

  static const wire::Decision* decision(Outputs&&) = delete; // would dangle
  static bool decides(const Outputs& out) { return decision(out) != nullptr; }
  static const wire::Decision* decision(const Outputs& out)
  {
    for (const Publish& p : out.publish) {
      if (const auto* d = std::get_if<wire::Decision>(&p.message)) {
        return d;
      }
    }
    return nullptr;
  }

  FakeSource m_source;
  Publisher m_pub{m_source, {"nginx"}};
  Millis m_now = 1000;
  wire::TxnRef m_txn;
};

TEST_F(PublisherTest, EveryVoterSaysYesTheVersionCommitsAndTheAcksEndIt)
{
  for (const char* id : {"web-1", "web-2", "web-3"}) {
    (void)hello(id);
  }
  const Outputs prepared = push();
  ASSERT_EQ(prepared.publish.size(), 1U);
  const auto& p = std::get<wire::Prepare>(prepared.publish[0].message);
  EXPECT_EQ(prepared.publish[0].channel, "nginx");
  EXPECT_EQ(p.txn, (wire::TxnRef{77, 1}));
  EXPECT_EQ(p.version, v(2));
  EXPECT_EQ(p.prior, v(1));
  EXPECT_EQ(p.chain, std::vector<VersionRef>{v(1)});
  EXPECT_EQ(p.delta_bytes, 1000U);
  EXPECT_EQ(p.inline_delta.size(), 1000U) << "a small delta rides in the PREPARE";
  ASSERT_EQ(m_source.m_log.size(), 1U) << "logged before it is published";

  EXPECT_FALSE(decides(vote("web-1", true)));
  EXPECT_FALSE(decides(vote("web-2", true)));
  const Outputs decided = vote("web-3", true);
  const wire::Decision* d = decision(decided);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->outcome, Outcome::commit);
  EXPECT_EQ(m_source.m_log.back().outcome, Outcome::commit);
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(2));
  // Sent to each voter too, besides the reply to the vote.
  std::size_t direct = 0;
  for (const Reply& r : decided.replies) {
    direct += std::holds_alternative<wire::Decision>(r.message) ? 1 : 0;
  }
  EXPECT_EQ(direct, 3U);
  EXPECT_TRUE(decided.ended.empty()) << "the acks are still to come";

  (void)ack("web-1");
  (void)ack("web-2");
  const Outputs over = ack("web-3");
  ASSERT_EQ(over.ended.size(), 1U);
  const TxnReport& r = over.ended[0];
  EXPECT_EQ(r.outcome, Outcome::commit);
  ASSERT_EQ(r.followers.size(), 3U);
  for (const FollowerResult& f : r.followers) {
    EXPECT_EQ(f.vote, Vote::yes);
    EXPECT_EQ(f.from, v(1));
    EXPECT_EQ(f.result, wire::AckResult::committed);
  }
  EXPECT_FALSE(m_pub.in_flight("nginx"));
}

TEST_F(PublisherTest, ARefusalAbortsAtOnceAndNamesTheFollowerAndItsReason)
{
  (void)hello("web-1");
  (void)hello("web-2");
  (void)push();
  (void)vote("web-1", true);
  const Outputs out = vote("web-2", false, "nginx -t: unknown directive");
  const wire::Decision* d = decision(out);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->outcome, Outcome::abort);
  EXPECT_EQ(d->reason, "web-2 refused: nginx -t: unknown directive");
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(1));
  EXPECT_EQ(m_pub.followers("nginx").at("web-2").last_error, "nginx -t: unknown directive");
}

TEST_F(PublisherTest, SilentVotersTimeOutTheTransactionNamingThem)
{
  (void)hello("web-1");
  (void)hello("web-2");
  PushRequest p;
  p.timeout = 5000;
  (void)push(p);
  (void)vote("web-1", true);
  m_now += 4999;
  EXPECT_FALSE(decides(m_pub.tick(m_now)));
  m_now += 1;
  const Outputs out = m_pub.tick(m_now);
  const wire::Decision* d = decision(out);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->outcome, Outcome::abort);
  EXPECT_EQ(d->reason, "timed out waiting for web-2");
  // Then the acks get as long again; the report says who did not ack.
  (void)ack("web-1", wire::AckResult::aborted);
  m_now += 5000;
  const Outputs over = m_pub.tick(m_now);
  ASSERT_EQ(over.ended.size(), 1U);
  EXPECT_TRUE(over.ended[0].timed_out);
  EXPECT_EQ(over.ended[0].followers[0].result, wire::AckResult::aborted);
  EXPECT_FALSE(over.ended[0].followers[1].result.has_value());
}

TEST_F(PublisherTest, AQuorumCommitsWithoutWaitingForTheSlowest)
{
  for (const char* id : {"web-1", "web-2", "web-3", "web-4"}) {
    (void)hello(id);
  }
  PushRequest p;
  p.quorum = {Quorum::Kind::percent, 50};
  (void)push(p);
  (void)vote("web-1", false, "busy");
  EXPECT_FALSE(decides(vote("web-2", true)));
  const Outputs out = vote("web-3", true);
  const wire::Decision* d = decision(out);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->outcome, Outcome::commit);
  EXPECT_EQ((Quorum{Quorum::Kind::count, 9}).needed(4), 4U);
  EXPECT_EQ((Quorum{Quorum::Kind::percent, 1}).needed(4), 1U);
  EXPECT_EQ((Quorum{Quorum::Kind::all, 0}).needed(0), 0U);
}

TEST_F(PublisherTest, FewerVotersThanMinFollowersRefuseThePush)
{
  (void)hello("web-1");
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  p.min_followers = 2;
  auto out = m_pub.begin(p, m_now);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "1 followers of nginx alive, 2 needed (--min-followers)");
  EXPECT_TRUE(m_source.m_log.empty());
  // Followers not heard from lately are not voters.
  m_now += 10000;
  p.min_followers = 0;
  auto alone = m_pub.begin(p, m_now);
  ASSERT_TRUE(alone);
  ASSERT_EQ(alone->ended.size(), 1U) << "no voters: committed at once";
  EXPECT_EQ(alone->ended[0].outcome, Outcome::commit);
}

TEST_F(PublisherTest, ALateJoinerLearnsThePrepareButDoesNotVote)
{
  (void)hello("web-1");
  (void)push();
  const Outputs welcome = hello("web-9");
  ASSERT_EQ(welcome.replies.size(), 1U);
  const auto& w = std::get<wire::Welcome>(welcome.replies[0].message);
  EXPECT_TRUE(w.has_prepare);
  EXPECT_EQ(w.prepare.txn, m_txn);
  EXPECT_EQ(w.committed, v(1));
  EXPECT_FALSE(decides(vote("web-9", false, "late"))) << "not a voter";
  EXPECT_TRUE(decides(vote("web-1", true)));
}

TEST_F(PublisherTest, DuplicateAndStaleMessagesChangeNothing)
{
  (void)hello("web-1");
  (void)hello("web-2");
  (void)push();
  (void)vote("web-1", true);
  EXPECT_FALSE(decides(vote("web-1", true))) << "one voter, counted once";
  const wire::TxnRef current = m_txn;
  m_txn.number += 5;
  const Outputs stale = vote("web-2", false);
  ASSERT_EQ(stale.replies.size(), 1U);
  EXPECT_EQ(std::get<wire::Error>(stale.replies[0].message).code, wire::ErrorCode::stale);
  m_txn = current;
  EXPECT_TRUE(decides(vote("web-2", true)));
  // A second push while one is in flight is refused.
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  auto racing = m_pub.begin(p, m_now);
  ASSERT_FALSE(racing);
  EXPECT_EQ(racing.error().code, util::Errc::conflict);
}

TEST_F(PublisherTest, AHelloSaysAgainWhatALostVoteOrAckSaid)
{
  (void)hello("web-1");
  (void)hello("web-2");
  (void)push();
  (void)vote("web-1", true);
  // web-2's VOTE was lost; its HELLO says it is staged for the transaction.
  wire::Hello staged{"web-2", "nginx", v(1), wire::FollowerState::staged, m_txn, ""};
  const Outputs out = m_pub.request("peer-web-2", staged, m_now);
  ASSERT_TRUE(decides(out));
  EXPECT_EQ(decision(out)->outcome, Outcome::commit);
  // Their ACKs are lost too; their HELLOs say they are done.
  (void)hello("web-1", 2);
  const Outputs over = hello("web-2", 1);
  ASSERT_EQ(over.ended.size(), 1U);
  EXPECT_EQ(over.ended[0].followers[0].result, wire::AckResult::committed);
  EXPECT_EQ(over.ended[0].followers[1].result, wire::AckResult::failed);
}

TEST_F(PublisherTest, FetchAsksForAMissingDeltaOnceThenServesItInChunks)
{
  m_source.m_latest = 3;
  const wire::Fetch f{"nginx", v(1), v(3), 0, 600};
  const Outputs first = m_pub.request("peer-a", f, m_now);
  ASSERT_EQ(first.make.size(), 1U);
  EXPECT_EQ(first.make[0].to, v(3));
  EXPECT_TRUE(std::holds_alternative<wire::Wait>(first.replies[0].message));
  EXPECT_TRUE(m_pub.request("peer-b", f, m_now).make.empty()) << "asked for once";

  m_source.m_deltas[{1, 3}] = std::vector<std::uint8_t>(1000, 3);
  (void)m_pub.delta_made(first.make[0], "", m_now);
  const auto chunk = std::get<wire::Chunk>(m_pub.request("peer-a", f, m_now).replies[0].message);
  EXPECT_EQ(chunk.total, 1000U);
  EXPECT_EQ(chunk.data.size(), 600U);
  const auto rest = std::get<wire::Chunk>(
    m_pub.request("peer-a", wire::Fetch{"nginx", v(1), v(3), 600, 600}, m_now).replies[0].message);
  EXPECT_EQ(rest.offset, 600U);
  EXPECT_EQ(rest.data.size(), 400U);

  const auto beyond =
    m_pub.request("peer-a", wire::Fetch{"nginx", v(1), v(3), 1001, 10}, m_now).replies[0];
  EXPECT_EQ(std::get<wire::Error>(beyond.message).code, wire::ErrorCode::malformed);
  const auto unknown =
    m_pub.request("peer-a", wire::Fetch{"nginx", v(1), v(9), 0, 10}, m_now).replies[0];
  EXPECT_EQ(std::get<wire::Error>(unknown.message).code, wire::ErrorCode::unknown_version);
  const auto elsewhere =
    m_pub.request("peer-a", wire::Fetch{"other", v(1), v(2), 0, 10}, m_now).replies[0];
  EXPECT_EQ(std::get<wire::Error>(elsewhere.message).code, wire::ErrorCode::unknown_channel);
}

TEST_F(PublisherTest, HeartbeatsRepeatTheCommittedVersionAndTheLastDecision)
{
  (void)hello("web-1");
  (void)push();
  (void)vote("web-1", false, "no");
  const Outputs beat = m_pub.tick(m_now);
  ASSERT_EQ(beat.publish.size(), 1U);
  const auto& h = std::get<wire::Heartbeat>(beat.publish[0].message);
  EXPECT_EQ(h.committed, v(1));
  EXPECT_EQ(h.last.txn, m_txn);
  EXPECT_EQ(h.last.outcome, Outcome::abort);
  EXPECT_EQ(h.pending, wire::TxnRef{}) << "decided: nothing pending";
  EXPECT_TRUE(m_pub.tick(m_now + 999).publish.empty());
  EXPECT_EQ(m_pub.tick(m_now + 1000).publish.size(), 1U);
}

TEST_F(PublisherTest, ARestartedMasterAbortsTheTransactionItNeverDecided)
{
  m_source.m_log.push_back({{77, 4}, v(2), Outcome::none});
  Publisher restarted(m_source, {"nginx"});
  const Outputs out = restarted.start(m_now);
  const wire::Decision* d = decision(out);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->txn, (wire::TxnRef{77, 4}));
  EXPECT_EQ(d->outcome, Outcome::abort);
  EXPECT_EQ(m_source.m_log.back().outcome, Outcome::abort);
  // The next transaction takes the next number.
  (void)restarted.request(
    "peer-web-1", wire::Hello{"web-1", "nginx", v(1), wire::FollowerState::idle, {}, ""}, m_now);
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  auto next = restarted.begin(p, m_now);
  ASSERT_TRUE(next);
  EXPECT_EQ(std::get<wire::Prepare>(next->publish[0].message).txn, (wire::TxnRef{77, 5}));
}

TEST_F(PublisherTest, OnePhaseCommitsAtOnceAndTheAcksSayWhoApplied)
{
  (void)hello("web-1");
  (void)hello("web-2");
  PushRequest p;
  p.one_phase = true;
  const Outputs out = push(p);
  EXPECT_TRUE(std::get<wire::Prepare>(out.publish[0].message).one_phase);
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(2));
  (void)ack("web-1");
  const Outputs over = ack("web-2", wire::AckResult::failed);
  ASSERT_EQ(over.ended.size(), 1U);
  EXPECT_EQ(over.ended[0].followers[1].result, wire::AckResult::failed);
}

TEST_F(PublisherTest, AnOperatorAbortWithdrawsThePendingTransaction)
{
  (void)hello("web-1");
  (void)push();
  auto out = m_pub.abort("nginx", "", m_now);
  ASSERT_TRUE(out);
  EXPECT_EQ(decision(*out)->reason, "aborted by the operator");
  EXPECT_FALSE(m_pub.abort("nginx", "", m_now)) << "decided already";
  (void)ack("web-1", wire::AckResult::aborted);
  EXPECT_FALSE(m_pub.abort("nginx", "", m_now)) << "nothing in flight";
}

TEST_F(PublisherTest, ACommitThatCannotBeLoggedIsAnAbort)
{
  (void)hello("web-1");
  (void)push();
  m_source.m_fail_log = true;
  const Outputs out = vote("web-1", true);
  const wire::Decision* d = decision(out);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->outcome, Outcome::abort);
  EXPECT_EQ(d->reason, "the master could not log its decision: disk full");
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(1));
}

TEST_F(PublisherTest, StatusListsEveryFollowerAsJson)
{
  (void)hello("web-1");
  m_now += 6000;
  (void)hello("web-2");
  const Outputs out = m_pub.request("script", wire::Status{""}, m_now);
  const auto json = nlohmann::json::parse(std::get<wire::StatusReply>(out.replies[0].message).json);
  const auto& channel = json["channels"][0];
  EXPECT_EQ(channel["channel"], "nginx");
  EXPECT_EQ(channel["committed"], 1);
  ASSERT_EQ(channel["followers"].size(), 2U);
  EXPECT_EQ(channel["followers"][0]["alive"], false);
  EXPECT_EQ(channel["followers"][1]["alive"], true);
  const auto odd = m_pub.request("script", wire::Ok{}, m_now).replies[0];
  EXPECT_EQ(std::get<wire::Error>(odd.message).message, "OK is not a request");
}

TEST_F(PublisherTest, StatusSurvivesAnyBytesAndStaysWithinAMessage)
{
  (void)hello("web-1");
  (void)push();
  (void)vote("web-1", false, std::string("\xff\xfe not UTF-8"));
  for (int i = 0; i < 400; ++i) {
    const std::string id = "host-" + std::to_string(i);
    (void)m_pub.request("peer", wire::Vote{id, "nginx", {1, 1}, false, std::string(4000, 'x')},
                        m_now);
  }
  const std::string text = m_pub.status_json("", m_now);
  EXPECT_LE(text.size(), wire::k_max_status);
  const auto json = nlohmann::json::parse(text);
  EXPECT_EQ(json["truncated"], false) << "long reasons are cut, not the list";
  EXPECT_EQ(json["channels"][0]["followers_total"], 401);
  for (int i = 0; i < 8000; ++i) {
    (void)hello("many-" + std::to_string(i));
  }
  const std::string more = m_pub.status_json("", m_now);
  EXPECT_LE(more.size(), wire::k_max_status);
  EXPECT_EQ(nlohmann::json::parse(more)["truncated"], true);
}

TEST_F(PublisherTest, ADeltaThatCannotBeMadeIsAnErrorNotAnEndlessWait)
{
  m_source.m_latest = 3;
  const wire::Fetch f{"nginx", v(1), v(3), 0, 600};
  const Outputs first = m_pub.request("peer-a", f, m_now);
  ASSERT_EQ(first.make.size(), 1U);
  (void)m_pub.delta_made(first.make[0], "No space left on device", m_now);
  const auto reply = m_pub.request("peer-a", f, m_now).replies.at(0);
  const auto& e = std::get<wire::Error>(reply.message);
  EXPECT_EQ(e.code, wire::ErrorCode::internal);
  EXPECT_EQ(e.message, "cannot make the delta v1 -> v3: No space left on device");
}

TEST_F(PublisherTest, AVoterCannotChangeItsVote)
{
  (void)hello("web-1");
  (void)hello("web-2");
  (void)push();
  (void)vote("web-1", true);
  EXPECT_FALSE(decides(vote("web-1", false, "changed my mind")));
  const Outputs out = vote("web-2", true);
  ASSERT_TRUE(decides(out));
  EXPECT_EQ(decision(out)->outcome, Outcome::commit);
}

TEST(PublisherMemory, AFloodOfFollowerIdsKeepsTheNewestWithinTheCap)
{
  FakeSource source;
  source.m_committed["nginx"] = {v(1)};
  PublisherOptions options;
  options.max_followers = 3;
  Publisher pub(source, {"nginx"}, options);
  (void)pub.start(0);
  for (int i = 0; i < 1000; ++i) {
    (void)pub.request(
      "p",
      wire::Hello{"host-" + std::to_string(i), "nginx", v(1), wire::FollowerState::idle, {}, ""},
      i);
  }
  const auto& followers = pub.followers("nginx");
  ASSERT_EQ(followers.size(), 3U);
  EXPECT_TRUE(followers.contains("host-999"));
  EXPECT_TRUE(followers.contains("host-997"));
}

} // namespace

TEST_F(PublisherTest, ACanaryTransactionIsItsGroupsAloneAndLeavesTheCommittedVersion)
{
  (void)m_pub.request("peer-web-1",
                      wire::Hello{"web-1", "nginx", v(1), wire::FollowerState::idle, {}, "canary"},
                      m_now);
  (void)hello("web-2");
  PushRequest p;
  p.group = "canary";
  const Outputs prepared = push(p);
  ASSERT_EQ(prepared.publish.size(), 1U);
  EXPECT_EQ(std::get<wire::Prepare>(prepared.publish[0].message).group, "canary");
  // web-2 is not asked: web-1's yes is all it takes.
  EXPECT_TRUE(decides(vote("web-1", true)));
  const Outputs over = ack("web-1");
  ASSERT_EQ(over.ended.size(), 1U);
  EXPECT_EQ(over.ended[0].followers.size(), 1U);
  EXPECT_EQ(over.ended[0].group, "canary");
  // The fleet stays at v1; the heartbeat names the canary.
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(1));
  m_now += 5000;
  const Outputs beat = m_pub.tick(m_now);
  ASSERT_FALSE(beat.publish.empty());
  const auto& h = std::get<wire::Heartbeat>(beat.publish[0].message);
  EXPECT_EQ(h.committed, v(1));
  EXPECT_EQ(h.canary.group, "canary");
  EXPECT_EQ(h.canary.version, v(2));
  // The same canary again (a restarted master left it): the way on is said.
  PushRequest again;
  again.channel = "nginx";
  again.version = v(2);
  again.group = "canary";
  const auto refused = m_pub.begin(again, m_now);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message,
            "v2 of nginx is what group canary holds already, as a canary: push without --canary "
            "to move the rest of the fleet to it, or roll back to take the canaries back");

  // The same version for everyone: the canary is over.
  (void)m_pub.request("peer-web-1",
                      wire::Hello{"web-1", "nginx", v(2), wire::FollowerState::idle, {}, "canary"},
                      m_now);
  (void)hello("web-2");
  (void)push();
  EXPECT_FALSE(decides(vote("web-1", true)));
  EXPECT_TRUE(decides(vote("web-2", true)));
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(2));
  EXPECT_TRUE(m_pub.canary("nginx").group.empty());
}

TEST_F(PublisherTest, ACanaryOfAGroupWithNobodyAliveIsRefused)
{
  (void)hello("web-1");
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  p.group = "eu-1";
  const auto out = m_pub.begin(p, m_now);
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().message, "no follower of group eu-1 of nginx is alive");
  EXPECT_TRUE(m_source.m_log.empty());
}

TEST_F(PublisherTest, AFollowerThatLeavesIsNoLongerWaitedFor)
{
  (void)hello("web-1");
  (void)hello("web-2");
  (void)push();
  EXPECT_FALSE(decides(vote("web-1", true)));
  // web-2 stops before it votes: the transaction does not wait for it, and
  // does not commit without it either.
  const Outputs left = hello("web-2", 1, wire::FollowerState::leaving);
  const wire::Decision* d = decision(left);
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->outcome, Outcome::abort);
  EXPECT_EQ(d->reason, "web-2 refused: it stopped before it voted");
  EXPECT_FALSE(m_pub.followers("nginx").contains("web-2"));
  EXPECT_TRUE(m_pub.followers("nginx").contains("web-1"));
  // The next push does not count it.
  m_now += 100;
  (void)ack("web-1", wire::AckResult::aborted);
  (void)push();
  EXPECT_TRUE(decides(vote("web-1", true)));
}
