// follow and sync: the follower daemon, and its one-shot form (treecast(1);
// treecast.toml(5)). They run src/net's follower loop; flags win over the
// config file.

#include "commands.hpp"
#include "config.hpp"
#include "fleet_common.hpp"
#include "net/follower.hpp"
#include "output.hpp"
#include "progress.hpp"
#include "sync/signing.hpp"
#include "wire/codec.hpp"

#include <set>
#include <unistd.h>

namespace treecast::cli {

namespace {

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
  std::string exec_splay; // follow: spread reloads over up to this long
  std::string health;     // follow: a health check after each commit
  std::string group;      // follow: push --canary's group
  std::string key;
  std::string master_key;
  std::vector<std::string> trust;
  std::set<std::string> given; // options given on the command line
};

int run_follow(FollowArgs a, bool once)
{
  // One channel from the flags, or every [[follow.channel]] of the config.
  std::vector<FollowChannelConfig> channels;
  a.config = default_config(a.config, a.given.contains("--config"));
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
    if (!a.given.contains("--key") && c.key) {
      a.key = *c.key;
    }
    if (!a.given.contains("--master-key") && c.master_key) {
      a.master_key = *c.master_key;
    }
    if (!a.given.contains("--trust")) {
      a.trust = c.trust;
    }
    if (!a.given.contains("--exec-splay") && c.exec_splay && !once) {
      a.exec_splay = *c.exec_splay;
    }
    if (!a.given.contains("--group") && c.group) {
      a.group = *c.group;
    }
    for (const auto& ch : c.channels) {
      // --channel NAME alone: that channel of the config.
      if (a.channel.empty() || (a.dir.empty() && ch.name == a.channel)) {
        channels.push_back(ch);
      }
    }
    if (!a.channel.empty() && a.dir.empty() && channels.empty()) {
      return fail(util::make_error(util::Errc::usage, "channel " + util::quote(a.channel) +
                                                        " is not in " + a.config +
                                                        ": give --dir, or add it there"));
    }
    if (!a.channel.empty() && a.dir.empty()) {
      // Its hooks and state from the flags, where given.
      FollowChannelConfig& ch = channels.front();
      for (auto [flag, value, field] :
           {std::tuple{"--state", &a.state, &ch.state}, std::tuple{"--check", &a.check, &ch.check},
            std::tuple{"--exec", &a.exec, &ch.exec},
            std::tuple{"--health", &a.health, &ch.health}}) {
        if (a.given.contains(flag)) {
          *field = *value;
        }
      }
    }
  }
  if (!a.channel.empty() && (!a.dir.empty() || channels.empty())) {
    if (a.dir.empty()) {
      return fail(util::make_error(util::Errc::usage, "--channel needs --dir"));
    }
    channels = {{a.channel, a.dir, a.state, a.check, a.exec, "", a.health}};
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
  std::chrono::milliseconds splay{0};
  if (!a.exec_splay.empty()) {
    auto d = parse_duration(a.exec_splay);
    if (!d) {
      return fail(d.error());
    }
    splay = *d;
  }
  std::vector<sync::VerifyKey> trusted;
  for (const std::string& path : a.trust) {
    auto k = sync::read_verify_key(path);
    if (!k) {
      return fail(k.error());
    }
    trusted.push_back(*k);
  }
  std::vector<net::FollowerOptions> all;
  if (!a.group.empty() && !wire::valid_name(a.group)) {
    return fail(util::make_error(util::Errc::usage, "--group " + util::quote(a.group) +
                                                      ": use a name such as canary or eu-1"));
  }
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
    o.key = a.key;
    o.master_key = a.master_key;
    o.tree.channel = ch.name;
    o.tree.dir = ch.dir;
    o.tree.state = ch.state;
    o.tree.check = ch.check;
    o.tree.exec = ch.exec;
    o.tree.health = ch.health;
    o.group = a.group;
    o.tree.trusted = trusted;
    o.tree.mode = commit == "inplace" ? core::CommitMode::inplace : core::CommitMode::atomic;
    o.tree.owners = ::geteuid() == 0 ? core::Owners::restore : core::Owners::keep;
    o.once = once;
    o.deadline = *deadline;
    o.exec_splay = splay;
    o.tree.defer_exec = splay.count() > 0;
    all.push_back(std::move(o));
  }
  catch_signals();
  set_log_base(once ? util::Level::notice : util::Level::info, !once);
  net::ServiceNotifier service(all.size());
  Progress progress("fetching");
  if (once && progress.shown()) {
    all.front().progress = [&](std::uint64_t done, std::uint64_t total) {
      progress.at(done, total);
    };
  }
  if (!once) {
    for (auto& o : all) {
      o.service = &service;
    }
  }
  auto r = net::run_followers(all, g_stop, log_line);
  return r ? *r : fail(r.error());
}

