#pragma once

// Where parallel work runs. The layers below the command line own no threads
// (ARCHITECTURE.md): a function with independent per-item work takes an
// Executor and calls for_each(count, task). The command line picks a
// ThreadPool sized to the machine; tests may pick the serial one.

#include <cstddef>
#include <functional>

namespace treecast::util {

class Executor
{
public:
  virtual ~Executor() = default;
  // Runs task(0) ... task(count - 1), each exactly once, in any order and
  // possibly concurrently; returns when all have returned. Tasks must not
  // throw.
  virtual void for_each(std::size_t count, const std::function<void(std::size_t)>& task) = 0;
  virtual unsigned concurrency() const = 0;
};

class SerialExecutor final : public Executor
{
public:
  void for_each(std::size_t count, const std::function<void(std::size_t)>& task) override;
  unsigned concurrency() const override { return 1; }
};

class ThreadPool final : public Executor
{
public:
  // threads == 0: one per available core.
  explicit ThreadPool(unsigned threads = 0);
  void for_each(std::size_t count, const std::function<void(std::size_t)>& task) override;
  unsigned concurrency() const override { return m_threads; }

private:
  unsigned m_threads;
};

} // namespace treecast::util
