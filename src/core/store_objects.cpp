// The store's objects: reading them, loose or packed, with their hash
// verified; writing new ones; publishing them (store.hpp has the order of
// writes). The rest of the store, channels and versions, is in store.cpp.

#include "core/object_format.hpp"
#include "store.hpp"
#include "util/bytes.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace treecast::core {

using namespace object_format;

namespace {

// Below this many objects, fsync each; above, one syncfs is far cheaper.
constexpr std::size_t k_fsync_each_limit = 32;

util::Error corrupt(const util::Hash128& hash, const std::string& path, const std::string& what)
{
  return util::make_error(util::Errc::data, "object " + hash.hex() + " (" + util::quote(path) +
                                              ") is corrupt: " + what);
}

} // namespace

struct Store::PackCache
{
  std::mutex mutex;
  std::shared_ptr<const PackList> list; // null until loaded
};

Store::Store(std::string root)
  : m_root(std::move(root)), m_pack_cache(std::make_shared<PackCache>())
{
}

std::shared_ptr<const Store::PackList> Store::packs(bool reload) const
{
  PackCache& cache = *m_pack_cache;
  std::lock_guard lock(cache.mutex);
  if (cache.list && !reload) {
    return cache.list;
  }
  // Indexes never change once written: keep those loaded, add new ones,
  // forget those gc removed.
  auto list = std::make_shared<PackList>();
  std::vector<std::string> names;
  const std::string dir = packs_dir();
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string_view name = e->d_name;
      if (name.size() > 4 && name.ends_with(".idx") && name.find(".tmp.") == name.npos) {
        names.emplace_back(name.substr(0, name.size() - 4));
      }
    }
    ::closedir(d);
  } else if (errno != ENOENT) {
    list->errors.push_back(util::io_error(dir, "cannot list", errno));
  }
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    const std::string index_path = dir + "/" + name + ".idx";
    if (cache.list) {
      const auto& known = cache.list->indexes;
      auto it = std::find_if(known.begin(), known.end(),
                             [&](const auto& i) { return i->index_path() == index_path; });
      if (it != known.end()) {
        list->indexes.push_back(*it);
        continue;
      }
    }
    auto index = PackIndex::load(index_path, dir + "/" + name + ".pack");
    if (index) {
      list->indexes.push_back(std::make_shared<const PackIndex>(std::move(*index)));
    } else {
      list->errors.push_back(index.error());
    }
  }
  cache.list = std::move(list);
  return cache.list;
}

std::optional<std::pair<std::shared_ptr<const PackIndex>, PackRecord>> Store::find_packed(
  const util::Hash128& hash, std::vector<util::Error>* errors) const
{
  for (const bool reload : {false, true}) {
    const auto list = packs(reload);
    for (const auto& index : list->indexes) {
      if (const PackRecord* record = index->find(hash)) {
        return std::pair(index, *record);
      }
    }
    if (errors != nullptr && reload) {
      *errors = list->errors;
    }
  }
  return std::nullopt;
}

bool Store::has_object(const util::Hash128& hash) const
{
  for (const auto& index : packs()->indexes) {
    if (index->find(hash) != nullptr) {
      return true;
    }
  }
  return ::access(object_path(hash).c_str(), F_OK) == 0;
}

