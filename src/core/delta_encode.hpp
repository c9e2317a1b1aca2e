#pragma once

// Pieces of making a delta (delta_write.cpp), internal to src/core: reading
// a file's content from the store, and the record framing. The layout is in delta_format.hpp.

#include "core/delta_format.hpp"
#include "core/manifest.hpp"
#include "core/store.hpp"
#include "util/content.hpp"
#include "util/hash.hpp"
#include "util/zstd.hpp"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace treecast::core {

// Contents larger than this are decompressed to a temporary file, read by
// ranges.
inline constexpr std::uint64_t k_in_memory = 32 << 20;

// A file's content from the store, its hash checked: in memory when small,
// else in an unlinked temporary file under the store's tmp/.
[[nodiscard]] util::Result<std::shared_ptr<const util::Content>> load_content(const Store& store,
                                                                              const Entry& entry);

// The HEADER record's body.
[[nodiscard]] std::vector<std::uint8_t> encode_header(const DeltaHeader& header);

// Writes the magic, then records, each framed with its type, length and
// hash, then END with the count and the checksum of everything before it.
class RecordWriter
{
public:
  explicit RecordWriter(const util::ByteSink& out) : m_out(out) {}

  [[nodiscard]] util::Status start();
  [[nodiscard]] util::Status record(RecordType type, std::span<const std::uint8_t> body);
  // END's checksum covers every byte before it, its own type and length
  // included.
  [[nodiscard]] util::Status end();
  std::uint64_t bytes() const { return m_bytes; }

private:
  [[nodiscard]] util::Status emit(std::span<const std::uint8_t> data);

  const util::ByteSink& m_out;
  util::Hasher m_all;
  std::uint64_t m_records = 0;
  std::uint64_t m_bytes = 0;
};

} // namespace treecast::core
