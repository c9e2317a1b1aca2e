#include "publisher.hpp"

#include "util/file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace treecast::sync {

namespace {

std::string shown(const wire::VersionRef& v)
{
  return "v" + std::to_string(v.number);
}

std::string joined(const std::vector<std::string>& names)
{
  std::string out;
  for (const std::string& n : names) {
    out += (out.empty() ? "" : ", ") + n;
  }
  return out;
}

wire::Error error(wire::ErrorCode code, std::string message)
{
  return wire::Error{code, std::move(message)};
}

} // namespace

std::size_t Quorum::needed(std::size_t n) const
{
  if (n == 0) {
    return 0;
  }
  switch (kind) {
    case Kind::all:
      return n;
    case Kind::count:
      return std::clamp<std::size_t>(value, 1, n);
    case Kind::percent:
      return std::clamp<std::size_t>((n * value + 99) / 100, 1, n);
  }
  return n;
}

Publisher::Publisher(Source& source, std::vector<std::string> channels, PublisherOptions options)
  : m_source(source), m_options(options)
{
  for (std::string& name : channels) {
    Channel c;
    c.name = name;
    m_channels.emplace(std::move(name), std::move(c));
  }
}

Publisher::Channel* Publisher::find(const std::string& name)
{
  const auto it = m_channels.find(name);
  return it == m_channels.end() ? nullptr : &it->second;
}

const std::map<std::string, Publisher::FollowerInfo>& Publisher::followers(
  const std::string& channel) const
{
  static const std::map<std::string, FollowerInfo> none;
  const auto it = m_channels.find(channel);
  return it == m_channels.end() ? none : it->second.followers;
}

bool Publisher::in_flight(const std::string& channel) const
{
  const auto it = m_channels.find(channel);
  return it != m_channels.end() && it->second.txn.has_value();
}

Outputs Publisher::start(Millis now)
{
  Outputs out;
  for (auto& [name, c] : m_channels) {
    c.next_heartbeat = now;
    const auto last = m_source.last_txn(name);
    if (!last) {
      continue;
    }
    c.last_txn = last->txn.number;
    c.last = {last->txn, last->outcome, last->version};
    if (last->outcome == wire::Outcome::none) {
      // Begun and never decided: nobody was told to commit, so it aborts.
      const std::string reason = "the master restarted before deciding";
      if (auto s = m_source.log_decision(name, last->txn, wire::Outcome::abort, last->version);
          !s) {
        out.log.push_back(name + ": cannot log the abort of transaction " +
                          std::to_string(last->txn.number) + ": " + s.error().message);
      }
      c.last.outcome = wire::Outcome::abort;
      out.publish.push_back(
        {name, wire::Decision{name, last->txn, wire::Outcome::abort, last->version, reason}});
      out.log.push_back(name + ": transaction " + std::to_string(last->txn.number) + " for " +
                        shown(last->version) + " aborted: " + reason);
    }
  }
  return out;
}

wire::Heartbeat Publisher::heartbeat(const Channel& c) const
{
  wire::Heartbeat h;
  h.channel = c.name;
  h.epoch = m_source.epoch();
  const auto committed = m_source.committed(c.name, 1);
  h.committed = committed.empty() ? wire::VersionRef{} : committed.front();
  if (c.txn && !c.txn->decided) {
    h.pending = c.txn->ref;
  }
  h.last = c.last;
  return h;
}

wire::Prepare Publisher::prepare(const Channel& c) const
{
  const Txn& t = *c.txn;
  wire::Prepare p;
  p.channel = c.name;
  p.txn = t.ref;
  p.version = t.push.version;
  p.prior = t.prior;
  p.chain = m_source.committed(c.name, std::min(m_options.chain, wire::k_max_chain));
  p.delta_bytes = t.delta_bytes;
  p.timeout_ms = static_cast<std::uint32_t>(std::clamp<Millis>(t.push.timeout, 0, UINT32_MAX));
  p.one_phase = t.push.one_phase;
  p.inline_delta = t.inline_delta;
  return p;
}