util::Result<Store::Located> Store::locate(const util::Hash128& hash) const
{
  Located at;
  auto in_pack = [&](const PackIndex& index, const PackRecord& record) {
    at.offset = record.offset;
    at.length = record.length;
    at.packed = true;
    at.where = index.pack_path() + " at byte " + std::to_string(record.offset);
  };
  // A pack already listed holds most small objects: found in memory, with
  // one open (a pack gc has just replaced is looked for again below).
  for (const auto& index : packs()->indexes) {
    if (const PackRecord* record = index->find(hash)) {
      at.fd.reset(::open(index->pack_path().c_str(), O_RDONLY | O_CLOEXEC));
      if (at.fd) {
        in_pack(*index, *record);
        return at;
      }
      break;
    }
  }
  const std::string path = object_path(hash);
  at.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (at.fd) {
    struct stat st
    {};
    if (::fstat(at.fd.get(), &st) != 0) {
      return util::io_error(path, "cannot stat object", errno);
    }
    at.length = static_cast<std::uint64_t>(st.st_size);
    at.where = path;
    return at;
  }
  if (errno != ENOENT) {
    return util::io_error(path, "cannot open object", errno);
  }
  std::vector<util::Error> errors;
  auto packed = find_packed(hash, &errors);
  if (packed && ::access(packed->first->pack_path().c_str(), F_OK) != 0) {
    (void)packs(true); // repacked by gc since the list was read
    packed = find_packed(hash, &errors);
  }
  if (!packed) {
    if (!errors.empty()) {
      // A pack that cannot be read may be where the object is: say so.
      return util::make_error(
        util::Errc::data, "object " + hash.hex() + " is not in the store " + util::quote(m_root) +
                            " as far as it can be read: " + errors.front().message);
    }
    return util::make_error(util::Errc::not_found, "object " + hash.hex() +
                                                     " is missing from the store " +
                                                     util::quote(m_root));
  }
  const auto& [index, record] = *packed;
  at.fd.reset(::open(index->pack_path().c_str(), O_RDONLY | O_CLOEXEC));
  if (!at.fd) {
    return util::io_error(index->pack_path(), "cannot open pack", errno);
  }
  in_pack(*index, record);
  return at;
}

util::Result<std::uint64_t> Store::object_size(const util::Hash128& hash) const
{
  auto at = locate(hash);
  if (!at) {
    return at.error();
  }
  std::uint8_t header[k_object_header];
  if (at->length < sizeof header ||
      ::pread(at->fd.get(), header, sizeof header, static_cast<off_t>(at->offset)) !=
        static_cast<ssize_t>(sizeof header)) {
    return corrupt(hash, at->where, "short header");
  }
  util::ByteReader r({header, sizeof header});
  r.bytes("magic", 4);
  r.u8("version");
  r.u8("codec");
  return r.u64le("raw size");
}

util::Status Store::read_object(const util::Hash128& hash, const util::ByteSink& sink) const
{
  auto at = locate(hash);
  if (!at) {
    if (at.error().code == util::Errc::not_found) {
      return util::make_error(util::Errc::data, at.error().message);
    }
    return at.error();
  }
  const std::string& path = at->where;
  const int fd = at->fd.get();
  if (!at->packed) {
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  // Reused by each thread: a read of a small object is otherwise mostly
  // allocating this buffer and a zstd context.
  thread_local std::vector<std::uint8_t> buffer(256 * 1024);
  std::uint64_t offset = at->offset;
  std::uint64_t left = at->length;
  // Reads up to n bytes of the object's range; 0 at its end.
  auto read_some = [&](std::size_t n) -> ssize_t {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n, left));
    for (;;) {
      const ssize_t got = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset));
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got > 0) {
        offset += static_cast<std::uint64_t>(got);
        left -= static_cast<std::uint64_t>(got);
      }
      return got;
    }
  };
  ssize_t n = read_some(k_object_header);
  if (n != static_cast<ssize_t>(k_object_header)) {
    return corrupt(hash, path, "short header");
  }
  util::ByteReader r({buffer.data(), k_object_header});
  const auto magic = r.bytes("magic", 4);
  const auto version = r.u8("version");
  const auto codec = r.u8("codec");
  const auto raw_size = r.u64le("raw size");
  const auto named = r.bytes("hash", 16);
  if (!std::equal(magic.begin(), magic.end(), std::begin(k_object_magic)) ||
      version != k_object_version || codec != k_codec_zstd) {
    return corrupt(hash, path, "bad header");
  }
  if (!std::equal(named.begin(), named.end(), hash.bytes.begin())) {
    return corrupt(hash, path, "header names another object");
  }

  util::Hasher hasher;
  std::uint64_t produced = 0;
  thread_local util::ZstdDecompressor decompressor;
  decompressor.begin();
  const util::ByteSink check = [&](std::span<const std::uint8_t> out) -> util::Status {
    produced += out.size();
    if (produced > raw_size) {
      return corrupt(hash, path, "content longer than recorded");
    }
    hasher.update(out);
    return sink(out);
  };
  for (;;) {
    n = read_some(buffer.size());
    if (n < 0) {
      return util::io_error(path, "read failed", errno);
    }
    if (n == 0) {
      break;
    }
    if (auto s = decompressor.update({buffer.data(), static_cast<std::size_t>(n)}, check); !s) {
      if (s.error().code == util::Errc::data && !s.error().message.starts_with("object ")) {
        return corrupt(hash, path, s.error().message);
      }
      return s;
    }
  }
  if (!decompressor.frame_complete() || produced != raw_size) {
    return corrupt(hash, path, "truncated");
  }
  if (hasher.digest() != hash) {
    return corrupt(hash, path, "content does not match its hash");
  }
  return {};
}

