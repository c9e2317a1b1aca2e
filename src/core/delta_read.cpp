// Reading a delta. Every field is checked before it is used: sizes against
// the format's limits, indexes against the manifests, outputs against the
// sizes of B's files, and every new file against its hash. Nothing here
// touches a tree: the follower's side is a DeltaTarget.

#include "delta.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <unordered_set>

namespace treecast::core {

namespace {

constexpr std::size_t k_read_buffer = 1 << 20;
// Built for fuzzing (tools/fuzz.sh), checksums are not checked, so that
// mutated input reaches the checks behind them.
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
constexpr bool k_fuzzing = true;
#else
constexpr bool k_fuzzing = false;
#endif
constexpr std::uint64_t k_max_small_record = 64 * 1024; // HEADER, COPY, END

const char* record_name(std::uint8_t type)
{
  switch (static_cast<RecordType>(type)) {
    case RecordType::header:
      return "HEADER";
    case RecordType::manifest:
      return "MANIFEST";
    case RecordType::copy:
      return "COPY";
    case RecordType::frame:
      return "FRAME";
    case RecordType::end:
      return "END";
  }
  return "unknown";
}

} // namespace

struct DeltaReader::State
{
  Source source;
  std::string origin;
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(k_read_buffer);
  std::size_t pos = 0;
  std::size_t end = 0;
  bool eof = false;
  std::uint64_t offset = 0;    // bytes consumed so far
  util::Hasher all;            // of every byte consumed before the current record
  util::Hasher record;         // of the current record
  std::uint64_t records = 0;   // records read, END aside
  std::uint64_t record_at = 0; // offset of the current record
  DeltaHeader header;
  bool have_header = false;
  bool have_manifest = false;
  // The next record's type and body length, once read.
  bool peeked = false;
  std::uint8_t type = 0;
  std::uint64_t length = 0;

  util::Error bad(const std::string& message) const
  {
    return util::make_error(util::Errc::data, "invalid delta " + util::quote(origin) + " at byte " +
                                                std::to_string(record_at) + ": " + message);
  }

  util::Status fill()
  {
    if (pos < end || eof) {
      return {};
    }
    auto n = source(buffer);
    if (!n) {
      return n.error();
    }
    pos = 0;
    end = *n;
    eof = *n == 0;
    return {};
  }

  // Up to max bytes of the stream, fewer only at its end.
  util::Result<std::span<const std::uint8_t>> take(std::size_t max)
  {
    if (auto s = fill(); !s) {
      return s.error();
    }
    const std::size_t n = std::min(max, end - pos);
    const std::span<const std::uint8_t> out(buffer.data() + pos, n);
    pos += n;
    offset += n;
    all.update(out);
    record.update(out);
    return out;
  }

  util::Status exact(std::span<std::uint8_t> out, const char* what)
  {
    std::size_t done = 0;
    while (done < out.size()) {
      auto piece = take(out.size() - done);
      if (!piece) {
        return piece.error();
      }
      if (piece->empty()) {
        return bad(std::string("truncated in ") + what);
      }
      std::copy(piece->begin(), piece->end(), out.begin() + static_cast<std::ptrdiff_t>(done));
      done += piece->size();
    }
    return {};
  }

  util::Result<std::uint64_t> varint(const char* what)
  {
    std::uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t byte = 0;
      if (auto s = exact({&byte, 1}, what); !s) {
        return s.error();
      }
      value |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        if (shift == 63 && byte > 1) {
          break;
        }
        return value;
      }
    }
    return bad(std::string("varint too long in ") + what);
  }

  // The next record's type and length; at the end of the stream, an error.
  util::Status peek()
  {
    if (peeked) {
      return {};
    }
    record_at = offset;
    record.reset();
    std::uint8_t t = 0;
    if (auto s = exact({&t, 1}, "a record type"); !s) {
      return s;
    }
    auto n = varint("a record length");
    if (!n) {
      return n.error();
    }
    if (*n > k_max_record_body) {
      return bad(std::string(record_name(t)) + " record of " + std::to_string(*n) +
                 " bytes, above the limit of " + std::to_string(k_max_record_body));
    }
    peeked = true;
    type = t;
    length = *n;
    return {};
  }

  // A whole small record's body, its hash checked.
  util::Result<std::vector<std::uint8_t>> body(std::uint64_t max)
  {
    if (length > max) {
      return bad(std::string(record_name(type)) + " record of " + std::to_string(length) +
                 " bytes, above the limit of " + std::to_string(max));
    }
    std::vector<std::uint8_t> out(length);
    if (auto s = exact(out, record_name(type)); !s) {
      return s.error();
    }
    if (auto s = check_record(); !s) {
      return s.error();
    }
    return out;
  }

  // The record's hash, after its body was consumed.
  util::Status check_record()
  {
    const util::Hash128 computed = record.digest();
    util::Hash128 stored;
    // The stored hash is not part of what it hashes.
    std::size_t done = 0;
    while (done < stored.bytes.size()) {
      if (auto s = fill(); !s) {
        return s;
      }
      if (pos == end) {
        return bad(std::string("truncated in the hash of a ") + record_name(type) + " record");
      }
      const std::size_t n = std::min(stored.bytes.size() - done, end - pos);
      std::copy_n(buffer.begin() + static_cast<std::ptrdiff_t>(pos), n,
                  stored.bytes.begin() + static_cast<std::ptrdiff_t>(done));
      all.update({buffer.data() + pos, n});
      pos += n;
      offset += n;
      done += n;
    }
    if (computed != stored && !k_fuzzing) {
      return bad(std::string(record_name(type)) + " record does not match its hash (corrupt)");
    }
    peeked = false;
    records += 1;
    return {};
  }
};

