#pragma once

// Dropping old versions and the objects nothing references any more.
//
// gc holds the channel's lock and the store's lock exclusively, so it waits
// for running snapshots (which hold the store lock shared from before they
// look up an object until their manifest is written) and they wait for it.
// Objects are kept when any remaining version of any channel names them.
// Version numbers are never reused: the latest version is always kept, and
// the next snapshot continues from it. Cached deltas from or to a version
// no channel holds any more are removed too.

#include "core/store.hpp"

namespace treecast::core {

struct GcReport
{
  std::vector<std::uint64_t> dropped; // version numbers
  std::size_t objects_removed = 0;
  std::uint64_t bytes_freed = 0;  // compressed: loose objects by disk blocks, packed by bytes
  std::size_t temp_removed = 0;   // leftovers of killed processes
  std::size_t deltas_removed = 0; // cached deltas from or to versions that are gone
};

// keep >= 1: how many of the newest versions of channel to keep.
[[nodiscard]] util::Result<GcReport> gc(const Store& store, std::string_view channel,
                                        std::uint64_t keep);

} // namespace treecast::core