util::Result<Outputs> Publisher::begin(const PushRequest& push, Millis now)
{
  Channel* c = find(push.channel);
  if (c == nullptr) {
    return util::make_error(util::Errc::usage, "no channel " + util::quote(push.channel));
  }
  if (c->txn) {
    return util::make_error(util::Errc::conflict, "channel " + c->name +
                                                    " has a transaction in flight (" +
                                                    std::to_string(c->txn->ref.number) + ", for " +
                                                    shown(c->txn->push.version) + ")");
  }
  if (!m_source.has_version(c->name, push.version)) {
    return util::make_error(util::Errc::not_found,
                            "channel " + c->name + " has no version " + shown(push.version));
  }
  const auto committed = m_source.committed(c->name, 1);
  const wire::VersionRef prior = committed.empty() ? wire::VersionRef{} : committed.front();
  if (prior == push.version) {
    return util::make_error(util::Errc::usage, shown(push.version) + " of " + c->name +
                                                 " is its committed version already");
  }
  Txn t;
  t.push = push;
  t.prior = prior;
  Outputs out;
  for (const auto& [id, f] : c->followers) {
    if (f.seen + m_options.alive >= now) {
      t.voters[id] = FollowerResult{id, f.version, Vote::none, "", std::nullopt};
    }
  }
  if (t.voters.size() < push.min_followers) {
    return util::make_error(util::Errc::conflict, std::to_string(t.voters.size()) +
                                                    " followers of " + c->name + " alive, " +
                                                    std::to_string(push.min_followers) +
                                                    " needed (--min-followers)");
  }
  if (const auto size = m_source.delta_size(c->name, prior, push.version)) {
    t.delta_bytes = *size;
    if (*size <= wire::k_max_inline_delta) {
      auto bytes = m_source.read_delta(c->name, prior, push.version, 0, *size);
      if (bytes) {
        t.inline_delta = std::move(*bytes);
      }
    }
  } else if (c->making.insert({prior.number, push.version.number}).second) {
    out.make.push_back({c->name, prior, push.version});
  }
  t.ref = {m_source.epoch(), c->last_txn + 1};
  if (auto s = m_source.log_begin(c->name, t.ref, push.version); !s) {
    return s.error();
  }
  c->last_txn = t.ref.number;
  t.deadline = now + push.timeout;
  c->txn = std::move(t);
  out.publish.push_back({c->name, prepare(*c)});
  out.log.push_back(c->name + ": transaction " + std::to_string(c->txn->ref.number) + ": " +
                    shown(prior) + " -> " + shown(push.version) + ", " +
                    std::to_string(c->txn->voters.size()) + " voters" +
                    (push.one_phase ? ", one phase" : ""));
  if (push.one_phase) {
    // Followers apply as soon as they have verified the delta: the version
    // is committed now, and the acks say who applied.
    decide(*c, wire::Outcome::commit, "", now, out);
  } else {
    maybe_decide(*c, now, out);
  }
  return out;
}

util::Result<Outputs> Publisher::abort(const std::string& channel, const std::string& reason,
                                       Millis now)
{
  Channel* c = find(channel);
  if (c == nullptr) {
    return util::make_error(util::Errc::usage, "no channel " + util::quote(channel));
  }
  if (!c->txn) {
    return util::make_error(util::Errc::not_found,
                            "channel " + channel + " has no transaction in flight");
  }
  if (c->txn->decided) {
    return util::make_error(util::Errc::conflict, "transaction " +
                                                    std::to_string(c->txn->ref.number) + " of " +
                                                    channel + " is decided already");
  }
  Outputs out;
  decide(*c, wire::Outcome::abort, reason.empty() ? "aborted by the operator" : reason, now, out);
  return out;
}

void Publisher::maybe_decide(Channel& c, Millis now, Outputs& out)
{
  Txn& t = *c.txn;
  if (t.decided) {
    return;
  }
  const std::size_t n = t.voters.size();
  const std::size_t need = t.push.quorum.needed(n);
  std::size_t yes = 0;
  std::vector<std::string> refused;
  std::vector<std::string> silent;
  for (const auto& [id, v] : t.voters) {
    if (v.vote == Vote::yes) {
      ++yes;
    } else if (v.vote == Vote::no) {
      refused.push_back(id + " refused" + (v.reason.empty() ? "" : ": " + v.reason));
    } else {
      silent.push_back(id);
    }
  }
  if (yes >= need) {
    decide(c, wire::Outcome::commit, "", now, out);
  } else if (refused.size() > n - need) {
    decide(c, wire::Outcome::abort, joined(refused), now, out);
  } else if (now >= t.deadline) {
    t.timed_out = true;
    std::string reason = "timed out waiting for " + joined(silent);
    if (!refused.empty()) {
      reason += "; " + joined(refused);
    }
    decide(c, wire::Outcome::abort, reason, now, out);
  }
}

void Publisher::decide(Channel& c, wire::Outcome outcome, const std::string& reason, Millis now,
                       Outputs& out)
{
  Txn& t = *c.txn;
  std::string why = reason;
  if (auto s = m_source.log_decision(c.name, t.ref, outcome, t.push.version); !s) {
    // A commit that is not in the log cannot be told to anyone.
    out.log.push_back(c.name + ": cannot log the decision: " + s.error().message);
    if (outcome == wire::Outcome::commit) {
      outcome = wire::Outcome::abort;
      why = "the master could not log its decision: " + s.error().message;
      (void)m_source.log_decision(c.name, t.ref, outcome, t.push.version);
    }
  }
  t.decided = true;
  t.outcome = outcome;
  t.reason = why;
  t.deadline = now + t.push.timeout; // now for the acks
  c.last = {t.ref, outcome, t.push.version};
  const wire::Decision d{c.name, t.ref, outcome, t.push.version, why};
  out.publish.push_back({c.name, d});
  if (!t.push.one_phase) {
    for (const auto& [id, v] : t.voters) {
      const auto f = c.followers.find(id);
      if (f != c.followers.end()) {
        out.replies.push_back({f->second.peer, d});
      }
    }
  }
  out.log.push_back(c.name + ": transaction " + std::to_string(t.ref.number) + " for " +
                    shown(t.push.version) +
                    (outcome == wire::Outcome::commit ? " committed" : " aborted: " + why));
  maybe_end(c, out);
}

