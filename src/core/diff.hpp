#pragma once

// What changed between two versions, entry by entry: added, removed,
// modified (content), renamed (same content under a new path, a file removed
// and one added with equal hashes), mode (permission bits or owner only) and
// type (file, folder and symlink swapped for one another).

#include "core/manifest.hpp"

#include <vector>

namespace treecast::core {

enum class ChangeKind : std::uint8_t
{
  added,
  removed,
  modified,
  renamed,
  mode,
  type
};

[[nodiscard]] const char* to_string(ChangeKind kind);

struct Change
{
  ChangeKind kind;
  const Entry* before = nullptr; // null for added
  const Entry* after = nullptr;  // null for removed
};

// Changes sorted by path (the new path for renames). The pointers point into
// a and b, which must outlive the result.
[[nodiscard]] std::vector<Change> diff(const Manifest& a, const Manifest& b);

} // namespace treecast::core
