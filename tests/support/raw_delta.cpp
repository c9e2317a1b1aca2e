#include "support/raw_delta.hpp"

#include "core/delta_edits.hpp"
#include "util/bytes.hpp"
#include "util/hash.hpp"
#include "util/zstd.hpp"

#include <algorithm>

namespace treecast::test {

RawDelta::RawDelta(const core::Manifest& from, const core::Manifest& to, std::uint64_t write_bytes,
                   std::uint64_t new_files)
  : m_sink([this](std::span<const std::uint8_t> data) {
      m_bytes.insert(m_bytes.end(), data.begin(), data.end());
      return util::Status{};
    }),
    m_writer(m_sink)
{
  core::DeltaHeader h;
  h.channel = to.header.channel;
  h.from_number = from.header.number;
  h.from_id = from.header.number == 0 ? util::Hash128{} : from.id;
  h.to_number = to.header.number;
  h.to_id = to.id;
  h.write_bytes = write_bytes;
  h.new_files = new_files;
  h.level = 3;
  (void)m_writer.start();
  record(core::RecordType::header, core::encode_header(h));
}

void RawDelta::manifest(const core::Manifest& from, const core::Manifest& to,
                        const std::vector<std::string>& written)
{
  std::vector<bool> flags(to.entries.size(), false);
  for (std::size_t i = 0; i < to.entries.size(); ++i) {
    flags[i] = std::find(written.begin(), written.end(), to.entries[i].path) != written.end();
  }
  record(core::RecordType::manifest,
         core::compress_edits(from, core::encode_edits(from, to, flags)));
}

void RawDelta::manifest_raw(const core::Manifest& from, const std::vector<std::uint8_t>& section)
{
  record(core::RecordType::manifest, core::compress_edits(from, section));
}

void RawDelta::record(core::RecordType type, const std::vector<std::uint8_t>& body)
{
  (void)m_writer.record(type, body);
}

void RawDelta::frame(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& outputs,
                     const std::vector<std::uint8_t>& zstd_frame)
{
  util::ByteWriter meta;
  meta.varint(0); // no prefix
  meta.varint(outputs.size());
  std::uint64_t previous = 0;
  for (const auto& [index, length] : outputs) {
    // The index after the previous one, flags clear: a length given,
    // decoded from the frame.
    meta.varint(util::zigzag(static_cast<std::int64_t>(index - previous)) << 2);
    meta.varint(length);
    previous = index;
  }
  util::ByteWriter body;
  body.varint(meta.size());
  body.bytes(meta.data());
  body.bytes(zstd_frame);
  record(core::RecordType::frame, body.data());
}

std::vector<std::uint8_t> RawDelta::finish()
{
  (void)m_writer.end();
  return m_bytes;
}

} // namespace treecast::test
