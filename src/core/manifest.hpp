#pragma once

// A manifest: the canonical, sorted list of entries of one version of a
// channel's tree, plus a header (channel, number, parent, time, message).
//
// The encoding is deterministic: equal trees give equal bytes in the entries
// section, and the version id is the XXH3-128 of those bytes. Header and
// mtimes live in other sections, so they never change the id. The byte
// layout is specified in man/treecast-formats.5; values marked "format"
// below are part of it and must never change.
//
// Every decoder of untrusted manifests goes through decode(), which refuses
// paths that could leave the tree: absolute, "..", ".", empty components,
// NUL, duplicates, unsorted, or under a parent that is not a folder.

#include "core/xattrs.hpp"
#include "util/hash.hpp"
#include "util/result.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace treecast::core {

enum class EntryType : std::uint8_t
{ // format
  file = 1,
  directory = 2,
  symlink = 3,
};

[[nodiscard]] const char* to_string(EntryType type);

struct Entry
{
  std::string path; // relative, '/'-separated, raw bytes as on disk
  EntryType type = EntryType::file;
  std::uint32_t mode = 0; // permission bits, 07777 at most
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  std::string user;          // owner's name when known on the snapshotting host, else empty
  std::string group;         // group's name, likewise
  std::uint64_t size = 0;    // file: content bytes; otherwise 0
  util::Hash128 hash;        // file: XXH3-128 of the content; otherwise zero
  std::string target;        // symlink: the link's target, never followed
  std::int64_t mtime_ns = 0; // information only: not part of the version id
  Xattrs xattrs{};           // recorded on request (xattrs.hpp); usually none

  // Same content and metadata, as the version id sees it (mtime aside).
  bool same_identity(const Entry& other) const;
};

struct Header
{
  std::string channel;
  std::uint64_t number = 0; // 1, 2, 3 ... per channel
  std::uint64_t parent = 0; // the number it was made after; 0 for none
  std::int64_t time_ns = 0; // when it was recorded, UTC
  std::string message;
};

struct Manifest
{
  Header header;
  std::vector<Entry> entries; // sorted by path, byte order
  util::Hash128 id;           // XXH3-128 of the encoded entries

  // Binary search by path; nullptr when absent.
  const Entry* find(std::string_view path) const;
  std::uint64_t content_bytes() const; // sum of file sizes
  std::size_t file_count() const;
};

// Limits enforced by decode() and by the snapshot.
inline constexpr std::size_t k_max_path = 4095;
inline constexpr std::size_t k_max_name = 255;
inline constexpr std::size_t k_max_message = 65536;
inline constexpr std::size_t k_max_manifest_bytes = std::size_t{1} << 30;

// The scopes of extended attributes its entries record (core/xattrs.hpp).
[[nodiscard]] unsigned xattr_scope(const Manifest& manifest);

// Sorts entries by path and fills in the id.
void finalize(Manifest& manifest);
// Sorts entries by path (byte order).
void sort_entries(std::vector<Entry>& entries);
[[nodiscard]] util::Hash128 compute_id(const std::vector<Entry>& entries);
[[nodiscard]] std::vector<std::uint8_t> encode(const Manifest& manifest);
// origin names the source in error messages (a file path, a peer).
[[nodiscard]] util::Result<Manifest> decode(std::span<const std::uint8_t> bytes,
                                            std::string_view origin);

// A relative path that stays inside the tree; the error says what is wrong.
[[nodiscard]] util::Status validate_path(std::string_view path);
// Channel names are folder names and topics: [A-Za-z0-9][A-Za-z0-9._-]{0,127}.
[[nodiscard]] util::Status validate_channel(std::string_view name);

} // namespace treecast::core
