#pragma once

// VERSION arguments: "v3" or "3" (a number), "latest", "latest~2" (two
// versions before the latest), or a prefix of a version id (at least 4 hex
// digits, unique among the channel's versions). Plain digits name a number
// when the channel has that version, and an id prefix otherwise.

#include "core/store.hpp"

#include <string_view>

namespace treecast::core {

[[nodiscard]] util::Result<std::uint64_t> resolve_version(const Store& store,
                                                          std::string_view channel,
                                                          std::string_view spec);

} // namespace treecast::core
