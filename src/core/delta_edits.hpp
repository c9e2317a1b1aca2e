#pragma once

// The MANIFEST section of a delta (format 2): how B differs from A, entry by
// entry, as compact as the change. man/treecast-formats.5, DELTA, MANIFEST.
//
//   varint count, count x string     the paths of A that B lacks, sorted
//   string channel, varint number, varint parent, u64le time, string message
//   varint count, count x edit       B's entries that A lacks or holds
//                                    otherwise, sorted by path
//   edit := varint shared, string suffix (the path, after the previous edit's)
//           u8 fields, then the fields it names, in this order:
//     0x01 type (u8)      0x02 mode      0x04 uid, user, gid, group
//     0x08 size           0x10 hash128   0x20 target (string)
//     0x40 mtime: zigzag of the difference from the previous edit's mtime
//          (the first: from the header's time)
//     0x80 the content is the payload's (0x10 given too: its hash, which the
//          reader checks when the payload has written it)
//   A field not given is A's at the same path; a path new to A gives them
//   all (type, mode, owner, mtime; size and hash for a file; target for a
//   symlink).

#include "core/manifest.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace treecast::core {

// The section for A -> B; written[i] says that file i of B is written by the
// payload.
[[nodiscard]] std::vector<std::uint8_t> encode_edits(const Manifest& from, const Manifest& to,
                                                     const std::vector<bool>& written);

// What the section is compressed against: A's paths, each followed by a
// newline, in A's order (empty when that is over k_max_edits_prefix). Both
// sides hold A, and B's paths are mostly A's.
inline constexpr std::uint64_t k_max_edits_prefix = std::uint64_t{64} << 20; // format
[[nodiscard]] std::vector<std::uint8_t> edits_prefix(const Manifest& from);

// The section compressed (zstd level 19, against edits_prefix(from)), and back.
[[nodiscard]] std::vector<std::uint8_t> compress_edits(const Manifest& from,
                                                       std::span<const std::uint8_t> section);
[[nodiscard]] util::Result<std::vector<std::uint8_t>> decompress_edits(
  const Manifest& from, std::span<const std::uint8_t> compressed, std::uint64_t max_size);

struct Edits
{
  Manifest to;               // B
  std::vector<bool> written; // per entry of B: its content is the payload's
};

// Builds B from A and the section; every field is checked, and B passes
// the manifest's own checks. origin names the delta in those messages.
[[nodiscard]] util::Result<Edits> decode_edits(const Manifest& from,
                                               std::span<const std::uint8_t> section,
                                               std::string_view origin);

} // namespace treecast::core
