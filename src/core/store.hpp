#pragma once

// The store: one folder holding a master's (or a follower cache's) content-
// addressed objects and each channel's versions.
//
//   STORE/.treecast-store          marker and format version
//   STORE/lock                     flock: shared by writers and readers, exclusive by gc
//   STORE/objects/3f/9a0c...       file contents, keyed by XXH3-128 (format: OBJECT)
//   STORE/objects/packs/ID.pack    small objects together, and their index ID.idx (PACK)
//   STORE/tmp/                     objects being written; never read from
//   STORE/channels/NAME/lock       flock: exclusive while a version is being made or dropped
//   STORE/channels/NAME/versions/N the manifest of version N, zstd-compressed
//   STORE/channels/NAME/latest     "N IDHEX\n": the channel's newest version
//   STORE/channels/NAME/statcache  the snapshot's stat cache (a cache: may vanish)
//
// Writes are atomic: objects and packs are written to tmp/, made durable,
// then renamed into objects/ (a pack's index last); a manifest is written (temp, fsync, rename,
// fsync of the folder) only once its objects are durable, and the ref only once its manifest is. A
// killed process leaves at most files in tmp/, which gc removes. Reading an object verifies its
// hash.

#include "core/manifest.hpp"
#include "core/pack.hpp"
#include "util/executor.hpp"
#include "util/file.hpp"
#include "util/hash.hpp"
#include "util/result.hpp"
#include "util/zstd.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace treecast::core {

struct Ref
{
  std::uint64_t number = 0;
  util::Hash128 id;
};

// A new object, not yet visible; see Store::publish.
struct PendingObject
{
  util::Hash128 hash;
  std::uint64_t raw_size = 0;
  std::string temp_path;           // a loose object written to tmp/; or empty, and:
  std::vector<std::uint8_t> bytes; // a small object's bytes, for a pack (PackWriter)
};

// Where a new object goes.
enum class Placement : std::uint8_t
{
  loose,         // its own file under objects/
  pack_if_small, // held in memory for a pack when small, else loose
};

// A private folder under tmp/ for one writer's new objects, so that threads
// writing objects at once do not queue on one folder's lock. Removed, with
// whatever is left in it, on destruction; gc removes those of killed
// processes.
class TempFolder
{
public:
  TempFolder(TempFolder&& other) noexcept : m_path(std::move(other.m_path)), m_next(other.m_next)
  {
    other.m_path.clear();
  }
  TempFolder& operator=(TempFolder&&) = delete;
  ~TempFolder();

  const std::string& path() const { return m_path; }
  std::string next_name();

private:
  friend class Store;
  explicit TempFolder(std::string path) : m_path(std::move(path)) {}

  std::string m_path;
  std::uint64_t m_next = 0;
};

// Streams one file's content into a new object: hashes what it is given,
// compresses it into a file in tmp/. Not thread-safe; one per worker.
class ObjectWriter
{
public:
  ObjectWriter(ObjectWriter&&) noexcept;
  ~ObjectWriter(); // removes the temp file unless finish() handed it over

  [[nodiscard]] util::Status write(std::span<const std::uint8_t> data);
  // Ends the object: the hash is of exactly the bytes written.
  [[nodiscard]] util::Result<PendingObject> finish();

private:
  friend class Store;
  ObjectWriter(util::Fd fd, std::string temp_path, util::ZstdCompressor& compressor,
               TempFolder& folder);
  [[nodiscard]] util::Status spill();

  util::Fd m_fd; // none while a small object is held in memory
  TempFolder* m_spill_folder;
  std::string m_temp_path;
  std::unique_ptr<util::Hasher> m_hasher;
  std::unique_ptr<util::ZstdCompressor> m_owned; // when not borrowed
  util::ZstdCompressor* m_compressor;
  std::unique_ptr<TempFolder> m_folder; // when not borrowed
  std::vector<std::uint8_t> m_buffer;
  std::uint64_t m_raw_size = 0;
  bool m_flushed = false; // part of the body is on disk already
};

// A held flock; released on destruction.
class Lock
{
public:
  Lock() = default;
  explicit Lock(util::Fd fd) : m_fd(std::move(fd)) {}

private:
  util::Fd m_fd;
};

enum class LockMode : std::uint8_t
{
  shared,
  exclusive
};
enum class Create : std::uint8_t
{
  yes,
  no
};

class Store
{
public:
  [[nodiscard]] static util::Result<Store> open(const std::string& root, Create create);

  const std::string& root() const { return m_root; }
  std::string channel_dir(std::string_view channel) const;
  std::string object_path(const util::Hash128& hash) const;

