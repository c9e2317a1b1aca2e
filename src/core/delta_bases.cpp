#include "delta_bases.hpp"

#include "core/delta_plan.hpp"
#include "util/chunker.hpp"

#include <algorithm>

namespace treecast::core {

namespace {

// Fine chunks: a few KiB, so that code or text that moved is found.
constexpr util::ChunkSizes k_print_chunks{512, 2048, 16384};
// Files smaller than this are not worth a fingerprint.
constexpr std::uint64_t k_min_candidate = 64 * 1024;
// The candidates fingerprinted for one new file, closest sizes first.
constexpr std::uint64_t k_candidate_bytes = 256 << 20;
// A base is added only when it brings this share of the file (in 1/100).
constexpr std::uint64_t k_min_gain_percent = 5;
constexpr std::size_t k_max_bases = 4;
// Small files: chunks of about 256 bytes, A's small files indexed whole when
// they add up to this much at most.
constexpr util::ChunkSizes k_small_chunks{64, 256, 2048};
constexpr std::uint64_t k_small_file = 512 * 1024;
constexpr std::uint64_t k_small_index_bytes = 16 << 20;
constexpr std::size_t k_max_small_bases = 2;

std::uint64_t chunk_hash(std::span<const std::uint8_t> chunk)
{
  const util::Hash128 h = util::hash_bytes(chunk);
  std::uint64_t value = 0;
  std::memcpy(&value, h.bytes.data(), sizeof value);
  return value;
}

} // namespace

util::Result<const std::vector<std::uint64_t>*> BaseFinder::fingerprint(std::size_t index)
{
  if (const auto found = m_prints.find(index); found != m_prints.end()) {
    return &found->second;
  }
  const Entry& e = m_from.entries[index];
  std::vector<std::uint8_t> content;
  content.reserve(e.size);
  auto s = m_store.read_object(e.hash, [&](std::span<const std::uint8_t> data) -> util::Status {
    content.insert(content.end(), data.begin(), data.end());
    return {};
  });
  if (!s) {
    return s.error();
  }
  std::vector<std::uint64_t> print;
  std::size_t at = 0;
  for (const std::size_t n : util::chunk_lengths(content, k_print_chunks)) {
    print.push_back(chunk_hash(std::span(content).subspan(at, n)));
    at += n;
  }
  std::sort(print.begin(), print.end());
  return &m_prints.emplace(index, std::move(print)).first->second;
}

util::Result<std::vector<std::size_t>> BaseFinder::find(const Entry& target,
                                                        std::span<const std::uint8_t> content,
                                                        std::size_t planned,
                                                        std::uint64_t max_prefix)
{
  // Candidates: files of A with the same extension or name, closest in size first.
  const std::string ext = lower_extension(target.path);
  const std::string_view name = base_name(target.path);
  std::vector<std::size_t> candidates;
  for (std::size_t i = 0; i < m_from.entries.size(); ++i) {
    const Entry& e = m_from.entries[i];
    if (e.type != EntryType::file || e.size < k_min_candidate || e.size > max_prefix ||
        compressed_name(e.path)) {
      continue;
    }
    if (i == planned || base_name(e.path) == name ||
        (!ext.empty() && lower_extension(e.path) == ext)) {
      candidates.push_back(i);
    }
  }
  auto distance = [&](std::size_t i) {
    const std::uint64_t size = m_from.entries[i].size;
    return size > target.size ? size - target.size : target.size - size;
  };
  std::stable_sort(candidates.begin(), candidates.end(),
                   [&](std::size_t a, std::size_t b) { return distance(a) < distance(b); });
  std::uint64_t budget = k_candidate_bytes;
  std::vector<const std::vector<std::uint64_t>*> prints;
  std::size_t kept = 0;
  for (const std::size_t i : candidates) {
    if (m_from.entries[i].size > budget) {
      continue;
    }
    budget -= m_from.entries[i].size;
    auto print = fingerprint(i);
    if (!print) {
      return print.error();
    }
    candidates[kept++] = i;
    prints.push_back(*print);
  }
  candidates.resize(kept);

  struct Chunk
  {
    std::uint64_t hash;
    std::uint64_t length;
    bool covered = false;
  };
  std::vector<Chunk> chunks;
  std::size_t at = 0;
  for (const std::size_t n : util::chunk_lengths(content, k_print_chunks)) {
    chunks.push_back({chunk_hash(content.subspan(at, n)), n});
    at += n;
  }
  // Greedy: the candidate that covers the most of what is not covered yet.
  std::vector<std::size_t> chosen;
  std::uint64_t prefix = 0;
  const std::uint64_t min_gain = std::max<std::uint64_t>(target.size * k_min_gain_percent / 100, 1);
  while (chosen.size() < k_max_bases) {
    std::size_t best = k_no_base;
    std::uint64_t best_gain = 0;
    for (std::size_t c = 0; c < candidates.size(); ++c) {
      const std::size_t i = candidates[c];
      if (std::find(chosen.begin(), chosen.end(), i) != chosen.end() ||
          prefix + m_from.entries[i].size > max_prefix) {
        continue;
      }
      std::uint64_t gain = 0;
      for (const Chunk& chunk : chunks) {
        if (!chunk.covered &&
            std::binary_search(prints[c]->begin(), prints[c]->end(), chunk.hash)) {
          gain += chunk.length;
        }
      }
      if (gain > best_gain) {
        best = c;
        best_gain = gain;
      }
    }
    if (best == k_no_base || best_gain < min_gain) {
      break;
    }
    for (Chunk& chunk : chunks) {
      chunk.covered =
        chunk.covered || std::binary_search(prints[best]->begin(), prints[best]->end(), chunk.hash);
    }
    chosen.push_back(candidates[best]);
    prefix += m_from.entries[candidates[best]].size;
  }
  if (chosen.empty() && planned != k_no_base) {
    chosen.push_back(planned);
  }
  // The best base last: nearest the new content, cheapest to refer to.
  std::reverse(chosen.begin(), chosen.end());
  return chosen;
}

util::Result<std::vector<std::size_t>> BaseFinder::find_small(std::span<const std::uint8_t> content)
{
  if (!m_small_built) {
    m_small_built = true;
    std::uint64_t total = 0;
    std::vector<std::size_t> files;
    for (std::size_t i = 0; i < m_from.entries.size(); ++i) {
      const Entry& e = m_from.entries[i];
      if (e.type == EntryType::file && e.size > 0 && e.size <= k_small_file &&
          !compressed_name(e.path)) {
        files.push_back(i);
        total += e.size;
      }
    }
    if (total > k_small_index_bytes) {
      files.clear();
    }
    std::vector<std::uint8_t> bytes;
    for (const std::size_t i : files) {
      bytes.clear();
      auto s = m_store.read_object(m_from.entries[i].hash, [&](std::span<const std::uint8_t> data) {
        bytes.insert(bytes.end(), data.begin(), data.end());
        return util::Status{};
      });
      if (!s) {
        return s.error();
      }
      std::size_t at = 0;
      for (const std::size_t n : util::chunk_lengths(bytes, k_small_chunks)) {
        m_small.emplace(chunk_hash(std::span(bytes).subspan(at, n)), i); // first file wins
        at += n;
      }
    }
  }
  if (m_small.empty()) {
    return std::vector<std::size_t>();
  }
  // Bytes of content per file of A that holds some of it.
  std::unordered_map<std::size_t, std::uint64_t> shared;
  std::size_t at = 0;
  for (const std::size_t n : util::chunk_lengths(content, k_small_chunks)) {
    if (const auto found = m_small.find(chunk_hash(content.subspan(at, n)));
        found != m_small.end()) {
      shared[found->second] += n;
    }
    at += n;
  }
  std::vector<std::pair<std::uint64_t, std::size_t>> ranked; // (bytes, file)
  for (const auto& [file, bytes] : shared) {
    ranked.emplace_back(bytes, file);
  }
  // Most shared first; ties to the first path, so the choice is deterministic.
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::size_t> chosen;
  for (const auto& [bytes, file] : ranked) {
    if (chosen.size() == k_max_small_bases) {
      break;
    }
    chosen.push_back(file);
  }
  std::reverse(chosen.begin(), chosen.end());
  return chosen;
}

} // namespace treecast::core
