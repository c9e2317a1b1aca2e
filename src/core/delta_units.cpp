#include "delta_units.hpp"

#include "core/delta_meta.hpp"
#include "util/bytes.hpp"
#include "util/zstd.hpp"

#include <algorithm>
#include <unordered_map>

namespace treecast::core {

namespace {
constexpr int k_strong_search_level = 17;
constexpr int k_strong_search_log = 4;
} // namespace

void build_unit(const Store& store, const Manifest& from, const Manifest& to, Unit& unit)
{
  util::ByteWriter meta;
  if (unit.type == RecordType::copy) {
    meta.varint(unit.outputs[0].index);
    meta.varint(unit.prefix[0].index);
    meta.varint(unit.prefix[0].offset);
    meta.varint(unit.prefix[0].length);
    unit.body = meta.take();
    return;
  }
  meta.bytes(encode_frame_meta(from, to, unit.prefix, unit.outputs));
  util::ByteWriter head;
  head.varint(meta.size());
  head.bytes(meta.data());
  unit.body = head.take();

  // The prefix: ranges of the bases, read and joined (a loaded base is
  // read by range; others are loaded from the store).
  std::vector<std::uint8_t> prefix;
  for (const Range& r : unit.prefix) {
    std::shared_ptr<const util::Content> content = unit.base;
    if (!content) {
      auto loaded = load_content(store, from.entries[r.index]);
      if (!loaded) {
        unit.status = loaded.error();
        return;
      }
      content = std::move(*loaded);
    }
    const std::size_t at = prefix.size();
    prefix.resize(at + r.length);
    if (auto s = content->read(r.offset, std::span(prefix).subspan(at)); !s) {
      unit.status = s;
      return;
    }
  }
  const std::uint64_t total = unit.output_bytes();
  util::ZstdCompressor compressor(unit.level);
  if (prefix.empty()) {
    compressor.begin(total);
  } else {
    compressor.begin_patch(prefix, total);
  }
  if (unit.level >= k_strong_search_level) {
    // zstd's strongest levels compare up to 2^7 or more candidates per
    // position; 2^4 keeps all but 1% of the gain on typescript's deltas,
    // for a third less time (tools/bench/delta.sh).
    compressor.limit_search(k_strong_search_log);
  }
  compressor.pledge(total);
  const util::ByteSink sink = [&](std::span<const std::uint8_t> data) -> util::Status {
    unit.body.insert(unit.body.end(), data.begin(), data.end());
    return {};
  };
  for (std::size_t k = 0; k < unit.outputs.size(); ++k) {
    const Range& r = unit.outputs[k];
    if (r.source != k_from_frame) {
      continue; // copied by the reader, not in the frame
    }
    std::shared_ptr<const util::Content> content =
      k < unit.inputs.size() ? unit.inputs[k] : nullptr;
    if (!content) {
      auto loaded = load_content(store, to.entries[r.index]);
      if (!loaded) {
        unit.status = loaded.error();
        return;
      }
      content = std::move(*loaded);
    }
    auto input = content->in_memory()
                   ? util::Result<std::vector<std::uint8_t>>(std::vector<std::uint8_t>())
                   : content->read(r.offset, r.length);
    if (!input) {
      unit.status = input.error();
      return;
    }
    const auto bytes =
      content->in_memory() ? content->bytes().subspan(r.offset, r.length) : std::span(*input);
    if (auto s = compressor.update(bytes, sink); !s) {
      unit.status = s;
      return;
    }
  }
  unit.status = compressor.finish(sink);
  // Loaded contents are let go as soon as the frame is made.
  unit.base.reset();
  unit.inputs.clear();
}

util::Result<std::vector<Piece>> chunk_pieces(const util::Content& target,
                                              const util::Content* base)
{
  // Chunks of the base by content, with every place each occurs.
  std::unordered_map<util::Hash128, std::vector<std::uint64_t>> known;
  const std::uint64_t old_size = base != nullptr ? base->size() : 0;
  if (base != nullptr) {
    auto s = for_each_chunk(*base, [&](std::uint64_t at, std::span<const std::uint8_t> chunk) {
      known[util::hash_bytes(chunk)].push_back(at); // ascending
    });
    if (!s) {
      return s.error();
    }
  }
  struct Chunk
  {
    std::uint64_t offset;
    std::uint64_t length;
    std::uint64_t base_offset; // UINT64_MAX: not in the base
  };
  std::vector<Chunk> chunks;
  // Content that repeats (a disk image, logs) occurs in many places: take
  // the one that keeps the file's alignment with the base (where the last
  // match leads), so copies stay long and the base around a new run is
  // its true counterpart.
  std::int64_t shift = 0; // base offset minus new offset, at the last match
  auto walked = for_each_chunk(target, [&](std::uint64_t at, std::span<const std::uint8_t> chunk) {
    const auto found = known.find(util::hash_bytes(chunk));
    if (found == known.end()) {
      chunks.push_back({at, chunk.size(), UINT64_MAX});
      return;
    }
    const auto& places = found->second;
    const std::int64_t expected = static_cast<std::int64_t>(at) + shift;
    auto next = std::lower_bound(
      places.begin(), places.end(), expected,
      [](std::uint64_t p, std::int64_t want) { return static_cast<std::int64_t>(p) < want; });
    if (next == places.end() ||
        (next != places.begin() && expected - static_cast<std::int64_t>(*std::prev(next)) <
                                     static_cast<std::int64_t>(*next) - expected)) {
      next = std::prev(next);
    }
    shift = static_cast<std::int64_t>(*next) - static_cast<std::int64_t>(at);
    chunks.push_back({at, chunk.size(), *next});
  });
  if (!walked) {
    return walked.error();
  }
  known = {};
  // The file as pieces: copies (runs of chunks contiguous in the base)
  // and runs of new chunks, each run with the part of the base around it.
  std::vector<Piece> pieces;
  std::uint64_t base_after = 0; // in the base, just after the last copy
  std::int64_t copy_shift = 0;  // its base offset minus its offset in the file
  for (std::size_t c = 0; c < chunks.size();) {
    if (chunks[c].base_offset != UINT64_MAX) {
      const std::uint64_t from_offset = chunks[c].base_offset;
      const std::uint64_t at = chunks[c].offset;
      std::uint64_t length = 0;
      while (c < chunks.size() && chunks[c].base_offset == from_offset + length) {
        length += chunks[c].length;
        ++c;
      }
      pieces.push_back({true, at, length, from_offset, 0, 0});
      base_after = from_offset + length;
      copy_shift = static_cast<std::int64_t>(from_offset) - static_cast<std::int64_t>(at);
      continue;
    }
    const std::uint64_t start = chunks[c].offset;
    std::uint64_t length = 0;
    while (c < chunks.size() && chunks[c].base_offset == UINT64_MAX &&
           length + chunks[c].length <= k_max_frame_output) {
      length += chunks[c].length;
      ++c;
    }
    Piece run{false, start, length, 0, 0, 0};
    if (old_size > 0) {
      // The old counterpart of the run: from the end of the last copy to
      // the start of the next one, with a margin.
      std::uint64_t lo = base_after;
      std::uint64_t hi = old_size;
      for (std::size_t n = c; n < chunks.size(); ++n) {
        if (chunks[n].base_offset != UINT64_MAX) {
          hi = chunks[n].base_offset;
          break;
        }
      }
      if (hi <= lo || hi - lo > k_chunk_prefix) {
        // No sensible span between the copies: the run's place if the
        // alignment of the last copy holds.
        const std::int64_t guess = static_cast<std::int64_t>(start) + copy_shift;
        lo = std::min<std::uint64_t>(static_cast<std::uint64_t>(std::max<std::int64_t>(guess, 0)),
                                     old_size);
        hi = std::min<std::uint64_t>(lo + length, old_size);
      }
      run.lo = lo > k_chunk_margin ? lo - k_chunk_margin : 0;
      run.hi = std::min<std::uint64_t>(hi + k_chunk_margin, old_size);
      run.hi = std::min(run.hi, run.lo + k_chunk_prefix);
    }
    pieces.push_back(run);
  }
  return pieces;
}

} // namespace treecast::core
