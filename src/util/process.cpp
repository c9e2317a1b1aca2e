#include "process.hpp"

#include "util/file.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

namespace treecast::util {

Result<HookResult> run_hook(const std::string& command,
                            const std::vector<std::pair<std::string, std::string>>& env,
                            std::chrono::milliseconds timeout, std::size_t max_err,
                            const std::atomic<bool>* cancel)
{
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    return io_error("a pipe", "cannot create", errno);
  }
  Fd read_end(pipe_fds[0]);
  Fd write_end(pipe_fds[1]);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return io_error("a hook", "cannot start", errno);
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    const int null = ::open("/dev/null", O_RDONLY);
    if (null >= 0) {
      ::dup2(null, STDIN_FILENO);
    }
    ::dup2(write_end.get(), STDERR_FILENO);
    for (const auto& [name, value] : env) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  write_end = Fd();
  HookResult result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (cancel != nullptr && cancel->load())) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{read_end.get(), POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    if (n < 0 && errno != EINTR) {
      break;
    }
    if (n <= 0) {
      continue;
    }
    const ssize_t got = ::read(read_end.get(), buffer, sizeof buffer);
    if (got <= 0) {
      break; // the hook (and whatever it started) closed standard error
    }
    const std::size_t room = max_err - std::min(max_err, result.err.size());
    result.err.append(buffer, std::min(room, static_cast<std::size_t>(got)));
  }
  // Standard error is closed; the hook may still run (it may have closed
  // it itself): the deadline and cancel still hold.
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) {
      break;
    }
    if (!result.timed_out &&
        (std::chrono::steady_clock::now() >= deadline || (cancel != nullptr && cancel->load()))) {
      result.timed_out = true;
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    ::poll(nullptr, 0, 20);
  }
  if (!result.timed_out && WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  }
  return result;
}

std::string hook_failure(const std::string& what, const HookResult& r)
{
  std::string err = r.err;
  while (!err.empty() && (err.back() == '\n' || err.back() == ' ' || err.back() == '\r')) {
    err.pop_back();
  }
  if (r.timed_out) {
    return what + " did not finish in time" + (err.empty() ? "" : ": " + err);
  }
  if (!err.empty()) {
    return err;
  }
  return r.exit_code < 0 ? what + " was killed by a signal"
                         : what + " exited with status " + std::to_string(r.exit_code);
}

} // namespace treecast::util
