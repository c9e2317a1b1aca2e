#pragma once

// The messages of treecast's protocol (man/treecast-protocol.7), as plain
// structs. The codec (codec.hpp) turns them into bytes and back; nothing
// here knows a socket.
//
// Every message is one ZeroMQ frame (after the topic frame on PUB, and the
// routing envelope on ROUTER):
//
//   "TC" u8:protocol-version u8:command fields...
//
// with the fields of its command in order, encoded as in
// treecast-formats(5): varint, string (varint length, bytes), hash128.

#include "util/hash.hpp"

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace treecast::wire {

inline constexpr std::uint8_t k_signature[2] = {'T', 'C'}; // protocol
inline constexpr std::uint8_t k_protocol_version = 1;      // protocol

// Bounds a decoder enforces (protocol); the sockets' ZMQ_MAXMSGSIZE is
// k_max_message.
inline constexpr std::size_t k_max_message = std::size_t{1} << 20; // 1 MiB
inline constexpr std::size_t k_max_inline_delta = 64 * 1024;       // in a PREPARE
inline constexpr std::size_t k_max_chunk = 256 * 1024;             // in a CHUNK
inline constexpr std::size_t k_max_chain = 64;                     // versions in a PREPARE
inline constexpr std::size_t k_max_name = 128;                     // a channel or follower id
inline constexpr std::size_t k_max_reason = 4096;                  // a refusal's reason
inline constexpr std::size_t k_max_status = 768 * 1024;            // a STATUS reply's JSON
inline constexpr std::size_t k_max_signature = 64;                 // an Ed25519 signature

enum class Command : std::uint8_t
{ // protocol
  // PUB, on the channel's topic
  heartbeat = 1,
  prepare = 2,
  decision = 3,
  // requests to the ROUTER
  hello = 16,
  fetch = 17,
  vote = 18,
  ack = 19,
  status = 20,
  // the ROUTER's replies
  welcome = 32,
  chunk = 33,
  ok = 34,
  status_reply = 35,
  error = 36,
  wait = 37,
};

// A version of a channel: its number and its id (0 and zeros: none).
struct VersionRef
{
  std::uint64_t number = 0;
  util::Hash128 id;
  bool operator==(const VersionRef&) const = default;
};

// A transaction: the master's epoch (a random number chosen when its store's
// transaction log is created) and the channel's transaction number.
struct TxnRef
{
  std::uint64_t epoch = 0;
  std::uint64_t number = 0;
  bool operator==(const TxnRef&) const = default;
};

enum class Outcome : std::uint8_t
{ // protocol
  none = 0,
  commit = 1,
  abort = 2,
};

// The last decision of a channel, repeated by HEARTBEAT and WELCOME.
struct LastDecision
{
  TxnRef txn; // number 0: none yet
  Outcome outcome = Outcome::none;
  VersionRef version;
  bool operator==(const LastDecision&) const = default;
};

// A canary: the group of followers that holds a version the rest of the
// fleet does not hold yet (push --canary). Group empty: none.
struct Canary
{
  std::string group;
  VersionRef version;
  std::vector<std::uint8_t> signature{}; // of version; or empty
  bool operator==(const Canary&) const = default;
};

struct Prepare
{
  std::string channel;
  TxnRef txn;
  VersionRef version;                     // the version proposed
  VersionRef prior;                       // the channel's committed version when it began
  std::vector<VersionRef> chain;          // recent versions, newest first (prior's included)
  std::uint64_t delta_bytes = 0;          // the delta from prior to version
  std::uint32_t timeout_ms = 0;           // how long the master waits for votes
  bool one_phase = false;                 // commit as soon as the delta is verified
  std::vector<std::uint8_t> inline_delta; // that delta, when it is small; else empty
  std::vector<std::uint8_t> signature{};  // of version, by the master's signing key; or empty
  std::string group{};                    // only this group's followers take part; empty: all
  bool operator==(const Prepare&) const = default;
};

struct Heartbeat
{
  std::string channel;
  std::uint64_t epoch = 0;
  VersionRef committed;
  TxnRef pending; // the transaction in flight (number 0: none)
  LastDecision last;
  std::vector<std::uint8_t> signature{}; // of committed; or empty
  Canary canary{};
  bool operator==(const Heartbeat&) const = default;
};

struct Decision
{
  std::string channel;
  TxnRef txn;
  Outcome outcome = Outcome::commit;
  VersionRef version;
  std::string reason; // why, for an abort
  bool operator==(const Decision&) const = default;
};

// What a follower holds of a channel when it says hello.
enum class FollowerState : std::uint8_t
{              // protocol
  idle = 0,    // at its version, nothing staged
  staged = 1,  // voted yes for txn, waiting for the decision
  leaving = 2, // it stops (sync is done, follow was stopped): not a voter until its next hello
};

struct Hello
{
  std::string follower; // its id
  std::string channel;
  VersionRef version;
  FollowerState state = FollowerState::idle;
  TxnRef txn;          // with state staged
  std::string group{}; // the follower's group (follow --group); or empty
  bool operator==(const Hello&) const = default;
};

struct Welcome
{
  std::string channel;
  std::uint64_t epoch = 0;
  VersionRef committed;
  LastDecision last;
  bool has_prepare = false; // a transaction is in flight: prepare holds it
  Prepare prepare;
  std::vector<std::uint8_t> signature{}; // of committed; or empty
  Canary canary{};
  bool operator==(const Welcome&) const = default;
};

// A request for bytes [offset, offset + length) of the delta from -> to.
struct Fetch
{
  std::string channel;
  VersionRef from;
  VersionRef to;
  std::uint64_t offset = 0;
  std::uint32_t length = 0; // at most k_max_chunk
  bool operator==(const Fetch&) const = default;
};

struct Chunk
{
  std::string channel;
  VersionRef from;
  VersionRef to;
  std::uint64_t offset = 0;
  std::uint64_t total = 0; // the delta's size
  std::vector<std::uint8_t> data;
  bool operator==(const Chunk&) const = default;
};

struct Vote
{
  std::string follower;
  std::string channel;
  TxnRef txn;
  bool yes = false;
  std::string reason; // why not
  bool operator==(const Vote&) const = default;
};

enum class AckResult : std::uint8_t
{ // protocol
  committed = 1,
  aborted = 2,
  failed = 3,
  unhealthy = 4, // committed, but the health check (follow --health) failed: see reason
};

struct Ack
{
  std::string follower;
  std::string channel;
  TxnRef txn;
  AckResult result = AckResult::committed;
  VersionRef version; // what the follower holds now
  std::string reason;
  bool operator==(const Ack&) const = default;
};

struct Status
{
  std::string channel; // empty: every channel
  bool operator==(const Status&) const = default;
};

struct Ok
{
  bool operator==(const Ok&) const = default;
};

struct StatusReply
{
  std::string json;
  bool operator==(const StatusReply&) const = default;
};

enum class ErrorCode : std::uint8_t
{                      // protocol
  malformed = 1,       // the request could not be decoded
  unknown_channel = 2, //
  unknown_version = 3, // a version the master does not hold
  stale = 4,           // a transaction that is not the current one
  busy = 5,            // the master cannot serve it now
  internal = 6,        // the master failed; see the message
};

struct Error
{
  ErrorCode code = ErrorCode::malformed;
  std::string message;
  bool operator==(const Error&) const = default;
};

// The delta asked for is being made: ask again after retry_ms.
struct Wait
{
  std::uint32_t retry_ms = 0;
  bool operator==(const Wait&) const = default;
};

using Message = std::variant<Heartbeat, Prepare, Decision, Hello, Fetch, Vote, Ack, Status, Welcome,
                             Chunk, Ok, StatusReply, Error, Wait>;

[[nodiscard]] Command command_of(const Message& m);
[[nodiscard]] const char* command_name(Command c);

} // namespace treecast::wire
