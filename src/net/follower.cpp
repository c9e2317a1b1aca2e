#include "follower.hpp"

#include "net/keys.hpp"
#include "net/sockets.hpp"
#include "net/worker.hpp"
#include "sync/subscriber.hpp"
#include "util/executor.hpp"
#include "util/file.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <random>
#include <thread>
#include <unistd.h>
#include <utility>

namespace treecast::net {

namespace {

class Follower
{
public:
  Follower(const FollowerOptions& options, sync::TreeReplica& replica, const LogLine& log)
    : m_options(options), m_replica(replica),
      m_sub(replica, sync::SubscriberOptions{.follower = options.id,
                                             .channel = options.tree.channel,
                                             .group = options.group}),
      m_log(log)
  {
  }

  int run(const std::atomic<bool>& stop)
  {
    zmq::context_t context;
    zmq::socket_t sub(context, zmq::socket_type::sub);
    zmq::socket_t dealer(context, zmq::socket_type::dealer);
    // Reconnects start after a random delay and back off up to 5 s, so a
    // fleet does not come back all at once.
    std::random_device random;
    const int first = 100 + static_cast<int>(random() % 400);
    for (zmq::socket_t* s : {&sub, &dealer}) {
      set_common(*s);
      s->set(zmq::sockopt::reconnect_ivl, first);
      s->set(zmq::sockopt::reconnect_ivl_max, 5000);
    }
    if (!m_options.key.empty()) {
      auto mine = read_cert(m_options.key, true);
      auto master = mine ? read_cert(m_options.master_key, false) : mine;
      if (!master) {
        m_log(util::Level::error, master.error().message);
        return k_exit_unreachable;
      }
      for (zmq::socket_t* s : {&sub, &dealer}) {
        s->set(zmq::sockopt::curve_serverkey, master->public_key);
        s->set(zmq::sockopt::curve_publickey, mine->public_key);
        s->set(zmq::sockopt::curve_secretkey, mine->secret_key);
      }
    }
    sub.set(zmq::sockopt::subscribe, m_options.tree.channel);
    try {
      sub.connect(tcp(m_options.host, m_options.port));
      dealer.connect(tcp(m_options.host, m_options.port + 1));
    } catch (const zmq::error_t& e) {
      m_log(util::Level::error,
            "cannot reach " + tcp(m_options.host, m_options.port) + ": " + e.what());
      return k_exit_unreachable;
    }
    m_dealer = &dealer;
    // However the loop ends, the master hears that this follower leaves.
    struct Leave
    {
      Follower& follower;
      zmq::socket_t& dealer;
      ~Leave() { follower.leave(dealer); }
    } leave_on_exit{*this, dealer};
    // The pool outlives the worker, whose jobs use it.
    util::ThreadPool pool(2);
    m_pool = &pool;
    Worker worker(context);
    m_worker = &worker;
    if (!m_replica.recovered().empty()) {
      m_log(util::Level::notice, m_options.tree.dir + ": " + m_replica.recovered());
    }
    const sync::Millis started = now_ms();
    apply(m_sub.start(started));
    if (m_options.service != nullptr) {
      m_options.service->ready(m_options.loop, shown_state());
    }
    while (!stop.load()) {
      if (m_options.service != nullptr) {
        m_options.service->alive(m_options.loop);
      }
      const auto ready = wait_any({&sub, &dealer, &worker.wake()});
      if (ready[0]) {
        on_sub(sub);
      }
      if (ready[1]) {
        on_dealer(dealer);
      }
      if (ready[2]) {
        worker.drain();
      }
      apply(m_sub.tick(now_ms()));
      maybe_run_deferred_exec();
      if (m_options.progress && m_sub.phase() == sync::Subscriber::Phase::fetching) {
        m_options.progress(m_replica.spooled(), m_replica.spool_total());
      }
      if (!m_options.once && now_ms() >= m_next_status) {
        write_status();
        m_next_status = now_ms() + 2000;
      }
      if (m_options.once) {
        if (m_failed) {
          return k_exit_not_in_step;
        }
        if (m_sub.unknown_channel() && !m_sub.heard()) {
          m_log(util::Level::error, "the master at " + tcp(m_options.host, m_options.port + 1) +
                                      " serves no channel " + m_options.tree.channel);
          return k_exit_not_in_step;
        }
        if (m_sub.heard() && m_sub.settled() && worker.idle() &&
            m_replica.version() == m_sub.target()) {
          return 0;
        }
        if (now_ms() - started > m_options.deadline.count()) {
          m_log(util::Level::error,
                m_sub.heard()
                  ? "not in step with the master before the deadline"
                  : "no answer from the master at " + tcp(m_options.host, m_options.port + 1));
          return m_sub.heard() ? k_exit_not_in_step : k_exit_unreachable;
        }
      }
    }
    if (m_options.service != nullptr) {
      m_options.service->stopping();
    }
    return m_options.once ? k_exit_interrupted : 0;
  }

private:
  void apply(sync::FollowerOutputs out)
  {
    for (const auto& m : out.send) {
      request(*m_dealer, m);
    }
    for (const auto& a : out.actions) {
      // The replica runs one thing at a time: actions wait for a deferred
      // reload in progress, and go when it is done.
      if (m_exec_running) {
        m_held.push_back(a);
      } else {
        post(a);
      }
    }
    for (const auto& line : out.log) {
      m_log(line.level, line.text);
    }
  }

