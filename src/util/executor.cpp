#include "executor.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace treecast::util {

void SerialExecutor::for_each(std::size_t count, const std::function<void(std::size_t)>& task)
{
  for (std::size_t i = 0; i < count; ++i) {
    task(i);
  }
}

ThreadPool::ThreadPool(unsigned threads)
  : m_threads(threads > 0 ? threads : std::max(1u, std::thread::hardware_concurrency()))
{
}

void ThreadPool::for_each(std::size_t count, const std::function<void(std::size_t)>& task)
{
  // Items are handed out one at a time from a shared counter, so a few large
  // files do not leave a thread idle behind a static split.
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      task(i);
    }
  };
  const std::size_t extra = std::min<std::size_t>(m_threads, count) - (count > 0 ? 1 : 0);
  std::vector<std::jthread> threads;
  threads.reserve(extra);
  for (std::size_t t = 0; t < extra; ++t) {
    threads.emplace_back(worker);
  }
  worker();
}

} // namespace treecast::util
