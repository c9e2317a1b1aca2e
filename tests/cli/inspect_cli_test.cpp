// treecast log, show and diff: the forms of VERSION, what each prints for
// people (text) and for scripts (--json), and the errors for versions that do
// not exist or are ambiguous.

#include "cli/cli_fixture.hpp"
#include "core/manifest.hpp"
#include "support/tree.hpp"
#include "util/hash.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <grp.h>
#include <map>
#include <pwd.h>
#include <regex>
#include <sys/stat.h>

using namespace treecast;
using namespace treecast::test;

namespace {

using cli_inspect = CliTest;

// Three versions of a one-file tree, messages "one", "two", "three".
class cli_inspect_versions : public CliTest
{
protected:
  void SetUp() override
  {
    const char* messages[] = {"one", "two", "three"};
    for (int i = 0; i < 3; ++i) {
      write_file(m_tree + "/f", std::string(static_cast<std::size_t>(i + 1), 'x'));
      snapshot(m_tree, {"-m", messages[i]});
    }
    for (const auto& v : log_json()) {
      m_ids[v["number"].get<int>()] = v["id"].get<std::string>();
    }
    ASSERT_EQ(m_ids.size(), 3u);
  }

  // The number `show SPEC` resolves to; 0 when it fails.
  int number_of(const std::string& spec) const
  {
    const RunResult r = tc({"show", spec, "--json"});
    if (r.exit_code != 0) {
      ADD_FAILURE() << spec << ": " << testing::PrintToString(r);
      return 0;
    }
    return nlohmann::json::parse(r.out)["number"].get<int>();
  }

  std::map<int, std::string> m_ids;
};

std::string owner_name(uid_t uid)
{
  const passwd* pw = ::getpwuid(uid);
  return pw != nullptr ? pw->pw_name : "";
}

std::string group_name(gid_t gid)
{
  const group* gr = ::getgrgid(gid);
  return gr != nullptr ? gr->gr_name : "";
}

} // namespace

