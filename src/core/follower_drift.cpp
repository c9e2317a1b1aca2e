// Drift: how a follower's tree differs from the version it records
// (verify, and the check before every apply).

#include "core/tree_walk.hpp"
#include "follower.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

namespace {

std::string version_name(const Manifest& m)
{
  return m.header.number == 0 ? std::string("nothing") : "v" + std::to_string(m.header.number);
}

} // namespace

util::Result<std::vector<Drift>> Follower::drift(util::Executor& executor)
{
  std::vector<Drift> found;
  struct stat st
  {};
  if (::lstat(m_dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return util::io_error(m_dir, "cannot stat", errno);
    }
    if (!m_current.entries.empty()) {
      found.push_back({"", "removed"});
    }
    return found;
  }
  if (!S_ISDIR(st.st_mode)) {
    return util::make_error(util::Errc::conflict, util::quote(m_dir) + " is not a folder");
  }
  auto walk = walk_tree(m_dir, ExcludeList(), executor);
  if (!walk) {
    return walk.error();
  }
  const auto& items = walk->items;
  const auto& entries = m_current.entries;
  const bool cache_ok = m_cache.follows(m_current.id, entries.size());
  // Owners count only where treecast set them.
  const bool owners = m_owners == Owners::restore;
  // Extended attributes of the scopes the version records, compared exactly.
  const unsigned scope = xattr_scope(m_current);
  struct Check
  {
    std::size_t entry;
    std::size_t item;
  };
  std::vector<Check> to_hash;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < entries.size() || j < items.size()) {
    if (j == items.size() || (i < entries.size() && entries[i].path < items[j].path)) {
      found.push_back({entries[i++].path, "removed"});
      continue;
    }
    if (i == entries.size() || items[j].path < entries[i].path) {
      found.push_back({std::string(items[j++].path), "added"});
      continue;
    }
    const Entry& e = entries[i];
    const WalkItem& item = items[j];
    if (item.type() != e.type) {
      found.push_back({e.path, "type"});
    } else if (e.type != EntryType::symlink && (item.key.mode & 07777) != e.mode) {
      found.push_back({e.path, "mode"});
    } else if (owners && std::pair(item.uid, item.gid) != local_owner(e)) {
      found.push_back({e.path, "owner"});
    } else if (e.type == EntryType::symlink && item.target != e.target) {
      found.push_back({e.path, "target"});
    } else if (scope != 0 && e.type != EntryType::symlink &&
               !xattrs_differ(util::join(m_dir, e.path), e.xattrs, scope).empty()) {
      found.push_back({e.path, "xattrs"});
    } else if (e.type == EntryType::file) {
      if (item.key.size != e.size) {
        found.push_back({e.path, "modified"});
      } else if (!(cache_ok && m_cache.trusted(i, item.key))) {
        to_hash.push_back({i, j});
      }
    }
    ++i;
    ++j;
  }
  // Files whose stat fields changed are read and hashed, on the executor.
  std::vector<char> differs(to_hash.size(), 0);
  std::vector<std::string> errors(to_hash.size());
  executor.for_each(to_hash.size(), [&](std::size_t k) {
    const Entry& e = entries[to_hash[k].entry];
    const std::string full = util::join(m_dir, e.path);
    util::Fd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      differs[k] = 1;
      return;
    }
    util::Hasher hasher;
    std::vector<std::uint8_t> buffer(1 << 18);
    for (;;) {
      const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
      if (n < 0) {
        errors[k] = util::os_error(full, "cannot read", errno);
        return;
      }
      if (n == 0) {
        break;
      }
      hasher.update(std::span(buffer).first(static_cast<std::size_t>(n)));
    }
    differs[k] = hasher.digest() != e.hash ? 1 : 0;
  });
  for (std::size_t k = 0; k < to_hash.size(); ++k) {
    if (!errors[k].empty()) {
      return util::make_error(util::Errc::io, errors[k]);
    }
    if (differs[k] != 0) {
      found.push_back({entries[to_hash[k].entry].path, "modified"});
    }
  }
  std::sort(found.begin(), found.end(),
            [](const Drift& a, const Drift& b) { return a.path < b.path; });
  return found;
}

std::string drift_message(const std::string& dir, const Manifest& current,
                          const std::vector<Drift>& drift)
{
  std::string out = util::quote(dir) + " has drifted from " + version_name(current) + ": " +
                    std::to_string(drift.size()) +
                    (drift.size() == 1 ? " path differs" : " paths differ") + ": ";
  const std::size_t shown = std::min<std::size_t>(drift.size(), 5);
  for (std::size_t k = 0; k < shown; ++k) {
    out += (k > 0 ? ", " : "") + util::quote(drift[k].path.empty() ? "." : drift[k].path) + " (" +
           drift[k].what + ")";
  }
  if (shown < drift.size()) {
    out += ", and " + std::to_string(drift.size() - shown) + " more";
  }
  return out;
}

} // namespace treecast::core
