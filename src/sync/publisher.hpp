#pragma once

// The master's protocol engine (DESIGN.md, "A transaction";
// man/treecast-protocol.7): a state machine. It takes requests from
// followers, clock ticks and the operator's commands, and returns what to
// publish, what to reply to whom, and what to do; it holds no socket and
// no thread, so every rule is tested with scripted messages.

#include "sync/source.hpp"
#include "util/log.hpp"
#include "wire/messages.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace treecast::sync {

using Millis = std::int64_t; // a monotonic clock, in milliseconds

// How many of the voters must say yes.
struct Quorum
{
  enum class Kind : std::uint8_t
  {
    all,
    count,
    percent,
  };
  Kind kind = Kind::all;
  std::uint32_t value = 0; // count, or percent (1 to 100)
  // The yes votes needed of n voters (at least 1 when n > 0).
  std::size_t needed(std::size_t n) const;
};

// One transaction asked for by `treecast push` (or rollback): the version
// is recorded in the store already.
struct PushRequest
{
  std::string channel;
  wire::VersionRef version;
  Millis timeout = 30000;        // for the votes, then as long again for the acks
  Quorum quorum;                 //
  std::size_t min_followers = 0; // fewer voters: refused at once
  bool one_phase = false;
  // push --canary: only this group's followers vote and commit; the
  // committed version stays, the group holds the new one (a canary).
  std::string group;
};

enum class Vote : std::uint8_t
{
  none,
  yes,
  no,
};

// A follower's part in a transaction, for push's report.
struct FollowerResult
{
  std::string id;
  wire::VersionRef from; // what it held when the transaction began
  Vote vote = Vote::none;
  std::string reason;                    // of a no, or of a failure
  std::optional<wire::AckResult> result; // its ACK, if any
};

struct TxnReport
{
  std::string channel;
  wire::TxnRef txn;
  wire::VersionRef version;
  wire::Outcome outcome = wire::Outcome::abort;
  std::string reason; // of an abort
  bool timed_out = false;
  std::vector<FollowerResult> followers; // the voters, by id
  Millis began = 0;                      // when the transaction began
  std::string group;                     // a canary transaction's group
};

// What the engine asks for. The daemon publishes, replies, makes deltas and
// answers the push that is waiting.
struct Publish
{
  std::string channel; // the topic
  wire::Message message;
};
struct Reply
{
  std::string peer; // the ROUTER's routing id
  wire::Message message;
};
struct MakeDelta
{
  std::string channel;
  wire::VersionRef from;
  wire::VersionRef to;
};
struct Outputs
{
  std::vector<Publish> publish;
  std::vector<Reply> replies;
  std::vector<MakeDelta> make;
  std::vector<TxnReport> ended;    // transactions over: answer their push
  std::vector<util::LogEntry> log; // lines for the daemon's log
};

// The version of status_json's layout (treecast-status(1), JSON).
inline constexpr int k_status_schema = 1;

struct PublisherOptions
{
  Millis heartbeat = 1000; // a HEARTBEAT per channel this often
  Millis alive = 5000;     // a follower heard from within this is alive
  Millis retry = 200;      // WAIT's retry, while a delta is made
  std::size_t chain = 16;  // versions in a PREPARE's chain
  // Followers remembered per channel; past it, a new one takes the place of
  // the one heard from least lately that is not voting (so a flood of ids
  // cannot grow the master's memory without bound).
  std::size_t max_followers = 10000;
};

class Publisher
{
public:
  Publisher(Source& source, std::vector<std::string> channels, PublisherOptions options = {});

  // Picks up each channel's log: a transaction begun and never decided is
  // aborted (logged, then published).
  [[nodiscard]] Outputs start(Millis now);

