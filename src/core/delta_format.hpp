#pragma once

// The DELTA format (man/treecast-formats.5, DELTA): everything a follower at
// version A needs to reach version B, as one file or stream.
//
//   "TCDL" u8:format  record...
//   record := u8:type  varint:length  body[length]  hash128(type..body)
//
// Records, in this order:
//   HEADER    once: channel, from and to (number and id), bytes to write
//   MANIFEST  one or more: their bodies, joined, are one zstd frame holding
//             the paths removed from A and B's changed entries, only the
//             fields that changed (delta_edits.hpp)
//   COPY      bytes of a file of A appended to a new file of B
//   FRAME     one zstd frame, decoded against a prefix made of ranges of
//             files of A, whose output is appended to new files of B
//   END       record count and the XXH3-128 of every byte before it
//
// New files are produced one after another: a file's first COPY or FRAME
// output starts it, and it is complete (and its hash checked) before the
// next one starts. Every record is bounded (k_max_record_body), decodable
// on its own given A, and checked by its own hash, so a delta can be
// streamed, checked and resumed record by record. Values marked "format"
// are part of the layout and must never change.

#include "util/hash.hpp"

#include <cstdint>
#include <string>

namespace treecast::core {

inline constexpr std::uint8_t k_delta_magic[4] = {'T', 'C', 'D', 'L'}; // format
inline constexpr std::uint8_t k_delta_format = 3;                      // format

enum class RecordType : std::uint8_t
{ // format
  header = 1,
  manifest = 2,
  copy = 3,
  frame = 4,
  end = 5,
};

// Limits a decoder enforces (format): larger values are refused as corrupt.
inline constexpr std::uint64_t k_max_record_body = std::uint64_t{40} << 20;
inline constexpr std::uint64_t k_max_frame_meta = std::uint64_t{1} << 20;
inline constexpr std::uint64_t k_max_frame_output = std::uint64_t{32} << 20;
inline constexpr std::uint64_t k_max_frame_prefix = std::uint64_t{256} << 20;
inline constexpr std::uint64_t k_max_manifest_section = std::uint64_t{1} << 30;

struct DeltaHeader
{
  std::string channel;
  std::uint64_t from_number = 0; // 0: from nothing (an empty or new folder)
  util::Hash128 from_id;         // zero with from_number 0
  std::uint64_t to_number = 0;
  util::Hash128 to_id;
  std::uint64_t write_bytes = 0; // bytes of the new files the payload writes
  std::uint64_t new_files = 0;   // files the payload writes
  std::uint32_t level = 0;       // the zstd level it was made with (information)
};

} // namespace treecast::core
