// Each worker takes a folder from a shared stack, opens it beneath the root
// (openat2, never through a symlink), reads its names with getdents64 and
// lstats them relative to the folder's descriptor, so no path is resolved
// twice and nothing is followed. Subfolders go back on the stack. A folder's
// own entry is recorded by the worker that reads it, once it has seen that
// the folder holds no store or state marker.

#include "tree_walk.hpp"

#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

namespace {

constexpr std::size_t k_text_block = 256 * 1024;
constexpr std::size_t k_dirents_buffer = 64 * 1024;

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

bool is_marker(std::string_view name)
{
  return name == k_store_marker || name == k_state_marker;
}

} // namespace

EntryType WalkItem::type() const
{
  if (S_ISDIR(key.mode)) {
    return EntryType::directory;
  }
  return S_ISLNK(key.mode) ? EntryType::symlink : EntryType::file;
}

std::string_view TextArena::join(std::string_view a, std::string_view b)
{
  const bool slash = !a.empty() && !b.empty();
  const std::size_t size = a.size() + (slash ? 1 : 0) + b.size();
  if (size > m_left) {
    const std::size_t block = std::max(size, k_text_block);
    m_blocks.push_back(std::make_unique<char[]>(block));
    m_free = m_blocks.back().get();
    m_left = block;
  }
  char* out = m_free;
  if (!a.empty()) { // memcpy may not be given the null data() of an empty view
    std::memcpy(out, a.data(), a.size());
  }
  if (slash) {
    out[a.size()] = '/';
  }
  if (!b.empty()) {
    std::memcpy(out + size - b.size(), b.data(), b.size());
  }
  m_free += size;
  m_left -= size;
  return {out, size};
}

struct TreeWalk::Worker
{
  TextArena text;
  std::vector<WalkItem> items;
  std::vector<std::string> warnings;
  std::vector<std::uint8_t> dirents = std::vector<std::uint8_t>(k_dirents_buffer);
};

