#pragma once

// Signed versions (treecast(1), SECURITY): the master signs each version it
// publishes, (channel, number, id), with an Ed25519 key; a follower stages
// only versions signed by a key it trusts, whoever relayed them.
//
//   NAME.sign     secret-key = "HEX" and public-key = "HEX", mode 0600
//   NAME.verify   public-key = "HEX"

#include "util/result.hpp"
#include "wire/messages.hpp"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace treecast::sync {

using VerifyKey = std::array<std::uint8_t, 32>;

struct SigningKey
{
  std::array<std::uint8_t, 64> secret{};
  VerifyKey pub{};
};

// Makes a key pair: DIR/NAME.sign and DIR/NAME.verify, never overwritten.
[[nodiscard]] util::Result<SigningKey> write_signing_key(const std::string& dir,
                                                         const std::string& name);
[[nodiscard]] util::Result<SigningKey> read_signing_key(const std::string& path);
[[nodiscard]] util::Result<VerifyKey> read_verify_key(const std::string& path);

// The signature of a version of channel (64 bytes).
[[nodiscard]] std::vector<std::uint8_t> sign_version(const SigningKey& key,
                                                     const std::string& channel,
                                                     const wire::VersionRef& v);
// Whether signature is one of keys' over that version.
[[nodiscard]] bool verify_version(const std::vector<VerifyKey>& keys, const std::string& channel,
                                  const wire::VersionRef& v,
                                  const std::vector<std::uint8_t>& signature);

} // namespace treecast::sync
