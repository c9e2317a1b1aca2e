#pragma once

// The MANIFEST section of a delta (format 3): how B differs from A, entry by
// entry, as compact as the change. man/treecast-formats.5, DELTA, MANIFEST.
//
//   varint count, count x varint     the entries of A that B lacks: each
//                                    index minus one past the previous
//   string channel, varint number, varint parent, u64le time, string message
//   varint count, count x edit       B's entries that A lacks or holds
//                                    otherwise, sorted by path
//   edit := varint ref, then
//     ref 0: a path A lacks:         varint shared, string suffix (after the
//                                    previous edit's path)
//     ref 1: the same, starting      varint source (an index of A), then
//            from an entry of A:     varint shared, string suffix
//     ref k >= 2: A's entry k - 2 places after the last one so named
//     then u8 fields, and the fields it names, in this order:
//     0x01 type (u8)      0x02 mode      0x04 uid, user, gid, group
//     0x08 size           0x10 hash128   0x20 target (string)
//     0x40 mtime: zigzag of the difference from the previous edit's mtime
//          (the first: from the header's time)
//     0x80 the content is the payload's (0x10 given too: its hash, which the
//          reader checks when the payload has written it)
//   A field not given is that of the entry the edit starts from (A's at the
//   same path, or the source); a path from nothing gives them all (type,
//   mode, owner, mtime; size and hash for a file; target for a symlink).
//   A rename or a copy is a new path from its source, with no fields.

#include "core/manifest.hpp"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace treecast::core {

namespace edit {

// The fields of an edit, by bit (format).
enum EditField : std::uint8_t
{
  k_type = 0x01,
  k_mode = 0x02,
  k_owner = 0x04,
  k_size = 0x08,
  k_hash = 0x10,
  k_target = 0x20,
  k_mtime = 0x40,
  k_written = 0x80,
};

// On the mode's varint (format): the entry's extended attributes follow,
// the whole list, which replaces those of the entry the edit starts from.
inline constexpr std::uint32_t k_xattrs_follow = 0x10000;

// How an edit names its entry (format): a path A lacks, from nothing or from
// an entry of A; or k_ref_held + n, A's entry n places after the one the
// last such edit named (from A's first entry for the first).
enum EditRef : std::uint8_t
{
  k_ref_new = 0,
  k_ref_new_from = 1,
  k_ref_held = 2,
};

} // namespace edit

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
