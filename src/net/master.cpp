// The master daemon (treecast serve): its sockets, its loop, the
// followers' requests and the deltas it makes for them.

#include "master_daemon.hpp"
#include "net/control.hpp"
#include "net/sockets.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::net {

util::Status Master::run(const std::atomic<bool>& stop)
{
  zmq::context_t context;
  // With a key: CURVE on both sockets, and a ZAP handler, bound before
  // them, that admits the authorized keys only (without one, libzmq
  // would admit anyone who knows the server's key).
  zmq::socket_t zap(context, zmq::socket_type::rep);
  if (!m_options.key.empty()) {
    auto key = read_cert(m_options.key, true);
    if (!key) {
      return key.error();
    }
    m_key = *key;
    if (auto s = load_authorized(); !s) {
      return s;
    }
    zap.bind("inproc://zeromq.zap.01");
  }
  zmq::socket_t pub(context, zmq::socket_type::pub);
  zmq::socket_t router(context, zmq::socket_type::router);
  zmq::socket_t control(context, zmq::socket_type::router);
  zmq::socket_t metrics(context, zmq::socket_type::stream);
  for (zmq::socket_t* s : {&pub, &router, &control}) {
    set_common(*s);
  }
  router.set(zmq::sockopt::router_mandatory, 1);
  if (m_key) {
    for (zmq::socket_t* s : {&pub, &router}) {
      s->set(zmq::sockopt::curve_server, 1);
      s->set(zmq::sockopt::curve_secretkey, m_key->secret_key);
      s->set(zmq::sockopt::zap_domain, "treecast");
    }
  }
  const std::string control_path = m_options.store + "/control";
  try {
    pub.bind(tcp(m_options.host, m_options.port));
    router.bind(tcp(m_options.host, m_options.port + 1));
    (void)::unlink(control_path.c_str()); // one serve per store: the lock says so
    control.bind("ipc://" + control_path);
  } catch (const zmq::error_t& e) {
    return util::make_error(util::Errc::io, "cannot listen on " +
                                              tcp(m_options.host, m_options.port) + " and port " +
                                              std::to_string(m_options.port + 1) + ": " + e.what());
  }
  if (m_options.metrics_port != 0) {
    metrics.set(zmq::sockopt::linger, 0);
    metrics.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(MetricsHttp::k_max_request));
    try {
      metrics.bind(tcp(m_options.metrics_host, m_options.metrics_port));
    } catch (const zmq::error_t& e) {
      (void)::unlink(control_path.c_str()); // nothing answers there
      return util::make_error(
        util::Errc::io, "cannot listen for metrics on " +
                          tcp(m_options.metrics_host, m_options.metrics_port) + ": " + e.what());
    }
  }
  if (::chmod(control_path.c_str(), 0600) != 0) {
    return util::io_error(control_path, "cannot restrict", errno);
  }
  m_pub_socket = &pub;
  m_router = &router;
  m_control = &control;
  Worker worker(context);
  m_worker = &worker;
  m_log(util::Level::notice, "serving " + std::to_string(m_options.channels.size()) + " channel" +
                               (m_options.channels.size() == 1 ? "" : "s") + " on " +
                               tcp(m_options.host, m_options.port) + " (PUB) and port " +
                               std::to_string(m_options.port + 1) + " (ROUTER)");
  apply(m_pub.start(now_ms()));
  if (m_options.service != nullptr) {
    m_options.service->ready(0, "serving " + std::to_string(m_options.channels.size()) +
                                  " channel" + (m_options.channels.size() == 1 ? "" : "s"));
  }
  while (!stop.load()) {
    if (m_options.service != nullptr) {
      m_options.service->alive(0);
    }
    const auto ready = wait_any({&router, &control, &worker.wake(), &zap, &metrics});
    if (ready[0]) {
      on_router();
    }
    if (ready[1]) {
      on_control();
    }
    if (ready[2]) {
      worker.drain();
    }
    if (ready[3]) {
      on_zap(zap);
    }
    if (ready[4]) {
      m_http.on_readable(metrics, [this] { return metrics_text(); });
    }
    m_http.expire(metrics);
    if (!m_options.metrics_file.empty() && now_ms() >= m_next_metrics_file) {
      write_metrics_file();
    }
    if (m_options.reload != nullptr && m_options.reload->exchange(false) && m_key) {
      (void)load_authorized();
    }
    apply(m_pub.tick(now_ms()));
  }
  m_log(util::Level::notice, "stopping");
  if (m_options.service != nullptr) {
    m_options.service->stopping();
  }
  (void)::unlink(control_path.c_str());
  return {};
}

std::string Master::metrics_text() const
{
  return m_metrics.render(m_pub, m_source, m_names, now_ms());
}

// Written whole and renamed into place, so a reader (node_exporter's
// textfile collector) never sees half of it.
void Master::write_metrics_file()
{
  const std::string text = metrics_text();
  const auto s = util::write_file_atomic(
    m_options.metrics_file, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
    util::Durability::none);
  if (!s && !m_metrics_file_failed) {
    m_log(util::Level::warning, "cannot write the metrics: " + s.error().message);
  }
  m_metrics_file_failed = !s;
  m_next_metrics_file = now_ms() + 5000;
}

