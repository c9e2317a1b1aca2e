// The requests a Publisher answers on the ROUTER (publisher.hpp): HELLO,
// FETCH, VOTE, ACK and STATUS; and what the daemon reports back.

#include "publisher.hpp"
#include "sync/shown.hpp"
#include "util/file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace treecast::sync {

namespace {

wire::Error error(wire::ErrorCode code, std::string message)
{
  return wire::Error{code, std::move(message)};
}

} // namespace

Publisher::Channel* Publisher::known(const std::string& peer, const std::string& name, Outputs& out)
{
  Channel* c = find(name);
  if (c == nullptr) {
    out.replies.push_back({peer, error(wire::ErrorCode::unknown_channel, "no channel " + name)});
  }
  return c;
}

Publisher::FollowerInfo& Publisher::heard(Channel& c, const std::string& id,
                                          const std::string& peer, Millis now)
{
  if (!c.followers.contains(id) && c.followers.size() >= m_options.max_followers) {
    auto oldest = c.followers.end();
    for (auto it = c.followers.begin(); it != c.followers.end(); ++it) {
      const bool voting = c.txn && c.txn->voters.contains(it->first);
      if (!voting && (oldest == c.followers.end() || it->second.seen < oldest->second.seen)) {
        oldest = it;
      }
    }
    if (oldest != c.followers.end()) {
      c.followers.erase(oldest);
    }
  }
  FollowerInfo& f = c.followers[id];
  f.peer = peer;
  f.seen = now;
  return f;
}

Outputs Publisher::request(const std::string& peer, const wire::Message& message, Millis now)
{
  Outputs out;
  if (const auto* hello = std::get_if<wire::Hello>(&message)) {
    on_hello(peer, *hello, now, out);
  } else if (const auto* fetch = std::get_if<wire::Fetch>(&message)) {
    on_fetch(peer, *fetch, out);
  } else if (const auto* vote = std::get_if<wire::Vote>(&message)) {
    on_vote(peer, *vote, now, out);
  } else if (const auto* ack = std::get_if<wire::Ack>(&message)) {
    on_ack(peer, *ack, now, out);
  } else if (const auto* status = std::get_if<wire::Status>(&message)) {
    if (!status->channel.empty() && find(status->channel) == nullptr) {
      out.replies.push_back(
        {peer, error(wire::ErrorCode::unknown_channel, "no channel " + status->channel)});
    } else {
      out.replies.push_back({peer, wire::StatusReply{status_json(status->channel, now)}});
    }
  } else {
    out.replies.push_back({peer, error(wire::ErrorCode::malformed,
                                       std::string(wire::command_name(wire::command_of(message))) +
                                         " is not a request")});
  }
  return out;
}

void Publisher::on_hello(const std::string& peer, const wire::Hello& m, Millis now, Outputs& out)
{
  Channel* c = known(peer, m.channel, out);
  if (c == nullptr) {
    return;
  }
  const auto known_before = c->followers.find(m.follower);
  if (m.state == wire::FollowerState::leaving) {
    // A follower that stops says so: it is no voter of the next push (a
    // sync from cron would otherwise count as alive for a while, and a
    // push then wait for its vote until it timed out). A voter that stops
    // before it voted refuses: the transaction does not wait for it, nor
    // commits without it where its vote was needed (a canary alone, or
    // --min-followers).
    if (known_before == c->followers.end()) {
      return;
    }
    bool voting = false;
    if (c->txn) {
      const auto voter = c->txn->voters.find(m.follower);
      if (voter != c->txn->voters.end() && !c->txn->decided && voter->second.vote == Vote::none) {
        voter->second.vote = Vote::no;
        voter->second.reason = "it stopped before it voted";
        voter->second.result = wire::AckResult::aborted; // nothing staged: no ACK to wait for
        maybe_decide(*c, now, out);
      } else {
        voting = voter != c->txn->voters.end();
      }
    }
    if (!voting) {
      c->followers.erase(known_before);
      out.log.push_back({util::Level::info, c->name + ": " + m.follower + " left"});
    }
    return;
  }
  if (known_before == c->followers.end() || known_before->second.version != m.version) {
    out.log.push_back({util::Level::info, c->name + ": " + m.follower + " at " + shown(m.version)});
  }
  FollowerInfo& f = heard(*c, m.follower, peer, now);
  f.version = m.version;
  f.state = m.state;
  f.group = m.group;
  // A HELLO repeats what a lost VOTE or ACK said: staged for the
  // transaction is a yes; idle after a decision, having voted, is done.
  if (c->txn) {
    Txn& t = *c->txn;
    const auto voter = t.voters.find(m.follower);
    if (voter != t.voters.end()) {
      FollowerResult& r = voter->second;
      if (!t.decided && m.state == wire::FollowerState::staged && m.txn == t.ref &&
          r.vote == Vote::none) {
        r.vote = Vote::yes;
        maybe_decide(*c, now, out);
      } else if (t.decided && m.state == wire::FollowerState::idle && r.vote != Vote::none &&
                 !r.result) {
        r.result = t.outcome == wire::Outcome::abort ? wire::AckResult::aborted
                   : m.version == t.push.version     ? wire::AckResult::committed
                                                     : wire::AckResult::failed;
        maybe_end(*c, out);
      }
    }
  }
  wire::Welcome w;
  w.channel = c->name;
  w.epoch = m_source.epoch();
  const auto committed = m_source.committed(c->name, 1);
  w.committed = committed.empty() ? wire::VersionRef{} : committed.front();
  w.last = c->last;
  if (w.committed.number != 0) {
    w.signature = m_source.signature(c->name, w.committed);
  }
  w.canary = canary(c->name);
  if (c->txn && !c->txn->decided) {
    w.has_prepare = true;
    w.prepare = prepare(*c);
  }
  out.replies.push_back({peer, w});
}

