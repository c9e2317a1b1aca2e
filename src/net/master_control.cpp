// The master's control socket: push, rollback, status and abort, as the
// treecast commands on the same machine ask them (treecast(1), serve).

#include "core/snapshot.hpp"
#include "core/version_spec.hpp"
#include "master_daemon.hpp"
#include "net/control.hpp"
#include "net/sockets.hpp"
#include "sync/dry_run.hpp"

namespace treecast::net {

void Master::answer(const std::string& peer, const nlohmann::json& j)
{
  const std::string text = dump(j);
  try {
    (void)m_control->send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    (void)m_control->send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
    (void)m_control->send(zmq::buffer(text), zmq::send_flags::none);
  } catch (const zmq::error_t&) {
    // The client went away; the transaction stands.
  }
}

void Master::on_control()
{
  for (int n = 0; n < 100; ++n) {
    auto frames = receive(*m_control);
    if (!frames) {
      return;
    }
    auto& parts = frames->parts;
    if (parts.size() != 3 || !frames->whole) {
      continue;
    }
    const std::string peer = parts[0].to_string();
    nlohmann::json request = nlohmann::json::parse(parts[2].to_string(), nullptr, false);
    if (!request.is_object() || !request.contains("command") || !request["command"].is_string()) {
      answer(peer, {{"result", "error"}, {"error", "not a control request"}});
      continue;
    }
    try {
      control(peer, request);
    } catch (const nlohmann::json::exception& e) {
      answer(peer, {{"result", "error"}, {"error", std::string("bad request: ") + e.what()}});
    }
  }
}

void Master::control(const std::string& peer, const nlohmann::json& request)
{
  const std::string command = request["command"];
  const std::string channel = request.value("channel", "");
  if (command == "status") {
    answer(peer, {{"result", "ok"},
                  {"status", nlohmann::json::parse(m_pub.status_json(channel, now_ms()))}});
    return;
  }
  if (!m_options.channels.contains(channel)) {
    answer(peer, {{"result", "error"}, {"error", "no channel " + util::quote(channel)}});
    return;
  }
  if (command == "abort") {
    auto out = m_pub.abort(channel, request.value("reason", ""), now_ms());
    if (!out) {
      answer(peer, {{"result", "error"}, {"error", out.error().message}});
      return;
    }
    apply(std::move(*out));
    answer(peer, {{"result", "ok"}});
    return;
  }
  if (command == "push" || command == "rollback") {
    push(peer, channel, request);
    return;
  }
  answer(peer, {{"result", "error"}, {"error", "unknown command " + util::quote(command)}});
}

void Master::push(const std::string& peer, const std::string& channel,
                  const nlohmann::json& request)
{
  if (m_pushes.contains(channel) || m_pub.in_flight(channel)) {
    answer(peer,
           {{"result", "error"}, {"error", "channel " + channel + " has a push in progress"}});
    return;
  }
  const auto quorum = parse_quorum(request.value("quorum", "all"));
  if (!quorum) {
    answer(peer, {{"result", "error"}, {"error", "--quorum: all, a count or a percentage"}});
    return;
  }
  sync::PushRequest p;
  p.channel = channel;
  p.timeout = request.value("timeout_ms", 30000);
  p.quorum = *quorum;
  p.min_followers = request.value("min_followers", 0U);
  p.one_phase = request.value("one_phase", false);
  const std::string max_delete = request.value("max_delete", "");
  if (!max_delete.empty() && !parse_limit(max_delete)) {
    answer(peer, {{"result", "error"}, {"error", "--max-delete: a count or a percentage"}});
    return;
  }
  p.group = request.value("canary", "");
  if (!p.group.empty()) {
    if (!wire::valid_name(p.group)) {
      answer(peer, {{"result", "error"}, {"error", "--canary: a group name, as follow --group"}});
      return;
    }
    if (m_source.committed(channel, 1).empty()) {
      answer(peer, {{"result", "error"},
                    {"error", "push --canary needs a committed version to roll the canaries "
                              "back to: push the first version to the whole fleet"}});
      return;
    }
  }
  core::SnapshotOptions options;
  options.channel = channel;
  options.xattrs = m_options.xattrs;
  options.message = request.value("message", "");
  if (const auto e = m_options.excludes.find(channel); e != m_options.excludes.end()) {
    options.excludes = e->second;
  }
  const std::string dir = m_options.channels.at(channel);
  if (request.value("dry_run", false)) {
    dry_run(peer, dir, options, max_delete);
    return;
  }
  m_max_delete[channel] = max_delete;
  m_pushes[channel] = peer;
  if (request.value("command", "") == "rollback") {
    // An earlier version's tree, recorded again as the next version.
    const std::string to = request.value("to", "");
    m_worker->post([this, to, p]() -> Worker::Done {
      auto number = core::resolve_version(m_store, p.channel, to);
      auto earlier = number ? m_store.read_manifest(p.channel, *number)
                            : util::Result<core::Manifest>(number.error());
      auto again = earlier
                     ? core::republish(m_store, *earlier, "rollback to v" + std::to_string(*number))
                     : util::Result<core::Manifest>(earlier.error());
      if (!again) {
        return [this, p, e = again.error().message] { fail_push(p.channel, e); };
      }
      return [this, p, m = std::move(*again)]() mutable { snapped(p, std::move(m)); };
    });
    return;
  }
  m_worker->post([this, dir, options, p]() -> Worker::Done {
    auto snap = core::snapshot(m_store, dir, options, m_pool);
    if (!snap) {
      return [this, p, e = snap.error().message] { fail_push(p.channel, e); };
    }
    // The delta from the fleet's version is made here too, so that the
    // PREPARE can carry it when it is small.
    return [this, p, m = std::move(snap->manifest)]() mutable { snapped(p, std::move(m)); };
  });
}

void Master::snapped(sync::PushRequest p, core::Manifest manifest)
{
  p.version = sync::version_of(manifest);
  const auto committed = m_source.committed(p.channel, 1);
  const wire::VersionRef prior = committed.empty() ? wire::VersionRef{} : committed.front();
  if (!p.group.empty()) {
    m_canaries[p.channel] = CanaryPush{p, prior, 1, {}, ""};
  }
  if (prior == p.version) {
    m_canaries.erase(p.channel);
    const auto waiting = m_pushes.find(p.channel);
    answer(waiting->second, {{"result", "unchanged"},
                             {"channel", p.channel},
                             {"version", p.version.number},
                             {"version_id", p.version.id.hex()}});
    m_pushes.erase(waiting);
    return;
  }
  auto from = m_source.manifest(p.channel, prior);
  if (!from) {
    fail_push(p.channel, from.error().message);
    return;
  }
  // --max-delete: a tree emptied by mistake is not pushed.
  if (const std::string limit = m_max_delete[p.channel]; !limit.empty()) {
    std::size_t gone = 0;
    for (const core::Entry& e : from->entries) {
      gone += manifest.find(e.path) == nullptr ? 1 : 0;
    }
    const std::string refusal =
      max_delete_refusal(limit, gone, from->entries.size(), prior.number, p.version.number);
    if (!refusal.empty()) {
      fail_push(p.channel, refusal + "; nothing was pushed");
      return;
    }
  }
  const bool cached = m_source.delta_size(p.channel, prior, p.version).has_value();
  m_metrics.push_delta(p.channel, cached);
  if (cached) {
    begin(p);
    return;
  }
  const core::DeltaOptions options = m_source.options();
  m_worker->post(
    [this, p, a = std::move(*from), b = std::move(manifest), options]() -> Worker::Done {
      auto made = core::cached_delta(m_store, a, b, options, m_pool);
      if (!made) {
        return [this, p, e = made.error().message] { fail_push(p.channel, e); };
      }
      return [this, p] { begin(p); };
    });
}

void Master::begin(const sync::PushRequest& p)
{
  auto out = m_pub.begin(p, now_ms());
  if (!out) {
    fail_push(p.channel, out.error().message);
    return;
  }
  apply(std::move(*out));
}

void Master::fail_push(const std::string& channel, const std::string& error)
{
  m_canaries.erase(channel);
  m_log(util::Level::error, channel + ": push failed: " + error);
  const auto waiting = m_pushes.find(channel);
  if (waiting != m_pushes.end()) {
    answer(waiting->second, {{"result", "error"}, {"error", error}});
    m_pushes.erase(waiting);
  }
}

// push --dry-run: no transaction, no version; the reply says what a push
// would do, from the versions the followers alive now hold.
void Master::dry_run(const std::string& peer, const std::string& dir,
                     const core::SnapshotOptions& options, const std::string& max_delete)
{
  const auto committed = m_source.committed(options.channel, 1);
  const std::uint64_t prior = committed.empty() ? 0 : committed.front().number;
  std::map<std::uint64_t, std::vector<std::string>> held;
  const sync::Millis now = now_ms();
  for (const auto& [id, f] : m_pub.followers(options.channel)) {
    if (m_pub.alive(f, now)) {
      held[f.version.number].push_back(id);
    }
  }
  const int level = m_source.options().level;
  m_worker->post([this, peer, dir, options, prior, held, level, max_delete]() -> Worker::Done {
    auto d = sync::dry_run(m_store, dir, options, prior, held, level, m_pool);
    if (!d) {
      return [this, peer, e = d.error().message] {
        answer(peer, {{"result", "error"}, {"error", e}});
      };
    }
    const std::string refusal = max_delete.empty()
                                  ? ""
                                  : max_delete_refusal(max_delete, d->deleted, d->entries_before,
                                                       d->committed, d->version.header.number);
    return [this, peer, j = dry_run_json(options.channel, *d, refusal)] { answer(peer, j); };
  });
}

// A transaction ended. A plain push is answered with its report. A push
// --canary goes on: after the canaries' transaction (1), either the rest
// of the fleet's (3), or, when a canary's health check failed, the
// canaries' way back to the version they left (2); the answer comes at
// the end, with the canaries' report in it.
void Master::ended(const sync::TxnReport& r)
{
  const auto waiting = m_pushes.find(r.channel);
  const auto canary = m_canaries.find(r.channel);
  if (canary == m_canaries.end()) {
    if (waiting != m_pushes.end()) {
      answer(waiting->second, report_json(r));
      m_pushes.erase(waiting);
    }
    return;
  }
  CanaryPush& c = canary->second;
  nlohmann::json report = report_json(r);
  if (c.stage == 1) {
    c.canaries = report;
    std::string sick;
    // A canary that did not say it committed and is healthy (its commit
    // failed, its check failed, or it never acknowledged) is not healthy.
    for (const auto& f : r.followers) {
      if (f.result != wire::AckResult::committed) {
        sick += (sick.empty() ? "" : "; ") + f.id + ": " +
                (f.result == wire::AckResult::unhealthy ? f.reason
                 : f.result                             ? "its commit failed: " + f.reason
                                                        : std::string("it never acknowledged"));
      }
    }
    if (r.outcome == wire::Outcome::commit && sick.empty()) {
      // Healthy: the rest of the fleet, to the same version.
      c.stage = 3;
      sync::PushRequest rest = c.push;
      rest.group.clear();
      m_log(util::Level::notice, r.channel + ": the canaries of group " + c.push.group +
                                   " are healthy at v" + std::to_string(r.version.number) +
                                   ": the rest of the fleet follows");
      begin(rest);
      return;
    }
    if (r.outcome == wire::Outcome::commit) {
      // Unhealthy: the canaries go back to the version they left.
      c.stage = 2;
      c.why = "the health check failed on " + sick;
      sync::PushRequest back = c.push;
      back.version = c.prior;
      back.one_phase = false;
      back.min_followers = 0;
      m_log(util::Level::error, r.channel + ": canary v" + std::to_string(r.version.number) +
                                  " of group " + c.push.group + " is unhealthy (" + sick +
                                  "): rolling the canaries back to v" +
                                  std::to_string(c.prior.number));
      begin(back);
      return;
    }
  }
  nlohmann::json answer_json = c.stage == 1 ? report : c.canaries;
  if (c.stage == 3) {
    answer_json = report;
    answer_json["canary"] = {{"group", c.push.group}, {"transaction", c.canaries}};
  } else if (c.stage == 2) {
    // The canaries' version is not the fleet's: the push failed.
    answer_json["result"] = "abort";
    answer_json["reason"] =
      c.why + "; the canaries " +
      (r.outcome == wire::Outcome::commit ? "were rolled back to v" + std::to_string(c.prior.number)
                                          : "could not be rolled back: " + r.reason);
    answer_json["canary"] = {{"group", c.push.group}, {"rollback", report}};
  } else {
    answer_json["canary"] = {{"group", c.push.group}};
  }
  m_canaries.erase(canary);
  if (waiting != m_pushes.end()) {
    answer(waiting->second, answer_json);
    m_pushes.erase(waiting);
  }
}

} // namespace treecast::net
