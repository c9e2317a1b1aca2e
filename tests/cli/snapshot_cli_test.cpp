// treecast snapshot, run as a user runs it: what it prints, what it records
// (seen through log and show), what it leaves out, and that a failure records
// nothing at all.

#include "cli/cli_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <regex>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

using cli_snapshot = CliTest;

// A small tree: two files, a folder, an empty folder and a symlink.
void small_tree(const std::string& root)
{
  write_file(root + "/a.txt", "hello\n");
  write_file(root + "/sub/b", "x\n");
  make_dir(root + "/empty");
  make_symlink("a.txt", root + "/link");
}

std::vector<std::uint64_t> numbers_of(const nlohmann::json& log)
{
  std::vector<std::uint64_t> numbers;
  for (const auto& v : log) {
    numbers.push_back(v["number"].get<std::uint64_t>());
  }
  return numbers;
}

bool contains(const std::vector<std::string>& v, const std::string& s)
{
  return std::find(v.begin(), v.end(), s) != v.end();
}

std::size_t files_in(const std::string& folder)
{
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(folder)) {
    n += e.is_regular_file() ? 1 : 0;
  }
  return n;
}

} // namespace

TEST_F(cli_snapshot, FirstVersionPrintsNumberIdAndCounts)
{
  small_tree(m_tree);
  const RunResult r = tc({"snapshot", m_tree});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  // 5 entries (a.txt, empty, link, sub, sub/b), 8 bytes of new content.
  std::smatch m;
  ASSERT_TRUE(
    std::regex_match(r.out, m, std::regex("v1 ([0-9a-f]{12}) \\(5 changed, 8 B new\\)\n")))
    << r.out;
  EXPECT_EQ(r.err, "");

  const nlohmann::json log = log_json();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["number"], 1);
  EXPECT_EQ(log[0]["parent"], 0);
  EXPECT_TRUE(log[0]["id"].get<std::string>().starts_with(m[1].str()));
  EXPECT_EQ(paths_of("v1"), (std::vector<std::string>{"a.txt", "empty", "link", "sub", "sub/b"}));
}

TEST_F(cli_snapshot, OptionsGoBeforeOrAfterArgumentsWithOrWithoutEquals)
{
  small_tree(m_tree);
  const RunResult r = tc_raw(
    {"snapshot", "--store=" + m_store, "--channel=" + m_channel, "--message=equals", m_tree});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(log_json()[0]["message"], "equals");
}

TEST_F(cli_snapshot, UnchangedTreeRecordsNothing)
{
  small_tree(m_tree);
  const std::string first = snapshot(m_tree);
  const std::string label = first.substr(0, first.find(" ("));

  RunResult r = tc({"snapshot", m_tree});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(r.out, label + " unchanged, nothing recorded\n");

  // New mtimes alone are not a change either.
  ::utimensat(AT_FDCWD, (m_tree + "/a.txt").c_str(), nullptr, 0);
  ::utimensat(AT_FDCWD, (m_tree + "/sub").c_str(), nullptr, 0);
  r = tc({"snapshot", m_tree, "-m", "ignored"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(r.out, label + " unchanged, nothing recorded\n");

  const nlohmann::json log = log_json();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0]["message"], "");
  EXPECT_EQ(lines_of(tc({"log"}).out).size(), 1u);
}

TEST_F(cli_snapshot, AChangeRecordsTheNextVersion)
{
  small_tree(m_tree);
  snapshot(m_tree);
  write_file(m_tree + "/a.txt", "hello again\n");
  const RunResult r = tc({"snapshot", m_tree});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_TRUE(std::regex_match(r.out, std::regex("v2 [0-9a-f]{12} \\(1 changed, 12 B new\\)\n")))
    << r.out;

  const nlohmann::json log = log_json();
  EXPECT_EQ(numbers_of(log), (std::vector<std::uint64_t>{2, 1}));
  EXPECT_EQ(log[0]["parent"], 1);
  EXPECT_NE(log[0]["id"], log[1]["id"]);
}

TEST_F(cli_snapshot, MessageShowsInLogAndShow)
{
  small_tree(m_tree);
  snapshot(m_tree, {"-m", "first import"});
  write_file(m_tree + "/new.conf", "listen 80;\n");
  snapshot(m_tree, {"--message", "deploy 42: new vhost"});

  const std::vector<std::string> log = lines_of(tc({"log"}).out);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_TRUE(log[0].starts_with("v2 ") && log[0].ends_with("  deploy 42: new vhost")) << log[0];
  EXPECT_TRUE(log[1].starts_with("v1 ") && log[1].ends_with("  first import")) << log[1];

  const RunResult show = tc({"show", "v2"});
  ASSERT_EQ(show.exit_code, 0) << testing::PrintToString(show);
  EXPECT_TRUE(contains(lines_of(show.out), "message  deploy 42: new vhost")) << show.out;
  EXPECT_EQ(show_json("1")["message"], "first import");
  EXPECT_EQ(log_json()[0]["message"], "deploy 42: new vhost");
}

