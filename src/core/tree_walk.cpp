// The walk keeps one open folder descriptor per level and uses fstatat
// relative to it, so a deep tree costs no path resolution per entry, and
// nothing is ever followed through a symlink (AT_SYMLINK_NOFOLLOW).

#include "tree_walk.hpp"

#include "util/file.hpp"

#include <cerrno>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

namespace {

const char* special_kind(mode_t mode)
{
  if (S_ISSOCK(mode)) {
    return "socket";
  }
  if (S_ISFIFO(mode)) {
    return "FIFO";
  }
  if (S_ISCHR(mode)) {
    return "character device";
  }
  if (S_ISBLK(mode)) {
    return "block device";
  }
  return "special file";
}

class Walker
{
public:
  Walker(std::string root, const ExcludeList& excludes, WalkResult& out)
    : m_root(std::move(root)), m_excludes(excludes), m_out(out)
  {
  }

  util::Status run()
  {
    util::Fd fd(::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      return util::io_error(m_root, "cannot open folder", errno);
    }
    return walk(std::move(fd), "");
  }

private:
  util::Status walk(util::Fd fd, const std::string& prefix)
  {
    const std::string here = util::join(m_root, prefix);
    DIR* dir = ::fdopendir(fd.get());
    if (dir == nullptr) {
      return util::io_error(here, "cannot read folder", errno);
    }
    fd.release(); // owned by dir now
    std::vector<std::string> names;
    errno = 0;
    while (const dirent* e = ::readdir(dir)) {
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") {
        names.emplace_back(name);
      }
      errno = 0;
    }
    const int read_errno = errno;
    const int dir_fd = ::dirfd(dir);
    if (read_errno != 0) {
      ::closedir(dir);
      return util::io_error(here, "cannot read folder", read_errno);
    }
    util::Status status;
    for (const std::string& name : names) {
      status = visit(dir_fd, prefix.empty() ? name : prefix + "/" + name, name);
      if (!status) {
        break;
      }
    }
    ::closedir(dir);
    return status;
  }

  util::Status visit(int dir_fd, const std::string& path, const std::string& name)
  {
    struct stat st
    {};
    if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) {
        return {}; // removed while we walked: not part of this snapshot
      }
      return util::io_error(util::join(m_root, path), "cannot stat", errno);
    }
    const bool folder = S_ISDIR(st.st_mode);
    if (m_excludes.excluded(path, folder)) {
      return {};
    }
    WalkItem item;
    item.key = stat_key(st);
    Entry& e = item.entry;
    e.path = path;
    e.mode = st.st_mode & 07777;
    e.uid = st.st_uid;
    e.gid = st.st_gid;
    e.user = m_names.user(st.st_uid);
    e.group = m_names.group(st.st_gid);
    e.mtime_ns = timestamp_ns(st.st_mtim);
    if (S_ISREG(st.st_mode)) {
      e.type = EntryType::file;
      e.size = static_cast<std::uint64_t>(st.st_size);
    } else if (S_ISLNK(st.st_mode)) {
      e.type = EntryType::symlink;
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      const ssize_t n = ::readlinkat(dir_fd, name.c_str(), target.data(), target.size());
      if (n < 0) {
        return util::io_error(util::join(m_root, path), "cannot read symlink", errno);
      }
      target.resize(static_cast<std::size_t>(n));
      e.target = std::move(target);
    } else if (folder) {
      e.type = EntryType::directory;
      util::Fd child(
        ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child) {
        return util::io_error(util::join(m_root, path), "cannot open folder", errno);
      }
      if (::faccessat(child.get(), k_store_marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
          ::faccessat(child.get(), k_state_marker, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        return {}; // a store or state folder inside the tree: never included
      }
      m_out.items.push_back(std::move(item));
      return walk(std::move(child), path);
    } else {
      m_out.warnings.push_back("skipping " + std::string(special_kind(st.st_mode)) + " " +
                               util::quote(util::join(m_root, path)));
      return {};
    }
    if (auto s = validate_path(path); !s) {
      return util::make_error(util::Errc::data, "cannot record " +
                                                  util::quote(util::join(m_root, path)) + ": " +
                                                  s.error().message);
    }
    m_out.items.push_back(std::move(item));
    return {};
  }

  std::string m_root;
  const ExcludeList& m_excludes;
  WalkResult& m_out;
  OwnerNames m_names;
};

template <class Lookup>
std::string cached_name(std::vector<std::pair<std::uint32_t, std::string>>& cache, std::uint32_t id,
                        Lookup lookup)
{
  for (const auto& [known, name] : cache) {
    if (known == id) {
      return name;
    }
  }
  std::string name = lookup(id);
  cache.emplace_back(id, name);
  return name;
}

} // namespace

std::string OwnerNames::user(std::uint32_t uid)
{
  return cached_name(m_users, uid, [](std::uint32_t id) {
    passwd pw{};
    passwd* found = nullptr;
    char buffer[4096];
    if (::getpwuid_r(id, &pw, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
      return std::string(found->pw_name);
    }
    return std::string();
  });
}

std::string OwnerNames::group(std::uint32_t gid)
{
  return cached_name(m_groups, gid, [](std::uint32_t id) {
    struct group gr
    {};
    struct group* found = nullptr;
    char buffer[4096];
    if (::getgrgid_r(id, &gr, buffer, sizeof buffer, &found) == 0 && found != nullptr) {
      return std::string(found->gr_name);
    }
    return std::string();
  });
}

util::Result<WalkResult> walk_tree(const std::string& root, const ExcludeList& excludes)
{
  WalkResult result;
  Walker walker(root, excludes, result);
  if (auto s = walker.run(); !s) {
    return s.error();
  }
  return result;
}

} // namespace treecast::core
