// Reading a delta. Every field is checked before it is used: sizes against
// the format's limits, indexes against the manifests, outputs against the
// sizes of B's files, and every new file against its hash. Nothing here
// touches a tree: the follower's side is a DeltaTarget.

#include "core/delta_edits.hpp"
#include "delta.hpp"
#include "delta_stream.hpp"
#include "util/bytes.hpp"
#include "util/file.hpp"

#include <algorithm>
#include <unordered_set>

namespace treecast::core {

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
  std::uint64_t manifest_at = 0; // the first MANIFEST record, for messages
  for (;;) {
    if (auto s = st.peek(); !s) {
      return s.error();
    }
    if (st.type != static_cast<std::uint8_t>(RecordType::manifest)) {
      break;
    }
    if (compressed.empty()) {
      manifest_at = st.record_at;
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
  // Errors below are the MANIFEST records' (the next record's head is read
  // already): they name where those begin.
  const std::uint64_t next_at = st.record_at;
  st.record_at = manifest_at;
  auto section = decompress_edits(from, compressed, k_max_manifest_section);
  if (!section) {
    return st.bad("MANIFEST: " + section.error().message);
  }
  auto edits = decode_edits(from, *section, st.origin);
  if (!edits) {
    return st.bad(edits.error().message);
  }
  Manifest& to = edits->to;
  if (to.header.number != h.to_number || to.header.channel != h.channel) {
    return st.bad("the manifest it builds is v" + std::to_string(to.header.number) + " of " +
                  to.header.channel + ", not v" + std::to_string(h.to_number) + " of " + h.channel);
  }
  to.id = compute_id(to.entries);
  if (to.id != h.to_id) {
    return st.bad("the manifest it builds is not v" + std::to_string(h.to_number) + " (" +
                  h.to_id.short_hex() + ") of " + h.channel);
  }
  // Where every file's content comes from is known now: refuse a delta
  // that lacks some, or writes what the follower holds, before any file is
  // written.
  std::unordered_set<util::Hash128> held;
  for (const Entry& e : from.entries) {
    if (e.type == EntryType::file) {
      held.insert(e.hash);
    }
  }
  std::unordered_set<util::Hash128> written;
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    const Entry& e = to.entries[i];
    if (edits->written[i] && (held.contains(e.hash) || !written.insert(e.hash).second)) {
      return st.bad("MANIFEST: " + util::quote(e.path) +
                    " is left to the payload, but its content is held already");
    }
  }
  for (const Entry& e : to.entries) {
    if (e.type == EntryType::file && e.size > 0 && !held.contains(e.hash) &&
        !written.contains(e.hash)) {
      return st.bad("MANIFEST: no content for " + util::quote(e.path) +
                    ": neither the version held here nor the payload has it");
    }
  }
  st.record_at = next_at;
  st.written = std::move(edits->written);
  st.have_manifest = true;
  return std::move(to);
}

} // namespace treecast::core
