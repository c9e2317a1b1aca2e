#pragma once

// The follower's user layer as the Subscriber sees it (DESIGN.md, "The
// four layers"): the version its tree holds, a stage that waits for a
// decision, and the delta being received. Every call is quick; staging,
// committing and applying, which are not, are actions the Subscriber asks
// for and the daemon runs elsewhere, then reports back. The tree-backed
// Replica is the product; tests plug in their own.

#include "util/result.hpp"
#include "wire/messages.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace treecast::sync {

// A stage that waits for its transaction's decision.
struct Staged
{
  wire::TxnRef txn;
  wire::VersionRef version;
};

class Replica
{
public:
  virtual ~Replica() = default;

  virtual wire::VersionRef version() const = 0;
  virtual std::optional<Staged> staged() const = 0;
  // The delta from -> to, of total bytes, lands in a spool at its offsets;
  // begin_delta empties the spool.
  virtual util::Status begin_delta(const wire::VersionRef& from, const wire::VersionRef& to,
                                   std::uint64_t total) = 0;
  virtual util::Status write_delta(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
  // After a commit: why its health check failed ("" when it passed, or
  // there is none). The ACK says unhealthy, with this.
  virtual std::string unhealthy() const { return ""; }
};

} // namespace treecast::sync
