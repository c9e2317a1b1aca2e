// CURVE keys on real processes: keygen's files, a master that admits only
// the listed followers' keys on both its sockets, a follower that pins its
// master's key, and the names votes are counted under.

#include "net/keys.hpp"
#include "support/daemon.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <csignal>
#include <filesystem>
#include <memory>
#include <sys/stat.h>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

class cli_keys : public ::testing::Test
{
protected:
  void keygen(const std::string& name, const std::string& dir)
  {
    const auto r = run({TREECAST_BIN, "keygen", name, "--dir", dir});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::unique_ptr<Daemon> follow(const std::string& id, const std::string& key,
                                 const std::string& master_key)
  {
    return std::make_unique<Daemon>(
      std::vector<std::string>{TREECAST_BIN, "follow", "--master", address(), "--channel", "c",
                               "--dir", m_temp / ("tree-" + id), "--id", id, "--key", key,
                               "--master-key", master_key},
      m_temp / (id + ".log"));
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }

  TempDir m_temp;
  int m_port = free_port_pair();
};

TEST_F(cli_keys, KeygenWritesASecretOnlyItsOwnerReadsAndAPublicCertificate)
{
  keygen("web-1", m_temp / "keys");
  struct stat st
  {};
  ASSERT_EQ(::stat((m_temp / "keys/web-1.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600U);
  const std::string pub = read_file(m_temp / "keys/web-1.pub");
  EXPECT_NE(pub.find("ZeroMQ CURVE Public Certificate"), std::string::npos);
  EXPECT_NE(pub.find("    public-key = \""), std::string::npos);
  EXPECT_EQ(pub.find("secret-key"), std::string::npos);
  const auto again = run({TREECAST_BIN, "keygen", "web-1", "--dir", m_temp / "keys"});
  EXPECT_EQ(again.exit_code, 4) << "never overwrites a key";
  // A secret key that others may read is refused.
  fs::permissions(m_temp / "keys/web-1.key", fs::perms(0644));
  const auto loose = run({TREECAST_BIN, "sync", "--master", address(), "--channel", "c", "--dir",
                          m_temp / "t", "--key", m_temp / "keys/web-1.key", "--master-key",
                          m_temp / "keys/web-1.pub", "--timeout", "1s"});
  EXPECT_EQ(loose.exit_code, 6) << loose.err;
  EXPECT_NE(loose.err.find("must be mode 0600"), std::string::npos) << loose.err;
}

TEST_F(cli_keys, OnlyListedKeysGetAnythingAndAVoteCountsUnderItsKeysName)
{
  const std::string keys = m_temp / "keys";
  keygen("master", keys);
  keygen("other-master", keys);
  keygen("web-1", keys);
  keygen("intruder", keys);
  fs::create_directories(m_temp / "authorized");
  fs::copy(keys + "/web-1.pub", m_temp / "authorized/web-1.pub");
  const std::string src = m_temp / "src";
  write_file(src + "/app.conf", "secret = 42\n");
  const std::string store = m_temp / "store";
  Daemon master({TREECAST_BIN, "serve", "--store", store, "--channel", "c=" + src, "--bind",
                 address(), "--key", keys + "/master.key", "--authorized", m_temp / "authorized"},
                m_temp / "serve.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(store + "/control"); }))
    << read_file(m_temp / "serve.log");

  // A listed key that claims another name; an unlisted key; a listed key
  // that pins another master.
  auto listed = follow("claims-another-name", keys + "/web-1.key", keys + "/master.pub");
  auto unlisted = follow("intruder", keys + "/intruder.key", keys + "/master.pub");
  auto misled = follow("web-1", keys + "/web-1.key", keys + "/other-master.pub");
  ASSERT_TRUE(wait_until([&] {
    const auto r = run({TREECAST_BIN, "status", "--store", store, "--json"});
    return r.exit_code == 0 && r.out.find("\"alive\": true") != std::string::npos;
  }));
  const auto r = run({TREECAST_BIN, "push", "c", "--store", store}, {}, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("web-1  v0  vote yes  committed"), std::string::npos)
    << "counted under its key's name\n"
    << r.out;
  EXPECT_EQ(r.out.find("claims-another-name"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("intruder"), std::string::npos) << r.out;
  EXPECT_TRUE(
    wait_until([&] { return compare_trees(src, m_temp / "tree-claims-another-name").empty(); }));
  // Refused on both sockets (it got no version, and no HELLO of its came
  // through), named in the log once a minute however often it retries.
  const std::string intruder = read_file(keys + "/intruder.pub");
  const std::string key = intruder.substr(intruder.find("public-key = \"") + 14, 40);
  EXPECT_TRUE(wait_until([&] {
    return read_file(m_temp / "serve.log").find("key " + key + " is not authorized") !=
           std::string::npos;
  }))
    << read_file(m_temp / "serve.log");
  const std::string log = read_file(m_temp / "serve.log");
  EXPECT_EQ(log.find("key " + key, log.find("key " + key) + 1), std::string::npos)
    << "logged more than once\n"
    << log;
  EXPECT_FALSE(fs::exists(m_temp / "tree-intruder/app.conf"));
  // On PUB itself: a raw subscriber with the listed key hears heartbeats,
  // one with an unlisted key hears nothing.
  zmq::context_t context;
  auto heard = [&](const std::string& key_file) {
    auto mine = treecast::net::read_cert(key_file, true);
    auto server = treecast::net::read_cert(keys + "/master.pub", false);
    EXPECT_TRUE(mine && server);
    zmq::socket_t sub(context, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::curve_serverkey, server->public_key);
    sub.set(zmq::sockopt::curve_publickey, mine->public_key);
    sub.set(zmq::sockopt::curve_secretkey, mine->secret_key);
    sub.set(zmq::sockopt::rcvtimeo, 3000);
    sub.set(zmq::sockopt::subscribe, "c");
    sub.connect("tcp://" + address());
    zmq::message_t topic;
    return sub.recv(topic).has_value();
  };
  EXPECT_TRUE(heard(keys + "/web-1.key"));
  EXPECT_FALSE(heard(keys + "/intruder.key"));
  // Listed later, and SIGHUP: admitted.
  fs::copy(keys + "/intruder.pub", m_temp / "authorized/intruder.pub");
  ::kill(master.pid(), SIGHUP);
  EXPECT_TRUE(wait_until([&] {
    return read_file(m_temp / "serve.log").find("2 followers' keys authorized") !=
           std::string::npos;
  }))
    << read_file(m_temp / "serve.log");
  EXPECT_TRUE(heard(keys + "/intruder.key"));
  EXPECT_FALSE(fs::exists(m_temp / "tree-web-1/app.conf"));
  const auto status =
    nlohmann::json::parse(run({TREECAST_BIN, "status", "--store", store, "--json"}).out);
  ASSERT_EQ(status["channels"][0]["followers"].size(), 1U);
  EXPECT_EQ(status["channels"][0]["followers"][0]["id"], "web-1");
}

TEST_F(cli_keys, AFollowerStagesOnlyVersionsSignedByAKeyItTrusts)
{
  const std::string keys = m_temp / "keys";
  for (const char* name : {"master", "old-master", "stranger"}) {
    const auto r = run({TREECAST_BIN, "keygen", name, "--sign", "--dir", keys});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  const std::string src = m_temp / "src";
  write_file(src + "/app.conf", "signed = yes\n");
  const std::string store = m_temp / "store";
  Daemon master({TREECAST_BIN, "serve", "--store", store, "--channel", "c=" + src, "--bind",
                 address(), "--sign-key", keys + "/master.sign"},
                m_temp / "serve.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(store + "/control"); }))
    << read_file(m_temp / "serve.log");
  auto follower = [&](const std::string& id, const std::vector<std::string>& trust) {
    std::vector<std::string> argv{TREECAST_BIN, "follow", "--master", address(),
                                  "--channel",  "c",      "--dir",    m_temp / ("tree-" + id),
                                  "--id",       id};
    for (const auto& t : trust) {
      argv.insert(argv.end(), {"--trust", keys + "/" + t + ".verify"});
    }
    return std::make_unique<Daemon>(argv, m_temp / (id + ".log"));
  };
  // Trusting the master's key (beside an old one: a rotation); trusting a
  // stranger's only.
  auto good = follower("good", {"old-master", "master"});
  auto wary = follower("wary", {"stranger"});
  ASSERT_TRUE(wait_until([&] {
    const auto r = run({TREECAST_BIN, "status", "--store", store, "--json"});
    std::size_t alive = 0;
    for (auto at = r.out.find("\"alive\": true"); at != std::string::npos;
         at = r.out.find("\"alive\": true", at + 1)) {
      ++alive;
    }
    return alive >= 2;
  }));
  const auto r = run({TREECAST_BIN, "push", "c", "--store", store}, {}, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
  EXPECT_NE(r.out.find("wary  v0  vote no  aborted  v1 of c is not signed by a key this "
                       "follower trusts"),
            std::string::npos)
    << r.out;
  // The refusal ends the vote at once: good's yes may come too late to show.
  EXPECT_NE(r.out.find("good  v0  vote "), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(m_temp / "tree-good/app.conf"));
  EXPECT_FALSE(fs::exists(m_temp / "tree-wary/app.conf"));

  // Without the stranger-trusting follower, the signed version commits.
  // (A follower that stops says so: it leaves the list at once.)
  wary->stop();
  ASSERT_TRUE(wait_until(
    [&] {
      const auto s = run({TREECAST_BIN, "status", "--store", store, "--json"});
      return s.exit_code == 0 && s.out.find("\"wary\"") == std::string::npos;
    },
    std::chrono::seconds(20)));
  const auto again =
    run({TREECAST_BIN, "push", "c", "--store", store}, {}, std::chrono::seconds(60));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_TRUE(wait_until([&] { return compare_trees(src, m_temp / "tree-good").empty(); }));
}

} // namespace