// The long options given on the command line, by name.
void add_follow_options(CLI::App& cmd, FollowArgs& a)
{
  cmd.add_option("--master", a.master, "The master, HOST[:PORT] (default 127.0.0.1:7400)")
    ->type_name("HOST[:PORT]");
  cmd
    .add_option("--config", a.config,
                "A treecast.toml: its [follow] values and channels, where no flag says "
                "otherwise (default: /etc/treecast/treecast.toml if it exists; '' for none). "
                "With --channel NAME and no --dir: that channel of the file")
    ->type_name("FILE");
  cmd.add_option("--channel", a.channel, "The channel to follow (else the config's channels)")
    ->type_name("NAME");
  cmd.add_option("--dir", a.dir, "The tree to keep at the channel's version")->type_name("DIR");
  cmd.add_option("--id", a.id, "This follower's name (default: the host name)")->type_name("NAME");
  cmd.add_option("--state", a.state, "The state folder (default: .DIR.treecast beside DIR)")
    ->type_name("PATH");
  cmd
    .add_option("--check", a.check,
                "A shell command run against the staged tree before voting; non-zero refuses "
                "(TREECAST_STAGE, TREECAST_VERSION, TREECAST_CHANNEL, TREECAST_DIR)")
    ->type_name("CMD");
  cmd.add_option("--key", a.key, "This follower's CURVE key file (treecast keygen)")
    ->type_name("FILE");
  cmd.add_option("--master-key", a.master_key, "The master's public key file, pinned")
    ->type_name("FILE");
  cmd
    .add_option("--trust", a.trust,
                "Stage only versions signed by this key (a master's NAME.verify; repeatable, "
                "for a rotation)")
    ->type_name("FILE");
  cmd.add_option("--commit", a.commit, "atomic (one swap) or inplace (file by file)")
    ->check(CLI::IsMember({"atomic", "inplace"}));
}

} // namespace

void add_follow_commands(CLI::App& app, Runner& selected)
{
  {
    auto a = std::make_shared<FollowArgs>();
    auto* cmd = app.add_subcommand("follow", "Run a follower: keep DIR at the channel's version");
    add_follow_options(*cmd, *a);
    cmd->add_option("--exec", a->exec, "A shell command run after each commit (a reload)")
      ->type_name("CMD");
    cmd
      ->add_option("--health", a->health,
                   "A shell command run after each commit and its reload; when it fails the "
                   "follower says it is unhealthy (push --canary rolls its canaries back)")
      ->type_name("CMD");
    cmd
      ->add_option("--group", a->group,
                   "This follower's group: push --canary GROUP commits to it first")
      ->type_name("NAME");
    cmd
      ->add_option("--exec-splay", a->exec_splay,
                   "Acknowledge the commit first, then run --exec after a random delay up to "
                   "this long, so a fleet does not reload all at once")
      ->type_name("DURATION");
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
    cmd->add_option("--exec", a->exec, "A shell command run after the commit")->type_name("CMD");
    cmd->add_option("--timeout", a->timeout, "Give up after this long (default 60s)")
      ->type_name("DURATION");
    cmd->callback([a, cmd, &selected] {
      a->given = given(*cmd);
      selected = [a] { return run_follow(*a, true); };
    });
  }
}

} // namespace treecast::cli
