// serve, the master daemon (treecast(1); treecast.toml(5)), and keygen.
// serve runs src/net's master loop; flags win over the config file.

#include "commands.hpp"
#include "config.hpp"
#include "fleet_common.hpp"
#include "net/follower.hpp"
#include "net/keys.hpp"
#include "net/master.hpp"
#include "output.hpp"
#include "sync/signing.hpp"
#include "util/file.hpp"
#include "wire/codec.hpp"

#include <iostream>
#include <set>
#include <unistd.h>

namespace treecast::cli {

namespace {

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
  std::string key;
  std::string authorized;
  std::string sign_key;
  std::string metrics;
  std::string metrics_file;
  bool xattrs = false;
  bool acls = false;
  std::set<std::string> given; // options given on the command line
};

int run_serve(ServeArgs a)
{
  set_log_base(util::Level::info, true);
  net::MasterOptions o;
  // The config file's values, where no flag says otherwise.
  a.config = default_config(a.config, a.given.contains("--config"));
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
    if (!a.given.contains("--key") && c.key) {
      a.key = *c.key;
    }
    if (!a.given.contains("--authorized") && c.authorized) {
      a.authorized = *c.authorized;
    }
    if (!a.given.contains("--sign-key") && c.sign_key) {
      a.sign_key = *c.sign_key;
    }
    if (!a.given.contains("--metrics") && c.metrics) {
      a.metrics = *c.metrics;
    }
    if (!a.given.contains("--metrics-file") && c.metrics_file) {
      a.metrics_file = *c.metrics_file;
    }
    if (!a.given.contains("--xattrs") && c.xattrs) {
      a.xattrs = *c.xattrs;
    }
    if (!a.given.contains("--acls") && c.acls) {
      a.acls = *c.acls;
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
  if (a.key.empty() != a.authorized.empty()) {
    return fail(util::make_error(util::Errc::usage, "--key and --authorized go together"));
  }
  o.key = a.key;
  o.authorized = a.authorized;
  o.sign_key = a.sign_key;
  o.metrics_file = a.metrics_file;
  o.xattrs = (a.xattrs ? core::k_record_xattrs : 0U) | (a.acls ? core::k_record_acls : 0U);
  if (!a.metrics.empty()) {
    auto metrics = parse_address(a.metrics);
    if (!metrics || a.metrics.find(':') == std::string::npos) {
      return fail(
        util::make_error(util::Errc::usage, "--metrics: HOST:PORT, such as 127.0.0.1:9470"));
    }
    std::tie(o.metrics_host, o.metrics_port) = *metrics;
  }
  o.reload = &g_reload;
  if (!loopback(o.host) && !a.insecure && a.key.empty()) {
    return fail(util::make_error(util::Errc::usage,
                                 "serving on " + o.host +
                                   " without keys would let anyone who reaches it take the "
                                   "fleet's trees: give --key and --authorized, use a loopback "
                                   "address, or --insecure to accept that"));
  }
  if (!loopback(o.host) && a.key.empty()) {
    log_line(util::Level::warning,
             "serving without authentication or encryption on " + o.host + " (--insecure)");
  }
  catch_signals();
  net::ServiceNotifier service;
  o.service = &service;
  auto s = net::run_master(o, g_stop, log_line);
  return s ? 0 : fail(s.error());
}

} // namespace

void add_daemon_commands(CLI::App& app, Runner& selected)
{
  {
    auto a = std::make_shared<ServeArgs>();
    auto* cmd = app.add_subcommand("serve", "Run the master: publish channels to followers");
    const char* env = std::getenv("TREECAST_STORE");
    a->store = env != nullptr && *env != '\0' ? env : "/var/lib/treecast";
    cmd
      ->add_option("--config", a->config,
                   "A treecast.toml: its [serve] values, where no flag says otherwise "
                   "(default: /etc/treecast/treecast.toml if it exists; '' for none)")
      ->type_name("FILE");
    cmd->add_option("--store", a->store, "The store folder")->type_name("PATH");
    cmd->add_option("--channel", a->channels, "A channel and the folder it publishes, NAME=DIR")
      ->type_name("NAME=DIR");
    cmd->add_option("--bind", a->bind, "PUB on PORT, ROUTER on PORT+1 (default 127.0.0.1:7400)")
      ->type_name("ADDR[:PORT]");
    cmd->add_flag(
      "--insecure", a->insecure,
      "Allow an address other than loopback without keys: unauthenticated, unencrypted");
    cmd->add_option("--key", a->key, "This master's CURVE key file (treecast keygen)")
      ->type_name("FILE");
    cmd
      ->add_option("--authorized", a->authorized,
                   "The folder of the followers' public keys it admits, NAME.pub each; SIGHUP "
                   "reads it again")
      ->type_name("DIR");
    cmd
      ->add_option("--sign-key", a->sign_key,
                   "Sign every version it gives out with this key (treecast keygen --sign)")
      ->type_name("FILE");
    cmd->add_flag("--xattrs", a->xattrs,
                  "Record extended attributes in the versions it makes (user.*, trusted.*, "
                  "security.* but selinux)");
    cmd->add_flag("--acls", a->acls, "Record POSIX ACLs in the versions it makes");
    cmd
      ->add_option("--metrics", a->metrics,
                   "Answer Prometheus on http://HOST:PORT/metrics (any address: it shows "
                   "channels, follower names and versions, nothing more)")
      ->type_name("HOST:PORT");
    cmd
      ->add_option("--metrics-file", a->metrics_file,
                   "Rewrite the metrics into this file every 5 s (node_exporter's textfile "
                   "collector; name it *.prom)")
      ->type_name("FILE");
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
    auto name = std::make_shared<std::string>();
    auto dir = std::make_shared<std::string>(".");
    auto sign = std::make_shared<bool>(false);
    auto* cmd = app.add_subcommand(
      "keygen", "Make a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub");
    cmd->add_option("name", *name, "The key's name: a follower's id, or the master's")
      ->required()
      ->type_name("NAME");
    cmd->add_option("--dir", *dir, "Where to write them (default: the current folder)");
    cmd->add_flag("--sign", *sign,
                  "A signing key instead (Ed25519): NAME.sign (secret) and NAME.verify");
    cmd->callback([=, &selected] {
      selected = [=] {
        if (!wire::valid_name(*name)) {
          return fail(util::make_error(util::Errc::usage, "invalid key name " + util::quote(*name) +
                                                            ": use a follower id"));
        }
        if (*sign) {
          auto s = sync::write_signing_key(*dir, *name);
          if (!s) {
            return fail(s.error());
          }
          std::cout << util::join(*dir, *name) << ".sign and " << util::join(*dir, *name)
                    << ".verify\n";
          return 0;
        }
        auto k = net::write_keypair(*dir, *name);
        if (!k) {
          return fail(k.error());
        }
        std::cout << util::join(*dir, *name) << ".key and " << util::join(*dir, *name)
                  << ".pub: public key " << k->public_key << '\n';
        return 0;
      };
    });
  }
}

} // namespace treecast::cli
