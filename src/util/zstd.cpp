#include "zstd.hpp"

#define ZSTD_STATIC_LINKING_ONLY // ZSTD_c_srcSizeHint, a parameter value only
#include <climits>
#include <zstd.h>

#include <algorithm>
#include <new>
#include <stdexcept>

namespace treecast::util {

namespace {

ZSTD_CCtx* cctx(void* p)
{
  return static_cast<ZSTD_CCtx*>(p);
}

ZSTD_DCtx* dctx(void* p)
{
  return static_cast<ZSTD_DCtx*>(p);
}

} // namespace

std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> data, int level)
{
  std::vector<std::uint8_t> out(ZSTD_compressBound(data.size()));
  const std::size_t n = ZSTD_compress(out.data(), out.size(), data.data(), data.size(), level);
  if (ZSTD_isError(n)) {
    throw std::logic_error(std::string("zstd: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

Result<std::vector<std::uint8_t>> zstd_decompress(std::span<const std::uint8_t> data,
                                                  std::size_t max_size)
{
  std::vector<std::uint8_t> out;
  // One allocation when the frame says its size (treecast's records do), up
  // to a bound: the size is the input's word, and a lie must not cost
  // memory before the content proves it.
  constexpr unsigned long long k_max_reserve = 16 << 20;
  const unsigned long long declared = ZSTD_getFrameContentSize(data.data(), data.size());
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != ZSTD_CONTENTSIZE_ERROR) {
    out.reserve(
      static_cast<std::size_t>(std::min<unsigned long long>({declared, max_size, k_max_reserve})));
  }
  ZstdDecompressor decompressor;
  auto status = decompressor.update(data, [&](std::span<const std::uint8_t> chunk) -> Status {
    if (out.size() + chunk.size() > max_size) {
      return make_error(Errc::data, "decompressed size exceeds the limit of " +
                                      std::to_string(max_size) + " bytes");
    }
    out.insert(out.end(), chunk.begin(), chunk.end());
    return {};
  });
  if (!status) {
    return status.error();
  }
  if (!decompressor.frame_complete()) {
    return make_error(Errc::data, "truncated zstd frame");
  }
  return out;
}

namespace {
constexpr int k_patch_ldm_hash_log = 22;
constexpr int k_patch_ldm_rate_log = 4;
} // namespace

ZstdCompressor::ZstdCompressor(int level) : m_cctx(ZSTD_createCCtx()), m_out(ZSTD_CStreamOutSize())
{
  if (m_cctx == nullptr) {
    throw std::bad_alloc();
  }
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_checksumFlag, 0);
}

void ZstdCompressor::begin(std::uint64_t size_hint, int workers)
{
  ZSTD_CCtx_reset(cctx(m_cctx), ZSTD_reset_session_only);
  // A patch before may have set these: back to the level's defaults.
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_windowLog, 0);
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_enableLongDistanceMatching, 0);
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_ldmHashLog, 0);
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_ldmHashRateLog, 0);
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_searchLog, 0);
  // A hint, unlike a pledged size, may be wrong (a file growing as it is
  // read) without failing the frame.
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_srcSizeHint,
                         static_cast<int>(std::min<std::uint64_t>(size_hint, INT_MAX)));
  // Ignored (an error code) by a libzstd built without threads.
  (void)ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_nbWorkers, workers);
  if (workers > 0) {
    (void)ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_jobSize, 2 << 20);
  }
}

void ZstdCompressor::begin_patch(std::span<const std::uint8_t> base, std::uint64_t size_hint)
{
  begin(size_hint, 0);
  // A window that reaches from the end of the new content back to the start
  // of base, so every part of base can be matched.
  const std::uint64_t reach = base.size() + size_hint;
  int window_log = ZSTD_WINDOWLOG_MIN;
  while (window_log < k_max_patch_window_log && (std::uint64_t{1} << window_log) < reach) {
    ++window_log;
  }
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_windowLog, window_log);
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_enableLongDistanceMatching, 1);
  if (window_log >= 24) {
    // A denser long-distance table than zstd's default for the window
    // (hash log 20, one entry per 2^(window log - 20) positions): on a
    // 15 MB patch against 23 MB of bases, 190 KB instead of 228 KB at
    // level 12, for 0.3 s and 32 MiB of table (tools/bench/delta.sh).
    ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_ldmHashLog, k_patch_ldm_hash_log);
    ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_ldmHashRateLog, k_patch_ldm_rate_log);
  }
  ZSTD_CCtx_refPrefix(cctx(m_cctx), base.data(), base.size());
}

