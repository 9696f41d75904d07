// Test-side writer of makedumpfile kdump-compressed files, plain or flattened, written
// from the format description (makedumpfile's diskdump_mod.h and README; the layout in
// backends/dump/kdump.h's header comment), field by field with explicit big-endian
// stores. Its offsets are spelled out here on purpose instead of reusing kdump.h's
// constants: the builder is the independent side of the round trip.
//
// Usage:
//   s390b::test::KdumpSpec spec;
//   spec.max_mapnr = 16;
//   spec.pages[3] = {.data = bytes};                       // dumped, zlib if smaller
//   spec.pages[4] = {.excluded = true};                    // exists, bitmap 2 clear
//   spec.cpus.push_back({.state = s390b::test::sample_cpu_state(0)});
//   auto built = s390b::test::build_kdump(spec);           // built.bytes, built.layout
//   auto parts = s390b::test::build_kdump_split(spec, {0, 6, 12});  // a split set of 3
//
// Split sets are built as makedumpfile --split writes them (makedumpfile.c
// writeout_multiple_dumpfiles, diskdump_mod.h): every part the same header and notes and
// the same full bitmaps 1 and 2; the sub-header's split = 1, start_pfn/end_pfn (offsets
// 16/24, truncated to 32 bits) and start_pfn_64/end_pfn_64 (80/88, version 6); the part's
// descriptors only for the dumped pages of its range, from the first descriptor slot.
#pragma once

// Each compression is done with its library directly (not through page_codec.h, the code
// under test); one the build lacks stores its pages raw, which any kdump may do.
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

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <string>
#include <vector>

#include "tests/backends/core_builder.h"
#include "translate/byteorder.h"