void Publisher::on_fetch(const std::string& peer, const wire::Fetch& m, Outputs& out)
{
  Channel* c = known(peer, m.channel, out);
  if (c == nullptr) {
    return;
  }
  for (const auto& v : {m.from, m.to}) {
    if (!m_source.has_version(c->name, v)) {
      out.replies.push_back(
        {peer, error(wire::ErrorCode::unknown_version,
                     "channel " + c->name + " has no version " + shown(v) + " " + v.id.hex())});
      return;
    }
  }
  const auto size = m_source.delta_size(c->name, m.from, m.to);
  if (m.offset == 0 && size) {
    c->cache.hits += 1;
  }
  if (!size) {
    if (const auto f = c->failed.find({m.from.number, m.to.number}); f != c->failed.end()) {
      out.replies.push_back({peer, error(wire::ErrorCode::internal, f->second)});
      return;
    }
    if (c->making.insert({m.from.number, m.to.number}).second) {
      c->cache.misses += 1;
      out.make.push_back({c->name, m.from, m.to});
    }
    out.replies.push_back({peer, wire::Wait{static_cast<std::uint32_t>(m_options.retry)}});
    return;
  }
  if (m.offset > *size) {
    out.replies.push_back(
      {peer, error(wire::ErrorCode::malformed, "offset " + std::to_string(m.offset) +
                                                 " beyond the delta's " + std::to_string(*size) +
                                                 " bytes")});
    return;
  }
  const std::size_t length =
    static_cast<std::size_t>(std::min<std::uint64_t>(m.length, *size - m.offset));
  auto bytes = m_source.read_delta(c->name, m.from, m.to, m.offset, length);
  if (!bytes) {
    out.replies.push_back({peer, error(wire::ErrorCode::internal, bytes.error().message)});
    return;
  }
  out.replies.push_back(
    {peer, wire::Chunk{c->name, m.from, m.to, m.offset, *size, std::move(*bytes)}});
}

void Publisher::on_vote(const std::string& peer, const wire::Vote& m, Millis now, Outputs& out)
{
  Channel* c = known(peer, m.channel, out);
  if (c == nullptr) {
    return;
  }
  FollowerInfo& f = heard(*c, m.follower, peer, now);
  if (!m.yes) {
    f.last_error = m.reason;
  }
  if (!c->txn || c->txn->ref != m.txn) {
    // A vote for a transaction over: the follower learns its decision
    // from WELCOME or HEARTBEAT.
    out.replies.push_back(
      {peer, error(wire::ErrorCode::stale,
                   "transaction " + std::to_string(m.txn.number) + " is not in flight")});
    return;
  }
  out.replies.push_back({peer, wire::Ok{}});
  const auto voter = c->txn->voters.find(m.follower);
  if (voter == c->txn->voters.end() || c->txn->decided || voter->second.vote != Vote::none) {
    return; // not a voter (it joined later), too late, or said before: the first counts
  }
  voter->second.vote = m.yes ? Vote::yes : Vote::no;
  voter->second.reason = m.reason;
  if (m.yes) {
    f.state = wire::FollowerState::staged;
  }
  maybe_decide(*c, now, out);
}

