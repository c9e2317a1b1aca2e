#pragma once

// A follower's protocol engine for one channel (man/treecast-protocol.7,
// THE FOLLOWER'S RULES): a state machine. Publications from the master's
// PUB, replies on the DEALER, the results of the actions it asked for and
// clock ticks in; requests to send and actions out. It holds no socket and
// no thread.

#include "sync/publisher.hpp"
#include "sync/replica.hpp"
#include "wire/messages.hpp"

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace treecast::sync {

// What the daemon does for the Subscriber, then reports with done().
struct Action
{
  enum class Kind : std::uint8_t
  {
    stage,  // build the stage from the spooled delta, run the check, keep it for txn
    commit, // commit the stage of txn (and run the reload hook)
    abort,  // discard the stage of txn
    apply,  // catch up: apply the spooled delta at once, no transaction
  };
  Kind kind = Kind::stage;
  wire::TxnRef txn;
  wire::VersionRef from;
  wire::VersionRef to;
  std::vector<std::uint8_t> signature{}; // the master's of `to` (stage, apply), or empty
  std::string group{};                   // the transaction's group (push --canary), or empty
};

struct FollowerOutputs
{
  std::vector<wire::Message> send; // to the master's ROUTER
  std::vector<Action> actions;
  std::vector<util::LogEntry> log;
};

struct SubscriberOptions
{
  std::string follower; // this follower's id
  std::string channel;
  Millis hello = 2000;    // a HELLO this often: the master's sign of life
  Millis stall = 10000;   // no reply this long: ask again
  std::size_t window = 8; // FETCHes in flight
  std::uint32_t chunk = static_cast<std::uint32_t>(wire::k_max_chunk);
  std::string group{}; // follow --group: canary transactions of this group are its own
};

class Subscriber
{
public:
  Subscriber(Replica& replica, SubscriberOptions options);

  // Says hello: with the stage it voted yes for, if it kept one.
  [[nodiscard]] FollowerOutputs start(Millis now);
  // A message from the PUB (topic checked by the caller) or the DEALER.
  [[nodiscard]] FollowerOutputs receive(const wire::Message& message, Millis now);
  [[nodiscard]] FollowerOutputs tick(Millis now);
  // The follower stops: a HELLO that says it leaves, unless it voted yes
  // and keeps a stage (then it is coming back for the decision).
  [[nodiscard]] FollowerOutputs leave();
  // An action is done; error empty on success (for stage: the reason to
  // refuse, the check hook's words or what stopped the stage).
  [[nodiscard]] FollowerOutputs done(const Action& action, const std::string& error, Millis now);

  enum class Phase : std::uint8_t
  {
    idle,
    fetching,
    staging,   // the stage action runs
    voted,     // voted yes: waits for the decision
    finishing, // the commit, abort or apply action runs
  };
  Phase phase() const { return m_phase; }
  // What the master said last of its committed version; heard() is false
  // until it said anything.
  const wire::VersionRef& master_committed() const { return m_committed; }
  // The version this follower should hold: the committed one, or its
  // group's canary.
  const wire::VersionRef& target() const { return m_target; }
  bool heard() const { return m_heard; }
  // The master answered that it serves no such channel.
  bool unknown_channel() const { return m_unknown_channel; }
  // Nothing in flight: no work, no stage, no vote waiting.
  bool settled() const { return m_phase == Phase::idle && !m_work && !m_voted && !m_refused; }

private:
  // The delta being received, for a transaction or to catch up.
  struct Work
  {
    std::optional<wire::TxnRef> txn; // none: catching up
    bool one_phase = false;
    wire::VersionRef from;
    wire::VersionRef to;
    std::vector<std::uint8_t> signature;         // of to, as the master gave it
    std::string group;                           // of the transaction
    std::uint64_t total = 0;                     // known from the first CHUNK
    bool sized = false;                          //
    std::uint64_t written = 0;                   // bytes on disk, from 0
    std::uint64_t next = 0;                      // the next offset to ask for
    std::set<std::uint64_t> asked;               // offsets in flight
    std::set<std::uint64_t> landed;              // on disk, beyond written
    Millis progress = 0;                         // the last reply
    Millis retry_at = 0;                         // after a WAIT
    wire::Outcome decided = wire::Outcome::none; // heard while still working
  };

  void on_prepare(const wire::Prepare& p, Millis now, FollowerOutputs& out);
  void on_decision(const wire::TxnRef& txn, wire::Outcome outcome, const wire::VersionRef& version,
                   Millis now, FollowerOutputs& out);
  void on_heartbeat(std::uint64_t epoch, const wire::VersionRef& committed,
                    const std::vector<std::uint8_t>& signature, const wire::TxnRef& pending,
                    const wire::LastDecision& last, const wire::Canary& canary, Millis now,
                    FollowerOutputs& out);
  void on_chunk(const wire::Chunk& c, Millis now, FollowerOutputs& out);
  void fetch(Millis now, FollowerOutputs& out);
  void stage(FollowerOutputs& out);
  void finish(Action::Kind kind, const Action& staged, FollowerOutputs& out);
  void give_up(const std::string& reason, Millis now, FollowerOutputs& out);
  wire::Hello hello() const;
  void ack(const wire::TxnRef& txn, wire::AckResult result, const std::string& reason,
           FollowerOutputs& out);
  wire::VersionRef m_staged_version() const { return m_voted_version; }

  Replica& m_replica;
  SubscriberOptions m_options;
  Phase m_phase = Phase::idle;
  std::optional<Work> m_work;
  std::optional<wire::TxnRef> m_voted;   // voted yes: the transaction whose stage waits
  wire::VersionRef m_voted_version;      // that stage's version
  std::string m_voted_group;             // its transaction's group (a canary's), or empty
  bool m_voted_nothing = false;          // voted yes holding the version already
  std::optional<wire::TxnRef> m_refused; // voted no: waits for the decision to ack it
  std::string m_refused_reason;
  std::optional<wire::Prepare> m_next; // a PREPARE that came while busy
  wire::VersionRef m_committed;        // the master's, from HEARTBEAT and WELCOME
  wire::VersionRef m_target;
  bool m_unknown_channel = false;
  std::uint64_t m_epoch = 0;
  bool m_heard = false;
  Millis m_next_hello = 0;
  Millis m_next_ask = 0;                                    // HELLO to learn of a PREPARE missed
  Millis m_catch_up_after = 0;                              // after a failed catch-up
  std::set<std::pair<std::uint64_t, std::uint64_t>> m_done; // (epoch, txn) acked
};

} // namespace treecast::sync
