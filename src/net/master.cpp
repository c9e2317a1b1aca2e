#include "master.hpp"

#include "core/snapshot.hpp"
#include "core/version_spec.hpp"
#include "net/control.hpp"
#include "net/keys.hpp"
#include "net/sockets.hpp"
#include "net/worker.hpp"
#include "sync/publisher.hpp"
#include "sync/store_source.hpp"
#include "util/executor.hpp"
#include "util/file.hpp"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::net {

namespace {

class Master
{
public:
  Master(const MasterOptions& options, core::Store& store, sync::StoreSource& source,
         std::vector<std::string> names, const LogLine& log)
    : m_options(options), m_store(store), m_source(source), m_pub(source, std::move(names)),
      m_log(log), m_pool(std::max(1U, options.jobs))
  {
  }

  util::Status run(const std::atomic<bool>& stop)
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
      return util::make_error(
        util::Errc::io, "cannot listen on " + tcp(m_options.host, m_options.port) + " and port " +
                          std::to_string(m_options.port + 1) + ": " + e.what());
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
      const auto ready = wait_any({&router, &control, &worker.wake(), &zap});
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

private:
  void apply(sync::Outputs out)
  {
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
      const auto waiting = m_pushes.find(r.channel);
      if (waiting != m_pushes.end()) {
        answer(waiting->second, report_json(r));
        m_pushes.erase(waiting);
      }
    }
    for (const auto& line : out.log) {
      m_log(line.level, line.text);
    }
  }

  util::Status load_authorized()
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

  void on_zap(zmq::socket_t& zap)
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

  void on_router()
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

  void answer(const std::string& peer, const nlohmann::json& j)
  {
    const std::string text = dump(j);
    try {
      (void)m_control->send(zmq::buffer(peer),
                            zmq::send_flags::sndmore | zmq::send_flags::dontwait);
      (void)m_control->send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
      (void)m_control->send(zmq::buffer(text), zmq::send_flags::none);
    } catch (const zmq::error_t&) {
      // The client went away; the transaction stands.
    }
  }

  void on_control()
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

  void control(const std::string& peer, const nlohmann::json& request)
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

  void push(const std::string& peer, const std::string& channel, const nlohmann::json& request)
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
    m_max_delete[channel] = max_delete;
    m_pushes[channel] = peer;
    core::SnapshotOptions options;
    options.channel = channel;
    options.message = request.value("message", "");
    if (const auto e = m_options.excludes.find(channel); e != m_options.excludes.end()) {
      options.excludes = e->second;
    }
    const std::string dir = m_options.channels.at(channel);
    if (request.value("command", "") == "rollback") {
      // An earlier version's tree, recorded again as the next version.
      const std::string to = request.value("to", "");
      m_worker->post([this, to, p]() -> Worker::Done {
        auto number = core::resolve_version(m_store, p.channel, to);
        auto earlier = number ? m_store.read_manifest(p.channel, *number)
                              : util::Result<core::Manifest>(number.error());
        auto again =
          earlier ? core::republish(m_store, *earlier, "rollback to v" + std::to_string(*number))
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

  void snapped(sync::PushRequest p, core::Manifest manifest)
  {
    p.version = sync::version_of(manifest);
    const auto committed = m_source.committed(p.channel, 1);
    const wire::VersionRef prior = committed.empty() ? wire::VersionRef{} : committed.front();
    if (prior == p.version) {
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
      const auto q = parse_limit(limit);
      const std::size_t allowed = q->first ? from->entries.size() * q->second / 100 : q->second;
      if (gone > allowed) {
        fail_push(p.channel, "v" + std::to_string(p.version.number) + " deletes " +
                               std::to_string(gone) + " of the " +
                               std::to_string(from->entries.size()) + " entries of v" +
                               std::to_string(prior.number) + ", more than --max-delete " + limit +
                               " allows; nothing was pushed");
        return;
      }
    }
    if (m_source.delta_size(p.channel, prior, p.version)) {
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

  void begin(const sync::PushRequest& p)
  {
    auto out = m_pub.begin(p, now_ms());
    if (!out) {
      fail_push(p.channel, out.error().message);
      return;
    }
    apply(std::move(*out));
  }

  void fail_push(const std::string& channel, const std::string& error)
  {
    m_log(util::Level::error, channel + ": push failed: " + error);
    const auto waiting = m_pushes.find(channel);
    if (waiting != m_pushes.end()) {
      answer(waiting->second, {{"result", "error"}, {"error", error}});
      m_pushes.erase(waiting);
    }
  }

  void make_delta(const sync::MakeDelta& m)
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
  std::map<std::string, std::string> m_pushes;          // channel -> the control peer waiting
  std::map<std::string, std::string> m_max_delete;      // channel -> its push's --max-delete
  std::optional<Keypair> m_key;                         // the master's, with --key
  ZapHandler m_zap;                                     // the authorized keys
  std::map<std::string, std::int64_t> m_refused_logged; // key -> when last logged
};

} // namespace

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
