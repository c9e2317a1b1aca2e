#include "tree_replica.hpp"

#include "sync/store_source.hpp"
#include "util/file.hpp"
#include "util/process.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <fcntl.h>
#include <unistd.h>

namespace treecast::sync {

std::string txn_tag(const wire::TxnRef& txn)
{
  char text[48];
  std::snprintf(text, sizeof text, "%016" PRIx64 ":%" PRIu64, txn.epoch, txn.number);
  return text;
}

std::optional<wire::TxnRef> txn_of_tag(const std::string& tag)
{
  wire::TxnRef t;
  int end = 0;
  if (std::sscanf(tag.c_str(), "%16" SCNx64 ":%" SCNu64 "%n", &t.epoch, &t.number, &end) != 2 ||
      static_cast<std::size_t>(end) != tag.size()) {
    return std::nullopt;
  }
  return t;
}

util::Result<std::unique_ptr<TreeReplica>> TreeReplica::open(TreeReplicaOptions options)
{
  std::unique_ptr<TreeReplica> r(new TreeReplica(std::move(options)));
  auto f = core::Follower::open(r->m_options.dir, r->m_options.state, core::Create::yes, false);
  if (!f) {
    return f.error();
  }
  r->m_follower.emplace(std::move(*f));
  const auto& current = r->m_follower->current();
  if (current.header.number != 0 && current.header.channel != r->m_options.channel) {
    return util::make_error(util::Errc::conflict,
                            util::quote(r->m_options.dir) + " holds a version of channel " +
                              current.header.channel + ", not " + r->m_options.channel);
  }
  r->m_spool = r->m_follower->state() + "/incoming.delta";
  // A stage kept for no transaction (a catch-up cut short) waits for no
  // decision: it goes.
  if (const auto& p = r->m_follower->prepared(); p && !txn_of_tag(p->tag)) {
    if (auto s = r->m_follower->abort_prepared(); !s) {
      return s.error();
    }
  }
  r->read_state();
  r->settle();
  return r;
}

void TreeReplica::read_state()
{
  m_next_version = version_of(m_follower->current());
  m_next_exec_pending = ::access(exec_mark().c_str(), F_OK) == 0;
  m_next_staged.reset();
  if (const auto& p = m_follower->prepared()) {
    if (const auto txn = txn_of_tag(p->tag)) {
      m_next_staged = Staged{*txn, version_of(p->to)};
    }
  }
}

void TreeReplica::settle()
{
  m_version = m_next_version;
  m_staged = m_next_staged;
  m_exec_pending = m_next_exec_pending;
  m_unhealthy = m_next_unhealthy;
}

util::Status TreeReplica::begin_delta(const wire::VersionRef&, const wire::VersionRef&,
                                      std::uint64_t total)
{
  m_spool_fd = util::Fd(::open(m_spool.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!m_spool_fd) {
    return util::io_error(m_spool, "cannot create", errno);
  }
  if (::posix_fallocate(m_spool_fd.get(), 0, static_cast<off_t>(total)) != 0 &&
      ::ftruncate(m_spool_fd.get(), static_cast<off_t>(total)) != 0) {
    return util::io_error(m_spool, "cannot make room for the delta in", errno);
  }
  m_spool_total = total;
  m_spooled = 0;
  return {};
}

util::Status TreeReplica::write_delta(std::uint64_t offset, std::span<const std::uint8_t> data)
{
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::pwrite(m_spool_fd.get(), data.data() + done, data.size() - done,
                               static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return util::io_error(m_spool, "cannot write", n < 0 ? errno : EIO);
    }
    done += static_cast<std::size_t>(n);
  }
  m_spooled += data.size();
  return {};
}

std::string TreeReplica::stage_and_check(const Action& a, util::Executor& executor)
{
  // Whoever relayed it, a version is staged only under a trusted signature.
  if (!m_options.trusted.empty() &&
      !verify_version(m_options.trusted, m_options.channel, a.to, a.signature)) {
    return "v" + std::to_string(a.to.number) + " of " + m_options.channel +
           (a.signature.empty() ? " is not signed"
                                : " is not signed by a key this follower trusts");
  }
  util::Fd fd(::open(m_spool.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return util::io_error(m_spool, "cannot open", errno).message;
  }
  auto source = core::file_source(fd);
  if (!source) {
    return source.error().message;
  }
  core::DeltaReader reader(std::move(*source), m_spool);
  auto header = reader.read_header();
  if (!header) {
    return header.error().message;
  }
  if (header->to_number != a.to.number || header->to_id != a.to.id) {
    return "the delta received goes to v" + std::to_string(header->to_number) + ", not v" +
           std::to_string(a.to.number);
  }
  const std::string tag = a.kind == Action::Kind::apply ? std::string("catch-up") : txn_tag(a.txn);
  auto staged =
    m_follower->prepare(reader, *header, m_options.owners, m_options.mode, executor, tag);
  if (!staged) {
    return staged.error().message;
  }
  if (!m_options.check.empty()) {
    const std::string stage =
      m_options.mode == core::CommitMode::atomic ? m_follower->state() + "/stage" : "";
    auto r = util::run_hook(m_options.check,
                            {{"TREECAST_STAGE", stage},
                             {"TREECAST_VERSION", std::to_string(a.to.number)},
                             {"TREECAST_CHANNEL", m_options.channel},
                             {"TREECAST_DIR", m_options.dir}},
                            m_options.hook_timeout, 4096, m_options.cancel);
    if (!r || r->exit_code != 0) {
      const std::string why = r ? util::hook_failure("the check", *r) : r.error().message;
      (void)m_follower->abort_prepared();
      return why;
    }
  }
  return "";
}

void TreeReplica::run_exec(std::uint64_t version)
{
  auto r = util::run_hook(m_options.exec,
                          {{"TREECAST_VERSION", std::to_string(version)},
                           {"TREECAST_CHANNEL", m_options.channel},
                           {"TREECAST_DIR", m_options.dir}},
                          m_options.hook_timeout, 4096, m_options.cancel);
  if (!r || r->exit_code != 0) {
    m_log.push_back(
      {util::Level::error, m_options.channel + ": v" + std::to_string(version) +
                             " is committed, but the reload hook failed: " +
                             (r ? util::hook_failure("the hook", *r) : r.error().message)});
  }
}

void TreeReplica::run_deferred_exec()
{
  const std::uint64_t version = m_follower->current().header.number;
  run_exec(version);
  (void)run_health(version);
  // A hook cut short by the daemon's stop is owed still.
  if (m_options.cancel == nullptr || !m_options.cancel->load()) {
    (void)::unlink(exec_mark().c_str());
  }
  m_log.push_back({util::Level::info, m_options.channel + ": ran the deferred reload for v" +
                                        std::to_string(version)});
  read_state();
}

std::string TreeReplica::run_health(std::uint64_t version)
{
  if (m_options.health.empty()) {
    return "";
  }
  auto r = util::run_hook(m_options.health,
                          {{"TREECAST_VERSION", std::to_string(version)},
                           {"TREECAST_CHANNEL", m_options.channel},
                           {"TREECAST_DIR", m_options.dir}},
                          m_options.hook_timeout, 4096, m_options.cancel);
  if (r && r->exit_code == 0) {
    return "";
  }
  std::string why = r ? util::hook_failure("the health check", *r) : r.error().message;
  m_log.push_back({util::Level::error, m_options.channel + ": v" + std::to_string(version) +
                                         " is committed, but " + why});
  return why;
}

std::string TreeReplica::run(const Action& a, util::Executor& executor)
{
  std::string error;
  m_next_unhealthy.clear();
  switch (a.kind) {
    case Action::Kind::stage:
      error = stage_and_check(a, executor);
      break;
    case Action::Kind::apply:
      error = stage_and_check(a, executor);
      if (!error.empty()) {
        break;
      }
      [[fallthrough]];
    case Action::Kind::commit: {
      auto done = m_follower->commit_prepared(executor);
      if (!done) {
        error = done.error().message;
        break;
      }
      // A canary's reload is not spread: its health check must see it.
      if (m_options.exec.empty() || !m_options.defer_exec || !a.group.empty()) {
        if (!m_options.exec.empty()) {
          run_exec(a.to.number);
        }
        m_next_unhealthy = run_health(a.to.number);
        break;
      }
      // Owed, and said so on disk before the ACK, so that not even a kill
      // loses the reload.
      if (auto s = util::write_file_atomic(exec_mark(), {}, util::Durability::fsync); !s) {
        m_log.push_back({util::Level::error, m_options.channel + ": cannot defer the reload (" +
                                               s.error().message + "): running it now"});
        run_exec(a.to.number);
      }
      break;
    }
    case Action::Kind::abort:
      if (auto s = m_follower->abort_prepared(); !s) {
        error = s.error().message;
      }
      break;
  }
  (void)::unlink(m_spool.c_str());
  read_state();
  return error;
}

} // namespace treecast::sync
