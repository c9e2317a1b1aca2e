#pragma once

// Deltas built record by record, for tests that need what treecast's own
// encoder never writes: hostile manifests, lying frames, bombs. The layout
// is man/treecast-formats.5, DELTA.

#include "core/delta_encode.hpp"
#include "core/delta_format.hpp"
#include "core/manifest.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace treecast::test {

class RawDelta
{
public:
  RawDelta(const RawDelta&) = delete; // m_writer refers to m_sink
  RawDelta& operator=(const RawDelta&) = delete;
  // Starts with the magic and a HEADER from `from` to `to` (to's header and
  // id as given, not recomputed).
  RawDelta(const core::Manifest& from, const core::Manifest& to, std::uint64_t write_bytes,
           std::uint64_t new_files);

  // MANIFEST: from A to `to` as given (no validation: duplicate, unsorted or
  // hostile entries are encoded as they are), the files at the paths in
  // written left to the payload.
  void manifest(const core::Manifest& from, const core::Manifest& to,
                const std::vector<std::string>& written = {});
  // MANIFEST: a section written by hand (delta_edits.hpp), compressed as
  // the encoder does.
  void manifest_raw(const core::Manifest& from, const std::vector<std::uint8_t>& section);
  // A record of any type with this body.
  void record(core::RecordType type, const std::vector<std::uint8_t>& body);
  // FRAME: no prefix, the outputs (B index, length), and these frame bytes.
  void frame(const std::vector<std::pair<std::uint64_t, std::uint64_t>>& outputs,
             const std::vector<std::uint8_t>& zstd_frame);
  // END, with the right count and checksum; returns the whole delta.
  std::vector<std::uint8_t> finish();

private:
  std::vector<std::uint8_t> m_bytes;
  util::ByteSink m_sink;       // appends to m_bytes
  core::RecordWriter m_writer; // the encoder's own framing, over m_sink
};

} // namespace treecast::test
