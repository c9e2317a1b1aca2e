// The two engines together: a master and its followers exchange messages
// through a simulated network that loses, repeats and reorders them, with
// followers and the master restarting in between. Every run is bounded in
// steps and simulated time, and seeded, so a failure repeats.

#include "sync/publisher.hpp"
#include "sync/subscriber.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <functional>
#include <memory>
#include <random>

using namespace treecast;
using namespace treecast::sync;
using wire::Outcome;
using wire::VersionRef;

namespace {

VersionRef v(std::uint64_t n)
{
  util::Hash128 id;
  id.bytes[0] = static_cast<std::uint8_t>(n);
  id.bytes[15] = 0x77;
  return {n, id};
}

// The delta from one version to another: bytes that say which.
std::vector<std::uint8_t> delta_bytes(std::uint64_t from, std::uint64_t to)
{
  std::vector<std::uint8_t> d(1500 + 700 * to);
  for (std::size_t i = 0; i < d.size(); ++i) {
    d[i] = static_cast<std::uint8_t>(i * 31 + from * 7 + to);
  }
  return d;
}

class SimSource final : public Source
{
public:
  std::uint64_t epoch() const override { return 9; }
  std::vector<VersionRef> committed(const std::string&, std::size_t n) const override
  {
    std::vector<VersionRef> out;
    for (auto r = m_committed.rbegin(); r != m_committed.rend() && out.size() < n; ++r) {
      out.push_back(*r);
    }
    return out;
  }
  bool has_version(const std::string&, const VersionRef& version) const override
  {
    return version.number == 0 || version == v(version.number);
  }
  std::optional<LoggedTxn> last_txn(const std::string&) const override
  {
    return m_log.empty() ? std::nullopt : std::optional<LoggedTxn>(m_log.back());
  }
  util::Status log_begin(const std::string&, const wire::TxnRef& txn,
                         const VersionRef& version) override
  {
    m_log.push_back({txn, version, Outcome::none});
    return {};
  }
  util::Status log_decision(const std::string&, const wire::TxnRef& txn, Outcome outcome,
                            const VersionRef& version) override
  {
    m_log.push_back({txn, version, outcome});
    if (outcome == Outcome::commit) {
      m_committed.push_back(version);
    }
    return {};
  }
  std::optional<std::uint64_t> delta_size(const std::string&, const VersionRef& from,
                                          const VersionRef& to) const override
  {
    return delta_bytes(from.number, to.number).size();
  }
  util::Result<std::vector<std::uint8_t>> read_delta(const std::string&, const VersionRef& from,
                                                     const VersionRef& to, std::uint64_t offset,
                                                     std::size_t length) const override
  {
    const auto d = delta_bytes(from.number, to.number);
    return std::vector<std::uint8_t>(d.begin() + static_cast<std::ptrdiff_t>(offset),
                                     d.begin() + static_cast<std::ptrdiff_t>(offset + length));
  }

  std::vector<VersionRef> m_committed{v(1)};
  std::vector<LoggedTxn> m_log;
};

// A follower's tree: a version, a stage, the spool; it checks every
// delta it stages against the bytes the master would send.
struct SimReplica final : Replica
{
  VersionRef version() const override { return m_version; }
  std::optional<Staged> staged() const override { return m_staged; }
  util::Status begin_delta(const VersionRef& from, const VersionRef& to,
                           std::uint64_t total) override
  {
    m_spool.assign(total, 0);
    m_fetches.push_back({from.number, to.number});
    return {};
  }
  util::Status write_delta(std::uint64_t offset, std::span<const std::uint8_t> data) override
  {
    std::copy(data.begin(), data.end(), m_spool.begin() + static_cast<std::ptrdiff_t>(offset));
    return {};
  }

  // Runs an action as the daemon would; the error, if any.
  std::string run(const Action& a)
  {
    switch (a.kind) {
      case Action::Kind::stage:
      case Action::Kind::apply:
        if (a.from != m_version || m_spool != delta_bytes(a.from.number, a.to.number)) {
          return "the delta does not apply";
        }
        if (m_refuse) {
          return "check failed";
        }
        if (a.kind == Action::Kind::apply) {
          m_version = a.to;
        } else {
          m_staged = Staged{a.txn, a.to};
        }
        return "";
      case Action::Kind::commit:
        if (!m_staged || m_staged->txn != a.txn) {
          return "nothing staged";
        }
        m_version = m_staged->version;
        m_staged.reset();
        return "";
      case Action::Kind::abort:
        m_staged.reset();
        return "";
    }
    return "unknown action";
  }

