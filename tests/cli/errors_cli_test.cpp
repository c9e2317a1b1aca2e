// How treecast fails: usage errors (exit 2), a folder that is not a store
// (exit 5), and a store whose manifest is truncated or hand-crafted (exit 3
// from every command that reads it, and never a file written outside DIR).

#include "cli/cli_fixture.hpp"
#include "core/manifest.hpp"
#include "support/tree.hpp"
#include "util/zstd.hpp"

#include <gtest/gtest.h>

#include <filesystem>

using namespace treecast;
using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

using cli_errors = CliTest;

// Every command that reads the store, with the arguments it needs.
std::vector<std::vector<std::string>> reading_commands(const std::string& out)
{
  return {
    {"log"},
    {"log", "--json"},
    {"show", "latest"},
    {"show", "v2", "--json"},
    {"diff", "v1", "v2"},
    {"diff", "v1", "latest", "--stat"},
    {"checkout", "v2", out},
  };
}

std::string command_line(const std::vector<std::string>& args)
{
  std::string s;
  for (const std::string& a : args) {
    s += (s.empty() ? "" : " ") + a;
  }
  return s;
}

} // namespace

TEST_F(cli_errors, NoSubcommandIsAUsageError)
{
  const RunResult r = tc_raw({});
  EXPECT_EQ(r.exit_code, 2) << testing::PrintToString(r);
  EXPECT_NE(r.err.find("subcommand"), std::string::npos) << r.err;
}

TEST_F(cli_errors, UnknownSubcommandIsAUsageErrorNamingIt)
{
  // A typo ("snapshop") should be named, not reported as a missing command.
  const RunResult r = tc_raw({"snapshop", "/etc", "--store", m_store});
  EXPECT_EQ(r.exit_code, 2) << testing::PrintToString(r);
  EXPECT_NE(r.err.find("snapshop"), std::string::npos) << r.err;
}

TEST_F(cli_errors, HelpAndVersionExitZero)
{
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--help"}, {"snapshot", "--help"}, {"--version"}}) {
    const RunResult r = tc_raw(args);
    EXPECT_EQ(r.exit_code, 0) << command_line(args) << ": " << testing::PrintToString(r);
    EXPECT_FALSE(r.out.empty());
  }
}

TEST_F(cli_errors, UnknownFlagIsAUsageErrorNamingIt)
{
  write_file(m_tree + "/f", "1");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"log", "--colour"},
                                             {"snapshot", m_tree, "--colour"},
                                             {"checkout", "v1", m_temp / "out", "--colour"}}) {
    const RunResult r = tc(args);
    EXPECT_EQ(r.exit_code, 2) << command_line(args) << ": " << testing::PrintToString(r);
    EXPECT_NE(r.err.find("--colour"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(m_store)) << "a refused snapshot creates no store";
  EXPECT_FALSE(fs::exists(m_temp / "out"));
}

TEST_F(cli_errors, MissingChannelIsAUsageError)
{
  write_file(m_tree + "/f", "1");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"snapshot", m_tree},
                                             {"log"},
                                             {"show", "latest"},
                                             {"diff", "v1", "v2"},
                                             {"checkout", "v1", m_temp / "out"},
                                             {"gc", "--keep", "1"}}) {
    std::vector<std::string> with_store = args;
    with_store.insert(with_store.end(), {"--store", m_store});
    const RunResult r = tc_raw(with_store);
    EXPECT_EQ(r.exit_code, 2) << command_line(args) << ": " << testing::PrintToString(r);
    EXPECT_NE(r.err.find("--channel is required"), std::string::npos) << r.err;
  }
  EXPECT_FALSE(fs::exists(m_store));
}

TEST_F(cli_errors, UsageErrorsUseTheDocumentedErrorFormat)
{
  // treecast(1): errors are printed as "treecast: error: MESSAGE", usage
  // errors included, so a cron mail or a log says which program complained.
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
         {"log", "--store", m_store},
         {"log", "--store", m_store, "--channel", "web", "--colour"},
         {"gc", "--store", m_store, "--channel", "web"}}) {
    const RunResult r = tc_raw(args);
    EXPECT_EQ(r.exit_code, 2) << command_line(args) << ": " << testing::PrintToString(r);
    EXPECT_TRUE(r.err.starts_with("treecast: error: ")) << command_line(args) << ": " << r.err;
  }
}

