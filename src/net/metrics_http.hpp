#pragma once

// serve --metrics HOST:PORT: a minimal HTTP/1.0 server on a ZeroMQ STREAM
// socket, in the master's loop, for Prometheus to scrape. GET /metrics
// (or /) gets the metrics; any other request 404 or 405; the connection
// closes after each answer. A request is read up to 8 KiB, from at most 64
// connections at once: a slow or hostile client costs a bounded buffer.

#include <zmq.hpp>

#include <functional>
#include <map>
#include <string>

namespace treecast::net {

class MetricsHttp
{
public:
  static constexpr std::size_t k_max_request = 8192;
  static constexpr std::size_t k_max_connections = 64;

  // Reads what arrived on the STREAM socket; answers whole requests with
  // body() (called only when a request asks for the metrics).
  void on_readable(zmq::socket_t& stream, const std::function<std::string()>& body);

private:
  void answer(zmq::socket_t& stream, const std::string& id, const std::string& status,
              const std::string& body);

  std::map<std::string, std::string> m_requests; // connection id -> bytes so far
};

} // namespace treecast::net
