#pragma once

// Thin RAII wrappers of libzstd: one-shot helpers for small records
// (manifests) and streaming classes for file contents, so that no file is
// ever held whole in memory.

#include "result.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace treecast::util {

using ByteSink = std::function<Status(std::span<const std::uint8_t>)>;

// The largest window a patch uses (log2: 256 MiB); base and new content
// beyond it are not matched against each other.
inline constexpr int k_max_patch_window_log = 28;

[[nodiscard]] std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> data,
                                                      int level);

// Decompresses one or more frames, refusing output larger than max_size (a
// decompression bomb is an error, not an allocation).
[[nodiscard]] Result<std::vector<std::uint8_t>> zstd_decompress(std::span<const std::uint8_t> data,
                                                                std::size_t max_size);

// The content size a frame's header declares, from the frame's first bytes
// (at least 18 of them, or the whole frame); nullopt when the header is
// incomplete, corrupt or does not declare it.
[[nodiscard]] std::optional<std::uint64_t> zstd_content_size(std::span<const std::uint8_t> frame);

class ZstdCompressor
{
public:
  explicit ZstdCompressor(int level);
  ~ZstdCompressor();
  ZstdCompressor(const ZstdCompressor&) = delete;
  ZstdCompressor& operator=(const ZstdCompressor&) = delete;

  // Starts a new frame, keeping the context's tables (cheap for many small
  // inputs). size_hint: the expected input size, so zstd sizes its tables to
  // the input; workers > 0 compresses on libzstd's own threads, in jobs of
  // 2 MiB so memory stays bounded.
  void begin(std::uint64_t size_hint, int workers = 0);
  // Starts a new frame that is a patch: the new content compressed against
  // base, which a decoder must hold too (ZstdDecompressor::begin_patch).
  // Long-distance matching, and a window that covers base and the new
  // content up to k_max_patch_window. base must stay valid until finish().
  void begin_patch(std::span<const std::uint8_t> base, std::uint64_t size_hint);
  // Caps how many candidate matches the strong strategies compare per
  // position (log2), for the frame begun: fewer is faster.
  void limit_search(int search_log);
  // Promises that the frame begun holds exactly size bytes: the size is
  // written in the frame header, so a decoder can bound its memory by it.
  void pledge(std::uint64_t size);
  // Compresses more input; output goes to sink as it is produced.
  [[nodiscard]] Status update(std::span<const std::uint8_t> input, const ByteSink& sink);
  // Ends the frame. The compressor can then be reused for a new frame.
  [[nodiscard]] Status finish(const ByteSink& sink);

private:
  void* m_cctx;
  std::vector<std::uint8_t> m_out;
};

class ZstdDecompressor
{
public:
  ZstdDecompressor();
  ~ZstdDecompressor();
  ZstdDecompressor(const ZstdDecompressor&) = delete;
  ZstdDecompressor& operator=(const ZstdDecompressor&) = delete;

  // The next frame is a patch against base (ZstdCompressor::begin_patch);
  // base must stay valid until that frame is complete. Other frames need
  // no call.
  void begin_patch(std::span<const std::uint8_t> base);
  // The next frame is a plain one: forgets a patch base not used.
  void begin();
  // Decompresses more input; output goes to sink. Corrupt input is an Errc::data error.
  [[nodiscard]] Status update(std::span<const std::uint8_t> input, const ByteSink& sink);
  // True when the last frame fed in is complete.
  bool frame_complete() const { return m_frame_complete; }
  // From the next begin() or begin_patch() on, input after the end of the
  // frame begun (another frame, a skippable one) is an Errc::data error.
  void one_frame_only() { m_one_frame = true; }

private:
  void* m_dctx;
  std::vector<std::uint8_t> m_out;
  bool m_frame_complete = true;
  bool m_one_frame = false;
  bool m_frame_done = false; // since begin(): a frame ended
};

} // namespace treecast::util
