#include "util/zstd.hpp"

#include <gtest/gtest.h>

using namespace treecast;

TEST(Zstd, RoundTripAndStreaming)
{
  std::vector<std::uint8_t> data(1 << 20);
  for (std::size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<std::uint8_t>((i * 31) ^ (i >> 9));
  }
  const auto compressed = util::zstd_compress(data, 3);
  auto back = util::zstd_decompress(compressed, data.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);

  util::ZstdCompressor c(3);
  c.begin(data.size());
  std::vector<std::uint8_t> stream;
  auto sink = [&](std::span<const std::uint8_t> s) -> util::Status {
    stream.insert(stream.end(), s.begin(), s.end());
    return {};
  };
  ASSERT_TRUE(c.update(std::span(data).first(1000), sink));
  ASSERT_TRUE(c.update(std::span(data).subspan(1000), sink));
  ASSERT_TRUE(c.finish(sink));
  auto again = util::zstd_decompress(stream, data.size());
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, data);
}

TEST(Zstd, BombsTruncationAndGarbageAreErrors)
{
  std::vector<std::uint8_t> zeros(64 << 20);
  const auto bomb = util::zstd_compress(zeros, 3);
  ASSERT_LT(bomb.size(), 1u << 20);
  auto r = util::zstd_decompress(bomb, 1 << 20);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("exceeds the limit"), std::string::npos);

  const auto good = util::zstd_compress(std::vector<std::uint8_t>(1000, 7), 3);
  auto truncated = util::zstd_decompress(std::span(good).first(good.size() - 3), 10000);
  EXPECT_FALSE(truncated);
  const std::vector<std::uint8_t> garbage{1, 2, 3, 4, 5, 6, 7, 8};
  auto bad = util::zstd_decompress(garbage, 10000);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, util::Errc::data);
}