TEST_F(cli_snapshot, MultiLineMessageKeepsLogOneLinePerVersion)
{
  // Scripts read `treecast log` line by line: one version, one line.
  small_tree(m_tree);
  snapshot(m_tree, {"-m", "summary\n\ndetails of the change"});
  write_file(m_tree + "/a.txt", "v2\n");
  snapshot(m_tree, {"-m", "second"});
  const RunResult r = tc({"log"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_TRUE(lines[1].starts_with("v1 ")) << r.out;
  // The whole message is still there for scripts.
  EXPECT_EQ(show_json("v1")["message"], "summary\n\ndetails of the change");
}

TEST_F(cli_snapshot, NumbersRiseByOneAndAreNeverReusedAfterGc)
{
  write_file(m_tree + "/f", "0");
  for (int i = 1; i <= 3; ++i) {
    write_file(m_tree + "/f", std::to_string(i));
    EXPECT_TRUE(snapshot(m_tree).starts_with("v" + std::to_string(i) + " "));
  }
  ASSERT_EQ(tc({"gc", "--keep", "1"}).exit_code, 0);
  EXPECT_EQ(numbers_of(log_json()), (std::vector<std::uint64_t>{3}));

  write_file(m_tree + "/f", "4");
  EXPECT_TRUE(snapshot(m_tree).starts_with("v4 "));
  const nlohmann::json v4 = show_json("latest");
  EXPECT_EQ(v4["number"], 4);
  EXPECT_EQ(v4["parent"], 3);

  // Even with only the latest left, and back to an older tree's content.
  ASSERT_EQ(tc({"gc", "--keep", "1"}).exit_code, 0);
  write_file(m_tree + "/f", "1");
  EXPECT_TRUE(snapshot(m_tree).starts_with("v5 "));
  EXPECT_EQ(numbers_of(log_json()), (std::vector<std::uint64_t>{5, 4}));
}

TEST_F(cli_snapshot, ExcludeLeavesPathsOut)
{
  write_file(m_tree + "/keep.conf", "k");
  write_file(m_tree + "/editor.swp", "s");
  write_file(m_tree + "/conf.d/site.swp", "s");
  write_file(m_tree + "/conf.d/site.conf", "c");
  write_file(m_tree + "/cache/x", "x");   // '/cache': anchored, gone
  write_file(m_tree + "/a/cache/y", "y"); // not at the root: kept
  write_file(m_tree + "/logs/1.gz", "g");
  write_file(m_tree + "/logs/1.txt", "t");
  write_file(m_tree + "/a/logs/2.gz", "g"); // 'logs/*.gz' is anchored: kept
  write_file(m_tree + "/tmp/t", "t");       // 'tmp/': folders at any depth
  write_file(m_tree + "/a/tmp/t", "t");
  write_file(m_tree + "/b/tmp", "a file named tmp"); // not a folder: kept

  snapshot(m_tree, {"--exclude", "*.swp", "--exclude", "/cache", "--exclude", "logs/*.gz",
                    "--exclude", "tmp/"});
  EXPECT_EQ(
    paths_of("latest"),
    (std::vector<std::string>{"a", "a/cache", "a/cache/y", "a/logs", "a/logs/2.gz", "b", "b/tmp",
                              "conf.d", "conf.d/site.conf", "keep.conf", "logs", "logs/1.txt"}));
}

TEST_F(cli_snapshot, StoreAndStateFoldersInsideTheTreeAreNeverIncluded)
{
  small_tree(m_tree);
  m_store = m_tree + "/var/store";
  write_file(m_tree + "/follower/.treecast-state", "");
  write_file(m_tree + "/follower/current", "7\n");
  snapshot(m_tree);
  const std::vector<std::string> paths = paths_of("latest");
  EXPECT_TRUE(contains(paths, "var")) << "the folder holding the store is part of the tree";
  for (const std::string& p : paths) {
    EXPECT_FALSE(p.starts_with("var/store")) << p;
    EXPECT_FALSE(p.starts_with("follower")) << p;
  }
  // The store grew (objects, a manifest, a ref): still the same tree.
  EXPECT_TRUE(tc({"snapshot", m_tree}).out.ends_with(" unchanged, nothing recorded\n"));
}

TEST_F(cli_snapshot, HardLinksAreSeparateFilesWithContentStoredOnce)
{
  write_file(m_tree + "/original", "linked content\n", 0640);
  ASSERT_EQ(::link((m_tree + "/original").c_str(), (m_tree + "/second name").c_str()), 0);
  const RunResult r = tc({"snapshot", m_tree, "--json"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(nlohmann::json::parse(r.out)["new_objects"], 1);
  EXPECT_EQ(object_count(), 1u);
  const RunResult co = tc({"checkout", "v1", m_temp / "out"});
  ASSERT_EQ(co.exit_code, 0) << testing::PrintToString(co);
  EXPECT_EQ(compare_trees(m_tree, m_temp / "out"), "");
}

TEST_F(cli_snapshot, SpecialFilesAreSkippedWithAWarningNamingEach)
{
  small_tree(m_tree);
  const std::string fifo = m_tree + "/pipe";
  const std::string nested_fifo = m_tree + "/sub/deeper/pipe2";
  const std::string sock = m_tree + "/sub/control.sock";
  make_dir(m_tree + "/sub/deeper");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0644), 0) << std::strerror(errno);
  ASSERT_EQ(::mkfifo(nested_fifo.c_str(), 0600), 0) << std::strerror(errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(sock.size(), sizeof addr.sun_path) << "TMPDIR too long for a unix socket path";
  std::memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
    << std::strerror(errno);
  ::close(fd);

  const RunResult r = tc({"snapshot", m_tree});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_TRUE(r.out.starts_with("v1 ")) << r.out;
  const std::vector<std::string> warnings = lines_of(r.err);
  ASSERT_EQ(warnings.size(), 3u) << r.err;
  for (const std::string& path : {fifo, nested_fifo, sock}) {
    EXPECT_EQ(std::count_if(warnings.begin(), warnings.end(),
                            [&](const std::string& w) {
                              return w.starts_with("treecast: warning: ") &&
                                     w.ends_with(" " + path);
                            }),
              1)
      << path << " in\n"
      << r.err;
  }
  EXPECT_NE(r.err.find("FIFO"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("socket"), std::string::npos) << r.err;
  EXPECT_EQ(paths_of("latest"),
            (std::vector<std::string>{"a.txt", "empty", "link", "sub", "sub/b", "sub/deeper"}));
}

TEST_F(cli_snapshot, OddNamesSnapshotAndCheckOutExactly)
{
  const std::vector<std::string> names = {
    "with space", "new\nline", "\xff\xfe-not-utf8",    "-leading-dash",
    "--double",   "tab\there", "quote'and\\backslash", "ünïcode",
  };
  for (const std::string& name : names) {
    write_file(m_tree + "/" + name, "content of " + name);
  }
  write_file(m_tree + "/-d/--x", "nested");
  make_symlink("\xff-target with space", m_tree + "/-link");
  snapshot(m_tree);

  const nlohmann::json v1 = show_json("v1");
  ASSERT_TRUE(v1.is_object());
  std::vector<std::string> raw;
  for (const auto& e : v1["entries"]) {
    if (e.contains("path_hex")) {
      // Non-UTF-8 bytes come in hex too, so a script gets them exactly.
      std::string bytes;
      const std::string hex = e["path_hex"];
      for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
      }
      raw.push_back(bytes);
    } else {
      raw.push_back(e["path"]);
    }
  }
  for (const std::string& name : names) {
    EXPECT_TRUE(contains(raw, name)) << name;
  }
  EXPECT_TRUE(contains(raw, "-d/--x"));
  EXPECT_TRUE(contains(raw, "-link"));

  // Text output stays one line per entry: the newline is escaped.
  const RunResult show = tc({"show", "v1"});
  EXPECT_NE(show.out.find("'new\\nline'"), std::string::npos) << show.out;

  const std::string out = m_temp / "out";
  const RunResult r = tc({"checkout", "v1", out});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(compare_trees(m_tree, out), "");
}

TEST_F(cli_snapshot, JsonOutputHasTheDocumentedFields)
{
  write_file(m_tree + "/one", "1111");
  write_file(m_tree + "/two", "22");
  write_file(m_tree + "/same-as-one", "1111");
  RunResult r = tc({"snapshot", m_tree, "--json"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["recorded"], true);
  EXPECT_EQ(j["channel"], m_channel);
  EXPECT_EQ(j["number"], 1);
  EXPECT_TRUE(std::regex_match(j["id"].get<std::string>(), std::regex("[0-9a-f]{32}"))) << j;
  EXPECT_EQ(j["changed"], 3);
  EXPECT_EQ(j["files_read"], 3);
  EXPECT_EQ(j["bytes_read"], 10);
  EXPECT_EQ(j["new_objects"], 2); // equal contents are stored once
  EXPECT_EQ(j["new_bytes"], 6);
  const std::string id = j["id"];
  EXPECT_EQ(log_json()[0]["id"], id);

  r = tc({"snapshot", m_tree, "--json"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["recorded"], false);
  EXPECT_EQ(j["number"], 1);
  EXPECT_EQ(j["id"], id);
  EXPECT_EQ(j["changed"], 0);
  EXPECT_EQ(j["new_objects"], 0);
  EXPECT_EQ(j["new_bytes"], 0);
}

// All or nothing: an entry the snapshot cannot read fails it, names the path
// and the OS error, and records nothing (no version, no object, no leftover).
class cli_snapshot_unreadable : public CliTest
{
protected:
  RunResult snapshot_unprivileged()
  {
    return tc_unprivileged(
      {"snapshot", m_tree, "--store", m_store, "--channel", m_channel, "-m", "attempt"}, &m_why);
  }

  void SetUp() override
  {
    open_to_unprivileged();
    small_tree(m_tree);
    const RunResult first = snapshot_unprivileged();
    if (!m_why.empty()) {
      GTEST_SKIP() << m_why;
    }
    ASSERT_EQ(first.exit_code, 0) << testing::PrintToString(first);
    m_objects = object_count();
    // New content that must not be stored by the failing attempt.
    write_file(m_tree + "/new.conf", "fresh content\n");
  }

  void expect_nothing_recorded(const RunResult& r, const std::string& path)
  {
    EXPECT_EQ(r.exit_code, 4) << testing::PrintToString(r);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("Permission denied"), std::string::npos) << r.err;
    const nlohmann::json log = log_json();
    ASSERT_EQ(log.size(), 1u) << log;
    EXPECT_EQ(log[0]["number"], 1);
    EXPECT_EQ(object_count(), m_objects);
    EXPECT_EQ(files_in(m_store + "/tmp"), 0u);
  }

  std::string m_why;
  std::size_t m_objects = 0;
};

TEST_F(cli_snapshot_unreadable, UnreadableFileFailsWithExit4AndRecordsNothing)
{
  const std::string secret = m_tree + "/sub/secret.key";
  write_file(secret, "private", 0000);
  const RunResult r = snapshot_unprivileged();
  expect_nothing_recorded(r, secret);

  // Once readable again, the next snapshot is v2 (nothing was consumed).
  ASSERT_EQ(::chmod(secret.c_str(), 0644), 0);
  const RunResult again = snapshot_unprivileged();
  EXPECT_EQ(again.exit_code, 0) << testing::PrintToString(again);
  EXPECT_TRUE(again.out.starts_with("v2 ")) << again.out;
}

TEST_F(cli_snapshot_unreadable, UnreadableFolderFailsWithExit4AndRecordsNothing)
{
  const std::string folder = m_tree + "/private";
  write_file(folder + "/inner", "inner");
  ASSERT_EQ(::chmod(folder.c_str(), 0000), 0);
  const RunResult r = snapshot_unprivileged();
  expect_nothing_recorded(r, folder);
}

TEST_F(cli_snapshot, AProgressLineOnATerminalOnly)
{
  const std::string script = find_program("script");
  if (script.empty()) {
    GTEST_SKIP() << "script(1) is not installed: no terminal to run under";
  }
  write_file(m_tree + "/big", std::string(8 << 20, 'x'));
  write_file(m_tree + "/small", "y");
  // Under script(1), stderr is a terminal: the line shows, then is erased.
  const std::string command =
    std::string(TREECAST_BIN) + " snapshot " + m_tree + " --store " + m_store + " --channel web";
  const RunResult tty =
    run({script, "-qefc", command, "/dev/null"}, {"TREECAST_PROGRESS_AFTER_MS=0"});
  ASSERT_EQ(tty.exit_code, 0) << testing::PrintToString(tty);
  EXPECT_NE(tty.out.find("\rreading "), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find(" of 8.0 MiB, "), std::string::npos) << tty.out;
  EXPECT_NE(tty.out.find("\r\x1b[Kv1 "), std::string::npos) << "erased before the result\n"
                                                            << tty.out;
  // Not a terminal: not a byte of it.
  write_file(m_tree + "/big", std::string(8 << 20, 'z'));
  const RunResult piped = tc_raw({"snapshot", m_tree, "--store", m_store, "--channel", "web"});
  ASSERT_EQ(piped.exit_code, 0) << testing::PrintToString(piped);
  EXPECT_EQ(piped.err, "");
  EXPECT_EQ(piped.out.find('\r'), std::string::npos);
}
