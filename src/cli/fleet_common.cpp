#include "fleet_common.hpp"

#include "net/master.hpp"
#include "util/file.hpp"

#include <zmq.hpp>

#include <csignal>
#include <ctime>
#include <fcntl.h>
#include <iostream>
#include <sys/file.h>
#include <unistd.h>

namespace treecast::cli {

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};

namespace {

void on_signal(int signal)
{
  (signal == SIGHUP ? g_reload : g_stop).store(true);
}

} // namespace

void catch_signals()
{
  struct sigaction sa
  {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
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

} // namespace treecast::cli
