#include "subscriber.hpp"

#include "sync/shown.hpp"

#include <algorithm>

namespace treecast::sync {

namespace {

std::pair<std::uint64_t, std::uint64_t> key(const wire::TxnRef& t)
{
  return {t.epoch, t.number};
}

} // namespace

Subscriber::Subscriber(Replica& replica, SubscriberOptions options)
  : m_replica(replica), m_options(std::move(options))
{
}

wire::Hello Subscriber::hello() const
{
  wire::Hello h;
  h.follower = m_options.follower;
  h.channel = m_options.channel;
  h.version = m_replica.version();
  h.group = m_options.group;
  if (m_voted) {
    h.state = wire::FollowerState::staged;
    h.txn = *m_voted;
  }
  return h;
}

void Subscriber::ack(const wire::TxnRef& txn, wire::AckResult result, const std::string& reason,
                     FollowerOutputs& out)
{
  out.send.push_back(
    wire::Ack{m_options.follower, m_options.channel, txn, result, m_replica.version(), reason});
  m_done.insert(key(txn));
}

FollowerOutputs Subscriber::start(Millis now)
{
  FollowerOutputs out;
  if (const auto staged = m_replica.staged()) {
    m_voted = staged->txn;
    m_voted_version = staged->version;
    m_phase = Phase::voted;
    out.log.push_back({util::Level::info, m_options.channel + ": " + shown(staged->version) +
                                            " is staged for transaction " +
                                            std::to_string(staged->txn.number) +
                                            ": waiting for its decision"});
  }
  out.send.push_back(hello());
  m_next_hello = now + m_options.hello;
  return out;
}

FollowerOutputs Subscriber::receive(const wire::Message& message, Millis now)
{
  FollowerOutputs out;
  if (const auto* p = std::get_if<wire::Prepare>(&message)) {
    if (p->channel == m_options.channel) {
      on_prepare(*p, now, out);
    }
  } else if (const auto* d = std::get_if<wire::Decision>(&message)) {
    if (d->channel == m_options.channel) {
      on_decision(d->txn, d->outcome, d->version, now, out);
    }
  } else if (const auto* h = std::get_if<wire::Heartbeat>(&message)) {
    if (h->channel == m_options.channel) {
      on_heartbeat(h->epoch, h->committed, h->signature, h->pending, h->last, h->canary, now, out);
    }
  } else if (const auto* w = std::get_if<wire::Welcome>(&message)) {
    if (w->channel == m_options.channel) {
      on_heartbeat(w->epoch, w->committed, w->signature,
                   w->has_prepare ? w->prepare.txn : wire::TxnRef{}, w->last, w->canary, now, out);
      if (w->has_prepare) {
        on_prepare(w->prepare, now, out);
      }
    }
  } else if (const auto* c = std::get_if<wire::Chunk>(&message)) {
    on_chunk(*c, now, out);
  } else if (const auto* wait = std::get_if<wire::Wait>(&message)) {
    if (m_phase == Phase::fetching) {
      // The delta is being made: ask again from what is on disk.
      m_work->asked.clear();
      m_work->next = m_work->written;
      m_work->retry_at = now + std::max<Millis>(wait->retry_ms, 10);
    }
  } else if (const auto* e = std::get_if<wire::Error>(&message)) {
    // Replies carry no request id: only the errors a FETCH gets, while
    // FETCHes are in flight, stop the fetch.
    const bool fetch_error = e->code == wire::ErrorCode::unknown_version ||
                             e->code == wire::ErrorCode::unknown_channel ||
                             e->code == wire::ErrorCode::internal;
    if (m_phase == Phase::fetching && fetch_error && !m_work->asked.empty()) {
      give_up("cannot fetch the delta " + shown(m_work->from) + " -> " + shown(m_work->to) + ": " +
                e->message,
              now, out);
    } else {
      out.log.push_back(
        {util::Level::warning, m_options.channel + ": the master says: " + e->message});
      // A HELLO's answer: the master does not serve this channel.
      m_unknown_channel = e->code == wire::ErrorCode::unknown_channel;
    }
  }
  return out;
}

void Subscriber::on_prepare(const wire::Prepare& p, Millis now, FollowerOutputs& out)
{
  if (m_done.contains(key(p.txn)) || (m_work && m_work->txn == p.txn) ||
      (m_voted && *m_voted == p.txn) || (m_refused && *m_refused == p.txn)) {
    return; // seen already
  }
  if (!p.group.empty() && p.group != m_options.group) {
    m_done.insert(key(p.txn)); // another group's canary: not ours to take part in
    return;
  }
  if (m_phase == Phase::staging || m_phase == Phase::finishing || m_voted || m_refused) {
    // Busy, or still waiting for an earlier decision: this one comes next.
    m_next = p;
    if (m_voted || m_refused) {
      out.send.push_back(hello()); // the earlier transaction is over: ask how
    }
    return;
  }
  if (m_work) {
    out.log.push_back({util::Level::info, m_options.channel +
                                            ": leaving the catch-up for transaction " +
                                            std::to_string(p.txn.number)});
    m_work.reset();
  }
  const wire::VersionRef held = m_replica.version();
  if (held == p.version) {
    // Nothing to stage: the tree is that version already.
    if (p.one_phase) {
      ack(p.txn, wire::AckResult::committed, "", out);
    } else {
      out.send.push_back(wire::Vote{m_options.follower, m_options.channel, p.txn, true, ""});
      m_voted = p.txn;
      m_voted_version = held;
      m_voted_nothing = true;
      m_phase = Phase::voted;
    }
    return;
  }
  Work w;
  w.txn = p.txn;
  w.one_phase = p.one_phase;
  w.from = held;
  w.to = p.version;
  w.signature = p.signature;
  w.group = p.group;
  w.progress = now;
  m_work = std::move(w);
  m_phase = Phase::fetching;
  out.log.push_back({util::Level::info, m_options.channel + ": transaction " +
                                          std::to_string(p.txn.number) + ": " + shown(held) +
                                          " -> " + shown(p.version)});
  if (held == p.prior && !p.inline_delta.empty()) {
    m_work->total = p.inline_delta.size();
    m_work->sized = true;
    auto s = m_replica.begin_delta(held, p.version, m_work->total);
    if (s) {
      s = m_replica.write_delta(0, p.inline_delta);
    }
    if (!s) {
      give_up(s.error().message, now, out);
      return;
    }
    m_work->written = m_work->total;
    stage(out);
    return;
  }
  fetch(now, out);
}

FollowerOutputs Subscriber::done(const Action& action, const std::string& error, Millis now)
{
  FollowerOutputs out;
  switch (action.kind) {
    case Action::Kind::stage: {
      if (!m_work || m_work->txn != action.txn) {
        break;
      }
      if (!error.empty()) {
        give_up(error, now, out);
        break;
      }
      const Work w = std::move(*m_work);
      m_work.reset();
      m_voted = action.txn;
      m_voted_version = action.to;
      m_voted_group = action.group;
      if (w.one_phase || w.decided == wire::Outcome::commit) {
        finish(Action::Kind::commit, action, out);
      } else if (w.decided == wire::Outcome::abort) {
        finish(Action::Kind::abort, action, out);
      } else {
        out.send.push_back(wire::Vote{m_options.follower, m_options.channel, action.txn, true, ""});
        m_phase = Phase::voted;
      }
      break;
    }
    case Action::Kind::commit:
    case Action::Kind::abort: {
      const std::string sick =
        error.empty() && action.kind == Action::Kind::commit ? m_replica.unhealthy() : "";
      ack(action.txn,
          !error.empty()                        ? wire::AckResult::failed
          : !sick.empty()                       ? wire::AckResult::unhealthy
          : action.kind == Action::Kind::commit ? wire::AckResult::committed
                                                : wire::AckResult::aborted,
          error.empty() ? sick : error, out);
      out.log.push_back(
        {error.empty() ? util::Level::notice : util::Level::error,
         m_options.channel + ": transaction " + std::to_string(action.txn.number) +
           (!error.empty()                        ? " failed: " + error
            : action.kind == Action::Kind::commit ? ": committed " + shown(action.to)
                                                  : ": aborted")});
      m_voted.reset();
      m_voted_nothing = false;
      m_phase = Phase::idle;
      break;
    }
    case Action::Kind::apply:
      m_work.reset();
      m_phase = Phase::idle;
      if (error.empty()) {
        out.log.push_back(
          {util::Level::notice, m_options.channel + ": caught up to " + shown(action.to)});
      } else {
        out.log.push_back({util::Level::error, m_options.channel + ": cannot catch up to " +
                                                 shown(action.to) + ": " + error});
        m_catch_up_after = now + m_options.stall;
      }
      break;
  }
  if (m_phase == Phase::idle && m_next) {
    const wire::Prepare next = std::move(*m_next);
    m_next.reset();
    on_prepare(next, now, out);
  }
  return out;
}

void Subscriber::finish(Action::Kind kind, const Action& staged, FollowerOutputs& out)
{
  m_phase = Phase::finishing;
  Action a = staged;
  a.kind = kind;
  out.actions.push_back(a);
}

void Subscriber::on_decision(const wire::TxnRef& txn, wire::Outcome outcome,
                             const wire::VersionRef& version, Millis now, FollowerOutputs& out)
{
  if (outcome == wire::Outcome::none || m_done.contains(key(txn))) {
    return;
  }
  if (m_voted && *m_voted == txn) {
    if (m_phase != Phase::voted) {
      return; // its action runs already
    }
    if (m_voted_nothing) {
      m_voted.reset();
      m_voted_nothing = false;
      m_phase = Phase::idle;
      ack(txn,
          outcome == wire::Outcome::commit ? wire::AckResult::committed : wire::AckResult::aborted,
          "", out);
    } else {
      finish(outcome == wire::Outcome::commit ? Action::Kind::commit : Action::Kind::abort,
             Action{Action::Kind::stage, txn, m_replica.version(), version, {}, m_voted_group},
             out);
    }
  } else if (m_refused && *m_refused == txn) {
    ack(txn, outcome == wire::Outcome::abort ? wire::AckResult::aborted : wire::AckResult::failed,
        m_refused_reason, out);
    m_refused.reset();
  } else if (m_work && m_work->txn == txn) {
    m_work->decided = outcome;
    if (outcome == wire::Outcome::abort && m_phase == Phase::fetching) {
      m_work.reset();
      m_phase = Phase::idle;
      ack(txn, wire::AckResult::aborted, "", out);
    }
  } else {
    return;
  }
  if (m_phase == Phase::idle && m_next) {
    const wire::Prepare next = std::move(*m_next);
    m_next.reset();
    on_prepare(next, now, out);
  }
}

void Subscriber::on_heartbeat(std::uint64_t epoch, const wire::VersionRef& committed,
                              const std::vector<std::uint8_t>& signature,
                              const wire::TxnRef& pending, const wire::LastDecision& last,
                              const wire::Canary& canary, Millis now, FollowerOutputs& out)
{
  m_epoch = epoch;
  m_committed = committed;
  m_heard = true;
  // A follower of the canary's group holds the canary's version; the rest
  // of the fleet the committed one.
  const bool ours = !canary.group.empty() && canary.group == m_options.group;
  const wire::VersionRef& target = ours ? canary.version : committed;
  const std::vector<std::uint8_t>& target_signature = ours ? canary.signature : signature;
  m_target = target;
  if (last.txn.number != 0) {
    on_decision(last.txn, last.outcome, last.version, now, out);
  }
  // Over: a transaction that is not pending and that another, later one
  // (or one of another epoch: a new log) has followed.
  auto over = [&](const wire::TxnRef& t) {
    return pending != t && last.txn != t && last.txn.number != 0 &&
           (last.txn.epoch != t.epoch || last.txn.number > t.number);
  };
  if (m_phase == Phase::voted && m_voted && over(*m_voted)) {
    // The decision this stage waits for went by unheard: the master's
    // committed version says what DIR must hold.
    if (m_voted_nothing) {
      m_voted.reset();
      m_voted_nothing = false;
      m_phase = Phase::idle;
    } else {
      finish(target == m_staged_version() ? Action::Kind::commit : Action::Kind::abort,
             Action{Action::Kind::stage,
                    *m_voted,
                    m_replica.version(),
                    m_staged_version(),
                    {},
                    m_voted_group},
             out);
      return;
    }
  }
  if (m_refused && over(*m_refused)) {
    m_refused.reset(); // nothing staged: only the wait ends
  }
  if (m_phase != Phase::idle || m_voted || m_refused) {
    return;
  }
  if (pending.number != 0) {
    if (!m_done.contains(key(pending)) && now >= m_next_ask) {
      out.send.push_back(hello()); // a PREPARE went by unseen: WELCOME has it
      m_next_ask = now + m_options.hello;
    }
    return;
  }
  if (target.number != 0 && target != m_replica.version() && now >= m_catch_up_after) {
    Work w;
    w.from = m_replica.version();
    w.to = target;
    w.signature = target_signature;
    w.progress = now;
    m_work = std::move(w);
    m_phase = Phase::fetching;
    out.log.push_back({util::Level::info, m_options.channel + ": catching up: " +
                                            shown(m_work->from) + " -> " + shown(target)});
    fetch(now, out);
  }
}

FollowerOutputs Subscriber::leave()
{
  FollowerOutputs out;
  if (!m_voted) {
    wire::Hello h = hello();
    h.state = wire::FollowerState::leaving;
    out.send.push_back(h);
  }
  return out;
}

FollowerOutputs Subscriber::tick(Millis now)
{
  FollowerOutputs out;
  if (now >= m_next_hello) {
    out.send.push_back(hello());
    m_next_hello = now + m_options.hello;
    // A vote may have been lost: say it again until the decision comes.
    if (m_phase == Phase::voted && m_voted) {
      out.send.push_back(wire::Vote{m_options.follower, m_options.channel, *m_voted, true, ""});
    } else if (m_refused) {
      out.send.push_back(
        wire::Vote{m_options.follower, m_options.channel, *m_refused, false, m_refused_reason});
    }
  }
  if (m_phase == Phase::fetching) {
    Work& w = *m_work;
    if (w.retry_at != 0 && now >= w.retry_at) {
      w.retry_at = 0;
      fetch(now, out);
    } else if (!w.asked.empty() && now - w.progress >= m_options.stall) {
      // No reply for a while (a reconnect, a lost request): ask again from
      // what is on disk.
      out.log.push_back({util::Level::warning, m_options.channel + ": no reply for " +
                                                 std::to_string(m_options.stall / 1000) +
                                                 " s: asking again from byte " +
                                                 std::to_string(w.written)});
      w.asked.clear();
      w.landed.clear();
      w.next = w.written;
      fetch(now, out);
    }
  }
  return out;
}

} // namespace treecast::sync
