#include "support/tree.hpp"
#include "util/chunker.hpp"
#include "util/hash.hpp"

#include <gtest/gtest.h>

#include <numeric>
#include <set>

using namespace treecast;

namespace {

// The hashes of data's chunks.
std::vector<util::Hash128> chunk_hashes(std::span<const std::uint8_t> data,
                                        const util::ChunkSizes& sizes)
{
  std::vector<util::Hash128> out;
  for (const std::size_t n : util::chunk_lengths(data, sizes)) {
    out.push_back(util::hash_bytes(data.first(n)));
    data = data.subspan(n);
  }
  return out;
}

constexpr util::ChunkSizes k_sizes{4096, 16384, 65536};

} // namespace

TEST(Chunker, ChunksCoverTheInputWithinTheirBounds)
{
  const auto data = test::noise(4 << 20, 1);
  const auto lengths = util::chunk_lengths(data, k_sizes);
  EXPECT_EQ(std::accumulate(lengths.begin(), lengths.end(), std::size_t{0}), data.size());
  for (std::size_t i = 0; i + 1 < lengths.size(); ++i) {
    EXPECT_GT(lengths[i], k_sizes.min);
    EXPECT_LE(lengths[i], k_sizes.max);
  }
  // Normalized chunking keeps the mean near the average.
  const double mean = static_cast<double>(data.size()) / static_cast<double>(lengths.size());
  EXPECT_GT(mean, k_sizes.average * 0.6);
  EXPECT_LT(mean, k_sizes.average * 1.6);
  EXPECT_EQ(util::chunk_lengths(data, k_sizes), lengths) << "the same bytes, the same chunks";
}

TEST(Chunker, AnInsertionMovesOnlyTheChunksNearIt)
{
  const auto old_data = test::noise(8 << 20, 2);
  auto new_data = old_data;
  const auto inserted = test::noise(4096, 3);
  new_data.insert(new_data.begin() + 1000, inserted.begin(), inserted.end());
  new_data[5 << 20] ^= 0x55; // and one edit further on
  const auto before = chunk_hashes(old_data, k_sizes);
  const auto after = chunk_hashes(new_data, k_sizes);
  const std::set<util::Hash128> known(before.begin(), before.end());
  std::size_t shared = 0;
  for (const auto& h : after) {
    shared += known.contains(h) ? 1 : 0;
  }
  // About 512 chunks; each edit costs a chunk or two.
  EXPECT_GE(shared + 6, after.size()) << shared << " of " << after.size() << " chunks shared";
}

TEST(Chunker, UniformContentIsCutAtTheMaximum)
{
  const std::vector<std::uint8_t> zeros(300000, 0);
  const auto lengths = util::chunk_lengths(zeros, k_sizes);
  ASSERT_EQ(lengths.size(), 5u);
  for (std::size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(lengths[i], k_sizes.max);
  }
  EXPECT_EQ(lengths[4], 300000u - 4 * k_sizes.max);
  EXPECT_EQ(util::next_chunk({}, k_sizes), 0u);
  EXPECT_EQ(util::next_chunk(std::span(zeros).first(100), k_sizes), 100u);
}
