#pragma once

// A file's content held in memory when small, or in a file read by ranges
// when large: what a delta reads its bases and new contents from. Reading
// by ranges (pread) keeps resident memory to the ranges in use, whatever
// the file's size.

#include "file.hpp"
#include "result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace treecast::util {

class Content
{
public:
  explicit Content(std::vector<std::uint8_t> bytes)
    : m_bytes(std::move(bytes)), m_size(m_bytes.size())
  {
  }
  // The first size bytes of an open file; path names it in messages.
  Content(Fd fd, std::uint64_t size, std::string path)
    : m_fd(std::move(fd)), m_size(size), m_path(std::move(path))
  {
  }

  std::uint64_t size() const { return m_size; }
  bool in_memory() const { return !m_fd; }
  // The whole content; only when in_memory().
  std::span<const std::uint8_t> bytes() const;
  // Bytes [offset, offset + out.size()) into out.
  [[nodiscard]] Status read(std::uint64_t offset, std::span<std::uint8_t> out) const;
  // The same into a new buffer.
  [[nodiscard]] Result<std::vector<std::uint8_t>> read(std::uint64_t offset,
                                                       std::uint64_t length) const;

private:
  std::vector<std::uint8_t> m_bytes;
  Fd m_fd;
  std::uint64_t m_size = 0;
  std::string m_path;
};

// Reads length bytes at offset of fd into out, failing on a short file.
[[nodiscard]] Status pread_all(int fd, std::uint64_t offset, std::span<std::uint8_t> out,
                               std::string_view path);

} // namespace treecast::util
