// The follower's state folder: opening and locking it, recovery after a
// crash, drift, and undo. Building the stage and committing it is in
// apply.cpp.

#include "follower.hpp"

#include "core/tree_walk.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

std::function<void(const char*)> g_fault_point;

namespace {

constexpr std::string_view k_state_format = "treecast follower state 1\n";

std::string trim_slashes(std::string path)
{
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

// .DIR.treecast beside DIR.
std::string default_state(const std::string& dir)
{
  const auto slash = dir.rfind('/');
  const std::string parent = slash == std::string::npos ? "." : dir.substr(0, slash ? slash : 1);
  const std::string base = slash == std::string::npos ? dir : dir.substr(slash + 1);
  return util::join(parent, "." + base + ".treecast");
}

bool exists(const std::string& path)
{
  struct stat st
  {};
  return ::lstat(path.c_str(), &st) == 0;
}

util::Result<Manifest> read_manifest_file(const std::string& path)
{
  auto bytes = util::read_file(path, k_max_manifest_bytes);
  if (!bytes) {
    return bytes.error();
  }
  return decode(*bytes, path);
}

util::Status rename_if_present(const std::string& from, const std::string& to)
{
  if (::rename(from.c_str(), to.c_str()) != 0 && errno != ENOENT) {
    return util::io_error(from, "cannot rename", errno);
  }
  return {};
}

util::Status remove_if_present(const std::string& path)
{
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return util::io_error(path, "cannot remove", errno);
  }
  return {};
}

} // namespace

util::Result<Follower> Follower::open(const std::string& dir, const std::string& state,
                                      Create create, bool wait)
{
  Follower f;
  f.m_dir = trim_slashes(dir);
  f.m_state = state.empty() ? default_state(f.m_dir) : trim_slashes(state);
  const std::string marker = f.path(k_state_marker);
  if (!exists(marker)) {
    if (create == Create::no) {
      return util::make_error(util::Errc::not_found,
                              util::quote(f.m_dir) + " has no treecast state (" +
                                util::quote(f.m_state) +
                                "): check out a version into it, or apply a delta from 0");
    }
    if (auto s = util::make_dirs(f.m_state); !s) {
      return s.error();
    }
    if (auto s = util::write_file_atomic(
          marker,
          {reinterpret_cast<const std::uint8_t*>(k_state_format.data()), k_state_format.size()},
          util::Durability::fsync);
        !s) {
      return s.error();
    }
  }
  auto format = util::read_file(marker, 4096);
  if (!format) {
    return format.error();
  }
  if (std::string(format->begin(), format->end()) != k_state_format) {
    return util::make_error(util::Errc::data, util::quote(f.m_state) +
                                                " is not a follower state this treecast reads");
  }
  const std::string lock = f.path("lock");
  f.m_lock = util::Fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!f.m_lock) {
    return util::io_error(lock, "cannot open", errno);
  }
  while (::flock(f.m_lock.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK && !wait) {
      return util::make_error(util::Errc::conflict, "another treecast works on " +
                                                      util::quote(f.m_dir) +
                                                      " (a treecast follow keeping it?)");
    }
    if (errno != EINTR) {
      return util::io_error(lock, "cannot lock", errno);
    }
  }
  // The version held is read before recovery (an inplace commit rolls
  // forward from it) and again after.
  for (int pass = 0; pass < 2; ++pass) {
    f.m_current = Manifest();
    if (exists(f.path("current"))) {
      auto m = read_manifest_file(f.path("current"));
      if (!m) {
        return m.error();
      }
      f.m_current = std::move(*m);
    }
    if (pass == 0) {
      if (auto s = f.recover(); !s) {
        return s.error();
      }
    }
  }
  f.load();
  return f;
}

void Follower::load()
{
  m_cache = StatCache::load(path("statcache"));
  auto owners = util::read_file(path("owners"), 64);
  m_owners = owners && std::string(owners->begin(), owners->end()) == "restore\n" ? Owners::restore
                                                                                  : Owners::keep;
}