DeltaReader::DeltaReader(Source source, std::string origin) : m_state(std::make_unique<State>())
{
  m_state->source = std::move(source);
  m_state->origin = std::move(origin);
}

DeltaReader::~DeltaReader() = default;

util::Result<DeltaHeader> DeltaReader::read_header()
{
  State& st = *m_state;
  std::uint8_t head[sizeof k_delta_magic + 1] = {};
  if (auto s = st.exact(head, "the magic"); !s) {
    return util::make_error(util::Errc::data, util::quote(st.origin) + " is not a treecast delta");
  }
  if (!std::equal(std::begin(k_delta_magic), std::end(k_delta_magic), head)) {
    return util::make_error(util::Errc::data,
                            util::quote(st.origin) + " is not a treecast delta (bad magic)");
  }
  if (head[sizeof k_delta_magic] != k_delta_format) {
    return st.bad("unsupported delta format " + std::to_string(head[sizeof k_delta_magic]) +
                  " (this treecast reads format " + std::to_string(k_delta_format) + ")");
  }
  if (auto s = st.peek(); !s) {
    return s.error();
  }
  if (st.type != static_cast<std::uint8_t>(RecordType::header)) {
    return st.bad(std::string("first record is ") + record_name(st.type) + ", not HEADER");
  }
  auto body = st.body(k_max_small_record);
  if (!body) {
    return body.error();
  }
  util::ByteReader r(*body);
  DeltaHeader h;
  h.channel = r.str("channel", 128);
  h.from_number = r.varint("from number");
  const auto from_id = r.bytes("from id", 16);
  h.to_number = r.varint("to number");
  const auto to_id = r.bytes("to id", 16);
  h.write_bytes = r.varint_max("bytes to write", INT64_MAX);
  h.new_files = r.varint("new files");
  h.level = static_cast<std::uint32_t>(r.varint_max("level", 64));
  if (r.ok() && !r.at_end()) {
    r.fail("trailing bytes");
  }
  if (!r.ok()) {
    return st.bad("HEADER: " + r.error());
  }
  std::copy(from_id.begin(), from_id.end(), h.from_id.bytes.begin());
  std::copy(to_id.begin(), to_id.end(), h.to_id.bytes.begin());
  if (auto s = validate_channel(h.channel); !s) {
    return st.bad("HEADER: " + s.error().message);
  }
  if (h.to_number == 0) {
    return st.bad("HEADER: target version 0");
  }
  if (h.from_number == 0 && h.from_id != util::Hash128{}) {
    return st.bad("HEADER: from version 0 with an id");
  }
  st.header = h;
  st.have_header = true;
  return h;
}

