// Checkout builds the tree under a fresh temporary folder beside DIR, with
// every open relative to that folder and unable to leave it (openat2
// RESOLVE_BENEATH, no symlinks followed). Folders are created writable by
// their owner and get their recorded modes last, deepest first, so a
// read-only folder does not block its own contents. Runs of zero bytes are
// skipped with lseek, so sparse files stay sparse.

#include "checkout.hpp"

#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <mutex>
#include <optional>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace treecast::core {

namespace {

bool all_zero(std::span<const std::uint8_t> data)
{
  // Starts with zero and equals itself shifted by one byte: all zero.
  return !data.empty() && data[0] == 0 &&
         std::memcmp(data.data(), data.data() + 1, data.size() - 1) == 0;
}

timespec to_timespec(std::int64_t ns)
{
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  if (ts.tv_nsec < 0) {
    ts.tv_sec -= 1;
    ts.tv_nsec += 1'000'000'000;
  }
  return ts;
}

std::pair<std::string_view, std::string_view> split_parent(std::string_view path)
{
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return {{}, path};
  }
  return {path.substr(0, slash), path.substr(slash + 1)};
}

class TreeBuilder
{
public:
  TreeBuilder(const Store& store, util::Fd root, std::string root_path, Owners owners)
    : m_store(store), m_root(std::move(root)), m_root_path(std::move(root_path)), m_owners(owners)
  {
  }

  util::Status add(const Entry& e, CheckoutReport& report)
  {
    const auto [parent_path, name] = split_parent(e.path);
    auto parent = parent_fd(parent_path);
    if (!parent) {
      return parent.error();
    }
    const std::string shown = util::join(m_root_path, e.path);
    const std::string leaf(name);
    switch (e.type) {
      case EntryType::directory:
        if (::mkdirat(*parent, leaf.c_str(), 0700) != 0) {
          return util::io_error(shown, "cannot create folder", errno);
        }
        report.folders += 1;
        return {};
      case EntryType::symlink:
        if (::symlinkat(e.target.c_str(), *parent, leaf.c_str()) != 0) {
          return util::io_error(shown, "cannot create symlink", errno);
        }
        report.symlinks += 1;
        return set_metadata(*parent, leaf, e, shown, m_owners);
      case EntryType::file:
        break;
    }
    util::Fd fd(
      ::openat(*parent, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
      return util::io_error(shown, "cannot create file", errno);
    }
    std::uint64_t offset = 0;
    bool hole_at_end = false;
    auto s = m_store.read_object(e.hash, [&](std::span<const std::uint8_t> data) -> util::Status {
      // Whole 4 KiB blocks of zeros become holes; the rest is written.
      while (!data.empty()) {
        const std::size_t n = std::min<std::size_t>(data.size(), 4096);
        const auto block = data.first(n);
        if (n == 4096 && all_zero(block)) {
          if (::lseek(fd.get(), static_cast<off_t>(n), SEEK_CUR) < 0) {
            return util::io_error(shown, "seek failed", errno);
          }
          hole_at_end = true;
        } else {
          if (auto w = util::write_all(fd.get(), block, shown); !w) {
            return w;
          }
          hole_at_end = false;
        }
        offset += n;
        data = data.subspan(n);
      }
      return {};
    });
    if (!s) {
      return util::make_error(s.error().code,
                              "cannot check out " + util::quote(e.path) + ": " + s.error().message);
    }
    if (offset != e.size) {
      return util::make_error(util::Errc::data, "object " + e.hash.hex() + " holds " +
                                                  std::to_string(offset) + " bytes, the manifest " +
                                                  "says " + std::to_string(e.size) + " for " +
                                                  util::quote(e.path));
    }
    if (hole_at_end && ::ftruncate(fd.get(), static_cast<off_t>(offset)) != 0) {
      return util::io_error(shown, "truncate failed", errno);
    }
    report.files += 1;
    report.bytes += offset;
    fd.reset();
    return set_metadata(*parent, leaf, e, shown, m_owners);
  }

  // Folder modes, owners and times, deepest first.
  util::Status finish_folders(const Manifest& manifest)
  {
    for (auto it = manifest.entries.rbegin(); it != manifest.entries.rend(); ++it) {
      if (it->type != EntryType::directory) {
        continue;
      }
      const auto [parent_path, name] = split_parent(it->path);
      auto parent = parent_fd(parent_path);
      if (!parent) {
        return parent.error();
      }
      if (auto s = set_metadata(*parent, std::string(name), *it, util::join(m_root_path, it->path),
                                m_owners);
          !s) {
        return s;
      }
    }
    return {};
  }

private:
  util::Result<int> parent_fd(std::string_view parent)
  {
    if (parent.empty()) {
      return m_root.get();
    }
    if (m_parent && m_parent_path == parent) {
      return m_parent.get();
    }
    auto fd = util::open_beneath(m_root.get(), parent, O_RDONLY | O_DIRECTORY);
    if (!fd) {
      return fd.error();
    }
    m_parent = std::move(*fd);
    m_parent_path = parent;
    return m_parent.get();
  }

  const Store& m_store;
  util::Fd m_root;
  std::string m_root_path; // for messages: the final DIR, not the temporary one
  Owners m_owners;
  util::Fd m_parent; // the last parent folder opened, reused for its siblings
  std::string m_parent_path;
};

} // namespace

