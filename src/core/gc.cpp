#include "gc.hpp"

#include "core/delta_format.hpp"
#include "core/pack.hpp"
#include "core/txlog.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_set>

namespace treecast::core {

namespace {

// Removes every file of folder for which keep(name) is false; counts them.
template <class Keep>
util::Status sweep(const std::string& folder, Keep keep, std::size_t& removed, std::uint64_t& bytes)
{
  DIR* d = ::opendir(folder.c_str());
  if (d == nullptr) {
    return errno == ENOENT ? util::Status() : util::io_error(folder, "cannot list", errno);
  }
  util::Status status;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == ".." || keep(name)) {
      continue;
    }
    const std::string path = folder + "/" + name;
    struct stat st
    {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      if (::unlink(path.c_str()) != 0) {
        status = util::io_error(path, "cannot remove", errno);
        break;
      }
      removed += 1;
      bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
    }
  }
  ::closedir(d);
  return status;
}

// More packs than this are merged into one, so a lookup stays a few
// binary searches.
constexpr std::size_t k_max_packs = 16;

// Packs: one whose objects are all live stays; one with dead objects is
// replaced, its live objects copied into a new pack published before the
// old one is removed (index first, so it is never half there). A pack
// without an index is a leftover of a killed publish.
util::Status sweep_packs(const Store& store, const std::unordered_set<util::Hash128>& live,
                         GcReport& report)
{
  const auto packs = store.packs(true);
  const Store::PackList& list = *packs;
  if (!list.errors.empty()) {
    return util::make_error(list.errors.front().code, "gc stopped, nothing deleted beyond "
                                                      "dropped versions: " +
                                                        list.errors.front().message);
  }
  const bool merge = list.indexes.size() > k_max_packs;
  std::vector<std::shared_ptr<const PackIndex>> replaced;
  std::vector<std::pair<const PackIndex*, PackRecord>> copied;
  std::unordered_set<util::Hash128> copied_hashes;
  for (const auto& index : list.indexes) {
    std::size_t dead = 0;
    for (const PackRecord& record : index->records()) {
      if (!live.contains(record.hash)) {
        dead += 1;
        report.bytes_freed += record.length;
      }
    }
    if (dead == 0 && !merge) {
      continue;
    }
    report.objects_removed += dead;
    replaced.push_back(index);
    for (const PackRecord& record : index->records()) {
      if (live.contains(record.hash) && copied_hashes.insert(record.hash).second) {
        copied.emplace_back(index.get(), record);
      }
    }
  }
  if (!copied.empty()) {
    auto folder = store.temp_folder();
    if (!folder) {
      return folder.error();
    }
    auto writer = PackWriter::create(folder->next_name() + ".pack");
    if (!writer) {
      return writer.error();
    }
    std::vector<std::uint8_t> bytes;
    const PackIndex* open_index = nullptr;
    util::Fd fd;
    for (const auto& [index, record] : copied) {
      if (index != open_index) {
        fd.reset(::open(index->pack_path().c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) {
          return util::io_error(index->pack_path(), "cannot open pack", errno);
        }
        open_index = index;
      }
      bytes.resize(static_cast<std::size_t>(record.length)); // at most k_max_packed_object
      if (::pread(fd.get(), bytes.data(), bytes.size(), static_cast<off_t>(record.offset)) !=
          static_cast<ssize_t>(bytes.size())) {
        return util::io_error(index->pack_path(), "cannot read pack", errno);
      }
      if (auto s = writer->append(record.hash, bytes); !s) {
        return s;
      }
    }
    auto pack = writer->finish();
    if (!pack) {
      return pack.error();
    }
    util::SerialExecutor serial;
    if (auto s = store.publish({}, {std::move(*pack)}, serial); !s) {
      return s;
    }
  }
  for (const auto& index : replaced) {
    for (const std::string& path : {index->index_path(), index->pack_path()}) {
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return util::io_error(path, "cannot remove", errno);
      }
    }
  }
  // With the store lock held exclusively, no publish is under way: a pack
  // without its index, or a temporary index, is a leftover.
  const std::string dir = store.packs_dir();
  std::uint64_t leftover_bytes = 0;
  auto s = sweep(
    dir,
    [&](const std::string& name) {
      if (name.find(".tmp.") != std::string::npos) {
        return false;
      }
      if (name.ends_with(".pack")) {
        struct stat st
        {};
        const std::string index = dir + "/" + name.substr(0, name.size() - 5) + ".idx";
        return ::stat(index.c_str(), &st) == 0;
      }
      return true; // indexes, and foreign files
    },
    report.temp_removed, leftover_bytes);
  (void)store.packs(true); // forget the removed packs
  return s;
}

} // namespace

