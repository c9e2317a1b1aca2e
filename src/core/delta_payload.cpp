// Reading a delta's payload: COPY and FRAME records write B's new files one
// after another through a DeltaTarget, and END closes the delta. Every
// index, range and length is checked against the manifests and the
// format's limits before it is used, and every new file against its hash
// as it completes.

#include "delta.hpp"
#include "delta_meta.hpp"
#include "delta_stream.hpp"

#include <algorithm>
#include <unordered_set>

namespace treecast::core {

namespace {

// A COPY is read from its base in pieces of this size.
constexpr std::uint64_t k_copy_piece = 8 << 20;

using Range = MetaRange;

class PayloadReader
{
public:
  PayloadReader(DeltaReader::State& st, const Manifest& from, const Manifest& to,
                DeltaTarget& target)
    : m_st(st), m_from(from), m_to(to), m_target(target), m_done(to.entries.size(), false)
  {
    for (const Entry& e : from.entries) {
      if (e.type == EntryType::file) {
        m_held.insert(e.hash);
      }
    }
    m_decompressor.one_frame_only();
  }

  util::Status run()
  {
    for (;;) {
      if (auto s = m_st.peek(); !s) {
        return s;
      }
      util::Status s;
      switch (static_cast<RecordType>(m_st.type)) {
        case RecordType::copy:
          s = copy();
          break;
        case RecordType::frame:
          s = frame();
          break;
        case RecordType::end:
          if (s = end(); s) {
            return finish();
          }
          break;
        default:
          s = m_st.bad(std::string("unexpected ") + record_name(m_st.type) + " record (type " +
                       std::to_string(m_st.type) + ")");
      }
      if (!s) {
        return s;
      }
    }
  }

private:
  std::string shown(std::size_t index) const { return util::quote(m_to.entries[index].path); }

  util::Status file_index(const Manifest& m, std::uint64_t index, const char* what) const
  {
    auto s = check_file(m, index, what);
    return s ? s : util::Status(m_st.bad(s.error().message));
  }

  util::Status in_range(const Entry& e, std::uint64_t offset, std::uint64_t length) const
  {
    auto s = check_range(e, offset, length);
    return s ? s : util::Status(m_st.bad(s.error().message));
  }

  // Appends data to new file index of B: it starts the file, or continues
  // the one being written; the file's hash is checked when it is complete.
  util::Status feed(std::size_t index, std::span<const std::uint8_t> data)
  {
    const Entry& e = m_to.entries[index];
    if (m_current != index) {
      if (m_current != k_none) {
        return m_st.bad(shown(m_current) + " ends after " + std::to_string(m_written) + " of its " +
                        std::to_string(m_to.entries[m_current].size) + " bytes");
      }
      if (!m_st.written[index] || m_done[index]) {
        return m_st.bad("writes " + shown(index) +
                        (m_done[index] ? std::string(" again")
                                       : std::string(", whose content the manifest does not "
                                                     "leave to the payload")));
      }
      if (auto s = m_target.begin_file(index); !s) {
        return s;
      }
      m_current = index;
      m_written = 0;
      m_hasher.reset();
    }
    if (data.size() > e.size - m_written) {
      return m_st.bad("more bytes for " + shown(index) + " than its size of " +
                      std::to_string(e.size));
    }
    m_hasher.update(data);
    m_written += data.size();
    m_total += data.size();
    if (auto s = m_target.write(data); !s) {
      return s;
    }
    if (m_written < e.size) {
      return {};
    }
    if (m_hasher.digest() != e.hash) {
      return m_st.bad("the content built for " + shown(index) +
                      " does not match its hash (corrupt delta, or a base that changed)");
    }
    if (m_held.contains(e.hash) || m_produced.contains(e.hash)) {
      return m_st.bad("writes content for " + shown(index) +
                      " that the follower holds or was written already");
    }
    m_produced.insert(e.hash);
    m_done[index] = true;
    m_current = k_none;
    return m_target.end_file(index);
  }

  util::Status copy()
  {
    auto body = m_st.body(k_max_small_record);
    if (!body) {
      return body.error();
    }
    util::ByteReader r(*body);
    const auto to_index = r.varint("target");
    const Range source{r.varint("source"), r.varint("offset"), r.varint("length")};
    if (r.ok() && !r.at_end()) {
      r.fail("trailing bytes");
    }
    if (!r.ok()) {
      return m_st.bad("COPY: " + r.error());
    }
    if (auto s = file_index(m_to, to_index, "COPY target"); !s) {
      return s;
    }
    if (auto s = file_index(m_from, source.index, "COPY source"); !s) {
      return s;
    }
    if (auto s = in_range(m_from.entries[source.index], source.offset, source.length); !s) {
      return s;
    }
    if (source.length == 0) {
      return m_st.bad("COPY of no bytes");
    }
    return copy_range(to_index, source.index, source.offset, source.length);
  }

