// A real master and real followers on loopback: treecast serve, follow,
// sync, push, status and abort, as an operator runs them. Every wait has a
// deadline; every process is stopped when the test ends.

#include "support/daemon.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

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
  // Nothing changed: nothing printed, exit 0.
  const auto same = push();
  EXPECT_EQ(same.exit_code, 0) << same.err;
  EXPECT_EQ(same.out, "");
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

} // namespace
