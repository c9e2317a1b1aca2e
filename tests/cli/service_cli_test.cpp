// serve and follow as systemd runs them (Type=notify, WatchdogSec=, the
// journal on stderr), and their log levels: what an operator sees in
// systemctl status and journalctl.

#include "net/metrics.hpp"
#include "support/daemon.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

// systemd's end of NOTIFY_SOCKET: a datagram socket in the test's folder.
class NotifySocket
{
public:
  explicit NotifySocket(const std::string& path) : m_path(path)
  {
    m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    if (::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      ADD_FAILURE() << "cannot bind " << path;
    }
  }
  ~NotifySocket() { ::close(m_fd); }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  // Reads datagrams until one contains text; all of them, in order.
  bool wait_for(const std::string& text, std::chrono::milliseconds deadline)
  {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{m_fd, POLLIN, 0};
      if (::poll(&p, 1, 50) != 1) {
        continue;
      }
      char buffer[4096];
      const ssize_t n = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        m_heard.emplace_back(buffer, static_cast<std::size_t>(n));
        if (m_heard.back().find(text) != std::string::npos) {
          return true;
        }
      }
    }
    return false;
  }

  std::string heard() const
  {
    std::string all;
    for (const auto& h : m_heard) {
      all += "[" + h + "] ";
    }
    return all;
  }

private:
  std::string m_path;
  int m_fd = -1;
  std::vector<std::string> m_heard;
};

// Sets an environment variable for the processes started while it lives.
class Env
{
public:
  Env(const char* name, const std::string& value) : m_name(name)
  {
    ::setenv(name, value.c_str(), 1);
  }
  ~Env() { ::unsetenv(m_name); }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

private:
  const char* m_name;
};

class cli_service : public ::testing::Test
{
protected:
  void SetUp() override
  {
    m_port = free_port_pair();
    m_store = m_temp / "store";
    m_source = m_temp / "source";
    write_file(m_source + "/nginx.conf", "worker_processes 1;\n");
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(m_port); }

  std::unique_ptr<Daemon> serve(const std::vector<std::string>& more = {})
  {
    std::vector<std::string> argv{TREECAST_BIN,        "serve",  "--store", m_store, "--channel",
                                  "nginx=" + m_source, "--bind", address()};
    argv.insert(argv.end(), more.begin(), more.end());
    auto d = std::make_unique<Daemon>(argv, m_temp / "serve.log");
    EXPECT_TRUE(wait_until([&] { return fs::exists(m_store + "/control"); }))
      << read_file(m_temp / "serve.log");
    return d;
  }

  TempDir m_temp;
  int m_port = 0;
  std::string m_store;
  std::string m_source;
};

TEST_F(cli_service, ServeSaysReadyFeedsTheWatchdogAndSaysStopping)
{
  NotifySocket systemd(m_temp / "notify");
  std::unique_ptr<Daemon> master;
  {
    const Env notify("NOTIFY_SOCKET", m_temp / "notify");
    const Env watchdog("WATCHDOG_USEC", "400000");
    master = serve();
  }
  ASSERT_TRUE(systemd.wait_for("READY=1", std::chrono::seconds(10))) << systemd.heard();
  EXPECT_NE(systemd.heard().find("STATUS=serving 1 channel"), std::string::npos) << systemd.heard();
  // Every half interval while the loop turns.
  ASSERT_TRUE(systemd.wait_for("WATCHDOG=1", std::chrono::seconds(5))) << systemd.heard();
  ASSERT_TRUE(systemd.wait_for("WATCHDOG=1", std::chrono::seconds(5))) << systemd.heard();
  EXPECT_EQ(master->stop(), 0);
  EXPECT_TRUE(systemd.wait_for("STOPPING=1", std::chrono::seconds(5))) << systemd.heard();
}

