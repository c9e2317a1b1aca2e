#include "file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::util {

Fd& Fd::operator=(Fd&& other) noexcept
{
  if (this != &other) {
    reset(other.release());
  }
  return *this;
}

int Fd::release()
{
  const int fd = m_fd;
  m_fd = -1;
  return fd;
}

void Fd::reset(int fd)
{
  if (m_fd >= 0) {
    ::close(m_fd);
  }
  m_fd = fd;
}

std::string os_error(std::string_view path, std::string_view what, int err)
{
  std::string message = quote(path);
  message += ": ";
  message += what;
  message += ": ";
  message += std::strerror(err);
  return message;
}

Error io_error(std::string_view path, std::string_view what, int err)
{
  return make_error(Errc::io, os_error(path, what, err));
}

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i)
{
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
  } else {
    return 0;
  }
  if (i + n > s.size()) {
    return 0;
  }
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
      return 0;
    }
  }
  return n;
}

} // namespace

bool valid_utf8(std::string_view text)
{
  for (std::size_t i = 0; i < text.size();) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
    } else if (const std::size_t n = utf8_length(text, i); n > 0) {
      i += n;
    } else {
      return false;
    }
  }
  return true;
}

std::string quote(std::string_view path)
{
  std::string out;
  bool needs_quotes = path.empty() || path.front() == '-';
  for (std::size_t i = 0; i < path.size();) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (c >= 0x80) {
      if (const std::size_t n = utf8_length(path, i); n > 0) {
        out.append(path.substr(i, n));
        i += n;
        continue;
      }
    }
    if (c == '\n') {
      out += "\\n";
      needs_quotes = true;
    } else if (c == '\t') {
      out += "\\t";
      needs_quotes = true;
    } else if (c == '\\' || c == '\'') {
      out += '\\';
      out += static_cast<char>(c);
      needs_quotes = true;
    } else if (c < 0x20 || c >= 0x7f) {
      char buffer[5];
      std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
      out += buffer;
      needs_quotes = true;
    } else {
      if (c == ' ' || c == '"') {
        needs_quotes = true;
      }
      out += static_cast<char>(c);
    }
    ++i;
  }
  return needs_quotes ? "'" + out + "'" : out;
}

std::string join(std::string_view dir, std::string_view relative)
{
  std::string out(dir);
  if (relative.empty()) {
    return out;
  }
  if (!out.empty() && out.back() != '/') {
    out += '/';
  }
  out += relative;
  return out;
}

Status write_all(int fd, std::span<const std::uint8_t> data, std::string_view path)
{
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error(path, "write failed", errno);
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::vector<std::uint8_t>> read_file(const std::string& path, std::size_t max_size)
{
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return make_error(errno == ENOENT ? Errc::not_found : Errc::io,
                      os_error(path, "cannot open", errno));
  }
  std::vector<std::uint8_t> out;
  struct stat st = {};
  if (::fstat(fd.get(), &st) == 0 && st.st_size > 0) {
    out.reserve(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max_size));
  }
  std::uint8_t buffer[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error(path, "read failed", errno);
    }
    if (n == 0) {
      return out;
    }
    if (out.size() + static_cast<std::size_t>(n) > max_size) {
      return make_error(Errc::data, quote(path) + ": larger than the limit of " +
                                      std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), buffer, buffer + n);
  }
}

Status fsync_dir(const std::string& path)
{
  Fd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    return io_error(path, "cannot open folder", errno);
  }
  if (::fsync(fd.get()) != 0) {
    return io_error(path, "fsync failed", errno);
  }
  return {};
}

Status write_file_atomic(const std::string& path, std::span<const std::uint8_t> data,
                         Durability durability)
{
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  std::string temp = path + ".tmp.XXXXXX";
  Fd fd(::mkostemp(temp.data(), O_CLOEXEC));
  if (!fd) {
    return io_error(temp, "cannot create temporary file", errno);
  }
  auto fail = [&](Error error) -> Status {
    ::unlink(temp.c_str());
    return error;
  };
  if (::fchmod(fd.get(), 0644) != 0) {
    return fail(io_error(temp, "chmod failed", errno));
  }
  if (auto s = write_all(fd.get(), data, temp); !s) {
    return fail(s.error());
  }
  if (durability == Durability::fsync && ::fsync(fd.get()) != 0) {
    return fail(io_error(temp, "fsync failed", errno));
  }
  fd.reset();
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    return fail(io_error(path, "rename failed", errno));
  }
  if (durability == Durability::fsync) {
    return fsync_dir(dir);
  }
  return {};
}

Status make_dirs(const std::string& path)
{
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return io_error(path, "cannot create folder", ec.value());
  }
  return {};
}

Status remove_tree(const std::string& path)
{
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) {
    return io_error(path, "cannot remove", ec.value());
  }
  return {};
}

} // namespace treecast::util

#include <linux/openat2.h>
#include <sys/syscall.h>

namespace treecast::util {

Result<std::int64_t> filesystem_now(const std::string& path)
{
  if (::utimensat(AT_FDCWD, path.c_str(), nullptr, 0) != 0) {
    return io_error(path, "cannot set the time", errno);
  }
  struct stat st
  {};
  if (::stat(path.c_str(), &st) != 0) {
    return io_error(path, "cannot stat", errno);
  }
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

int open_beneath_fd(int root_fd, const char* relative, int flags, unsigned mode)
{
  open_how how{};
  how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    const long fd = ::syscall(SYS_openat2, root_fd, relative, &how, sizeof how);
    if (fd >= 0 || (errno != EINTR && errno != EAGAIN)) {
      return static_cast<int>(fd);
    }
  }
}

Result<Fd> open_beneath(int root_fd, std::string_view relative, int flags, unsigned mode)
{
  const std::string path = relative.empty() ? std::string(".") : std::string(relative);
  Fd fd(open_beneath_fd(root_fd, path.c_str(), flags, mode));
  if (!fd) {
    return io_error(path, "cannot open", errno);
  }
  return fd;
}

Status write_new_file(const std::string& path, std::string_view text, unsigned mode)
{
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode));
  if (!fd) {
    return io_error(path, errno == EEXIST ? "will not overwrite" : "cannot create", errno);
  }
  if (::fchmod(fd.get(), mode) != 0) {
    return io_error(path, "cannot set the mode of", errno);
  }
  if (auto s = write_all(fd.get(),
                         {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, path);
      !s) {
    return s;
  }
  if (::fsync(fd.get()) != 0) {
    return io_error(path, "cannot flush", errno);
  }
  return {};
}

Status check_owner_only(const std::string& path, std::string_view what)
{
  struct stat st
  {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
    return make_error(Errc::conflict, quote(path) + " is readable by others: " + std::string(what) +
                                        " must be mode 0600");
  }
  return {};
}

} // namespace treecast::util
