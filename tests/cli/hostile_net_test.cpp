// Hostile peers on real sockets: junk, lies and floods sent to a real
// master, and a fake master that lies to a real follower. Nothing
// crashes, nothing is taken that was not committed, memory stays bounded.

#include "support/daemon.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "util/bytes.hpp"
#include "wire/codec.hpp"

#include <gtest/gtest.h>
#include <zmq.hpp>

#include <filesystem>
#include <fstream>

using namespace treecast;
using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

std::vector<std::uint8_t> bytes(const std::string& s)
{
  return {s.begin(), s.end()};
}

long rss_kib(int pid)
{
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::stol(line.substr(6));
    }
  }
  return -1;
}

class cli_hostile : public ::testing::Test
{
protected:
  TempDir m_temp;
  int m_port = free_port_pair();
  std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }
};

TEST_F(cli_hostile, JunkAndFloodsLeaveTheMasterAnsweringWithinItsMemory)
{
  const std::string src = m_temp / "src";
  write_file(src + "/a.conf", "a\n");
  Daemon master({TREECAST_BIN, "serve", "--store", m_temp / "store", "--channel", "c=" + src,
                 "--bind", address()},
                m_temp / "serve.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(m_temp / "store/control"); }));
  const std::string router = "tcp://127.0.0.1:" + std::to_string(m_port + 1);

  zmq::context_t context;
  zmq::socket_t dealer(context, zmq::socket_type::dealer);
  dealer.set(zmq::sockopt::linger, 0);
  dealer.set(zmq::sockopt::rcvtimeo, 10000);
  dealer.connect(router);
  auto ask = [&](const std::vector<std::vector<std::uint8_t>>& frames) {
    (void)dealer.send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
    for (std::size_t i = 0; i < frames.size(); ++i) {
      (void)dealer.send(zmq::buffer(frames[i]),
                        i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    zmq::message_t empty;
    zmq::message_t body;
    EXPECT_TRUE(dealer.recv(empty)) << "no reply";
    EXPECT_TRUE(dealer.recv(body)) << "no reply";
    auto m = wire::decode({body.data<std::uint8_t>(), body.size()});
    EXPECT_TRUE(m) << m.error().message;
    return m ? *m : wire::Message{};
  };
  auto error = [&](const std::vector<std::vector<std::uint8_t>>& frames) {
    const auto m = ask(frames);
    EXPECT_TRUE(std::holds_alternative<wire::Error>(m));
    return std::holds_alternative<wire::Error>(m) ? std::get<wire::Error>(m).message : "";
  };
  EXPECT_EQ(error({bytes("GET / HTTP/1.0")}), "not a treecast message (no signature)");
  EXPECT_EQ(error({{'T', 'C', 9, 16}}), "protocol version 9 (this treecast speaks 1)");
  EXPECT_EQ(error({{'T', 'C', 1, 99}}), "unknown command 99");
  EXPECT_EQ(error({bytes("TC"), bytes("two frames")}), "not one empty frame then a message");
  auto prepare = wire::encode(wire::Prepare{});
  EXPECT_NE(error({prepare}).find("PREPARE"), std::string::npos) << "a publication, as a request";
  // A forged VOTE for a transaction that does not exist.
  EXPECT_EQ(error({wire::encode(wire::Vote{"x", "c", {1, 99}, true, ""})}),
            "transaction 99 is not in flight");
  // A FETCH of a version the store does not hold.
  EXPECT_NE(error({wire::encode(wire::Fetch{"c", {}, {7, {}}, 0, 1024})}).find("no version v7"),
            std::string::npos);

  // Above the message bound, libzmq drops the connection; the master goes on.
  {
    zmq::socket_t big(context, zmq::socket_type::dealer);
    big.set(zmq::sockopt::linger, 0);
    big.connect(router);
    (void)big.send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
    const std::vector<std::uint8_t> huge(4 << 20, 'T');
    (void)big.send(zmq::buffer(huge), zmq::send_flags::none);
  }

  // A thousand clients connect, say hello under a thousand names, and go.
  const long before = rss_kib(master.pid());
  for (int i = 0; i < 1000; ++i) {
    zmq::socket_t c(context, zmq::socket_type::dealer);
    c.set(zmq::sockopt::linger, 0);
    c.connect(router);
    const auto hello = wire::encode(
      wire::Hello{"flood-" + std::to_string(i), "c", {}, wire::FollowerState::idle, {}, ""});
    (void)c.send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
    (void)c.send(zmq::buffer(hello), zmq::send_flags::none);
  }
  const auto status = ask({wire::encode(wire::Status{""})});
  ASSERT_TRUE(std::holds_alternative<wire::StatusReply>(status));
  const long after = rss_kib(master.pid());
  EXPECT_GT(before, 0);
  EXPECT_LT(after - before, 32 * 1024) << "RSS grew from " << before << " KiB to " << after;
  EXPECT_TRUE(master.running()) << read_file(m_temp / "serve.log");
}

TEST_F(cli_hostile, AFakeMasterCannotMakeAFollowerTakeAnything)
{
  // The test plays the master: a PUB and a ROUTER of its own.
  zmq::context_t context;
  zmq::socket_t pub(context, zmq::socket_type::pub);
  zmq::socket_t router(context, zmq::socket_type::router);
  pub.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::rcvtimeo, 200);
  pub.bind("tcp://127.0.0.1:" + std::to_string(m_port));
  router.bind("tcp://127.0.0.1:" + std::to_string(m_port + 1));
  const std::string dir = m_temp / "tree";
  Daemon follower({TREECAST_BIN, "follow", "--master", address(), "--channel", "c", "--dir", dir,
                   "--id", "web-1"},
                  m_temp / "follow.log");
  // Its HELLO shows it is connected.
  std::string peer;
  ASSERT_TRUE(wait_until([&] {
    zmq::message_t id;
    if (!router.recv(id)) {
      return false;
    }
    peer = id.to_string();
    while (id.more() && router.recv(id)) {
    }
    return true;
  }));
  auto publish = [&](const std::vector<std::uint8_t>& body) {
    (void)pub.send(zmq::buffer(std::string("c")), zmq::send_flags::sndmore);
    (void)pub.send(zmq::buffer(body), zmq::send_flags::none);
  };
  auto answer_fetches = [&] {
    // A FETCH gets a chunk of junk that claims to be the whole delta.
    for (int i = 0; i < 25; ++i) {
      zmq::message_t id;
      if (!router.recv(id)) {
        continue;
      }
      std::vector<zmq::message_t> rest;
      while (id.more() || (!rest.empty() && rest.back().more())) {
        zmq::message_t part;
        if (!router.recv(part)) {
          break;
        }
        rest.push_back(std::move(part));
        if (!rest.back().more()) {
          break;
        }
      }
      if (rest.size() != 2) {
        continue;
      }
      auto m = wire::decode({rest[1].data<std::uint8_t>(), rest[1].size()});
      if (!m || !std::holds_alternative<wire::Fetch>(*m)) {
        continue;
      }
      const auto& f = std::get<wire::Fetch>(*m);
      const auto chunk =
        wire::encode(wire::Chunk{"c", f.from, f.to, 0, 100, std::vector<std::uint8_t>(100, 0x42)});
      (void)router.send(zmq::buffer(id.to_string()), zmq::send_flags::sndmore);
      (void)router.send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
      (void)router.send(zmq::buffer(chunk), zmq::send_flags::none);
      return;
    }
  };
  util::Hash128 id;
  id.bytes[0] = 7;
  for (int round = 0; round < 2; ++round) {
    publish(bytes("junk"));
    publish(std::vector<std::uint8_t>(100000, 0xff));
    // A decision for a transaction it never prepared.
    publish(wire::encode(wire::Decision{"c", {1, 5}, wire::Outcome::commit, {3, id}, ""}));
    // A committed version to catch up to, and a delta that is junk.
    publish(wire::encode(wire::Heartbeat{"c", 1, {3, id}, {}, {}}));
    answer_fetches();
  }
  EXPECT_TRUE(follower.running()) << read_file(m_temp / "follow.log");
  // Nothing was taken: no version recorded, no stage left.
  const auto mine = run({TREECAST_BIN, "status", "--dir", dir, "--json"});
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_NE(mine.out.find("\"version\": 0"), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find("\"staged\": null"), std::string::npos) << mine.out;
  EXPECT_TRUE(!fs::exists(dir) || fs::is_empty(dir));
  EXPECT_NE(read_file(m_temp / "follow.log").find("cannot catch up to v3"), std::string::npos)
    << read_file(m_temp / "follow.log");
}

} // namespace