TEST_F(cli_service, FollowTakesOneChannelOfItsConfigAndShowsItsVersion)
{
  const std::string tree = m_temp / "etc/nginx";
  const std::string config = m_temp / "treecast.toml";
  write_file(config, "[follow]\nmaster = \"" + address() +
                       "\"\nid = \"web-1\"\n\n"
                       "[[follow.channel]]\nname = \"nginx\"\ndir = \"" +
                       tree +
                       "\"\n\n"
                       "[[follow.channel]]\nname = \"certs\"\ndir = \"" +
                       (m_temp / "etc/certs") + "\"\n");
  auto master = serve();
  NotifySocket systemd(m_temp / "notify");
  std::unique_ptr<Daemon> follower;
  {
    const Env notify("NOTIFY_SOCKET", m_temp / "notify");
    follower = std::make_unique<Daemon>(
      std::vector<std::string>{TREECAST_BIN, "follow", "--config", config, "--channel", "nginx"},
      m_temp / "follow.log");
  }
  ASSERT_TRUE(systemd.wait_for("READY=1", std::chrono::seconds(10)))
    << systemd.heard() << read_file(m_temp / "follow.log");
  EXPECT_NE(systemd.heard().find("STATUS=nginx at v0"), std::string::npos) << systemd.heard();

  const auto pushed = run({TREECAST_BIN, "push", "nginx", "--store", m_store});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;
  EXPECT_TRUE(systemd.wait_for("STATUS=nginx at v1", std::chrono::seconds(10))) << systemd.heard();
  EXPECT_EQ(compare_trees(m_source, tree), "");
  // The other channel of the file is not followed by this process.
  EXPECT_FALSE(fs::exists(m_temp / "etc/certs"));
  EXPECT_EQ(follower->stop(), 0);
}

TEST_F(cli_service, FollowRefusesAChannelItsConfigDoesNotHave)
{
  const std::string config = m_temp / "treecast.toml";
  write_file(config, "[follow]\nmaster = \"" + address() +
                       "\"\n\n[[follow.channel]]\nname = \"nginx\"\ndir = \"/nowhere\"\n");
  const auto r = run({TREECAST_BIN, "follow", "--config", config, "--channel", "certs"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("channel certs is not in " + config), std::string::npos) << r.err;
}

TEST_F(cli_service, LogLinesCarryTheirLevelAndQuietLeavesOutTheLowOnes)
{
  {
    auto master = serve();
    EXPECT_EQ(master->stop(), 0);
  }
  const std::string normal = read_file(m_temp / "serve.log");
  EXPECT_NE(normal.find("Z notice: serving 1 channel on tcp://" + address()), std::string::npos)
    << normal;
  fs::remove(m_temp / "serve.log");
  {
    auto master = serve({"-q", "-q"});
    EXPECT_EQ(master->stop(), 0);
  }
  EXPECT_EQ(read_file(m_temp / "serve.log"), "");
}

TEST_F(cli_service, UnderTheJournalALineStartsWithItsPriority)
{
  // systemd names the stream it gave as stderr; here, the log file.
  write_file(m_temp / "serve.log", "");
  struct stat st
  {};
  ASSERT_EQ(::stat((m_temp / "serve.log").c_str(), &st), 0);
  std::unique_ptr<Daemon> master;
  {
    const Env journal("JOURNAL_STREAM",
                      std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino));
    master = serve();
  }
  EXPECT_EQ(master->stop(), 0);
  const std::string log = read_file(m_temp / "serve.log");
  EXPECT_EQ(log.rfind("<5>serving 1 channel on tcp://" + address(), 0), 0U) << log;
  EXPECT_NE(log.find("\n<5>stopping\n"), std::string::npos) << log;
}

// One HTTP exchange with 127.0.0.1:port; the whole response.
std::string http(int port, const std::string& request)
{
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) != 1) {
        continue;
      }
      char buffer[4096];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        break; // the server closed the connection: the response is whole
      }
      response.append(buffer, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return response;
}

