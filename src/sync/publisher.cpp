#include "publisher.hpp"

#include "sync/shown.hpp"
#include "util/file.hpp"

#include <algorithm>

namespace treecast::sync {

namespace {

std::string joined(const std::vector<std::string>& names)
{
  std::string out;
  for (const std::string& n : names) {
    out += (out.empty() ? "" : ", ") + n;
  }
  return out;
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

Publisher::CacheCounts Publisher::delta_cache(const std::string& channel) const
{
  const auto it = m_channels.find(channel);
  return it == m_channels.end() ? CacheCounts{} : it->second.cache;
}

wire::Canary Publisher::canary(const std::string& channel) const
{
  const auto it = m_channels.find(channel);
  if (it == m_channels.end() || it->second.canary.group.empty()) {
    return {};
  }
  wire::Canary c = it->second.canary;
  c.signature = m_source.signature(channel, c.version);
  return c;
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
    c.canary = m_source.canary(name);
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
        out.log.push_back({util::Level::error, name + ": cannot log the abort of transaction " +
                                                 std::to_string(last->txn.number) + ": " +
                                                 s.error().message});
      }
      c.last.outcome = wire::Outcome::abort;
      out.publish.push_back(
        {name, wire::Decision{name, last->txn, wire::Outcome::abort, last->version, reason}});
      out.log.push_back({util::Level::notice, name + ": transaction " +
                                                std::to_string(last->txn.number) + " for " +
                                                shown(last->version) + " aborted: " + reason});
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
  if (h.committed.number != 0) {
    h.signature = m_source.signature(c.name, h.committed);
  }
  h.canary = canary(c.name);
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
  p.signature = m_source.signature(c.name, t.push.version);
  p.group = t.push.group;
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
  // What the voters hold: the committed version, or, for a group that is
  // the canary, the canary's.
  const bool group_is_canary = !push.group.empty() && c->canary.group == push.group;
  const wire::VersionRef prior = group_is_canary     ? c->canary.version
                                 : committed.empty() ? wire::VersionRef{}
                                                     : committed.front();
  if (prior == push.version) {
    // A canary left by an earlier push (one a restarted master did not
    // finish): the operator chooses.
    return util::make_error(util::Errc::usage,
                            shown(push.version) + " of " + c->name + " is " +
                              (push.group.empty()
                                 ? "its committed version already"
                                 : "what group " + push.group +
                                     " holds already, as a canary: push without --canary to move "
                                     "the rest of the fleet to it, or roll back to take the "
                                     "canaries back"));
  }
  Txn t;
  t.push = push;
  t.prior = prior;
  Outputs out;
  for (const auto& [id, f] : c->followers) {
    if (alive(f, now) && (push.group.empty() || f.group == push.group)) {
      t.voters[id] = FollowerResult{id, f.version, Vote::none, "", std::nullopt};
    }
  }
  if (!push.group.empty() && t.voters.empty()) {
    return util::make_error(util::Errc::conflict,
                            "no follower of group " + push.group + " of " + c->name + " is alive");
  }
  if (t.voters.size() < push.min_followers) {
    return util::make_error(util::Errc::conflict, std::to_string(t.voters.size()) +
                                                    " followers of " + c->name + " alive, " +
                                                    std::to_string(push.min_followers) +
                                                    " needed (--min-followers)");
  }
  const auto size = m_source.delta_size(c->name, prior, push.version);
  if (size) {
    t.delta_bytes = *size;
    if (*size <= wire::k_max_inline_delta) {
      auto bytes = m_source.read_delta(c->name, prior, push.version, 0, *size);
      if (bytes) {
        t.inline_delta = std::move(*bytes);
      }
    }
  }
  t.ref = {m_source.epoch(), c->last_txn + 1};
  if (auto s = m_source.log_begin(c->name, t.ref, push.version); !s) {
    return s.error();
  }
  if (!size && c->making.insert({prior.number, push.version.number}).second) {
    out.make.push_back({c->name, prior, push.version});
  }
  c->last_txn = t.ref.number;
  t.began = now;
  t.deadline = now + push.timeout;
  c->txn = std::move(t);
  out.publish.push_back({c->name, prepare(*c)});
  out.log.push_back({util::Level::info, c->name + ": transaction " +
                                          std::to_string(c->txn->ref.number) + ": " + shown(prior) +
                                          " -> " + shown(push.version) + ", " +
                                          std::to_string(c->txn->voters.size()) + " voters" +
                                          (push.one_phase ? ", one phase" : "")});
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
  // A canary's commit holds for its group only: the committed version stays.
  const bool canary = !t.push.group.empty() && outcome == wire::Outcome::commit;
  if (auto s = canary ? m_source.log_canary(c.name, t.ref, t.push.version, t.push.group)
                      : m_source.log_decision(c.name, t.ref, outcome, t.push.version);
      !s) {
    // A commit that is not in the log cannot be told to anyone.
    out.log.push_back(
      {util::Level::error, c.name + ": cannot log the decision: " + s.error().message});
    if (outcome == wire::Outcome::commit) {
      outcome = wire::Outcome::abort;
      why = "the master could not log its decision: " + s.error().message;
      (void)m_source.log_decision(c.name, t.ref, outcome, t.push.version);
    }
  }
  t.decided = true;
  t.outcome = outcome;
  t.reason = why;
  if (outcome == wire::Outcome::commit) {
    const auto committed = m_source.committed(c.name, 1);
    c.canary = canary && (committed.empty() || committed.front() != t.push.version)
                 ? wire::Canary{t.push.group, t.push.version, {}}
                 : wire::Canary{};
  }
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
  out.log.push_back({util::Level::notice,
                     c.name + ": transaction " + std::to_string(t.ref.number) + " for " +
                       shown(t.push.version) +
                       (outcome == wire::Outcome::commit ? " committed" : " aborted: " + why)});
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
  r.began = t.began;
  r.group = t.push.group;
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

} // namespace treecast::sync
