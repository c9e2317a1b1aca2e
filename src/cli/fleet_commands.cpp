// push, rollback, status and abort: what an operator asks of a running
// serve, through its control socket (treecast(1)); and status --dir, a
// follower's own view.

#include "commands.hpp"
#include "core/follower.hpp"
#include "fleet_common.hpp"
#include "output.hpp"
#include "sync/publisher.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <ctime>
#include <iostream>
#include <map>

namespace treecast::cli {

namespace {

struct PushArgs
{
  StoreOptions store;
  std::string channel;
  std::string timeout = "30s";
  std::string quorum = "all";
  unsigned min_followers = 0;
  bool one_phase = false;
  std::string message;
  bool json = false;
  bool verbose = false;
  std::string rollback_to; // rollback: the version whose tree to publish again
  std::string max_delete;  // a count or a percentage; empty: no limit
  bool dry_run = false;
  std::string canary; // a follower group that commits first
};

// push --dry-run: the changes, the delta each follower would fetch, and
// whether --max-delete would refuse it; exit 6 if it would.
int print_dry_run(const PushArgs& a, const nlohmann::json& r)
{
  const std::string refused = r.value("refused", "");
  if (a.json) {
    print_json(r);
  } else if (r.value("result", "") == "unchanged") {
    std::cout << a.channel << ": unchanged, v" << r.value("committed", 0)
              << "; a push would record nothing\n";
  } else {
    const std::size_t total = r.value("changes_total", std::size_t{0});
    std::cout << a.channel << ": v" << r.value("committed", 0) << " -> v" << r.value("version", 0)
              << " would change " << total << (total == 1 ? " entry" : " entries") << '\n';
    const std::map<std::string, char> letters{{"added", 'A'},   {"removed", 'D'}, {"modified", 'M'},
                                              {"renamed", 'R'}, {"mode", 'P'},    {"type", 'T'}};
    for (const auto& c : r["changes"]) {
      const auto letter = letters.find(c.value("kind", ""));
      std::cout << (letter == letters.end() ? '?' : letter->second) << "  "
                << (c.contains("from") ? util::quote(c.value("from", "")) + " -> " : "")
                << util::quote(c.value("path", "")) << '\n';
    }
    if (total > r["changes"].size()) {
      std::cout << "... and " << total - r["changes"].size() << " more\n";
    }
    for (const auto& d : r["deltas"]) {
      const auto& ids = d["followers"];
      std::cout << "delta from v" << d.value("from", 0) << ": ";
      if (d.contains("error")) {
        std::cout << "cannot be made: " << d.value("error", "");
      } else {
        std::cout << util::human_size(d.value("bytes", std::uint64_t{0}));
      }
      std::cout << ", for " << ids.size() << (ids.size() == 1 ? " follower" : " followers");
      std::string names;
      for (const auto& id : ids) {
        names += (names.empty() ? "" : ", ") + id.get<std::string>();
      }
      std::cout << (names.empty() ? "" : " (" + names + ")") << '\n';
    }
    if (!refused.empty()) {
      std::cout << "push would refuse it: " << refused << '\n';
    }
    std::cout << "nothing was pushed (--dry-run)\n";
  }
  return refused.empty() ? 0 : static_cast<int>(Exit::conflict);
}

int run_push(const PushArgs& a)
{
  auto timeout = parse_duration(a.timeout);
  if (!timeout) {
    return fail(timeout.error());
  }
  const nlohmann::json request{{"command", a.rollback_to.empty() ? "push" : "rollback"},
                               {"to", a.rollback_to},
                               {"channel", a.channel},
                               {"message", a.message},
                               {"timeout_ms", timeout->count()},
                               {"quorum", a.quorum},
                               {"min_followers", a.min_followers},
                               {"one_phase", a.one_phase},
                               {"max_delete", a.max_delete},
                               {"dry_run", a.dry_run},
                               {"canary", a.canary}};
  // The snapshot, the votes, then as long again for the acks; a canary
  // push has up to three transactions.
  auto reply = ask_master(a.store.store, request,
                          (a.canary.empty() ? 2 : 6) * *timeout + std::chrono::minutes(10));
  if (!reply) {
    if (reply.error().code == util::Errc::not_found || reply.error().code == util::Errc::io) {
      std::cerr << "treecast: error: " << reply.error().message << '\n';
      return static_cast<int>(Exit::unreachable);
    }
    return fail(reply.error());
  }
  const nlohmann::json& r = *reply;
  if (a.dry_run) {
    return print_dry_run(a, r);
  }
  const std::string result = r.value("result", "");
  if (a.json) {
    print_json(r);
  } else if (result == "unchanged") {
    if (a.verbose) {
      std::cout << a.channel << ": unchanged, v" << r.value("version", 0) << '\n';
    }
  } else {
    const auto followers = [](const nlohmann::json& report, const std::string& prefix) {
      for (const auto& f : report["followers"]) {
        std::cout << prefix << f.value("id", "") << "  v" << f.value("from", 0) << "  vote "
                  << f.value("vote", "") << "  " << f.value("result", "");
        const std::string reason = f.value("reason", "");
        std::cout << (reason.empty() ? "" : "  " + reason) << '\n';
      }
    };
    if (r.contains("canary")) {
      const auto& c = r["canary"];
      const std::string group = c.value("group", "");
      if (c.contains("transaction")) {
        followers(c["transaction"], "canary " + group + ": ");
      } else {
        followers(r, "canary " + group + ": ");
      }
      if (c.contains("rollback")) {
        followers(c["rollback"], "rollback " + group + ": ");
      }
    }
    if (!r.contains("canary") || r["canary"].contains("transaction")) {
      followers(r, "");
    }
    std::cout << a.channel << " v" << r.value("version", 0) << ' '
              << (result == "commit" ? "committed" : "aborted");
    const std::string reason = r.value("reason", "");
    std::cout << (reason.empty() ? "" : ": " + reason) << '\n';
  }
  if (result == "unchanged") {
    return 0;
  }
  if (result == "commit") {
    // Committed: the fleet's version moved. Every voter should hold it; one
    // whose commit failed, whose health check failed, or whose ACK never
    // came is not in step, and a script must hear it.
    std::string behind;
    std::size_t n = 0;
    for (const auto& f : r["followers"]) {
      const std::string applied = f.value("result", "");
      if (applied != "committed") {
        n += 1;
        const std::string why = f.value("reason", "");
        behind += (behind.empty() ? "" : "; ") + f.value("id", "") + " " +
                  (applied == "none" ? "did not acknowledge" : applied) +
                  (why.empty() ? "" : ": " + why);
      }
    }
    if (n == 0) {
      return 0;
    }
    std::cerr << "treecast: warning: v" << r.value("version", 0) << " of " << a.channel
              << " is committed, but not applied and healthy on " << n
              << (n == 1 ? " follower: " : " followers: ") << behind << '\n';
    return static_cast<int>(Exit::partial);
  }
  return static_cast<int>(r.value("timed_out", false) ? Exit::timed_out : Exit::aborted);
}

// status --dir: a follower's own view, from its state folder, without
// its lock (a running follow holds it).
int run_follower_status(const std::string& dir, const std::string& state, bool json)
{
  auto peek = core::peek_follower(dir, state);
  if (!peek) {
    return fail(peek.error());
  }
  nlohmann::json follow;
  if (auto bytes = util::read_file(peek->state + "/follow.status", 1 << 16)) {
    follow = nlohmann::json::parse(std::string(bytes->begin(), bytes->end()), nullptr, false);
  }
  const core::Manifest& m = peek->current;
  if (json) {
    nlohmann::json j{{"schema", sync::k_status_schema},
                     {"dir", dir},
                     {"channel", m.header.channel},
                     {"version", m.header.number},
                     {"version_id", m.header.number == 0 ? "" : m.id.hex()}};
    j["staged"] = peek->prepared ? nlohmann::json{{"version", peek->prepared->to.header.number},
                                                  {"tag", peek->prepared->tag}}
                                 : nlohmann::json(nullptr);
    j["follow"] = follow.is_object() ? follow : nlohmann::json(nullptr);
    print_json(j);
    return 0;
  }
  std::cout << dir << ": "
            << (m.header.number == 0
                  ? std::string("no version")
                  : version_label(m.header.number, m.id) + " of " + m.header.channel)
            << '\n';
  if (peek->prepared) {
    std::cout << "  staged: v" << peek->prepared->to.header.number << " for " << peek->prepared->tag
              << ", waiting for its commit or abort\n";
  }
  if (follow.is_object()) {
    const std::int64_t heard = follow.value("last_heard", std::int64_t{0});
    std::string when = "never";
    if (heard > 0) {
      const std::time_t t = heard;
      char stamp[32];
      std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
      when = stamp;
    }
    std::cout << "  followed as " << follow.value("id", "") << " from "
              << follow.value("master", "") << " (committed there: v"
              << follow.value("master_committed", 0) << "), last heard " << when << ", "
              << follow.value("phase", "") << '\n';
  }
  return 0;
}

int run_status(const StoreOptions& store, bool json)
{
  auto reply = ask_master(store.store, {{"command", "status"}, {"channel", store.channel}},
                          std::chrono::seconds(10));
  if (!reply) {
    std::cerr << "treecast: error: " << reply.error().message << '\n';
    return static_cast<int>(reply.error().code == util::Errc::conflict ? exit_for(reply.error())
                                                                       : Exit::unreachable);
  }
  const nlohmann::json& status = (*reply)["status"];
  if (json) {
    print_json(status);
    return 0;
  }
  for (const auto& c : status["channels"]) {
    std::cout << c.value("channel", "") << ": committed v" << c.value("committed", 0);
    if (!c["transaction"].is_null()) {
      std::cout << ", transaction " << c["transaction"].value("number", 0) << " for v"
                << c["transaction"].value("version", 0)
                << (c["transaction"].value("decided", false) ? " (decided)" : " (voting)");
      const std::string group = c["transaction"].value("group", "");
      std::cout << (group.empty() ? "" : ", canaries of group " + group);
    }
    if (c.contains("canary") && c["canary"].is_object()) {
      std::cout << ", canary: group " << c["canary"].value("group", "") << " at v"
                << c["canary"].value("version", 0);
    }
    std::cout << '\n';
    for (const auto& f : c["followers"]) {
      std::cout << "  " << f.value("id", "") << "  v" << f.value("version", 0) << "  "
                << f.value("state", "") << "  " << (f.value("alive", false) ? "alive" : "away")
                << "  seen " << f.value("seen_ms_ago", 0) / 1000 << " s ago";
      const std::string group = f.value("group", "");
      std::cout << (group.empty() ? "" : "  group " + group);
      const std::string error = f.value("last_error", "");
      std::cout << (error.empty() ? "" : "  last error: " + error) << '\n';
    }
  }
  return 0;
}

int run_abort(const StoreOptions& store, const std::string& channel)
{
  auto reply =
    ask_master(store.store, {{"command", "abort"}, {"channel", channel}}, std::chrono::seconds(10));
  if (!reply) {
    return fail(reply.error());
  }
  std::cout << channel << ": transaction aborted\n";
  return 0;
}

} // namespace

void add_fleet_commands(CLI::App& app, Runner& selected)
{
  for (const bool rollback : {false, true}) {
    auto a = std::make_shared<PushArgs>();
    auto* cmd =
      rollback
        ? app.add_subcommand(
            "rollback", "Publish an earlier version's tree again, as a new version, to the fleet")
        : app.add_subcommand(
            "push", "Snapshot a channel's folder and move the fleet to it, all or nothing");
    add_store_options(*cmd, a->store, false);
    cmd->add_option("channel", a->channel, "The channel")->required()->type_name("NAME");
    if (rollback) {
      cmd->add_option("--to", a->rollback_to, "The version: v3, 3, latest~1 or an id prefix")
        ->required()
        ->type_name("VERSION");
    }
    cmd->add_option("--timeout", a->timeout, "How long to wait for the votes (default 30s)");
    cmd->add_option("--quorum", a->quorum, "all, a count, or a share like 60% (default all)");
    cmd->add_option("--min-followers", a->min_followers, "Refuse with fewer followers alive");
    cmd->add_flag("--one-phase", a->one_phase, "Followers commit as soon as they verified");
    if (!rollback) {
      cmd->add_option("-m,--message", a->message, "A message stored with the version");
      cmd
        ->add_option("--max-delete", a->max_delete,
                     "Refuse a version that deletes more entries than N, or P% (a tree emptied "
                     "by mistake)")
        ->type_name("N|P%");
      cmd
        ->add_option("--canary", a->canary,
                     "Commit to this group of followers first (follow --group), wait for their "
                     "health checks, then the rest; roll the canaries back if one fails")
        ->type_name("GROUP");
      cmd->add_flag("-n,--dry-run", a->dry_run,
                    "Show the changes and the delta each follower would fetch; push nothing");
    }
    cmd->add_flag("--json", a->json, "Print the outcome as JSON");
    cmd->add_flag("-v,--verbose", a->verbose, "Say so when nothing changed too");
    cmd->callback([a, &selected] { selected = [a] { return run_push(*a); }; });
  }
  {
    auto store = std::make_shared<StoreOptions>();
    auto json = std::make_shared<bool>(false);
    auto dir = std::make_shared<std::string>();
    auto state = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("status", "Show the fleet: every follower and its version");
    add_store_options(*cmd, *store, false);
    cmd->add_option("--dir", *dir, "On a follower: show this tree's version and its master");
    cmd->add_option("--state", *state, "With --dir: the state folder (default: beside DIR)");
    cmd->add_flag("--json", *json, "Print the status as JSON");
    cmd->callback([=, &selected] {
      selected = [=] {
        return dir->empty() ? run_status(*store, *json) : run_follower_status(*dir, *state, *json);
      };
    });
  }
  {
    auto store = std::make_shared<StoreOptions>();
    auto channel = std::make_shared<std::string>();
    auto* cmd = app.add_subcommand("abort", "Withdraw a channel's transaction in flight");
    add_store_options(*cmd, *store, false);
    cmd->add_option("channel", *channel, "The channel")->required()->type_name("NAME");
    cmd->callback([=, &selected] { selected = [=] { return run_abort(*store, *channel); }; });
  }
}

} // namespace treecast::cli
