#include "sockets.hpp"

#include <cerrno>
#include <chrono>

namespace treecast::net {

void set_common(zmq::socket_t& socket)
{
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::k_max_message + 1024));
  socket.set(zmq::sockopt::heartbeat_ivl, 2000);
  socket.set(zmq::sockopt::heartbeat_timeout, 6000);
  socket.set(zmq::sockopt::heartbeat_ttl, 6000);
}

std::optional<Frames> receive(zmq::socket_t& socket, std::size_t max_frames)
{
  Frames f;
  for (;;) {
    zmq::message_t part;
    if (!socket.recv(part, zmq::recv_flags::dontwait)) {
      return f.parts.empty() ? std::nullopt : std::optional<Frames>(std::move(f));
    }
    const bool more = part.more();
    if (f.parts.size() < max_frames) {
      f.parts.push_back(std::move(part));
    } else {
      f.whole = false;
    }
    if (!more) {
      return f;
    }
  }
}

void publish(zmq::socket_t& pub, const std::string& channel, const wire::Message& message)
{
  const auto bytes = wire::encode(message);
  (void)pub.send(zmq::buffer(channel), zmq::send_flags::sndmore);
  (void)pub.send(zmq::buffer(bytes), zmq::send_flags::none);
}

bool reply(zmq::socket_t& router, const std::string& peer, const wire::Message& message)
{
  const auto bytes = wire::encode(message);
  try {
    if (!router.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return false;
    }
    (void)router.send(zmq::const_buffer("", 0), zmq::send_flags::sndmore);
    (void)router.send(zmq::buffer(bytes), zmq::send_flags::none);
  } catch (const zmq::error_t&) {
    return false; // EHOSTUNREACH: the peer is gone
  }
  return true;
}

void request(zmq::socket_t& dealer, const wire::Message& message)
{
  const auto bytes = wire::encode(message);
  (void)dealer.send(zmq::const_buffer("", 0), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  (void)dealer.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
}

std::vector<bool> wait_any(const std::vector<zmq::socket_t*>& sockets)
{
  std::vector<zmq::pollitem_t> items;
  for (zmq::socket_t* s : sockets) {
    items.push_back({s->handle(), 0, ZMQ_POLLIN, 0});
  }
  std::vector<bool> ready(sockets.size(), false);
  try {
    zmq::poll(items, std::chrono::milliseconds(100));
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) {
      throw;
    }
    return ready;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    ready[i] = (items[i].revents & ZMQ_POLLIN) != 0;
  }
  return ready;
}

std::int64_t now_ms()
{
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

std::string tcp(const std::string& host, int port)
{
  return "tcp://" + host + ":" + std::to_string(port);
}

} // namespace treecast::net
