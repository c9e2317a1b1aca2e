#pragma once

// What the fleet's commands share (serve, follow, sync, push, status,
// abort, rollback): signals, the daemons' log lines, durations and
// addresses on the command line, and the request to a running serve
// through its control socket.

#include "log.hpp"
#include "util/result.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <utility>

namespace treecast::cli {

// Set by SIGINT and SIGTERM, and g_reload by SIGHUP, once catch_signals()
// ran.
extern std::atomic<bool> g_stop;
extern std::atomic<bool> g_reload;
void catch_signals();

// "30s", "500ms", "2m", "1h" or a number of seconds.
[[nodiscard]] util::Result<std::chrono::milliseconds> parse_duration(const std::string& text);
// HOST[:PORT], default port 7400.
[[nodiscard]] util::Result<std::pair<std::string, int>> parse_address(const std::string& text);
[[nodiscard]] bool loopback(const std::string& host);
// The host name, made a valid follower id.
[[nodiscard]] std::string hostname();
// The long options given on the command line, by name ("--store").
[[nodiscard]] std::set<std::string> given(const CLI::App& cmd);

// One request to the serve running on store; its JSON reply. not_found:
// no serve runs there (or it stopped meanwhile).
[[nodiscard]] util::Result<nlohmann::json> ask_master(const std::string& store,
                                                      const nlohmann::json& request,
                                                      std::chrono::milliseconds timeout);

} // namespace treecast::cli