  VersionRef m_version = v(1);
  std::optional<Staged> m_staged;
  std::vector<std::uint8_t> m_spool;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> m_fetches;
  bool m_refuse = false;
};

class FleetTest : public ::testing::Test
{
protected:
  struct Node
  {
    std::string id;
    SimReplica replica;
    std::unique_ptr<Subscriber> sub;
    bool up = true;
  };
  struct Envelope
  {
    std::string to; // "" the master, else a follower's id
    std::string from;
    wire::Message message;
  };

  void SetUp() override
  {
    m_pub = std::make_unique<Publisher>(m_source, std::vector<std::string>{"nginx"});
    deliver(m_pub->start(m_now));
    for (const char* id : {"web-1", "web-2", "web-3"}) {
      auto node = std::make_unique<Node>();
      node->id = id;
      m_nodes.push_back(std::move(node));
      restart(*m_nodes.back());
    }
    run(3000, [] { return false; });
  }

  void restart(Node& n)
  {
    n.sub = std::make_unique<Subscriber>(n.replica,
                                         SubscriberOptions{n.id, "nginx", 2000, 10000, 4, 1000});
    n.up = true;
    deliver(n, n.sub->start(m_now));
  }

  // Sends through the network: each message may be lost or repeated.
  void send(Envelope e)
  {
    if (m_dist(m_rng) < m_loss) {
      return;
    }
    if (m_dist(m_rng) < m_repeat) {
      m_net.push_back(e);
    }
    m_net.push_back(std::move(e));
  }
  void deliver(const Outputs& out)
  {
    for (const Publish& p : out.publish) {
      for (auto& n : m_nodes) {
        send({n->id, "", p.message});
      }
    }
    for (const Reply& r : out.replies) {
      send({r.peer, "", r.message});
    }
    for (const TxnReport& r : out.ended) {
      m_ended.push_back(r);
    }
  }
  void deliver(Node& n, const FollowerOutputs& out)
  {
    for (const auto& m : out.send) {
      send({"", n.id, m});
    }
    for (const Action& a : out.actions) {
      m_actions.push_back({&n, a});
    }
  }

  // Runs the fleet for up to ms of simulated time, or until done() holds.
  bool run(Millis ms, const std::function<bool()>& done)
  {
    const Millis end = m_now + ms;
    while (m_now < end) {
      for (int step = 0; step < 50 && (!m_net.empty() || !m_actions.empty()); ++step) {
        if (!m_actions.empty()) {
          auto [node, action] = m_actions.front();
          m_actions.pop_front();
          if (node->up) {
            deliver(*node, node->sub->done(action, node->replica.run(action), m_now));
          }
          if (done()) {
            return true;
          }
          continue;
        }
        // Reordered: any of the first three messages may go first.
        const std::size_t pick = std::min<std::size_t>(m_rng() % 3, m_net.size() - 1);
        Envelope e = std::move(m_net[pick]);
        m_net.erase(m_net.begin() + static_cast<std::ptrdiff_t>(pick));
        if (e.to.empty()) {
          deliver(m_pub->request(e.from, e.message, m_now));
        } else if (Node* n = node(e.to); n != nullptr && n->up) {
          deliver(*n, n->sub->receive(e.message, m_now));
        }
        if (done()) {
          return true;
        }
      }
      m_now += 100;
      deliver(m_pub->tick(m_now));
      for (auto& n : m_nodes) {
        if (n->up) {
          deliver(*n, n->sub->tick(m_now));
        }
      }
      if (done()) {
        return true;
      }
    }
    return false;
  }

  Node* node(const std::string& id)
  {
    for (auto& n : m_nodes) {
      if (n->id == id) {
        return n.get();
      }
    }
    return nullptr;
  }

  // Pushes version n and runs until its transaction ends; its report.
  TxnReport push(std::uint64_t n, Millis timeout = 20000)
  {
    PushRequest p;
    p.channel = "nginx";
    p.version = v(n);
    p.timeout = timeout;
    auto out = m_pub->begin(p, m_now);
    EXPECT_TRUE(out) << out.error().message;
    const std::size_t before = m_ended.size();
    if (out) {
      deliver(*out);
    }
    EXPECT_TRUE(run(4 * timeout, [&] { return m_ended.size() > before; })) << "never ended";
    return m_ended.size() > before ? m_ended.back() : TxnReport{};
  }

  bool all_at(std::uint64_t n)
  {
    return std::all_of(m_nodes.begin(), m_nodes.end(), [&](const auto& node) {
      return node->replica.m_version == v(n) && !node->replica.m_staged;
    });
  }

