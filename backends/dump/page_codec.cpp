#include "backends/dump/page_codec.h"

#include <algorithm>

#include <fmt/format.h>

#if S390B_HAVE_ZLIB
#include <zlib.h>
#endif
#if S390B_HAVE_LZO
#include <lzo/lzo1x.h>
#endif
#if S390B_HAVE_SNAPPY
#include <snappy-c.h>
#endif
#if S390B_HAVE_ZSTD
#include <zstd.h>
#endif

#include "backends/dump/kdump.h"

namespace s390b::dump {

std::uint32_t kdump_flag_of(PageCompression c) {
  switch (c) {
    case PageCompression::zlib: return kdump_flag::compressed_zlib;
    case PageCompression::lzo: return kdump_flag::compressed_lzo;
    case PageCompression::snappy: return kdump_flag::compressed_snappy;
    case PageCompression::zstd: return kdump_flag::compressed_zstd;
    case PageCompression::none: break;
  }
  return 0;
}

std::string_view compression_name(PageCompression c) {
  switch (c) {
    case PageCompression::zlib: return "zlib";
    case PageCompression::lzo: return "lzo";
    case PageCompression::snappy: return "snappy";
    case PageCompression::zstd: return "zstd";
    case PageCompression::none: break;
  }
  return "none";
}

bool supported(PageCompression c) {
  switch (c) {
    case PageCompression::none: return true;
    case PageCompression::zlib: return S390B_HAVE_ZLIB != 0;
    case PageCompression::lzo: return S390B_HAVE_LZO != 0;
    case PageCompression::snappy: return S390B_HAVE_SNAPPY != 0;
    case PageCompression::zstd: return S390B_HAVE_ZSTD != 0;
  }
  return false;
}

namespace {

std::string unsupported(PageCompression c) {
  return fmt::format("{}: not supported in this build (the library was not found when it was built)", compression_name(c));
}

std::string wrong_size(PageCompression c, std::size_t got, std::size_t want) {
  return fmt::format("{}: output is {:#x} bytes, not {:#x}", compression_name(c), got, want);
}

#if S390B_HAVE_ZSTD
// One decompression context per thread, reused: ZSTD_decompress would set up a new one
// for every page, which costs more than decompressing the page.
ZSTD_DCtx* zstd_dctx() {
  struct Holder {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    ~Holder() { ZSTD_freeDCtx(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}
#endif

#if S390B_HAVE_LZO
// lzo_init() checks the library against its header once per process; a mismatch makes
// LZO unusable rather than wrong.
bool lzo_ready() {
  static const bool ok = lzo_init() == LZO_E_OK;
  return ok;
}
#endif

}  // namespace

tl::expected<void, std::string> decompress_page(PageCompression c, std::span<const std::uint8_t> in,
                                                std::span<std::uint8_t> out) {
  switch (c) {
    case PageCompression::none:
      if (in.size() != out.size()) return tl::unexpected(wrong_size(c, in.size(), out.size()));
      std::copy(in.begin(), in.end(), out.begin());
      return {};
    case PageCompression::zlib: {
#if S390B_HAVE_ZLIB
      uLongf len = static_cast<uLongf>(out.size());
      const int rc = ::uncompress(out.data(), &len, in.data(), static_cast<uLong>(in.size()));
      if (rc != Z_OK) return tl::unexpected(fmt::format("zlib: {} ({})", zError(rc), rc));
      if (len != out.size()) return tl::unexpected(wrong_size(c, len, out.size()));
      return {};
#else
      break;
#endif
    }
    case PageCompression::lzo: {
#if S390B_HAVE_LZO
      if (!lzo_ready()) return tl::unexpected(std::string("lzo: lzo_init failed (library and header differ)"));
      lzo_uint len = out.size();
      const int rc = lzo1x_decompress_safe(in.data(), in.size(), out.data(), &len, nullptr);
      if (rc != LZO_E_OK) return tl::unexpected(fmt::format("lzo: lzo1x_decompress_safe error {}", rc));
      if (len != out.size()) return tl::unexpected(wrong_size(c, len, out.size()));
      return {};
#else
      break;
#endif
    }
    case PageCompression::snappy: {
#if S390B_HAVE_SNAPPY
      const auto* src = reinterpret_cast<const char*>(in.data());
      std::size_t len = 0;
      if (snappy_uncompressed_length(src, in.size(), &len) != SNAPPY_OK)
        return tl::unexpected(std::string("snappy: no valid length at the start of the data"));
      if (len != out.size()) return tl::unexpected(wrong_size(c, len, out.size()));
      if (snappy_uncompress(src, in.size(), reinterpret_cast<char*>(out.data()), &len) != SNAPPY_OK)
        return tl::unexpected(std::string("snappy: invalid data"));
      return {};
#else
      break;
#endif
    }
    case PageCompression::zstd: {
#if S390B_HAVE_ZSTD
      ZSTD_DCtx* ctx = zstd_dctx();
      if (ctx == nullptr) return tl::unexpected(std::string("zstd: cannot create a decompression context"));
      const std::size_t len = ZSTD_decompressDCtx(ctx, out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(len)) return tl::unexpected(fmt::format("zstd: {}", ZSTD_getErrorName(len)));
      if (len != out.size()) return tl::unexpected(wrong_size(c, len, out.size()));
      return {};
#else
      break;
#endif
    }
  }
  return tl::unexpected(unsupported(c));
}

PageCompressor::PageCompressor(PageCompression c) : c_(c) {
#if S390B_HAVE_LZO
  if (c_ == PageCompression::lzo) work_.resize(LZO1X_1_MEM_COMPRESS);
#endif
#if S390B_HAVE_ZSTD
  if (c_ == PageCompression::zstd) zstd_ = ZSTD_createCCtx();
#endif
}

PageCompressor::~PageCompressor() {
#if S390B_HAVE_ZSTD
  ZSTD_freeCCtx(static_cast<ZSTD_CCtx*>(zstd_));
#endif
}

bool PageCompressor::compress(std::span<const std::uint8_t> page, std::vector<std::uint8_t>& out) {
  switch (c_) {
    case PageCompression::none: return false;
    case PageCompression::zlib: {
#if S390B_HAVE_ZLIB
      uLongf len = compressBound(static_cast<uLong>(page.size()));
      out.resize(len);
      // Z_BEST_SPEED, as makedumpfile -c.
      if (compress2(out.data(), &len, page.data(), static_cast<uLong>(page.size()), Z_BEST_SPEED) != Z_OK) return false;
      out.resize(len);
      return len < page.size();
#else
      return false;
#endif
    }
    case PageCompression::lzo: {
#if S390B_HAVE_LZO
      if (!lzo_ready()) return false;
      // LZO1X's worst case: the input grows by size/16 + 64 + 3.
      out.resize(page.size() + page.size() / 16 + 64 + 3);
      lzo_uint len = out.size();
      if (lzo1x_1_compress(page.data(), page.size(), out.data(), &len, work_.data()) != LZO_E_OK) return false;
      out.resize(len);
      return len < page.size();
#else
      return false;
#endif
    }
    case PageCompression::snappy: {
#if S390B_HAVE_SNAPPY
      std::size_t len = snappy_max_compressed_length(page.size());
      out.resize(len);
      if (snappy_compress(reinterpret_cast<const char*>(page.data()), page.size(), reinterpret_cast<char*>(out.data()),
                          &len) != SNAPPY_OK)
        return false;
      out.resize(len);
      if (len >= page.size()) return false;
      // Debian 12's snappy (1.1.9) compresses some pages wrongly on big-endian hosts (the
      // s390x test stage found pages that decompress to other bytes, with any reader).
      // A page is stored compressed only when it decompresses back to itself; otherwise
      // raw, which every reader takes. Decompressing a page costs about a microsecond.
      work_.resize(page.size());
      std::size_t back = work_.size();
      return snappy_uncompress(reinterpret_cast<const char*>(out.data()), len, reinterpret_cast<char*>(work_.data()),
                               &back) == SNAPPY_OK &&
             back == page.size() && std::equal(page.begin(), page.end(), work_.begin());
#else
      return false;
#endif
    }
    case PageCompression::zstd: {
#if S390B_HAVE_ZSTD
      if (zstd_ == nullptr) return false;
      out.resize(ZSTD_compressBound(page.size()));
      // Level 1, as makedumpfile -z.
      const std::size_t len =
          ZSTD_compressCCtx(static_cast<ZSTD_CCtx*>(zstd_), out.data(), out.size(), page.data(), page.size(), 1);
      if (ZSTD_isError(len)) return false;
      out.resize(len);
      return len < page.size();
#else
      return false;
#endif
    }
  }
  return false;
}

}  // namespace s390b::dump