util::Result<Manifest> DeltaReader::read_manifest(const Manifest& from)
{
  State& st = *m_state;
  if (!st.have_header || st.have_manifest) {
    throw std::logic_error("DeltaReader::read_manifest out of order");
  }
  const DeltaHeader& h = st.header;
  const bool from_matches = from.header.number == h.from_number &&
                            (h.from_number == 0 ? from.entries.empty() : from.id == h.from_id);
  if (!from_matches) {
    return util::make_error(util::Errc::conflict, "delta " + util::quote(st.origin) +
                                                    " goes from v" + std::to_string(h.from_number) +
                                                    " (" + h.from_id.short_hex() + ") of " +
                                                    h.channel + ", not from the version held here");
  }
  std::vector<std::uint8_t> compressed;
  for (;;) {
    if (auto s = st.peek(); !s) {
      return s.error();
    }
    if (st.type != static_cast<std::uint8_t>(RecordType::manifest)) {
      break;
    }
    if (compressed.size() + st.length > k_max_manifest_section) {
      return st.bad("MANIFEST section larger than " + std::to_string(k_max_manifest_section));
    }
    auto piece = st.body(k_max_record_body);
    if (!piece) {
      return piece.error();
    }
    compressed.insert(compressed.end(), piece->begin(), piece->end());
  }
  if (compressed.empty()) {
    return st.bad("no MANIFEST record");
  }
  auto section = util::zstd_decompress(compressed, k_max_manifest_section);
  if (!section) {
    return st.bad("MANIFEST: " + section.error().message);
  }
  util::ByteReader r(*section);
  const auto removed_count = r.varint_max("removed count", from.entries.size());
  std::vector<std::string> removed;
  removed.reserve(removed_count);
  for (std::uint64_t i = 0; i < removed_count && r.ok(); ++i) {
    removed.push_back(r.str("removed path", k_max_path));
    if (r.ok() && i > 0 && !(removed[i - 1] < removed[i])) {
      r.fail("removed paths not sorted at " + util::quote(removed[i]));
    } else if (r.ok() && from.find(removed[i]) == nullptr) {
      r.fail("removes " + util::quote(removed[i]) + ", which the version held here lacks");
    }
  }
  const auto manifest_length = r.varint_max("manifest length", r.remaining());
  const auto manifest_bytes = r.bytes("manifest", manifest_length);
  if (r.ok() && !r.at_end()) {
    r.fail("trailing bytes");
  }
  if (!r.ok()) {
    return st.bad("MANIFEST: " + r.error());
  }
  auto changed = decode(manifest_bytes, st.origin);
  if (!changed) {
    return st.bad("MANIFEST: " + changed.error().message);
  }

  // B: A without the removed paths, with the changed entries in place.
  Manifest to;
  to.header = changed->header;
  to.entries.reserve(from.entries.size() + changed->entries.size());
  std::size_t i = 0;
  std::size_t k = 0;
  std::size_t gone = 0;
  auto& c = changed->entries;
  while (i < from.entries.size() || k < c.size()) {
    if (i < from.entries.size() && gone < removed.size() && from.entries[i].path == removed[gone]) {
      ++i;
      ++gone;
    } else if (k == c.size() || (i < from.entries.size() && from.entries[i].path < c[k].path)) {
      to.entries.push_back(from.entries[i++]);
    } else {
      if (i < from.entries.size() && from.entries[i].path == c[k].path) {
        ++i;
      }
      to.entries.push_back(std::move(c[k++]));
    }
  }
  to.id = compute_id(to.entries);
  if (to.id != h.to_id || to.header.number != h.to_number || to.header.channel != h.channel) {
    return st.bad("the manifest it builds is not v" + std::to_string(h.to_number) + " (" +
                  h.to_id.short_hex() + ") of " + h.channel);
  }
  // The whole of B passes the manifest's own checks (paths, parents).
  if (auto checked = decode(encode(to), st.origin); !checked) {
    return st.bad("MANIFEST: " + checked.error().message);
  }
  st.have_manifest = true;
  return to;
}

