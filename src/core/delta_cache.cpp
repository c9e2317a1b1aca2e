// The store's cache of deltas: STORE/deltas/FROMID-TOID-lLEVEL-fFORMAT.
// A delta is written to tmp/, made durable, and renamed into place, so the
// cache never holds a partial one; two processes making the same delta at
// once write the same bytes, and the second rename is harmless.

#include "delta.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

std::string delta_cache_name(const Manifest& from, const Manifest& to, const DeltaOptions& options)
{
  const util::Hash128 from_id = from.header.number == 0 ? util::Hash128{} : from.id;
  // The numbers too: a delta's header names them, and one tree can be two
  // versions (a rollback, or a tree pushed again).
  return from_id.hex() + "-" + to.id.hex() + "-n" + std::to_string(from.header.number) + "." +
         std::to_string(to.header.number) + "-l" + std::to_string(options.level) + "-f" +
         std::to_string(k_delta_format);
}

util::Result<DeltaReader::Source> file_source(util::Fd& fd)
{
  const int raw = fd.get();
  return DeltaReader::Source([raw](std::span<std::uint8_t> buffer) -> util::Result<std::size_t> {
    for (;;) {
      const ssize_t n = ::read(raw, buffer.data(), buffer.size());
      if (n >= 0) {
        return static_cast<std::size_t>(n);
      }
      if (errno != EINTR) {
        return util::make_error(util::Errc::io,
                                std::string("cannot read the delta: ") + std::strerror(errno));
      }
    }
  });
}

namespace {

util::Result<DeltaHeader> cached_header(const std::string& path)
{
  util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return util::io_error(path, "cannot open", errno);
  }
  auto source = file_source(fd);
  DeltaReader reader(std::move(*source), path);
  return reader.read_header();
}

} // namespace

util::Result<CachedDelta> cached_delta(const Store& store, const Manifest& from, const Manifest& to,
                                       const DeltaOptions& options, util::Executor& executor)
{
  const std::string folder = store.root() + "/deltas";
  CachedDelta cached;
  cached.path = folder + "/" + delta_cache_name(from, to, options);
  if (::access(cached.path.c_str(), F_OK) == 0) {
    auto header = cached_header(cached.path);
    if (header) {
      cached.report.header = *header;
      struct stat st
      {};
      if (::stat(cached.path.c_str(), &st) == 0) {
        cached.report.delta_bytes = static_cast<std::uint64_t>(st.st_size);
      }
      return cached;
    }
    // A damaged cache entry is made again.
  }
  if (auto s = util::make_dirs(folder); !s) {
    return s.error();
  }
  std::string temp = store.root() + "/tmp/delta.XXXXXX";
  util::Fd fd(::mkstemp(temp.data()));
  if (!fd) {
    return util::io_error(temp, "cannot create", errno);
  }
  auto fail = [&](util::Error error) -> util::Result<CachedDelta> {
    ::unlink(temp.c_str());
    return error;
  };
  // Written through a buffer: records come in many small pieces.
  std::vector<std::uint8_t> buffer;
  auto flush = [&]() -> util::Status {
    auto s = util::write_all(fd.get(), buffer, temp);
    buffer.clear();
    return s;
  };
  auto report =
    make_delta(store, from, to, options, executor, [&](std::span<const std::uint8_t> data) {
      buffer.insert(buffer.end(), data.begin(), data.end());
      return buffer.size() >= (1 << 20) ? flush() : util::Status{};
    });
  if (!report) {
    return fail(report.error());
  }
  if (auto s = flush(); !s) {
    return fail(s.error());
  }
  if (::fchmod(fd.get(), 0644) != 0 || ::fsync(fd.get()) != 0) {
    return fail(util::io_error(temp, "fsync failed", errno));
  }
  if (::rename(temp.c_str(), cached.path.c_str()) != 0) {
    return fail(util::io_error(cached.path, "cannot move into the delta cache", errno));
  }
  cached.made = true;
  cached.report = *report;
  return cached;
}

} // namespace treecast::core
