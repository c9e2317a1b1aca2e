#pragma once

// serve --metrics HOST:PORT: a minimal HTTP/1.0 server on a ZeroMQ STREAM
// socket, in the master's loop, for Prometheus to scrape. GET /metrics
// (or /) gets the metrics; any other request 404 or 405; the connection
// closes after each answer. A request is read up to 8 KiB, from at most 64
// connections at once: a slow or hostile client costs a bounded buffer.

#include <zmq.hpp>

#include <chrono>
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
  // Closes connections whose request has not come whole within 10 s, so
  // idle clients cannot hold every slot.
  void expire(zmq::socket_t& stream);

private:
  void answer(zmq::socket_t& stream, const std::string& id, const std::string& status,
              const std::string& body);

  struct Request
  {
    std::string bytes;
    std::chrono::steady_clock::time_point since;
  };
  std::map<std::string, Request> m_requests; // by connection id
};

} // namespace treecast::net
