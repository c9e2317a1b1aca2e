#pragma once

// The levels of the daemons' log lines. Their numbers are syslog's, so a
// line written to journald as "<6>text" is shown and filtered at its
// level (sd-daemon(3)). The layers below the command line only say what
// happened and how much it matters; src/cli decides where it goes.

#include <functional>
#include <string>
#include <string_view>

namespace treecast::util {

enum class Level : int
{
  error = 3,   // something failed: a transaction, a hook, a key
  warning = 4, // worth an operator's look: a refused key, an insecure bind
  notice = 5,  // a version moved: committed, aborted, caught up
  info = 6,    // the steps of the protocol: staged, fetching, followers' versions
  debug = 7,   // every message that was dropped or repeated
};

struct LogEntry
{
  Level level = Level::info;
  std::string text;
};

using LogFn = std::function<void(Level, const std::string&)>;

constexpr std::string_view level_name(Level level)
{
  switch (level) {
    case Level::error:
      return "error";
    case Level::warning:
      return "warning";
    case Level::notice:
      return "notice";
    case Level::info:
      return "info";
    case Level::debug:
      return "debug";
  }
  return "info";
}

} // namespace treecast::util
