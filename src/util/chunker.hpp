#pragma once

// Content-defined chunking (FastCDC: Xia et al., USENIX ATC 2016), for files
// too large to patch as a whole: a cut point depends only on the bytes just
// before it, so an insertion or deletion moves the cuts near it and no
// others, and the chunks of two versions of a file line up again right
// after an edit.
//
// A gear hash rolls over the input (fp = (fp << 1) + gear[byte]); a cut is
// made where its top bits are zero. Normalized chunking: before the average
// size the test takes two more bits (cuts are rarer), after it two fewer
// (cuts are likelier), which narrows the spread of sizes around the average.
// No cut is made before min bytes; one is forced at max.
//
// The gear table is fixed (generated from a constant seed), so the same
// bytes always give the same chunks; it is the encoder's choice and not part
// of any format.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace treecast::util {

struct ChunkSizes
{
  std::size_t min = 64 * 1024;
  std::size_t average = 256 * 1024; // a power of two
  std::size_t max = 1024 * 1024;
};

// The length of the chunk that starts at data[0]: a content-defined cut,
// or sizes.max, or data.size() when data is shorter than that and holds no
// cut (the end of the input, or the caller must supply more). A caller that
// streams keeps at least sizes.max bytes ahead until the input ends.
[[nodiscard]] std::size_t next_chunk(std::span<const std::uint8_t> data, const ChunkSizes& sizes);

// Every chunk length of data, in order (they add up to data.size()).
[[nodiscard]] std::vector<std::size_t> chunk_lengths(std::span<const std::uint8_t> data,
                                                     const ChunkSizes& sizes);

} // namespace treecast::util
