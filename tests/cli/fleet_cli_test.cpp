// A real master and real followers on loopback: treecast serve, follow,
// sync, push, status and abort, as an operator runs them. Every wait has a
// deadline; every process is stopped when the test ends.

#include "support/daemon.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"
#include "wire/codec.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstring>
#include <filesystem>
#include <memory>
#include <sys/xattr.h>
#include <tuple>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

class cli_fleet : public ::testing::Test
{
protected:
  void SetUp() override
  {
    m_port = free_port_pair();
    m_store = m_temp / "store";
    m_source = m_temp / "source";
    write_file(m_source + "/nginx.conf", "worker_processes 1;\n");
    write_file(m_source + "/sites/default", "server { listen 80; }\n");
    make_symlink("sites/default", m_source + "/enabled");
    fs::create_directories(m_source + "/empty");
    m_master = std::make_unique<Daemon>(
      std::vector<std::string>{TREECAST_BIN, "serve", "--store", m_store, "--channel",
                               "nginx=" + m_source, "--bind", address()},
      m_temp / "serve.log");
    ASSERT_TRUE(wait_until([&] { return fs::exists(m_store + "/control"); }))
      << read_file(m_temp / "serve.log");
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }
  std::string dir(const std::string& id) const { return m_temp / ("tree-" + id); }

  void follow(const std::string& id, const std::vector<std::string>& more = {})
  {
    std::vector<std::string> argv{TREECAST_BIN, "follow", "--master", address(), "--channel",
                                  "nginx",      "--dir",  dir(id),    "--id",    id};
    argv.insert(argv.end(), more.begin(), more.end());
    m_followers[id] = std::make_unique<Daemon>(argv, m_temp / (id + ".log"));
  }

  RunResult push(const std::vector<std::string>& more = {})
  {
    std::vector<std::string> argv{TREECAST_BIN, "push", "nginx", "--store", m_store};
    argv.insert(argv.end(), more.begin(), more.end());
    return run(argv, {}, std::chrono::seconds(60));
  }