TEST_F(cli_service, AMetricsPortThatIsTakenStopsServeAndLeavesNoControlSocket)
{
  // A listener of ours holds the port.
  const int port = free_port_pair();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const auto r = run({TREECAST_BIN, "serve", "--store", m_store, "--channel", "nginx=" + m_source,
                      "--bind", address(), "--metrics", "127.0.0.1:" + std::to_string(port)},
                     {}, std::chrono::seconds(30));
  ::close(fd);
  EXPECT_EQ(r.exit_code, 4) << r.err;
  EXPECT_NE(r.err.find("cannot listen for metrics on tcp://127.0.0.1:" + std::to_string(port)),
            std::string::npos)
    << r.err;
  EXPECT_FALSE(fs::exists(m_store + "/control"));
}

TEST_F(cli_service, PrometheusScrapesTheFleetAndItsTransactions)
{
  const int metrics_port = free_port_pair();
  const std::string file = m_temp / "treecast.prom";
  auto master =
    serve({"--metrics", "127.0.0.1:" + std::to_string(metrics_port), "--metrics-file", file});
  Daemon follower({TREECAST_BIN, "follow", "--master", address(), "--channel", "nginx", "--dir",
                   m_temp / "tree", "--id", "web-1"},
                  m_temp / "follow.log");
  const std::string get = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_TRUE(wait_until([&] {
    return http(metrics_port, get).find("treecast_followers_alive{channel=\"nginx\"} 1\n") !=
           std::string::npos;
  }))
    << http(metrics_port, get);
  const auto pushed = run({TREECAST_BIN, "push", "nginx", "--store", m_store});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.out << pushed.err;

  const std::string scraped = http(metrics_port, get);
  EXPECT_EQ(scraped.rfind("HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4", 0), 0U)
    << scraped;
  for (const char* line :
       {"treecast_committed_version{channel=\"nginx\"} 1\n",
        "treecast_transactions_total{channel=\"nginx\",outcome=\"commit\"} 1\n",
        "treecast_transactions_total{channel=\"nginx\",outcome=\"abort\"} 0\n",
        "treecast_transaction_duration_seconds_count{channel=\"nginx\"} 1\n",
        "treecast_transaction_duration_seconds_bucket{channel=\"nginx\",le=\"+Inf\"} 1\n",
        "treecast_delta_cache_misses_total{channel=\"nginx\"} 1\n",
        "# TYPE treecast_transaction_duration_seconds histogram\n"}) {
    EXPECT_NE(scraped.find(line), std::string::npos) << line << " in\n" << scraped;
  }
  // The follower's version moves when its next HELLO says so.
  EXPECT_TRUE(wait_until([&] {
    return http(metrics_port, get)
             .find("treecast_follower_version{channel=\"nginx\",follower=\"web-1\"} 1\n") !=
           std::string::npos;
  }))
    << http(metrics_port, get);
  // A small delta went inside the PREPARE: its bytes are counted.
  EXPECT_EQ(scraped.find("treecast_delta_bytes_sent_total{channel=\"nginx\",how=\"inline\"} 0\n"),
            std::string::npos)
    << scraped;

  // The file says the same, rewritten after the transaction.
  EXPECT_TRUE(wait_until([&] {
    return read_file(file).find(
             "treecast_transactions_total{channel=\"nginx\",outcome=\"commit\"} 1\n") !=
           std::string::npos;
  }))
    << read_file(file);

  // Anything else is refused, and a request too large costs a bounded buffer.
  EXPECT_EQ(http(metrics_port, "GET /other HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 404", 0), 0U);
  EXPECT_EQ(http(metrics_port, "POST /metrics HTTP/1.0\r\n\r\n").rfind("HTTP/1.0 405", 0), 0U);
  EXPECT_EQ(http(metrics_port, "GET /metrics HTTP/1.0\r\nX: " + std::string(10000, 'x'))
              .rfind("HTTP/1.0 431", 0),
            0U);
  EXPECT_EQ(master->stop(), 0);
}

} // namespace

namespace {

TEST(MetricsText, LabelValuesAreEscapedAsTheTextFormatWants)
{
  EXPECT_EQ(treecast::net::label_value("web-1"), "web-1");
  EXPECT_EQ(treecast::net::label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

} // namespace
