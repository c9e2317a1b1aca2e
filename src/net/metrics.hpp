#pragma once

// The master's metrics in Prometheus' text format (version 0.0.4): what
// serve --metrics HOST:PORT answers on GET /metrics, and what
// --metrics-file rewrites for node_exporter's textfile collector. The names
// and labels are listed in treecast-serve(1), METRICS.

#include "sync/publisher.hpp"
#include "sync/source.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace treecast::net {

class MasterMetrics
{
public:
  // Upper bounds of the transaction duration histogram, in seconds.
  static constexpr std::array<double, 10> k_buckets{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

  // What the engine asked for: delta bytes sent, transactions ended.
  void observe(const sync::Outputs& out, sync::Millis now);
  // A push found the delta from the fleet's version made, or made it.
  void push_delta(const std::string& channel, bool cached);

  [[nodiscard]] std::string render(const sync::Publisher& publisher, const sync::Source& source,
                                   const std::vector<std::string>& channels,
                                   sync::Millis now) const;

private:
  struct Channel
  {
    std::uint64_t committed = 0;
    std::uint64_t aborted = 0;
    std::uint64_t timed_out = 0;
    std::array<std::uint64_t, k_buckets.size()> buckets{};
    std::uint64_t count = 0;
    double seconds = 0;
    std::uint64_t chunk_bytes = 0;  // sent in CHUNK replies
    std::uint64_t inline_bytes = 0; // published inside PREPAREs
    sync::Publisher::CacheCounts pushes;
  };
  std::map<std::string, Channel> m_channels;
};

// A label value as the text format wants it: \, " and newline escaped.
[[nodiscard]] std::string label_value(const std::string& text);

} // namespace treecast::net
