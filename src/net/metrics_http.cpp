#include "metrics_http.hpp"

#include "net/sockets.hpp"

#include <vector>

namespace treecast::net {

void MetricsHttp::answer(zmq::socket_t& stream, const std::string& id, const std::string& status,
                         const std::string& body)
{
  const std::string response = "HTTP/1.0 " + status +
                               "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8"
                               "\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  try {
    if (stream.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)stream.send(zmq::buffer(response), zmq::send_flags::dontwait);
    }
    // An empty frame to the connection closes it.
    if (stream.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      (void)stream.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
    }
  } catch (const zmq::error_t&) {
    // The client went away.
  }
  m_requests.erase(id);
}

void MetricsHttp::expire(zmq::socket_t& stream)
{
  const auto now = std::chrono::steady_clock::now();
  std::vector<std::string> late;
  for (const auto& [id, request] : m_requests) {
    if (now - request.since > std::chrono::seconds(10)) {
      late.push_back(id);
    }
  }
  for (const auto& id : late) {
    answer(stream, id, "408 Request Timeout", "request not complete within 10 s\n");
  }
}

void MetricsHttp::on_readable(zmq::socket_t& stream, const std::function<std::string()>& body)
{
  for (int n = 0; n < 100; ++n) {
    auto frames = receive(stream, 2);
    if (!frames) {
      return;
    }
    if (!frames->whole || frames->parts.size() != 2) {
      continue;
    }
    const std::string id = frames->parts[0].to_string();
    const zmq::message_t& data = frames->parts[1];
    if (data.size() == 0) {
      // A connection opened or closed.
      m_requests.erase(id);
      continue;
    }
    if (!m_requests.contains(id) && m_requests.size() >= k_max_connections) {
      answer(stream, id, "503 Service Unavailable", "too many connections\n");
      continue;
    }
    auto [slot, fresh] = m_requests.try_emplace(id);
    if (fresh) {
      slot->second.since = std::chrono::steady_clock::now();
    }
    std::string& request = slot->second.bytes;
    request.append(data.data<char>(), std::min(data.size(), k_max_request + 1 - request.size()));
    const auto end = request.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (request.size() > k_max_request) {
        answer(stream, id, "431 Request Header Fields Too Large", "request too large\n");
      }
      continue;
    }
    const std::string line = request.substr(0, request.find("\r\n"));
    if (line.rfind("GET ", 0) != 0 && line.rfind("HEAD ", 0) != 0) {
      answer(stream, id, "405 Method Not Allowed", "GET /metrics\n");
      continue;
    }
    const auto path_end = line.find(' ', line.find(' ') + 1);
    const std::string path = line.substr(line.find(' ') + 1, path_end - line.find(' ') - 1);
    if (path != "/metrics" && path != "/") {
      answer(stream, id, "404 Not Found", "GET /metrics\n");
      continue;
    }
    answer(stream, id, "200 OK", line.rfind("HEAD ", 0) == 0 ? "" : body());
  }
}

} // namespace treecast::net
