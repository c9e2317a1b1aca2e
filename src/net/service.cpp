#include "service.hpp"

#include <algorithm>
#include <systemd/sd-daemon.h>

namespace treecast::net {

ServiceNotifier::ServiceNotifier(std::size_t loops)
  : m_last_ping(std::chrono::steady_clock::now()), m_ready(loops, false), m_turned(loops, false),
    m_status(loops)
{
  std::uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0) {
    m_watchdog = std::chrono::microseconds(usec);
  }
}

void ServiceNotifier::send(const std::string& state)
{
  // Without NOTIFY_SOCKET, sd_notify returns 0 and sends nothing; a failure
  // to send is not the daemon's to act on.
  (void)sd_notify(0, state.c_str());
}

void ServiceNotifier::ready(std::size_t loop, const std::string& status)
{
  std::lock_guard lock(m_mutex);
  if (loop >= m_ready.size()) {
    return;
  }
  m_ready[loop] = true;
  m_status[loop] = status;
  if (!m_ready_sent && std::all_of(m_ready.begin(), m_ready.end(), [](bool b) { return b; })) {
    m_ready_sent = true;
    std::string all;
    for (const auto& s : m_status) {
      all += (all.empty() ? "" : "; ") + s;
    }
    m_sent_status = all;
    send("READY=1\nSTATUS=" + all);
  }
}

void ServiceNotifier::alive(std::size_t loop)
{
  std::lock_guard lock(m_mutex);
  if (m_watchdog.count() == 0 || loop >= m_turned.size()) {
    return;
  }
  m_turned[loop] = true;
  const auto now = std::chrono::steady_clock::now();
  if (now - m_last_ping < m_watchdog / 2 ||
      !std::all_of(m_turned.begin(), m_turned.end(), [](bool b) { return b; })) {
    return;
  }
  m_last_ping = now;
  std::fill(m_turned.begin(), m_turned.end(), false);
  send("WATCHDOG=1");
}

void ServiceNotifier::status(std::size_t loop, const std::string& status)
{
  std::lock_guard lock(m_mutex);
  if (loop >= m_status.size()) {
    return;
  }
  m_status[loop] = status;
  std::string all;
  for (const auto& s : m_status) {
    all += (all.empty() ? "" : "; ") + s;
  }
  if (m_ready_sent && all != m_sent_status) {
    m_sent_status = all;
    send("STATUS=" + all);
  }
}

void ServiceNotifier::stopping()
{
  std::lock_guard lock(m_mutex);
  send("STOPPING=1");
}

} // namespace treecast::net
