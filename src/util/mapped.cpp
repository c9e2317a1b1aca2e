#include "mapped.hpp"

#include <cerrno>
#include <sys/mman.h>
#include <sys/stat.h>

namespace treecast::util {

MappedFile::~MappedFile()
{
  if (m_size > 0) {
    ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
  }
}

MappedFile::MappedFile(MappedFile&& other) noexcept
  : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0))
{
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept
{
  if (this != &other) {
    if (m_size > 0) {
      ::munmap(const_cast<std::uint8_t*>(m_data), m_size);
    }
    m_data = std::exchange(other.m_data, nullptr);
    m_size = std::exchange(other.m_size, 0);
  }
  return *this;
}

Result<MappedFile> MappedFile::map(int fd, std::uint64_t size, std::string_view path)
{
  MappedFile mapped;
  if (size == 0) {
    return mapped;
  }
  struct stat st
  {};
  if (::fstat(fd, &st) != 0) {
    return io_error(path, "cannot stat", errno);
  }
  if (static_cast<std::uint64_t>(st.st_size) < size || size > SIZE_MAX) {
    return make_error(Errc::conflict, quote(path) + " holds " + std::to_string(st.st_size) +
                                        " bytes, " + std::to_string(size) + " expected");
  }
  void* data = ::mmap(nullptr, static_cast<std::size_t>(size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (data == MAP_FAILED) {
    return io_error(path, "cannot map", errno);
  }
  mapped.m_data = static_cast<const std::uint8_t*>(data);
  mapped.m_size = static_cast<std::size_t>(size);
  return mapped;
}

} // namespace treecast::util