  nlohmann::json status()
  {
    const auto r = run({TREECAST_BIN, "status", "--store", m_store, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json{};
  }

  // Followers the master hears from, alive.
  bool alive(std::size_t n)
  {
    const auto s = status();
    std::size_t count = 0;
    if (s.contains("channels")) {
      for (const auto& f : s["channels"][0]["followers"]) {
        count += f.value("alive", false) ? 1 : 0;
      }
    }
    return count >= n;
  }

  void expect_same(const std::string& id)
  {
    EXPECT_TRUE(wait_until([&] { return compare_trees(m_source, dir(id)).empty(); }))
      << id << ": " << compare_trees(m_source, dir(id)) << "\n"
      << read_file(m_temp / (id + ".log"));
  }

  TempDir m_temp;
  int m_port = 0;
  std::string m_store;
  std::string m_source;
  std::unique_ptr<Daemon> m_master;
  std::map<std::string, std::unique_ptr<Daemon>> m_followers;
};

TEST_F(cli_fleet, EveryPushReachesEveryFollowerWhole)
{
  for (const char* id : {"web-1", "web-2", "web-3"}) {
    follow(id);
  }
  ASSERT_TRUE(wait_until([&] { return alive(3); })) << read_file(m_temp / "serve.log");
  for (int round = 1; round <= 4; ++round) {
    write_file(m_source + "/nginx.conf", "worker_processes " + std::to_string(round) + ";\n");
    write_file(m_source + "/conf.d/round-" + std::to_string(round) + ".conf", "x\n");
    if (round == 3) {
      fs::remove(m_source + "/enabled");
      fs::permissions(m_source + "/sites/default", fs::perms(0600));
    }
    const auto r = push({"-m", "round " + std::to_string(round)});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << read_file(m_temp / "serve.log");
    EXPECT_NE(r.out.find("nginx v" + std::to_string(round) + " committed"), std::string::npos)
      << r.out;
    for (const char* id : {"web-1", "web-2", "web-3"}) {
      EXPECT_NE(
        r.out.find(std::string(id) + "  v" + std::to_string(round - 1) + "  vote yes  committed"),
        std::string::npos)
        << r.out;
      expect_same(id);
    }
  }
  // status --json: the documented schema, version 1.
  const auto s = status();
  EXPECT_EQ(s["schema"], 1);
  EXPECT_EQ(s["truncated"], false);
  ASSERT_EQ(s["channels"].size(), 1U);
  EXPECT_EQ(s["channels"][0]["channel"], "nginx");
  EXPECT_EQ(s["channels"][0]["committed"], 4);
  EXPECT_EQ(s["channels"][0]["followers_total"], 3);
  for (const auto& f : s["channels"][0]["followers"]) {
    for (const char* key : {"id", "version", "state", "alive", "seen_ms_ago", "last_error"}) {
      EXPECT_TRUE(f.contains(key)) << key << " in " << f.dump();
    }
  }
  // Nothing changed: nothing printed, exit 0.
  const auto same = push();
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_EQ(same.out, "");
  // The control socket is its owner's alone.
  EXPECT_EQ(fs::status(m_store + "/control").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  // One serve per store; a sync on a tree a follow keeps is refused at once.
  const auto second = run({TREECAST_BIN, "serve", "--store", m_store, "--channel",
                           "nginx=" + m_source, "--bind", "127.0.0.1:1"});
  EXPECT_EQ(second.exit_code, 6) << second.err;
  EXPECT_NE(second.err.find("another treecast serve is running on"), std::string::npos);
  const auto busy =
    run({TREECAST_BIN, "sync", "--master", address(), "--channel", "nginx", "--dir", dir("web-1")});
  EXPECT_EQ(busy.exit_code, 6) << busy.err;
  EXPECT_NE(busy.err.find("another treecast works on"), std::string::npos) << busy.err;
}

TEST_F(cli_fleet, ARefusingCheckAbortsEverywhereAndSaysWhoAndWhy)
{
  follow("web-1");
  follow("web-2", {"--check", "if grep -q forbidden \"$TREECAST_STAGE/nginx.conf\"; then echo "
                              "\"nginx: forbidden directive\" >&2; exit 1; fi"});
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  ASSERT_EQ(push().exit_code, 0);
  expect_same("web-1");
  expect_same("web-2");
  fs::copy(m_source, m_temp / "committed",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);

  write_file(m_source + "/nginx.conf", "forbidden;\n");
  const auto refused = push({"--timeout", "20s"});
  EXPECT_EQ(refused.exit_code, 7) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("web-2  v1  vote no  aborted  nginx: forbidden directive"),
            std::string::npos)
    << refused.out;
  EXPECT_NE(refused.out.find("nginx v2 aborted: web-2 refused: nginx: forbidden directive"),
            std::string::npos)
    << refused.out;
  for (const char* id : {"web-1", "web-2"}) {
    EXPECT_EQ(compare_trees(m_temp / "committed", dir(id)), "") << id;
  }
  const auto s = status();
  EXPECT_EQ(s["channels"][0]["committed"], 1);

  write_file(m_source + "/nginx.conf", "worker_processes 8;\n");
  const auto good = push();
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  expect_same("web-1");
  expect_same("web-2");

  // A follower's own view, while its follow runs.
  EXPECT_TRUE(wait_until([&] {
    const auto mine = run({TREECAST_BIN, "status", "--dir", dir("web-2")});
    return mine.exit_code == 0 && mine.out.find(" of nginx\n") != std::string::npos &&
           mine.out.find("followed as web-2 from " + address() + " (committed there: v3)") !=
             std::string::npos;
  }))
    << run({TREECAST_BIN, "status", "--dir", dir("web-2")}).out;
  const auto json = run({TREECAST_BIN, "status", "--dir", dir("web-2"), "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["schema"], 1);
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["channel"], "nginx");
  EXPECT_TRUE(j["staged"].is_null());
}

TEST_F(cli_fleet, AFollowerAwayCatchesUpAndSyncBringsANewTreeInStep)
{
  follow("web-1");
  follow("web-2");
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  ASSERT_EQ(push().exit_code, 0);
  expect_same("web-2");
  ASSERT_EQ(m_followers["web-2"]->stop(), 0) << read_file(m_temp / "web-2.log");
  ASSERT_TRUE(wait_until([&] { return !alive(2); }, std::chrono::seconds(20)));
  for (int round = 2; round <= 3; ++round) {
    write_file(m_source + "/nginx.conf", "worker_processes " + std::to_string(round) + ";\n");
    const auto r = push();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.find("web-2"), std::string::npos) << "away: not a voter\n" << r.out;
  }
  follow("web-2");
  expect_same("web-2");
  EXPECT_NE(read_file(m_temp / "web-2.log").find("catching up: v1 -> v3"), std::string::npos)
    << read_file(m_temp / "web-2.log");

  const auto once = run({TREECAST_BIN, "sync", "--master", address(), "--channel", "nginx", "--dir",
                         dir("new"), "--id", "new"},
                        {}, std::chrono::seconds(60));
  EXPECT_EQ(once.exit_code, 0) << once.err;
  EXPECT_EQ(compare_trees(m_source, dir("new")), "");
}

TEST_F(cli_fleet, NoMasterIsItsOwnExitCode)
{
  m_master->stop();
  const auto r = push();
  EXPECT_EQ(r.exit_code, 9) << r.err;
  EXPECT_NE(r.err.find("no treecast serve is running on"), std::string::npos) << r.err;
  const auto s = run({TREECAST_BIN, "sync", "--master", "127.0.0.1:" + std::to_string(m_port),
                      "--channel", "nginx", "--dir", dir("x"), "--timeout", "1s"});
  EXPECT_EQ(s.exit_code, 9) << s.err;
  EXPECT_NE(s.err.find("no answer from the master"), std::string::npos) << s.err;
  const auto open = run({TREECAST_BIN, "serve", "--store", m_store, "--channel",
                         "nginx=" + m_source, "--bind", "0.0.0.0:" + std::to_string(m_port)});
  EXPECT_EQ(open.exit_code, 2);
  EXPECT_NE(open.err.find("--insecure"), std::string::npos) << open.err;
}

// A follower's state folder holds no stage.
bool no_stage(const std::string& tree)
{
  const fs::path state =
    fs::path(tree).parent_path() / ("." + fs::path(tree).filename().string() + ".treecast");
  return !fs::exists(state / "prepared") && !fs::exists(state / "stage");
}

TEST_F(cli_fleet, AFollowerKilledWhileItChecksComesBackWhole)
{
  follow("web-1");
  follow("web-2", {"--check", "test ! -f " + std::string(m_temp / "slow") + " || sleep 5"});
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  ASSERT_EQ(push().exit_code, 0);
  fs::copy(m_source, m_temp / "committed",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);

  write_file(m_temp / "slow", "");
  write_file(m_source + "/nginx.conf", "worker_processes 2;\n");
  Daemon pushing({TREECAST_BIN, "push", "nginx", "--store", m_store, "--timeout", "3s"},
                 m_temp / "push.log");
  // web-2 is in its check, its stage kept as prepared: kill it there.
  const fs::path state = m_temp / ".tree-web-2.treecast";
  ASSERT_TRUE(wait_until([&] { return fs::exists(state / "prepared"); }))
    << read_file(m_temp / "web-2.log");
  const auto staged = run({TREECAST_BIN, "status", "--dir", dir("web-2")});
  EXPECT_NE(staged.out.find("staged: v2 for "), std::string::npos) << staged.out;
  m_followers["web-2"]->kill();
  EXPECT_EQ(pushing.wait(std::chrono::seconds(30)), 8) << read_file(m_temp / "push.log");
  EXPECT_EQ(compare_trees(m_temp / "committed", dir("web-1")), "");
  EXPECT_EQ(compare_trees(m_temp / "committed", dir("web-2")), "");

  // Back, it asks how its transaction ended, discards its stage, and is
  // in step; the next push commits everywhere.
  fs::remove(m_temp / "slow");
  follow("web-2", {"--check", "true"});
  EXPECT_TRUE(wait_until([&] { return no_stage(dir("web-2")); }))
    << read_file(m_temp / "web-2.log");
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  const auto next = push();
  EXPECT_EQ(next.exit_code, 0) << next.out << next.err;
  expect_same("web-1");
  expect_same("web-2");
}

TEST_F(cli_fleet, AMasterKilledBeforeItDecidesAbortsEverywhereWhenItIsBack)
{
  follow("web-1");
  follow("web-2", {"--check", "test ! -f " + std::string(m_temp / "slow") + " || sleep 5"});
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  ASSERT_EQ(push().exit_code, 0);
  fs::copy(m_source, m_temp / "committed",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);

  write_file(m_temp / "slow", "");
  write_file(m_source + "/nginx.conf", "worker_processes 2;\n");
  Daemon pushing({TREECAST_BIN, "push", "nginx", "--store", m_store}, m_temp / "push.log");
  // web-1 has voted yes (its stage waits); web-2 is still checking.
  ASSERT_TRUE(wait_until([&] { return fs::exists(m_temp / ".tree-web-1.treecast/prepared"); }));
  m_master->kill();
  EXPECT_EQ(pushing.wait(std::chrono::seconds(30)), 9) << "the push sees its serve stop";
  EXPECT_NE(read_file(m_temp / "push.log").find("stopped"), std::string::npos);
  fs::remove(m_temp / "slow");
  m_master = std::make_unique<Daemon>(
    std::vector<std::string>{TREECAST_BIN, "serve", "--store", m_store, "--channel",
                             "nginx=" + m_source, "--bind", address()},
    m_temp / "serve.log");
  // The transaction it never decided aborts, everywhere.
  for (const char* id : {"web-1", "web-2"}) {
    EXPECT_TRUE(wait_until([&] { return no_stage(dir(id)); })) << id;
    EXPECT_EQ(compare_trees(m_temp / "committed", dir(id)), "") << id;
  }
  EXPECT_NE(read_file(m_temp / "serve.log").find("aborted: the master restarted before deciding"),
            std::string::npos)
    << read_file(m_temp / "serve.log");
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  const auto next = push();
  EXPECT_EQ(next.exit_code, 0) << next.out << next.err;
  expect_same("web-1");
  expect_same("web-2");
}

TEST_F(cli_fleet, OnePhaseAndAbort)
{
  follow("web-1");
  follow("web-2", {"--check", "test ! -f " + std::string(m_temp / "slow") + " || sleep 5"});
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  const auto one = push({"--one-phase"});
  EXPECT_EQ(one.exit_code, 0) << one.out << one.err;
  expect_same("web-1");
  expect_same("web-2");

  // An abort withdraws a transaction still waiting for votes.
  write_file(m_temp / "slow", "");
  write_file(m_source + "/nginx.conf", "worker_processes 3;\n");
  Daemon pushing({TREECAST_BIN, "push", "nginx", "--store", m_store}, m_temp / "push.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(m_temp / ".tree-web-1.treecast/prepared"); }));
  const auto aborted = run({TREECAST_BIN, "abort", "nginx", "--store", m_store});
  EXPECT_EQ(aborted.exit_code, 0) << aborted.err;
  EXPECT_EQ(pushing.wait(std::chrono::seconds(30)), 7) << read_file(m_temp / "push.log");
  EXPECT_NE(read_file(m_temp / "push.log").find("aborted by the operator"), std::string::npos);
  EXPECT_TRUE(wait_until([&] { return no_stage(dir("web-1")); }));
  EXPECT_EQ(read_file(dir("web-1") + "/nginx.conf"), "worker_processes 1;\n");
  fs::remove(m_temp / "slow");
}

TEST_F(cli_fleet, RollbackPublishesAnEarlierTreeAsANewVersion)
{
  follow("web-1");
  ASSERT_TRUE(wait_until([&] { return alive(1); }));
  ASSERT_EQ(push().exit_code, 0);
  fs::copy(m_source, m_temp / "v1", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  write_file(m_source + "/nginx.conf", "worker_processes 9;\n");
  ASSERT_EQ(push().exit_code, 0);
  expect_same("web-1");

  const auto r = run({TREECAST_BIN, "rollback", "nginx", "--to", "v1", "--store", m_store}, {},
                     std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("nginx v3 committed"), std::string::npos) << r.out;
  EXPECT_TRUE(wait_until([&] { return compare_trees(m_temp / "v1", dir("web-1")).empty(); }));
  const auto log = run({TREECAST_BIN, "log", "--store", m_store, "--channel", "nginx"});
  EXPECT_NE(log.out.find("rollback to v1"), std::string::npos) << log.out;
  const auto gone = run({TREECAST_BIN, "rollback", "nginx", "--to", "v9", "--store", m_store});
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("v9"), std::string::npos) << gone.err;
}

TEST_F(cli_fleet, OneConfigFileServesAndFollowsTwoChannels)
{
  m_master->stop();
  const std::string certs = m_temp / "certs-source";
  write_file(certs + "/site.pem", "certificate\n", 0600);
  const std::string config = m_temp / "treecast.toml";
  write_file(config, "[serve]\n"
                     "store = \"" +
                       m_store +
                       "\"\n"
                       "bind = \"" +
                       address() +
                       "\"\n"
                       "exclude = [\"*~\"]\n"
                       "[serve.channels]\n"
                       "nginx = \"" +
                       m_source +
                       "\"\n"
                       "certs = \"" +
                       certs +
                       "\"\n"
                       "\n[follow]\n"
                       "master = \"" +
                       address() +
                       "\"\n"
                       "id = \"web-9\"\n"
                       "[[follow.channel]]\n"
                       "name = \"nginx\"\n"
                       "dir = \"" +
                       dir("nginx") +
                       "\"\n"
                       "[[follow.channel]]\n"
                       "name = \"certs\"\n"
                       "dir = \"" +
                       dir("certs") +
                       "\"\n"
                       "check = \"test -f \\\"$TREECAST_STAGE/site.pem\\\"\"\n");
  write_file(m_source + "/backup~", "left out\n");
  m_master = std::make_unique<Daemon>(
    std::vector<std::string>{TREECAST_BIN, "serve", "--config", config}, m_temp / "serve2.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(m_store + "/control"); }))
    << read_file(m_temp / "serve2.log");
  Daemon both({TREECAST_BIN, "follow", "--config", config}, m_temp / "both.log");
  ASSERT_TRUE(wait_until([&] {
    const auto s = status();
    return s.contains("channels") && s["channels"].size() == 2 &&
           s["channels"][0]["followers"].size() == 1 && s["channels"][1]["followers"].size() == 1;
  }))
    << read_file(m_temp / "both.log");
  for (const char* channel : {"nginx", "certs"}) {
    const auto r =
      run({TREECAST_BIN, "push", channel, "--store", m_store}, {}, std::chrono::seconds(60));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  fs::remove(m_source + "/backup~");
  EXPECT_TRUE(wait_until([&] { return compare_trees(m_source, dir("nginx")).empty(); }))
    << compare_trees(m_source, dir("nginx"));
  EXPECT_TRUE(wait_until([&] { return compare_trees(certs, dir("certs")).empty(); }));

  write_file(m_temp / "bad.toml", "[serve]\nstore = \"/x\"\nchanels = 3\n");
  const auto bad = run({TREECAST_BIN, "serve", "--config", m_temp / "bad.toml"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("bad.toml:3: unknown key serve.chanels"), std::string::npos) << bad.err;
}

TEST_F(cli_fleet, AFollowerKilledInItsReloadHookIsAtTheNewVersionWhenBack)
{
  const std::string hook = "test ! -f " + std::string(m_temp / "slow") + " || sleep 5";
  follow("web-1", {"--exec", hook});
  ASSERT_TRUE(wait_until([&] { return alive(1); }));
  ASSERT_EQ(push().exit_code, 0);
  write_file(m_temp / "slow", "");
  write_file(m_source + "/nginx.conf", "worker_processes 2;\n");
  Daemon pushing({TREECAST_BIN, "push", "nginx", "--store", m_store, "--timeout", "20s"},
                 m_temp / "push.log");
  // Committed, reloading: killed before it could ack.
  ASSERT_TRUE(wait_until([&] { return compare_trees(m_source, dir("web-1")).empty(); }));
  m_followers["web-1"]->kill();
  fs::remove(m_temp / "slow");
  follow("web-1", {"--exec", hook});
  // Back, its hello says it holds the version: the push ends committed.
  EXPECT_EQ(pushing.wait(std::chrono::seconds(60)), 0) << read_file(m_temp / "push.log");
  EXPECT_NE(read_file(m_temp / "push.log").find("web-1  v1  vote yes  committed"),
            std::string::npos)
    << read_file(m_temp / "push.log");
  expect_same("web-1");
  EXPECT_TRUE(no_stage(dir("web-1")));
}

TEST_F(cli_fleet, AScriptAsksTheRouterWithAPlainReqSocket)
{
  zmq::context_t context;
  zmq::socket_t req(context, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.set(zmq::sockopt::rcvtimeo, 10000);
  req.connect("tcp://127.0.0.1:" + std::to_string(m_port + 1));
  auto ask = [&](const std::vector<std::uint8_t>& bytes) {
    (void)req.send(zmq::buffer(bytes), zmq::send_flags::none);
    zmq::message_t reply;
    EXPECT_TRUE(req.recv(reply)) << "no reply";
    auto m = treecast::wire::decode({reply.data<std::uint8_t>(), reply.size()});
    EXPECT_TRUE(m) << m.error().message;
    return m ? *m : treecast::wire::Message{};
  };
  // STATUS for every channel: "TC" 01 14 00.
  const auto status = ask({0x54, 0x43, 0x01, 0x14, 0x00});
  ASSERT_TRUE(std::holds_alternative<treecast::wire::StatusReply>(status));
  const auto json = nlohmann::json::parse(std::get<treecast::wire::StatusReply>(status).json);
  EXPECT_EQ(json["channels"][0]["channel"], "nginx");
  // Garbage gets ERROR malformed, and the master goes on.
  const auto error = ask({'h', 'e', 'l', 'l', 'o'});
  ASSERT_TRUE(std::holds_alternative<treecast::wire::Error>(error));
  EXPECT_EQ(std::get<treecast::wire::Error>(error).code, treecast::wire::ErrorCode::malformed);
  EXPECT_EQ(std::get<treecast::wire::Error>(error).message,
            "not a treecast message (no signature)");
  EXPECT_TRUE(std::holds_alternative<treecast::wire::StatusReply>(
    ask(treecast::wire::encode(treecast::wire::Status{"nginx"}))));
}

TEST_F(cli_fleet, AFollowerWhoseDiskIsFullVotesNoAndKeepsItsTree)
{
  follow("web-1");
  // web-2 may write files of 100 KiB at most: a full disk, as far as its
  // writes can tell (SIGXFSZ ignored, so a write fails instead).
  m_followers["web-2"] = std::make_unique<Daemon>(
    std::vector<std::string>{"/bin/sh", "-c",
                             "trap '' XFSZ; ulimit -f 100; exec \"$0\" follow --master \"$1\" "
                             "--channel nginx --dir \"$2\" --id web-2",
                             TREECAST_BIN, address(), dir("web-2")},
    m_temp / "web-2.log");
  ASSERT_TRUE(wait_until([&] { return alive(2); })) << read_file(m_temp / "web-2.log");
  ASSERT_EQ(push().exit_code, 0) << read_file(m_temp / "web-2.log");
  fs::copy(m_source, m_temp / "committed",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  // 4 MiB of new content that does not compress: the delta is larger than
  // web-2 may write.
  std::string noise(4 << 20, '\0');
  std::uint64_t x = 88172645463325252ULL;
  for (char& c : noise) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  write_file(m_source + "/big.bin", noise);
  const auto r = push({"--timeout", "30s"});
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
  EXPECT_NE(r.out.find("web-2  v1  vote no  aborted"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("File too large"), std::string::npos) << r.out;
  EXPECT_EQ(compare_trees(m_temp / "committed", dir("web-1")), "");
  EXPECT_EQ(compare_trees(m_temp / "committed", dir("web-2")), "");
  EXPECT_TRUE(no_stage(dir("web-2")));
}

TEST_F(cli_fleet, MaxDeleteRefusesATreeEmptiedByMistake)
{
  follow("web-1");
  ASSERT_TRUE(wait_until([&] { return alive(1); }));
  for (int i = 0; i < 8; ++i) {
    write_file(m_source + "/conf.d/site-" + std::to_string(i) + ".conf", "x\n");
  }
  ASSERT_EQ(push().exit_code, 0);
  expect_same("web-1");
  fs::copy(m_source, m_temp / "committed",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  fs::remove_all(m_source + "/conf.d");
  const auto refused = push({"--max-delete", "10%"});
  EXPECT_EQ(refused.exit_code, 6) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("deletes 9 of the 14 entries of v1, more than --max-delete 10% "
                             "allows; nothing was pushed"),
            std::string::npos)
    << refused.err;
  EXPECT_EQ(compare_trees(m_temp / "committed", dir("web-1")), "");
  EXPECT_NE(push({"--max-delete", "0"}).exit_code, 0);
  EXPECT_EQ(push({"--max-delete", "x"}).exit_code, 6);
  const auto allowed = push({"--max-delete", "9"});
  EXPECT_EQ(allowed.exit_code, 0) << allowed.out << allowed.err;
  expect_same("web-1");
}

TEST_F(cli_fleet, DryRunShowsTheChangesAndTheDeltaAndPushesNothing)
{
  follow("web-1");
  ASSERT_TRUE(wait_until([&] { return alive(1); }));
  ASSERT_EQ(push().exit_code, 0);
  expect_same("web-1");
  fs::copy(m_source, m_temp / "committed",
           fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  write_file(m_source + "/nginx.conf", "worker_processes 4;\n");
  write_file(m_source + "/conf.d/new.conf", "gzip on;\n");
  fs::remove(m_source + "/enabled");

  const auto shown = push({"--dry-run"});
  ASSERT_EQ(shown.exit_code, 0) << shown.out << shown.err;
  for (const char* line :
       {"nginx: v1 -> v2 would change 4 entries\n", "A  conf.d\n", "A  conf.d/new.conf\n",
        "D  enabled\n", "M  nginx.conf\n", "nothing was pushed (--dry-run)\n"}) {
    EXPECT_NE(shown.out.find(line), std::string::npos) << line << " in\n" << shown.out;
  }
  EXPECT_NE(shown.out.find(", for 1 follower (web-1)\n"), std::string::npos) << shown.out;

  const auto json = push({"--dry-run", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_EQ(j["result"], "dry_run");
  EXPECT_EQ(j["version"], 2);
  ASSERT_EQ(j["deltas"].size(), 1U);
  EXPECT_EQ(j["deltas"][0]["from"], 1);
  EXPECT_GT(j["deltas"][0]["bytes"].get<std::uint64_t>(), 0U);

  // Nothing moved: not the fleet, not the channel's versions.
  EXPECT_EQ(compare_trees(m_temp / "committed", dir("web-1")), "");
  const auto log = run({TREECAST_BIN, "log", "--channel", "nginx", "--store", m_store, "--json"});
  ASSERT_EQ(log.exit_code, 0) << log.err;
  EXPECT_EQ(nlohmann::json::parse(log.out).size(), 1U) << log.out;

  // Would --max-delete refuse it? Exit 6, as the push would.
  const auto refused = push({"--dry-run", "--max-delete", "0"});
  EXPECT_EQ(refused.exit_code, 6) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("push would refuse it: v2 deletes 1 of the "), std::string::npos)
    << refused.out;

  // The push itself records the tree as version 2 and moves the fleet.
  const auto pushed = push();
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  EXPECT_NE(pushed.out.find("nginx v2 committed"), std::string::npos) << pushed.out;
  expect_same("web-1");
  EXPECT_EQ(push({"--dry-run"}).out, "nginx: unchanged, v2; a push would record nothing\n");
}

TEST_F(cli_fleet, ExecSplayAcknowledgesFirstAndReloadsOnceLaterEvenAfterARestart)
{
  const std::string reloads = m_temp / "reloads";
  const std::string owed = m_temp / ".tree-web-1.treecast/exec.pending";
  const std::string hook = "echo $TREECAST_VERSION >> " + reloads;
  // A splay of an hour: the commit is acknowledged, the reload owed.
  follow("web-1", {"--exec", hook, "--exec-splay", "1h"});
  ASSERT_TRUE(wait_until([&] { return alive(1); }));
  for (int round = 1; round <= 2; ++round) {
    write_file(m_source + "/nginx.conf", "worker_processes " + std::to_string(round) + ";\n");
    const auto r = push();
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("web-1  v" + std::to_string(round - 1) + "  vote yes  committed"),
              std::string::npos)
      << r.out;
    expect_same("web-1");
  }
  EXPECT_TRUE(fs::exists(owed));
  EXPECT_FALSE(fs::exists(reloads));
  // Stopped before its moment: the reload stays owed, and a follower
  // started again runs it, once, for the version the tree holds.
  ASSERT_EQ(m_followers["web-1"]->stop(), 0);
  EXPECT_TRUE(fs::exists(owed));
  follow("web-1", {"--exec", hook, "--exec-splay", "100ms"});
  ASSERT_TRUE(wait_until([&] { return fs::exists(reloads) && !fs::exists(owed); }))
    << read_file(m_temp / "web-1.log");
  EXPECT_EQ(read_file(reloads), "2\n");
  // Later commits are each reloaded within the splay.
  write_file(m_source + "/nginx.conf", "worker_processes 3;\n");
  ASSERT_EQ(push().exit_code, 0);
  // (The mark goes once the hook has run.)
  ASSERT_TRUE(wait_until([&] { return read_file(reloads) == "2\n3\n" && !fs::exists(owed); }))
    << read_file(reloads) << read_file(m_temp / "web-1.log");
}

TEST_F(cli_fleet, ACanaryCommitsFirstAndIsRolledBackWhenItsHealthCheckFails)
{
  // The canary is healthy while nginx.conf says "ok".
  follow("web-1", {"--group", "canary", "--health", "grep -q '^ok' $TREECAST_DIR/nginx.conf"});
  follow("web-2");
  follow("web-3");
  ASSERT_TRUE(wait_until([&] { return alive(3); }));
  write_file(m_source + "/nginx.conf", "ok 1\n");
  ASSERT_EQ(push().exit_code, 0);
  for (const char* id : {"web-1", "web-2", "web-3"}) {
    expect_same(id);
  }

  // Healthy: the canary first, then the rest, to the same version.
  write_file(m_source + "/nginx.conf", "ok 2\n");
  const auto healthy = push({"--canary", "canary"});
  ASSERT_EQ(healthy.exit_code, 0) << healthy.out << healthy.err;
  EXPECT_NE(healthy.out.find("canary canary: web-1  v1  vote yes  committed\n"), std::string::npos)
    << healthy.out;
  EXPECT_NE(healthy.out.find("web-2  v1  vote yes  committed\n"), std::string::npos) << healthy.out;
  EXPECT_NE(healthy.out.find("nginx v2 committed"), std::string::npos) << healthy.out;
  for (const char* id : {"web-1", "web-2", "web-3"}) {
    expect_same(id);
  }

  // Unhealthy: the canary goes back to v2, and the rest never moved.
  fs::copy(m_source, m_temp / "v2", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  write_file(m_source + "/nginx.conf", "broken\n");
  const auto sick = push({"--canary", "canary", "--json"});
  EXPECT_EQ(sick.exit_code, 7) << sick.out << sick.err;
  const auto j = nlohmann::json::parse(sick.out);
  EXPECT_EQ(j["result"], "abort");
  EXPECT_NE(j["reason"].get<std::string>().find("the health check failed on web-1: "),
            std::string::npos)
    << j.dump();
  EXPECT_NE(j["reason"].get<std::string>().find("the canaries were rolled back to v2"),
            std::string::npos)
    << j.dump();
  ASSERT_EQ(j["followers"].size(), 1U) << j.dump();
  EXPECT_EQ(j["followers"][0]["result"], "unhealthy");
  EXPECT_EQ(j["canary"]["rollback"]["result"], "commit");
  for (const char* id : {"web-1", "web-2", "web-3"}) {
    EXPECT_TRUE(wait_until([&] { return compare_trees(m_temp / "v2", dir(id)).empty(); }))
      << id << ": " << compare_trees(m_temp / "v2", dir(id));
  }
  const auto s = status();
  EXPECT_EQ(s["channels"][0]["committed"], 2);
  EXPECT_TRUE(s["channels"][0]["canary"].is_null()) << s.dump();
  const auto plain = run({TREECAST_BIN, "status", "--store", m_store});
  EXPECT_NE(plain.out.find("  web-1  v2  idle  alive  seen "), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("  group canary"), std::string::npos) << plain.out;

  // Refused: a group nobody is in.
  const auto nobody = push({"--canary", "eu-1"});
  EXPECT_EQ(nobody.exit_code, 6) << nobody.out << nobody.err;
  EXPECT_NE(nobody.err.find("no follower of group eu-1 of nginx is alive"), std::string::npos)
    << nobody.err;
}

TEST_F(cli_fleet, ASyncThatEndedIsNoVoterOfTheNextPush)
{
  ASSERT_EQ(push().exit_code, 0);
  // A sync from cron, then a push from cron in the same second.
  const auto synced = run({TREECAST_BIN, "sync", "--master", address(), "--channel", "nginx",
                           "--dir", dir("cron-1"), "--id", "cron-1"});
  ASSERT_EQ(synced.exit_code, 0) << synced.err;
  expect_same("cron-1");
  EXPECT_TRUE(wait_until([&] { return status()["channels"][0]["followers_total"] == 0; }))
    << status().dump();
  write_file(m_source + "/nginx.conf", "worker_processes 9;\n");
  const auto start = std::chrono::steady_clock::now();
  const auto pushed = push({"--timeout", "20s"});
  EXPECT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  EXPECT_EQ(pushed.out.find("cron-1"), std::string::npos) << pushed.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(cli_fleet, ACommitThatAFollowerCannotStandIsItsOwnExitCode)
{
  follow("web-1", {"--health", "echo upstream down >&2; exit 1"});
  follow("web-2");
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  const auto r = push();
  EXPECT_EQ(r.exit_code, 10) << r.out << r.err;
  EXPECT_NE(r.out.find("nginx v1 committed"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("v1 of nginx is committed, but not applied and healthy on 1 follower: "
                       "web-1 unhealthy: upstream down"),
            std::string::npos)
    << r.err;
  expect_same("web-1");
  expect_same("web-2");
}

TEST_F(cli_fleet, ACanaryWhoseReloadsAreSpreadStillChecksItsHealthBeforeTheRest)
{
  // Reloads spread over an hour, but a canary's is not: its health check
  // must see it, and decide.
  follow("web-1", {"--group", "canary", "--exec", "true", "--exec-splay", "1h", "--health",
                   "grep -q '^ok' $TREECAST_DIR/nginx.conf"});
  follow("web-2");
  ASSERT_TRUE(wait_until([&] { return alive(2); }));
  write_file(m_source + "/nginx.conf", "ok\n");
  ASSERT_EQ(push().exit_code, 0);
  fs::copy(m_source, m_temp / "v1", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  write_file(m_source + "/nginx.conf", "broken\n");
  const auto r = push({"--canary", "canary"});
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
  EXPECT_NE(r.out.find("canary canary: web-1  v1  vote yes  unhealthy"), std::string::npos)
    << r.out;
  for (const char* id : {"web-1", "web-2"}) {
    EXPECT_TRUE(wait_until([&] { return compare_trees(m_temp / "v1", dir(id)).empty(); }))
      << id << ": " << compare_trees(m_temp / "v1", dir(id));
  }
}

TEST_F(cli_fleet, SyncOfAChannelTheMasterDoesNotServeSaysSoAtOnce)
{
  const auto start = std::chrono::steady_clock::now();
  const auto r = run({TREECAST_BIN, "sync", "--master", address(), "--channel", "certs", "--dir",
                      dir("web-1"), "--timeout", "30s"});
  EXPECT_EQ(r.exit_code, 6) << r.err;
  EXPECT_NE(r.err.find("serves no channel certs"), std::string::npos) << r.err;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(15));
}

TEST_F(cli_fleet, ANewFollowerCatchesUpToATreeThatIsTwoVersions)
{
  // web-1 starts from nothing at v1: the delta from nothing to v1 is made.
  follow("web-1");
  ASSERT_TRUE(wait_until([&] { return alive(1); }));
  ASSERT_EQ(push().exit_code, 0);
  expect_same("web-1");
  fs::copy(m_source, m_temp / "v1", fs::copy_options::recursive | fs::copy_options::copy_symlinks);
  write_file(m_source + "/nginx.conf", "worker_processes 2;\n");
  ASSERT_EQ(push().exit_code, 0);
  // v3 is v1's tree again: same id, another number.
  const auto back = run({TREECAST_BIN, "rollback", "nginx", "--to", "v1", "--store", m_store});
  ASSERT_EQ(back.exit_code, 0) << back.out << back.err;
  // A follower new to the fleet gets v3, not the delta cached for v1.
  const auto synced = run({TREECAST_BIN, "sync", "--master", address(), "--channel", "nginx",
                           "--dir", dir("web-2"), "--id", "web-2"});
  ASSERT_EQ(synced.exit_code, 0) << synced.err;
  EXPECT_EQ(compare_trees(m_temp / "v1", dir("web-2")), "");
  const auto mine = run({TREECAST_BIN, "status", "--dir", dir("web-2"), "--json"});
  EXPECT_EQ(nlohmann::json::parse(mine.out)["version"], 3) << mine.out;
}

// A POSIX ACL in the kernel's form: user::rw- user:65534:r-- group::r--
// mask::r-- other::r--.
std::string access_acl()
{
  std::string acl;
  auto u16 = [&](unsigned v) {
    acl += static_cast<char>(v & 0xff), acl += static_cast<char>(v >> 8);
  };
  auto u32 = [&](std::uint32_t v) {
    u16(v & 0xffff);
    u16(v >> 16);
  };
  u32(2); // version
  for (auto [tag, perm, id] :
       {std::tuple{0x01U, 6U, 0xffffffffU}, std::tuple{0x02U, 4U, 65534U},
        std::tuple{0x04U, 4U, 0xffffffffU}, std::tuple{0x10U, 4U, 0xffffffffU},
        std::tuple{0x20U, 4U, 0xffffffffU}}) {
    u16(tag);
    u16(perm);
    u32(id);
  }
  return acl;
}

std::string xattr(const std::string& path, const std::string& name)
{
  std::string value(4096, '\0');
  const ssize_t n = ::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
  return n < 0 ? "(none)" : value.substr(0, static_cast<std::size_t>(n));
}

TEST(cli_fleet_xattrs, ExtendedAttributesAndAclsReachTheFollowerAndFollowEveryChange)
{
  TempDir temp;
  const std::string source = temp / "source";
  write_file(source + "/site.conf", "listen 80;\n");
  const std::string acl = access_acl();
  if (::lsetxattr((source + "/site.conf").c_str(), "user.color", "blue", 4, 0) != 0 ||
      ::lsetxattr((source + "/site.conf").c_str(), "system.posix_acl_access", acl.data(),
                  acl.size(), 0) != 0) {
    GTEST_SKIP() << "this file system takes no user xattrs or ACLs: " << std::strerror(errno);
  }
  const int port = free_port_pair();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Daemon master({TREECAST_BIN, "serve", "--store", temp / "store", "--channel", "web=" + source,
                 "--bind", address, "--xattrs", "--acls"},
                temp / "serve.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(temp / "store/control"); }));
  const std::string tree = temp / "tree";
  Daemon follower({TREECAST_BIN, "follow", "--master", address, "--channel", "web", "--dir", tree,
                   "--id", "web-1"},
                  temp / "follow.log");
  auto push = [&] {
    const auto r = run({TREECAST_BIN, "push", "web", "--store", temp / "store"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << read_file(temp / "follow.log");
  };
  ASSERT_TRUE(wait_until([&] {
    const auto r = run({TREECAST_BIN, "status", "--store", temp / "store", "--json"});
    return r.exit_code == 0 && r.out.find("\"alive\": true") != std::string::npos;
  }));
  push();
  EXPECT_TRUE(wait_until([&] { return xattr(tree + "/site.conf", "user.color") == "blue"; }))
    << read_file(temp / "follow.log");
  EXPECT_EQ(xattr(tree + "/site.conf", "system.posix_acl_access"), acl);

  // Only the attribute changes: the file is not written again, its
  // attribute is.
  ASSERT_EQ(::lsetxattr((source + "/site.conf").c_str(), "user.color", "red", 3, 0), 0);
  push();
  EXPECT_TRUE(wait_until([&] { return xattr(tree + "/site.conf", "user.color") == "red"; }));

  // Removed on the master: removed on the follower.
  ASSERT_EQ(::lremovexattr((source + "/site.conf").c_str(), "user.color"), 0);
  push();
  EXPECT_TRUE(wait_until([&] { return xattr(tree + "/site.conf", "user.color") == "(none)"; }));
  EXPECT_EQ(xattr(tree + "/site.conf", "system.posix_acl_access"), acl);

  // A local change is drift, and verify (the follower stopped: it holds
  // the tree's lock) says which.
  EXPECT_EQ(follower.stop(), 0);
  const auto clean = run({TREECAST_BIN, "verify", tree});
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  std::string widened = acl;
  widened[14] = 6; // user:65534:rw-
  ASSERT_EQ(::lsetxattr((tree + "/site.conf").c_str(), "system.posix_acl_access", widened.data(),
                        widened.size(), 0),
            0)
    << std::strerror(errno);
  const auto drifted = run({TREECAST_BIN, "verify", tree});
  EXPECT_EQ(drifted.exit_code, 6) << drifted.out << drifted.err;
  EXPECT_NE((drifted.out + drifted.err).find("site.conf (xattrs)"), std::string::npos)
    << drifted.out << drifted.err;
}

} // namespace