  // Appends bytes of a file of A (checked to be in range) to file to_index
  // of B, in pieces: a copy may be as large as the file.
  util::Status copy_range(std::size_t to_index, std::uint64_t from_index, std::uint64_t offset,
                          std::uint64_t length)
  {
    for (std::uint64_t done = 0; done < length;) {
      const std::uint64_t n = std::min(length - done, k_copy_piece);
      auto base = m_target.base(from_index, offset + done, n);
      if (!base) {
        return base.error();
      }
      if (auto s = feed(to_index, *base); !s) {
        return s;
      }
      done += n;
    }
    return {};
  }

  // A FRAME's meta: its prefix ranges of A and its outputs in B.
  util::Result<FrameMeta> read_meta()
  {
    const std::uint64_t body_start = m_st.offset;
    auto meta_length = m_st.varint("FRAME meta length");
    if (!meta_length) {
      return meta_length.error();
    }
    if (*meta_length > k_max_frame_meta || *meta_length > m_st.length) {
      return m_st.bad("FRAME meta of " + std::to_string(*meta_length) + " bytes");
    }
    std::vector<std::uint8_t> meta(*meta_length);
    if (auto s = m_st.exact(meta, "FRAME meta"); !s) {
      return s.error();
    }
    if (m_st.offset - body_start > m_st.length) {
      return m_st.bad("FRAME meta beyond its record");
    }
    auto decoded = decode_frame_meta(meta, m_from, m_to, m_current, m_written);
    if (!decoded) {
      return m_st.bad(decoded.error().message);
    }
    return decoded;
  }

  util::Status frame()
  {
    const std::uint64_t body_start = m_st.offset;
    auto meta = read_meta();
    if (!meta) {
      return meta.error();
    }
    const std::vector<Range>& prefix = meta->prefix;
    const std::vector<Range>& outputs = meta->outputs;
    const std::uint64_t output_total = meta->decoded;
    // The prefix: one range of a base in place, or several joined.
    const bool has_copies =
      std::any_of(outputs.begin(), outputs.end(), [](const Range& o) { return o.copied(); });
    std::vector<std::uint8_t> joined;
    std::span<const std::uint8_t> base_view;
    for (const Range& p : prefix) {
      auto base = m_target.base(p.index, p.offset, p.length);
      if (!base) {
        return base.error();
      }
      const auto part = *base;
      // A lone range is used in place, unless copied outputs will read the
      // base again (the view lasts only until then).
      if (prefix.size() == 1 && !has_copies) {
        base_view = part;
      } else {
        joined.insert(joined.end(), part.begin(), part.end());
        base_view = joined;
      }
    }
    if (base_view.empty()) {
      m_decompressor.begin();
    } else {
      m_decompressor.begin_patch(base_view);
    }

    // Output is dealt out to the outputs in order; more than they take is
    // an error at once, so a bomb never gets far.
    std::size_t out_at = 0;
    std::uint64_t out_done = 0;
    // Copied outputs are written as the frame's output reaches them.
    auto copies = [&]() -> util::Status {
      while (out_at < outputs.size() && outputs[out_at].copied()) {
        const Range& o = outputs[out_at];
        if (auto s = copy_range(o.index, o.source, o.source_offset, o.length); !s) {
          return s;
        }
        ++out_at;
      }
      return {};
    };
    if (auto s = copies(); !s) {
      return s;
    }
    const util::ByteSink sink = [&](std::span<const std::uint8_t> data) -> util::Status {
      while (!data.empty()) {
        if (out_at == outputs.size()) {
          return m_st.bad("FRAME decodes to more than its " + std::to_string(output_total) +
                          " bytes");
        }
        const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(data.size(), outputs[out_at].length - out_done));
        if (auto s = feed(outputs[out_at].index, data.first(n)); !s) {
          return s;
        }
        data = data.subspan(n);
        out_done += n;
        if (out_done == outputs[out_at].length) {
          ++out_at;
          out_done = 0;
          if (auto s = copies(); !s) {
            return s;
          }
        }
      }
      return {};
    };
    auto decode = [&](std::span<const std::uint8_t> input) -> util::Status {
      auto s = m_decompressor.update(input, sink);
      return !s && s.error().code == util::Errc::data && s.error().message.starts_with("corrupt")
               ? util::Status(m_st.bad("FRAME: " + s.error().message))
               : s;
    };
    std::uint64_t left = m_st.length - (m_st.offset - body_start);
    // The frame must declare its size, and the size must be what the
    // outputs take: the decoder's memory is bounded by it. Its header (18
    // bytes at most) is read whole first, whatever the reads' sizes.
    std::vector<std::uint8_t> head(static_cast<std::size_t>(std::min<std::uint64_t>(left, 18)));
    if (auto s = m_st.exact(head, "a FRAME record"); !s) {
      return s;
    }
    left -= head.size();
    const auto declared = util::zstd_content_size(head);
    if (!declared || *declared != output_total) {
      return m_st.bad("FRAME's zstd header does not declare its " + std::to_string(output_total) +
                      " bytes");
    }
    if (auto s = decode(head); !s) {
      return s;
    }
    while (left > 0) {
      auto piece =
        m_st.take(static_cast<std::size_t>(std::min<std::uint64_t>(left, k_read_buffer)));
      if (!piece) {
        return piece.error();
      }
      if (piece->empty()) {
        return m_st.bad("truncated in a FRAME record");
      }
      left -= piece->size();
      if (auto s = decode(*piece); !s) {
        return s;
      }
    }
    if (out_at != outputs.size() || !m_decompressor.frame_complete()) {
      return m_st.bad("FRAME decodes to fewer than its " + std::to_string(output_total) + " bytes");
    }
    return m_st.check_record();
  }

