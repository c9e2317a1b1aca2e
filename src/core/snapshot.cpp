// A snapshot runs in passes:
//   1. lock the channel (one snapshot at a time) and the store (shared, so gc
//      waits), load the latest manifest and the stat cache;
//   2. walk the tree (tree_walk), keeping stat fields;
//   3. take hashes from the stat cache where it is trusted; read every other
//      file on the executor (read_file_content below);
//   4. build and finalize the manifest; if its id is the latest one's, record
//      nothing; otherwise publish the new objects, then the manifest and ref;
//   5. save the stat cache.
//
// Reading a file: when the path existed before with the same size, the file
// is probably unchanged (touched, or rewritten with the same bytes), so it is
// hashed first and compressed only if the hash is new; otherwise hashing and
// compressing share one pass, and the compressed copy is dropped in the rare
// case the content was already stored. A file whose size, mtime or ctime move
// while it is read, or that yields a different number of bytes than stat
// said, is read again, a bounded number of times.

#include "snapshot.hpp"

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

namespace treecast::core {

namespace {

constexpr std::size_t k_block = 256 * 1024;

bool same_file_state(const struct stat& a, const struct stat& b)
{
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev && a.st_size == b.st_size &&
         timestamp_ns(a.st_mtim) == timestamp_ns(b.st_mtim) &&
         timestamp_ns(a.st_ctim) == timestamp_ns(b.st_ctim);
}

// Content seen by one worker for one file.
struct FileOutcome
{
  util::Hash128 hash;
  std::optional<PendingObject> object; // new content, written to tmp/
  struct stat st
  {};
  std::uint64_t bytes_read = 0;
};

// Shared by the workers: hashes known to be in the store or claimed by a
// worker in this snapshot, so equal new files are stored once.
class KnownContent
{
public:
  explicit KnownContent(const Store& store) : m_store(store) {}

  void add(const util::Hash128& hash) { m_known.insert(hash); }

  // True when the content is stored or another worker is storing it;
  // otherwise claims it for the caller.
  bool known_or_claim(const util::Hash128& hash)
  {
    std::lock_guard lock(m_mutex);
    if (m_known.contains(hash)) {
      return true;
    }
    m_known.insert(hash);
    return m_store.has_object(hash);
  }

  // Gives up a claim (the claimant's copy turned out unusable).
  void release(const util::Hash128& hash)
  {
    std::lock_guard lock(m_mutex);
    m_known.erase(hash);
  }

private:
  const Store& m_store;
  std::mutex m_mutex;
  std::unordered_set<util::Hash128> m_known;
};

class FileReader
{
public:
  FileReader(const Store& store, const SnapshotOptions& options, KnownContent& known)
    : m_store(store), m_options(options), m_known(known), m_compressor(options.level),
      m_buffer(k_block)
  {
  }