util::Result<std::vector<std::string>> Store::object_folders() const
{
  const std::string objects = m_root + "/objects";
  DIR* d = ::opendir(objects.c_str());
  if (d == nullptr) {
    return util::io_error(objects, "cannot list", errno);
  }
  std::vector<std::string> fanout;
  while (const dirent* e = ::readdir(d)) {
    if (std::strlen(e->d_name) == 2) {
      fanout.emplace_back(e->d_name);
    }
  }
  ::closedir(d);
  return fanout;
}

util::Result<std::vector<util::Hash128>> Store::list_objects() const
{
  std::vector<util::Hash128> hashes;
  const std::string objects = m_root + "/objects";
  auto fanout = object_folders();
  if (!fanout) {
    return fanout.error();
  }
  for (const std::string& prefix : *fanout) {
    const std::string folder = objects + "/" + prefix;
    DIR* f = ::opendir(folder.c_str());
    if (f == nullptr) {
      return util::io_error(folder, "cannot list", errno);
    }
    while (const dirent* e = ::readdir(f)) {
      if (auto hash = util::Hash128::from_hex(prefix + e->d_name)) {
        hashes.push_back(*hash);
      }
    }
    ::closedir(f);
  }
  const auto list = packs(true);
  if (!list->errors.empty()) {
    return list->errors.front();
  }
  for (const auto& index : list->indexes) {
    for (const PackRecord& record : index->records()) {
      hashes.push_back(record.hash);
    }
  }
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  return hashes;
}

util::Result<ObjectWriter> Store::new_object(int level) const
{
  auto folder = temp_folder();
  if (!folder) {
    return folder.error();
  }
  auto owned = std::make_unique<util::ZstdCompressor>(level);
  auto owned_folder = std::make_unique<TempFolder>(std::move(*folder));
  auto writer = new_object(*owned, 0, *owned_folder, Placement::loose);
  if (writer) {
    writer->m_owned = std::move(owned);
    writer->m_folder = std::move(owned_folder);
  }
  return writer;
}

util::Result<ObjectWriter> Store::new_object(util::ZstdCompressor& compressor,
                                             std::uint64_t size_hint, TempFolder& folder,
                                             Placement placement) const
{
  // Above this size an object is compressed on libzstd's own two threads.
  constexpr std::uint64_t k_parallel_object = 64ull << 20;
  compressor.begin(size_hint, size_hint >= k_parallel_object ? 2 : 0);
  if (placement == Placement::pack_if_small && size_hint < k_pack_below) {
    return ObjectWriter(util::Fd(), {}, compressor, folder);
  }
  std::string temp = folder.next_name();
  util::Fd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (!fd) {
    return util::io_error(temp, "cannot create temporary object", errno);
  }
  return ObjectWriter(std::move(fd), std::move(temp), compressor, folder);
}

util::Status Store::publish(const std::vector<PendingObject>& objects) const
{
  util::SerialExecutor serial;
  return publish(objects, {}, serial);
}

