#include "chunker.hpp"

#include <algorithm>
#include <array>
#include <bit>

namespace treecast::util {

namespace {

constexpr std::array<std::uint64_t, 256> make_gear()
{
  std::array<std::uint64_t, 256> gear{};
  std::uint64_t state = 0x74726565636173ull; // "treecas": any fixed seed will do
  for (auto& g : gear) {
    // splitmix64
    state += 0x9e3779b97f4a7c15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    g = z ^ (z >> 31);
  }
  return gear;
}

constexpr std::array<std::uint64_t, 256> k_gear = make_gear();

// The top `bits` bits of a 64-bit word: the gear hash's high bits depend on
// the last 64 bytes, its low bits on the last few only.
constexpr std::uint64_t top_bits(int bits)
{
  return bits <= 0 ? 0 : ~std::uint64_t{0} << (64 - bits);
}

} // namespace

std::size_t next_chunk(std::span<const std::uint8_t> data, const ChunkSizes& sizes)
{
  const std::size_t size = data.size();
  if (size <= sizes.min) {
    return size;
  }
  const int bits = static_cast<int>(std::bit_width(std::max<std::size_t>(sizes.average, 2))) - 1;
  const std::uint64_t strict = top_bits(bits + 2);
  const std::uint64_t loose = top_bits(bits - 2);
  const std::size_t normal = std::min(sizes.average, size);
  const std::size_t end = std::min(sizes.max, size);
  std::uint64_t fp = 0;
  std::size_t i = sizes.min;
  for (; i < normal; ++i) {
    fp = (fp << 1) + k_gear[data[i]];
    if ((fp & strict) == 0) {
      return i + 1;
    }
  }
  for (; i < end; ++i) {
    fp = (fp << 1) + k_gear[data[i]];
    if ((fp & loose) == 0) {
      return i + 1;
    }
  }
  return end;
}

std::vector<std::size_t> chunk_lengths(std::span<const std::uint8_t> data, const ChunkSizes& sizes)
{
  std::vector<std::size_t> lengths;
  while (!data.empty()) {
    const std::size_t n = next_chunk(data, sizes);
    lengths.push_back(n);
    data = data.subspan(n);
  }
  return lengths;
}

} // namespace treecast::util