  // STATE/follow.status: what treecast status --dir shows while this runs.
  void post(const sync::Action& a)
  {
    m_worker->post([this, a]() -> Worker::Done {
      std::string error = m_replica.run(a, *m_pool);
      return [this, a, error] {
        m_replica.settle();
        for (const auto& line : m_replica.take_log()) {
          m_log(line.level, line.text);
        }
        if (!error.empty() && m_options.once && a.kind == sync::Action::Kind::apply) {
          m_log(util::Level::error, error);
          m_failed = true;
        }
        apply(m_sub.done(a, error, now_ms()));
      };
    });
  }

  // --exec-splay: a reload owed is planned at a random moment within the
  // splay, from when it is first seen (after a commit, or at start for one
  // a stopped daemon owed), and runs when the worker has nothing else.
  void maybe_run_deferred_exec()
  {
    if (!m_replica.exec_pending()) {
      m_exec_at = 0;
      return;
    }
    const sync::Millis now = now_ms();
    if (m_exec_at == 0) {
      const auto splay = std::max<std::int64_t>(1, m_options.exec_splay.count());
      m_exec_at = now + std::uniform_int_distribution<sync::Millis>(0, splay - 1)(m_random);
    }
    if (now < m_exec_at || !m_worker->idle() || m_exec_running) {
      return;
    }
    m_exec_running = true;
    m_worker->post([this]() -> Worker::Done {
      m_replica.run_deferred_exec();
      return [this] {
        m_exec_running = false;
        m_exec_at = 0;
        m_replica.settle();
        for (const auto& line : m_replica.take_log()) {
          m_log(line.level, line.text);
        }
        for (const auto& a : std::exchange(m_held, {})) {
          post(a);
        }
      };
    });
  }

  // The last HELLO, which says it leaves; given a moment to go out.
  void leave(zmq::socket_t& dealer)
  {
    try {
      dealer.set(zmq::sockopt::linger, 300);
      for (const auto& m : m_sub.leave().send) {
        request(dealer, m);
      }
    } catch (const zmq::error_t&) {
      // The master will count it gone after a few seconds anyway.
    }
  }

  // systemctl status: "nginx at v5", or what it is doing.
  std::string shown_state() const
  {
    const char* doing[] = {"", ", fetching", ", staging", ", voted", ", finishing"};
    return m_options.tree.channel + " at v" + std::to_string(m_replica.version().number) +
           doing[static_cast<int>(m_sub.phase())];
  }

