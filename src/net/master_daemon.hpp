#pragma once

// The master daemon's insides (treecast serve), shared by master.cpp (its
// sockets and loop) and master_control.cpp (push, rollback, status and
// abort from the control socket). Only those two include it.

#include "core/snapshot.hpp"
#include "net/keys.hpp"
#include "net/master.hpp"
#include "net/metrics.hpp"
#include "net/metrics_http.hpp"
#include "net/worker.hpp"
#include "sync/publisher.hpp"
#include "sync/store_source.hpp"
#include "util/executor.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace treecast::net {

class Master
{
public:
  Master(const MasterOptions& options, core::Store& store, sync::StoreSource& source,
         std::vector<std::string> names, const LogLine& log)
    : m_options(options), m_store(store), m_source(source), m_pub(source, names), m_log(log),
      m_pool(std::max(1U, options.jobs)), m_names(std::move(names))
  {
  }

  // Its sockets and loop (master.cpp).
  util::Status run(const std::atomic<bool>& stop);

private:
  void apply(sync::Outputs out);
  util::Status load_authorized();
  void on_zap(zmq::socket_t& zap);
  void on_router();
  void make_delta(const sync::MakeDelta& m);
  std::string metrics_text() const;
  void write_metrics_file();

  // The control socket (master_control.cpp).
  void answer(const std::string& peer, const nlohmann::json& j);
  void on_control();
  void control(const std::string& peer, const nlohmann::json& request);
  void push(const std::string& peer, const std::string& channel, const nlohmann::json& request);
  void snapped(sync::PushRequest p, core::Manifest manifest);
  void begin(const sync::PushRequest& p);
  void fail_push(const std::string& channel, const std::string& error);
  void ended(const sync::TxnReport& r);
  void dry_run(const std::string& peer, const std::string& dir,
               const core::SnapshotOptions& options, const std::string& max_delete);

  const MasterOptions& m_options;
  core::Store& m_store;
  sync::StoreSource& m_source;
  sync::Publisher m_pub;
  const LogLine& m_log;
  util::ThreadPool m_pool;
  zmq::socket_t* m_pub_socket = nullptr;
  zmq::socket_t* m_router = nullptr;
  zmq::socket_t* m_control = nullptr;
  Worker* m_worker = nullptr;
  std::map<std::string, std::string> m_pushes;     // channel -> the control peer waiting
  std::map<std::string, std::string> m_max_delete; // channel -> its push's --max-delete
  // push --canary, per channel: its stage (1 the canaries, 2 their
  // rollback, 3 the rest of the fleet), the version the canaries left,
  // and their transaction's report.
  struct CanaryPush
  {
    sync::PushRequest push;
    wire::VersionRef prior;
    int stage = 1;
    nlohmann::json canaries;
    std::string why;
  };
  std::map<std::string, CanaryPush> m_canaries;
  std::optional<Keypair> m_key;                         // the master's, with --key
  ZapHandler m_zap;                                     // the authorized keys
  std::map<std::string, std::int64_t> m_refused_logged; // key -> when last logged
  std::vector<std::string> m_names;                     // the channels
  MasterMetrics m_metrics;
  MetricsHttp m_http;
  sync::Millis m_next_metrics_file = 0;
  bool m_metrics_file_failed = false; // warned once, until it works again
};

} // namespace treecast::net
