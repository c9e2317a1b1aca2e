#pragma once

// How the treecast command talks to people and scripts: messages on stderr
// prefixed "treecast: ", exit codes (treecast(1), EXIT STATUS), and JSON
// values for --json output.

#include "core/manifest.hpp"
#include "util/result.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace treecast::cli {

// Exit codes, documented in treecast(1). Part of the interface: never renumber.
enum class Exit : int
{
  ok = 0,
  internal = 1,    // a bug: an unexpected exception
  usage = 2,       // bad flags or arguments
  data = 3,        // corrupt or malformed data (store, manifest)
  io = 4,          // the operating system refused (permissions, disk, missing file)
  not_found = 5,   // no such store, channel or version
  conflict = 6,    // the target is not in a state the command can work on
  aborted = 7,     // push: the transaction aborted (a follower refused, or an abort)
  timed_out = 8,   // push: the transaction aborted at its timeout
  unreachable = 9, // no master answered (push, status, sync)
  partial = 10,    // push: committed, but a voter did not apply it (or is unhealthy)
};

[[nodiscard]] Exit exit_for(const util::Error& error);

void warn(std::string_view message);
// Prints the error and returns its exit code.
[[nodiscard]] int fail(const util::Error& error);

// "1 file", "2 files"
[[nodiscard]] std::string count(std::uint64_t n, std::string_view singular,
                                std::string_view plural);

// "v3 3f9a0c1d2b4e"
[[nodiscard]] std::string version_label(std::uint64_t number, const util::Hash128& id);

// A path for JSON: valid UTF-8 as is; otherwise invalid bytes become U+FFFD
// and the exact bytes are given in hex under "<key>_hex".
void put_path(nlohmann::json& object, const char* key, const std::string& path);
[[nodiscard]] nlohmann::json entry_json(const core::Entry& entry);
// Prints with two-space indents; never throws on odd bytes.
void print_json(const nlohmann::json& value);

// "-rw-r--r--" style, with the type letter.
[[nodiscard]] std::string mode_string(const core::Entry& entry);

} // namespace treecast::cli