std::optional<std::uint64_t> zstd_content_size(std::span<const std::uint8_t> frame)
{
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size == ZSTD_CONTENTSIZE_ERROR) {
    return std::nullopt;
  }
  return size;
}

void ZstdCompressor::limit_search(int search_log)
{
  ZSTD_CCtx_setParameter(cctx(m_cctx), ZSTD_c_searchLog, search_log);
}

void ZstdCompressor::pledge(std::uint64_t size)
{
  ZSTD_CCtx_setPledgedSrcSize(cctx(m_cctx), size);
}

ZstdCompressor::~ZstdCompressor()
{
  ZSTD_freeCCtx(cctx(m_cctx));
}

Status ZstdCompressor::update(std::span<const std::uint8_t> input, const ByteSink& sink)
{
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer out{m_out.data(), m_out.size(), 0};
    const std::size_t rc = ZSTD_compressStream2(cctx(m_cctx), &out, &in, ZSTD_e_continue);
    if (ZSTD_isError(rc)) {
      return make_error(Errc::data, std::string("zstd compression: ") + ZSTD_getErrorName(rc));
    }
    if (out.pos > 0) {
      if (auto s = sink({m_out.data(), out.pos}); !s) {
        return s;
      }
    }
  }
  return {};
}

Status ZstdCompressor::finish(const ByteSink& sink)
{
  ZSTD_inBuffer in{nullptr, 0, 0};
  for (;;) {
    ZSTD_outBuffer out{m_out.data(), m_out.size(), 0};
    const std::size_t remaining = ZSTD_compressStream2(cctx(m_cctx), &out, &in, ZSTD_e_end);
    if (ZSTD_isError(remaining)) {
      return make_error(Errc::data,
                        std::string("zstd compression: ") + ZSTD_getErrorName(remaining));
    }
    if (out.pos > 0) {
      if (auto s = sink({m_out.data(), out.pos}); !s) {
        return s;
      }
    }
    if (remaining == 0) {
      return {};
    }
  }
}

ZstdDecompressor::ZstdDecompressor() : m_dctx(ZSTD_createDCtx()), m_out(ZSTD_DStreamOutSize())
{
  if (m_dctx == nullptr) {
    throw std::bad_alloc();
  }
  // Bounds the window a frame may ask for (and so the memory it may take).
  ZSTD_DCtx_setParameter(dctx(m_dctx), ZSTD_d_windowLogMax, 27);
}

void ZstdDecompressor::begin_patch(std::span<const std::uint8_t> base)
{
  ZSTD_DCtx_reset(dctx(m_dctx), ZSTD_reset_session_only);
  m_frame_done = false;
  ZSTD_DCtx_setParameter(dctx(m_dctx), ZSTD_d_windowLogMax, k_max_patch_window_log);
  ZSTD_DCtx_refPrefix(dctx(m_dctx), base.data(), base.size());
}

void ZstdDecompressor::begin()
{
  ZSTD_DCtx_reset(dctx(m_dctx), ZSTD_reset_session_only);
  m_frame_done = false;
  // A patch before may have allowed a larger window.
  ZSTD_DCtx_setParameter(dctx(m_dctx), ZSTD_d_windowLogMax, 27);
}

ZstdDecompressor::~ZstdDecompressor()
{
  ZSTD_freeDCtx(dctx(m_dctx));
}

Status ZstdDecompressor::update(std::span<const std::uint8_t> input, const ByteSink& sink)
{
  if (m_one_frame && m_frame_done && !input.empty()) {
    return make_error(Errc::data, "corrupt compressed data: bytes after the end of the frame");
  }
  ZSTD_inBuffer in{input.data(), input.size(), 0};
  // Loop until all input is consumed and the output buffer was not filled
  // (a full buffer means more output may be pending).
  for (;;) {
    ZSTD_outBuffer out{m_out.data(), m_out.size(), 0};
    const std::size_t rc = ZSTD_decompressStream(dctx(m_dctx), &out, &in);
    if (ZSTD_isError(rc)) {
      return make_error(Errc::data,
                        std::string("corrupt compressed data: ") + ZSTD_getErrorName(rc));
    }
    if (out.pos > 0) {
      if (auto s = sink({m_out.data(), out.pos}); !s) {
        return s;
      }
    }
    if (rc == 0) {
      // A frame ended and is fully flushed; another may follow in the input.
      m_frame_complete = true;
      m_frame_done = true;
      if (in.pos == in.size) {
        return {};
      }
      if (m_one_frame) {
        return make_error(Errc::data, "corrupt compressed data: bytes after the end of the frame");
      }
      continue;
    }
    m_frame_complete = false;
    if (in.pos == in.size && out.pos < out.size) {
      return {};
    }
  }
}

} // namespace treecast::util
