// serve, follow, sync, push, status and abort: the fleet's commands
// (treecast(1); man/treecast-protocol.7). The daemons run src/net's loops;
// push, status and abort talk to a running serve through its control
// socket, STORE/control.

#include "commands.hpp"
#include "config.hpp"
#include "core/follower.hpp"
#include "net/follower.hpp"
#include "net/master.hpp"
#include "output.hpp"
#include "util/file.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <iostream>
#include <set>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::cli {

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int)
{
  g_stop.store(true);
}

void catch_signals()
{
  struct sigaction sa
  {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

// Log lines of the daemons: a time, then the line, on stderr.
void log_line(const std::string& line)
{
  const std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  std::cerr << stamp << ' ' << line << std::endl;
}

// "30s", "500ms", "2m", "1h" or a number of seconds.
util::Result<std::chrono::milliseconds> parse_duration(const std::string& text)
{
  std::size_t end = 0;
  double value = 0;
  try {
    value = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  const std::string unit = text.substr(end);
  double ms = -1;
  if (end > 0 && value >= 0) {
    ms = unit.empty() || unit == "s" ? value * 1000
         : unit == "ms"              ? value
         : unit == "m"               ? value * 60000
         : unit == "h"               ? value * 3600000
                                     : -1;
  }
  if (ms < 0 || ms > 7 * 24 * 3600 * 1000.0) {
    return util::make_error(util::Errc::usage,
                            "invalid duration " + util::quote(text) + ": use 30s, 500ms, 2m or 1h");
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(ms));
}

// HOST[:PORT], default port 7400.
util::Result<std::pair<std::string, int>> parse_address(const std::string& text)
{
  std::string host = text;
  int port = 7400;
  const auto colon = text.rfind(':');
  if (colon != std::string::npos && text.find(']') == std::string::npos) {
    host = text.substr(0, colon);
    const std::string digits = text.substr(colon + 1);
    if (digits.empty() || digits.size() > 5 ||
        digits.find_first_not_of("0123456789") != std::string::npos || std::stoi(digits) < 1 ||
        std::stoi(digits) > 65534) {
      return util::make_error(util::Errc::usage, "invalid port in " + util::quote(text));
    }
    port = std::stoi(digits);
  }
  if (host.empty()) {
    return util::make_error(util::Errc::usage, "no host in " + util::quote(text));
  }
  return std::make_pair(host, port);
}

bool loopback(const std::string& host)
{
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host.starts_with("127.");
}

std::string hostname()
{
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') {
    return "follower";
  }
  std::string id = name;
  for (char& c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    c = ok ? c : '-';
  }
  return id.substr(0, 128);
}

// One request to a running serve; its JSON reply.
util::Result<nlohmann::json> ask_master(const std::string& store, const nlohmann::json& request,
                                        std::chrono::milliseconds timeout)
{
  // A running serve holds the store's serve lock (a killed one leaves its
  // socket file, but not the lock).
  const std::string lock_path = store + "/serve.lock";
  auto serving = [&] {
    util::Fd lock(::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC));
    return lock && ::flock(lock.get(), LOCK_SH | LOCK_NB) != 0;
  };
  if (!serving()) {
    return util::make_error(util::Errc::not_found,
                            "no treecast serve is running on " + util::quote(store));
  }
  zmq::context_t context;
  zmq::socket_t req(context, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.set(zmq::sockopt::rcvtimeo, 1000);
  req.connect(net::control_endpoint(store));
  const std::string text = request.dump();
  (void)req.send(zmq::buffer(text), zmq::send_flags::none);
  zmq::message_t reply;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!req.recv(reply)) {
    // A serve that stopped meanwhile will never answer.
    if (!serving()) {
      return util::make_error(util::Errc::not_found,
                              "the treecast serve of " + util::quote(store) + " stopped");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return util::make_error(util::Errc::io, "no answer from the treecast serve of " +
                                                util::quote(store) + " in time");
    }
  }
  auto j = nlohmann::json::parse(reply.to_string(), nullptr, false);
  if (!j.is_object()) {
    return util::make_error(util::Errc::data, "the serve's answer is not JSON");
  }
  if (j.value("result", "") == "error") {
    return util::make_error(util::Errc::conflict, j.value("error", "the serve refused"));
  }
  return j;
}

struct ServeArgs
{
  std::string config;
  std::string store;
  std::vector<std::string> channels;
  std::string bind = "127.0.0.1:7400";
  bool insecure = false;
  std::vector<std::string> excludes;
  unsigned jobs = 2;
  std::string level = "12";
  std::set<std::string> given; // options given on the command line
};

int run_serve(ServeArgs a)
{
  net::MasterOptions o;
  // The config file's values, where no flag says otherwise.
  if (!a.config.empty()) {
    auto config = load_config(a.config);
    if (!config) {
      return fail(config.error());
    }
    const ServeConfig& c = config->serve;
    if (!a.given.contains("--store") && c.store) {
      a.store = *c.store;
    }
    if (!a.given.contains("--bind") && c.bind) {
      a.bind = *c.bind;
    }
    if (!a.given.contains("--insecure") && c.insecure) {
      a.insecure = *c.insecure;
    }
    if (!a.given.contains("--jobs") && c.jobs) {
      a.jobs = *c.jobs;
    }
    if (!a.given.contains("--level") && c.level) {
      a.level = *c.level;
    }
    if (!a.given.contains("--exclude")) {
      a.excludes = c.exclude;
    }
    if (!a.given.contains("--channel")) {
      for (const auto& [name, dir] : c.channels) {
        a.channels.push_back(name + "=" + dir);
      }
    }
  }
  if (a.channels.empty()) {
    return fail(util::make_error(
      util::Errc::usage, "no channel to serve: give --channel NAME=DIR, or [serve.channels] "
                         "in the --config file"));
  }
  o.store = a.store;
  o.jobs = a.jobs;
  if (a.level == "auto") {
    o.level = 0;
  } else {
    try {
      o.level = std::stoi(a.level);
    } catch (const std::exception&) {
      o.level = -1;
    }
    if (o.level < 1 || o.level > 19 || std::to_string(o.level) != a.level) {
      return fail(util::make_error(util::Errc::usage, "--level: auto, or 1 to 19"));
    }
  }
  for (const std::string& spec : a.channels) {
    const auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
      return fail(
        util::make_error(util::Errc::usage, "--channel " + util::quote(spec) + ": use NAME=DIR"));
    }
    o.channels[spec.substr(0, eq)] = spec.substr(eq + 1);
    o.excludes[spec.substr(0, eq)] = a.excludes;
  }
  auto address = parse_address(a.bind);
  if (!address) {
    return fail(address.error());
  }
  std::tie(o.host, o.port) = *address;
  if (!loopback(o.host) && !a.insecure) {
    return fail(util::make_error(util::Errc::usage,
                                 "serving on " + o.host +
                                   " would let anyone who reaches it take the fleet's trees: use a "
                                   "loopback address, or --insecure to accept that"));
  }
  if (!loopback(o.host)) {
    log_line("warning: serving without authentication or encryption on " + o.host +
             " (--insecure)");
  }
  catch_signals();
  return net::run_master(o, g_stop, log_line);
}

