// Making a delta. Planning (delta_plan.cpp) picks each new file's base; this
// file turns the plan into units (a COPY or a FRAME record each), compresses
// frames on the executor in windows of bounded size, and writes the records
// in plan order.

#include "core/delta_bases.hpp"
#include "core/delta_edits.hpp"
#include "core/delta_plan.hpp"
#include "delta.hpp"
#include "delta_encode.hpp"
#include "delta_units.hpp"
#include "util/bytes.hpp"
#include "util/chunker.hpp"
#include "util/content.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <map>
#include <unistd.h>
#include <unordered_map>
#include <unordered_set>

namespace treecast::core {

namespace {

// Planning limits (not format: a decoder accepts any value within the
// format's limits).
constexpr std::uint64_t k_batch_file = 512 * 1024;       // small enough to share a frame
constexpr std::uint64_t k_batch_output = 4 << 20;        // new bytes in one shared frame
constexpr std::uint64_t k_batch_prefix = 32 << 20;       // bases joined for one shared frame
constexpr std::uint64_t k_single_frame_file = 32 << 20;  // one frame for the whole file
constexpr std::uint64_t k_single_frame_base = 128 << 20; // base of a one-frame file
constexpr std::size_t k_frame_outputs = 4096;            // outputs of one frame of a large file
constexpr std::uint64_t k_window_input = 96 << 20;       // new bytes compressed at once
constexpr std::uint64_t k_manifest_piece = 4 << 20;      // bytes of one MANIFEST record
constexpr int k_compressed_level = 1;                    // for already-compressed files
constexpr std::uint64_t k_group_prefix = 64 << 20;       // bases of a group of larger files
constexpr std::uint64_t k_small_base = 64 * 1024;        // any base this small is worth it
constexpr std::uint64_t k_strong_frame = 8 << 20;        // largest frame at k_strong_level
constexpr std::uint64_t k_strong_delta = 32 << 20;       // largest delta (new bytes) for it
constexpr int k_strong_level = 19;
constexpr int k_fast_level = 12;
static_assert(k_single_frame_file <= k_max_frame_output);
static_assert(k_batch_prefix <= k_max_frame_prefix && k_single_frame_base <= k_max_frame_prefix);

class DeltaMaker
{
public:
  DeltaMaker(const Store& store, const Manifest& from, const Manifest& to,
             const DeltaOptions& options, util::Executor& executor, const util::ByteSink& out)
    : m_store(store), m_from(from), m_to(to), m_options(options), m_executor(executor),
      m_writer(out)
  {
  }

  util::Result<DeltaReport> run()
  {
    const DeltaPlan plan = plan_delta(m_from, m_to);
    std::unordered_set<util::Hash128> produced;
    for (const FilePlan& file : plan.files) {
      const Entry& e = m_to.entries[file.entry];
      // Empty files need no payload: the follower creates them.
      if ((file.source == FileSource::patch || file.source == FileSource::whole) && e.size > 0 &&
          produced.insert(e.hash).second) {
        m_targets.push_back(file);
        m_report.header.write_bytes += e.size;
        m_report.header.new_files += 1;
      }
    }
    m_report.header.channel = m_to.header.channel;
    m_report.header.from_number = m_from.header.number;
    m_report.header.from_id = m_from.header.number == 0 ? util::Hash128{} : m_from.id;
    m_report.header.to_number = m_to.header.number;
    m_report.header.to_id = m_to.id;
    m_report.header.level = static_cast<std::uint32_t>(m_options.level);

    if (auto s = write_head(); !s) {
      return s.error();
    }
    if (auto s = write_payload(); !s) {
      return s.error();
    }
    if (auto s = m_writer.end(); !s) {
      return s.error();
    }
    m_report.delta_bytes = m_writer.bytes();
    return m_report;
  }

private:
  util::Status write_head()
  {
    if (auto s = m_writer.start(); !s) {
      return s;
    }
    if (auto s = m_writer.record(RecordType::header, encode_header(m_report.header)); !s) {
      return s;
    }
    std::vector<bool> written(m_to.entries.size(), false);
    for (const FilePlan& file : m_targets) {
      written[file.entry] = true;
    }
    const std::vector<std::uint8_t> compressed =
      compress_edits(m_from, encode_edits(m_from, m_to, written));
    for (std::size_t at = 0; at < compressed.size(); at += k_manifest_piece) {
      const std::size_t n = std::min<std::size_t>(k_manifest_piece, compressed.size() - at);
      if (auto s = m_writer.record(RecordType::manifest, std::span(compressed).subspan(at, n));
          !s) {
        return s;
      }
    }
    return {};
  }

