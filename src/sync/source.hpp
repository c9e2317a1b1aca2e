#pragma once

// The master's user layer as the Publisher sees it (DESIGN.md, "The four
// layers"): the channels' committed versions, the transaction log, and
// deltas made before. Every call is quick and synchronous; making a delta,
// which is not, is an action the Publisher asks for (MakeDelta) and the
// daemon runs elsewhere. The store-backed Source is the product; tests
// plug in their own.

#include "util/result.hpp"
#include "wire/messages.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace treecast::sync {

// A channel's last transaction, as its log holds it.
struct LoggedTxn
{
  wire::TxnRef txn;
  wire::VersionRef version;
  wire::Outcome outcome = wire::Outcome::none; // none: begun, never decided
};

class Source
{
public:
  virtual ~Source() = default;

  // The master's epoch: chosen once, when its transaction log was created.
  virtual std::uint64_t epoch() const = 0;
  // The channel's committed versions, newest first, at most n (none yet:
  // empty).
  virtual std::vector<wire::VersionRef> committed(const std::string& channel,
                                                  std::size_t n) const = 0;
  // Whether the store holds this version of the channel (number 0: the
  // empty tree, always held).
  virtual bool has_version(const std::string& channel, const wire::VersionRef& v) const = 0;
  // The last transaction of the channel's log, if any.
  virtual std::optional<LoggedTxn> last_txn(const std::string& channel) const = 0;
  // Appends to the channel's log, durably, before the Publisher tells
  // anyone: a transaction begins; it is decided (a commit also makes its
  // version the committed one).
  virtual util::Status log_begin(const std::string& channel, const wire::TxnRef& txn,
                                 const wire::VersionRef& version) = 0;
  virtual util::Status log_decision(const std::string& channel, const wire::TxnRef& txn,
                                    wire::Outcome outcome, const wire::VersionRef& version) = 0;
  // A transaction for one group's followers committed (push --canary):
  // the group holds version; the committed version stays.
  virtual util::Status log_canary(const std::string& channel, const wire::TxnRef& txn,
                                  const wire::VersionRef& version, const std::string& group)
  {
    (void)channel, (void)txn, (void)version, (void)group;
    return util::make_error(util::Errc::usage, "this master keeps no canaries");
  }
  // The group that holds a version other than the committed one, since
  // the last commit (group empty: none). The signature is not filled in.
  virtual wire::Canary canary(const std::string& channel) const
  {
    (void)channel;
    return {};
  }
  // A delta already made from -> to: its size (nullopt: not made yet), and
  // bytes of it.
  virtual std::optional<std::uint64_t> delta_size(const std::string& channel,
                                                  const wire::VersionRef& from,
                                                  const wire::VersionRef& to) const = 0;
  // The master's signature of a version (treecast(1), SECURITY); empty
  // when it signs none.
  virtual std::vector<std::uint8_t> signature(const std::string& channel,
                                              const wire::VersionRef& v) const
  {
    (void)channel;
    (void)v;
    return {};
  }
  virtual util::Result<std::vector<std::uint8_t>> read_delta(const std::string& channel,
                                                             const wire::VersionRef& from,
                                                             const wire::VersionRef& to,
                                                             std::uint64_t offset,
                                                             std::size_t length) const = 0;
};

} // namespace treecast::sync
