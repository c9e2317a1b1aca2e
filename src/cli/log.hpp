#pragma once

// Where treecast's log lines go: stderr, each with its level. Under
// systemd, whose journal reads stderr, a line is "<N>text" (sd-daemon(3)):
// journald keeps the level and its own time. Elsewhere a line is
// "2026-12-01T09:30:00Z info: text", the time in UTC.
//
// -v and -q move the threshold: the daemons (serve, follow) log from info
// up, sync and the other commands from notice up.

#include "util/log.hpp"

#include <string>

namespace treecast::cli {

// Each -v shows one level more, each -q one less; errors always show.
void set_verbosity(int more);
// base: the command's own threshold before -v and -q. A daemon's lines
// carry a time; a command's (sync) read "treecast: warning: text".
void set_log_base(util::Level base, bool daemon);
[[nodiscard]] bool logs(util::Level level);
void log_line(util::Level level, const std::string& line);
// A progress line is on the terminal (progress.hpp): a log line erases it
// first, and the next progress draws it again.
void set_progress_drawn(bool drawn);

} // namespace treecast::cli
