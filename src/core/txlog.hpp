#pragma once

// The master's transaction log, one per channel (DESIGN.md, "A
// transaction"): STORE/channels/NAME/transactions, a line per event,
// appended and flushed to disk before the master tells anyone:
//
//   begin EPOCH TXN NUMBER ID     a transaction proposes version NUMBER
//   commit EPOCH TXN NUMBER ID    it committed: the fleet holds NUMBER
//   abort EPOCH TXN NUMBER ID     it aborted
//   canary EPOCH TXN NUMBER ID GROUP  it committed for GROUP's followers
//                                 only (push --canary): the fleet's
//                                 version stays, GROUP holds NUMBER
//
// (decimal numbers, the version id in hex). A last line cut short by a
// crash is ignored. The master's epoch, STORE/epoch, is chosen at random
// once, with the first log; it tells a follower that a transaction number
// is from this store. treecast-formats(5), TRANSACTION LOG.

#include "core/store.hpp"
#include "util/hash.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace treecast::core {

struct TxnEvent
{
  enum class Kind : std::uint8_t
  {
    begin,
    commit,
    abort,
    canary,
  };
  Kind kind = Kind::begin;
  std::uint64_t epoch = 0;
  std::uint64_t txn = 0;
  std::uint64_t number = 0; // the version
  util::Hash128 id;
  std::string group{}; // canary: the followers' group
};

class TxnLog
{
public:
  // Reads the channel's log (none yet: empty).
  [[nodiscard]] static util::Result<TxnLog> open(const Store& store, std::string_view channel);

  const std::vector<TxnEvent>& events() const { return m_events; }
  // Appends an event and flushes it to disk.
  [[nodiscard]] util::Status append(const TxnEvent& event);

private:
  std::string m_path;
  std::vector<TxnEvent> m_events;
  std::uint64_t m_whole = 0; // the bytes of the log's whole lines
};

// The store's epoch, made (at random, durably) on the first call.
[[nodiscard]] util::Result<std::uint64_t> store_epoch(const Store& store);

} // namespace treecast::core
