#pragma once

// Writing a version into a folder: every file is streamed from the store and
// its hash verified, then modes, owners (as root) and mtimes are set.
//
// All or nothing: the tree is built in a temporary sibling folder and renamed
// to its place only when complete, so DIR either holds the whole version or
// is as it was (absent or empty).

#include "core/store.hpp"

#include <string>

namespace treecast::core {

struct CheckoutReport
{
  std::size_t files = 0;
  std::size_t folders = 0;
  std::size_t symlinks = 0;
  std::uint64_t bytes = 0;
};

enum class Owners : std::uint8_t
{
  keep,    // files belong to whoever runs treecast
  restore, // manifest owners: by name where the name exists here, else by number (needs root)
};

[[nodiscard]] util::Result<CheckoutReport> checkout(const Store& store, const Manifest& manifest,
                                                    const std::string& dir, Owners owners);

// Sets what the manifest records of parent/name beyond its content: owner
// and group (Owners::restore), permission bits (not of symlinks), mtime,
// and the extended attributes it records. For an entry kept in place,
// recorded_before is what the version it leaves recorded: those of its
// attributes the entry lacks are removed, and no others (attributes no
// version recorded are left alone). shown names it in messages.
[[nodiscard]] util::Status set_metadata(int parent, const std::string& name, const Entry& entry,
                                        const std::string& shown, Owners owners,
                                        const Xattrs* recorded_before = nullptr);

// The uid and gid a manifest entry maps to on this machine.
[[nodiscard]] std::pair<std::uint32_t, std::uint32_t> local_owner(const Entry& entry);

} // namespace treecast::core
