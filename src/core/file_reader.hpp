#pragma once

// Reading the files of a snapshot into the store, on the executor's threads
// (snapshot.cpp runs the passes; this is pass 3's per-file work).
//
// One streaming read per file feeds the hasher and, for new content, the
// compressor. When the path existed before with the same size, the file is
// probably unchanged (touched, or rewritten with the same bytes), so it is
// hashed first and compressed only if the hash is new; otherwise hashing and
// compressing share one pass, and the compressed copy is dropped in the rare
// case the content was already stored. A file whose size, mtime or ctime move
// while it is read, or that yields a different number of bytes than stat
// said, is read again, a bounded number of times.

#include "core/pack.hpp"
#include "core/snapshot.hpp"
#include "core/store.hpp"

#include <mutex>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <unordered_set>
#include <vector>

namespace treecast::core {

// Content seen by one worker for one file.
struct FileOutcome
{
  util::Hash128 hash;
  std::optional<PendingObject> object; // new content in a file of its own in tmp/
  bool packed = false;                 // new content, added to the reader's pack
  std::uint64_t new_bytes = 0;         // raw size of the new content
  struct stat st
  {}; // as fstat(2) saw it while reading
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

// One worker's reader: its zstd context, buffer, temporary folder and pack
// are reused from one file to the next. Not thread-safe.
class FileReader
{
public:
  FileReader(const Store& store, const SnapshotOptions& options, KnownContent& known);

  // root/path, read until it holds still (options.read_tries at most).
  [[nodiscard]] util::Result<FileOutcome> read(const std::string& root, const std::string& path,
                                               bool probably_stored);
  // This reader's pack, ready to publish; nothing when it packed nothing.
  [[nodiscard]] util::Result<std::optional<PendingPack>> finish_pack();

private:
  // nullopt: the file changed while read; try again.
  util::Result<std::optional<FileOutcome>> read_once(const std::string& full,
                                                     const std::string& path, int attempt,
                                                     bool hash_first);
  static void drop(const PendingObject& object);
  // Keeps new content: a small object goes into this reader's pack, a large
  // one stays a file of its own until published.
  util::Status keep(PendingObject&& object, FileOutcome& outcome);
  util::Result<ObjectWriter> new_object(std::uint64_t size_hint);

  const Store& m_store;
  const SnapshotOptions& m_options;
  KnownContent& m_known;
  std::optional<TempFolder> m_folder; // this reader's new objects until published
  std::optional<PackWriter> m_pack;   // in m_folder: the small ones
  util::ZstdCompressor m_compressor;  // reused for every file this reader stores
  std::vector<std::uint8_t> m_buffer;
};

} // namespace treecast::core