TEST_F(cli_inspect_versions, EveryVersionFormNamesTheSameVersion)
{
  EXPECT_EQ(number_of("v3"), 3);
  EXPECT_EQ(number_of("3"), 3);
  EXPECT_EQ(number_of("latest"), 3);
  EXPECT_EQ(number_of("latest~0"), 3);
  EXPECT_EQ(number_of("latest~1"), 2);
  EXPECT_EQ(number_of("latest~2"), 1);
  EXPECT_EQ(number_of("v1"), 1);
  EXPECT_EQ(number_of("1"), 1);
  for (int n = 1; n <= 3; ++n) {
    std::string prefix = m_ids[n].substr(0, 10);
    EXPECT_EQ(number_of(prefix), n) << prefix;
    EXPECT_EQ(number_of(m_ids[n]), n) << "the whole id";
    std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                   [](char c) { return static_cast<char>(std::toupper(c)); });
    EXPECT_EQ(number_of(prefix), n) << prefix;
  }
  // The same forms work for diff and checkout.
  EXPECT_EQ(tc({"diff", "latest~2", m_ids[3].substr(0, 8)}).out, "M  f\n");
  const RunResult r = tc({"checkout", "latest~1", m_temp / "out"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(read_file(m_temp / "out/f"), "xx");
}

TEST_F(cli_inspect_versions, UnknownVersionsFailWithExit5)
{
  struct Case
  {
    std::string spec;
    std::string says;
  };
  for (const Case& c : {Case{"v4", "no such version"}, Case{"latest~3", "not that many versions"},
                        Case{"latest~99", "not that many versions"},
                        Case{"0123abcd", "no version has that number or id"}}) {
    for (const std::string cmd : {"show", "checkout", "diff"}) {
      std::vector<std::string> args{cmd, c.spec};
      if (cmd == "checkout") {
        args.push_back(m_temp / "out");
      } else if (cmd == "diff") {
        args.push_back("latest");
      }
      const RunResult r = tc(args);
      EXPECT_EQ(r.exit_code, 5) << cmd << " " << c.spec << ": " << testing::PrintToString(r);
      EXPECT_EQ(r.out, "");
      EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
      EXPECT_NE(r.err.find(c.spec), std::string::npos) << r.err;
    }
  }
  EXPECT_FALSE(std::filesystem::exists(m_temp / "out"));
}

TEST_F(cli_inspect_versions, PlainNumberOfAMissingVersionIsNotFound)
{
  // "3" is a documented form of VERSION, so "4" on a channel with three
  // versions is a version that does not exist (exit 5, as "v4"), not a
  // malformed argument (exit 2).
  const RunResult r = tc({"show", "4"});
  EXPECT_EQ(r.exit_code, 5) << testing::PrintToString(r);
  EXPECT_EQ(r.err.find("is not a version"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("no such version"), std::string::npos) << r.err;
}

TEST_F(cli_inspect_versions, MalformedVersionsAreUsageErrors)
{
  for (const std::string spec : {"zz", "latest~", "latest~x", "latest2", "v", "abc", "v1x"}) {
    const RunResult r = tc({"show", spec});
    EXPECT_EQ(r.exit_code, 2) << spec << ": " << testing::PrintToString(r);
    EXPECT_NE(r.err.find("treecast: error: "), std::string::npos) << r.err;
  }
  const RunResult r = tc({"show", "zz"});
  EXPECT_EQ(r.err,
            "treecast: error: zz is not a version: use v3, 3, latest, latest~2 or an id prefix of "
            "at least 4 hex digits\n");
}

TEST_F(cli_inspect, AmbiguousIdPrefixIsRefusedNamingBothVersions)
{
  // Find two contents for the one file "f" whose trees' ids share their first
  // four hex digits (a birthday search over XXH3-128 ids, computed the way a
  // snapshot computes them), then record both.
  write_file(m_tree + "/f", "");
  struct stat st
  {};
  ASSERT_EQ(::lstat((m_tree + "/f").c_str(), &st), 0);
  core::Entry e;
  e.path = "f";
  e.type = core::EntryType::file;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.user = owner_name(st.st_uid);
  e.group = group_name(st.st_gid);
  std::map<std::string, std::string> seen; // prefix -> content
  std::string first;
  std::string second;
  std::string prefix;
  for (int i = 0; i < 100000 && prefix.empty(); ++i) {
    const std::string content = "candidate " + std::to_string(i) + "\n";
    e.size = content.size();
    e.hash =
      util::hash_bytes({reinterpret_cast<const std::uint8_t*>(content.data()), content.size()});
    const std::string p = core::compute_id({e}).hex().substr(0, 4);
    if (std::all_of(p.begin(), p.end(), [](char c) { return std::isdigit(c); })) {
      continue; // could read as a version number
    }
    if (auto it = seen.find(p); it != seen.end()) {
      first = it->second;
      second = content;
      prefix = p;
    }
    seen.emplace(p, content);
  }
  ASSERT_FALSE(prefix.empty());

  write_file(m_tree + "/f", first);
  snapshot(m_tree);
  write_file(m_tree + "/f", second);
  snapshot(m_tree);
  const nlohmann::json log = log_json();
  ASSERT_EQ(log.size(), 2u);
  ASSERT_TRUE(log[0]["id"].get<std::string>().starts_with(prefix)) << log;
  ASSERT_TRUE(log[1]["id"].get<std::string>().starts_with(prefix)) << log;

  for (const std::string cmd : {"show", "diff", "checkout"}) {
    std::vector<std::string> args{cmd, prefix};
    if (cmd == "diff") {
      args.push_back("v1");
    } else if (cmd == "checkout") {
      args.push_back(m_temp / "out");
    }
    const RunResult r = tc(args);
    EXPECT_EQ(r.exit_code, 2) << cmd << ": " << testing::PrintToString(r);
    EXPECT_EQ(r.err, "treecast: error: " + prefix + " is ambiguous: it matches v1 and v2\n");
  }
  // One more digit tells them apart.
  const std::string longer = log[1]["id"].get<std::string>().substr(0, 12);
  EXPECT_EQ(show_json(longer)["number"], 1);
}

TEST_F(cli_inspect_versions, LogListsVersionsNewestFirst)
{
  const RunResult r = tc({"log"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  const char* messages[] = {"three", "two", "one"};
  for (int i = 0; i < 3; ++i) {
    const int n = 3 - i;
    const std::string expected = "v" + std::to_string(n) + " " + m_ids[n].substr(0, 12) +
                                 "  \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ  1 files?, " +
                                 std::to_string(n) + " B  " + messages[i];
    EXPECT_TRUE(std::regex_match(lines[static_cast<std::size_t>(i)], std::regex(expected)))
      << lines[static_cast<std::size_t>(i)] << "\n  vs " << expected;
  }
}

TEST_F(cli_inspect_versions, LogJsonHasTheDocumentedFields)
{
  const nlohmann::json log = log_json();
  ASSERT_TRUE(log.is_array());
  ASSERT_EQ(log.size(), 3u);
  const nlohmann::json& v = log[0];
  EXPECT_EQ(v["channel"], m_channel);
  EXPECT_EQ(v["number"], 3);
  EXPECT_EQ(v["parent"], 2);
  EXPECT_EQ(v["id"], m_ids[3]);
  EXPECT_TRUE(std::regex_match(v["time"].get<std::string>(),
                               std::regex("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ")))
    << v;
  EXPECT_GT(v["time_ns"].get<std::int64_t>(), 1'600'000'000'000'000'000);
  EXPECT_EQ(v["message"], "three");
  EXPECT_EQ(v["entries"], 1);
  EXPECT_EQ(v["files"], 1);
  EXPECT_EQ(v["bytes"], 3);
  EXPECT_EQ(log[2]["parent"], 0);
  EXPECT_LE(log[1]["time_ns"].get<std::int64_t>(), v["time_ns"].get<std::int64_t>());
}

TEST_F(cli_inspect, ShowPrintsHeaderAndOneLinePerEntry)
{
  write_file(m_tree + "/etc/app.conf", "key = value\n", 0640);
  make_dir(m_tree + "/empty", 0700);
  make_symlink("etc/app.conf", m_tree + "/current");
  write_file(m_tree + "/run.sh", "#!/bin/sh\n", 04755);
  snapshot(m_tree, {"-m", "release 7"});
  const nlohmann::json j = show_json("latest");
  ASSERT_TRUE(j.is_object());
  std::map<std::string, nlohmann::json> by_path;
  for (const auto& e : j["entries"]) {
    by_path[e["path"]] = e;
  }

  const RunResult r = tc({"show", "latest"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  const std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 13u) << r.out;
  EXPECT_EQ(lines[0], "version  v1");
  EXPECT_EQ(lines[1], "id       " + j["id"].get<std::string>());
  EXPECT_EQ(lines[2], "channel  " + m_channel);
  EXPECT_EQ(lines[3], "parent   none");
  EXPECT_TRUE(std::regex_match(lines[4], std::regex("time     \\d{4}-\\d\\d-\\d\\dT[0-9:]{8}Z")));
  EXPECT_EQ(lines[5], "message  release 7");
  EXPECT_TRUE(std::regex_match(
    lines[6], std::regex("entries  5 \\(2 files, 2 folders, 1 symlinks?\\), 22 B")))
    << lines[6];
  EXPECT_EQ(lines[7], "");
  // mode, owner, group, size, short hash for files, path (and target).
  auto expect_line = [&](std::size_t i, const std::string& mode, const std::string& rest) {
    EXPECT_TRUE(lines[i].starts_with(mode + " ")) << lines[i];
    EXPECT_TRUE(lines[i].ends_with(rest)) << lines[i];
  };
  expect_line(8, "lrwxrwxrwx", "current -> etc/app.conf");
  expect_line(9, "drwx------", "empty");
  expect_line(10, "drwxr-xr-x", "etc");
  const auto short_hash = [&](const std::string& path) {
    return by_path[path]["hash"].get<std::string>().substr(0, 12);
  };
  expect_line(11, "-rw-r-----", "12  " + short_hash("etc/app.conf") + "  etc/app.conf");
  expect_line(12, "-rwsr-xr-x", "10  " + short_hash("run.sh") + "  run.sh");
}

TEST_F(cli_inspect, ShowJsonHasHeaderAndEntries)
{
  write_file(m_tree + "/etc/app.conf", "key = value\n", 0640);
  make_symlink("etc/app.conf", m_tree + "/current");
  snapshot(m_tree, {"-m", "json please"});
  write_file(m_tree + "/etc/app.conf", "key = other\n", 0640);
  snapshot(m_tree);

  const nlohmann::json j = show_json("v1");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["channel"], m_channel);
  EXPECT_EQ(j["number"], 1);
  EXPECT_EQ(j["parent"], 0);
  EXPECT_EQ(j["message"], "json please");
  EXPECT_EQ(j["files"], 1);
  EXPECT_EQ(j["bytes"], 12);
  EXPECT_TRUE(j.contains("time") && j.contains("time_ns") && j.contains("id"));
  ASSERT_EQ(j["entries"].size(), 3u);

  const nlohmann::json& link = j["entries"][0];
  EXPECT_EQ(link["path"], "current");
  EXPECT_EQ(link["type"], "symlink");
  EXPECT_EQ(link["target"], "etc/app.conf");
  EXPECT_FALSE(link.contains("hash"));

  const nlohmann::json& dir = j["entries"][1];
  EXPECT_EQ(dir["path"], "etc");
  EXPECT_EQ(dir["type"], "dir");
  EXPECT_EQ(dir["mode"], "0755");

  const nlohmann::json& file = j["entries"][2];
  EXPECT_EQ(file["path"], "etc/app.conf");
  EXPECT_EQ(file["type"], "file");
  EXPECT_EQ(file["mode"], "0640");
  EXPECT_EQ(file["size"], 12);
  const std::string content = "key = value\n";
  EXPECT_EQ(file["hash"], util::hash_bytes(
                            {reinterpret_cast<const std::uint8_t*>(content.data()), content.size()})
                            .hex());
  EXPECT_EQ(file["uid"], ::geteuid());
  EXPECT_EQ(file["user"], owner_name(::geteuid()));
  EXPECT_TRUE(file.contains("gid") && file.contains("group") && file.contains("mtime_ns"));

  EXPECT_EQ(show_json("v2")["parent"], 1);
}

// Every kind of change between v1 and v2 of one tree.
class cli_inspect_diff : public CliTest
{
protected:
  void SetUp() override
  {
    write_file(m_tree + "/keep", "unchanged\n");
    write_file(m_tree + "/gone", "removed\n");
    write_file(m_tree + "/mod", "before\n");
    write_file(m_tree + "/old name", "moving content\n");
    write_file(m_tree + "/perm", "p\n", 0644);
    write_file(m_tree + "/typ", "a file first\n");
    make_dir(m_tree + "/dir");
    snapshot(m_tree);

    write_file(m_tree + "/added", "new\n");
    std::filesystem::remove(m_tree + "/gone");
    write_file(m_tree + "/mod", "after!\n");
    std::filesystem::rename(m_tree + "/old name", m_tree + "/dir/new name");
    ASSERT_EQ(::chmod((m_tree + "/perm").c_str(), 0600), 0);
    std::filesystem::remove(m_tree + "/typ");
    make_symlink("keep", m_tree + "/typ");
    snapshot(m_tree);
  }
};

TEST_F(cli_inspect_diff, OneLinePerChangeWithItsLetter)
{
  const RunResult r = tc({"diff", "v1", "v2"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(r.out, "A  added\n"
                   "R  'old name' -> 'dir/new name'\n"
                   "D  gone\n"
                   "M  mod\n"
                   "P  perm (0644 -> 0600)\n"
                   "T  typ (file -> symlink)\n");
  EXPECT_EQ(r.err, "");

  // Backwards, everything is undone.
  const RunResult back = tc({"diff", "latest", "latest~1"});
  ASSERT_EQ(back.exit_code, 0) << testing::PrintToString(back);
  EXPECT_EQ(back.out, "D  added\n"
                      "A  gone\n"
                      "M  mod\n"
                      "R  'dir/new name' -> 'old name'\n"
                      "P  perm (0600 -> 0644)\n"
                      "T  typ (symlink -> file)\n");

  // A version against itself: nothing.
  const RunResult same = tc({"diff", "v2", "latest"});
  EXPECT_EQ(same.exit_code, 0);
  EXPECT_EQ(same.out, "");
}

TEST_F(cli_inspect_diff, StatCountsEachKind)
{
  const RunResult r = tc({"diff", "v1", "v2", "--stat"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  // Removed: gone 8 + mod 7 + perm 2 + typ 13; added: added 4 + mod 7 + perm 2.
  EXPECT_EQ(r.out,
            "1 added, 1 removed, 1 modified, 1 renamed, 1 mode, 1 type; 30 B -> 13 B in changed "
            "files\n");
}

TEST_F(cli_inspect_diff, JsonListsChangesWithBeforeAndAfter)
{
  const RunResult r = tc({"diff", "v1", "v2", "--json"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  const nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(tc({"diff", "v1", "v2", "--stat", "--json"}).out, r.out) << "--json wins over --stat";
  const nlohmann::json log = log_json();
  EXPECT_EQ(j["from"]["number"], 1);
  EXPECT_EQ(j["from"]["id"], log[1]["id"]);
  EXPECT_EQ(j["to"]["number"], 2);
  EXPECT_EQ(j["to"]["id"], log[0]["id"]);
  std::vector<std::pair<std::string, std::string>> kinds;
  for (const auto& c : j["changes"]) {
    kinds.emplace_back(c["kind"], c["path"]);
  }
  EXPECT_EQ(kinds, (std::vector<std::pair<std::string, std::string>>{{"added", "added"},
                                                                     {"renamed", "dir/new name"},
                                                                     {"removed", "gone"},
                                                                     {"modified", "mod"},
                                                                     {"mode", "perm"},
                                                                     {"type", "typ"}}));
  const auto& changes = j["changes"];
  EXPECT_FALSE(changes[0].contains("before"));
  EXPECT_EQ(changes[0]["after"]["size"], 4);
  EXPECT_EQ(changes[1]["old_path"], "old name");
  EXPECT_EQ(changes[1]["before"]["hash"], changes[1]["after"]["hash"]);
  EXPECT_FALSE(changes[2].contains("after"));
  EXPECT_NE(changes[3]["before"]["hash"], changes[3]["after"]["hash"]);
  EXPECT_EQ(changes[4]["before"]["mode"], "0644");
  EXPECT_EQ(changes[4]["after"]["mode"], "0600");
  EXPECT_EQ(changes[5]["before"]["type"], "file");
  EXPECT_EQ(changes[5]["after"]["type"], "symlink");
  EXPECT_EQ(changes[5]["after"]["target"], "keep");
}
