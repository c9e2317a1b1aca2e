// A snapshot runs in passes:
//   1. lock the channel (one snapshot at a time) and the store (shared, so gc
//      waits);
//   2. walk the tree on every thread (tree_walk), while one thread first
//      loads the latest manifest and its stat cache;
//   3. pair the walk's items with the latest manifest's entries (both sorted
//      by path); take hashes from the manifest where the stat cache trusts
//      the file; read every other file on the executor, largest first
//      (file_reader.hpp);
//   4. if every item has the identity of the previous entry at its position,
//      record nothing; otherwise build the manifest, publish the new objects,
//      then the manifest and ref;
//   5. save the stat cache, in the order of the manifest it follows.

#include "snapshot.hpp"

#include "core/file_reader.hpp"
#include "core/stat_cache.hpp"
#include "core/tree_walk.hpp"
#include "util/file.hpp"
#include "util/human.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>
#include <utility>

namespace treecast::core {

namespace {

// An entry of the new manifest as the walk and the reads found it.
Entry make_entry(const WalkItem& item, OwnerNames& names)
{
  Entry e;
  e.path = item.path;
  e.type = item.type();
  e.mode = item.key.mode & 07777;
  e.uid = item.uid;
  e.gid = item.gid;
  e.user = names.user(item.uid);
  e.group = names.group(item.gid);
  e.mtime_ns = item.key.mtime_ns;
  if (e.type == EntryType::file) {
    e.size = item.key.size;
    e.hash = item.hash;
  }
  e.target = item.target;
  e.xattrs = item.xattrs;
  return e;
}

// make_entry(item, names).same_identity(e), without building the entry.
bool same_identity(const WalkItem& item, const Entry& e, OwnerNames& names)
{
  const EntryType type = item.type();
  const bool file = type == EntryType::file;
  return item.path == e.path && type == e.type && (item.key.mode & 07777) == e.mode &&
         item.uid == e.uid && item.gid == e.gid && (file ? item.key.size : 0) == e.size &&
         (file ? item.hash : util::Hash128{}) == e.hash && item.target == e.target &&
         item.xattrs == e.xattrs && names.user(item.uid) == e.user &&
         names.group(item.gid) == e.group;
}

} // namespace

util::Result<SnapshotReport> snapshot(const Store& store, const std::string& dir,
                                      const SnapshotOptions& options, util::Executor& executor)
{
  if (auto s = validate_channel(options.channel); !s) {
    return s.error();
  }
  if (options.message.size() > k_max_message) {
    return util::make_error(util::Errc::usage, "the message is longer than " +
                                                 std::to_string(k_max_message) + " bytes");
  }
  // 1. Locks, the latest version, the stat cache.
  // A missing or unreadable tree fails before the channel is made.
  struct stat root
  {};
  if (::stat(dir.c_str(), &root) != 0) {
    return util::io_error(dir, "cannot read the tree", errno);
  }
  if (!S_ISDIR(root.st_mode)) {
    return util::make_error(util::Errc::usage, util::quote(dir) + " is not a folder");
  }
  auto channel_lock = store.lock_channel(options.channel, Create::yes);
  if (!channel_lock) {
    return channel_lock.error();
  }
  auto store_lock = store.lock_store(LockMode::shared);
  if (!store_lock) {
    return store_lock.error();
  }
  const std::int64_t start_ns = util::now_ns();
  // The stat cache's racy rule compares file timestamps with the file
  // system's clock, which may lag start_ns by a tick.
  auto fs_start = util::filesystem_now(store.channel_dir(options.channel) + "/lock");
  if (!fs_start) {
    return fs_start.error();
  }
  // 2. Walk the tree on every thread, while one of them first loads the
  // previous version and the stat cache.
  const std::string cache_path = store.channel_dir(options.channel) + "/statcache";
  std::optional<Manifest> previous;
  StatCache old_cache;
  util::Status loaded;
  const ExcludeList excludes(options.excludes);
  TreeWalk walk(dir, excludes);
  executor.for_each(1 + executor.concurrency(), [&](std::size_t task) {
    if (task > 0) {
      walk.work();
      return;
    }
    auto latest = store.latest(options.channel);
    if (!latest) {
      loaded = latest.error();
      return;
    }
    if (*latest) {
      auto m = store.read_manifest(options.channel, (*latest)->number);
      if (!m) {
        loaded = m.error();
        return;
      }
      previous = std::move(*m);
      old_cache = StatCache::load(cache_path);
    }
  });
  if (!loaded) {
    return loaded.error();
  }
  auto walked = walk.finish();
  if (!walked) {
    return walked.error();
  }
  std::vector<WalkItem>& items = walked->items;
  const std::vector<Entry> no_entries;
  const std::vector<Entry>& old_entries = previous ? previous->entries : no_entries;

  // 3. Hashes: from the stat cache, or read. Items and the previous entries
  // are both sorted by path: one merge pass pairs them.
  const bool cache_follows = previous && old_cache.follows(previous->id, previous->entries.size());
  struct ToRead
  {
    std::size_t item;
    bool probably_stored; // the path had a file of the same size before
  };
  std::vector<ToRead> to_read;
  for (std::size_t i = 0, j = 0; i < items.size(); ++i) {
    WalkItem& item = items[i];
    while (j < old_entries.size() && old_entries[j].path < item.path) {
      ++j;
    }
    if (item.type() != EntryType::file) {
      continue;
    }
    const Entry* old = j < old_entries.size() && old_entries[j].path == item.path &&
                           old_entries[j].type == EntryType::file
                         ? &old_entries[j]
                         : nullptr;
    // Trusted records belong to the latest version, whose content gc keeps.
    if (old != nullptr && cache_follows && old_cache.trusted(j, item.key)) {
      item.hash = old->hash;
    } else {
      to_read.push_back({i, old != nullptr && old->size == item.key.size});
    }
  }
  old_cache = StatCache(); // done with: memory stays bounded by each phase's needs
  // Largest first: a large file's compression (on libzstd's threads) then
  // overlaps the many small ones, instead of running alone at the end.
  std::stable_sort(to_read.begin(), to_read.end(), [&](const ToRead& a, const ToRead& b) {
    return items[a.item].key.size > items[b.item].key.size;
  });

  // The readers report to progress with the total to read.
  SnapshotOptions reading = options;
  if (options.progress) {
    std::uint64_t total = 0;
    for (const ToRead& r : to_read) {
      total += items[r.item].key.size;
    }
    reading.progress = [&options, total](std::uint64_t n, std::uint64_t) {
      options.progress(n, total);
    };
  }

  SnapshotReport report;
  report.warnings = std::move(walked->warnings);
  KnownContent known(store);
  for (const Entry& e : old_entries) {
    if (e.type == EntryType::file) {
      known.add(e.hash);
    }
  }
  // Readers hold the temporary folders of the new objects: they live until
  // the objects are published (or dropped) at the end of the snapshot.
  std::mutex mutex;
  std::vector<std::unique_ptr<FileReader>> idle_readers;
  std::vector<PendingObject> pending;
  std::optional<std::pair<std::size_t, util::Error>> failed; // the first by path
  executor.for_each(to_read.size(), [&](std::size_t k) {
    std::unique_ptr<FileReader> reader;
    {
      std::lock_guard lock(mutex);
      if (!idle_readers.empty()) {
        reader = std::move(idle_readers.back());
        idle_readers.pop_back();
      }
    }
    if (!reader) {
      reader = std::make_unique<FileReader>(store, reading, known);
    }
    WalkItem& item = items[to_read[k].item];
    auto outcome = reader->read(dir, std::string(item.path), to_read[k].probably_stored);
    std::lock_guard lock(mutex);
    idle_readers.push_back(std::move(reader));
    if (!outcome) {
      if (!failed || to_read[k].item < failed->first) {
        failed.emplace(to_read[k].item, std::move(outcome.error()));
      }
      return;
    }
    // What was read is what is recorded: stat fields from the read itself.
    const struct stat& st = outcome->st;
    item.hash = outcome->hash;
    item.key = stat_key(st);
    item.uid = st.st_uid;
    item.gid = st.st_gid;
    report.files_read += 1;
    report.bytes_read += outcome->bytes_read;
    if (outcome->object || outcome->packed) {
      report.new_objects += 1;
      report.new_bytes += outcome->new_bytes;
    }
    if (outcome->object) {
      pending.push_back(std::move(*outcome->object));
    }
  });
  if (failed) {
    return std::move(failed->second);
  }
  to_read = {};
  if (options.xattrs != 0) {
    for (WalkItem& item : items) {
      if (item.type() == EntryType::symlink) {
        continue;
      }
      auto xattrs = read_xattrs(util::join(dir, std::string(item.path)), options.xattrs);
      if (!xattrs) {
        return xattrs.error();
      }
      item.xattrs = std::move(*xattrs);
    }
  }

  // 4. The manifest. Entry for entry the same identity as the previous
  // version means the same encoding, so the same id: an unchanged tree is
  // neither built again nor encoded.
  OwnerNames names;
  const bool same_tree =
    previous &&
    std::equal(items.begin(), items.end(), old_entries.begin(), old_entries.end(),
               [&](const WalkItem& a, const Entry& b) { return same_identity(a, b, names); });
  std::vector<StatKey> keys;
  keys.reserve(items.size());
  for (const WalkItem& item : items) {
    keys.push_back(item.key);
  }
  // The stat cache changes when a file was read or when it did not follow
  // the latest version; an unchanged tree read from the cache leaves it be.
  const bool save_cache = options.record && (report.files_read > 0 || !cache_follows || !same_tree);
  if (same_tree) {
    report.recorded = false;
    report.manifest = std::move(*previous);
  } else {
    Manifest manifest;
    manifest.header.channel = options.channel;
    manifest.header.number = previous ? previous->header.number + 1 : 1;
    manifest.header.parent = previous ? previous->header.number : 0;
    manifest.header.time_ns = start_ns;
    manifest.header.message = options.message;
    manifest.entries.reserve(items.size());
    for (const WalkItem& item : items) {
      manifest.entries.push_back(make_entry(item, names));
    }
    items = {};
    walked->text.clear();
    finalize(manifest); // the entries are sorted already: this encodes them for the id
    if (previous) {
      // Entries added, removed or changed: a merge walk of two sorted lists.
      const auto& a = previous->entries;
      const auto& b = manifest.entries;
      std::size_t i = 0;
      std::size_t j = 0;
      while (i < a.size() || j < b.size()) {
        if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
          ++report.changed, ++i;
        } else if (i == a.size() || b[j].path < a[i].path) {
          ++report.changed, ++j;
        } else {
          report.changed += a[i].same_identity(b[j]) ? 0 : 1;
          ++i, ++j;
        }
      }
      previous.reset();
    } else {
      report.changed = manifest.entries.size();
    }
    std::vector<PendingPack> packs;
    for (const auto& reader : idle_readers) {
      auto pack = reader->finish_pack();
      if (!pack) {
        return pack.error();
      }
      if (*pack) {
        packs.push_back(std::move(**pack));
      }
    }
    if (auto s = store.publish(pending, packs, executor); !s) {
      return s.error();
    }
    if (!options.record) {
      report.manifest = std::move(manifest);
      return report;
    }
    if (auto s = store.add_version(manifest); !s) {
      return s.error();
    }
    report.recorded = true;
    report.manifest = std::move(manifest);
  }

