// treecast gc: old versions go, the content only they used goes with them,
// and everything a remaining version of any channel needs stays readable.

#include "cli/cli_fixture.hpp"
#include "support/tree.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>

using namespace treecast::test;
namespace fs = std::filesystem;

namespace {

using cli_gc = CliTest;

std::string hash_of(const nlohmann::json& version, const std::string& path)
{
  for (const auto& e : version["entries"]) {
    if (e["path"] == path) {
      return e["hash"];
    }
  }
  return "";
}

} // namespace

TEST_F(cli_gc, KeepOneDropsOlderVersionsAndTheContentOnlyTheyUsed)
{
  write_file(m_tree + "/shared", "in every version\n");
  for (int i = 1; i <= 3; ++i) {
    write_file(m_tree + "/changing", "revision " + std::to_string(i) + "\n");
    snapshot(m_tree);
  }
  const nlohmann::json v1 = show_json("v1");
  const nlohmann::json v3 = show_json("v3");
  ASSERT_EQ(object_count(), 4u); // shared + three revisions

  const RunResult r = tc({"gc", "--keep", "1"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_TRUE(
    std::regex_match(r.out, std::regex("dropped 2 versions \\(v1, v2\\), removed 2 objects "
                                       "\\([0-9.]+ (B|KiB)\\)\n")))
    << r.out;
  EXPECT_EQ(object_count(), 2u);
  EXPECT_FALSE(has_object(hash_of(v1, "changing")));
  EXPECT_TRUE(has_object(hash_of(v3, "changing")));
  EXPECT_TRUE(has_object(hash_of(v3, "shared")));

  for (const std::string version : {"v1", "v2", "latest~1"}) {
    const RunResult show = tc({"show", version});
    EXPECT_EQ(show.exit_code, 5) << version << ": " << testing::PrintToString(show);
    EXPECT_NE(show.err.find("gc"), std::string::npos) << show.err;
  }
  const RunResult log = tc({"log"});
  ASSERT_EQ(lines_of(log.out).size(), 1u) << log.out;
  EXPECT_TRUE(log.out.starts_with("v3 ")) << log.out;

  const RunResult co = tc({"checkout", "latest", m_temp / "out"});
  ASSERT_EQ(co.exit_code, 0) << testing::PrintToString(co);
  EXPECT_EQ(compare_trees(m_tree, m_temp / "out"), "");

  // Again: nothing left to drop.
  const RunResult again = tc({"gc", "--keep", "1"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.out, "dropped 0 versions, removed 0 objects (0 B)\n");
}

TEST_F(cli_gc, KeepsContentAnotherChannelStillUses)
{
  const std::string api = m_temp / "api";
  write_file(m_tree + "/cert.pem", "a certificate both channels ship\n");
  write_file(m_tree + "/web.conf", "web\n");
  write_file(api + "/cert.pem", "a certificate both channels ship\n");
  write_file(api + "/api.conf", "api\n");
  snapshot(m_tree);
  const RunResult api_snapshot = tc_channel("api", {"snapshot", api});
  ASSERT_EQ(api_snapshot.exit_code, 0) << testing::PrintToString(api_snapshot);
  const std::string cert = hash_of(show_json("v1"), "cert.pem");
  ASSERT_EQ(object_count(), 3u);

  // web stops shipping the certificate; its v1 goes.
  fs::remove(m_tree + "/cert.pem");
  snapshot(m_tree);
  const RunResult r = tc({"gc", "--keep", "1"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_TRUE(r.out.starts_with("dropped 1 version (v1), removed 0 objects")) << r.out;
  EXPECT_TRUE(has_object(cert));
  EXPECT_EQ(object_count(), 3u);

  const RunResult co = tc_channel("api", {"checkout", "latest", m_temp / "api-out"});
  ASSERT_EQ(co.exit_code, 0) << testing::PrintToString(co);
  EXPECT_EQ(compare_trees(api, m_temp / "api-out"), "");
  const RunResult api_log = tc_channel("api", {"log"});
  EXPECT_EQ(lines_of(api_log.out).size(), 1u) << "gc of web left api's versions alone";
}

TEST_F(cli_gc, KeepMoreThanThereAreDropsNothing)
{
  write_file(m_tree + "/f", "1");
  snapshot(m_tree);
  write_file(m_tree + "/f", "2");
  snapshot(m_tree);
  const RunResult r = tc({"gc", "--keep", "5"});
  ASSERT_EQ(r.exit_code, 0) << testing::PrintToString(r);
  EXPECT_EQ(r.out, "dropped 0 versions, removed 0 objects (0 B)\n");
  EXPECT_EQ(log_json().size(), 2u);
  EXPECT_EQ(object_count(), 2u);
}

TEST_F(cli_gc, KeepZeroIsAUsageError)
{
  write_file(m_tree + "/f", "1");
  snapshot(m_tree);
  write_file(m_tree + "/f", "2");
  snapshot(m_tree);
  for (const std::string keep : {"0", "-1", "many"}) {
    const RunResult r = tc({"gc", "--keep", keep});
    EXPECT_EQ(r.exit_code, 2) << keep << ": " << testing::PrintToString(r);
    EXPECT_EQ(r.out, "");
    EXPECT_NE(r.err.find("--keep"), std::string::npos) << r.err;
  }
  const RunResult missing = tc({"gc"});
  EXPECT_EQ(missing.exit_code, 2) << testing::PrintToString(missing);
  EXPECT_NE(missing.err.find("--keep"), std::string::npos) << missing.err;
  EXPECT_EQ(log_json().size(), 2u);
  EXPECT_EQ(object_count(), 2u);
}

TEST_F(cli_gc, KeepZeroSaysWhatIsAllowed)
{
  // The help says "(at least 1)"; the error should say so too, not quote
  // a floating-point range that contains the value it refuses.
  write_file(m_tree + "/f", "1");
  snapshot(m_tree);
  const RunResult r = tc({"gc", "--keep", "0"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("at least 1"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("0.000000"), std::string::npos) << r.err;
}

TEST_F(cli_gc, UnknownChannelIsNotFoundAndCreatesNothing)
{
  // A typo in --channel must not look like a successful gc.
  write_file(m_tree + "/f", "1");
  snapshot(m_tree);
  const RunResult r = tc_channel("wbe", {"gc", "--keep", "1"});
  EXPECT_EQ(r.exit_code, 5) << testing::PrintToString(r);
  EXPECT_NE(r.err.find("wbe"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(m_store + "/channels/wbe"));
  EXPECT_EQ(object_count(), 1u);
}

namespace {

TEST_F(cli_gc, RemovesCachedDeltasOfDroppedVersionsOnly)
{
  for (const char* text : {"one\n", "two\n", "three\n"}) {
    write_file(m_tree + "/app.conf", text);
    snapshot(m_tree);
  }
  for (const auto& [from, to] : {std::pair("1", "2"), std::pair("2", "3"), std::pair("0", "3")}) {
    ASSERT_EQ(tc({"delta", "--from", from, "--to", to, "-o", m_temp / "d"}).exit_code, 0);
  }
  auto cached = [&] {
    return static_cast<std::size_t>(
      std::distance(fs::directory_iterator(m_store + "/deltas"), fs::directory_iterator()));
  };
  ASSERT_EQ(cached(), 3U);

  const auto r = tc({"gc", "--keep", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("2 cached deltas"), std::string::npos) << r.out;
  EXPECT_EQ(cached(), 1U); // from nothing to v3 stays
  const auto again = tc({"delta", "--from", "0", "--to", "3", "-o", m_temp / "d"});
  EXPECT_NE(again.out.find("from the cache"), std::string::npos) << again.out;
}

} // namespace