util::Result<GcReport> gc(const Store& store, std::string_view channel, std::uint64_t keep)
{
  if (keep == 0) {
    return util::make_error(util::Errc::usage, "--keep must be at least 1");
  }
  auto channel_lock = store.lock_channel(channel, Create::no);
  if (!channel_lock) {
    return channel_lock.error();
  }
  auto store_lock = store.lock_store(LockMode::exclusive);
  if (!store_lock) {
    return store_lock.error();
  }
  GcReport report;
  auto versions = store.versions(channel);
  if (!versions) {
    return versions.error();
  }
  auto latest = store.latest(channel);
  if (!latest) {
    return latest.error();
  }
  // The fleet's version, a canary's (a group holds it since the last
  // commit), and one a transaction may still propose are kept too:
  // followers ask for deltas from and to them.
  auto log = TxnLog::open(store, channel);
  if (!log) {
    return log.error();
  }
  std::unordered_set<std::uint64_t> held;
  for (auto e = log->events().rbegin(); e != log->events().rend(); ++e) {
    if (e->kind == TxnEvent::Kind::canary) {
      held.insert(e->number);
    }
    if (e->kind == TxnEvent::Kind::commit) {
      held.insert(e->number);
      break;
    }
  }
  if (!log->events().empty() && log->events().back().kind == TxnEvent::Kind::begin) {
    held.insert(log->events().back().number);
  }
  if (versions->size() > keep) {
    for (std::size_t i = 0; i + keep < versions->size(); ++i) {
      const std::uint64_t n = (*versions)[i];
      if ((*latest && (*latest)->number == n) || held.contains(n)) {
        continue;
      }
      if (auto s = store.remove_version(channel, n); !s) {
        return s.error();
      }
      report.dropped.push_back(n);
    }
  }

  // Everything any remaining version of any channel references.
  std::unordered_set<util::Hash128> live;
  std::unordered_set<util::Hash128> versions_live{util::Hash128{}}; // zero: from nothing
  auto names = store.channels();
  if (!names) {
    return names.error();
  }
  for (const std::string& name : *names) {
    auto numbers = store.versions(name);
    if (!numbers) {
      return numbers.error();
    }
    for (const std::uint64_t n : *numbers) {
      auto manifest = store.read_manifest(name, n);
      if (!manifest) {
        // A manifest that cannot be read must not cost the objects it names.
        return util::make_error(manifest.error().code,
                                "gc stopped, nothing deleted beyond dropped versions: " +
                                  manifest.error().message);
      }
      versions_live.insert(manifest->id);
      for (const Entry& e : manifest->entries) {
        if (e.type == EntryType::file) {
          live.insert(e.hash);
        }
      }
    }
  }

  if (auto s = sweep_packs(store, live, report); !s) {
    return s.error();
  }

  const std::string objects = store.root() + "/objects";
  auto fanout = store.object_folders();
  if (!fanout) {
    return fanout.error();
  }
  for (const std::string& prefix : *fanout) {
    auto s = sweep(
      objects + "/" + prefix,
      [&](const std::string& rest) {
        auto hash = util::Hash128::from_hex(prefix + rest);
        return !hash || live.contains(*hash); // foreign files are left alone
      },
      report.objects_removed, report.bytes_freed);
    if (!s) {
      return s.error();
    }
  }
  // Cached deltas (FROMID-TOID-nFROM.TO-OPTIONS) between versions that are
  // gone.
  {
    std::uint64_t delta_bytes = 0;
    auto s = sweep(
      store.root() + "/deltas",
      [&](const std::string& name) {
        const auto from =
          name.size() >= 65 ? util::Hash128::from_hex(name.substr(0, 32)) : std::nullopt;
        const auto to =
          name.size() >= 65 ? util::Hash128::from_hex(name.substr(33, 32)) : std::nullopt;
        if (!from || !to || name[32] != '-') {
          return true; // not a cached delta: left alone
        }
        // One of another delta format is never read again.
        const bool current =
          name.ends_with("-f" + std::to_string(k_delta_format)) && name.compare(65, 2, "-n") == 0;
        return current && versions_live.contains(*from) && versions_live.contains(*to);
      },
      report.deltas_removed, delta_bytes);
    if (!s) {
      return s.error();
    }
    report.bytes_freed += delta_bytes;
  }
  // With the store lock held exclusively, nothing is writing to tmp/, nor a
  // ref or manifest anywhere: their temporary files are leftovers too.
  std::uint64_t temp_bytes = 0;
  auto leftover = [](const std::string& name) { return name.find(".tmp.") == std::string::npos; };
  for (const std::string& name : *names) {
    for (const std::string& folder :
         {store.channel_dir(name), store.channel_dir(name) + "/versions"}) {
      if (auto s = sweep(folder, leftover, report.temp_removed, temp_bytes); !s) {
        return s.error();
      }
    }
  }
  const std::string tmp = store.root() + "/tmp";
  if (DIR* t = ::opendir(tmp.c_str())) {
    std::vector<std::string> leftovers;
    while (const dirent* e = ::readdir(t)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
        leftovers.emplace_back(e->d_name);
      }
    }
    ::closedir(t);
    for (const std::string& name : leftovers) {
      if (auto s = util::remove_tree(tmp + "/" + name); !s) {
        return s.error();
      }
      report.temp_removed += 1;
    }
  }
  return report;
}

} // namespace treecast::core
