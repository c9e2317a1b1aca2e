#pragma once

// The JSON of a master's control socket (push, rollback, status, abort;
// treecast(1)): a transaction's report, and a quorum as push gives it.

#include "sync/dry_run.hpp"
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
// push --max-delete limit: why a version `to` that deletes `gone` of the
// `total` entries of the committed version `from` is refused; "" when it
// is not (or no limit).
[[nodiscard]] std::string max_delete_refusal(const std::string& limit, std::size_t gone,
                                             std::size_t total, std::uint64_t from,
                                             std::uint64_t to);
// push --dry-run's reply. At most k_dry_run_changes changes are listed;
// changes_total counts them all.
inline constexpr std::size_t k_dry_run_changes = 1000;
[[nodiscard]] nlohmann::json dry_run_json(const std::string& channel, const sync::DryRun& d,
                                          const std::string& refusal);

} // namespace treecast::net
