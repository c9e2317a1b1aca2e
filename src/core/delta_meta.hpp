#pragma once

// A FRAME's meta (delta format 3): the ranges of A's files joined as the
// frame's prefix, and the outputs it appends to B's new files.
// man/treecast-formats.5, DELTA, FRAME.
//
//   varint count, count x (varint file, varint offset, varint length)
//   varint count, count x (varint file, varint length, varint source
//                          [, varint offset when source > 0])
//
// file: zigzag of the index minus the previous range's (or output's) index,
// the first from 0. A prefix range's length 0 means "to the end of the
// file"; an output's length 0, "the rest of the file". source 0: decoded
// from the frame; k > 0: copied from file k - 1 of A, at offset.

#include "core/delta_units.hpp"
#include "core/manifest.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <span>
#include <vector>

namespace treecast::core {

// A prefix range or an output, as read.
struct MetaRange
{
  std::uint64_t index = 0; // a file of A (prefix) or of B (output)
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  // An output copied from A: its file and offset there.
  std::uint64_t source = k_decoded;
  std::uint64_t source_offset = 0;

  static constexpr std::uint64_t k_decoded = UINT64_MAX;
  bool copied() const { return source != k_decoded; }
};

struct FrameMeta
{
  std::vector<MetaRange> prefix;
  std::vector<MetaRange> outputs;
  std::uint64_t decoded = 0; // the bytes the frame decodes to
};

// That index names a file of m (a COPY's or a frame's), and that the range
// lies within the file. Errors are the message alone.
[[nodiscard]] util::Status check_file(const Manifest& m, std::uint64_t index, const char* what);
[[nodiscard]] util::Status check_range(const Entry& e, std::uint64_t offset, std::uint64_t length);

// The meta of a FRAME whose prefix and outputs are these (ranges of no
// bytes are left out of the prefix: they add nothing to it).
[[nodiscard]] std::vector<std::uint8_t> encode_frame_meta(const Manifest& from, const Manifest& to,
                                                          std::span<const Range> prefix,
                                                          std::span<const Range> outputs);

// Reads and checks a meta: every index names a file, every range lies in
// its file, the prefix and the decoded bytes keep to the format's limits.
// current is the file of B being written when the frame starts (SIZE_MAX:
// none) and given the bytes it has, so that "the rest of the file" is
// known. Errors are the message alone; the caller says where.
[[nodiscard]] util::Result<FrameMeta> decode_frame_meta(std::span<const std::uint8_t> meta,
                                                        const Manifest& from, const Manifest& to,
                                                        std::size_t current, std::uint64_t given);

} // namespace treecast::core
