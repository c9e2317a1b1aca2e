#include "content.hpp"

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <unistd.h>

namespace treecast::util {

std::span<const std::uint8_t> Content::bytes() const
{
  if (!in_memory()) {
    throw std::logic_error("Content::bytes of a content held in a file");
  }
  return m_bytes;
}

Status Content::read(std::uint64_t offset, std::span<std::uint8_t> out) const
{
  if (offset > m_size || out.size() > m_size - offset) {
    throw std::logic_error("Content::read beyond the content");
  }
  if (in_memory()) {
    std::copy_n(m_bytes.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    return {};
  }
  return pread_all(m_fd.get(), offset, out, m_path);
}

Result<std::vector<std::uint8_t>> Content::read(std::uint64_t offset, std::uint64_t length) const
{
  std::vector<std::uint8_t> out(length);
  if (auto s = read(offset, out); !s) {
    return s.error();
  }
  return out;
}

Status pread_all(int fd, std::uint64_t offset, std::span<std::uint8_t> out, std::string_view path)
{
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n =
      ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return io_error(path, "cannot read", errno);
    }
    if (n == 0) {
      return make_error(Errc::conflict, quote(path) + " is shorter than expected (" +
                                          std::to_string(offset + done) + " bytes)");
    }
    done += static_cast<std::size_t>(n);
  }
  return {};
}

} // namespace treecast::util
