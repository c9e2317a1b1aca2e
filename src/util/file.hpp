#pragma once

// File helpers over POSIX: an owning descriptor, whole writes and bounded
// reads, atomic replacement of small files, and error messages that name the
// path. Paths are byte strings, as on disk; quote() makes them printable.

#include "result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace treecast::util {

class Fd
{
public:
  Fd() = default;
  explicit Fd(int fd) : m_fd(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : m_fd(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return m_fd; }
  explicit operator bool() const { return m_fd >= 0; }
  int release();
  void reset(int fd = -1);

private:
  int m_fd = -1;
};

// "'path': what: strerror(err)", with the path quoted.
[[nodiscard]] std::string os_error(std::string_view path, std::string_view what, int err);
[[nodiscard]] Error io_error(std::string_view path, std::string_view what, int err);

// A path made safe to print: printable ASCII and UTF-8 pass, other bytes
// (newlines, invalid UTF-8) become \n, \xNN; quoted when it has spaces,
// quotes or escapes, or starts with a dash.
[[nodiscard]] std::string quote(std::string_view path);
[[nodiscard]] bool valid_utf8(std::string_view text);

// Joins a folder and a relative path; an empty relative path gives the folder.
[[nodiscard]] std::string join(std::string_view dir, std::string_view relative);

[[nodiscard]] Status write_all(int fd, std::span<const std::uint8_t> data, std::string_view path);
[[nodiscard]] Result<std::vector<std::uint8_t>> read_file(const std::string& path,
                                                          std::size_t max_size);

enum class Durability : std::uint8_t
{
  fsync, // data and folder entry reach the disk before returning
  none,  // atomic against a killed process only (caches)
};

// Writes data to a temporary file in the same folder, then renames it over
// path: readers see the old content or the new, never a mix.
[[nodiscard]] Status write_file_atomic(const std::string& path, std::span<const std::uint8_t> data,
                                       Durability durability);
[[nodiscard]] Status fsync_dir(const std::string& path);
// Creates path with text, mode and fsync; refuses an existing file (keys
// are never overwritten).
[[nodiscard]] Status write_new_file(const std::string& path, std::string_view text, unsigned mode);
// A secret's file (a key): conflict when others than its owner may read it.
[[nodiscard]] Status check_owner_only(const std::string& path, std::string_view what);
// mkdir -p; existing folders are fine.
[[nodiscard]] Status make_dirs(const std::string& path);
// rm -r of a path that may not exist.
[[nodiscard]] Status remove_tree(const std::string& path);

} // namespace treecast::util

namespace treecast::util {

// The file system's "now": sets path's mtime to the current time and returns
// it in nanoseconds. File timestamps come from a coarse kernel clock that can
// lag the system clock by a tick, so timestamps are compared with this, never
// with the system clock.
[[nodiscard]] Result<std::int64_t> filesystem_now(const std::string& path);

// Opens relative (a path inside the folder open as root_fd) without ever
// leaving that folder or following a symlink on the way (openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS). flags as for open(2).
[[nodiscard]] Result<Fd> open_beneath(int root_fd, std::string_view relative, int flags,
                                      unsigned mode = 0);
// The same, for callers that word their own errors: the descriptor, or -1
// with errno set. relative must not be empty.
[[nodiscard]] int open_beneath_fd(int root_fd, const char* relative, int flags, unsigned mode = 0);

} // namespace treecast::util
