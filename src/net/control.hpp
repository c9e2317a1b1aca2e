#pragma once

// The JSON of a master's control socket (push, rollback, status, abort;
// treecast(1)): a transaction's report, and a quorum as push gives it.

#include "sync/publisher.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace treecast::net {

[[nodiscard]] nlohmann::json report_json(const sync::TxnReport& r);
// Any bytes, replaced where not UTF-8.
[[nodiscard]] std::string dump(const nlohmann::json& j);
// "all", "N" or "P%".
[[nodiscard]] std::optional<sync::Quorum> parse_quorum(const std::string& text);
// "N" or "P%", 0 included: (percent, value).
[[nodiscard]] std::optional<std::pair<bool, std::uint32_t>> parse_limit(const std::string& text);

} // namespace treecast::net
