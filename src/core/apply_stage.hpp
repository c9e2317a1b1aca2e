#pragma once

// What apply.cpp and apply_inplace.cpp share, internal to src/core: the
// DeltaTarget that writes new files into the stage, and small file
// helpers that never leave a tree or follow a symlink.

#include "core/checkout.hpp"
#include "core/delta.hpp"
#include "core/follower.hpp"
#include "util/content.hpp"
#include "util/file.hpp"

#include <cerrno>
#include <fcntl.h>
#include <string>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

namespace treecast::core {

// How the stage names B's files: as B's paths in a whole tree (atomic), or
// flat by their index in B (inplace).
enum class StageLayout : std::uint8_t
{
  tree,
  flat,
};

inline std::string staged_name(StageLayout layout, std::size_t index, const Entry& entry)
{
  return layout == StageLayout::tree ? entry.path : std::to_string(index);
}

// The first path (in manifest order) of each content among m's files.
inline std::unordered_map<util::Hash128, std::string> paths_by_hash(const Manifest& m)
{
  std::unordered_map<util::Hash128, std::string> out;
  for (const Entry& e : m.entries) {
    if (e.type == EntryType::file) {
      out.emplace(e.hash, e.path);
    }
  }
  return out;
}

inline void fault(const char* point)
{
  if (g_fault_point) {
    g_fault_point(point);
  }
}

inline std::pair<std::string, std::string> split(std::string_view path)
{
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos) {
    return {"", std::string(path)};
  }
  return {std::string(path.substr(0, slash)), std::string(path.substr(slash + 1))};
}

// A folder of a tree, opened without leaving the tree or following symlinks.
inline util::Result<util::Fd> open_folder(int root, const std::string& relative)
{
  if (relative.empty()) {
    util::Fd fd(::fcntl(root, F_DUPFD_CLOEXEC, 0));
    if (!fd) {
      return util::io_error(".", "cannot duplicate", errno);
    }
    return fd;
  }
  return util::open_beneath(root, relative, O_RDONLY | O_DIRECTORY);
}

inline bool same_metadata(const Entry& a, const Entry& b, Owners owners)
{
  return a.mode == b.mode && a.mtime_ns == b.mtime_ns && a.xattrs == b.xattrs &&
         (owners == Owners::keep || local_owner(a) == local_owner(b));
}

// Builds B's tree under the stage folder: the delta's new files through
// the DeltaTarget calls, the rest afterwards.
class Stage final : public DeltaTarget
{
public:
  Stage(int live, int stage, const std::string& shown, const Manifest& from, const Manifest& to,
        StageLayout layout)
    : m_live(live), m_stage(stage), m_shown(shown), m_from(from), m_to(to), m_layout(layout),
      m_written(to.entries.size(), false)
  {
  }

  util::Result<std::span<const std::uint8_t>> base(std::size_t index, std::uint64_t offset,
                                                   std::uint64_t length) override
  {
    const Entry& e = m_from.entries[index];
    if (m_base_index != index) {
      auto fd = util::open_beneath(m_live, e.path, O_RDONLY | O_NOFOLLOW);
      if (!fd) {
        return fd.error();
      }
      m_base = std::move(*fd);
      m_base_index = index;
    }
    // Read, not mapped: resident memory stays the size of the range.
    m_buffer.resize(length);
    if (auto s = util::pread_all(m_base.get(), offset, m_buffer, util::join(m_shown, e.path)); !s) {
      return s.error();
    }
    return std::span<const std::uint8_t>(m_buffer);
  }

  util::Status begin_file(std::size_t index) override
  {
    const Entry& e = m_to.entries[index];
    const std::string name = staged_name(m_layout, index, e);
    m_out = util::Fd(
      util::open_beneath_fd(m_stage, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600));
    if (!m_out) {
      return util::io_error(util::join(m_shown, e.path), "cannot create in the stage", errno);
    }
    m_out_path = e.path;
    return {};
  }

  util::Status write(std::span<const std::uint8_t> data) override
  {
    m_bytes += data.size();
    return util::write_all(m_out.get(), data, m_out_path);
  }

  util::Status end_file(std::size_t index) override
  {
    m_out.reset();
    m_written[index] = true;
    // Its hash is known now (DeltaReader fills it in before this call).
    m_by_hash.emplace(m_to.entries[index].hash, staged_name(m_layout, index, m_to.entries[index]));
    m_count += 1;
    fault("file written");
    return {};
  }

  const std::vector<bool>& written() const { return m_written; }
  // The name in the stage of a written file with this content, if any.
  const std::string* staged_with(const util::Hash128& hash) const
  {
    const auto found = m_by_hash.find(hash);
    return found == m_by_hash.end() ? nullptr : &found->second;
  }
  std::size_t count() const { return m_count; }
  std::uint64_t bytes() const { return m_bytes; }

private:
  int m_live;
  int m_stage;
  const std::string& m_shown;
  const Manifest& m_from;
  const Manifest& m_to;
  StageLayout m_layout;
  std::vector<bool> m_written;
  std::unordered_map<util::Hash128, std::string> m_by_hash; // written files
  util::Fd m_base; // the base file last read, and its index
  std::vector<std::uint8_t> m_buffer;
  std::size_t m_base_index = SIZE_MAX;
  util::Fd m_out;
  std::string m_out_path;
  std::size_t m_count = 0;
  std::uint64_t m_bytes = 0;
};

inline util::Status copy_file(int from_root, const std::string& from, int to_parent,
                              const std::string& name, const std::string& shown)
{
  util::Fd in(util::open_beneath_fd(from_root, from.c_str(), O_RDONLY | O_NOFOLLOW));
  if (!in) {
    return util::io_error(shown, "cannot open", errno);
  }
  util::Fd out(
    ::openat(to_parent, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) {
    return util::io_error(shown, "cannot create in the stage", errno);
  }
  for (;;) {
    const ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
    if (n < 0) {
      return util::io_error(shown, "cannot copy", errno);
    }
    if (n == 0) {
      return {};
    }
  }
}

} // namespace treecast::core
