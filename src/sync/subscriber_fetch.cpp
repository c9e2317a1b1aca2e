// The Subscriber's delta in transit: FETCHes within the window, CHUNKs
// written to the replica's spool in order, the stage asked for once the
// delta is whole, and giving up on it.

#include "subscriber.hpp"
#include "sync/shown.hpp"

namespace treecast::sync {

void Subscriber::fetch(Millis now, FollowerOutputs& out)
{
  Work& w = *m_work;
  w.progress = std::max(w.progress, now);
  auto more = [&] {
    if (!w.sized) {
      return w.asked.empty() && w.next == 0; // the first chunk tells the size
    }
    return w.asked.size() < m_options.window && w.next < w.total;
  };
  while (more()) {
    out.send.push_back(wire::Fetch{m_options.channel, w.from, w.to, w.next, m_options.chunk});
    w.asked.insert(w.next);
    w.next += m_options.chunk;
  }
}

void Subscriber::on_chunk(const wire::Chunk& c, Millis now, FollowerOutputs& out)
{
  if (m_phase != Phase::fetching || c.channel != m_options.channel || c.from != m_work->from ||
      c.to != m_work->to || !m_work->asked.contains(c.offset)) {
    return; // not asked for, or asked for before a retry
  }
  Work& w = *m_work;
  if (!w.sized) {
    if (c.total == 0) {
      give_up("the master sent an empty delta", now, out);
      return;
    }
    w.total = c.total;
    w.sized = true;
    if (auto s = m_replica.begin_delta(w.from, w.to, w.total); !s) {
      give_up(s.error().message, now, out);
      return;
    }
  }
  const std::uint64_t expected = std::min<std::uint64_t>(m_options.chunk, w.total - c.offset);
  if (c.total != w.total || c.data.size() != expected) {
    give_up("the master sent " + std::to_string(c.data.size()) + " bytes at offset " +
              std::to_string(c.offset) + " of " + std::to_string(c.total) + ", not " +
              std::to_string(expected),
            now, out);
    return;
  }
  if (auto s = m_replica.write_delta(c.offset, c.data); !s) {
    give_up(s.error().message, now, out);
    return;
  }
  w.asked.erase(c.offset);
  w.landed.insert(c.offset);
  while (w.landed.contains(w.written)) {
    w.landed.erase(w.written);
    w.written = std::min<std::uint64_t>(w.written + m_options.chunk, w.total);
  }
  w.progress = now;
  if (w.written == w.total) {
    stage(out);
  } else {
    fetch(now, out); // the chunk is on disk: credit for the next
  }
}

void Subscriber::stage(FollowerOutputs& out)
{
  Work& w = *m_work;
  m_phase = Phase::staging;
  Action a;
  a.kind = w.txn ? Action::Kind::stage : Action::Kind::apply;
  a.txn = w.txn.value_or(wire::TxnRef{});
  a.from = w.from;
  a.to = w.to;
  a.signature = w.signature;
  a.group = w.group;
  out.actions.push_back(a);
}

void Subscriber::give_up(const std::string& reason, Millis now, FollowerOutputs& out)
{
  const Work w = std::move(*m_work);
  m_work.reset();
  m_phase = Phase::idle;
  if (!w.txn) {
    out.log.push_back({util::Level::error,
                       m_options.channel + ": cannot catch up to " + shown(w.to) + ": " + reason});
    m_catch_up_after = now + m_options.stall;
    return;
  }
  out.log.push_back({util::Level::error, m_options.channel + ": transaction " +
                                           std::to_string(w.txn->number) + " refused: " + reason});
  if (w.one_phase) {
    ack(*w.txn, wire::AckResult::failed, reason, out);
  } else if (w.decided != wire::Outcome::none) {
    ack(*w.txn,
        w.decided == wire::Outcome::abort ? wire::AckResult::aborted : wire::AckResult::failed,
        reason, out);
  } else {
    out.send.push_back(wire::Vote{m_options.follower, m_options.channel, *w.txn, false, reason});
    m_refused = *w.txn;
    m_refused_reason = reason;
  }
}

} // namespace treecast::sync