struct FollowArgs
{
  std::string config;
  std::string master = "127.0.0.1:7400";
  std::string channel;
  std::string dir;
  std::string id;
  std::string state;
  std::string check;
  std::string exec;
  std::string commit = "atomic";
  std::string timeout = "60s";
  std::set<std::string> given; // options given on the command line
};

int run_follow(FollowArgs a, bool once)
{
  // One channel from the flags, or every [[follow.channel]] of the config.
  std::vector<FollowChannelConfig> channels;
  if (!a.config.empty()) {
    auto config = load_config(a.config);
    if (!config) {
      return fail(config.error());
    }
    const FollowConfig& c = config->follow;
    if (!a.given.contains("--master") && c.master) {
      a.master = *c.master;
    }
    if (!a.given.contains("--id") && c.id) {
      a.id = *c.id;
    }
    if (!a.given.contains("--commit") && c.commit) {
      a.commit = *c.commit;
    }
    if (a.channel.empty()) {
      channels = c.channels;
    }
  }
  if (!a.channel.empty()) {
    if (a.dir.empty()) {
      return fail(util::make_error(util::Errc::usage, "--channel needs --dir"));
    }
    channels = {{a.channel, a.dir, a.state, a.check, a.exec, ""}};
  }
  if (channels.empty()) {
    return fail(util::make_error(util::Errc::usage,
                                 "no channel to follow: give --channel and --dir, or "
                                 "[[follow.channel]] in the --config file"));
  }
  if (once && channels.size() > 1) {
    return fail(util::make_error(util::Errc::usage, "sync takes one channel: give --channel"));
  }
  auto address = parse_address(a.master);
  if (!address) {
    return fail(address.error());
  }
  auto deadline = parse_duration(a.timeout);
  if (!deadline) {
    return fail(deadline.error());
  }
  std::vector<net::FollowerOptions> all;
  for (const FollowChannelConfig& ch : channels) {
    if (auto s = core::validate_channel(ch.name); !s) {
      return fail(s.error());
    }
    const std::string commit = ch.commit.empty() ? a.commit : ch.commit;
    if (commit != "atomic" && commit != "inplace") {
      return fail(util::make_error(util::Errc::usage,
                                   "commit must be atomic or inplace, not " + util::quote(commit)));
    }
    net::FollowerOptions o;
    std::tie(o.host, o.port) = *address;
    o.id = a.id.empty() ? hostname() : a.id;
    o.tree.channel = ch.name;
    o.tree.dir = ch.dir;
    o.tree.state = ch.state;
    o.tree.check = ch.check;
    o.tree.exec = ch.exec;
    o.tree.mode = commit == "inplace" ? core::CommitMode::inplace : core::CommitMode::atomic;
    o.tree.owners = ::geteuid() == 0 ? core::Owners::restore : core::Owners::keep;
    o.once = once;
    o.deadline = *deadline;
    all.push_back(std::move(o));
  }
  catch_signals();
  return net::run_followers(
    all, g_stop,
    once ? net::LogLine([](const std::string& l) { std::cerr << "treecast: " << l << '\n'; })
         : net::LogLine(log_line));
}

