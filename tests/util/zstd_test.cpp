#include "support/tree.hpp"
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

namespace {

std::vector<std::uint8_t> compress_frame(util::ZstdCompressor& c,
                                         std::span<const std::uint8_t> data)
{
  std::vector<std::uint8_t> out;
  auto sink = [&](std::span<const std::uint8_t> s) -> util::Status {
    out.insert(out.end(), s.begin(), s.end());
    return {};
  };
  EXPECT_TRUE(c.update(data, sink));
  EXPECT_TRUE(c.finish(sink));
  return out;
}

util::Result<std::vector<std::uint8_t>> apply_patch(std::span<const std::uint8_t> base,
                                                    std::span<const std::uint8_t> patch)
{
  util::ZstdDecompressor d;
  d.begin_patch(base);
  std::vector<std::uint8_t> out;
  auto s = d.update(patch, [&](std::span<const std::uint8_t> chunk) -> util::Status {
    out.insert(out.end(), chunk.begin(), chunk.end());
    return {};
  });
  if (!s) {
    return s.error();
  }
  if (!d.frame_complete()) {
    return util::make_error(util::Errc::data, "truncated");
  }
  return out;
}

} // namespace

TEST(Zstd, APatchCarriesOnlyWhatDiffersFromItsBase)
{
  // 4 MiB of incompressible content, then a new version with a few edits
  // and an insertion near the start: the patch is a few KiB, where plain
  // compression cannot go below the content's size.
  const auto base = test::noise(4 << 20, 1);
  std::vector<std::uint8_t> next = base;
  const auto inserted = test::noise(3000, 2);
  next.insert(next.begin() + 1000, inserted.begin(), inserted.end());
  for (std::size_t at = 100000; at < next.size(); at += 700000) {
    next[at] ^= 0xff;
  }
  util::ZstdCompressor c(3);
  c.begin_patch(base, next.size());
  const auto patch = compress_frame(c, next);
  EXPECT_LT(patch.size(), 16u * 1024) << "patch of " << patch.size() << " bytes";
  auto back = apply_patch(base, patch);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(*back, next);

  // The same context then makes a plain frame again, readable without base.
  c.begin(1000);
  const auto plain = compress_frame(c, std::span(next).first(1000));
  auto plain_back = util::zstd_decompress(plain, 1000);
  ASSERT_TRUE(plain_back);
  EXPECT_EQ(*plain_back, std::vector<std::uint8_t>(next.begin(), next.begin() + 1000));
}

TEST(Zstd, APatchAppliedToAnotherBaseNeverYieldsTheContent)
{
  const auto base = test::noise(256 * 1024, 3);
  auto next = base;
  next[5] ^= 1;
  util::ZstdCompressor c(3);
  c.begin_patch(base, next.size());
  const auto patch = compress_frame(c, next);
  const auto other = test::noise(256 * 1024, 4);
  auto back = apply_patch(other, patch);
  // Either an error or other bytes: callers verify the content's hash.
  if (back) {
    EXPECT_NE(*back, next);
  }
  auto truncated = apply_patch(base, std::span(patch).first(patch.size() / 2));
  EXPECT_FALSE(truncated);
}
