#include "util/hash.hpp"

#include <gtest/gtest.h>

#include <string>

using treecast::util::Hash128;
using treecast::util::hash_bytes;
using treecast::util::Hasher;

namespace {

std::span<const std::uint8_t> bytes(const std::string& s)
{
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

} // namespace

TEST(Hash, MatchesXxhsumH2)
{
  // printf 'hello\n' | xxhsum -H2
  EXPECT_EQ(hash_bytes(bytes("hello\n")).hex(), "6bba86c7e069f56d5a10b435f1c8e49c");
  // printf '' | xxhsum -H2
  EXPECT_EQ(hash_bytes(bytes("")).hex(), "99aa06d3014798d86001c324468d497f");
}

TEST(Hash, StreamingEqualsOneShot)
{
  std::string data;
  for (int i = 0; i < 100000; ++i) {
    data += static_cast<char>(i * 7);
  }
  Hasher h;
  h.update(bytes(data.substr(0, 1)));
  h.update(bytes(data.substr(1, 50000)));
  h.update(bytes(data.substr(50001)));
  EXPECT_EQ(h.digest(), hash_bytes(bytes(data)));
}

TEST(Hash, HexRoundTripAndRejects)
{
  const Hash128 h = hash_bytes(bytes("x"));
  EXPECT_EQ(Hash128::from_hex(h.hex()), h);
  EXPECT_FALSE(Hash128::from_hex("zz"));
  EXPECT_FALSE(Hash128::from_hex(std::string(32, 'g')));
  EXPECT_EQ(h.short_hex().size(), 12u);
}