util::Status Follower::recover()
{
  const std::string journal = path("journal");
  if (exists(journal)) {
    auto bytes = util::read_file(journal, 4096);
    if (!bytes) {
      return bytes.error();
    }
    const std::string text(bytes->begin(), bytes->end());
    unsigned long long dev = 0;
    unsigned long long ino = 0;
    char what[16] = {};
    if (std::sscanf(text.c_str(), "%15s %llu %llu", what, &dev, &ino) != 3) {
      return util::make_error(util::Errc::data, util::quote(journal) + " is not a journal");
    }
    struct stat st
    {};
    const bool swapped = ::lstat(m_dir.c_str(), &st) == 0 && st.st_dev == dev && st.st_ino == ino;
    const std::string_view kind = what;
    if (kind != "undo" && kind != "exchange" && kind != "inplace") {
      return util::make_error(util::Errc::data, util::quote(journal) + " is not a journal");
    }
    if (kind == "inplace") {
      // Past the journal, an inplace commit only goes forward.
      if (exists(path("stage.manifest"))) {
        auto to = read_manifest_file(path("stage.manifest"));
        if (!to) {
          return to.error();
        }
        if (auto s = roll_forward(*to); !s) {
          return s;
        }
        if (auto s = finish_inplace(*to); !s) {
          return s;
        }
      } else if (auto s = util::remove_tree(path("stage")); !s) {
        return s;
      }
      m_recovered = "finished an interrupted commit";
    } else if (kind == "undo") {
      // The swap back happened or not; either way the manifests follow the tree.
      if (swapped) {
        if (auto s = rename_if_present(path("undo.manifest"), path("current")); !s) {
          return s;
        }
        if (auto s = rename_if_present(path("undo.previous"), path("previous.manifest")); !s) {
          return s;
        }
        m_recovered = "finished an interrupted undo";
      } else {
        (void)remove_if_present(path("undo.manifest"));
        (void)remove_if_present(path("undo.previous"));
        m_recovered = "discarded an interrupted undo";
      }
      (void)remove_if_present(path("statcache"));
    } else if (swapped) {
      if (auto s = finish_exchange(); !s) {
        return s;
      }
      m_recovered = "finished an interrupted commit";
    } else if (exists(path("prepared")) && exists(path("stage.manifest"))) {
      // A transaction's stage whose commit stopped before the swap: it was
      // decided, so it is kept for the commit to be done again.
      if (auto s = remove_if_present(journal); !s) {
        return s;
      }
      if (auto s = util::fsync_dir(m_state); !s) {
        return s;
      }
      return recover();
    } else {
      if (auto s = discard_stage(); !s) {
        return s;
      }
      m_recovered = "discarded an interrupted apply; the tree was not changed";
    }
    // The marker of a prepared stage goes before the journal (see
    // finish_inplace).
    if (auto s = remove_if_present(path("prepared")); !s) {
      return s;
    }
    if (auto s = remove_if_present(journal); !s) {
      return s;
    }
    return util::fsync_dir(m_state);
  }
  // A transaction's stage, whole and durable, waits for its decision.
  if (exists(path("prepared")) && exists(path("stage.manifest"))) {
    auto marker = util::read_file(path("prepared"), 4096);
    if (!marker) {
      return marker.error();
    }
    const std::string text(marker->begin(), marker->end());
    const auto space = text.find(' ');
    const std::string mode = text.substr(0, space);
    if (space == std::string::npos || text.back() != '\n' ||
        (mode != "atomic" && mode != "inplace")) {
      return util::make_error(util::Errc::data,
                              util::quote(path("prepared")) + " is not a prepared stage's marker");
    }
    auto to = read_manifest_file(path("stage.manifest"));
    if (!to) {
      return to.error();
    }
    m_prepared =
      Prepared{text.substr(space + 1, text.size() - space - 2),
               mode == "atomic" ? CommitMode::atomic : CommitMode::inplace, std::move(*to)};
    m_recovered = "kept v" + std::to_string(m_prepared->to.header.number) + " staged for " +
                  util::quote(m_prepared->tag) + ", waiting for its commit or abort";
    return {};
  }
  if (exists(path("stage")) || exists(path("stage.manifest")) || exists(path("prepared"))) {
    if (auto s = discard_stage(); !s) {
      return s;
    }
    m_recovered = "discarded an interrupted apply; the tree was not changed";
  }
  return {};
}

util::Status Follower::finish_exchange()
{
  // Each step is done once and its result tells the next run where to
  // resume: stage/ now holds the old tree, and becomes previous/.
  if (exists(path("stage"))) {
    if (auto s = util::remove_tree(path("previous")); !s) {
      return s;
    }
    if (auto s = rename_if_present(path("stage"), path("previous")); !s) {
      return s;
    }
  }
  if (exists(path("stage.manifest"))) {
    if (auto s = rename_if_present(path("current"), path("previous.manifest")); !s) {
      return s;
    }
    if (auto s = rename_if_present(path("stage.statcache"), path("statcache")); !s) {
      return s;
    }
    if (auto s = rename_if_present(path("stage.owners"), path("owners")); !s) {
      return s;
    }
    if (auto s = rename_if_present(path("stage.manifest"), path("current")); !s) {
      return s;
    }
  }
  return util::fsync_dir(m_state);
}

util::Status Follower::discard_stage()
{
  // The marker first, durably: a stage half removed is never kept.
  if (exists(path("prepared"))) {
    if (auto s = remove_if_present(path("prepared")); !s) {
      return s;
    }
    if (auto s = util::fsync_dir(m_state); !s) {
      return s;
    }
  }
  if (auto s = util::remove_tree(path("stage")); !s) {
    return s;
  }
  (void)remove_if_present(path("stage.manifest"));
  (void)remove_if_present(path("stage.statcache"));
  (void)remove_if_present(path("stage.owners"));
  return {};
}

