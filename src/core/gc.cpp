#include "gc.hpp"

#include "util/file.hpp"

#include <cerrno>
#include <cstring>
#include <dirent.h>
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
  if (versions->size() > keep) {
    for (std::size_t i = 0; i + keep < versions->size(); ++i) {
      const std::uint64_t n = (*versions)[i];
      if (*latest && (*latest)->number == n) {
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
      for (const Entry& e : manifest->entries) {
        if (e.type == EntryType::file) {
          live.insert(e.hash);
        }
      }
    }
  }

  const std::string objects = store.root() + "/objects";
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
  for (const std::string& prefix : fanout) {
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