void Master::apply(sync::Outputs out)
{
  m_metrics.observe(out, now_ms());
  if (!out.ended.empty() && !m_options.metrics_file.empty()) {
    m_next_metrics_file = 1; // soon, with the transaction in it
  }
  for (const auto& p : out.publish) {
    publish(*m_pub_socket, p.channel, p.message);
  }
  for (const auto& r : out.replies) {
    (void)reply(*m_router, r.peer, r.message);
  }
  for (const auto& m : out.make) {
    make_delta(m);
  }
  for (const auto& r : out.ended) {
    ended(r);
  }
  for (const auto& line : out.log) {
    m_log(line.level, line.text);
  }
}

util::Status Master::load_authorized()
{
  auto n = m_zap.load(m_options.authorized);
  if (!n) {
    m_log(util::Level::error, "cannot read the authorized keys: " + n.error().message);
    return n.error();
  }
  m_log(util::Level::notice,
        std::to_string(*n) + " followers' keys authorized, from " + m_options.authorized);
  return {};
}

void Master::on_zap(zmq::socket_t& zap)
{
  if (auto refused = m_zap.answer(zap)) {
    // A refused peer retries every few seconds: a line a minute per key.
    const auto now = now_ms();
    auto& last = m_refused_logged[refused->second];
    if (last == 0 || now - last >= 60000) {
      last = now;
      m_log(util::Level::warning, "refused a connection from " + refused->first + ": key " +
                                    refused->second + " is not authorized");
    }
    if (m_refused_logged.size() > 10000) {
      m_refused_logged.clear();
    }
  }
}

void Master::on_router()
{
  for (int n = 0; n < 1000; ++n) {
    auto frames = receive(*m_router);
    if (!frames) {
      return;
    }
    auto& parts = frames->parts;
    if (parts.empty()) {
      continue;
    }
    const std::string peer = parts[0].to_string();
    if (!frames->whole || parts.size() != 3 || parts[1].size() != 0) {
      m_log(util::Level::debug, "dropped a request that is not [routing id][empty][message]");
      (void)reply(*m_router, peer,
                  wire::Error{wire::ErrorCode::malformed, "not one empty frame then a message"});
      continue;
    }
    auto message = wire::decode({parts[2].data<std::uint8_t>(), parts[2].size()});
    if (!message) {
      m_log(util::Level::debug, "dropped a malformed request: " + message.error().message);
      (void)reply(*m_router, peer,
                  wire::Error{wire::ErrorCode::malformed, message.error().message});
      continue;
    }
    // With keys, a follower is the name its key is authorized under,
    // whatever it says.
    if (m_key) {
      const char* user = zmq_msg_gets(parts[2].handle(), "User-Id");
      const std::string name = user != nullptr ? user : "";
      std::visit(
        [&](auto& m) {
          if constexpr (requires { m.follower; }) {
            m.follower = name;
          }
        },
        *message);
    }
    apply(m_pub.request(peer, *message, now_ms()));
  }
}

void Master::make_delta(const sync::MakeDelta& m)
{
  auto a = m_source.manifest(m.channel, m.from);
  auto b = m_source.manifest(m.channel, m.to);
  if (!a || !b) {
    apply(m_pub.delta_made(m, (a ? b : a).error().message, now_ms()));
    return;
  }
  const core::DeltaOptions options = m_source.options();
  m_worker->post([this, m, a = std::move(*a), b = std::move(*b), options]() -> Worker::Done {
    auto made = core::cached_delta(m_store, a, b, options, m_pool);
    std::string error = made ? std::string() : made.error().message;
    return [this, m, error] { apply(m_pub.delta_made(m, error, now_ms())); };
  });
}

std::string control_endpoint(const std::string& store)
{
  return "ipc://" + store + "/control";
}

util::Status run_master(const MasterOptions& options, const std::atomic<bool>& stop,
                        const LogLine& log)
{
  auto store = core::Store::open(options.store, core::Create::yes);
  if (!store) {
    return store.error();
  }
  // One master per store.
  const std::string lock_path = options.store + "/serve.lock";
  util::Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock || ::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return util::make_error(util::Errc::conflict,
                            "another treecast serve is running on " + util::quote(options.store));
  }
  std::vector<std::string> names;
  for (const auto& [name, dir] : options.channels) {
    if (auto s = core::validate_channel(name); !s) {
      return s.error();
    }
    names.push_back(name);
    (void)::mkdir(store->channel_dir(name).c_str(), 0755);
  }
  core::DeltaOptions delta_options;
  delta_options.level = options.level;
  auto source = sync::StoreSource::open(*store, names, delta_options);
  if (!source) {
    return source.error();
  }
  if (!options.sign_key.empty()) {
    auto key = sync::read_signing_key(options.sign_key);
    if (!key) {
      return key.error();
    }
    (*source)->sign_with(*key);
  }
  Master master(options, *store, **source, names, log);
  return master.run(stop);
}

} // namespace treecast::net
