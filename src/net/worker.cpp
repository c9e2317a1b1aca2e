#include "worker.hpp"

#include <atomic>
#include <string>

namespace treecast::net {

namespace {
std::atomic<unsigned> g_workers{0};
}

Worker::Worker(zmq::context_t& context)
  : m_wake(context, zmq::socket_type::pair), m_signal(context, zmq::socket_type::pair)
{
  const std::string endpoint = "inproc://treecast-worker-" + std::to_string(g_workers++);
  m_wake.bind(endpoint);
  m_signal.connect(endpoint);
  m_thread = std::thread([this] { run(); });
}

Worker::~Worker()
{
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_cv.notify_all();
  m_thread.join();
}

void Worker::post(Job job)
{
  {
    std::lock_guard lock(m_mutex);
    m_jobs.push_back(std::move(job));
    ++m_running;
  }
  m_cv.notify_all();
}

bool Worker::idle() const
{
  std::lock_guard lock(m_mutex);
  return m_running == 0 && m_done.empty();
}

void Worker::run()
{
  for (;;) {
    Job job;
    {
      std::unique_lock lock(m_mutex);
      m_cv.wait(lock, [&] { return m_stop || !m_jobs.empty(); });
      if (m_stop) {
        return;
      }
      job = std::move(m_jobs.front());
      m_jobs.pop_front();
    }
    Done done = job();
    {
      std::lock_guard lock(m_mutex);
      m_done.push_back(std::move(done));
    }
    // The pair socket is this thread's alone for sending.
    (void)m_signal.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
  }
}

void Worker::drain()
{
  zmq::message_t byte;
  while (m_wake.recv(byte, zmq::recv_flags::dontwait)) {
  }
  std::deque<Done> done;
  {
    std::lock_guard lock(m_mutex);
    done.swap(m_done);
  }
  for (Done& d : done) {
    if (d) {
      d();
    }
    std::lock_guard lock(m_mutex);
    --m_running;
  }
}

} // namespace treecast::net