  util::Result<FileOutcome> read(const std::string& root, const std::string& path,
                                 bool probably_stored)
  {
    const std::string full = util::join(root, path);
    for (int attempt = 0; attempt < m_options.read_tries; ++attempt) {
      auto outcome = read_once(full, path, attempt, probably_stored);
      if (!outcome) {
        return outcome.error();
      }
      if (*outcome) {
        return std::move(**outcome);
      }
    }
    return util::make_error(util::Errc::io,
                            util::quote(full) + ": the file changed while it was read, " +
                              std::to_string(m_options.read_tries) + " times; try again when " +
                              "it is quiet, or --exclude it");
  }

private:
  // nullopt: the file changed while read; try again.
  util::Result<std::optional<FileOutcome>> read_once(const std::string& full,
                                                     const std::string& path, int attempt,
                                                     bool hash_first)
  {
    util::Fd fd(::open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
    if (!fd) {
      return util::io_error(full, "cannot open", errno);
    }
    FileOutcome outcome;
    if (::fstat(fd.get(), &outcome.st) != 0) {
      return util::io_error(full, "cannot stat", errno);
    }
    if (!S_ISREG(outcome.st.st_mode)) {
      return std::optional<FileOutcome>(); // replaced by something else: walk again
    }
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

    std::optional<ObjectWriter> writer;
    if (!hash_first) {
      auto w = new_object(static_cast<std::uint64_t>(outcome.st.st_size));
      if (!w) {
        return w.error();
      }
      writer.emplace(std::move(*w));
    }
    util::Hasher hasher;
    auto pass = [&](bool first_pass) -> util::Result<bool> {
      std::uint64_t total = 0;
      for (bool first_block = true;; first_block = false) {
        const ssize_t n = ::read(fd.get(), m_buffer.data(), m_buffer.size());
        if (n < 0) {
          if (errno == EINTR) {
            continue;
          }
          return util::io_error(full, "read failed", errno);
        }
        if (n == 0) {
          break;
        }
        const std::span<const std::uint8_t> block(m_buffer.data(), static_cast<std::size_t>(n));
        total += block.size();
        if (writer) {
          if (auto s = writer->write(block); !s) {
            return s.error();
          }
        } else {
          hasher.update(block);
        }
        if (first_block && first_pass && m_options.after_first_block) {
          m_options.after_first_block(path, attempt);
        }
      }
      outcome.bytes_read += total;
      struct stat after
      {};
      if (::fstat(fd.get(), &after) != 0) {
        return util::io_error(full, "cannot stat", errno);
      }
      return same_file_state(outcome.st, after) &&
             total == static_cast<std::uint64_t>(after.st_size);
    };

    auto steady = pass(true);
    if (!steady) {
      return steady.error();
    }
    if (!*steady) {
      return std::optional<FileOutcome>();
    }
    if (!writer) {
      outcome.hash = hasher.digest();
      if (m_known.known_or_claim(outcome.hash)) {
        return std::optional<FileOutcome>(std::move(outcome));
      }
      // New content after all: a second pass compresses it.
      auto w = new_object(static_cast<std::uint64_t>(outcome.st.st_size));
      if (!w) {
        return w.error();
      }
      writer.emplace(std::move(*w));
      if (::lseek(fd.get(), 0, SEEK_SET) != 0) {
        return util::io_error(full, "seek failed", errno);
      }
      const util::Hash128 first_hash = outcome.hash;
      steady = pass(false);
      if (!steady) {
        return steady.error();
      }
      auto object = writer->finish();
      if (!object) {
        return object.error();
      }
      if (!*steady || object->hash != first_hash) {
        ::unlink(object->temp_path.c_str());
        m_known.release(first_hash);
        return std::optional<FileOutcome>();
      }
      outcome.object = std::move(*object);
      return std::optional<FileOutcome>(std::move(outcome));
    }
    auto object = writer->finish();
    if (!object) {
      return object.error();
    }
    outcome.hash = object->hash;
    if (m_known.known_or_claim(outcome.hash)) {
      ::unlink(object->temp_path.c_str());
    } else {
      outcome.object = std::move(*object);
    }
    return std::optional<FileOutcome>(std::move(outcome));
  }

  util::Result<ObjectWriter> new_object(std::uint64_t size_hint)
  {
    if (!m_folder) {
      auto folder = m_store.temp_folder();
      if (!folder) {
        return folder.error();
      }
      m_folder.emplace(std::move(*folder));
    }
    return m_store.new_object(m_compressor, size_hint, *m_folder);
  }

  const Store& m_store;
  const SnapshotOptions& m_options;
  KnownContent& m_known;
  std::optional<TempFolder> m_folder; // this reader's new objects until published
  util::ZstdCompressor m_compressor;  // reused for every file this reader stores
  std::vector<std::uint8_t> m_buffer;
};

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
  // 2. Walk the tree while the previous version and the stat cache load.
  const std::string cache_path = store.channel_dir(options.channel) + "/statcache";
  std::optional<Manifest> previous;
  StatCache old_cache;
  util::Status loaded;
  util::Result<WalkResult> walked = util::make_error(util::Errc::io, "not walked");
  executor.for_each(2, [&](std::size_t task) {
    if (task == 0) {
      walked = walk_tree(dir, ExcludeList(options.excludes));
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
  if (!walked) {
    return walked.error();
  }
  auto& items = walked->items;

  // 3. Hashes: from the stat cache, or read.
  KnownContent known(store);
  std::unordered_set<util::Hash128> previous_hashes;
  if (previous) {
    for (const Entry& e : previous->entries) {
      if (e.type == EntryType::file) {
        previous_hashes.insert(e.hash);
        known.add(e.hash);
      }
    }
  }
  std::vector<std::size_t> to_read;
  for (std::size_t i = 0; i < items.size(); ++i) {
    Entry& e = items[i].entry;
    if (e.type != EntryType::file) {
      continue;
    }
    // Trust the cache only for content the latest version holds (so it is in
    // the store, which gc guarantees for the latest version).
    if (auto hash = old_cache.lookup(e.path, items[i].key);
        hash && previous_hashes.contains(*hash)) {
      e.hash = *hash;
    } else {
      to_read.push_back(i);
    }
  }
  // Memory stays bounded by what each phase needs: the old cache and the
  // set of old hashes are done with.
  const std::size_t old_cache_size = old_cache.size();
  old_cache = StatCache();
  previous_hashes = {};

  // Readers hold the temporary folders of the new objects: they live until
  // the objects are published (or dropped) at the end of the snapshot.
  std::mutex readers_mutex;
  std::vector<std::unique_ptr<FileReader>> idle_readers;
  std::vector<util::Result<FileOutcome>> outcomes(to_read.size(),
                                                  util::Error{util::Errc::io, "not read"});
  {
    executor.for_each(to_read.size(), [&](std::size_t k) {
      std::unique_ptr<FileReader> reader;
      {
        std::lock_guard lock(readers_mutex);
        if (!idle_readers.empty()) {
          reader = std::move(idle_readers.back());
          idle_readers.pop_back();
        }
      }
      if (!reader) {
        reader = std::make_unique<FileReader>(store, options, known);
      }
      const Entry& e = items[to_read[k]].entry;
      const bool probably_stored = previous && [&] {
        const Entry* old = previous->find(e.path);
        return old != nullptr && old->type == EntryType::file && old->size == e.size;
      }();
      outcomes[k] = reader->read(dir, e.path, probably_stored);
      std::lock_guard lock(readers_mutex);
      idle_readers.push_back(std::move(reader));
    });
  }

  SnapshotReport report;
  report.warnings = std::move(walked->warnings);
  std::vector<PendingObject> pending;
  for (std::size_t k = 0; k < to_read.size(); ++k) {
    if (!outcomes[k]) {
      return outcomes[k].error();
    }
    FileOutcome& o = *outcomes[k];
    WalkItem& item = items[to_read[k]];
    // What was read is what is recorded: stat fields from the read itself.
    item.entry.hash = o.hash;
    item.entry.size = static_cast<std::uint64_t>(o.st.st_size);
    item.entry.mode = o.st.st_mode & 07777;
    item.entry.uid = o.st.st_uid;
    item.entry.gid = o.st.st_gid;
    item.entry.mtime_ns = timestamp_ns(o.st.st_mtim);
    item.key = stat_key(o.st);
    report.files_read += 1;
    report.bytes_read += o.bytes_read;
    if (o.object) {
      report.new_objects += 1;
      report.new_bytes += o.object->raw_size;
      pending.push_back(std::move(*o.object));
    }
  }
  outcomes = {};
  to_read = {};

  // 4. The manifest.
  Manifest manifest;
  manifest.header.channel = options.channel;
  manifest.header.number = previous ? previous->header.number + 1 : 1;
  manifest.header.parent = previous ? previous->header.number : 0;
  manifest.header.time_ns = start_ns;
  manifest.header.message = options.message;
  manifest.entries.reserve(items.size());
  // When no file was read, every file's entry came from the old stat cache
  // unchanged: it need not be rebuilt nor saved.
  const auto files = static_cast<std::size_t>(std::count_if(
    items.begin(), items.end(), [](const WalkItem& i) { return i.entry.type == EntryType::file; }));
  const bool save_cache = report.files_read > 0 || files != old_cache_size;
  StatCache new_cache(std::min(*fs_start, start_ns));
  for (WalkItem& item : items) {
    if (save_cache && item.entry.type == EntryType::file) {
      new_cache.insert(item.entry.path, item.key, item.entry.hash);
    }
    manifest.entries.push_back(std::move(item.entry));
  }
  items = {};
  // Entry for entry the same identity as the previous version means the same
  // encoding, so the same id: an unchanged tree is not encoded again.
  sort_entries(manifest.entries);
  const bool same_tree =
    previous && std::equal(manifest.entries.begin(), manifest.entries.end(),
                           previous->entries.begin(), previous->entries.end(),
                           [](const Entry& a, const Entry& b) { return a.same_identity(b); });
  manifest.id = same_tree ? previous->id : compute_id(manifest.entries);

  if (previous && previous->id == manifest.id) {
    report.recorded = false;
    report.manifest = std::move(*previous);
  } else {
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
    } else {
      report.changed = manifest.entries.size();
    }
    if (auto s = store.publish(pending, executor); !s) {
      return s.error();
    }
    if (auto s = store.add_version(manifest); !s) {
      return s.error();
    }
    report.recorded = true;
    report.manifest = std::move(manifest);
  }

  // 5. The stat cache (a cache: failing to save it costs speed, not data).
  if (save_cache) {
    (void)new_cache.save(cache_path);
  }
  return report;
}

} // namespace treecast::core
