#pragma once

// ZeroMQ sockets as treecast sets them up (man/treecast-protocol.7,
// SOCKETS AND FRAMES), and framing of the protocol's messages on them.

#include "wire/codec.hpp"

#include <zmq.hpp>

#include <optional>
#include <string>
#include <vector>

namespace treecast::net {

// The options every treecast socket has: a bound on message size, no
// lingering at close, libzmq heartbeats so dead links are found.
void set_common(zmq::socket_t& socket);

// The frames of one message, at most max_frames (more: the rest are read
// and dropped, and the message is not whole).
struct Frames
{
  std::vector<zmq::message_t> parts;
  bool whole = true;
};
[[nodiscard]] std::optional<Frames> receive(zmq::socket_t& socket, std::size_t max_frames = 4);

// PUB: [channel][message].
void publish(zmq::socket_t& pub, const std::string& channel, const wire::Message& message);
// ROUTER: [routing id][empty][message]. False when the peer is gone.
bool reply(zmq::socket_t& router, const std::string& peer, const wire::Message& message);
// DEALER: [empty][message].
void request(zmq::socket_t& dealer, const wire::Message& message);

std::string tcp(const std::string& host, int port);

// Waits up to 100 ms for any of the sockets; which are readable, in their
// order. A signal ends the wait early (and the loop then sees its stop
// flag).
[[nodiscard]] std::vector<bool> wait_any(const std::vector<zmq::socket_t*>& sockets);

// A monotonic clock for the engines, in milliseconds.
[[nodiscard]] std::int64_t now_ms();

} // namespace treecast::net