util::Status set_metadata(int parent, const std::string& name, const Entry& e,
                          const std::string& shown, Owners owners, const Xattrs* recorded_before)
{
  if (owners == Owners::restore) {
    const auto [uid, gid] = local_owner(e);
    if (::fchownat(parent, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return util::io_error(shown, "cannot set owner", errno);
    }
  }
  if (e.type != EntryType::symlink && ::fchmodat(parent, name.c_str(), e.mode, 0) != 0) {
    return util::io_error(shown, "cannot set mode", errno);
  }
  // After the owner: a chown clears security.capability.
  const bool had = recorded_before != nullptr && !recorded_before->empty();
  if (e.type != EntryType::symlink && (!e.xattrs.empty() || had)) {
    // No *xattrat(): the folder's descriptor, by its name in /proc.
    const std::string path = "/proc/self/fd/" + std::to_string(parent) + "/" + name;
    if (auto s = apply_xattrs(path, had ? *recorded_before : Xattrs{}, e.xattrs); !s) {
      return util::make_error(s.error().code, shown + ": " + s.error().message);
    }
  }
  const timespec times[2] = {to_timespec(e.mtime_ns), to_timespec(e.mtime_ns)};
  if (::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0) {
    return util::io_error(shown, "cannot set times", errno);
  }
  return {};
}

namespace {

// Names looked up once per process: each lookup reads /etc/passwd or
// /etc/group (or asks NSS), and a tree has thousands of entries with a
// handful of owners.
struct OwnerIds
{
  std::mutex mutex;
  std::unordered_map<std::string, std::optional<std::uint32_t>> users;
  std::unordered_map<std::string, std::optional<std::uint32_t>> groups;
};

OwnerIds& owner_ids()
{
  static OwnerIds ids;
  return ids;
}

std::optional<std::uint32_t> user_id(const std::string& name)
{
  OwnerIds& ids = owner_ids();
  const std::lock_guard lock(ids.mutex);
  if (const auto found = ids.users.find(name); found != ids.users.end()) {
    return found->second;
  }
  char buffer[4096];
  passwd pw{};
  passwd* found = nullptr;
  std::optional<std::uint32_t> id;
  if (::getpwnam_r(name.c_str(), &pw, buffer, sizeof buffer, &found) == 0 && found) {
    id = found->pw_uid;
  }
  ids.users.emplace(name, id);
  return id;
}

std::optional<std::uint32_t> group_id(const std::string& name)
{
  OwnerIds& ids = owner_ids();
  const std::lock_guard lock(ids.mutex);
  if (const auto found = ids.groups.find(name); found != ids.groups.end()) {
    return found->second;
  }
  char buffer[4096];
  struct group gr
  {};
  struct group* found = nullptr;
  std::optional<std::uint32_t> id;
  if (::getgrnam_r(name.c_str(), &gr, buffer, sizeof buffer, &found) == 0 && found) {
    id = found->gr_gid;
  }
  ids.groups.emplace(name, id);
  return id;
}

} // namespace

std::pair<std::uint32_t, std::uint32_t> local_owner(const Entry& entry)
{
  std::uint32_t uid = entry.uid;
  std::uint32_t gid = entry.gid;
  if (!entry.user.empty()) {
    uid = user_id(entry.user).value_or(uid);
  }
  if (!entry.group.empty()) {
    gid = group_id(entry.group).value_or(gid);
  }
  return {uid, gid};
}

util::Result<CheckoutReport> checkout(const Store& store, const Manifest& manifest,
                                      const std::string& dir, Owners owners)
{
  std::string target = dir;
  while (target.size() > 1 && target.back() == '/') {
    target.pop_back();
  }
  struct stat st
  {};
  const bool existed = ::lstat(target.c_str(), &st) == 0;
  if (existed) {
    util::Fd fd(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      return util::make_error(util::Errc::conflict,
                              util::quote(target) + " exists and is not a folder");
    }
    DIR* d = ::fdopendir(fd.release());
    bool empty = true;
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      empty = empty && (name == "." || name == "..");
    }
    ::closedir(d);
    if (!empty) {
      return util::make_error(util::Errc::conflict, util::quote(target) +
                                                      " is not empty; check out into an empty or "
                                                      "new folder");
    }
  } else if (errno != ENOENT) {
    return util::io_error(target, "cannot stat", errno);
  }

  const auto slash = target.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : target.substr(0, slash ? slash : 1);
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::string temp = util::join(parent, "." + base + ".treecast-checkout.XXXXXX");
  if (::mkdtemp(temp.data()) == nullptr) {
    return util::io_error(temp, "cannot create temporary folder", errno);
  }
  util::Fd root(::open(temp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    const int err = errno;
    ::rmdir(temp.c_str());
    return util::io_error(temp, "cannot open", err);
  }
  const int root_fd = root.get();
  // DIR keeps the mode it had, or gets the usual one for a new folder.
  mode_t mode = 0755;
  if (existed) {
    mode = st.st_mode & 07777;
  } else {
    const mode_t mask = ::umask(0);
    ::umask(mask);
    mode &= ~mask;
  }
  ::fchmod(root_fd, mode);
  auto fail = [&](util::Error error) -> util::Result<CheckoutReport> {
    (void)util::remove_tree(temp);
    return error;
  };

  CheckoutReport report;
  TreeBuilder builder(store, std::move(root), target, owners);
  for (const Entry& e : manifest.entries) {
    if (auto s = builder.add(e, report); !s) {
      return fail(s.error());
    }
  }
  if (auto s = builder.finish_folders(manifest); !s) {
    return fail(s.error());
  }
  // The new tree is durable before it takes DIR's place.
  if (::syncfs(root_fd) != 0) {
    return fail(util::io_error(temp, "syncfs failed", errno));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    return fail(util::io_error(target, "cannot move the checked-out tree into place", errno));
  }
  if (auto s = util::fsync_dir(parent); !s) {
    return s.error();
  }
  return report;
}

} // namespace treecast::core