  // 5. The stat cache (a cache: failing to save it costs speed, not data).
  if (save_cache) {
    const StatCache cache(report.manifest.id, std::min(*fs_start, start_ns), std::move(keys));
    (void)cache.save(cache_path);
  }
  return report;
}

util::Result<Manifest> republish(const Store& store, const Manifest& earlier,
                                 const std::string& message)
{
  const std::string& channel = earlier.header.channel;
  auto channel_lock = store.lock_channel(channel, Create::no);
  if (!channel_lock) {
    return channel_lock.error();
  }
  auto store_lock = store.lock_store(LockMode::shared);
  if (!store_lock) {
    return store_lock.error();
  }
  for (const Entry& e : earlier.entries) {
    if (e.type == EntryType::file && e.size > 0 && !store.has_object(e.hash)) {
      return util::make_error(util::Errc::not_found,
                              "v" + std::to_string(earlier.header.number) + " of " + channel +
                                " cannot be published again: the content of " +
                                util::quote(e.path) + " is gone from the store");
    }
  }
  auto latest = store.latest(channel);
  if (!latest) {
    return latest.error();
  }
  Manifest m;
  m.header.channel = channel;
  m.header.number = *latest ? (*latest)->number + 1 : 1;
  m.header.parent = *latest ? (*latest)->number : 0;
  m.header.time_ns = util::now_ns();
  m.header.message = message;
  m.entries = earlier.entries;
  finalize(m);
  if (auto s = store.add_version(m); !s) {
    return s.error();
  }
  return m;
}

} // namespace treecast::core