  // The level of a frame: the one asked for, else by measurement
  // (tools/bench/delta.sh): zstd's strongest parser for frames of up to
  // k_strong_frame when the delta's new content is small enough for it to
  // stay fast; level 12 otherwise, the last before zstd's slow parsers and,
  // with long-distance matching, often better than them on large patches.
  int frame_level(const Unit& unit) const
  {
    if (m_options.level != 0) {
      return m_options.level;
    }
    return unit.output_bytes() <= k_strong_frame && m_report.header.write_bytes <= k_strong_delta
             ? k_strong_level
             : k_fast_level;
  }

  // Adds a frame unit holding these outputs, closing it first when it would
  // outgrow its limits.
  struct Pending
  {
    Unit unit;
    std::uint64_t prefix = 0; // bytes of its prefix
    std::string key;          // the extension of a group
  };

  util::Status flush(Pending& pending)
  {
    if (pending.unit.outputs.empty()) {
      return {};
    }
    pending.unit.level = frame_level(pending.unit);
    pending.prefix = 0;
    return add(std::exchange(pending.unit, Unit{}));
  }

  // Adds the output to pending with these bases (whole files of A), closing
  // pending first when the file would not fit in its limits.
  util::Status join(Pending& pending, const std::string& key, const Range& output,
                    std::shared_ptr<const util::Content> input,
                    const std::vector<std::size_t>& bases, std::uint64_t max_output,
                    std::uint64_t max_prefix)
  {
    auto added_prefix = [&] {
      std::uint64_t bytes = 0;
      for (const std::size_t b : bases) {
        const bool present = std::any_of(pending.unit.prefix.begin(), pending.unit.prefix.end(),
                                         [&](const Range& r) { return r.index == b; });
        bytes += present ? 0 : m_from.entries[b].size;
      }
      return bytes;
    };
    if (!pending.unit.outputs.empty() &&
        (key != pending.key || pending.unit.output_bytes() + output.length > max_output ||
         pending.prefix + added_prefix() > max_prefix)) {
      if (auto s = flush(pending); !s) {
        return s;
      }
    }
    pending.key = key;
    for (const std::size_t b : bases) {
      const bool present = std::any_of(pending.unit.prefix.begin(), pending.unit.prefix.end(),
                                       [&](const Range& r) { return r.index == b; });
      if (!present) {
        pending.unit.prefix.push_back({b, 0, m_from.entries[b].size});
        pending.prefix += m_from.entries[b].size;
      }
    }
    pending.unit.outputs.push_back(output);
    pending.unit.inputs.push_back(std::move(input));
    return {};
  }

