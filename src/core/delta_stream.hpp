#pragma once

// The record stream under DeltaReader (delta.hpp): reads a delta's bytes
// through a bounded buffer, splits them into records, and checks each
// record's hash and the whole delta's checksum as they go by. Internal to
// delta_read.cpp and delta_payload.cpp.

#include "core/delta.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <string>
#include <vector>

namespace treecast::core {

inline constexpr std::size_t k_read_buffer = 1 << 20;
// Built for fuzzing (tools/fuzz.sh), checksums are not checked, so that
// mutated input reaches the checks behind them.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
inline constexpr bool k_fuzzing = true;
#else
inline constexpr bool k_fuzzing = false;
#endif
inline constexpr std::uint64_t k_max_small_record = 64 * 1024; // HEADER, COPY, END

inline const char* record_name(std::uint8_t type)
{
  switch (static_cast<RecordType>(type)) {
    case RecordType::header:
      return "HEADER";
    case RecordType::manifest:
      return "MANIFEST";
    case RecordType::copy:
      return "COPY";
    case RecordType::frame:
      return "FRAME";
    case RecordType::end:
      return "END";
  }
  return "unknown";
}

struct DeltaReader::State
{
  Source source;
  std::string origin;
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(k_read_buffer);
  std::size_t pos = 0;
  std::size_t end = 0;
  bool eof = false;
  std::uint64_t offset = 0;    // bytes consumed so far
  util::Hasher all;            // of every byte consumed before the current record
  util::Hasher record;         // of the current record
  std::uint64_t records = 0;   // records read, END aside
  std::uint64_t record_at = 0; // offset of the current record
  DeltaHeader header;
  bool have_header = false;
  bool have_manifest = false;
  std::vector<bool> written; // per file of B: the payload writes it
  // The next record's type and body length, once read.
  bool peeked = false;
  std::uint8_t type = 0;
  std::uint64_t length = 0;

  util::Error bad(const std::string& message) const
  {
    return util::make_error(util::Errc::data, "invalid delta " + util::quote(origin) + " at byte " +
                                                std::to_string(record_at) + ": " + message);
  }

  util::Status fill()
  {
    if (pos < end || eof) {
      return {};
    }
    auto n = source(buffer);
    if (!n) {
      return n.error();
    }
    pos = 0;
    end = *n;
    eof = *n == 0;
    return {};
  }

  // Up to max bytes of the stream, fewer only at its end.
  util::Result<std::span<const std::uint8_t>> take(std::size_t max)
  {
    if (auto s = fill(); !s) {
      return s.error();
    }
    const std::size_t n = std::min(max, end - pos);
    const std::span<const std::uint8_t> out(buffer.data() + pos, n);
    pos += n;
    offset += n;
    all.update(out);
    record.update(out);
    return out;
  }

  util::Status exact(std::span<std::uint8_t> out, const char* what)
  {
    std::size_t done = 0;
    while (done < out.size()) {
      auto piece = take(out.size() - done);
      if (!piece) {
        return piece.error();
      }
      if (piece->empty()) {
        return bad(std::string("truncated in ") + what);
      }
      std::copy(piece->begin(), piece->end(), out.begin() + static_cast<std::ptrdiff_t>(done));
      done += piece->size();
    }
    return {};
  }

  util::Result<std::uint64_t> varint(const char* what)
  {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t byte = 0;
      if (auto s = exact({&byte, 1}, what); !s) {
        return s.error();
      }
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        if ((shift == 63 && byte > 1) || (shift > 0 && byte == 0)) {
          break; // too large, or not in its shortest form
        }
        return value;
      }
    }
    return bad(std::string("malformed varint in ") + what);
  }

  // The next record's type and length; at the end of the stream, an error.
  util::Status peek()
  {
    if (peeked) {
      return {};
    }
    record_at = offset;
    record.reset();
    std::uint8_t t = 0;
    if (auto s = exact({&t, 1}, "a record type"); !s) {
      return s;
    }
    auto n = varint("a record length");
    if (!n) {
      return n.error();
    }
    if (*n > k_max_record_body) {
      return bad(std::string(record_name(t)) + " record of " + std::to_string(*n) +
                 " bytes, above the limit of " + std::to_string(k_max_record_body));
    }
    peeked = true;
    type = t;
    length = *n;
    return {};
  }

  // A whole small record's body, its hash checked.
  util::Result<std::vector<std::uint8_t>> body(std::uint64_t max)
  {
    if (length > max) {
      return bad(std::string(record_name(type)) + " record of " + std::to_string(length) +
                 " bytes, above the limit of " + std::to_string(max));
    }
    std::vector<std::uint8_t> out(length);
    if (auto s = exact(out, record_name(type)); !s) {
      return s.error();
    }
    if (auto s = check_record(); !s) {
      return s.error();
    }
    return out;
  }

  // The record's hash, after its body was consumed.
  util::Status check_record()
  {
    const util::Hash128 computed = record.digest();
    util::Hash128 stored;
    // The stored hash is not part of what it hashes.
    std::size_t done = 0;
    while (done < stored.bytes.size()) {
      if (auto s = fill(); !s) {
        return s;
      }
      if (pos == end) {
        return bad(std::string("truncated in the hash of a ") + record_name(type) + " record");
      }
      const std::size_t n = std::min(stored.bytes.size() - done, end - pos);
      std::copy_n(buffer.begin() + static_cast<std::ptrdiff_t>(pos), n,
                  stored.bytes.begin() + static_cast<std::ptrdiff_t>(done));
      all.update({buffer.data() + pos, n});
      pos += n;
      offset += n;
      done += n;
    }
    if (computed != stored && !k_fuzzing) {
      return bad(std::string(record_name(type)) + " record does not match its hash (corrupt)");
    }
    peeked = false;
    records += 1;
    return {};
  }
};

} // namespace treecast::core
