#pragma once

// Choosing the bases of a new file by its content, for files large enough
// to be worth it: the files of A that share the most content-defined chunks
// with it. A file's bytes often come from more than one old file (code moved
// from one bundle into another, configs merged), which a base picked by name
// alone misses.

#include "core/manifest.hpp"
#include "core/store.hpp"

#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

namespace treecast::core {

class BaseFinder
{
public:
  BaseFinder(const Store& store, const Manifest& from) : m_store(store), m_from(from) {}

  // The bases of target (whose content is given), as indexes of A's files,
  // in prefix order: the one sharing the most last. planned is the base the
  // plan picked by name (k_no_base for none); it is kept when nothing else
  // shares enough. The bases' sizes add up to max_prefix at most.
  [[nodiscard]] util::Result<std::vector<std::size_t>> find(const Entry& target,
                                                            std::span<const std::uint8_t> content,
                                                            std::size_t planned,
                                                            std::uint64_t max_prefix);

  // Other files of A that small new file target shares content with (a
  // file made from part of another, a config copied then edited), when A's
  // small files are few enough to index them all (k_small_index_bytes);
  // otherwise none. At most two, the one sharing the most last.
  [[nodiscard]] util::Result<std::vector<std::size_t>> find_small(
    std::span<const std::uint8_t> content);

private:
  // The sorted chunk hashes of file index of A.
  [[nodiscard]] util::Result<const std::vector<std::uint64_t>*> fingerprint(std::size_t index);

  const Store& m_store;
  const Manifest& m_from;
  std::unordered_map<std::size_t, std::vector<std::uint64_t>> m_prints;
  // Chunks of A's small files (find_small): hash -> file, built on first use.
  bool m_small_built = false;
  std::unordered_map<std::uint64_t, std::size_t> m_small;
};

} // namespace treecast::core