void Publisher::maybe_end(Channel& c, Outputs& out)
{
  const Txn& t = *c.txn;
  const bool all_acked = std::all_of(t.voters.begin(), t.voters.end(),
                                     [](const auto& v) { return v.second.result.has_value(); });
  if (t.decided && all_acked) {
    end(c, out);
  }
}

void Publisher::end(Channel& c, Outputs& out)
{
  Txn& t = *c.txn;
  TxnReport r;
  r.channel = c.name;
  r.txn = t.ref;
  r.version = t.push.version;
  r.outcome = t.outcome;
  r.reason = t.reason;
  r.timed_out = t.timed_out;
  for (auto& [id, v] : t.voters) {
    r.followers.push_back(std::move(v));
  }
  out.ended.push_back(std::move(r));
  c.txn.reset();
}

Outputs Publisher::tick(Millis now)
{
  Outputs out;
  for (auto& [name, c] : m_channels) {
    if (now >= c.next_heartbeat) {
      out.publish.push_back({name, heartbeat(c)});
      c.next_heartbeat = now + m_options.heartbeat;
    }
    if (!c.txn) {
      continue;
    }
    if (!c.txn->decided) {
      maybe_decide(c, now, out);
    } else if (now >= c.txn->deadline) {
      end(c, out); // the acks that did not come are missing from the report
    }
  }
  return out;
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
  Channel* c = find(m.channel);
  if (c == nullptr) {
    out.replies.push_back(
      {peer, error(wire::ErrorCode::unknown_channel, "no channel " + m.channel)});
    return;
  }
  FollowerInfo& f = c->followers[m.follower];
  if (f.seen == 0 || f.version != m.version) {
    out.log.push_back(c->name + ": " + m.follower + " at " + shown(m.version));
  }
  f.peer = peer;
  f.version = m.version;
  f.state = m.state;
  f.seen = now;
  wire::Welcome w;
  w.channel = c->name;
  w.epoch = m_source.epoch();
  const auto committed = m_source.committed(c->name, 1);
  w.committed = committed.empty() ? wire::VersionRef{} : committed.front();
  w.last = c->last;
  if (c->txn && !c->txn->decided) {
    w.has_prepare = true;
    w.prepare = prepare(*c);
  }
  out.replies.push_back({peer, w});
}

void Publisher::on_fetch(const std::string& peer, const wire::Fetch& m, Outputs& out)
{
  Channel* c = find(m.channel);
  if (c == nullptr) {
    out.replies.push_back(
      {peer, error(wire::ErrorCode::unknown_channel, "no channel " + m.channel)});
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
  if (!size) {
    if (c->making.insert({m.from.number, m.to.number}).second) {
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
  Channel* c = find(m.channel);
  if (c == nullptr) {
    out.replies.push_back(
      {peer, error(wire::ErrorCode::unknown_channel, "no channel " + m.channel)});
    return;
  }
  FollowerInfo& f = c->followers[m.follower];
  f.peer = peer;
  f.seen = now;
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
  if (voter == c->txn->voters.end() || c->txn->decided) {
    return; // not a voter (it joined later), or too late to count
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
  Channel* c = find(m.channel);
  if (c == nullptr) {
    out.replies.push_back(
      {peer, error(wire::ErrorCode::unknown_channel, "no channel " + m.channel)});
    return;
  }
  FollowerInfo& f = c->followers[m.follower];
  f.peer = peer;
  f.seen = now;
  f.version = m.version;
  f.state = wire::FollowerState::idle;
  if (m.result == wire::AckResult::failed) {
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
  if (m.result == wire::AckResult::failed) {
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
    out.log.push_back(c->name + ": cannot make the delta " + shown(made.from) + " -> " +
                      shown(made.to) + ": " + failure);
  }
  return out;
}

std::string Publisher::status_json(const std::string& channel, Millis now) const
{
  nlohmann::json channels = nlohmann::json::array();
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
    if (c.txn) {
      j["transaction"] = {{"number", c.txn->ref.number},
                          {"version", c.txn->push.version.number},
                          {"decided", c.txn->decided}};
    } else {
      j["transaction"] = nullptr;
    }
    nlohmann::json followers = nlohmann::json::array();
    for (const auto& [id, f] : c.followers) {
      followers.push_back({{"id", id},
                           {"version", f.version.number},
                           {"state", f.state == wire::FollowerState::staged ? "staged" : "idle"},
                           {"alive", f.seen + m_options.alive >= now},
                           {"seen_ms_ago", now - f.seen},
                           {"last_error", f.last_error}});
    }
    j["followers"] = std::move(followers);
    channels.push_back(std::move(j));
  }
  return nlohmann::json{{"channels", std::move(channels)}}.dump();
}

} // namespace treecast::sync
