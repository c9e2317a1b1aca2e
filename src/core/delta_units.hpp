#pragma once

// The units a delta is made of (delta_write.cpp plans them): a COPY or a
// FRAME record each, and building a unit's record body, which runs on the
// executor's threads. Internal to src/core.

#include "core/delta_encode.hpp"
#include "core/delta_format.hpp"
#include "core/manifest.hpp"
#include "core/store.hpp"
#include "util/chunker.hpp"
#include "util/content.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>
#include <vector>

namespace treecast::core {

// Calls f(offset, chunk) for each content-defined chunk of content, read
// in blocks: resident memory stays a few MiB whatever its size.
template <class F>
util::Status for_each_chunk(const util::Content& content, F f)
{
  constexpr std::uint64_t k_block = 8 << 20;
  const util::ChunkSizes sizes;
  std::vector<std::uint8_t> buffer;
  std::uint64_t read = 0;  // bytes of content read so far
  std::uint64_t start = 0; // content offset of buffer[0]
  for (;;) {
    const std::uint64_t n = std::min(k_block, content.size() - read);
    const std::size_t at = buffer.size();
    buffer.resize(at + n);
    if (auto s = content.read(read, std::span(buffer).subspan(at)); !s) {
      return s;
    }
    read += n;
    const bool last = read == content.size();
    std::size_t pos = 0;
    // Cut while a whole chunk's worth is there (or this is the end).
    while (pos < buffer.size() && (last || buffer.size() - pos >= sizes.max)) {
      const std::size_t length = util::next_chunk(std::span(buffer).subspan(pos), sizes);
      f(start + pos, std::span<const std::uint8_t>(buffer).subspan(pos, length));
      pos += length;
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(pos));
    start += pos;
    if (last) {
      return {};
    }
  }
}

inline constexpr std::size_t k_from_frame = SIZE_MAX;

struct Range
{
  std::size_t index = 0; // a file of A (prefix, copy source) or of B (output)
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  // An output of a FRAME copied from A instead of decoded: the file of A
  // and the offset there (k_from_frame: decoded from the frame).
  std::size_t source = k_from_frame;
  std::uint64_t source_offset = 0;
};

struct Unit
{
  RecordType type = RecordType::frame;
  std::vector<Range> prefix;  // FRAME: ranges of A's files; COPY: the source
  std::vector<Range> outputs; // FRAME: ranges of B's files, in order; COPY: the one target
  int level = 0;
  // Contents already loaded, read instead of the store: the base of a
  // chunked file (its one prefix range), and per output its file of B
  // (null: read from the store).
  std::shared_ptr<const util::Content> base;
  std::vector<std::shared_ptr<const util::Content>> inputs;
  std::vector<std::uint8_t> body; // the record's body, once built
  util::Status status;

  // The bytes the frame decodes (its copied outputs aside).
  std::uint64_t output_bytes() const
  {
    std::uint64_t total = 0;
    for (const Range& r : outputs) {
      total += r.source == k_from_frame ? r.length : 0;
    }
    return total;
  }
};

// Cutting large files (delta_write.cpp, add_chunked).
inline constexpr std::uint64_t k_chunk_prefix = 64 << 20;   // base range of a run of new chunks
inline constexpr std::uint64_t k_chunk_margin = 256 * 1024; // base around that range
static_assert(k_chunk_prefix + 2 * k_chunk_margin <= k_max_frame_prefix);

// A large file as pieces: copies (runs of chunks contiguous in the base)
// and runs of new chunks, each run with the part of the base around it.
struct Piece
{
  bool copy;
  std::uint64_t offset; // in the new file
  std::uint64_t length;
  std::uint64_t base_offset; // a copy's source
  std::uint64_t lo, hi;      // a run's base range, if any
};

// Cuts target into content-defined chunks and finds them in base (none:
// every chunk is new). Content that repeats takes the place that keeps the
// alignment of the last match.
[[nodiscard]] util::Result<std::vector<Piece>> chunk_pieces(const util::Content& target,
                                                            const util::Content* base);

// Builds unit's record body (COPY: the four fields; FRAME: meta, then the
// zstd frame of its outputs against its prefix), reading contents from
// store (or the unit's loaded ones). On an executor thread; errors go to
// unit.status.
void build_unit(const Store& store, const Manifest& from, const Manifest& to, Unit& unit);

} // namespace treecast::core
