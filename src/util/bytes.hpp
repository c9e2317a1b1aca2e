#pragma once

// Little-endian integers, LEB128 varints and length-prefixed strings: the
// building blocks of every treecast binary format (man/treecast-formats.5).
// ByteReader is the one place where untrusted bytes are bounds-checked: every
// read checks what is left, and the first failure is kept (sticky) with the
// name of the field, so decoders read linearly and test ok() once per record.

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace treecast::util {

// Signed integers in varints: 0, -1, 1, -2 ... as 0, 1, 2, 3 ...
[[nodiscard]] inline std::uint64_t zigzag(std::int64_t value)
{
  return (static_cast<std::uint64_t>(value) << 1) ^ static_cast<std::uint64_t>(value >> 63);
}
[[nodiscard]] inline std::int64_t unzigzag(std::uint64_t value)
{
  return static_cast<std::int64_t>(value >> 1) ^ -static_cast<std::int64_t>(value & 1);
}
// The length of the longest common prefix (paths prefix-compressed against
// the previous one).
[[nodiscard]] inline std::size_t common_prefix(std::string_view a, std::string_view b)
{
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i < n && a[i] == b[i]) {
    ++i;
  }
  return i;
}

class ByteWriter
{
public:
  void reserve(std::size_t bytes) { m_bytes.reserve(bytes); }
  void u8(std::uint8_t value) { m_bytes.push_back(value); }
  void u64le(std::uint64_t value);
  void varint(std::uint64_t value);
  void bytes(std::span<const std::uint8_t> data);
  void raw(std::string_view data);
  void str(std::string_view data); // varint length, then the bytes

  const std::vector<std::uint8_t>& data() const { return m_bytes; }
  std::vector<std::uint8_t> take() { return std::move(m_bytes); }
  std::size_t size() const { return m_bytes.size(); }

private:
  std::vector<std::uint8_t> m_bytes;
};

class ByteReader
{
public:
  explicit ByteReader(std::span<const std::uint8_t> data) : m_data(data) {}

  std::uint8_t u8(const char* field);
  std::uint64_t u64le(const char* field);
  std::uint64_t varint(const char* field);
  // A varint that must not exceed max (a count or a length).
  std::uint64_t varint_max(const char* field, std::uint64_t max);
  std::span<const std::uint8_t> bytes(const char* field, std::size_t count);
  std::string str(const char* field, std::size_t max);
  std::string_view str_view(const char* field, std::size_t max);

  // Marks the reader failed with a message of the caller's (a semantic check).
  void fail(std::string message);

  bool ok() const { return m_error.empty(); }
  const std::string& error() const { return m_error; }
  std::size_t offset() const { return m_offset; }
  std::size_t remaining() const { return m_data.size() - m_offset; }
  bool at_end() const { return m_offset == m_data.size(); }

private:
  bool need(const char* field, std::size_t count);

  std::span<const std::uint8_t> m_data;
  std::size_t m_offset = 0;
  std::string m_error;
};

} // namespace treecast::util