util::Status Store::publish(const std::vector<PendingObject>& objects,
                            const std::vector<PendingPack>& packs, util::Executor& executor) const
{
  std::vector<const PendingPack*> filled;
  for (const PendingPack& pack : packs) {
    if (!pack.records.empty()) {
      filled.push_back(&pack);
    }
  }
  const std::size_t files = objects.size() + filled.size();
  if (files == 0) {
    return {};
  }
  for (const PendingObject& object : objects) {
    if (object.temp_path.empty()) {
      return util::make_error(util::Errc::io, "object " + object.hash.hex() +
                                                " was never written to a file or a pack");
    }
  }
  // 1. Contents durable before any becomes visible.
  const bool each = files <= k_fsync_each_limit;
  if (each) {
    std::vector<const std::string*> paths;
    for (const PendingObject& object : objects) {
      paths.push_back(&object.temp_path);
    }
    for (const PendingPack* pack : filled) {
      paths.push_back(&pack->temp_path);
    }
    for (const std::string* path : paths) {
      util::Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd || ::fsync(fd.get()) != 0) {
        return util::io_error(*path, "fsync failed", errno);
      }
    }
  } else {
    util::Fd fd(::open((m_root + "/tmp").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::syncfs(fd.get()) != 0) {
      return util::io_error(m_root, "syncfs failed", errno);
    }
  }
  // 2. Rename into place: the fan-out folders first, then the renames on
  // the executor's threads (each one a directory update of its own).
  std::set<std::string> folders;
  for (const PendingObject& object : objects) {
    const std::string target = object_path(object.hash);
    folders.insert(target.substr(0, target.rfind('/')));
  }
  if (!filled.empty()) {
    folders.insert(packs_dir());
  }
  for (const std::string& folder : folders) {
    if (::mkdir(folder.c_str(), 0755) != 0 && errno != EEXIST) {
      return util::io_error(folder, "cannot create folder", errno);
    }
  }
  std::mutex failure_mutex;
  util::Status failure;
  executor.for_each(objects.size(), [&](std::size_t i) {
    const PendingObject& object = objects[i];
    const std::string target = object_path(object.hash);
    if (::renameat2(AT_FDCWD, object.temp_path.c_str(), AT_FDCWD, target.c_str(),
                    RENAME_NOREPLACE) != 0) {
      if (errno != EEXIST) {
        const int err = errno;
        std::lock_guard lock(failure_mutex);
        failure = util::io_error(target, "cannot publish object", err);
        return;
      }
      ::unlink(object.temp_path.c_str()); // stored already: keep the first
    }
  });
  if (!failure) {
    return failure;
  }
  // A pack is named by its index's checksum; it becomes part of the store
  // when its index appears next to it, written and made durable last.
  for (const PendingPack* pack : filled) {
    std::vector<PackRecord> records = pack->records;
    const std::vector<std::uint8_t> index = encode_pack_index(records);
    util::Hash128 id;
    std::copy(index.end() - 16, index.end(), id.bytes.begin());
    const std::string base = packs_dir() + "/" + id.hex();
    if (::renameat2(AT_FDCWD, pack->temp_path.c_str(), AT_FDCWD, (base + ".pack").c_str(),
                    RENAME_NOREPLACE) != 0) {
      if (errno != EEXIST) {
        return util::io_error(base + ".pack", "cannot publish pack", errno);
      }
      ::unlink(pack->temp_path.c_str()); // the very same pack is there already
    }
    // With one syncfs to come, the index needs no fsync of its own.
    if (auto s = util::write_file_atomic(base + ".idx", index,
                                         each ? util::Durability::fsync : util::Durability::none);
        !s) {
      return s;
    }
  }
  // 3. The renames durable before any manifest names them.
  if (each) {
    folders.insert(m_root + "/objects");
    for (const std::string& folder : folders) {
      if (auto s = util::fsync_dir(folder); !s) {
        return s;
      }
    }
  } else {
    util::Fd fd(::open((m_root + "/objects").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::syncfs(fd.get()) != 0) {
      return util::io_error(m_root, "syncfs failed", errno);
    }
  }
  return {};
}

} // namespace treecast::core