  // A request on the ROUTER from peer (its routing id).
  [[nodiscard]] Outputs request(const std::string& peer, const wire::Message& message, Millis now);
  // The clock: heartbeats, vote and ack timeouts.
  [[nodiscard]] Outputs tick(Millis now);
  // A new transaction; refused (an error) while the channel has one, or
  // for an unknown channel or version.
  [[nodiscard]] util::Result<Outputs> begin(const PushRequest& push, Millis now);
  // Withdraws the channel's transaction (abort); an error when none.
  [[nodiscard]] util::Result<Outputs> abort(const std::string& channel, const std::string& reason,
                                            Millis now);
  // A delta asked for with MakeDelta is made (or failed: error set).
  [[nodiscard]] Outputs delta_made(const MakeDelta& made, const std::string& error, Millis now);

  // What status shows: every follower heard from, per channel.
  struct FollowerInfo
  {
    std::string peer;
    wire::VersionRef version;
    wire::FollowerState state = wire::FollowerState::idle;
    Millis seen = 0;
    std::string last_error;
    std::string group; // as its HELLO says
  };
  const std::map<std::string, FollowerInfo>& followers(const std::string& channel) const;
  // Heard from within PublisherOptions::alive: a voter of the next push.
  bool alive(const FollowerInfo& f, Millis now) const { return f.seen + m_options.alive >= now; }
  bool in_flight(const std::string& channel) const;
  // The channel's canary (group empty: none).
  wire::Canary canary(const std::string& channel) const;
  // FETCHes from a delta's first byte that found it in the delta cache,
  // and those that had it made.
  struct CacheCounts
  {
    std::uint64_t hits = 0;
    std::uint64_t misses = 0;
  };
  CacheCounts delta_cache(const std::string& channel) const;
  std::string status_json(const std::string& channel, Millis now) const;

private:
  struct Txn
  {
    PushRequest push;
    wire::TxnRef ref;
    wire::VersionRef prior;
    std::uint64_t delta_bytes = 0;
    std::vector<std::uint8_t> inline_delta;
    Millis began = 0;
    Millis deadline = 0;
    bool decided = false;
    wire::Outcome outcome = wire::Outcome::none;
    std::string reason;
    bool timed_out = false;
    std::map<std::string, FollowerResult> voters; // by id
  };
  struct Channel
  {
    std::string name;
    std::optional<Txn> txn;
    wire::LastDecision last;
    std::uint64_t last_txn = 0;
    Millis next_heartbeat = 0;
    std::map<std::string, FollowerInfo> followers;
    std::set<std::pair<std::uint64_t, std::uint64_t>> making; // deltas asked for (from, to numbers)
    std::map<std::pair<std::uint64_t, std::uint64_t>, std::string> failed; // and why they failed
    CacheCounts cache;
    wire::Canary canary; // a group at another version than the committed one
  };

  Channel* find(const std::string& name);
  // The channel a request names, or null with an ERROR reply to peer.
  Channel* known(const std::string& peer, const std::string& name, Outputs& out);
  // A follower heard from, through peer: alive now.
  FollowerInfo& heard(Channel& c, const std::string& id, const std::string& peer, Millis now);
  wire::Heartbeat heartbeat(const Channel& c) const;
  wire::Prepare prepare(const Channel& c) const;
  void decide(Channel& c, wire::Outcome outcome, const std::string& reason, Millis now,
              Outputs& out);
  void maybe_decide(Channel& c, Millis now, Outputs& out);
  void maybe_end(Channel& c, Outputs& out);
  void end(Channel& c, Outputs& out);
  void on_hello(const std::string& peer, const wire::Hello& m, Millis now, Outputs& out);
  void on_fetch(const std::string& peer, const wire::Fetch& m, Outputs& out);
  void on_vote(const std::string& peer, const wire::Vote& m, Millis now, Outputs& out);
  void on_ack(const std::string& peer, const wire::Ack& m, Millis now, Outputs& out);

  Source& m_source;
  PublisherOptions m_options;
  std::map<std::string, Channel> m_channels;
};

} // namespace treecast::sync