TreeWalk::TreeWalk(std::string root, const ExcludeList& excludes)
  : m_root(std::move(root)), m_excludes(excludes)
{
  m_root_fd = ::open(m_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (m_root_fd < 0) {
    m_failed = true;
    m_errors.emplace_back("", util::io_error(m_root, "cannot open folder", errno));
    return;
  }
  m_pending.push_back(Folder{});
}

TreeWalk::~TreeWalk()
{
  if (m_root_fd >= 0) {
    ::close(m_root_fd);
  }
}

void TreeWalk::work()
{
  Worker* worker = nullptr;
  {
    std::lock_guard lock(m_mutex);
    worker = &m_workers.emplace_back();
  }
  std::vector<Folder> found;
  for (;;) {
    Folder folder;
    {
      std::unique_lock lock(m_mutex);
      m_changed.wait(lock, [&] { return m_failed || !m_pending.empty() || m_busy == 0; });
      if (m_failed || m_pending.empty()) {
        return; // nothing left, and nobody reading a folder that could add more
      }
      folder = m_pending.back();
      m_pending.pop_back();
      ++m_busy;
    }
    found.clear();
    auto status = read_folder(*worker, folder, found);
    std::lock_guard lock(m_mutex);
    --m_busy;
    if (!status) {
      m_failed = true;
      m_errors.emplace_back(std::string(folder.path), std::move(status.error()));
    }
    m_pending.insert(m_pending.end(), found.rbegin(), found.rend());
    if (!found.empty() || m_busy == 0 || m_failed) {
      m_changed.notify_all();
    }
  }
}

util::Status TreeWalk::read_folder(Worker& worker, const Folder& folder, std::vector<Folder>& found)
{
  const bool root = folder.path.empty();
  const std::string where = util::join(m_root, folder.path);
  const int fd = root ? ::dup(m_root_fd)
                      : util::open_beneath_fd(m_root_fd, std::string(folder.path).c_str(),
                                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      return {}; // removed while we walked: not part of this snapshot
    }
    return util::io_error(where, "cannot open folder", errno);
  }
  const util::Fd dir(fd);
  WalkItem self;
  if (!root) {
    struct stat st
    {};
    if (::fstat(fd, &st) != 0) {
      return util::io_error(where, "cannot stat", errno);
    }
    if (auto s = validate_path(folder.path); !s) {
      return util::make_error(util::Errc::data,
                              "cannot record " + util::quote(where) + ": " + s.error().message);
    }
    self.path = folder.path;
    self.key = stat_key(st);
    self.uid = st.st_uid;
    self.gid = st.st_gid;
  }

  // What this folder adds, dropped whole if it turns out to be a store.
  const std::size_t first_item = worker.items.size();
  const std::size_t first_warning = worker.warnings.size();
  auto drop_all = [&] {
    worker.items.resize(first_item);
    worker.warnings.resize(first_warning);
    found.clear();
  };

  for (;;) {
    const ssize_t n = ::getdents64(fd, worker.dirents.data(), worker.dirents.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return util::io_error(where, "cannot read folder", errno);
    }
    if (n == 0) {
      break;
    }
    for (ssize_t at = 0; at < n;) {
      const auto* d = reinterpret_cast<const dirent64*>(worker.dirents.data() + at);
      at += d->d_reclen;
      const std::string_view name = d->d_name;
      if (name == "." || name == "..") {
        continue;
      }
      if (!root && is_marker(name)) {
        drop_all(); // a store or state folder inside the tree: never included
        return {};
      }
      const std::string_view path = worker.text.join(folder.path, name);
      if (d->d_type == DT_DIR) {
        if (!m_excludes.excluded(path, true)) {
          found.push_back(Folder{path});
        }
        continue;
      }
      struct stat st
      {};
      if (::fstatat(fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) {
          continue; // removed while we walked: not part of this snapshot
        }
        return util::io_error(util::join(m_root, path), "cannot stat", errno);
      }
      const bool is_folder = S_ISDIR(st.st_mode);
      if (m_excludes.excluded(path, is_folder)) {
        continue;
      }
      if (is_folder) {
        found.push_back(Folder{path}); // a file system without d_type
        continue;
      }
      if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
        worker.warnings.push_back("skipping " + std::string(special_kind(st.st_mode)) + " " +
                                  util::quote(util::join(m_root, path)));
        continue;
      }
      if (auto s = validate_path(path); !s) {
        return util::make_error(util::Errc::data, "cannot record " +
                                                    util::quote(util::join(m_root, path)) + ": " +
                                                    s.error().message);
      }
      WalkItem& item = worker.items.emplace_back();
      item.path = path;
      item.key = stat_key(st);
      item.uid = st.st_uid;
      item.gid = st.st_gid;
      if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX + 1];
        const ssize_t length = ::readlinkat(fd, d->d_name, target, sizeof target);
        if (length < 0) {
          return util::io_error(util::join(m_root, path), "cannot read symlink", errno);
        }
        if (static_cast<std::size_t>(length) >= sizeof target) {
          return util::make_error(util::Errc::data, "cannot record " +
                                                      util::quote(util::join(m_root, path)) +
                                                      ": its target is too long");
        }
        item.target = worker.text.copy({target, static_cast<std::size_t>(length)});
      }
    }
  }
  if (!root) {
    worker.items.push_back(self);
  }
  return {};
}

util::Result<WalkResult> TreeWalk::finish()
{
  if (!m_errors.empty()) {
    auto first = std::min_element(m_errors.begin(), m_errors.end(),
                                  [](const auto& a, const auto& b) { return a.first < b.first; });
    return std::move(first->second);
  }
  WalkResult result;
  std::size_t items = 0;
  for (const Worker& w : m_workers) {
    items += w.items.size();
  }
  result.items.reserve(items);
  for (Worker& w : m_workers) {
    result.items.insert(result.items.end(), w.items.begin(), w.items.end());
    w.items = {};
    std::move(w.warnings.begin(), w.warnings.end(), std::back_inserter(result.warnings));
    result.text.push_back(std::move(w.text));
  }
  m_workers.clear();
  std::sort(result.items.begin(), result.items.end(),
            [](const WalkItem& a, const WalkItem& b) { return a.path < b.path; });
  std::sort(result.warnings.begin(), result.warnings.end());
  return result;
}

util::Result<WalkResult> walk_tree(const std::string& root, const ExcludeList& excludes,
                                   util::Executor& executor)
{
  TreeWalk walk(root, excludes);
  executor.for_each(executor.concurrency(), [&](std::size_t) { walk.work(); });
  return walk.finish();
}

namespace {

template <class Lookup>
const std::string& cached_name(std::deque<std::pair<std::uint32_t, std::string>>& cache,
                               std::uint32_t id, Lookup lookup)
{
  for (const auto& [known, name] : cache) {
    if (known == id) {
      return name;
    }
  }
  return cache.emplace_back(id, lookup(id)).second;
}

} // namespace

const std::string& OwnerNames::user(std::uint32_t uid)
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

const std::string& OwnerNames::group(std::uint32_t gid)
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

} // namespace treecast::core
