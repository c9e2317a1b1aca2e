#pragma once

// The master daemon (treecast serve): the Publisher on a store, bound to
// ZeroMQ. PUB on PORT and ROUTER on PORT+1 for the followers
// (man/treecast-protocol.7); a control socket, ipc://STORE/control (mode
// 0600), through which push, status and abort talk to it. Snapshots and
// deltas are made on a worker thread; the loop only routes.

#include "net/service.hpp"
#include "util/log.hpp"
#include "util/result.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace treecast::net {

struct MasterOptions
{
  std::string store;
  std::map<std::string, std::string> channels;              // name -> the folder it publishes
  std::map<std::string, std::vector<std::string>> excludes; // per channel
  std::string host = "127.0.0.1";
  int port = 7400;
  unsigned jobs = 2; // threads for snapshots and deltas
  // The zstd level of the deltas it makes (0: chosen per frame, as treecast
  // delta does). A delta is made once per push and its cost is the
  // master's: 12 makes typescript 5.3.3 -> 5.6.3 in a fifth of the CPU of
  // the per-frame choice, 8% larger (tools/bench/fleet.sh).
  int level = 12;
  // CURVE: the master's key file, and the folder of the followers' public
  // keys it admits (empty: no keys, loopback only).
  std::string key;
  std::string authorized;
  std::atomic<bool>* reload = nullptr; // set: read authorized again (SIGHUP)
  // Ed25519: the key every version it gives out is signed with (empty: none).
  std::string sign_key;
  // Extended attributes and POSIX ACLs its snapshots record
  // (core/xattrs.hpp; 0: none).
  unsigned xattrs = 0;
  ServiceNotifier* service = nullptr; // systemd: ready, watchdog, stopping
  // Prometheus: an HTTP endpoint (metrics_port 0: none) and a file
  // rewritten every few seconds (empty: none).
  std::string metrics_host = "127.0.0.1";
  int metrics_port = 0;
  std::string metrics_file;
};

// Where the daemons' log lines go, with their level (src/cli decides).
using LogLine = util::LogFn;

// Runs until stop is set. An error: it could not start (the store, the
// lock, an address).
[[nodiscard]] util::Status run_master(const MasterOptions& options, const std::atomic<bool>& stop,
                                      const LogLine& log);

// The control socket of a store, and what it says (JSON requests and
// replies; see treecast(1), serve).
std::string control_endpoint(const std::string& store);

} // namespace treecast::net