  // Locks: store-wide (shared for making or reading versions, exclusive for
  // gc) and per channel (exclusive while making or dropping its versions).
  // Both block until granted. Take the channel lock first.
  [[nodiscard]] util::Result<Lock> lock_store(LockMode mode) const;
  // Create::no: a channel that does not exist is an Errc::not_found error.
  [[nodiscard]] util::Result<Lock> lock_channel(std::string_view channel, Create create) const;

  // Objects
  bool has_object(const util::Hash128& hash) const;
  // The object's raw (uncompressed) size, from its header.
  [[nodiscard]] util::Result<std::uint64_t> object_size(const util::Hash128& hash) const;
  // Streams the object's content to sink, verifying its hash and size; a
  // corrupt object is an Errc::data error naming it (the sink may have seen
  // part of the content by then).
  [[nodiscard]] util::Status read_object(const util::Hash128& hash,
                                         const util::ByteSink& sink) const;
  // The fan-out folders of loose objects: their two-digit names ("3f"),
  // under objects/.
  [[nodiscard]] util::Result<std::vector<std::string>> object_folders() const;
  // Every object the store holds, loose or packed, sorted, each once.
  [[nodiscard]] util::Result<std::vector<util::Hash128>> list_objects() const;
  [[nodiscard]] util::Result<TempFolder> temp_folder() const;
  // A new object compressed with compressor, which the caller reuses from
  // one object to the next, written in folder; both must outlive the writer
  // and folder the publish() of its objects. size_hint is the expected raw
  // size: large objects are compressed on two threads, and with
  // Placement::pack_if_small an object expected below k_pack_below is held
  // in memory (moved to a file in folder if it grows past a few MiB).
  [[nodiscard]] util::Result<ObjectWriter> new_object(util::ZstdCompressor& compressor,
                                                      std::uint64_t size_hint, TempFolder& folder,
                                                      Placement placement = Placement::loose) const;
  // The same with a compressor of its own at the given zstd level.
  [[nodiscard]] util::Result<ObjectWriter> new_object(int level) const;
  // Makes pending objects durable and visible under objects/. An object
  // already present is kept and the pending copy dropped.
  [[nodiscard]] util::Status publish(const std::vector<PendingObject>& objects) const;
  // The same with packs, renaming on the executor's threads. A pack becomes
  // visible with its index, after its objects are durable.
  [[nodiscard]] util::Status publish(const std::vector<PendingObject>& objects,
                                     const std::vector<PendingPack>& packs,
                                     util::Executor& executor) const;
  // The packs' indexes, loaded once and again when reload is true (a pack
  // another process added since); those that fail to load are in errors.
  struct PackList
  {
    std::vector<std::shared_ptr<const PackIndex>> indexes;
    std::vector<util::Error> errors;
  };
  // Shared, not copied: has_object asks for it once per file.
  [[nodiscard]] std::shared_ptr<const PackList> packs(bool reload = false) const;
  std::string packs_dir() const { return m_root + "/objects/packs"; }

  // Channels and versions
  [[nodiscard]] util::Result<std::vector<std::string>> channels() const;
  [[nodiscard]] util::Result<std::optional<Ref>> latest(std::string_view channel) const;
  // Version numbers on disk, ascending.
  [[nodiscard]] util::Result<std::vector<std::uint64_t>> versions(std::string_view channel) const;
  [[nodiscard]] util::Result<Manifest> read_manifest(std::string_view channel,
                                                     std::uint64_t number) const;
  // Records a new version (its objects already published) and moves the
  // channel's latest ref to it. Hold the channel lock.
  [[nodiscard]] util::Status add_version(const Manifest& manifest) const;
  // Drops a version's manifest (gc). Never the latest one.
  [[nodiscard]] util::Status remove_version(std::string_view channel, std::uint64_t number) const;

private:
  struct PackCache;
  explicit Store(std::string root);
  // The index and record of a packed object, looking again on a miss.
  std::optional<std::pair<std::shared_ptr<const PackIndex>, PackRecord>> find_packed(
    const util::Hash128& hash, std::vector<util::Error>* errors) const;
  // An object's bytes: a loose file, or a range of a pack.
  struct Located
  {
    util::Fd fd;
    std::uint64_t offset = 0;
    std::uint64_t length = 0; // to the end of a loose file
    bool packed = false;
    std::string where; // for messages: the file, and the offset in a pack
  };
  [[nodiscard]] util::Result<Located> locate(const util::Hash128& hash) const;

  std::string m_root;
  std::shared_ptr<PackCache> m_pack_cache; // shared by copies; guarded inside
};

// Objects whose size is expected below this are packed (Placement::pack_if_small).
inline constexpr std::uint64_t k_pack_below = std::uint64_t{1} << 20;

} // namespace treecast::core
