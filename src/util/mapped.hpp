#pragma once

// Read-only views of whole files: a memory map, so that large inputs (the
// bases and contents of a delta) are paged in by the kernel instead of held
// in the process's own memory.

#include "file.hpp"
#include "result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace treecast::util {

class MappedFile
{
public:
  MappedFile() = default;
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // Maps the first size bytes of fd (the file must hold at least that many);
  // path is for messages. An empty file maps to an empty view.
  [[nodiscard]] static Result<MappedFile> map(int fd, std::uint64_t size, std::string_view path);

  std::span<const std::uint8_t> bytes() const { return {m_data, m_size}; }

private:
  const std::uint8_t* m_data = nullptr;
  std::size_t m_size = 0;
};

// A file's content held either in memory (small) or mapped (large): what a
// delta reads its bases and new contents from.
class Content
{
public:
  Content() = default;
  explicit Content(std::vector<std::uint8_t> bytes) : m_bytes(std::move(bytes)) {}
  explicit Content(MappedFile mapped) : m_mapped(std::move(mapped)) {}

  std::span<const std::uint8_t> bytes() const
  {
    return m_mapped.bytes().empty() ? std::span<const std::uint8_t>(m_bytes) : m_mapped.bytes();
  }

private:
  std::vector<std::uint8_t> m_bytes;
  MappedFile m_mapped;
};

} // namespace treecast::util
