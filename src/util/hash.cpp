#include "hash.hpp"

#include <xxhash.h>

#include <stdexcept>

namespace treecast::util {

namespace {

Hash128 from_xxh(XXH128_hash_t value)
{
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, value);
  Hash128 result;
  std::memcpy(result.bytes.data(), canonical.digest, result.bytes.size());
  return result;
}

int hex_value(char c)
{
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace

std::string Hash128::hex() const
{
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = k_digits[bytes[i] >> 4];
    out[2 * i + 1] = k_digits[bytes[i] & 0xf];
  }
  return out;
}

std::optional<Hash128> Hash128::from_hex(std::string_view hex)
{
  if (hex.size() != 32) {
    return std::nullopt;
  }
  Hash128 result;
  for (std::size_t i = 0; i < 16; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    result.bytes[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return result;
}

Hash128 hash_bytes(std::span<const std::uint8_t> data)
{
  return from_xxh(XXH3_128bits(data.data(), data.size()));
}

Hasher::Hasher() : m_state(XXH3_createState())
{
  if (m_state == nullptr) {
    throw std::bad_alloc();
  }
  reset();
}

Hasher::~Hasher()
{
  XXH3_freeState(static_cast<XXH3_state_t*>(m_state));
}

void Hasher::reset()
{
  XXH3_128bits_reset(static_cast<XXH3_state_t*>(m_state));
}

void Hasher::update(std::span<const std::uint8_t> data)
{
  XXH3_128bits_update(static_cast<XXH3_state_t*>(m_state), data.data(), data.size());
}

Hash128 Hasher::digest() const
{
  return from_xxh(XXH3_128bits_digest(static_cast<const XXH3_state_t*>(m_state)));
}

} // namespace treecast::util
