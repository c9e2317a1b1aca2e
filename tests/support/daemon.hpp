#pragma once

// Long-running treecast processes for integration tests: started in the
// background with their output in files, stopped (SIGTERM, then SIGKILL
// after a deadline) when the test ends; and free loopback ports, and
// waiting for a condition with a deadline.

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace treecast::test {

class Daemon
{
public:
  // argv[0] is the program; stdout and stderr go to log.
  Daemon(const std::vector<std::string>& argv, const std::string& log);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // SIGTERM, and SIGKILL if still running after the deadline; the exit code
  // (-1 when killed).
  int stop(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  void kill(); // SIGKILL, now
  // Waits for the process to end by itself; its exit code, or nullopt at
  // the deadline (it is left running).
  std::optional<int> wait(std::chrono::milliseconds deadline);
  bool running();
  const std::string& log() const { return m_log; }
  int pid() const { return m_pid; }

private:
  pid_t m_pid = -1;
  std::string m_log;
};

// A port P such that P and P+1 are free on 127.0.0.1 just now.
int free_port_pair();

// Calls done() every 50 ms until it holds or the deadline passes.
bool wait_until(const std::function<bool()>& done,
                std::chrono::milliseconds deadline = std::chrono::seconds(30));

} // namespace treecast::test
