// Planning walks B once. Content lookups go through a hash map of A's
// contents (first path in byte order wins, so copies are deterministic);
// base lookups through A's files grouped by name and by extension, each
// group sorted by size, so the closest size is a binary search.

#include "delta_plan.hpp"

#include <algorithm>
#include <array>
#include <string>
#include <unordered_map>

namespace treecast::core {

namespace {

// A's files of one name or extension, by size then path.
class SizeGroups
{
public:
  void add(std::string_view key, std::uint64_t size, std::size_t index)
  {
    m_groups[std::string(key)].push_back({size, index});
  }

  void sort()
  {
    for (auto& [key, group] : m_groups) {
      std::stable_sort(group.begin(), group.end(),
                       [](const Member& a, const Member& b) { return a.size < b.size; });
    }
  }

  // The member closest in size to size, within k_base_size_factor; among
  // equally close ones the first added (the first path).
  std::size_t closest(std::string_view key, std::uint64_t size) const
  {
    const auto it = m_groups.find(std::string(key));
    if (it == m_groups.end()) {
      return k_no_base;
    }
    const auto& group = it->second;
    auto at = std::lower_bound(group.begin(), group.end(), size,
                               [](const Member& m, std::uint64_t s) { return m.size < s; });
    std::size_t best = k_no_base;
    std::uint64_t best_distance = 0;
    auto consider = [&](const Member& m) {
      const std::uint64_t distance = m.size > size ? m.size - size : size - m.size;
      // Divided, not multiplied: sizes come from manifests and may be huge.
      const bool near = m.size / k_base_size_factor <= size && size / k_base_size_factor <= m.size;
      if (near && (best == k_no_base || distance < best_distance ||
                   (distance == best_distance && m.index < best))) {
        best = m.index;
        best_distance = distance;
      }
    };
    // The closest sizes are the run of equal sizes at or above, and the one
    // run below; within a run of equal size the first path is the first.
    if (at != group.end()) {
      const std::uint64_t above = at->size;
      for (auto i = at; i != group.end() && i->size == above; ++i) {
        consider(*i);
      }
    }
    if (at != group.begin()) {
      const std::uint64_t below = std::prev(at)->size;
      for (auto i = std::prev(at);; --i) {
        if (i->size != below) {
          break;
        }
        consider(*i);
        if (i == group.begin()) {
          break;
        }
      }
    }
    return best;
  }

private:
  struct Member
  {
    std::uint64_t size;
    std::size_t index;
  };
  std::unordered_map<std::string, std::vector<Member>> m_groups;
};

} // namespace

std::string_view base_name(std::string_view path)
{
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {

// "conf" for "nginx.conf", "gz" for "log.1.gz"; empty for "Makefile" and
// for dot files without another dot (".bashrc").
std::string_view extension(std::string_view path)
{
  const std::string_view name = base_name(path);
  const auto dot = name.rfind('.');
  return dot == std::string_view::npos || dot == 0 ? std::string_view() : name.substr(dot + 1);
}

std::string lower(std::string_view s)
{
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) {
    return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  });
  return out;
}

} // namespace

std::string lower_extension(std::string_view path)
{
  return lower(extension(path));
}

const char* to_string(FileSource source)
{
  switch (source) {
    case FileSource::same:
      return "same";
    case FileSource::copy:
      return "copy";
    case FileSource::patch:
      return "patch";
    case FileSource::whole:
      return "whole";
  }
  return "unknown";
}

bool compressed_name(std::string_view path)
{
  static constexpr std::array<std::string_view, 24> k_compressed = {
    "gz",  "tgz", "xz",   "txz", "zst", "bz2",  "tbz2", "lz4",  "lzma",  "zip", "jar", "7z",
    "rar", "jpg", "jpeg", "png", "gif", "webp", "avif", "woff", "woff2", "br",  "mp4", "deb"};
  const std::string ext = lower_extension(path);
  return !ext.empty() &&
         std::find(k_compressed.begin(), k_compressed.end(), ext) != k_compressed.end();
}

DeltaPlan plan_delta(const Manifest& from, const Manifest& to)
{
  const auto& a = from.entries;
  std::unordered_map<util::Hash128, std::size_t> content; // first path wins: a is sorted
  SizeGroups by_name;
  SizeGroups by_extension;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].type != EntryType::file) {
      continue;
    }
    content.emplace(a[i].hash, i);
    by_name.add(base_name(a[i].path), a[i].size, i);
    if (const std::string ext = lower_extension(a[i].path); !ext.empty()) {
      by_extension.add(ext, a[i].size, i);
    }
  }
  by_name.sort();
  by_extension.sort();

  DeltaPlan plan;
  std::size_t j = 0; // the same path in A: both lists are sorted
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& e = to.entries[i];
    while (j < a.size() && a[j].path < e.path) {
      ++j;
    }
    if (e.type != EntryType::file) {
      continue;
    }
    const bool was_file = j < a.size() && a[j].path == e.path && a[j].type == EntryType::file;
    FilePlan file{i, FileSource::whole, k_no_base};
    if (was_file && a[j].hash == e.hash) {
      file = {i, FileSource::same, j};
    } else if (const auto found = content.find(e.hash); found != content.end()) {
      file = {i, FileSource::copy, found->second};
    } else {
      plan.new_bytes += e.size;
      if (!compressed_name(e.path)) {
        std::size_t base = was_file ? j : by_name.closest(base_name(e.path), e.size);
        if (base == k_no_base) {
          if (const std::string ext = lower_extension(e.path); !ext.empty()) {
            base = by_extension.closest(ext, e.size);
          }
        }
        if (base != k_no_base) {
          file = {i, FileSource::patch, base};
        }
      }
    }
    plan.files.push_back(file);
  }
  return plan;
}

} // namespace treecast::core
