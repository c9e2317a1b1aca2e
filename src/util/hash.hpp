#pragma once

// XXH3-128, the content hash of treecast: of file contents (objects) and of a
// manifest's entries (the version id). Hashes are kept and written in
// xxHash's canonical (big-endian) byte order, so the hex form matches
// `xxhsum -H2`.

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace treecast::util {

struct Hash128
{
  std::array<std::uint8_t, 16> bytes{};

  auto operator<=>(const Hash128&) const = default;
  bool operator==(const Hash128&) const = default;

  std::string hex() const;
  // The first n hex digits, as printed next to a version number.
  std::string short_hex(std::size_t n = 12) const { return hex().substr(0, n); }
  static std::optional<Hash128> from_hex(std::string_view hex);
};

[[nodiscard]] Hash128 hash_bytes(std::span<const std::uint8_t> data);

// Streaming XXH3-128. Not copyable; reset() starts over.
class Hasher
{
public:
  Hasher();
  ~Hasher();
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void reset();
  void update(std::span<const std::uint8_t> data);
  [[nodiscard]] Hash128 digest() const;

private:
  void* m_state; // XXH3_state_t, kept opaque to spare includers xxhash.h
};

} // namespace treecast::util

template <>
struct std::hash<treecast::util::Hash128>
{
  std::size_t operator()(const treecast::util::Hash128& h) const noexcept
  {
    std::size_t value;
    std::memcpy(&value, h.bytes.data(), sizeof value);
    return value;
  }
};
