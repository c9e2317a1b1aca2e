#pragma once

// One thread for a daemon's slow work (snapshots, deltas, staging), so its
// loop keeps answering. Jobs run in order; each returns what the loop runs
// when it is done, on the loop's thread. The loop polls wake() among its
// sockets and calls drain() when it is readable.

#include <zmq.hpp>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace treecast::net {

class Worker
{
public:
  using Done = std::function<void()>;
  using Job = std::function<Done()>;

  explicit Worker(zmq::context_t& context);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void post(Job job);
  // The socket that is readable when a job is done.
  zmq::socket_t& wake() { return m_wake; }
  // Runs what finished jobs returned.
  void drain();
  bool idle() const;

private:
  void run();

  zmq::socket_t m_wake;   // the loop's end
  zmq::socket_t m_signal; // the worker's end
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::deque<Job> m_jobs;
  std::deque<Done> m_done;
  std::size_t m_running = 0;
  bool m_stop = false;
  std::thread m_thread;
};

} // namespace treecast::net
