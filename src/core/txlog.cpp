#include "txlog.hpp"

#include "util/file.hpp"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

namespace {

const char* kind_name(TxnEvent::Kind k)
{
  switch (k) {
    case TxnEvent::Kind::begin:
      return "begin";
    case TxnEvent::Kind::commit:
      return "commit";
    case TxnEvent::Kind::abort:
      return "abort";
    case TxnEvent::Kind::canary:
      return "canary";
  }
  return "?";
}

// One line, without its newline; nullopt when it is not an event.
std::optional<TxnEvent> parse(const std::string& line)
{
  char kind[8] = {};
  char hex[33] = {};
  char group[129] = {};
  TxnEvent e;
  int end = 0;
  if (std::sscanf(line.c_str(), "%7s %" SCNu64 " %" SCNu64 " %" SCNu64 " %32s%n", kind, &e.epoch,
                  &e.txn, &e.number, hex, &end) != 5) {
    return std::nullopt;
  }
  if (std::string(kind) == "canary") {
    int more = 0;
    if (std::sscanf(line.c_str() + end, " %128s%n", group, &more) != 1) {
      return std::nullopt;
    }
    end += more;
    e.group = group;
  }
  if (static_cast<std::size_t>(end) != line.size()) {
    return std::nullopt;
  }
  const std::string k = kind;
  if (k == "begin") {
    e.kind = TxnEvent::Kind::begin;
  } else if (k == "commit") {
    e.kind = TxnEvent::Kind::commit;
  } else if (k == "abort") {
    e.kind = TxnEvent::Kind::abort;
  } else if (k == "canary") {
    e.kind = TxnEvent::Kind::canary;
  } else {
    return std::nullopt;
  }
  auto id = util::Hash128::from_hex(hex);
  if (!id) {
    return std::nullopt;
  }
  e.id = *id;
  return e;
}

} // namespace

util::Result<TxnLog> TxnLog::open(const Store& store, std::string_view channel)
{
  TxnLog log;
  log.m_path = store.channel_dir(channel) + "/transactions";
  auto bytes = util::read_file(log.m_path, std::size_t{1} << 30);
  if (!bytes) {
    if (bytes.error().code == util::Errc::not_found) {
      return log;
    }
    return bytes.error();
  }
  const std::string text(bytes->begin(), bytes->end());
  std::size_t at = 0;
  std::size_t line_number = 0;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    ++line_number;
    if (nl == std::string::npos) {
      break; // cut short by a crash: never acted on
    }
    auto e = parse(text.substr(at, nl - at));
    if (!e) {
      return util::make_error(util::Errc::data, util::quote(log.m_path) + " line " +
                                                  std::to_string(line_number) +
                                                  " is not a transaction event");
    }
    log.m_events.push_back(*e);
    at = nl + 1;
    log.m_whole = at;
  }
  return log;
}

util::Status TxnLog::append(const TxnEvent& e)
{
  char line[320];
  const int n = std::snprintf(
    line, sizeof line, "%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %s%s%s\n", kind_name(e.kind),
    e.epoch, e.txn, e.number, e.id.hex().c_str(), e.kind == TxnEvent::Kind::canary ? " " : "",
    e.kind == TxnEvent::Kind::canary ? e.group.substr(0, 128).c_str() : "");
  struct stat before
  {};
  const bool created = ::stat(m_path.c_str(), &before) != 0;
  util::Fd fd(::open(m_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!fd) {
    return util::io_error(m_path, "cannot open", errno);
  }
  // A line cut short by a crash was never acted on: it goes.
  struct stat st
  {};
  if (::fstat(fd.get(), &st) == 0 && static_cast<std::uint64_t>(st.st_size) != m_whole &&
      ::ftruncate(fd.get(), static_cast<off_t>(m_whole)) != 0) {
    return util::io_error(m_path, "cannot truncate", errno);
  }
  if (::write(fd.get(), line, static_cast<std::size_t>(n)) != n) {
    return util::io_error(m_path, "cannot write", errno);
  }
  if (::fdatasync(fd.get()) != 0) {
    return util::io_error(m_path, "cannot flush", errno);
  }
  if (created) {
    // The file's entry in its folder, too: or the first event could vanish.
    if (auto s = util::fsync_dir(m_path.substr(0, m_path.rfind('/'))); !s) {
      return s;
    }
  }
  m_events.push_back(e);
  m_whole += static_cast<std::uint64_t>(n);
  return {};
}

util::Result<std::uint64_t> store_epoch(const Store& store)
{
  const std::string path = store.root() + "/epoch";
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto bytes = util::read_file(path, 64);
    if (bytes) {
      std::uint64_t epoch = 0;
      const std::string text(bytes->begin(), bytes->end());
      int end = 0;
      if (std::sscanf(text.c_str(), "treecast epoch %" SCNx64 "\n%n", &epoch, &end) != 1 ||
          static_cast<std::size_t>(end) != text.size() || epoch == 0) {
        return util::make_error(util::Errc::data, util::quote(path) + " is not an epoch");
      }
      return epoch;
    }
    if (bytes.error().code != util::Errc::not_found) {
      return bytes.error();
    }
    std::uint64_t epoch = 0;
    while (epoch == 0) {
      if (::getrandom(&epoch, sizeof epoch, 0) != sizeof epoch) {
        return util::io_error(path, "cannot draw a random epoch", errno);
      }
    }
    char text[64];
    const int n = std::snprintf(text, sizeof text, "treecast epoch %016" PRIx64 "\n", epoch);
    // Two masters racing: the first rename wins; both then read it.
    const std::string temp = path + ".tmp." + std::to_string(::getpid());
    if (auto s = util::write_file_atomic(
          temp, {reinterpret_cast<const std::uint8_t*>(text), static_cast<std::size_t>(n)},
          util::Durability::fsync);
        !s) {
      return s.error();
    }
    if (::link(temp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      const int err = errno;
      (void)::unlink(temp.c_str());
      return util::io_error(path, "cannot create", err);
    }
    (void)::unlink(temp.c_str());
    if (auto s = util::fsync_dir(store.root()); !s) {
      return s.error();
    }
  }
  return util::make_error(util::Errc::io, "cannot read " + util::quote(path));
}

} // namespace treecast::core