  SimSource m_source;
  std::unique_ptr<Publisher> m_pub;
  std::vector<std::unique_ptr<Node>> m_nodes;
  std::deque<Envelope> m_net;
  std::deque<std::pair<Node*, Action>> m_actions;
  std::vector<TxnReport> m_ended;
  std::mt19937_64 m_rng{42};
  std::uniform_real_distribution<double> m_dist{0.0, 1.0};
  double m_loss = 0;
  double m_repeat = 0;
  Millis m_now = 1000;
};

TEST_F(FleetTest, OverALossyNetworkEveryFollowerCommitsEveryPush)
{
  m_loss = 0.1;
  m_repeat = 0.1;
  for (std::uint64_t n = 2; n <= 6; ++n) {
    const TxnReport r = push(n);
    EXPECT_EQ(r.outcome, Outcome::commit) << "v" << n << ": " << r.reason;
    EXPECT_TRUE(run(60000, [&] { return all_at(n); })) << "v" << n << " not everywhere";
  }
}

TEST_F(FleetTest, ARefusalAbortsTheFleetAndTheNextPushCommits)
{
  node("web-2")->replica.m_refuse = true;
  const TxnReport refused = push(2);
  EXPECT_EQ(refused.outcome, Outcome::abort);
  EXPECT_EQ(refused.reason, "web-2 refused: check failed");
  EXPECT_TRUE(run(5000, [&] { return all_at(1); }));
  EXPECT_EQ(m_source.committed("nginx", 1).front(), v(1));
  node("web-2")->replica.m_refuse = false;
  EXPECT_EQ(push(3).outcome, Outcome::commit);
  EXPECT_TRUE(run(30000, [&] { return all_at(3); }));
}

TEST_F(FleetTest, AFollowerAwayForTwoPushesCatchesUpWithOneDelta)
{
  Node& away = *node("web-3");
  away.up = false;
  run(6000, [] { return false; }); // no longer alive: not a voter
  EXPECT_EQ(push(2).outcome, Outcome::commit);
  EXPECT_EQ(push(3).outcome, Outcome::commit);
  away.replica.m_fetches.clear();
  restart(away);
  EXPECT_TRUE(run(30000, [&] { return all_at(3); }));
  EXPECT_EQ(away.replica.m_fetches, (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{1, 3}}));
}

TEST_F(FleetTest, AFollowerRestartedAfterItsVoteStillCommits)
{
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  auto out = m_pub->begin(p, m_now);
  ASSERT_TRUE(out);
  deliver(*out);
  Node& web1 = *node("web-1");
  ASSERT_TRUE(run(20000, [&] { return web1.replica.m_staged.has_value(); }));
  restart(web1); // a new process: only the stage it kept remains
  ASSERT_TRUE(run(40000, [&] { return !m_ended.empty(); }));
  EXPECT_EQ(m_ended.back().outcome, Outcome::commit);
  EXPECT_TRUE(run(30000, [&] { return all_at(2); }));
}

TEST_F(FleetTest, AMasterRestartedMidTransactionAbortsItEverywhere)
{
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  auto out = m_pub->begin(p, m_now);
  ASSERT_TRUE(out);
  deliver(*out);
  ASSERT_TRUE(run(20000, [&] { return node("web-2")->replica.m_staged.has_value(); }));
  m_pub = std::make_unique<Publisher>(m_source, std::vector<std::string>{"nginx"});
  deliver(m_pub->start(m_now));
  EXPECT_TRUE(run(30000, [&] { return all_at(1); })) << "stages kept after the abort";
  EXPECT_EQ(m_source.m_log.back().outcome, Outcome::abort);
  EXPECT_EQ(push(3).outcome, Outcome::commit);
  EXPECT_TRUE(run(30000, [&] { return all_at(3); }));
}

TEST_F(FleetTest, TwoPushesRaceAndOneWaits)
{
  PushRequest p;
  p.channel = "nginx";
  p.version = v(2);
  auto first = m_pub->begin(p, m_now);
  ASSERT_TRUE(first);
  deliver(*first);
  p.version = v(3);
  auto second = m_pub->begin(p, m_now);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, util::Errc::conflict);
  ASSERT_TRUE(run(40000, [&] { return !m_ended.empty(); }));
  EXPECT_EQ(push(3).outcome, Outcome::commit);
  EXPECT_TRUE(run(30000, [&] { return all_at(3); }));
}

} // namespace
