// The store's folder, locks, channels and versions. Objects (reading,
// writing, packs, publishing) are in store_objects.cpp.

#include "store.hpp"

#include "util/bytes.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

namespace {

constexpr char k_marker[] = ".treecast-store";
constexpr char k_marker_text[] = "treecast store 1\n";

util::Result<Lock> take_lock(const std::string& path, int operation)
{
  // flock works on a read-only descriptor, so readers of a store they
  // cannot write (another user's, a read-only mount) can still lock it.
  util::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    fd.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  }
  if (!fd) {
    return util::io_error(path, "cannot open lock file", errno);
  }
  while (::flock(fd.get(), operation) != 0) {
    if (errno != EINTR) {
      return util::io_error(path, "cannot lock", errno);
    }
  }
  return Lock(std::move(fd));
}

std::string version_path(const std::string& channel_dir, std::uint64_t number)
{
  return channel_dir + "/versions/" + std::to_string(number);
}

} // namespace

// ---- Store

util::Result<Store> Store::open(const std::string& root, Create create)
{
  const std::string marker = util::join(root, k_marker);
  struct stat st
  {};
  if (::stat(marker.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return util::io_error(root, "cannot open store", errno);
    }
    if (create == Create::no) {
      return util::make_error(util::Errc::not_found,
                              util::quote(root) + " is not a treecast store (no " + k_marker +
                                "); make one with treecast snapshot, or pass --store");
    }
    for (const char* sub : {"", "/objects", "/tmp", "/channels"}) {
      if (auto s = util::make_dirs(root + sub); !s) {
        return s.error();
      }
    }
    // The store holds every file of every channel, private keys included,
    // whatever their modes in the tree: only its owner may enter it.
    if (::chmod(root.c_str(), 0700) != 0) {
      return util::io_error(root, "cannot set the store's mode", errno);
    }
    const std::string_view text = k_marker_text;
    if (auto s = util::write_file_atomic(
          marker, {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
          util::Durability::fsync);
        !s) {
      return s.error();
    }
  } else {
    auto text = util::read_file(marker, 4096);
    if (!text) {
      return text.error();
    }
    if (std::string(text->begin(), text->end()) != k_marker_text) {
      return util::make_error(util::Errc::data, util::quote(marker) +
                                                  ": unsupported store format (this treecast "
                                                  "reads \"treecast store 1\")");
    }
  }
  return Store(root);
}

std::string Store::channel_dir(std::string_view channel) const
{
  return m_root + "/channels/" + std::string(channel);
}

std::string Store::object_path(const util::Hash128& hash) const
{
  const std::string hex = hash.hex();
  return m_root + "/objects/" + hex.substr(0, 2) + "/" + hex.substr(2);
}

util::Result<Lock> Store::lock_store(LockMode mode) const
{
  auto lock = take_lock(m_root + "/lock", mode == LockMode::shared ? LOCK_SH : LOCK_EX);
  if (lock) {
    // Packs are removed only under the exclusive lock: the list read now
    // holds for as long as this lock is held.
    (void)packs(true);
  }
  return lock;
}

util::Result<Lock> Store::lock_channel(std::string_view channel, Create create) const
{
  const std::string dir = channel_dir(channel);
  if (create == Create::no) {
    struct stat st
    {};
    if (::stat(dir.c_str(), &st) != 0) {
      return util::make_error(util::Errc::not_found, "channel " + std::string(channel) +
                                                       " has no versions in " +
                                                       util::quote(m_root));
    }
  } else if (auto s = util::make_dirs(dir + "/versions"); !s) {
    return s.error();
  }
  return take_lock(dir + "/lock", LOCK_EX);
}

util::Result<std::vector<std::string>> Store::channels() const
{
  std::vector<std::string> names;
  const std::string dir = m_root + "/channels";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return util::io_error(dir, "cannot list", errno);
  }
  while (const dirent* e = ::readdir(d)) {
    if (e->d_type == DT_DIR && e->d_name[0] != '.' && validate_channel(e->d_name)) {
      names.emplace_back(e->d_name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

util::Result<std::optional<Ref>> Store::latest(std::string_view channel) const
{
  const std::string path = channel_dir(channel) + "/latest";
  auto bytes = util::read_file(path, 256);
  if (!bytes) {
    if (bytes.error().code == util::Errc::not_found) {
      return std::optional<Ref>();
    }
    return bytes.error();
  }
  const std::string text(bytes->begin(), bytes->end());
  Ref ref;
  const auto space = text.find(' ');
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ref.number);
  std::optional<util::Hash128> id;
  if (space != std::string::npos && text.size() == space + 34 && text.back() == '\n') {
    id = util::Hash128::from_hex(std::string_view(text).substr(space + 1, 32));
  }
  if (ec != std::errc() || end != text.data() + space || !id || ref.number == 0) {
    return util::make_error(util::Errc::data, util::quote(path) + ": malformed ref");
  }
  ref.id = *id;
  return std::optional<Ref>(ref);
}

util::Result<std::vector<std::uint64_t>> Store::versions(std::string_view channel) const
{
  std::vector<std::uint64_t> numbers;
  const std::string dir = channel_dir(channel) + "/versions";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) {
      return numbers;
    }
    return util::io_error(dir, "cannot list", errno);
  }
  while (const dirent* e = ::readdir(d)) {
    std::uint64_t number = 0;
    const char* end = e->d_name + std::strlen(e->d_name);
    const auto [p, ec] = std::from_chars(e->d_name, end, number);
    if (ec == std::errc() && p == end && number > 0) {
      numbers.push_back(number);
    }
  }
  ::closedir(d);
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

util::Result<Manifest> Store::read_manifest(std::string_view channel, std::uint64_t number) const
{
  const std::string path = version_path(channel_dir(channel), number);
  auto compressed = util::read_file(path, k_max_manifest_bytes);
  if (!compressed) {
    if (compressed.error().code == util::Errc::not_found) {
      return util::make_error(util::Errc::not_found, "channel " + std::string(channel) +
                                                       " has no version " + std::to_string(number));
    }
    return compressed.error();
  }
  auto bytes = util::zstd_decompress(*compressed, k_max_manifest_bytes);
  if (!bytes) {
    return util::make_error(util::Errc::data,
                            "invalid manifest " + util::quote(path) + ": " + bytes.error().message);
  }
  auto manifest = decode(*bytes, path);
  if (manifest && (manifest->header.channel != channel || manifest->header.number != number)) {
    return util::make_error(util::Errc::data, "invalid manifest " + util::quote(path) +
                                                ": it is version " +
                                                std::to_string(manifest->header.number) +
                                                " of channel " + manifest->header.channel);
  }
  return manifest;
}

util::Status Store::add_version(const Manifest& manifest) const
{
  const std::string dir = channel_dir(manifest.header.channel);
  if (auto s = util::make_dirs(dir + "/versions"); !s) {
    return s;
  }
  const auto compressed = util::zstd_compress(encode(manifest), 3);
  if (auto s = util::write_file_atomic(version_path(dir, manifest.header.number), compressed,
                                       util::Durability::fsync);
      !s) {
    return s;
  }
  const std::string ref = std::to_string(manifest.header.number) + " " + manifest.id.hex() + "\n";
  return util::write_file_atomic(dir + "/latest",
                                 {reinterpret_cast<const std::uint8_t*>(ref.data()), ref.size()},
                                 util::Durability::fsync);
}

util::Status Store::remove_version(std::string_view channel, std::uint64_t number) const
{
  auto latest_ref = latest(channel);
  if (!latest_ref) {
    return latest_ref.error();
  }
  if (*latest_ref && (*latest_ref)->number == number) {
    throw std::logic_error("remove_version: refusing to drop the latest version");
  }
  const std::string path = version_path(channel_dir(channel), number);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return util::io_error(path, "cannot remove", errno);
  }
  return {};
}

} // namespace treecast::core
