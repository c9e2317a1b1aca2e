// The inplace commit (--commit inplace): for trees too large to build twice
// and for mount points. Only what changes is staged, flat, by its index in
// B: new files from the delta, files that move, symlinks that change. Once
// the stage is durable a journal says "inplace", and the commit rolls
// forward: remove what B drops, rename the staged files into place, fix
// modes, owners and times. Each step can be done again, so after a crash
// the next command finishes the commit from the journal (follower.cpp).
// Readers of DIR may see a mix of the two versions while it runs.

#include "core/apply_stage.hpp"
#include "follower.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace treecast::core {

namespace {

// The attributes the version left recorded for e's path, when it kept the
// same type there (the entry stays in place).
const Xattrs* recorded(const Manifest& from, const Entry& e)
{
  const Entry* before = from.find(e.path);
  return before != nullptr && before->type == e.type ? &before->xattrs : nullptr;
}

// The entry's type as on disk at parent/name; nullopt when absent.
std::optional<EntryType> disk_type(int parent, const std::string& name)
{
  struct stat st
  {};
  if (::fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    return std::nullopt;
  }
  if (S_ISDIR(st.st_mode)) {
    return EntryType::directory;
  }
  return S_ISLNK(st.st_mode) ? EntryType::symlink : EntryType::file;
}

bool staged_exists(int stage, std::size_t index)
{
  struct stat st
  {};
  return ::fstatat(stage, std::to_string(index).c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

} // namespace

util::Result<ApplyReport> Follower::stage_inplace(DeltaReader& reader, Manifest to, Owners owners,
                                                  int live, ApplyReport report)
{
  const std::string stage_path = path("stage");
  auto made = new_stage();
  if (!made) {
    return made.error();
  }
  util::Fd stage = std::move(*made);
  auto fail = [&](util::Error error) -> util::Result<ApplyReport> {
    (void)discard_stage();
    return error;
  };
  fault("stage created");
  Stage target(live, stage.get(), m_dir, m_current, to, StageLayout::flat);
  if (auto s = reader.read_payload(m_current, to, target); !s) {
    return fail(s.error());
  }
  fault("payload read");

  // Everything else that is not already in place is staged too: moved or
  // copied content, new empty files, new or changed symlinks.
  const auto in_a = paths_by_hash(m_current);
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& e = to.entries[i];
    const Entry* old = m_current.find(e.path);
    const bool same_type = old != nullptr && old->type == e.type;
    const std::string name = std::to_string(i);
    const std::string shown = util::join(m_dir, e.path);
    if (e.type == EntryType::directory) {
      continue;
    }
    if (e.type == EntryType::symlink) {
      if (same_type && old->target == e.target) {
        report.linked += 1;
        continue; // in place; metadata fixed by the roll forward
      }
      if (::symlinkat(e.target.c_str(), stage.get(), name.c_str()) != 0) {
        return fail(util::io_error(shown, "cannot create symlink in the stage", errno));
      }
    } else if (!target.written()[i]) {
      if (same_type && old->hash == e.hash) {
        report.linked += 1;
        continue; // in place
      }
      util::Status s;
      if (e.size == 0) {
        util::Fd fd(::openat(stage.get(), name.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        s = fd ? util::Status{} : util::io_error(shown, "cannot create in the stage", errno);
      } else if (const std::string* b = target.staged_with(e.hash)) {
        s = copy_file(stage.get(), *b, stage.get(), name, shown);
      } else if (const auto a = in_a.find(e.hash); a != in_a.end()) {
        s = copy_file(live, a->second, stage.get(), name, shown);
      } else {
        s =
          util::make_error(util::Errc::data, "the delta has no content for " + util::quote(e.path));
      }
      if (!s) {
        return fail(s.error());
      }
      report.copied += 1;
    }
    if (auto s = set_metadata(stage.get(), name, e, shown, owners); !s) {
      return fail(s.error());
    }
  }
  fault("stage built");

  // Durable before DIR changes; from the journal on, the commit goes ahead.
  if (::syncfs(stage.get()) != 0) {
    return fail(util::io_error(stage_path, "syncfs failed", errno));
  }
  if (auto s = save_owners("stage.owners", owners); !s) {
    return fail(s.error());
  }
  if (auto s = util::write_file_atomic(path("stage.manifest"), encode(to), util::Durability::fsync);
      !s) {
    return fail(s.error());
  }
  // The kept tree (of an earlier atomic commit) is not DIR's to undo to.
  if (auto s = util::remove_tree(path("previous")); !s) {
    return fail(s.error());
  }
  (void)::unlink(path("previous.manifest").c_str());
  fault("stage durable");
  report.written = target.count();
  report.bytes_written = target.bytes();
  report.to = std::move(to);
  return report;
}

util::Status Follower::roll_inplace(const Manifest& to)
{
  const std::string journal = "inplace 0 0\n";
  if (auto s = util::write_file_atomic(
        path("journal"), {reinterpret_cast<const std::uint8_t*>(journal.data()), journal.size()},
        util::Durability::fsync);
      !s) {
    (void)discard_stage();
    return s;
  }
  fault("journal written");
  if (auto s = roll_forward(to); !s) {
    return s; // the journal stays: the next command carries on
  }
  return finish_inplace(to);
}

util::Status Follower::roll_forward(const Manifest& to)
{
  util::Fd live(::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!live) {
    return util::io_error(m_dir, "cannot open", errno);
  }
  util::Fd stage(::open(path("stage").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!stage) {
    return util::io_error(path("stage"), "cannot open", errno);
  }
  const Manifest& from = m_current;
  auto owners = util::read_file(path("stage.owners"), 64);
  const Owners how = owners && std::string(owners->begin(), owners->end()) == "restore\n"
                       ? Owners::restore
                       : Owners::keep;

  // 1. What B drops or turns into another type, deepest first; only while
  //    it is still A's (a path already replaced is left alone).
  for (auto it = from.entries.rbegin(); it != from.entries.rend(); ++it) {
    const Entry* next = to.find(it->path);
    if (next != nullptr && next->type == it->type) {
      continue;
    }
    const auto [parent_path, name] = split(it->path);
    auto parent = open_folder(live.get(), parent_path);
    if (!parent) {
      continue; // its folder is gone already, and it with it
    }
    if (disk_type(parent->get(), name) != it->type) {
      continue;
    }
    const int flags = it->type == EntryType::directory ? AT_REMOVEDIR : 0;
    if (::unlinkat(parent->get(), name.c_str(), flags) != 0 && errno != ENOENT) {
      return util::io_error(util::join(m_dir, it->path), "cannot remove", errno);
    }
  }
  fault("inplace removed");

  // 2. B's folders and staged entries, parents first.
  bool renamed = false;
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& e = to.entries[i];
    const auto [parent_path, name] = split(e.path);
    auto parent = open_folder(live.get(), parent_path);
    if (!parent) {
      return parent.error();
    }
    const std::string shown = util::join(m_dir, e.path);
    if (e.type == EntryType::directory) {
      if (::mkdirat(parent->get(), name.c_str(), 0700) != 0 && errno != EEXIST) {
        return util::io_error(shown, "cannot create", errno);
      }
      continue;
    }
    if (staged_exists(stage.get(), i)) {
      if (::renameat(stage.get(), std::to_string(i).c_str(), parent->get(), name.c_str()) != 0) {
        return util::io_error(shown, "cannot move the new file into place", errno);
      }
      if (!renamed) {
        renamed = true;
        fault("inplace renamed");
      }
    } else if (auto s = set_metadata(parent->get(), name, e, shown, how, recorded(from, e)); !s) {
      return s; // in place: its mode, owner or time may have changed
    }
  }
  // 3. Folders' modes, owners and times, deepest first.
  for (auto it = to.entries.rbegin(); it != to.entries.rend(); ++it) {
    if (it->type != EntryType::directory) {
      continue;
    }
    const auto [parent_path, name] = split(it->path);
    auto parent = open_folder(live.get(), parent_path);
    if (!parent) {
      return parent.error();
    }
    if (auto s = set_metadata(parent->get(), name, *it, util::join(m_dir, it->path), how,
                              recorded(from, *it));
        !s) {
      return s;
    }
  }
  if (::syncfs(live.get()) != 0) {
    return util::io_error(m_dir, "syncfs failed", errno);
  }
  return {};
}

util::Status Follower::finish_inplace(const Manifest& to)
{
  util::SerialExecutor serial;
  if (auto s = save_keys(m_dir, to, path("stage.statcache"), serial); !s) {
    return s;
  }
  for (const auto& [from, into] :
       {std::pair("stage.statcache", "statcache"), std::pair("stage.owners", "owners"),
        std::pair("stage.manifest", "current")}) {
    if (::rename(path(from).c_str(), path(into).c_str()) != 0 && errno != ENOENT) {
      return util::io_error(path(from), "cannot rename", errno);
    }
  }
  fault("committed");
  if (auto s = util::remove_tree(path("stage")); !s) {
    return s;
  }
  if (auto s = util::fsync_dir(m_state); !s) {
    return s;
  }
  // The marker of a prepared stage goes before the journal: without the
  // journal, a marker left over would keep a stage that is gone.
  if (::unlink(path("prepared").c_str()) != 0 && errno != ENOENT) {
    return util::io_error(path("prepared"), "cannot remove", errno);
  }
  if (::unlink(path("journal").c_str()) != 0 && errno != ENOENT) {
    return util::io_error(path("journal"), "cannot remove", errno);
  }
  m_current = to;
  load();
  return util::fsync_dir(m_state);
}

} // namespace treecast::core