  util::Status end()
  {
    const util::Hash128 before = m_st.all.digest();
    const std::uint64_t count = m_st.records;
    auto body = m_st.body(k_max_small_record);
    if (!body) {
      return body.error();
    }
    util::ByteReader r(*body);
    const auto records = r.varint("record count");
    const auto sum = r.bytes("checksum", 16);
    if (r.ok() && !r.at_end()) {
      r.fail("trailing bytes");
    }
    if (!r.ok()) {
      return m_st.bad("END: " + r.error());
    }
    if (records != count ||
        (!std::equal(sum.begin(), sum.end(), before.bytes.begin()) && !k_fuzzing)) {
      return m_st.bad("END: the delta's checksum does not match (corrupt or spliced)");
    }
    if (auto s = m_st.fill(); !s) {
      return s;
    }
    if (m_st.pos != m_st.end) {
      return m_st.bad("bytes after END");
    }
    return {};
  }

  // After END: every new file of B was written, as the header said.
  util::Status finish()
  {
    if (m_current != k_none) {
      return m_st.bad(shown(m_current) + " ends after " + std::to_string(m_written) + " of its " +
                      std::to_string(m_to.entries[m_current].size) + " bytes");
    }
    if (m_produced.size() != m_st.header.new_files) {
      return m_st.bad("wrote " + std::to_string(m_produced.size()) + " files, the header says " +
                      std::to_string(m_st.header.new_files));
    }
    if (m_total != m_st.header.write_bytes) {
      return m_st.bad("wrote " + std::to_string(m_total) + " bytes, the header says " +
                      std::to_string(m_st.header.write_bytes));
    }
    for (std::size_t i = 0; i < m_to.entries.size(); ++i) {
      const Entry& e = m_to.entries[i];
      if (m_st.written[i] && !m_done[i]) {
        return m_st.bad("no content for " + shown(i) + ", which the payload was to write");
      }
      if (e.type == EntryType::file && e.size > 0 && !m_held.contains(e.hash) &&
          !m_produced.contains(e.hash)) {
        return m_st.bad("no content for " + shown(i));
      }
    }
    return {};
  }

  static constexpr std::size_t k_none = SIZE_MAX;

  DeltaReader::State& m_st;
  const Manifest& m_from;
  const Manifest& m_to;
  DeltaTarget& m_target;
  std::unordered_set<util::Hash128> m_held;     // contents of A
  std::unordered_set<util::Hash128> m_produced; // new contents written
  std::vector<bool> m_done;                     // per file of B: written
  std::size_t m_current = k_none;               // the new file being written
  std::uint64_t m_written = 0;                  // of it
  util::Hasher m_hasher;                        // of it
  std::uint64_t m_total = 0;                    // of all new files
  util::ZstdDecompressor m_decompressor;
};

} // namespace

util::Status DeltaReader::read_payload(const Manifest& from, const Manifest& to,
                                       DeltaTarget& target)
{
  if (!m_state->have_manifest) {
    throw std::logic_error("DeltaReader::read_payload out of order");
  }
  return PayloadReader(*m_state, from, to, target).run();
}

} // namespace treecast::core
