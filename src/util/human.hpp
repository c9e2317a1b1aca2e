#pragma once

// Numbers and times as people read them in treecast's output.

#include <cstdint>
#include <string>

namespace treecast::util {

// 0 B, 512 B, 1.2 KiB, 3.4 MiB, 5.0 GiB
[[nodiscard]] std::string human_size(std::uint64_t bytes);

// Nanoseconds since the epoch as "2026-11-25T11:40:02Z" (UTC, seconds).
[[nodiscard]] std::string utc_time(std::int64_t ns_since_epoch);

// The current time in nanoseconds since the epoch (UTC).
[[nodiscard]] std::int64_t now_ns();

} // namespace treecast::util