TEST_F(cli_errors, InvalidChannelNameIsAUsageError)
{
  write_file(m_tree + "/f", "1");
  for (const std::string& name :
       std::vector<std::string>{"a/b", "../up", ".hidden", "_x", "sp ace", std::string(129, 'c')}) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"snapshot", m_tree}, {"log"}, {"gc", "--keep", "1"}}) {
      const RunResult r = tc_channel(name, args);
      EXPECT_EQ(r.exit_code, 2) << "'" << name << "' " << command_line(args) << ": "
                                << testing::PrintToString(r);
      EXPECT_NE(r.err.find("invalid channel name"), std::string::npos) << r.err;
    }
  }
  EXPECT_FALSE(fs::exists(m_store)) << "nothing is created for a refused name";
  EXPECT_FALSE(fs::exists(m_temp / "up"));
}

TEST_F(cli_errors, EmptyChannelNameIsRefusedLikeAnyInvalidName)
{
  // --channel "$CHANNEL" with CHANNEL unset, from a cron job.
  write_file(m_tree + "/f", "1");
  const RunResult first = tc_channel("", {"snapshot", m_tree});
  EXPECT_EQ(first.exit_code, 2) << testing::PrintToString(first);
  EXPECT_FALSE(fs::exists(m_store)) << "nothing is created for a refused name";

  snapshot(m_tree);
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"log"}, {"show", "latest"}, {"gc", "--keep", "1"}}) {
    const RunResult r = tc_channel("", args);
    EXPECT_EQ(r.exit_code, 2) << command_line(args) << ": " << testing::PrintToString(r);
    EXPECT_NE(r.err.find("invalid channel name"), std::string::npos) << r.err;
  }
  // Whatever happened above, the store still works for its real channel.
  EXPECT_EQ(siblings_starting_with(m_store + "/channels", ""), std::vector<std::string>{m_channel});
  const RunResult gc = tc({"gc", "--keep", "1"});
  EXPECT_EQ(gc.exit_code, 0) << testing::PrintToString(gc);
}

TEST_F(cli_errors, StoreThatIsNotAStoreIsNotFound)
{
  write_file(m_temp / "plain/some-file", "not a store\n");
  m_store = m_temp / "plain";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"log"},
                                             {"show", "latest"},
                                             {"diff", "v1", "v2"},
                                             {"checkout", "v1", m_temp / "out"},
                                             {"gc", "--keep", "1"}}) {
    const RunResult r = tc(args);
    EXPECT_EQ(r.exit_code, 5) << command_line(args) << ": " << testing::PrintToString(r);
    EXPECT_NE(r.err.find(m_store + " is not a treecast store"), std::string::npos) << r.err;
  }
  // Nothing was added to the folder, and no checkout appeared.
  EXPECT_EQ(siblings_starting_with(m_store, ""), std::vector<std::string>{"some-file"});
  EXPECT_FALSE(fs::exists(m_temp / "out"));

  m_store = m_temp / "does-not-exist";
  const RunResult r = tc({"log"});
  EXPECT_EQ(r.exit_code, 5) << testing::PrintToString(r);
  EXPECT_NE(r.err.find("is not a treecast store"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(m_store));
}

TEST_F(cli_errors, ChannelWithoutVersionsIsNotFound)
{
  write_file(m_tree + "/f", "1");
  snapshot(m_tree);
  const RunResult r = tc_channel("other", {"log"});
  EXPECT_EQ(r.exit_code, 5) << testing::PrintToString(r);
  EXPECT_NE(r.err.find("other"), std::string::npos) << r.err;
  const RunResult show = tc_channel("other", {"show", "latest"});
  EXPECT_EQ(show.exit_code, 5) << testing::PrintToString(show);
}

