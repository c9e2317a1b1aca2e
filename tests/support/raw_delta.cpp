#include "support/raw_delta.hpp"

#include "core/delta_edits.hpp"
#include "util/bytes.hpp"
#include "util/hash.hpp"
#include "util/zstd.hpp"

#include <algorithm>

namespace treecast::test {

RawDelta::RawDelta(const core::Manifest& from, const core::Manifest& to, std::uint64_t write_bytes,
                   std::uint64_t new_files)
{
  m_bytes.assign(std::begin(core::k_delta_magic), std::end(core::k_delta_magic));
  m_bytes.push_back(core::k_delta_format);
  util::ByteWriter h;
  h.str(to.header.channel);
  h.varint(from.header.number);
  h.bytes(from.header.number == 0 ? util::Hash128{}.bytes : from.id.bytes);
  h.varint(to.header.number);
  h.bytes(to.id.bytes);
  h.varint(write_bytes);
  h.varint(new_files);
  h.varint(3);
  record(core::RecordType::header, h.data());
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
  util::ByteWriter head;
  head.u8(static_cast<std::uint8_t>(type));
  head.varint(body.size());
  util::Hasher check;
  check.update(head.data());
  check.update(body);
  m_bytes.insert(m_bytes.end(), head.data().begin(), head.data().end());
  m_bytes.insert(m_bytes.end(), body.begin(), body.end());
  const auto sum = check.digest();
  m_bytes.insert(m_bytes.end(), sum.bytes.begin(), sum.bytes.end());
  m_records += 1;
}

void RawDelta::frame(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& outputs,
                     const std::vector<std::uint8_t>& zstd_frame)
{
  util::ByteWriter meta;
  meta.varint(0);
  meta.varint(outputs.size());
  for (const auto& [index, length] : outputs) {
    meta.varint(index);
    meta.varint(length);
    meta.varint(0); // decoded from the frame
  }
  util::ByteWriter body;
  body.varint(meta.size());
  body.bytes(meta.data());
  body.bytes(zstd_frame);
  record(core::RecordType::frame, body.data());
}

std::vector<std::uint8_t> RawDelta::finish()
{
  util::ByteWriter count;
  count.varint(m_records);
  util::ByteWriter head;
  head.u8(static_cast<std::uint8_t>(core::RecordType::end));
  head.varint(count.size() + 16);
  m_bytes.insert(m_bytes.end(), head.data().begin(), head.data().end());
  util::ByteWriter body;
  body.bytes(count.data());
  body.bytes(util::hash_bytes(m_bytes).bytes);
  util::Hasher check;
  check.update(head.data());
  check.update(body.data());
  m_bytes.insert(m_bytes.end(), body.data().begin(), body.data().end());
  const auto sum = check.digest();
  m_bytes.insert(m_bytes.end(), sum.bytes.begin(), sum.bytes.end());
  return m_bytes;
}

} // namespace treecast::test