namespace s390b::test {

struct KdumpPageSpec {
  std::vector<std::uint8_t> data{};  // 4096 bytes (empty: zeros)
  bool excluded = false;             // bitmap 1 set, bitmap 2 clear
  bool raw = false;                  // store uncompressed even when zlib would be smaller
};

struct KdumpSpec {
  int version = 6;
  std::uint64_t max_mapnr = 16;
  std::map<std::uint64_t, KdumpPageSpec> pages;  // by pfn; pfns absent: no memory
  std::vector<CoreCpuSpec> cpus;
  std::optional<std::string> vmcoreinfo;  // in the sub-header (version >= 3)
  bool compress = true;                   // compressed pages (where smaller), status says which
  std::uint32_t compression = 0x1;        // 0x1 zlib, 0x2 lzo, 0x4 snappy, 0x20 zstd
  // Incomplete: only the first `written_pages` dumped pages have data and descriptors;
  // the rest of the descriptors stay zero and the file ends after the last written data.
  std::optional<std::size_t> written_pages;
  bool flattened = false;
  std::uint32_t status_extra = 0;
  // A part of a split set holding the pages of [first, second).
  std::optional<std::pair<std::uint64_t, std::uint64_t>> split;
};

struct KdumpLayout {
  std::uint64_t sub_header = 0x1000;
  std::uint64_t notes = 0, notes_size = 0;
  std::uint64_t vmcoreinfo = 0;
  std::uint64_t bitmap1 = 0, bitmap2 = 0, descs = 0, data = 0;
  std::uint32_t sub_hdr_size = 0, bitmap_blocks = 0;
  std::vector<std::uint64_t> desc_of;  // descriptor offset per dumped page, in pfn order
};

struct BuiltKdump {
  std::vector<std::uint8_t> bytes;  // plain, or the flattened stream
  std::vector<std::uint8_t> plain;  // always the plain file (same as bytes unless flattened)
  KdumpLayout layout;
};

inline std::vector<std::uint8_t> kdump_page_bytes(unsigned seed, bool compressible) {
  std::vector<std::uint8_t> v(4096);
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < v.size(); ++i) {
    x = x * 1103515245u + 12345u;
    v[i] = compressible ? static_cast<std::uint8_t>((i / 64 + seed) & 0xff) : static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

// Compresses one page as makedumpfile does for `flag`; false when this build lacks it.
inline bool kdump_compress(std::uint32_t flag, const std::vector<std::uint8_t>& page, std::vector<std::uint8_t>& out) {
  switch (flag) {
#if S390B_HAVE_ZLIB
    case 0x1: {
      uLongf len = compressBound(static_cast<uLong>(page.size()));
      out.resize(len);
      if (compress2(out.data(), &len, page.data(), page.size(), Z_BEST_SPEED) != Z_OK) return false;
      out.resize(len);
      return true;
    }
#endif
#if S390B_HAVE_LZO
    case 0x2: {
      if (lzo_init() != LZO_E_OK) return false;
      std::vector<std::uint8_t> work(LZO1X_1_MEM_COMPRESS);
      out.resize(page.size() + page.size() / 16 + 67);
      lzo_uint len = out.size();
      if (lzo1x_1_compress(page.data(), page.size(), out.data(), &len, work.data()) != LZO_E_OK) return false;
      out.resize(len);
      return true;
    }
#endif
#if S390B_HAVE_SNAPPY
    case 0x4: {
      std::size_t len = snappy_max_compressed_length(page.size());
      out.resize(len);
      if (snappy_compress(reinterpret_cast<const char*>(page.data()), page.size(), reinterpret_cast<char*>(out.data()),
                          &len) != SNAPPY_OK)
        return false;
      out.resize(len);
      return true;
    }
#endif
#if S390B_HAVE_ZSTD
    case 0x20: {
      out.resize(ZSTD_compressBound(page.size()));
      const std::size_t len = ZSTD_compress(out.data(), out.size(), page.data(), page.size(), 1);
      if (ZSTD_isError(len)) return false;
      out.resize(len);
      return true;
    }
#endif
    default: return false;
  }
}

// The dump most tests start from: pages 0-3 dumped (1 and 3 compressible), 4 excluded,
// 5-7 and 9 dumped, 8 and 10-15 no memory; two CPUs; VMCOREINFO in the sub-header.
inline KdumpSpec sample_kdump_spec() {
  KdumpSpec spec;
  spec.max_mapnr = 16;
  for (std::uint64_t pfn : {0, 1, 2, 3, 5, 6, 7, 9}) spec.pages[pfn] = {.data = kdump_page_bytes(unsigned(pfn), pfn % 2 == 1)};
  spec.pages[4] = {.excluded = true};
  spec.cpus.push_back({.state = sample_cpu_state(0)});
  spec.cpus.push_back({.state = sample_cpu_state(1)});
  spec.vmcoreinfo = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\n";
  return spec;
}

inline BuiltKdump build_kdump(const KdumpSpec& spec) {
  constexpr std::uint64_t bs = 4096;
  BuiltKdump out;
  KdumpLayout& L = out.layout;
  std::vector<std::uint8_t>& f = out.plain;
  auto put32 = [&](std::uint64_t off, std::uint32_t v) { store_be32(f.data() + off, v); };
  auto put64 = [&](std::uint64_t off, std::uint64_t v) { store_be64(f.data() + off, v); };
  auto grow = [&](std::uint64_t n) {
    if (f.size() < n) f.resize(n);
  };

  // The note blob: what QEMU copies (the PT_NOTE contents of its ELF dump).
  std::vector<std::uint8_t> notes;
  if (!spec.cpus.empty()) {
    CoreSpec core;
    core.cpus = spec.cpus;
    core.segments.push_back({.guest_addr = 0, .data = std::vector<std::uint8_t>(16)});
    BuiltCore c = build_core(core);
    notes.assign(c.bytes.begin() + static_cast<std::ptrdiff_t>(c.layout.notes_offset),
                 c.bytes.begin() + static_cast<std::ptrdiff_t>(c.layout.notes_offset + c.layout.notes_size));
  }
  const std::string vmci = spec.vmcoreinfo.value_or("");
  L.notes = L.sub_header + 104;
  L.notes_size = notes.size();
  L.vmcoreinfo = L.notes + notes.size();
  const std::uint64_t sub_end = L.vmcoreinfo + vmci.size();
  L.sub_hdr_size = static_cast<std::uint32_t>((sub_end - bs + bs - 1) / bs);
  const std::uint64_t bitmap_bytes = (spec.max_mapnr + 7) / 8;
  const std::uint64_t per_bitmap = (bitmap_bytes + bs - 1) / bs;
  L.bitmap_blocks = static_cast<std::uint32_t>(2 * per_bitmap);
  L.bitmap1 = (1 + L.sub_hdr_size) * bs;
  L.bitmap2 = L.bitmap1 + per_bitmap * bs;
  L.descs = L.bitmap1 + L.bitmap_blocks * bs;
  auto in_part = [&](std::uint64_t pfn) { return !spec.split || (pfn >= spec.split->first && pfn < spec.split->second); };
  std::size_t dumped = 0;
  for (const auto& [pfn, p] : spec.pages) dumped += !p.excluded && in_part(pfn);
  L.data = L.descs + dumped * 24;
  grow(L.data);

  // Header (block 0).
  std::copy_n("KDUMP   ", 8, f.begin());
  put32(8, static_cast<std::uint32_t>(spec.version));
  const std::string machine = "s390x", release = "6.1.0-test";
  std::copy(release.begin(), release.end(), f.begin() + 12 + 2 * 65);
  std::copy(machine.begin(), machine.end(), f.begin() + 12 + 4 * 65);
  std::uint32_t status = spec.compress ? spec.compression : 0;
  if (spec.written_pages) status |= 0x8;
  put32(424, status | spec.status_extra);
  put32(428, static_cast<std::uint32_t>(bs));
  put32(432, L.sub_hdr_size);
  put32(436, L.bitmap_blocks);
  put32(440, static_cast<std::uint32_t>(std::min<std::uint64_t>(spec.max_mapnr, 0xffffffffu)));
  put32(460, static_cast<std::uint32_t>(spec.cpus.size()));

  // Sub-header and what follows it.
  const std::uint64_t s = L.sub_header;
  if (spec.version >= 3 && !vmci.empty()) {
    put64(s + 32, L.vmcoreinfo);
    put64(s + 40, vmci.size());
    std::copy(vmci.begin(), vmci.end(), f.begin() + static_cast<std::ptrdiff_t>(L.vmcoreinfo));
  }
  if (spec.version >= 4 && !notes.empty()) {
    put64(s + 48, L.notes);
    put64(s + 56, notes.size());
    std::copy(notes.begin(), notes.end(), f.begin() + static_cast<std::ptrdiff_t>(L.notes));
  }
  if (spec.version >= 6) put64(s + 96, spec.max_mapnr);
  if (spec.split && spec.version >= 2) {
    put32(s + 12, 1);
    put64(s + 16, static_cast<std::uint32_t>(spec.split->first));
    put64(s + 24, static_cast<std::uint32_t>(spec.split->second));
    if (spec.version >= 6) {
      put64(s + 80, spec.split->first);
      put64(s + 88, spec.split->second);
    }
  }

  // Bitmaps, descriptors, data.
  std::uint64_t data_at = L.data;
  std::size_t index = 0;
  for (const auto& [pfn, p] : spec.pages) {
    f[L.bitmap1 + pfn / 8] |= static_cast<std::uint8_t>(1u << (pfn % 8));
    if (p.excluded) continue;
    f[L.bitmap2 + pfn / 8] |= static_cast<std::uint8_t>(1u << (pfn % 8));
    if (!in_part(pfn)) continue;  // another part's page: in the bitmaps only
    const std::uint64_t desc = L.descs + index * 24;
    L.desc_of.push_back(desc);
    const bool written = !spec.written_pages || index < *spec.written_pages;
    ++index;
    if (!written) continue;
    std::vector<std::uint8_t> page = p.data.empty() ? std::vector<std::uint8_t>(4096) : p.data;
    std::vector<std::uint8_t> stored = page;
    std::uint32_t flags = 0;
    if (spec.compress && !p.raw) {
      std::vector<std::uint8_t> z;
      if (kdump_compress(spec.compression, page, z) && z.size() < page.size()) {
        stored = std::move(z);
        flags = spec.compression;
      }
    }
    grow(data_at + stored.size());
    std::copy(stored.begin(), stored.end(), f.begin() + static_cast<std::ptrdiff_t>(data_at));
    put64(desc, data_at);
    put32(desc + 8, static_cast<std::uint32_t>(stored.size()));
    put32(desc + 12, flags);
    data_at += stored.size();
  }

  if (!spec.flattened) {
    out.bytes = f;
    return out;
  }
  // Flattened: the header block, the sub-header blocks and the bitmaps as records, then
  // each page's descriptor and data as two records, interleaved as QEMU's caches flush
  // them (so not in file order), then the end marker.
  std::vector<std::uint8_t>& w = out.bytes;
  w.assign(4096, 0);
  std::copy_n("makedumpfile", 12, w.begin());
  store_be64(w.data() + 16, 1);
  store_be64(w.data() + 24, 1);
  auto record = [&](std::uint64_t off, std::uint64_t len) {
    const std::size_t at = w.size();
    w.resize(at + 16 + len);
    store_be64(w.data() + at, off);
    store_be64(w.data() + at + 8, len);
    std::copy_n(f.begin() + static_cast<std::ptrdiff_t>(off), len, w.begin() + static_cast<std::ptrdiff_t>(at + 16));
  };
  record(0, 464);
  record(bs, sub_end - bs);
  record(L.bitmap1, L.bitmap_blocks * bs);
  std::uint64_t data_off = L.data;
  for (std::size_t i = 0; i < L.desc_of.size(); ++i) {
    const std::uint64_t desc = L.desc_of[i];
    const std::uint64_t len = load_be32(f.data() + desc + 8);
    if (load_be64(f.data() + desc) != 0) {
      record(data_off, len);
      data_off += len;
    }
    record(desc, 24);
  }
  const std::size_t at = w.size();
  w.resize(at + 16);
  store_be64(w.data() + at, ~std::uint64_t{0});
  store_be64(w.data() + at + 8, ~std::uint64_t{0});
  return out;
}

// A split set: part k holds [starts[k], starts[k + 1]) (the last up to max_mapnr).
inline std::vector<BuiltKdump> build_kdump_split(const KdumpSpec& spec, const std::vector<std::uint64_t>& starts) {
  std::vector<BuiltKdump> parts;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    KdumpSpec part = spec;
    part.split = std::pair{starts[k], k + 1 < starts.size() ? starts[k + 1] : spec.max_mapnr};
    parts.push_back(build_kdump(part));
  }
  return parts;
}

}  // namespace s390b::test
