#pragma once

// Thin RAII wrappers of libzstd: one-shot helpers for small records
// (manifests) and streaming classes for file contents, so that no file is
// ever held whole in memory.

#include "result.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace treecast::util {

using ByteSink = std::function<Status(std::span<const std::uint8_t>)>;

[[nodiscard]] std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> data,
                                                      int level);

// Decompresses one or more frames, refusing output larger than max_size (a
// decompression bomb is an error, not an allocation).
[[nodiscard]] Result<std::vector<std::uint8_t>> zstd_decompress(std::span<const std::uint8_t> data,
                                                                std::size_t max_size);

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

  // Decompresses more input; output goes to sink. Corrupt input is an Errc::data error.
  [[nodiscard]] Status update(std::span<const std::uint8_t> input, const ByteSink& sink);
  // True when the last frame fed in is complete.
  bool frame_complete() const { return m_frame_complete; }

private:
  void* m_dctx;
  std::vector<std::uint8_t> m_out;
  bool m_frame_complete = true;
};

} // namespace treecast::util
