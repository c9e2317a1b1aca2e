#include "store_source.hpp"

#include "util/file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::sync {

wire::VersionRef version_of(const core::Manifest& m)
{
  return m.header.number == 0 ? wire::VersionRef{} : wire::VersionRef{m.header.number, m.id};
}

util::Result<std::unique_ptr<StoreSource>> StoreSource::open(
  const core::Store& store, const std::vector<std::string>& channels, core::DeltaOptions options)
{
  std::unique_ptr<StoreSource> s(new StoreSource(store, options));
  auto epoch = core::store_epoch(store);
  if (!epoch) {
    return epoch.error();
  }
  s->m_epoch = *epoch;
  for (const std::string& channel : channels) {
    auto log = core::TxnLog::open(store, channel);
    if (!log) {
      return log.error();
    }
    s->m_logs.emplace(channel, std::move(*log));
  }
  return s;
}

std::vector<wire::VersionRef> StoreSource::committed(const std::string& channel,
                                                     std::size_t n) const
{
  std::vector<wire::VersionRef> out;
  const auto it = m_logs.find(channel);
  if (it == m_logs.end()) {
    return out;
  }
  const auto& events = it->second.events();
  for (auto e = events.rbegin(); e != events.rend() && out.size() < n; ++e) {
    if (e->kind == core::TxnEvent::Kind::commit) {
      out.push_back({e->number, e->id});
    }
  }
  return out;
}

util::Result<core::Manifest> StoreSource::manifest(const std::string& channel,
                                                   const wire::VersionRef& v) const
{
  if (v.number == 0) {
    return core::Manifest{};
  }
  const auto key = std::make_pair(channel, v.number);
  auto it = m_manifests.find(key);
  if (it == m_manifests.end()) {
    auto m = m_store.read_manifest(channel, v.number);
    if (!m) {
      return m.error();
    }
    // Bounded: a follower may name any version the store holds.
    if (m_manifests.size() >= k_max_cached_manifests) {
      m_manifests.clear();
    }
    it = m_manifests.emplace(key, std::move(*m)).first;
  }
  if (it->second.id != v.id) {
    return util::make_error(util::Errc::not_found, "channel " + channel + " has no v" +
                                                     std::to_string(v.number) + " with id " +
                                                     v.id.hex());
  }
  return it->second;
}

bool StoreSource::has_version(const std::string& channel, const wire::VersionRef& v) const
{
  if (v.number == 0) {
    return v.id == util::Hash128{};
  }
  return m_logs.contains(channel) && manifest(channel, v).ok();
}

std::optional<LoggedTxn> StoreSource::last_txn(const std::string& channel) const
{
  const auto it = m_logs.find(channel);
  if (it == m_logs.end()) {
    return std::nullopt;
  }
  std::optional<LoggedTxn> last;
  for (const core::TxnEvent& e : it->second.events()) {
    if (e.kind == core::TxnEvent::Kind::begin) {
      last = LoggedTxn{{e.epoch, e.txn}, {e.number, e.id}, wire::Outcome::none};
    } else if (last && last->txn == wire::TxnRef{e.epoch, e.txn}) {
      last->outcome =
        e.kind == core::TxnEvent::Kind::abort ? wire::Outcome::abort : wire::Outcome::commit;
    }
  }
  return last;
}

util::Status StoreSource::log(const std::string& channel, core::TxnEvent::Kind kind,
                              const wire::TxnRef& txn, const wire::VersionRef& version)
{
  const auto it = m_logs.find(channel);
  if (it == m_logs.end()) {
    return util::make_error(util::Errc::usage, "no channel " + util::quote(channel));
  }
  return it->second.append({kind, txn.epoch, txn.number, version.number, version.id});
}

util::Status StoreSource::log_canary(const std::string& channel, const wire::TxnRef& txn,
                                     const wire::VersionRef& version, const std::string& group)
{
  const auto it = m_logs.find(channel);
  if (it == m_logs.end()) {
    return util::make_error(util::Errc::usage, "no channel " + util::quote(channel));
  }
  core::TxnEvent e{
    core::TxnEvent::Kind::canary, txn.epoch, txn.number, version.number, version.id, group};
  return it->second.append(e);
}

wire::Canary StoreSource::canary(const std::string& channel) const
{
  wire::Canary out;
  const auto it = m_logs.find(channel);
  if (it == m_logs.end()) {
    return out;
  }
  wire::VersionRef committed;
  for (const core::TxnEvent& e : it->second.events()) {
    if (e.kind == core::TxnEvent::Kind::commit) {
      committed = {e.number, e.id};
      out = {};
    } else if (e.kind == core::TxnEvent::Kind::canary) {
      out = {e.group, {e.number, e.id}, {}};
    }
  }
  // Canaries rolled back to the fleet's version are no longer canaries.
  return out.version == committed ? wire::Canary{} : out;
}

util::Status StoreSource::log_begin(const std::string& channel, const wire::TxnRef& txn,
                                    const wire::VersionRef& version)
{
  return log(channel, core::TxnEvent::Kind::begin, txn, version);
}

util::Status StoreSource::log_decision(const std::string& channel, const wire::TxnRef& txn,
                                       wire::Outcome outcome, const wire::VersionRef& version)
{
  return log(channel,
             outcome == wire::Outcome::commit ? core::TxnEvent::Kind::commit
                                              : core::TxnEvent::Kind::abort,
             txn, version);
}

std::vector<std::uint8_t> StoreSource::signature(const std::string& channel,
                                                 const wire::VersionRef& v) const
{
  return m_signing ? sign_version(*m_signing, channel, v) : std::vector<std::uint8_t>{};
}

util::Result<std::string> StoreSource::delta_path(const std::string& channel,
                                                  const wire::VersionRef& from,
                                                  const wire::VersionRef& to) const
{
  auto a = manifest(channel, from);
  if (!a) {
    return a.error();
  }
  auto b = manifest(channel, to);
  if (!b) {
    return b.error();
  }
  return m_store.root() + "/deltas/" + core::delta_cache_name(*a, *b, m_options);
}

std::optional<std::uint64_t> StoreSource::delta_size(const std::string& channel,
                                                     const wire::VersionRef& from,
                                                     const wire::VersionRef& to) const
{
  auto path = delta_path(channel, from, to);
  struct stat st
  {};
  if (!path || ::stat(path->c_str(), &st) != 0) {
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(st.st_size);
}

util::Result<std::vector<std::uint8_t>> StoreSource::read_delta(const std::string& channel,
                                                                const wire::VersionRef& from,
                                                                const wire::VersionRef& to,
                                                                std::uint64_t offset,
                                                                std::size_t length) const
{
  auto path = delta_path(channel, from, to);
  if (!path) {
    return path.error();
  }
  util::Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return util::io_error(*path, "cannot open", errno);
  }
  std::vector<std::uint8_t> out(length);
  std::size_t done = 0;
  while (done < length) {
    const ssize_t n =
      ::pread(fd.get(), out.data() + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return util::io_error(*path, "cannot read", n < 0 ? errno : EIO);
    }
    done += static_cast<std::size_t>(n);
  }
  return out;
}

} // namespace treecast::sync
