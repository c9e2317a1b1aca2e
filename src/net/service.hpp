#pragma once

// The daemons under systemd (Type=notify, WatchdogSec=): READY=1 once
// they listen or follow, WATCHDOG=1 while every event loop still turns,
// STATUS= a line for systemctl status, STOPPING=1 on the way out. Outside
// systemd (no NOTIFY_SOCKET) every call does nothing.

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace treecast::net {

class ServiceNotifier
{
public:
  // loops: how many event loops must say they turn (one per followed
  // channel) before the watchdog hears that all is well.
  explicit ServiceNotifier(std::size_t loops = 1);

  // Loop i is up; READY=1 goes when every loop is.
  void ready(std::size_t loop, const std::string& status);
  // Loop i turned. WATCHDOG=1 goes at half the watchdog's interval, and
  // only when every loop turned since the last one: one stuck loop (a
  // channel's) is enough for systemd to restart the daemon.
  void alive(std::size_t loop);
  void status(std::size_t loop, const std::string& status);
  void stopping();

  // The watchdog's interval (zero: no watchdog).
  std::chrono::microseconds watchdog() const { return m_watchdog; }

private:
  void send(const std::string& state);

  std::mutex m_mutex;
  std::chrono::microseconds m_watchdog{0};
  std::chrono::steady_clock::time_point m_last_ping;
  std::vector<bool> m_ready;
  std::vector<bool> m_turned;
  std::vector<std::string> m_status;
  std::string m_sent_status;
  bool m_ready_sent = false;
};

} // namespace treecast::net
