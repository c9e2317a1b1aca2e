#include "signing.hpp"

#include "util/bytes.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::sync {

namespace {

// What is signed: a context, the channel, the number and the id.
std::vector<std::uint8_t> signed_bytes(const std::string& channel, const wire::VersionRef& v)
{
  util::ByteWriter w;
  w.raw("treecast version signature 1");
  w.u8(0);
  w.str(channel);
  w.u64le(v.number);
  w.bytes(v.id.bytes);
  return w.take();
}

std::string hex(const std::uint8_t* data, std::size_t n)
{
  std::string out(n * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), data, n);
  out.pop_back();
  return out;
}

// The HEX of a line `name = "HEX"`, into out (exactly out.size() bytes).
bool read_hex(const std::string& text, const char* name, std::span<std::uint8_t> out)
{
  const std::string prefix = std::string(name) + " = \"";
  const auto at = text.find(prefix);
  if (at == std::string::npos) {
    return false;
  }
  const auto start = at + prefix.size();
  const auto end = text.find('"', start);
  if (end == std::string::npos || end - start != out.size() * 2) {
    return false;
  }
  std::size_t len = 0;
  return sodium_hex2bin(out.data(), out.size(), text.data() + start, end - start, nullptr, &len,
                        nullptr) == 0 &&
         len == out.size();
}

bool ready()
{
  static const bool ok = sodium_init() >= 0;
  return ok;
}

} // namespace

util::Result<SigningKey> write_signing_key(const std::string& dir, const std::string& name)
{
  if (!ready()) {
    return util::make_error(util::Errc::io, "libsodium cannot start");
  }
  SigningKey k;
  crypto_sign_keypair(k.pub.data(), k.secret.data());
  if (auto s = util::make_dirs(dir); !s) {
    return s.error();
  }
  const std::string base = util::join(dir, name);
  const std::string pub = "public-key = \"" + hex(k.pub.data(), k.pub.size()) + "\"\n";
  if (auto s = util::write_new_file(
        base + ".sign",
        "# treecast signing key (Ed25519), secret: it stays on the master\n" + pub +
          "secret-key = \"" + hex(k.secret.data(), k.secret.size()) + "\"\n",
        0600);
      !s) {
    return s.error();
  }
  if (auto s = util::write_new_file(
        base + ".verify", "# treecast verifying key (Ed25519): followers trust it\n" + pub, 0644);
      !s) {
    return s.error();
  }
  return k;
}

util::Result<SigningKey> read_signing_key(const std::string& path)
{
  auto bytes = util::read_file(path, 64 * 1024);
  if (!bytes) {
    return bytes.error();
  }
  if (auto s = util::check_owner_only(path, "a signing key"); !s) {
    return s.error();
  }
  const std::string text(bytes->begin(), bytes->end());
  SigningKey k;
  if (!read_hex(text, "secret-key", k.secret) || !read_hex(text, "public-key", k.pub)) {
    return util::make_error(util::Errc::data, util::quote(path) + " holds no signing key");
  }
  return k;
}

util::Result<VerifyKey> read_verify_key(const std::string& path)
{
  auto bytes = util::read_file(path, 64 * 1024);
  if (!bytes) {
    return bytes.error();
  }
  VerifyKey k{};
  if (!read_hex(std::string(bytes->begin(), bytes->end()), "public-key", k)) {
    return util::make_error(util::Errc::data, util::quote(path) + " holds no verifying key");
  }
  return k;
}

std::vector<std::uint8_t> sign_version(const SigningKey& key, const std::string& channel,
                                       const wire::VersionRef& v)
{
  (void)ready();
  const auto message = signed_bytes(channel, v);
  std::vector<std::uint8_t> sig(crypto_sign_BYTES);
  crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), key.secret.data());
  return sig;
}

bool verify_version(const std::vector<VerifyKey>& keys, const std::string& channel,
                    const wire::VersionRef& v, const std::vector<std::uint8_t>& signature)
{
  if (!ready() || signature.size() != crypto_sign_BYTES) {
    return false;
  }
  const auto message = signed_bytes(channel, v);
  for (const VerifyKey& k : keys) {
    if (crypto_sign_verify_detached(signature.data(), message.data(), message.size(), k.data()) ==
        0) {
      return true;
    }
  }
  return false;
}

} // namespace treecast::sync