  util::Status write_payload()
  {
    // Small files share frames in path order, with their bases by name;
    // larger ones share frames with files of the same extension (code
    // bundles that share code, configs of one kind), with bases by content.
    Pending batch;
    std::map<std::string, Pending> groups; // by extension
    for (const FilePlan& file : m_targets) {
      const Entry& e = m_to.entries[file.entry];
      const bool has_base = file.base != k_no_base;
      const std::uint64_t base_size = has_base ? m_from.entries[file.base].size : 0;
      const Range output{file.entry, 0, e.size};
      util::Status s;
      if (compressed_name(e.path)) {
        // Stored whole, in a frame of its own at a fast level.
        if (e.size > k_single_frame_file) {
          s = add_chunked(file, k_compressed_level);
        } else {
          Unit unit;
          unit.level = k_compressed_level;
          unit.outputs.push_back(output);
          s = add(std::move(unit));
        }
      } else if (e.size <= k_batch_file) {
        // A base far larger than the file (a bundle that became a stub)
        // would cost the whole frame its time for little gain.
        std::vector<std::size_t> bases;
        if (has_base && base_size <= std::max(k_base_size_factor * e.size, k_small_base)) {
          bases.push_back(file.base);
        }
        // And what shares its content elsewhere in A: a file made from part
        // of another, a config copied and then edited.
        auto content = load_content(m_store, e);
        if (!content) {
          return content.error();
        }
        auto similar = m_finder.find_small((*content)->bytes());
        if (!similar) {
          return similar.error();
        }
        // Prefix order: the similar files (best last), then the base by
        // name, nearest the new content.
        std::vector<std::size_t> ordered;
        for (const std::size_t b : *similar) {
          if (std::find(bases.begin(), bases.end(), b) == bases.end()) {
            ordered.push_back(b);
          }
        }
        ordered.insert(ordered.end(), bases.begin(), bases.end());
        bases = std::move(ordered);
        s = join(batch, "", output, nullptr, bases, k_batch_output, k_batch_prefix);
      } else if (e.size <= k_single_frame_file && base_size <= k_single_frame_base) {
        auto content = load_content(m_store, e);
        if (!content) {
          return content.error();
        }
        auto bases = m_finder.find(e, (*content)->bytes(), file.base, k_batch_prefix);
        if (!bases) {
          return bases.error();
        }
        const std::string ext = lower_extension(e.path);
        s = join(groups[ext], ext, output, std::move(*content), *bases, k_max_frame_output,
                 k_group_prefix);
      } else {
        s = add_chunked(file, 0);
      }
      if (!s) {
        return s;
      }
    }
    if (auto s = flush(batch); !s) {
      return s;
    }
    for (auto& [ext, group] : groups) {
      if (auto s = flush(group); !s) {
        return s;
      }
    }
    return run_window();
  }

  // A large file: chunks found in the base are copied, runs of new chunks
  // patched against the base between the copies around them.
  util::Status add_chunked(const FilePlan& file, int level)
  {
    const Entry& e = m_to.entries[file.entry];
    auto target = load_content(m_store, e);
    if (!target) {
      return target.error();
    }
    std::shared_ptr<const util::Content> base;
    if (file.base != k_no_base) {
      auto loaded = load_content(m_store, m_from.entries[file.base]);
      if (!loaded) {
        return loaded.error();
      }
      base = std::move(*loaded);
    }
    auto found = chunk_pieces(**target, base.get());
    if (!found) {
      return found.error();
    }
    const std::vector<Piece>& pieces = *found;
    for (const Piece& piece : pieces) {
      m_report.copied_bytes += piece.copy ? piece.length : 0;
    }

    // Packed into frames: the runs decoded from one zstd frame against
    // their base ranges joined, the copies between them as the frame's
    // copied outputs, so that scattered edits share one frame and no
    // record of their own. Copies with no run around them become COPY
    // records.
    Unit frame;
    std::uint64_t frame_prefix = 0;
    auto flush = [&]() -> util::Status {
      if (frame.outputs.empty()) {
        return {};
      }
      Unit unit = std::exchange(frame, Unit{});
      frame_prefix = 0;
      if (unit.output_bytes() == 0) {
        for (const Range& r : unit.outputs) {
          Unit copy;
          copy.type = RecordType::copy;
          copy.prefix.push_back({r.source, r.source_offset, r.length});
          copy.outputs.push_back({r.index, r.offset, r.length});
          if (auto s = add(std::move(copy)); !s) {
            return s;
          }
        }
        return {};
      }
      // Base ranges in order, those that overlap or touch joined.
      std::sort(unit.prefix.begin(), unit.prefix.end(),
                [](const Range& x, const Range& y) { return x.offset < y.offset; });
      std::vector<Range> joined;
      for (const Range& r : unit.prefix) {
        if (!joined.empty() && r.offset <= joined.back().offset + joined.back().length) {
          const std::uint64_t end =
            std::max(joined.back().offset + joined.back().length, r.offset + r.length);
          joined.back().length = end - joined.back().offset;
        } else {
          joined.push_back(r);
        }
      }
      unit.prefix = std::move(joined);
      unit.base = base;
      unit.level = level != 0 ? level : frame_level(unit);
      return add(std::move(unit));
    };
    for (const Piece& piece : pieces) {
      const std::uint64_t range = piece.hi - piece.lo;
      const bool full = frame.outputs.size() >= k_frame_outputs ||
                        (!piece.copy && frame.output_bytes() > 0 &&
                         (frame.output_bytes() + piece.length > k_max_frame_output ||
                          frame_prefix + range > k_chunk_prefix + 2 * k_chunk_margin));
      if (full) {
        if (auto s = flush(); !s) {
          return s;
        }
      }
      if (piece.copy) {
        frame.outputs.push_back(
          {file.entry, piece.offset, piece.length, file.base, piece.base_offset});
        frame.inputs.push_back(nullptr);
        continue;
      }
      frame.outputs.push_back({file.entry, piece.offset, piece.length});
      frame.inputs.push_back(*target);
      if (range > 0) {
        frame.prefix.push_back({file.base, piece.lo, range});
        frame_prefix += range;
      }
    }
    return flush();
  }

