#pragma once

// The first step of a delta from version A to version B: deciding, for each
// file of B, how a follower that holds A will get its content.
//
//   - same:   the content is the one the same path has in A (only the
//             metadata may differ): nothing to send;
//   - copy:   the content exists somewhere in A (a rename, a move, a copy, a
//             revert): a reference to that file of A, no bytes;
//   - patch:  new content, encoded with zstd against a base file of A;
//   - whole:  new content with no useful base, or already compressed
//             (gz, xz, zst, zip, jpeg, png, ...): encoded on its own.
//
// The base of a patch is, as git and OSTree pick delta bases: the same path
// in A when it was a file there; else a file of A with the same name, then
// one with the same extension, of the closest size within a factor of
// k_base_size_factor. Ties go to the first path in byte order, so the plan,
// and the delta built from it, depend on A and B alone.

#include "core/manifest.hpp"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace treecast::core {

enum class FileSource : std::uint8_t
{
  same,
  copy,
  patch,
  whole,
};

[[nodiscard]] const char* to_string(FileSource source);

inline constexpr std::size_t k_no_base = std::numeric_limits<std::size_t>::max();
// A base by name or extension must be within this factor of the new size.
inline constexpr std::uint64_t k_base_size_factor = 4;

struct FilePlan
{
  std::size_t entry = 0; // index of the file in B's entries
  FileSource source = FileSource::whole;
  std::size_t base = k_no_base; // same, copy, patch: index of the file in A's entries
};

struct DeltaPlan
{
  std::vector<FilePlan> files; // every file of B, in B's order
  std::uint64_t new_bytes = 0; // raw size of the patch and whole contents
};

// "nginx.conf" for "etc/nginx/nginx.conf".
[[nodiscard]] std::string_view base_name(std::string_view path);
// "conf" for "nginx.conf", "gz" for "log.1.GZ"; empty for "Makefile" and
// for dot files without another dot (".bashrc").
[[nodiscard]] std::string lower_extension(std::string_view path);

// True for names whose content is compressed already (by extension).
[[nodiscard]] bool compressed_name(std::string_view path);

[[nodiscard]] DeltaPlan plan_delta(const Manifest& from, const Manifest& to);

} // namespace treecast::core
