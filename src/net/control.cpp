#include "control.hpp"

namespace treecast::net {

namespace {

const char* outcome_name(wire::Outcome o)
{
  return o == wire::Outcome::commit ? "commit" : o == wire::Outcome::abort ? "abort" : "none";
}

const char* vote_name(sync::Vote v)
{
  return v == sync::Vote::yes ? "yes" : v == sync::Vote::no ? "no" : "none";
}

const char* ack_name(const std::optional<wire::AckResult>& r)
{
  if (!r) {
    return "none";
  }
  switch (*r) {
    case wire::AckResult::committed:
      return "committed";
    case wire::AckResult::aborted:
      return "aborted";
    case wire::AckResult::failed:
      return "failed";
    case wire::AckResult::unhealthy:
      return "unhealthy";
  }
  return "none";
}

} // namespace

nlohmann::json report_json(const sync::TxnReport& r)
{
  nlohmann::json followers = nlohmann::json::array();
  for (const auto& f : r.followers) {
    followers.push_back({{"id", f.id},
                         {"from", f.from.number},
                         {"vote", vote_name(f.vote)},
                         {"reason", f.reason},
                         {"result", ack_name(f.result)}});
  }
  return {{"result", outcome_name(r.outcome)}, {"channel", r.channel},
          {"transaction", r.txn.number},       {"version", r.version.number},
          {"version_id", r.version.id.hex()},  {"reason", r.reason},
          {"timed_out", r.timed_out},          {"followers", std::move(followers)}};
}

std::string dump(const nlohmann::json& j)
{
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Parses "all", "N" or "P%".
std::optional<sync::Quorum> parse_quorum(const std::string& text)
{
  sync::Quorum q;
  if (text.empty() || text == "all") {
    return q;
  }
  const bool percent = text.back() == '%';
  const std::string digits = percent ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  q.value = static_cast<std::uint32_t>(std::stoul(digits));
  q.kind = percent ? sync::Quorum::Kind::percent : sync::Quorum::Kind::count;
  if (q.value == 0 || (percent && q.value > 100)) {
    return std::nullopt;
  }
  return q;
}

std::optional<std::pair<bool, std::uint32_t>> parse_limit(const std::string& text)
{
  const bool percent = !text.empty() && text.back() == '%';
  const std::string digits = percent ? text.substr(0, text.size() - 1) : text;
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  const auto value = static_cast<std::uint32_t>(std::stoul(digits));
  if (percent && value > 100) {
    return std::nullopt;
  }
  return std::make_pair(percent, value);
}

std::string max_delete_refusal(const std::string& limit, std::size_t gone, std::size_t total,
                               std::uint64_t from, std::uint64_t to)
{
  const auto q = parse_limit(limit);
  if (!q) {
    return "";
  }
  const std::size_t allowed = q->first ? total * q->second / 100 : q->second;
  if (gone <= allowed) {
    return "";
  }
  return "v" + std::to_string(to) + " deletes " + std::to_string(gone) + " of the " +
         std::to_string(total) + " entries of v" + std::to_string(from) +
         ", more than --max-delete " + limit + " allows";
}

nlohmann::json dry_run_json(const std::string& channel, const sync::DryRun& d,
                            const std::string& refusal)
{
  nlohmann::json changes = nlohmann::json::array();
  for (const auto& c : d.changes) {
    if (changes.size() == k_dry_run_changes) {
      break;
    }
    nlohmann::json j{{"kind", core::to_string(c.kind)}, {"path", c.path}};
    if (!c.from_path.empty()) {
      j["from"] = c.from_path;
    }
    changes.push_back(std::move(j));
  }
  nlohmann::json deltas = nlohmann::json::array();
  for (const auto& delta : d.deltas) {
    nlohmann::json j{{"from", delta.from}, {"bytes", delta.bytes}, {"followers", delta.followers}};
    if (!delta.error.empty()) {
      j["error"] = delta.error;
    }
    deltas.push_back(std::move(j));
  }
  return {{"result", d.unchanged ? "unchanged" : "dry_run"},
          {"channel", channel},
          {"committed", d.committed},
          {"version", d.version.header.number},
          {"version_id", d.version.id.hex()},
          {"entries", d.version.entries.size()},
          {"changes", std::move(changes)},
          {"changes_total", d.changes.size()},
          {"deleted", d.deleted},
          {"deltas", std::move(deltas)},
          {"refused", refusal}};
}

} // namespace treecast::net
