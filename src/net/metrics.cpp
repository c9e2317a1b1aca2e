#include "metrics.hpp"

#include <cstdio>
#include <functional>
#include <variant>

namespace treecast::net {

std::string label_value(const std::string& text)
{
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

void MasterMetrics::observe(const sync::Outputs& out, sync::Millis now)
{
  for (const auto& p : out.publish) {
    if (const auto* prepare = std::get_if<wire::Prepare>(&p.message)) {
      m_channels[p.channel].inline_bytes += prepare->inline_delta.size();
    }
  }
  for (const auto& r : out.replies) {
    if (const auto* chunk = std::get_if<wire::Chunk>(&r.message)) {
      m_channels[chunk->channel].chunk_bytes += chunk->data.size();
    }
  }
  for (const auto& r : out.ended) {
    Channel& c = m_channels[r.channel];
    (r.outcome == wire::Outcome::commit ? c.committed : c.aborted) += 1;
    c.timed_out += r.timed_out ? 1 : 0;
    const double seconds = static_cast<double>(std::max<sync::Millis>(0, now - r.began)) / 1000.0;
    for (std::size_t i = 0; i < k_buckets.size(); ++i) {
      c.buckets[i] += seconds <= k_buckets[i] ? 1 : 0;
    }
    c.count += 1;
    c.seconds += seconds;
  }
}

void MasterMetrics::push_delta(const std::string& channel, bool cached)
{
  auto& counts = m_channels[channel].pushes;
  (cached ? counts.hits : counts.misses) += 1;
}

namespace {

class Text
{
public:
  void family(const char* name, const char* type, const char* help)
  {
    m_out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void sample(const std::string& name, const std::string& labels, double value)
  {
    char number[64];
    std::snprintf(number, sizeof number, "%.17g", value);
    m_out += name + (labels.empty() ? "" : "{" + labels + "}") + " " + number + "\n";
  }
  std::string take() { return std::move(m_out); }

private:
  std::string m_out;
};

std::string channel_label(const std::string& channel)
{
  return "channel=\"" + label_value(channel) + "\"";
}

} // namespace

std::string MasterMetrics::render(const sync::Publisher& publisher, const sync::Source& source,
                                  const std::vector<std::string>& channels, sync::Millis now) const
{
  const Channel none;
  auto counts = [&](const std::string& name) -> const Channel& {
    const auto it = m_channels.find(name);
    return it == m_channels.end() ? none : it->second;
  };
  Text t;
  // One sample per channel, and one per follower of each.
  const auto per_channel = [&](const char* name, const char* type, const char* help,
                               const std::function<double(const std::string&)>& value) {
    t.family(name, type, help);
    for (const auto& channel : channels) {
      t.sample(name, channel_label(channel), value(channel));
    }
  };
  const auto per_follower =
    [&](const char* name, const char* help,
        const std::function<double(const sync::Publisher::FollowerInfo&)>& value) {
      t.family(name, "gauge", help);
      for (const auto& channel : channels) {
        for (const auto& [id, f] : publisher.followers(channel)) {
          t.sample(name, channel_label(channel) + ",follower=\"" + label_value(id) + "\"",
                   value(f));
        }
      }
    };
  t.family("treecast_build_info", "gauge", "The treecast serving, by version.");
  t.sample("treecast_build_info", "version=\"" TREECAST_VERSION "\"", 1);

  per_channel("treecast_committed_version", "gauge", "The channel's committed version number.",
              [&](const std::string& c) {
                const auto committed = source.committed(c, 1);
                return static_cast<double>(committed.empty() ? 0 : committed.front().number);
              });
  per_channel("treecast_transaction_in_flight", "gauge", "1 while the channel has a transaction.",
              [&](const std::string& c) { return publisher.in_flight(c) ? 1.0 : 0.0; });
  per_channel("treecast_followers_alive", "gauge",
              "Followers heard from in the last 5 seconds, per channel.",
              [&](const std::string& c) {
                std::size_t n = 0;
                for (const auto& [id, f] : publisher.followers(c)) {
                  n += publisher.alive(f, now) ? 1 : 0;
                }
                return static_cast<double>(n);
              });
  per_follower(
    "treecast_follower_version", "The version each follower last said it holds.",
    [](const sync::Publisher::FollowerInfo& f) { return static_cast<double>(f.version.number); });
  per_follower(
    "treecast_follower_alive", "1 if the follower was heard from in the last 5 seconds.",
    [&](const sync::Publisher::FollowerInfo& f) { return publisher.alive(f, now) ? 1.0 : 0.0; });
  t.family("treecast_transactions_total", "counter",
           "Transactions ended since serve started, by outcome.");
  for (const auto& name : channels) {
    const Channel& c = counts(name);
    t.sample("treecast_transactions_total", channel_label(name) + ",outcome=\"commit\"",
             static_cast<double>(c.committed));
    t.sample("treecast_transactions_total", channel_label(name) + ",outcome=\"abort\"",
             static_cast<double>(c.aborted));
  }
  per_channel("treecast_transactions_timed_out_total", "counter",
              "Transactions that ended because votes or acks did not come in time.",
              [&](const std::string& c) { return static_cast<double>(counts(c).timed_out); });
  t.family("treecast_transaction_duration_seconds", "histogram",
           "From a transaction's PREPARE to its last ack (or its end without them).");
  for (const auto& name : channels) {
    const Channel& c = counts(name);
    for (std::size_t i = 0; i < k_buckets.size(); ++i) {
      char le[32];
      std::snprintf(le, sizeof le, "%g", k_buckets[i]);
      t.sample("treecast_transaction_duration_seconds_bucket",
               channel_label(name) + ",le=\"" + le + "\"", static_cast<double>(c.buckets[i]));
    }
    t.sample("treecast_transaction_duration_seconds_bucket", channel_label(name) + ",le=\"+Inf\"",
             static_cast<double>(c.count));
    t.sample("treecast_transaction_duration_seconds_sum", channel_label(name), c.seconds);
    t.sample("treecast_transaction_duration_seconds_count", channel_label(name),
             static_cast<double>(c.count));
  }
  t.family("treecast_delta_bytes_sent_total", "counter",
           "Delta bytes sent: fetched in chunks, and inline in PREPAREs (once per publication).");
  for (const auto& name : channels) {
    const Channel& c = counts(name);
    t.sample("treecast_delta_bytes_sent_total", channel_label(name) + ",how=\"fetch\"",
             static_cast<double>(c.chunk_bytes));
    t.sample("treecast_delta_bytes_sent_total", channel_label(name) + ",how=\"inline\"",
             static_cast<double>(c.inline_bytes));
  }
  per_channel("treecast_delta_cache_hits_total", "counter",
              "Pushes and fetches from a delta's first byte that found the delta made.",
              [&](const std::string& c) {
                return static_cast<double>(publisher.delta_cache(c).hits + counts(c).pushes.hits);
              });
  per_channel("treecast_delta_cache_misses_total", "counter",
              "Deltas that had to be made for a push or a fetch.", [&](const std::string& c) {
                return static_cast<double>(publisher.delta_cache(c).misses +
                                           counts(c).pushes.misses);
              });
  return t.take();
}

} // namespace treecast::net