  void write_status()
  {
    if (m_options.service != nullptr) {
      m_options.service->status(m_options.loop, shown_state());
    }
    const char* phases[] = {"idle", "fetching", "staging", "voted", "finishing"};
    nlohmann::json j{{"channel", m_options.tree.channel},
                     {"id", m_options.id},
                     {"master", m_options.host + ":" + std::to_string(m_options.port)},
                     {"pid", ::getpid()},
                     {"version", m_replica.version().number},
                     {"master_committed", m_sub.master_committed().number},
                     {"phase", phases[static_cast<int>(m_sub.phase())]},
                     {"last_heard", m_last_heard}};
    const std::string text = j.dump() + "\n";
    (void)util::write_file_atomic(m_replica.state_dir() + "/follow.status",
                                  {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                                  util::Durability::none);
  }

  void deliver(const zmq::message_t& body)
  {
    m_last_heard = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
    auto message = wire::decode({body.data<std::uint8_t>(), body.size()});
    if (!message) {
      m_log(util::Level::debug, "dropped a malformed message: " + message.error().message);
      return;
    }
    apply(m_sub.receive(*message, now_ms()));
  }

  void on_sub(zmq::socket_t& sub)
  {
    for (int n = 0; n < 1000; ++n) {
      auto frames = receive(sub);
      if (!frames) {
        return;
      }
      // The subscription matches a prefix: the topic must be the channel.
      if (frames->whole && frames->parts.size() == 2 &&
          frames->parts[0].to_string() == m_options.tree.channel) {
        deliver(frames->parts[1]);
      }
    }
  }

  void on_dealer(zmq::socket_t& dealer)
  {
    for (int n = 0; n < 1000; ++n) {
      auto frames = receive(dealer);
      if (!frames) {
        return;
      }
      if (frames->whole && frames->parts.size() == 2 && frames->parts[0].size() == 0) {
        deliver(frames->parts[1]);
      } else {
        m_log(util::Level::debug, "dropped a reply that is not [empty][message]");
      }
    }
  }

  const FollowerOptions& m_options;
  sync::TreeReplica& m_replica;
  sync::Subscriber m_sub;
  const LogLine& m_log;
  zmq::socket_t* m_dealer = nullptr;
  Worker* m_worker = nullptr;
  util::ThreadPool* m_pool = nullptr;
  bool m_failed = false;
  sync::Millis m_next_status = 0;
  sync::Millis m_exec_at = 0; // when the reload owed runs (0: none planned)
  bool m_exec_running = false;
  std::vector<sync::Action> m_held; // actions that wait for the reload
  // Seeded per process: each follower of a fleet draws its own splay.
  std::mt19937_64 m_random{std::random_device{}()};
  std::int64_t m_last_heard = 0; // seconds since the epoch; 0: never
};

} // namespace

util::Result<int> run_follower(const FollowerOptions& options, const std::atomic<bool>& stop,
                               const LogLine& log)
{
  if (!wire::valid_name(options.id)) {
    return util::make_error(util::Errc::usage,
                            "invalid follower id " + util::quote(options.id) +
                              ": use 1 to 128 letters, digits, '.', '_' or '-', starting with a "
                              "letter or digit");
  }
  if (options.key.empty() != options.master_key.empty()) {
    return util::make_error(util::Errc::usage, "--key and --master-key go together");
  }
  if (!options.key.empty()) {
    if (auto k = read_cert(options.key, true); !k) {
      return k.error();
    }
    if (auto k = read_cert(options.master_key, false); !k) {
      return k.error();
    }
  }
  sync::TreeReplicaOptions tree = options.tree;
  tree.cancel = &stop;
  auto replica = sync::TreeReplica::open(tree);
  if (!replica) {
    return replica.error();
  }
  Follower follower(options, **replica, log);
  return follower.run(stop);
}

util::Result<int> run_followers(const std::vector<FollowerOptions>& channels,
                                const std::atomic<bool>& stop, const LogLine& log)
{
  if (channels.size() == 1) {
    return run_follower(channels[0], stop, log);
  }
  std::mutex mutex;
  const LogLine locked = [&](util::Level level, const std::string& line) {
    std::lock_guard lock(mutex);
    log(level, line);
  };
  std::atomic<bool> stop_all{false};
  std::atomic<std::size_t> running{channels.size()};
  std::vector<util::Result<int>> codes(channels.size(), 0);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    threads.emplace_back([&, i] {
      FollowerOptions o = channels[i];
      o.loop = i;
      codes[i] = run_follower(o, stop_all, locked);
      if (!codes[i] || *codes[i] != 0) {
        stop_all.store(true);
      }
      --running;
    });
  }
  while (running.load() > 0) {
    if (stop.load()) {
      stop_all.store(true);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (std::thread& t : threads) {
    t.join();
  }
  int worst = 0;
  for (const auto& c : codes) {
    if (!c) {
      return c.error();
    }
    worst = std::max(worst, *c);
  }
  return worst;
}

} // namespace treecast::net