util::Status DeltaReader::read_payload(const Manifest& from, const Manifest& to,
                                       DeltaTarget& target)
{
  State& st = *m_state;
  if (!st.have_manifest) {
    throw std::logic_error("DeltaReader::read_payload out of order");
  }
  std::unordered_set<util::Hash128> held; // contents of A
  for (const Entry& e : from.entries) {
    if (e.type == EntryType::file) {
      held.insert(e.hash);
    }
  }
  std::unordered_set<util::Hash128> produced;
  // The new file being written, if any.
  constexpr std::size_t k_none = SIZE_MAX;
  std::size_t current = k_none;
  std::uint64_t written = 0;
  util::Hasher hasher;
  std::uint64_t total = 0;

  auto shown = [&](std::size_t index) { return util::quote(to.entries[index].path); };
  auto feed = [&](std::size_t index, std::span<const std::uint8_t> data) -> util::Status {
    const Entry& e = to.entries[index];
    if (current != index) {
      if (current != k_none) {
        return st.bad(shown(current) + " ends after " + std::to_string(written) + " of its " +
                      std::to_string(to.entries[current].size) + " bytes");
      }
      if (held.contains(e.hash) || produced.contains(e.hash)) {
        return st.bad("writes " + shown(index) + " again, or content the follower holds");
      }
      if (auto s = target.begin_file(index); !s) {
        return s;
      }
      current = index;
      written = 0;
      hasher.reset();
    }
    if (data.size() > e.size - written) {
      return st.bad("more bytes for " + shown(index) + " than its size of " +
                    std::to_string(e.size));
    }
    hasher.update(data);
    written += data.size();
    total += data.size();
    if (auto s = target.write(data); !s) {
      return s;
    }
    if (written == e.size) {
      if (hasher.digest() != e.hash) {
        return st.bad("the content built for " + shown(index) +
                      " does not match its hash (corrupt delta, or a base that changed)");
      }
      produced.insert(e.hash);
      current = k_none;
      return target.end_file(index);
    }
    return {};
  };
  auto file_index = [&](const Manifest& m, std::uint64_t index, const char* what) -> util::Status {
    if (index >= m.entries.size() || m.entries[index].type != EntryType::file) {
      return st.bad(std::string(what) + " " + std::to_string(index) + " is not a file");
    }
    return {};
  };
  auto in_range = [&](const Entry& e, std::uint64_t offset, std::uint64_t length) -> util::Status {
    if (offset > e.size || length > e.size - offset) {
      return st.bad("range " + std::to_string(offset) + "+" + std::to_string(length) +
                    " beyond the " + std::to_string(e.size) + " bytes of " + util::quote(e.path));
    }
    return {};
  };

  util::ZstdDecompressor decompressor;
  decompressor.one_frame_only();
  for (;;) {
    if (auto s = st.peek(); !s) {
      return s;
    }
    const auto type = static_cast<RecordType>(st.type);
    if (type == RecordType::copy) {
      auto body = st.body(k_max_small_record);
      if (!body) {
        return body.error();
      }
      util::ByteReader r(*body);
      const auto to_index = r.varint("target");
      const auto from_index = r.varint("source");
      const auto offset = r.varint("offset");
      const auto length = r.varint("length");
      if (r.ok() && !r.at_end()) {
        r.fail("trailing bytes");
      }
      if (!r.ok()) {
        return st.bad("COPY: " + r.error());
      }
      if (auto s = file_index(to, to_index, "COPY target"); !s) {
        return s;
      }
      if (auto s = file_index(from, from_index, "COPY source"); !s) {
        return s;
      }
      if (auto s = in_range(from.entries[from_index], offset, length); !s) {
        return s;
      }
      if (length == 0) {
        return st.bad("COPY of no bytes");
      }
      auto base = target.base(from_index);
      if (!base) {
        return base.error();
      }
      if (auto s = feed(to_index, base->subspan(offset, length)); !s) {
        return s;
      }
    } else if (type == RecordType::frame) {
      // The body: meta (prefix ranges, outputs), then one zstd frame.
      const std::uint64_t body_length = st.length;
      const std::uint64_t body_start = st.offset;
      auto meta_length = st.varint("FRAME meta length");
      if (!meta_length) {
        return meta_length.error();
      }
      if (*meta_length > k_max_frame_meta || *meta_length > body_length) {
        return st.bad("FRAME meta of " + std::to_string(*meta_length) + " bytes");
      }
      std::vector<std::uint8_t> meta(*meta_length);
      if (auto s = st.exact(meta, "FRAME meta"); !s) {
        return s;
      }
      const std::uint64_t used = st.offset - body_start;
      if (used > body_length) {
        return st.bad("FRAME meta beyond its record");
      }
      util::ByteReader r(meta);
      struct Range
      {
        std::uint64_t index, offset, length;
      };
      std::vector<Range> prefix(r.varint_max("prefix count", meta.size()));
      std::uint64_t prefix_total = 0;
      for (Range& p : prefix) {
        p = {r.varint("prefix file"), r.varint("prefix offset"), r.varint("prefix length")};
        if (!r.ok()) {
          break;
        }
        if (auto s = file_index(from, p.index, "FRAME prefix"); !s) {
          return s;
        }
        if (auto s = in_range(from.entries[p.index], p.offset, p.length); !s) {
          return s;
        }
        prefix_total += p.length;
        if (prefix_total > k_max_frame_prefix) {
          return st.bad("FRAME prefix above the limit of " + std::to_string(k_max_frame_prefix));
        }
      }
      std::vector<Range> outputs(r.varint_max("output count", meta.size()));
      std::uint64_t output_total = 0;
      for (Range& o : outputs) {
        o = {r.varint("output file"), 0, r.varint("output length")};
        if (!r.ok()) {
          break;
        }
        if (auto s = file_index(to, o.index, "FRAME output"); !s) {
          return s;
        }
        if (o.length == 0 || o.length > to.entries[o.index].size) {
          return st.bad("FRAME output of " + std::to_string(o.length) + " bytes for " +
                        shown(o.index));
        }
        output_total += o.length;
        if (output_total > k_max_frame_output) {
          return st.bad("FRAME output above the limit of " + std::to_string(k_max_frame_output));
        }
      }
      if (r.ok() && !r.at_end()) {
        r.fail("trailing bytes");
      }
      if (!r.ok()) {
        return st.bad("FRAME: " + r.error());
      }
      if (outputs.empty()) {
        return st.bad("FRAME with no output");
      }

      std::vector<std::uint8_t> joined;
      std::span<const std::uint8_t> base_view;
      if (prefix.size() == 1) {
        auto base = target.base(prefix[0].index);
        if (!base) {
          return base.error();
        }
        base_view = base->subspan(prefix[0].offset, prefix[0].length);
      } else {
        joined.reserve(prefix_total);
        for (const Range& p : prefix) {
          auto base = target.base(p.index);
          if (!base) {
            return base.error();
          }
          const auto part = base->subspan(p.offset, p.length);
          joined.insert(joined.end(), part.begin(), part.end());
        }
        base_view = joined;
      }
      if (base_view.empty()) {
        decompressor.begin();
      } else {
        decompressor.begin_patch(base_view);
      }

      // Output is dealt out to the outputs in order; more than they take is
      // an error at once, so a bomb never gets far.
      std::size_t out_at = 0;
      std::uint64_t out_done = 0;
      const util::ByteSink sink = [&](std::span<const std::uint8_t> data) -> util::Status {
        while (!data.empty()) {
          if (out_at == outputs.size()) {
            return st.bad("FRAME decodes to more than its " + std::to_string(output_total) +
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
          }
        }
        return {};
      };
      std::uint64_t left = body_length - used;
      bool first = true;
      while (left > 0) {
        auto piece =
          st.take(static_cast<std::size_t>(std::min<std::uint64_t>(left, k_read_buffer)));
        if (!piece) {
          return piece.error();
        }
        if (piece->empty()) {
          return st.bad("truncated in a FRAME record");
        }
        if (first) {
          // The frame must declare its size, and the size must be what the
          // outputs take: the decoder's memory is bounded by it.
          const auto declared = util::zstd_content_size(*piece);
          if (!declared || *declared != output_total) {
            return st.bad("FRAME's zstd header does not declare its " +
                          std::to_string(output_total) + " bytes");
          }
          first = false;
        }
        left -= piece->size();
        if (auto s = decompressor.update(*piece, sink); !s) {
          return s.error().code == util::Errc::data && s.error().message.starts_with("corrupt")
                   ? st.bad("FRAME: " + s.error().message)
                   : s;
        }
      }
      if (out_at != outputs.size() || !decompressor.frame_complete()) {
        return st.bad("FRAME decodes to fewer than its " + std::to_string(output_total) + " bytes");
      }
      if (auto s = st.check_record(); !s) {
        return s;
      }
    } else if (type == RecordType::end) {
      const util::Hash128 before = st.all.digest();
      const std::uint64_t count = st.records;
      auto body = st.body(k_max_small_record);
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
        return st.bad("END: " + r.error());
      }
      if (records != count ||
          (!std::equal(sum.begin(), sum.end(), before.bytes.begin()) && !k_fuzzing)) {
        return st.bad("END: the delta's checksum does not match (corrupt or spliced)");
      }
      if (auto s = st.fill(); !s) {
        return s;
      }
      if (st.pos != st.end) {
        return st.bad("bytes after END");
      }
      break;
    } else {
      return st.bad(std::string("unexpected ") + record_name(st.type) + " record (type " +
                    std::to_string(st.type) + ")");
    }
  }
  if (current != k_none) {
    return st.bad(shown(current) + " ends after " + std::to_string(written) + " of its " +
                  std::to_string(to.entries[current].size) + " bytes");
  }
  if (total != st.header.write_bytes) {
    return st.bad("wrote " + std::to_string(total) + " bytes, the header says " +
                  std::to_string(st.header.write_bytes));
  }
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& e = to.entries[i];
    if (e.type == EntryType::file && e.size > 0 && !held.contains(e.hash) &&
        !produced.contains(e.hash)) {
      return st.bad("no content for " + shown(i));
    }
  }
  return {};
}

} // namespace treecast::core
