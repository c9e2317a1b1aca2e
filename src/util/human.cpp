#include "human.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace treecast::util {

std::string human_size(std::uint64_t bytes)
{
  static constexpr const char* k_units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(k_units)) {
    value /= 1024.0;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1f %s", value, k_units[unit]);
  return buffer;
}

std::string utc_time(std::int64_t ns_since_epoch)
{
  std::time_t seconds = static_cast<std::time_t>(ns_since_epoch / 1'000'000'000);
  if (ns_since_epoch < 0 && ns_since_epoch % 1'000'000'000 != 0) {
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::int64_t now_ns()
{
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

} // namespace treecast::util
