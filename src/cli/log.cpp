#include "log.hpp"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::cli {

namespace {

int g_more = 0;
std::atomic<bool> g_progress_drawn{false};
util::Level g_base = util::Level::notice;
bool g_daemon = false;

int threshold()
{
  return std::clamp(static_cast<int>(g_base) + g_more, static_cast<int>(util::Level::error),
                    static_cast<int>(util::Level::debug));
}

// systemd sets JOURNAL_STREAM to the device and inode of the stream it
// connected to stderr; only when stderr is still that stream does the
// journal read it (a redirection in a hook, say, is not).
bool stderr_is_journal()
{
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) {
    return false;
  }
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) {
    return false;
  }
  struct stat st
  {};
  return ::fstat(STDERR_FILENO, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

} // namespace

void set_progress_drawn(bool drawn)
{
  g_progress_drawn = drawn;
}

void set_verbosity(int more)
{
  g_more = more;
}

void set_log_base(util::Level base, bool daemon)
{
  g_base = base;
  g_daemon = daemon;
}

bool logs(util::Level level)
{
  return static_cast<int>(level) <= threshold();
}

void log_line(util::Level level, const std::string& line)
{
  if (!logs(level)) {
    return;
  }
  static const bool journal = stderr_is_journal();
  static std::mutex mutex;
  std::string out;
  if (journal) {
    out = "<" + std::to_string(static_cast<int>(level)) + ">" + line + "\n";
  } else if (!g_daemon) {
    out = "treecast: " +
          (level <= util::Level::warning ? std::string(util::level_name(level)) + ": " : "") +
          line + "\n";
  } else {
    const std::time_t t = std::time(nullptr);
    std::tm utc{};
    ::gmtime_r(&t, &utc);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &utc);
    out = std::string(stamp) + " " + std::string(util::level_name(level)) + ": " + line + "\n";
  }
  if (g_progress_drawn.exchange(false)) {
    out = "\r\x1b[K" + out;
  }
  // One write per line, so lines of several threads never interleave.
  std::lock_guard lock(mutex);
  std::cerr << out << std::flush;
}

} // namespace treecast::cli
