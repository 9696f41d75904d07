// The page compressions of makedumpfile's kdump-compressed format (diskdump_mod.h:
// DUMP_DH_COMPRESSED_ZLIB, _LZO, _SNAPPY, _ZSTD), one page at a time, for the reader
// (kdump.h) and the writer (kdump_writer.h). Each page is compressed on its own:
// zlib's compress2/uncompress stream, LZO1X-1 (lzo1x_decompress_safe), snappy's raw
// format, one zstd frame. The libraries are found by the build (backends/CMakeLists.txt);
// one the build lacks makes its compression unsupported (`supported()` says so, both
// directions fail with a message naming it) instead of failing the build.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

namespace s390b::dump {

enum class PageCompression : std::uint8_t { none, zlib, lzo, snappy, zstd };

// The page-descriptor / header-status flag of a compression (0 for none).
std::uint32_t kdump_flag_of(PageCompression c);
// "zlib", "lzo", "snappy", "zstd", "none".
std::string_view compression_name(PageCompression c);
// Whether this build can compress and decompress `c` (none: always).
bool supported(PageCompression c);

// Decompresses `in` into exactly `out.size()` bytes. The error says what went wrong
// ("zlib: data error", "lzo: output is 0x800 bytes, not 0x1000").
tl::expected<void, std::string> decompress_page(PageCompression c, std::span<const std::uint8_t> in,
                                                std::span<std::uint8_t> out);

// Reusable scratch state for compress_page (LZO's work memory, zstd's context).
class PageCompressor {
 public:
  explicit PageCompressor(PageCompression c);
  ~PageCompressor();
  PageCompressor(const PageCompressor&) = delete;
  PageCompressor& operator=(const PageCompressor&) = delete;

  PageCompression compression() const { return c_; }
  // Compresses `page` into `out` (resized to the result). Returns false when the result
  // would not be smaller than the page (makedumpfile then stores the page raw), the
  // compression is unsupported in this build, or (snappy) the result does not decompress
  // back to the page: the caller then stores the page raw.
  bool compress(std::span<const std::uint8_t> page, std::vector<std::uint8_t>& out);

 private:
  PageCompression c_;
  std::vector<std::uint8_t> work_;  // LZO1X-1 work memory; snappy: the page decompressed back
  void* zstd_ = nullptr;            // ZSTD_CCtx*
};

}  // namespace s390b::dump