TEST_F(cli_errors, SnapshotOfAMissingFolderFailsWithExit4)
{
  const std::string missing = m_temp / "no-such-tree";
  const RunResult r = tc({"snapshot", missing});
  EXPECT_EQ(r.exit_code, 4) << testing::PrintToString(r);
  EXPECT_NE(r.err.find(missing), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
  const RunResult log = tc({"log"});
  EXPECT_EQ(log.exit_code, 5) << "no version was recorded: " << testing::PrintToString(log);
}

// A store with a valid v1 and a broken v2 (the latest).
class cli_errors_manifest : public CliTest
{
protected:
  void SetUp() override
  {
    write_file(m_tree + "/a", "first\n");
    write_file(m_tree + "/dir/b", "second\n");
    snapshot(m_tree);
    write_file(m_tree + "/a", "changed\n");
    snapshot(m_tree);
    m_zstd = find_program("zstd");
  }

  // Every reading command fails with exit 3, a message saying which
  // manifest and what is wrong, and no checkout.
  void expect_every_reader_refuses(const std::string& what)
  {
    const std::string out = m_temp / "out";
    for (const auto& args : reading_commands(out)) {
      const RunResult r = tc(args);
      EXPECT_EQ(r.exit_code, 3) << command_line(args) << ": " << testing::PrintToString(r);
      EXPECT_NE(r.err.find("invalid manifest " + version_file(2)), std::string::npos)
        << command_line(args) << ": " << r.err;
      EXPECT_NE(r.err.find(what), std::string::npos) << command_line(args) << ": " << r.err;
      EXPECT_EQ(r.out, "") << command_line(args);
    }
    EXPECT_FALSE(fs::exists(out));
    EXPECT_EQ(siblings_starting_with(m_temp.path(), ".out"), std::vector<std::string>{});
    // v1 is still fine.
    const RunResult v1 = tc({"checkout", "v1", m_temp / "v1"});
    EXPECT_EQ(v1.exit_code, 0) << testing::PrintToString(v1);
  }

  // Replaces v2 (and the ref) with a manifest of these entries.
  void write_v2(std::vector<core::Entry> entries)
  {
    core::Manifest m;
    m.header.channel = m_channel;
    m.header.number = 2;
    m.header.parent = 1;
    m.header.time_ns = 1'700'000'000'000'000'000;
    m.header.message = "hand-crafted";
    m.entries = std::move(entries);
    m.id = core::compute_id(m.entries); // kept in the given order, unlike finalize()
    const auto encoded = core::encode(m);
    const auto compressed = util::zstd_compress(encoded, 3);
    write_file(version_file(2), std::string(compressed.begin(), compressed.end()));
    write_file(m_store + "/channels/" + m_channel + "/latest", "2 " + m.id.hex() + "\n");
  }

  core::Entry file_entry(const std::string& path) const
  {
    core::Entry e;
    e.path = path;
    e.type = core::EntryType::file;
    e.mode = 0644;
    e.size = 6;
    const nlohmann::json v1 = show_json("v1");
    e.hash = *util::Hash128::from_hex(v1["entries"][0]["hash"].get<std::string>());
    return e;
  }

  std::string m_zstd;
};

TEST_F(cli_errors_manifest, TruncatedManifestFailsEveryReaderWithExit3)
{
  if (m_zstd.empty()) {
    GTEST_SKIP() << "the zstd command is not installed";
  }
  const std::string raw = m_temp / "v2.raw";
  RunResult r = run({m_zstd, "-q", "-d", "-f", version_file(2), "-o", raw}, {}, k_deadline);
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  std::string bytes = read_file(raw);
  ASSERT_GT(bytes.size(), 60u);
  write_file(raw, bytes.substr(0, bytes.size() - 20));
  r = run({m_zstd, "-q", "-f", raw, "-o", version_file(2)}, {}, k_deadline);
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);

  expect_every_reader_refuses("truncated or corrupt");
}

TEST_F(cli_errors_manifest, TruncatedCompressedManifestFailsEveryReaderWithExit3)
{
  const std::string bytes = read_file(version_file(2));
  write_file(version_file(2), bytes.substr(0, bytes.size() / 2));
  expect_every_reader_refuses("truncated");
}

TEST_F(cli_errors_manifest, DotDotPathFailsEveryReaderWithExit3)
{
  write_v2({file_entry("../escaped")});
  expect_every_reader_refuses("'..'");
  EXPECT_FALSE(fs::exists(m_temp / "escaped"));
}

TEST_F(cli_errors_manifest, AbsolutePathFailsEveryReaderWithExit3)
{
  const std::string target = m_temp / "absolute-target";
  write_v2({file_entry(target)});
  expect_every_reader_refuses("absolute path");
  EXPECT_FALSE(fs::exists(target));
}

TEST_F(cli_errors_manifest, PathThroughASymlinkFailsEveryReaderWithExit3)
{
  core::Entry link;
  link.path = "link";
  link.type = core::EntryType::symlink;
  link.mode = 0777;
  link.target = m_temp.path();
  write_v2({link, file_entry("link/through")});
  expect_every_reader_refuses("is not under a folder of the manifest");
  EXPECT_FALSE(fs::exists(m_temp / "through"));
}

TEST_F(cli_errors_manifest, DuplicatePathFailsEveryReaderWithExit3)
{
  write_v2({file_entry("twice"), file_entry("twice")});
  expect_every_reader_refuses("duplicate path");
}

TEST_F(cli_errors_manifest, SnapshotOnABrokenLatestFailsAndRecordsNothing)
{
  const std::string bytes = read_file(version_file(2));
  write_file(version_file(2), bytes.substr(0, bytes.size() / 2));
  write_file(m_tree + "/new", "new\n");
  const RunResult r = tc({"snapshot", m_tree});
  EXPECT_EQ(r.exit_code, 3) << testing::PrintToString(r);
  EXPECT_NE(r.err.find(version_file(2)), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(version_file(3)));
}
