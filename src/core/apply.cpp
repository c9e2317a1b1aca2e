// Applying a delta to a follower's tree: check DIR for drift, build the
// next version as a whole tree in the state folder (new files from the
// delta, unchanged ones hard-linked from DIR, the rest copied), make it
// durable, then swap it with DIR (follower.hpp).

#include "core/apply_stage.hpp"
#include "follower.hpp"
#include "util/human.hpp"

#include <climits>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <optional>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <unordered_map>

namespace treecast::core {

util::Result<util::Fd> Follower::new_stage()
{
  const std::string stage_path = path("stage");
  if (auto s = discard_stage(); !s) {
    return s.error();
  }
  if (::mkdir(stage_path.c_str(), 0700) != 0) {
    return util::io_error(stage_path, "cannot create", errno);
  }
  util::Fd stage(::open(stage_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!stage) {
    return util::io_error(stage_path, "cannot open", errno);
  }
  return stage;
}

namespace {

// The mount a path is on (statx's mount id): two bind mounts of one file
// system have the same st_dev, but a rename between them fails (EXDEV),
// as does the swap of a mount point (EBUSY). nullopt where the kernel
// cannot say.
std::optional<std::uint64_t> mount_id(const std::string& path)
{
  struct statx sx
  {};
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) != 0 ||
      (sx.stx_mask & STATX_MNT_ID) == 0) {
    return std::nullopt;
  }
  return sx.stx_mnt_id;
}

bool other_mount(const std::string& a, const std::string& b)
{
  const auto ma = mount_id(a);
  const auto mb = mount_id(b);
  return ma && mb && *ma != *mb;
}

} // namespace

util::Status Follower::check_same_file_system(CommitMode mode) const
{
  const auto slash = m_dir.rfind('/');
  const std::string parent =
    slash == std::string::npos ? std::string(".") : m_dir.substr(0, slash ? slash : 1);
  struct stat state_st
  {};
  struct stat parent_st
  {};
  struct stat dir_st
  {};
  if (::stat(m_state.c_str(), &state_st) != 0) {
    return util::io_error(m_state, "cannot stat", errno);
  }
  if (::stat(parent.c_str(), &parent_st) != 0) {
    return util::io_error(parent, "cannot stat", errno);
  }
  const bool dir_exists = ::lstat(m_dir.c_str(), &dir_st) == 0;
  if (mode == CommitMode::atomic && dir_exists) {
    // The swap moves DIR whole: a state folder inside it would go along.
    char dir_real[PATH_MAX];
    char state_real[PATH_MAX];
    if (::realpath(m_dir.c_str(), dir_real) != nullptr &&
        ::realpath(m_state.c_str(), state_real) != nullptr &&
        std::string_view(state_real).starts_with(std::string(dir_real) + "/")) {
      return util::make_error(util::Errc::conflict,
                              "the state folder " + util::quote(m_state) + " is inside " +
                                util::quote(m_dir) +
                                ": that works with --commit inplace only (an atomic commit "
                                "swaps the whole folder)");
    }
  }
  if (mode == CommitMode::atomic && dir_exists &&
      (dir_st.st_dev != parent_st.st_dev || other_mount(m_dir, parent))) {
    return util::make_error(util::Errc::conflict,
                            util::quote(m_dir) +
                              " is a mount point: an atomic commit swaps the folder itself; "
                              "use --commit inplace with a --state folder inside it");
  }
  const dev_t tree_dev = dir_exists ? dir_st.st_dev : parent_st.st_dev;
  if (state_st.st_dev != tree_dev || other_mount(m_state, dir_exists ? m_dir : parent)) {
    return util::make_error(util::Errc::conflict,
                            "the state folder " + util::quote(m_state) +
                              " is on another file system or mount than " + util::quote(m_dir) +
                              ": the new files are staged there and renamed into place, so give "
                              "a --state on DIR's file system");
  }
  return {};
}

util::Result<ApplyReport> Follower::apply(DeltaReader& reader, const DeltaHeader& header,
                                          Owners owners, CommitMode mode, util::Executor& executor)
{
  if (auto staged = prepare(reader, header, owners, mode, executor, ""); !staged) {
    return staged.error();
  }
  return commit_prepared(executor);
}