void Publisher::on_ack(const std::string& peer, const wire::Ack& m, Millis now, Outputs& out)
{
  Channel* c = known(peer, m.channel, out);
  if (c == nullptr) {
    return;
  }
  FollowerInfo& f = heard(*c, m.follower, peer, now);
  f.version = m.version;
  f.state = wire::FollowerState::idle;
  if (m.result == wire::AckResult::failed || m.result == wire::AckResult::unhealthy) {
    f.last_error = m.reason;
  }
  out.replies.push_back({peer, wire::Ok{}});
  if (!c->txn || c->txn->ref != m.txn) {
    return;
  }
  const auto voter = c->txn->voters.find(m.follower);
  if (voter == c->txn->voters.end()) {
    return;
  }
  voter->second.result = m.result;
  if (m.result == wire::AckResult::failed || m.result == wire::AckResult::unhealthy) {
    voter->second.reason = m.reason;
  }
  maybe_end(*c, out);
}

Outputs Publisher::delta_made(const MakeDelta& made, const std::string& failure, Millis now)
{
  (void)now;
  Outputs out;
  Channel* c = find(made.channel);
  if (c == nullptr) {
    return out;
  }
  c->making.erase({made.from.number, made.to.number});
  if (!failure.empty()) {
    const std::string what =
      "cannot make the delta " + shown(made.from) + " -> " + shown(made.to) + ": " + failure;
    out.log.push_back({util::Level::error, c->name + ": " + what});
    c->failed[{made.from.number, made.to.number}] = what;
  }
  return out;
}

std::string Publisher::status_json(const std::string& channel, Millis now) const
{
  // Reasons come from followers: any bytes, replaced where not UTF-8; and
  // the reply must fit a message, so long lists are cut, and say so.
  for (std::size_t keep = SIZE_MAX;; keep = keep == SIZE_MAX ? 4096 : keep / 2) {
    nlohmann::json channels = nlohmann::json::array();
    bool cut = false;
    for (const auto& [name, c] : m_channels) {
      if (!channel.empty() && name != channel) {
        continue;
      }
      const auto committed = m_source.committed(name, 1);
      nlohmann::json j;
      j["channel"] = name;
      j["committed"] = committed.empty() ? 0 : committed.front().number;
      if (!committed.empty()) {
        j["committed_id"] = committed.front().id.hex();
      }
      j["canary"] = c.canary.group.empty() ? nlohmann::json(nullptr)
                                           : nlohmann::json{{"group", c.canary.group},
                                                            {"version", c.canary.version.number}};
      if (c.txn) {
        j["transaction"] = {{"number", c.txn->ref.number},
                            {"version", c.txn->push.version.number},
                            {"decided", c.txn->decided},
                            {"group", c.txn->push.group}};
      } else {
        j["transaction"] = nullptr;
      }
      nlohmann::json followers = nlohmann::json::array();
      for (const auto& [id, f] : c.followers) {
        if (followers.size() == keep) {
          cut = true;
          break;
        }
        followers.push_back({{"id", id},
                             {"version", f.version.number},
                             {"state", f.state == wire::FollowerState::staged ? "staged" : "idle"},
                             {"alive", alive(f, now)},
                             {"group", f.group},
                             {"seen_ms_ago", now - f.seen},
                             {"last_error", f.last_error.substr(0, 512)}});
      }
      j["followers"] = std::move(followers);
      j["followers_total"] = c.followers.size();
      channels.push_back(std::move(j));
    }
    // schema: treecast-status(1), JSON. Fields are only added within a
    // schema; a change to one that is there gives a new number.
    nlohmann::json all{
      {"schema", k_status_schema}, {"channels", std::move(channels)}, {"truncated", cut}};
    std::string text = all.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (text.size() <= wire::k_max_status || keep == 0) {
      return text;
    }
  }
}

} // namespace treecast::sync
