#pragma once

// The object file's header (treecast-formats(5), OBJECT): shared by the
// writer (object_writer.cpp) and the reader (store_objects.cpp).
//
//   "TCOB" u8:version u8:codec u64le:raw-size hash128, then the zstd frame

#include "util/bytes.hpp"
#include "util/hash.hpp"

#include <cstdint>
#include <vector>

namespace treecast::core::object_format {

constexpr std::uint8_t k_object_magic[4] = {'T', 'C', 'O', 'B'};
constexpr std::uint8_t k_object_version = 1;
constexpr std::uint8_t k_codec_zstd = 1; // format
constexpr std::size_t k_object_header = 4 + 1 + 1 + 8 + 16;

inline std::vector<std::uint8_t> object_header(std::uint64_t raw_size, const util::Hash128& hash)
{
  util::ByteWriter w;
  w.bytes(k_object_magic);
  w.u8(k_object_version);
  w.u8(k_codec_zstd);
  w.u64le(raw_size);
  w.bytes(hash.bytes);
  return w.take();
}

} // namespace treecast::core::object_format
