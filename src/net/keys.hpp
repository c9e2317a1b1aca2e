#pragma once

// CURVE keys (treecast keygen; serve --key --authorized; follow --key
// --master-key), in ZeroMQ's certificate text format (zcert: Z85 keys, as
// czmq and other ZeroMQ tools read them):
//
//   NAME.key   public and secret key, mode 0600
//   NAME.pub   public key
//
// An authorized folder holds one NAME.pub per follower: the follower's id
// is the file's NAME.

#include "util/result.hpp"

#include <zmq.hpp>

#include <map>
#include <optional>
#include <string>
#include <utility>

namespace treecast::net {

struct Keypair
{
  std::string public_key; // Z85, 40 characters
  std::string secret_key; // Z85, 40 characters; empty in a .pub
};

// Makes a new key pair and writes DIR/NAME.key and DIR/NAME.pub; refuses
// to overwrite either.
[[nodiscard]] util::Result<Keypair> write_keypair(const std::string& dir, const std::string& name);
// Reads a certificate: secret false for a .pub (public key only).
[[nodiscard]] util::Result<Keypair> read_cert(const std::string& path, bool secret);
// The public keys of a folder of NAME.pub files: key -> NAME.
[[nodiscard]] util::Result<std::map<std::string, std::string>> read_authorized(
  const std::string& dir);

// A master's ZAP handler (rfc.zeromq.org/spec/27): a CURVE client whose
// public key is authorized is admitted under the key's name; anything else
// is refused.
class ZapHandler
{
public:
  // Reads the authorized folder; the number of keys.
  [[nodiscard]] util::Result<std::size_t> load(const std::string& dir);
  // Answers one request from zap (a REP socket on inproc://zeromq.zap.01);
  // for a refused key, the peer's address and the key.
  std::optional<std::pair<std::string, std::string>> answer(zmq::socket_t& zap);

private:
  std::map<std::string, std::string> m_keys; // public key -> name
};

} // namespace treecast::net