  util::Status add(Unit unit)
  {
    m_window_input += unit.type == RecordType::frame ? unit.output_bytes() : 0;
    m_window.push_back(std::move(unit));
    if (m_window_input >= k_window_input || m_window.size() >= 64) {
      return run_window();
    }
    return {};
  }

  util::Status run_window()
  {
    // The costliest frames first, so that the threads finish together;
    // records are still written in plan order.
    std::vector<std::size_t> order(m_window.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
      order[i] = i;
    }
    auto cost = [&](std::size_t i) {
      const Unit& u = m_window[i];
      return u.type == RecordType::copy ? 0 : u.output_bytes() * (u.level >= 16 ? 8 : 1);
    };
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return cost(a) > cost(b); });
    m_executor.for_each(
      order.size(), [&](std::size_t i) { build_unit(m_store, m_from, m_to, m_window[order[i]]); });
    for (Unit& unit : m_window) {
      if (!unit.status) {
        return unit.status;
      }
      if (auto s = m_writer.record(unit.type, unit.body); !s) {
        return s;
      }
      (unit.type == RecordType::copy ? m_report.copies : m_report.frames) += 1;
    }
    m_window.clear();
    m_window_input = 0;
    return {};
  }

  const Store& m_store;
  const Manifest& m_from;
  const Manifest& m_to;
  const DeltaOptions& m_options;
  util::Executor& m_executor;
  RecordWriter m_writer;
  DeltaReport m_report;
  std::vector<FilePlan> m_targets; // new contents, each once, in B's order
  std::vector<Unit> m_window;      // units not yet written
  BaseFinder m_finder{m_store, m_from};
  std::uint64_t m_window_input = 0;
};

} // namespace

util::Result<DeltaReport> make_delta(const Store& store, const Manifest& from, const Manifest& to,
                                     const DeltaOptions& options, util::Executor& executor,
                                     const util::ByteSink& out)
{
  if (from.header.number != 0 && from.header.channel != to.header.channel) {
    return util::make_error(util::Errc::usage, "versions of two channels: " + from.header.channel +
                                                 " and " + to.header.channel);
  }
  DeltaMaker maker(store, from, to, options, executor, out);
  return maker.run();
}

} // namespace treecast::core
