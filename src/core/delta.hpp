#pragma once

// Making a delta from version A to version B of a channel, and reading one.
// The layout is in delta_format.hpp and man/treecast-formats.5 (DELTA).
//
// Making: content B shares with A costs nothing but its manifest entry (the
// follower finds it in A by hash). New content is encoded, in B's path
// order:
//   - small files, several to a zstd frame whose prefix is their bases
//     joined, so per-frame overhead and what similar files share are paid
//     once;
//   - larger files, one frame each, against their whole base (a window that
//     covers it, long-distance matching);
//   - files beyond k_single_frame_file, or with a base beyond
//     k_single_frame_base, cut into content-defined chunks: chunks found in
//     the base are copied from it, runs of new chunks are patched against
//     the part of the base between the copies around them.
// Already-compressed files (by name) get frames of their own at level 1.
// Frames are compressed on the executor's threads and written in plan
// order, so the same A, B and options give the same bytes.

#include "core/delta_format.hpp"
#include "core/manifest.hpp"
#include "core/store.hpp"
#include "util/executor.hpp"
#include "util/zstd.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

namespace treecast::core {

struct DeltaOptions
{
  // The zstd level of every frame; 0 (the default) chooses per frame by
  // size, as measured with tools/bench/delta.sh (delta_write.cpp).
  int level = 0;
};

struct DeltaReport
{
  DeltaHeader header;
  std::uint64_t delta_bytes = 0;
  std::uint64_t copied_bytes = 0; // content copied from A within changed files
  std::size_t frames = 0;
  std::size_t copies = 0;
};

// Writes the delta from `from` to `to` to out. `from` may be an empty
// manifest (number 0): a delta that builds B from nothing.
[[nodiscard]] util::Result<DeltaReport> make_delta(const Store& store, const Manifest& from,
                                                   const Manifest& to, const DeltaOptions& options,
                                                   util::Executor& executor,
                                                   const util::ByteSink& out);

// What applying a delta needs from the follower: the content of A's files,
// and somewhere to write B's new ones.
class DeltaTarget
{
public:
  virtual ~DeltaTarget() = default;
  // Bytes [offset, offset + length) of file from_index of A (the range is
  // within its size). The view must stay valid until the next call.
  [[nodiscard]] virtual util::Result<std::span<const std::uint8_t>> base(std::size_t from_index,
                                                                         std::uint64_t offset,
                                                                         std::uint64_t length) = 0;
  // A new file of B (to_index) starts; its bytes follow through write().
  [[nodiscard]] virtual util::Status begin_file(std::size_t to_index) = 0;
  [[nodiscard]] virtual util::Status write(std::span<const std::uint8_t> data) = 0;
  // The file is complete and its hash checked.
  [[nodiscard]] virtual util::Status end_file(std::size_t to_index) = 0;
};

// Reads a delta from a stream, checking every record as it arrives.
class DeltaReader
{
public:
  // Reads up to buffer.size() bytes into buffer; 0 at the end.
  using Source = std::function<util::Result<std::size_t>(std::span<std::uint8_t>)>;

  // origin names the delta in messages (a file path, a peer).
  DeltaReader(Source source, std::string origin);
  ~DeltaReader();
  DeltaReader(const DeltaReader&) = delete;
  DeltaReader& operator=(const DeltaReader&) = delete;

  // Reads the magic and the HEADER record.
  [[nodiscard]] util::Result<DeltaHeader> read_header();
  // Reads the MANIFEST records and builds B from A (which must be the
  // header's from version), checking B's id.
  [[nodiscard]] util::Result<Manifest> read_manifest(const Manifest& from);
  // Reads the payload and END, writing the new files of B to target. When
  // it returns success, each was written once and matched its hash, every
  // file of B has content (in A or written), and the whole delta's
  // checksum held.
  [[nodiscard]] util::Status read_payload(const Manifest& from, const Manifest& to,
                                          DeltaTarget& target);

  struct State; // the record stream (delta_stream.hpp)

private:
  std::unique_ptr<State> m_state;
};

} // namespace treecast::core

namespace treecast::core {

// Deltas the store has made, kept under STORE/deltas/ and named by the two
// version ids and the options, so a repeated request costs a file read; gc
// removes those whose versions are gone.
[[nodiscard]] std::string delta_cache_name(const Manifest& from, const Manifest& to,
                                           const DeltaOptions& options);

struct CachedDelta
{
  std::string path;   // the delta, in the store's cache
  bool made = false;  // false: it was in the cache already
  DeltaReport report; // when made; otherwise its header only
};

// The delta from `from` to `to`, from the cache or made and cached.
[[nodiscard]] util::Result<CachedDelta> cached_delta(const Store& store, const Manifest& from,
                                                     const Manifest& to,
                                                     const DeltaOptions& options,
                                                     util::Executor& executor);

// Opens a delta file for reading; the reader's source reads it.
[[nodiscard]] util::Result<DeltaReader::Source> file_source(util::Fd& fd);

} // namespace treecast::core
