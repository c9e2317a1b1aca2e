#pragma once

// One progress line on stderr while a long snapshot or transfer runs: the
// bytes done of the total, the rate, and the time left. Only on a
// terminal, and not with -q: logs and pipes get nothing. The line is
// rewritten at most five times a second and erased at the end.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace treecast::cli {

class Progress
{
public:
  // what: a word or two before the numbers ("reading", "fetching").
  explicit Progress(std::string what);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // From any thread: `more` bytes done.
  void add(std::uint64_t more, std::uint64_t total);
  // Where it stands now (a transfer that knows its position).
  void at(std::uint64_t done, std::uint64_t total);
  // Erases the line.
  void finish();

  bool shown() const { return m_enabled; }

private:
  void draw_locked(bool force);

  std::mutex m_mutex;
  bool m_enabled = false;
  bool m_drawn = false;
  std::string m_what;
  std::uint64_t m_done = 0;
  std::uint64_t m_total = 0;
  std::chrono::steady_clock::time_point m_start;
  std::chrono::steady_clock::time_point m_last_draw;
  std::chrono::milliseconds m_quiet_for{1000};
};

} // namespace treecast::cli