util::Status Follower::save_keys(const std::string& tree, const Manifest& manifest,
                                 const std::string& cache_path, util::Executor& executor)
{
  auto walk = walk_tree(tree, ExcludeList(), executor);
  if (!walk) {
    return walk.error();
  }
  std::vector<StatKey> keys(manifest.entries.size());
  std::size_t j = 0;
  for (std::size_t i = 0; i < manifest.entries.size(); ++i) {
    const auto& items = walk->items;
    while (j < items.size() && items[j].path < manifest.entries[i].path) {
      ++j;
    }
    if (j < items.size() && items[j].path == manifest.entries[i].path) {
      keys[i] = items[j].key;
    }
  }
  // Taken after the stat calls: a change in the same clock tick as those is
  // never trusted (stat_cache.hpp).
  auto now = util::filesystem_now(path("lock"));
  if (!now) {
    return now.error();
  }
  return StatCache(manifest.id, *now, std::move(keys)).save(cache_path);
}

util::Status Follower::save_owners(const char* name, Owners owners) const
{
  const std::string_view text = owners == Owners::restore ? "restore\n" : "keep\n";
  return util::write_file_atomic(path(name),
                                 {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()},
                                 util::Durability::fsync);
}

util::Status Follower::record(const Manifest& manifest, Owners owners, util::Executor& executor)
{
  if (auto s = save_owners("owners", owners); !s) {
    return s;
  }
  // A tree kept from an earlier life of this folder is not DIR's to undo to.
  if (auto s = util::remove_tree(path("previous")); !s) {
    return s;
  }
  (void)remove_if_present(path("previous.manifest"));
  if (auto s = save_keys(m_dir, manifest, path("statcache"), executor); !s) {
    return s;
  }
  if (auto s = util::write_file_atomic(path("current"), encode(manifest), util::Durability::fsync);
      !s) {
    return s;
  }
  m_current = manifest;
  load();
  return {};
}

util::Result<Manifest> Follower::undo()
{
  if (!exists(path("previous")) || !exists(path("previous.manifest"))) {
    return util::make_error(util::Errc::conflict, "no previous tree of " + util::quote(m_dir) +
                                                    " is kept: undo follows an atomic apply");
  }
  auto previous = read_manifest_file(path("previous.manifest"));
  if (!previous) {
    return previous.error();
  }
  struct stat st
  {};
  if (::lstat(path("previous").c_str(), &st) != 0) {
    return util::io_error(path("previous"), "cannot stat", errno);
  }
  // The manifests are staged under new names before the swap, so recovery
  // can finish the renames whichever side of the swap a crash falls.
  if (auto s =
        util::write_file_atomic(path("undo.manifest"), encode(*previous), util::Durability::fsync);
      !s) {
    return s.error();
  }
  if (auto s =
        util::write_file_atomic(path("undo.previous"), encode(m_current), util::Durability::fsync);
      !s) {
    return s.error();
  }
  const std::string journal =
    "undo " + std::to_string(st.st_dev) + " " + std::to_string(st.st_ino) + "\n";
  if (auto s = util::write_file_atomic(
        path("journal"), {reinterpret_cast<const std::uint8_t*>(journal.data()), journal.size()},
        util::Durability::fsync);
      !s) {
    return s.error();
  }
  if (g_fault_point) {
    g_fault_point("undo journal written");
  }
  if (::renameat2(AT_FDCWD, path("previous").c_str(), AT_FDCWD, m_dir.c_str(), RENAME_EXCHANGE) !=
      0) {
    const int err = errno;
    (void)recover();
    return util::io_error(m_dir, "cannot swap the previous tree in", err);
  }
  if (g_fault_point) {
    g_fault_point("undo exchanged");
  }
  const auto slash = m_dir.rfind('/');
  if (auto s = util::fsync_dir(slash == std::string::npos ? std::string(".")
                                                          : m_dir.substr(0, slash ? slash : 1));
      !s) {
    return s.error();
  }
  if (auto s = recover(); !s) {
    return s.error();
  }
  m_recovered.clear();
  m_current = std::move(*previous);
  m_cache = StatCache();
  return m_current;
}

util::Result<FollowerPeek> peek_follower(const std::string& dir, const std::string& state)
{
  FollowerPeek p;
  p.state = state.empty() ? default_state(trim_slashes(dir)) : trim_slashes(state);
  if (!exists(p.state + "/.treecast-state")) {
    return util::make_error(util::Errc::not_found, util::quote(dir) + " has no follower state (" +
                                                     util::quote(p.state) + ")");
  }
  if (exists(p.state + "/current")) {
    auto current = read_manifest_file(p.state + "/current");
    if (!current) {
      return current.error();
    }
    p.current = std::move(*current);
  }
  if (exists(p.state + "/prepared") && exists(p.state + "/stage.manifest")) {
    auto marker = util::read_file(p.state + "/prepared", 4096);
    auto to = read_manifest_file(p.state + "/stage.manifest");
    if (marker && to) {
      std::string text(marker->begin(), marker->end());
      const auto space = text.find(' ');
      if (space != std::string::npos && !text.empty() && text.back() == '\n') {
        p.prepared = Prepared{
          text.substr(space + 1, text.size() - space - 2),
          text.starts_with("inplace") ? CommitMode::inplace : CommitMode::atomic, std::move(*to)};
      }
    }
  }
  return p;
}

} // namespace treecast::core
