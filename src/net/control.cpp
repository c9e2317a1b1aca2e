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

} // namespace treecast::net
