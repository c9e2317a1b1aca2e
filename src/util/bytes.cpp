#include "bytes.hpp"

#include <cstring>

namespace treecast::util {

void ByteWriter::u64le(std::uint64_t value)
{
  for (int i = 0; i < 8; ++i) {
    m_bytes.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
  }
}

void ByteWriter::varint(std::uint64_t value)
{
  while (value >= 0x80) {
    m_bytes.push_back(static_cast<std::uint8_t>(value | 0x80));
    value >>= 7;
  }
  m_bytes.push_back(static_cast<std::uint8_t>(value));
}

void ByteWriter::bytes(std::span<const std::uint8_t> data)
{
  m_bytes.insert(m_bytes.end(), data.begin(), data.end());
}

void ByteWriter::raw(std::string_view data)
{
  m_bytes.insert(m_bytes.end(), data.begin(), data.end());
}

void ByteWriter::str(std::string_view data)
{
  varint(data.size());
  raw(data);
}

bool ByteReader::need(const char* field, std::size_t count)
{
  if (!ok()) {
    return false;
  }
  if (remaining() < count) {
    fail(std::string("truncated at ") + field + " (offset " + std::to_string(m_offset) + ", need " +
         std::to_string(count) + " bytes, " + std::to_string(remaining()) + " left)");
    return false;
  }
  return true;
}

std::uint8_t ByteReader::u8(const char* field)
{
  if (!need(field, 1)) {
    return 0;
  }
  return m_data[m_offset++];
}

std::uint64_t ByteReader::u64le(const char* field)
{
  if (!need(field, 8)) {
    return 0;
  }
  std::uint64_t value = 0;
  for (int i = 0; i < 8; ++i) {
    value |= std::uint64_t{m_data[m_offset + i]} << (8 * i);
  }
  m_offset += 8;
  return value;
}

std::uint64_t ByteReader::varint(const char* field)
{
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (!need(field, 1)) {
      return 0;
    }
    const std::uint8_t byte = m_data[m_offset++];
    if (shift == 63 && byte > 1) {
      fail(std::string("varint overflow at ") + field + " (offset " + std::to_string(m_offset - 1) +
           ")");
      return 0;
    }
    value |= std::uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      // Canonical encoding only: no redundant trailing zero groups.
      if (byte == 0 && shift > 0) {
        fail(std::string("non-canonical varint at ") + field + " (offset " +
             std::to_string(m_offset - 1) + ")");
        return 0;
      }
      return value;
    }
  }
  fail(std::string("varint too long at ") + field);
  return 0;
}

std::uint64_t ByteReader::varint_max(const char* field, std::uint64_t max)
{
  const std::size_t start = m_offset;
  const std::uint64_t value = varint(field);
  if (ok() && value > max) {
    fail(std::string(field) + " is " + std::to_string(value) + ", above the limit of " +
         std::to_string(max) + " (offset " + std::to_string(start) + ")");
    return 0;
  }
  return value;
}

std::span<const std::uint8_t> ByteReader::bytes(const char* field, std::size_t count)
{
  if (!need(field, count)) {
    return {};
  }
  auto result = m_data.subspan(m_offset, count);
  m_offset += count;
  return result;
}

std::string_view ByteReader::str_view(const char* field, std::size_t max)
{
  const auto length = varint_max(field, max);
  const auto data = bytes(field, length);
  return {reinterpret_cast<const char*>(data.data()), data.size()};
}

std::string ByteReader::str(const char* field, std::size_t max)
{
  return std::string(str_view(field, max));
}

void ByteReader::fail(std::string message)
{
  if (ok()) {
    m_error = std::move(message);
  }
}

} // namespace treecast::util