// The long options given on the command line, by name.
std::set<std::string> given(const CLI::App& cmd)
{
  std::set<std::string> out;
  for (const CLI::Option* o : cmd.get_options()) {
    if (o->count() > 0 && !o->get_lnames().empty()) {
      out.insert("--" + o->get_lnames().front());
    }
  }
  return out;
}

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
};

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
                               {"one_phase", a.one_phase}};
  // The snapshot, the votes, then as long again for the acks.
  auto reply = ask_master(a.store.store, request, 2 * *timeout + std::chrono::minutes(10));
  if (!reply) {
    if (reply.error().code == util::Errc::not_found || reply.error().code == util::Errc::io) {
      std::cerr << "treecast: error: " << reply.error().message << '\n';
      return static_cast<int>(Exit::unreachable);
    }
    return fail(reply.error());
  }
  const nlohmann::json& r = *reply;
  const std::string result = r.value("result", "");
  if (a.json) {
    print_json(r);
  } else if (result == "unchanged") {
    if (a.verbose) {
      std::cout << a.channel << ": unchanged, v" << r.value("version", 0) << '\n';
    }
  } else {
    for (const auto& f : r["followers"]) {
      std::cout << f.value("id", "") << "  v" << f.value("from", 0) << "  vote "
                << f.value("vote", "") << "  " << f.value("result", "");
      const std::string reason = f.value("reason", "");
      std::cout << (reason.empty() ? "" : "  " + reason) << '\n';
    }
    std::cout << a.channel << " v" << r.value("version", 0) << ' '
              << (result == "commit" ? "committed" : "aborted");
    const std::string reason = r.value("reason", "");
    std::cout << (reason.empty() ? "" : ": " + reason) << '\n';
  }
  if (result == "commit" || result == "unchanged") {
    return 0;
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
    nlohmann::json j{{"dir", dir},
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
    }
    std::cout << '\n';
    for (const auto& f : c["followers"]) {
      std::cout << "  " << f.value("id", "") << "  v" << f.value("version", 0) << "  "
                << f.value("state", "") << "  " << (f.value("alive", false) ? "alive" : "away")
                << "  seen " << f.value("seen_ms_ago", 0) / 1000 << " s ago";
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

void add_follow_options(CLI::App& cmd, FollowArgs& a)
{
  cmd.add_option("--master", a.master, "The master, HOST[:PORT] (default 127.0.0.1:7400)");
  cmd
    .add_option("--config", a.config,
                "A treecast.toml: its [follow] values and channels, where no flag says otherwise")
    ->type_name("FILE");
  cmd.add_option("--channel", a.channel, "The channel to follow (else the config's channels)");
  cmd.add_option("--dir", a.dir, "The tree to keep at the channel's version");
  cmd.add_option("--id", a.id, "This follower's name (default: the host name)");
  cmd.add_option("--state", a.state, "The state folder (default: .DIR.treecast beside DIR)");
  cmd.add_option("--check", a.check,
                 "A shell command run against the staged tree before voting; non-zero refuses "
                 "(TREECAST_STAGE, TREECAST_VERSION, TREECAST_CHANNEL, TREECAST_DIR)");
  cmd.add_option("--commit", a.commit, "atomic (one swap) or inplace (file by file)")
    ->check(CLI::IsMember({"atomic", "inplace"}));
}

} // namespace

void add_fleet_commands(CLI::App& app, Runner& selected)
{
  {
    auto a = std::make_shared<ServeArgs>();
    auto* cmd = app.add_subcommand("serve", "Run the master: publish channels to followers");
    const char* env = std::getenv("TREECAST_STORE");
    a->store = env != nullptr && *env != '\0' ? env : "/var/lib/treecast";
    cmd
      ->add_option("--config", a->config,
                   "A treecast.toml: its [serve] values, where no flag says otherwise")
      ->type_name("FILE");
    cmd->add_option("--store", a->store, "The store folder")->type_name("PATH");
    cmd->add_option("--channel", a->channels, "A channel and the folder it publishes, NAME=DIR")
      ->type_name("NAME=DIR");
    cmd->add_option("--bind", a->bind,
                    "ADDR[:PORT]: PUB on PORT, ROUTER on PORT+1 (default 127.0.0.1:7400)");
    cmd->add_flag("--insecure", a->insecure, "Allow an address other than loopback, unencrypted");
    cmd
      ->add_option("--exclude", a->excludes,
                   "Leave out paths matching this glob in every snapshot (repeatable; as for "
                   "snapshot)")
      ->type_name("PATTERN");
    cmd->add_option("-j,--jobs", a->jobs, "Threads for snapshots and deltas (default 2)");
    cmd->add_option("--level", a->level,
                    "zstd level of the deltas: 1 to 19, or auto as for delta (default 12)");
    cmd->callback([a, cmd, &selected] {
      a->given = given(*cmd);
      selected = [a] { return run_serve(*a); };
    });
  }
  {
    auto a = std::make_shared<FollowArgs>();
    auto* cmd = app.add_subcommand("follow", "Run a follower: keep DIR at the channel's version");
    add_follow_options(*cmd, *a);
    cmd->add_option("--exec", a->exec, "A shell command run after each commit (a reload)");
    cmd->callback([a, cmd, &selected] {
      a->given = given(*cmd);
      selected = [a] { return run_follow(*a, false); };
    });
  }
  {
    auto a = std::make_shared<FollowArgs>();
    auto* cmd =
      app.add_subcommand("sync", "Bring DIR to the master's committed version, then exit");
    add_follow_options(*cmd, *a);
    cmd->add_option("--exec", a->exec, "A shell command run after the commit");
    cmd->add_option("--timeout", a->timeout, "Give up after this long (default 60s)");
    cmd->callback([a, cmd, &selected] {
      a->given = given(*cmd);
      selected = [a] { return run_follow(*a, true); };
    });
  }
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
