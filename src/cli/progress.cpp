#include "progress.hpp"

#include "log.hpp"
#include "util/human.hpp"

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace treecast::cli {

Progress::Progress(std::string what)
  : m_enabled(::isatty(STDERR_FILENO) == 1 && logs(util::Level::notice)), m_what(std::move(what)),
    m_start(std::chrono::steady_clock::now())
{
  // Tests show the line at once (a second of work is too slow for them).
  if (const char* after = std::getenv("TREECAST_PROGRESS_AFTER_MS")) {
    m_quiet_for = std::chrono::milliseconds(std::atoi(after));
  }
}

Progress::~Progress()
{
  finish();
}

void Progress::add(std::uint64_t more, std::uint64_t total)
{
  if (!m_enabled) {
    return;
  }
  std::lock_guard lock(m_mutex);
  m_done += more;
  m_total = total;
  draw_locked(false);
}

void Progress::at(std::uint64_t done, std::uint64_t total)
{
  if (!m_enabled) {
    return;
  }
  std::lock_guard lock(m_mutex);
  m_done = done;
  m_total = total;
  draw_locked(false);
}

void Progress::draw_locked(bool force)
{
  const auto now = std::chrono::steady_clock::now();
  // Nothing for the first second: a quick command shows no line at all.
  if (!force &&
      (now - m_start < m_quiet_for || now - m_last_draw < std::chrono::milliseconds(200))) {
    return;
  }
  m_last_draw = now;
  const double seconds = std::chrono::duration<double>(now - m_start).count();
  const double rate = seconds > 0 ? static_cast<double>(m_done) / seconds : 0;
  std::string line = m_what + " " + util::human_size(m_done);
  if (m_total > 0) {
    line += " of " + util::human_size(m_total);
  }
  line += ", " + util::human_size(static_cast<std::uint64_t>(rate)) + "/s";
  if (m_total > m_done && rate > 0) {
    const auto left = static_cast<std::uint64_t>(static_cast<double>(m_total - m_done) / rate);
    line += ", " + (left >= 60 ? std::to_string(left / 60) + " min " : std::string()) +
            std::to_string(left % 60) + " s left";
  }
  std::fprintf(stderr, "\r%s\x1b[K", line.c_str());
  std::fflush(stderr);
  m_drawn = true;
  set_progress_drawn(true);
}

void Progress::finish()
{
  std::lock_guard lock(m_mutex);
  if (m_drawn) {
    std::fprintf(stderr, "\r\x1b[K");
    std::fflush(stderr);
    m_drawn = false;
    set_progress_drawn(false);
  }
}

} // namespace treecast::cli
