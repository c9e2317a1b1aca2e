#include "keys.hpp"

#include "util/file.hpp"

#include <zmq.h>

#include <cerrno>
#include <ctime>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace treecast::net {

namespace {

bool valid_z85_key(const std::string& key)
{
  std::uint8_t raw[32];
  return key.size() == 40 && zmq_z85_decode(raw, key.c_str()) != nullptr;
}

std::string header(const char* what)
{
  const std::time_t t = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::gmtime(&t));
  return std::string("#   ****  Generated on ") + stamp + " by treecast keygen  ****\n#   " + what +
         "\n\nmetadata\ncurve\n";
}

} // namespace

util::Result<Keypair> write_keypair(const std::string& dir, const std::string& name)
{
  char pub[41];
  char sec[41];
  if (zmq_curve_keypair(pub, sec) != 0) {
    return util::make_error(util::Errc::io, "this libzmq cannot make CURVE keys");
  }
  Keypair k{pub, sec};
  if (auto s = util::make_dirs(dir); !s) {
    return s.error();
  }
  const std::string base = util::join(dir, name);
  if (auto s = util::write_new_file(
        base + ".key",
        header("ZeroMQ CURVE **Secret** Certificate\n#   DO NOT PROVIDE THIS FILE "
               "TO OTHER USERS nor change its permissions.") +
          "    public-key = \"" + k.public_key + "\"\n    secret-key = \"" + k.secret_key + "\"\n",
        0600);
      !s) {
    return s.error();
  }
  if (auto s =
        util::write_new_file(base + ".pub",
                             header("ZeroMQ CURVE Public Certificate\n#   Exchange securely, or "
                                    "check it after the exchange.") +
                               "    public-key = \"" + k.public_key + "\"\n",
                             0644);
      !s) {
    return s.error();
  }
  return k;
}

util::Result<Keypair> read_cert(const std::string& path, bool secret)
{
  auto bytes = util::read_file(path, 64 * 1024);
  if (!bytes) {
    return bytes.error();
  }
  const std::string text(bytes->begin(), bytes->end());
  Keypair k;
  auto value = [&](const char* key) {
    const std::string prefix = std::string(key) + " = \"";
    const auto at = text.find(prefix);
    if (at == std::string::npos) {
      return std::string();
    }
    const auto start = at + prefix.size();
    const auto end = text.find('"', start);
    return end == std::string::npos ? std::string() : text.substr(start, end - start);
  };
  k.public_key = value("public-key");
  if (!valid_z85_key(k.public_key)) {
    return util::make_error(
      util::Errc::data, util::quote(path) + " holds no CURVE public key (public-key = \"...\")");
  }
  if (secret) {
    if (auto s = util::check_owner_only(path, "a secret key"); !s) {
      return s.error();
    }
    k.secret_key = value("secret-key");
    if (!valid_z85_key(k.secret_key)) {
      return util::make_error(
        util::Errc::data, util::quote(path) + " holds no CURVE secret key (secret-key = \"...\")");
    }
  }
  return k;
}

util::Result<std::map<std::string, std::string>> read_authorized(const std::string& dir)
{
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return util::io_error(dir, "cannot read", errno);
  }
  std::map<std::string, std::string> keys;
  std::optional<util::Error> error;
  while (const dirent* e = ::readdir(d)) {
    const std::string file = e->d_name;
    if (file.size() <= 4 || !file.ends_with(".pub")) {
      continue;
    }
    auto k = read_cert(util::join(dir, file), false);
    if (!k) {
      error = k.error();
      break;
    }
    keys[k->public_key] = file.substr(0, file.size() - 4);
  }
  ::closedir(d);
  if (error) {
    return *error;
  }
  return keys;
}

util::Result<std::size_t> ZapHandler::load(const std::string& dir)
{
  auto keys = read_authorized(dir);
  if (!keys) {
    return keys.error();
  }
  m_keys = std::move(*keys);
  return m_keys.size();
}

std::optional<std::pair<std::string, std::string>> ZapHandler::answer(zmq::socket_t& zap)
{
  // version, request id, domain, address, identity, mechanism, credentials
  std::vector<zmq::message_t> p;
  for (int i = 0; i < 8; ++i) {
    zmq::message_t part;
    if (!zap.recv(part, zmq::recv_flags::dontwait)) {
      break;
    }
    const bool more = part.more();
    p.push_back(std::move(part));
    if (!more) {
      break;
    }
  }
  if (p.size() < 6) {
    return std::nullopt;
  }
  std::string status = "400";
  std::string text = "not authorized";
  std::string user;
  std::optional<std::pair<std::string, std::string>> refused;
  if (p[5].to_string() == "CURVE" && p.size() >= 7 && p[6].size() == 32) {
    char z85[41];
    zmq_z85_encode(z85, p[6].data<std::uint8_t>(), 32);
    const auto it = m_keys.find(z85);
    if (it != m_keys.end()) {
      status = "200";
      text = "OK";
      user = it->second;
    } else {
      refused = std::make_pair(p[3].to_string(), std::string(z85));
    }
  }
  for (const std::string& f : {std::string("1.0"), p[1].to_string(), status, text, user}) {
    (void)zap.send(zmq::buffer(f), zmq::send_flags::sndmore);
  }
  (void)zap.send(zmq::const_buffer("", 0), zmq::send_flags::none);
  return refused;
}

} // namespace treecast::net