util::Result<ApplyReport> Follower::prepare(DeltaReader& reader, const DeltaHeader& header,
                                            Owners owners, CommitMode mode,
                                            util::Executor& executor, const std::string& tag)
{
  if (m_prepared) {
    return util::make_error(util::Errc::conflict, util::quote(m_dir) + " has v" +
                                                    std::to_string(m_prepared->to.header.number) +
                                                    " staged for " + util::quote(m_prepared->tag) +
                                                    ", waiting for its commit or abort");
  }
  ApplyReport report;
  report.from = m_current;
  // The delta must start where DIR is, and DIR must be exactly there.
  if (header.from_number != m_current.header.number ||
      (header.from_number != 0 && header.from_id != m_current.id) ||
      (m_current.header.number != 0 && header.channel != m_current.header.channel)) {
    const std::string held =
      m_current.header.number == 0
        ? std::string("no version")
        : "v" + std::to_string(m_current.header.number) + " of " + m_current.header.channel;
    return util::make_error(
      util::Errc::conflict,
      "the delta goes from " +
        (header.from_number == 0
           ? std::string("nothing")
           : "v" + std::to_string(header.from_number) + " (" + header.from_id.short_hex() + ")") +
        " to v" + std::to_string(header.to_number) + " of " + header.channel + ", but " +
        util::quote(m_dir) + " holds " + held);
  }
  auto drifted = drift(executor);
  if (!drifted) {
    return drifted.error();
  }
  if (!drifted->empty()) {
    return util::make_error(util::Errc::conflict, drift_message(m_dir, m_current, *drifted));
  }
  // Renames need DIR and the stage on one file system, and the swap needs
  // DIR not a mount point: found now, not after the stage is built.
  if (auto s = check_same_file_system(mode); !s) {
    return s.error();
  }
  auto to = reader.read_manifest(m_current);
  if (!to) {
    return to.error();
  }
  // Free space: the new files, the files that are copied rather than
  // linked, and a margin for folders.
  struct statvfs fs
  {};
  if (::statvfs(m_state.c_str(), &fs) == 0) {
    std::uint64_t need = header.write_bytes + header.write_bytes / 50 + (1 << 20);
    for (const Entry& e : to->entries) {
      const Entry* old = m_current.find(e.path);
      if (e.type == EntryType::file && old != nullptr && old->type == EntryType::file &&
          old->hash == e.hash && !same_metadata(*old, e, owners)) {
        need += e.size;
      }
    }
    const std::uint64_t free = static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
    if (need > free) {
      return util::make_error(util::Errc::io, "not enough space for the new version beside " +
                                                util::quote(m_dir) + ": it needs " +
                                                util::human_size(need) + ", " +
                                                util::human_size(free) + " is free");
    }
  }

  // DIR itself may not exist yet (a first apply, from nothing).
  if (::mkdir(m_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return util::io_error(m_dir, "cannot create", errno);
  }
  util::Fd live(::open(m_dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!live) {
    return util::io_error(m_dir, "cannot open", errno);
  }
  auto staged =
    mode == CommitMode::atomic
      ? stage_atomic(reader, std::move(*to), owners, executor, live.get(), std::move(report))
      : stage_inplace(reader, std::move(*to), owners, live.get(), std::move(report));
  if (!staged) {
    return staged;
  }
  // A plain apply commits at once: a crash before it discards the stage.
  // A transaction's stage outlives this process until its decision.
  if (!tag.empty()) {
    const std::string marker =
      std::string(mode == CommitMode::atomic ? "atomic " : "inplace ") + tag + "\n";
    if (auto s = util::write_file_atomic(
          path("prepared"), {reinterpret_cast<const std::uint8_t*>(marker.data()), marker.size()},
          util::Durability::fsync);
        !s) {
      (void)discard_stage();
      return s.error();
    }
    fault("prepared");
  }
  m_prepared = Prepared{tag, mode, staged->to};
  m_prepared_report = *staged;
  return staged;
}

util::Result<ApplyReport> Follower::commit_prepared(util::Executor& executor)
{
  if (!m_prepared) {
    return util::make_error(util::Errc::usage, util::quote(m_dir) + " has nothing staged");
  }
  // Between a transaction's prepare and its decision, DIR must stay as it
  // was: the stage shares its unchanged files.
  if (!m_prepared->tag.empty()) {
    auto drifted = drift(executor);
    if (!drifted) {
      return drifted.error();
    }
    if (!drifted->empty()) {
      return util::make_error(util::Errc::conflict, drift_message(m_dir, m_current, *drifted));
    }
  }
  const Prepared prepared = std::move(*m_prepared);
  ApplyReport report = std::move(m_prepared_report);
  m_prepared.reset();
  m_prepared_report = {};
  if (report.to.header.number == 0) { // prepared by an earlier process
    report.from = m_current;
    report.to = prepared.to;
  }
  if (auto s =
        prepared.mode == CommitMode::atomic ? swap_atomic(prepared.to) : roll_inplace(prepared.to);
      !s) {
    return s.error();
  }
  return report;
}

util::Status Follower::abort_prepared()
{
  if (!m_prepared) {
    return {};
  }
  m_prepared.reset();
  m_prepared_report = {};
  return discard_stage();
}

util::Result<ApplyReport> Follower::stage_atomic(DeltaReader& reader, Manifest to_manifest,
                                                 Owners owners, util::Executor& executor, int live,
                                                 ApplyReport report)
{
  Manifest* to = &to_manifest;
  const std::string stage_path = path("stage");
  struct stat dir_st
  {};
  ::fstat(live, &dir_st);
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

  // Folders first, writable by their owner until the end.
  for (const Entry& e : to->entries) {
    if (e.type == EntryType::directory && ::mkdirat(stage.get(), e.path.c_str(), 0700) != 0) {
      return fail(util::io_error(util::join(m_dir, e.path), "cannot create in the stage", errno));
    }
  }
  Stage target(live, stage.get(), m_dir, m_current, *to, StageLayout::tree);
  if (auto s = reader.read_payload(m_current, *to, target); !s) {
    return fail(s.error());
  }
  fault("payload read");

  // Every other entry: from DIR (linked when nothing about it changes,
  // else copied), from a file the delta wrote, or made anew.
  const auto in_a = paths_by_hash(m_current);
  for (std::size_t i = 0; i < to->entries.size(); ++i) {
    const Entry& e = to->entries[i];
    if (e.type == EntryType::directory) {
      continue;
    }
    const std::string shown = util::join(m_dir, e.path);
    const auto [parent_path, name] = split(e.path);
    auto parent = open_folder(stage.get(), parent_path);
    if (!parent) {
      return fail(parent.error());
    }
    if (e.type == EntryType::symlink) {
      // An unchanged symlink is linked like an unchanged file (the link
      // itself, never followed): one call instead of three.
      const Entry* old = m_current.find(e.path);
      if (old != nullptr && old->type == EntryType::symlink && old->target == e.target &&
          same_metadata(*old, e, owners)) {
        auto old_parent = open_folder(live, parent_path);
        if (!old_parent) {
          return fail(old_parent.error());
        }
        if (::linkat(old_parent->get(), name.c_str(), parent->get(), name.c_str(), 0) == 0) {
          continue;
        }
      }
      if (::symlinkat(e.target.c_str(), parent->get(), name.c_str()) != 0) {
        return fail(util::io_error(shown, "cannot create symlink in the stage", errno));
      }
    } else if (!target.written()[i]) {
      const Entry* old = m_current.find(e.path);
      if (e.size == 0) {
        util::Fd fd(::openat(parent->get(), name.c_str(),
                             O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd) {
          return fail(util::io_error(shown, "cannot create in the stage", errno));
        }
      } else if (old != nullptr && old->type == EntryType::file && old->hash == e.hash &&
                 same_metadata(*old, e, owners)) {
        auto old_parent = open_folder(live, parent_path);
        if (!old_parent) {
          return fail(old_parent.error());
        }
        if (::linkat(old_parent->get(), name.c_str(), parent->get(), name.c_str(), 0) == 0) {
          report.linked += 1;
          continue; // shares the old file's inode, metadata included
        }
        if (auto s = copy_file(live, e.path, parent->get(), name, shown); !s) {
          return fail(s.error());
        }
        report.copied += 1;
      } else if (const std::string* b = target.staged_with(e.hash)) {
        if (auto s = copy_file(stage.get(), *b, parent->get(), name, shown); !s) {
          return fail(s.error());
        }
        report.copied += 1;
      } else if (const auto a = in_a.find(e.hash); a != in_a.end()) {
        if (auto s = copy_file(live, a->second, parent->get(), name, shown); !s) {
          return fail(s.error());
        }
        report.copied += 1;
      } else {
        return fail(util::make_error(util::Errc::data,
                                     "the delta has no content for " + util::quote(e.path)));
      }
    }
    if (auto s = set_metadata(parent->get(), name, e, shown, owners); !s) {
      return fail(s.error());
    }
  }
  // Folders' modes, owners and times, deepest first; the stage's root
  // takes DIR's own.
  for (auto it = to->entries.rbegin(); it != to->entries.rend(); ++it) {
    if (it->type != EntryType::directory) {
      continue;
    }
    const auto [parent_path, name] = split(it->path);
    auto parent = open_folder(stage.get(), parent_path);
    if (!parent) {
      return fail(parent.error());
    }
    if (auto s = set_metadata(parent->get(), name, *it, util::join(m_dir, it->path), owners); !s) {
      return fail(s.error());
    }
  }
  ::fchmod(stage.get(), dir_st.st_mode & 07777);
  if (owners == Owners::restore) {
    (void)::fchown(stage.get(), dir_st.st_uid, dir_st.st_gid);
  }
  fault("stage built");

  // The tree kept by the last commit goes now, before the stat fields are
  // taken: removing it changes the ctime of every file DIR shares with it.
  if (auto s = util::remove_tree(path("previous")); !s) {
    return fail(s.error());
  }
  (void)::unlink(path("previous.manifest").c_str());
  // Durable before it becomes DIR: the files, the manifest, the stat cache.
  if (::syncfs(stage.get()) != 0) {
    return fail(util::io_error(stage_path, "syncfs failed", errno));
  }
  if (auto s = save_keys(stage_path, *to, path("stage.statcache"), executor); !s) {
    return fail(s.error());
  }
  if (auto s = save_owners("stage.owners", owners); !s) {
    return fail(s.error());
  }
  if (auto s =
        util::write_file_atomic(path("stage.manifest"), encode(*to), util::Durability::fsync);
      !s) {
    return fail(s.error());
  }
  fault("stage durable");
  report.written = target.count();
  report.bytes_written = target.bytes();
  report.to = std::move(to_manifest);
  return report;
}

util::Status Follower::swap_atomic(const Manifest& to)
{
  const std::string stage_path = path("stage");
  struct stat stage_st
  {};
  if (::lstat(stage_path.c_str(), &stage_st) != 0) {
    return util::io_error(stage_path, "cannot stat", errno);
  }
  const std::string journal =
    "exchange " + std::to_string(stage_st.st_dev) + " " + std::to_string(stage_st.st_ino) + "\n";
  if (auto s = util::write_file_atomic(
        path("journal"), {reinterpret_cast<const std::uint8_t*>(journal.data()), journal.size()},
        util::Durability::fsync);
      !s) {
    (void)discard_stage();
    return s.error();
  }
  fault("journal written");
  if (::renameat2(AT_FDCWD, stage_path.c_str(), AT_FDCWD, m_dir.c_str(), RENAME_EXCHANGE) != 0) {
    const int err = errno;
    (void)recover();
    return util::io_error(m_dir,
                          err == EXDEV || err == EBUSY
                            ? "cannot swap the new tree in (a mount point, or another "
                              "file system than its state folder)"
                            : "cannot swap the new tree in",
                          err);
  }
  fault("exchanged");
  const std::string parent_dir = [&] {
    const auto slash = m_dir.rfind('/');
    return slash == std::string::npos ? std::string(".") : m_dir.substr(0, slash ? slash : 1);
  }();
  if (auto s = util::fsync_dir(parent_dir); !s) {
    return s.error();
  }
  if (auto s = finish_exchange(); !s) {
    return s.error();
  }
  fault("committed");
  if (auto s = recover(); !s) { // removes the journal
    return s;
  }
  m_recovered.clear();
  m_current = to;
  load();
  return {};
}

} // namespace treecast::core
