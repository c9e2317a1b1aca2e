#include "cli/cli_fixture.hpp"

#include "support/objects.hpp"

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::test {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_nobody = "65534";

nlohmann::json parse_or_null(const RunResult& r)
{
  if (r.exit_code != 0) {
    ADD_FAILURE() << "treecast failed: " << ::testing::PrintToString(r);
    return nullptr;
  }
  auto j = nlohmann::json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "not JSON: " << r.out;
    return nullptr;
  }
  return j;
}

} // namespace

RunResult CliTest::tc_channel(const std::string& channel, std::vector<std::string> args) const
{
  args.insert(args.end(), {"--store", m_store, "--channel", channel});
  return treecast(args, {"TREECAST_STORE=" + m_temp / "not-this-store"}, k_deadline);
}

RunResult CliTest::tc_raw(const std::vector<std::string>& args) const
{
  return treecast(args, {"TREECAST_STORE=" + m_store}, k_deadline);
}

std::string CliTest::snapshot(const std::string& dir, std::vector<std::string> extra) const
{
  std::vector<std::string> args{"snapshot", dir};
  args.insert(args.end(), extra.begin(), extra.end());
  const RunResult r = tc(args);
  EXPECT_EQ(r.exit_code, 0) << ::testing::PrintToString(r);
  return r.out;
}

nlohmann::json CliTest::log_json() const
{
  return parse_or_null(tc({"log", "--json"}));
}

nlohmann::json CliTest::show_json(const std::string& version) const
{
  return parse_or_null(tc({"show", version, "--json"}));
}

std::vector<std::string> CliTest::paths_of(const std::string& version) const
{
  std::vector<std::string> paths;
  const nlohmann::json j = show_json(version);
  if (j.is_object()) {
    for (const auto& e : j["entries"]) {
      paths.push_back(e["path"].get<std::string>());
    }
  }
  return paths;
}

namespace {

core::Store open_store(const std::string& path)
{
  auto store = core::Store::open(path, core::Create::no);
  EXPECT_TRUE(store) << store.error().message;
  if (!store) {
    throw std::runtime_error(store.error().message);
  }
  return std::move(*store);
}

util::Hash128 hash_of_hex(const std::string& hex)
{
  auto hash = util::Hash128::from_hex(hex);
  EXPECT_TRUE(hash) << hex;
  return hash.value_or(util::Hash128{});
}

} // namespace

std::size_t CliTest::object_count() const
{
  return test::object_count(open_store(m_store));
}

bool CliTest::has_object(const std::string& hash_hex) const
{
  return open_store(m_store).has_object(hash_of_hex(hash_hex));
}

void CliTest::corrupt_object(const std::string& hash_hex) const
{
  test::corrupt_object(open_store(m_store), hash_of_hex(hash_hex));
}

void CliTest::remove_object(const std::string& hash_hex) const
{
  test::remove_object(open_store(m_store), hash_of_hex(hash_hex));
}

std::string CliTest::version_file(std::size_t number) const
{
  return m_store + "/channels/" + m_channel + "/versions/" + std::to_string(number);
}

void CliTest::open_to_unprivileged() const
{
  fs::permissions(m_temp.path(), fs::perms::all);
}

RunResult CliTest::tc_unprivileged(const std::vector<std::string>& args, std::string* why) const
{
  std::vector<std::string> argv;
  if (::geteuid() == 0) {
    const std::string setpriv = find_program("setpriv");
    if (setpriv.empty()) {
      *why = "running as root and setpriv (util-linux) is not installed: cannot drop privileges "
             "to make permission bits apply";
      return {};
    }
    argv = {setpriv, std::string("--reuid=") + k_nobody, std::string("--regid=") + k_nobody,
            "--clear-groups", TREECAST_BIN};
    // The unprivileged user must reach the binary and the test folder.
    const RunResult probe = run(
      [&] {
        auto p = argv;
        p.insert(p.end(), {"log", "--store", m_temp / "no-store", "--channel", "probe"});
        return p;
      }(),
      {}, k_deadline);
    if (probe.exit_code != 5) {
      *why = "uid 65534 cannot run " + std::string(TREECAST_BIN) + " on " + m_temp.path() +
             " through setpriv (exit " + std::to_string(probe.exit_code) + ": " + probe.err + ")";
      return {};
    }
  } else {
    argv = {TREECAST_BIN};
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {}, k_deadline);
}

std::string find_program(const std::string& name)
{
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

std::vector<std::string> lines_of(const std::string& text)
{
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> siblings_starting_with(const std::string& folder,
                                                const std::string& prefix)
{
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(folder)) {
    const std::string name = e.path().filename().string();
    if (name.starts_with(prefix)) {
      found.push_back(name);
    }
  }
  return found;
}

void PrintTo(const RunResult& r, std::ostream* os)
{
  *os << "exit " << r.exit_code << (r.timed_out ? " (timed out)" : "") << "\n--- stdout\n"
      << r.out << "--- stderr\n"
      << r.err;
}

} // namespace treecast::test
