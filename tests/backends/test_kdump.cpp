// The kdump-compressed reader (backends/dump/kdump.h, byte_source.h) and its loader path
// (dump::load_core): synthetic files from the test-side writer (kdump_builder.h), plain and
// flattened, zlib and raw pages, excluded pages, incomplete dumps, header versions 1-6,
// every header field corrupted, the bounded page cache, and the ENODATA error path.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "access/memory_access.h"
#include "backends/dump/byte_source.h"
#include "backends/dump/kdump.h"
#include "backends/dump/load_core.h"
#include "tests/backends/kdump_builder.h"
#include "tests/backends/dump_compare.h"
#include "tests/backends/temp_dir.h"
#include "translate/byteorder.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

constexpr bool have_zlib = S390B_HAVE_ZLIB != 0;

struct Compression {
  std::uint32_t flag;
  std::string_view name;
  bool built;  // the library is in this build
};
constexpr Compression compressions[] = {
    {0x1, "zlib", S390B_HAVE_ZLIB != 0},
    {0x2, "lzo", S390B_HAVE_LZO != 0},
    {0x4, "snappy", S390B_HAVE_SNAPPY != 0},
    {0x20, "zstd", S390B_HAVE_ZSTD != 0},
};

constexpr auto sample_spec = t::sample_kdump_spec;

tl::expected<dump::LoadedCore, std::string> load(const t::BuiltKdump& built, t::TempDir& dir,
                                                 const dump::LoadOptions& options = {}) {
  const auto path = dir.path / "guest.kdump";
  t::write_file(path, built.bytes);
  return dump::load_core(path.string(), std::nullopt, options);
}

// Opens `bytes` (plain) with the reader directly; the error text or "".
// `bytes` with the field a corruption case names overwritten (width 4 or 8, big-endian).
template <class Case>
std::vector<std::uint8_t> patched(std::vector<std::uint8_t> bytes, const Case& c) {
  if (c.width == 4) {
    store_be32(bytes.data() + c.offset, static_cast<std::uint32_t>(c.value));
  } else {
    store_be64(bytes.data() + c.offset, c.value);
  }
  return bytes;
}

std::string open_error(const std::vector<std::uint8_t>& bytes) {
  auto r = dump::KdumpReader::open(dump::memory_source(bytes), false);
  return r ? std::string() : r.error();
}

}  // namespace

TEST_CASE("kdump: plain and flattened files read like the guest") {
  for (bool flattened : {false, true}) {
    CAPTURE(flattened);
    t::TempDir dir;
    t::KdumpSpec spec = sample_spec();
    spec.flattened = flattened;
    const t::BuiltKdump built = t::build_kdump(spec);
    auto core = load(built, dir);
    REQUIRE_MESSAGE(core, (core ? "" : core.error()));
    // The header announces zlib; without zlib (the s390x cross build) the writer stores
    // every page raw, which a zlib dump may do for any page.
    CHECK(core->format == std::string("kdump-compressed v6, zlib") + (flattened ? ", flattened" : ""));
    CHECK(core->vmcoreinfo == spec.vmcoreinfo);
    CHECK(core->segment_count == 2);  // pfns 0-7 and 9
    Backend& b = *core->backend;
    REQUIRE(b.cpu_count() == 2);
    for (unsigned c = 0; c < 2; ++c) {
      const CpuState want = t::sample_cpu_state(c);
      const auto got = b.cpu_state(c);
      REQUIRE(got);
      CHECK(got->gprs == want.gprs);
      CHECK(got->psw.addr == want.psw.addr);
      CHECK(got->crs == want.crs);
      CHECK(got->prefix == want.prefix);
    }
    for (std::uint64_t pfn : {0, 1, 2, 3, 5, 6, 7, 9}) {
      CAPTURE(pfn);
      std::vector<std::uint8_t> page(4096);
      const MemopResult r = t::absolute_read(b, pfn * 4096, page);
      REQUIRE(r.ok());
      CHECK(page == spec.pages[pfn].data);
    }
    // Across pages, unaligned.
    std::vector<std::uint8_t> two(100);
    REQUIRE(t::absolute_read(b, 2 * 4096 - 50, two).ok());
    CHECK(std::equal(two.begin(), two.begin() + 50, spec.pages[1].data.end() - 50));
    CHECK(std::equal(two.begin() + 50, two.end(), spec.pages[2].data.begin()));
    // No memory: an addressing exception, as for any hole.
    std::vector<std::uint8_t> hole(8);
    const MemopResult h = t::absolute_read(b, 8 * 4096, hole);
    CHECK(h.is_exception());
    CHECK(h.fault.code == PgmCode::addressing);
  }
}

TEST_CASE("kdump: zlib, lzo, snappy and zstd pages read back as the guest's") {
  for (const Compression& c : compressions) {
    CAPTURE(c.name);
    t::TempDir dir;
    t::KdumpSpec spec = sample_spec();
    spec.compression = c.flag;
    const t::BuiltKdump built = t::build_kdump(spec);
    // The builder compressed the compressible pages (odd pfns) where the library is built.
    std::size_t compressed = 0;
    for (std::uint64_t desc : built.layout.desc_of) compressed += load_be32(built.bytes.data() + desc + 12) == c.flag;
    CHECK(compressed == (c.built ? 5u : 0u));  // pfns 1, 3, 5, 7, 9
    auto core = load(built, dir);
    REQUIRE_MESSAGE(core, (core ? "" : core.error()));
    CHECK(core->format == fmt::format("kdump-compressed v6, {}", c.name));
    for (std::uint64_t pfn : {0, 1, 2, 3, 5, 6, 7, 9}) {
      CAPTURE(pfn);
      std::vector<std::uint8_t> page(4096);
      REQUIRE(t::absolute_read(*core->backend, pfn * 4096, page).ok());
      CHECK(page == spec.pages[pfn].data);
    }
  }
}

TEST_CASE("kdump: a page the dump does not hold is ENODATA with the page named, never zeros") {
  t::TempDir dir;
  const t::BuiltKdump built = t::build_kdump(sample_spec());
  auto core = load(built, dir);
  REQUIRE(core);
  Backend& b = *core->backend;
  std::vector<std::uint8_t> buf(4096);
  const MemopResult r = t::absolute_read(b, 4 * 4096 + 16, std::span(buf).first(16));
  REQUIRE(r.status == MemopResult::Status::host_error);
  CHECK(r.error == HostError::enodata);
  CHECK(r.detail == "page at absolute 0x4000 is not in the dump (excluded by makedumpfile)");
  CHECK(describe_failure(r) == "host error ENODATA: page at absolute 0x4000 is not in the dump (excluded by makedumpfile)");

  SUBCASE("check-only fails the same way, so the first failing page is found") {
    Memop op;
    op.kind = MemopKind::absolute_read;
    op.gaddr = 4 * 4096;
    op.size = 8;
    op.flags = memop_flag::check_only;
    const MemopResult c = b.vm_memop(op);
    CHECK(c.error == HostError::enodata);
  }
  SUBCASE("a read across it returns the pages before it") {
    MemoryAccess access(b);
    std::vector<std::uint8_t> out(3 * 4096);
    const ReadOutcome o = access.read(0, AddressSpace::of(AddressSpace::Kind::absolute), 2 * 4096, out);
    CHECK(o.bytes == 2 * 4096);
    CHECK(o.status.error == HostError::enodata);
    CHECK(o.status.detail == "page at absolute 0x4000 is not in the dump (excluded by makedumpfile)");
    CHECK(std::equal(out.begin(), out.begin() + 4096, sample_spec().pages[2].data.begin()));
  }
  SUBCASE("a write to it is refused before anything is written") {
    std::vector<std::uint8_t> data(16, 0xab);
    Memop op;
    op.kind = MemopKind::absolute_write;
    op.gaddr = 4 * 4096 - 8;
    op.size = 16;
    op.buf = data;
    const MemopResult w = b.vm_memop(op);
    CHECK(w.error == HostError::enodata);
    std::vector<std::uint8_t> before(8);
    REQUIRE(t::absolute_read(b, 4 * 4096 - 8, before).ok());
    CHECK(before != std::vector<std::uint8_t>(8, 0xab));
  }
  SUBCASE("--zero-excluded reads it as zeros") {
    t::TempDir dir2;
    dump::LoadOptions o;
    o.zero_excluded = true;
    auto z = load(built, dir2, o);
    REQUIRE(z);
    std::fill(buf.begin(), buf.end(), 0xff);
    REQUIRE(t::absolute_read(*z->backend, 4 * 4096, buf).ok());
    CHECK(buf == std::vector<std::uint8_t>(4096, 0));
  }
}

TEST_CASE("kdump: an incomplete dump serves what it wrote; the rest is not in the dump") {
  for (bool flattened : {false, true}) {
    CAPTURE(flattened);
    t::TempDir dir;
    t::KdumpSpec spec = sample_spec();
    spec.written_pages = 5;  // pfns 0-3 and 5
    spec.flattened = flattened;
    auto core = load(t::build_kdump(spec), dir);
    REQUIRE_MESSAGE(core, (core ? "" : core.error()));
    CHECK(core->format.find(", incomplete") != std::string::npos);
    std::vector<std::uint8_t> page(4096);
    REQUIRE(t::absolute_read(*core->backend, 5 * 4096, page).ok());
    CHECK(page == spec.pages[5].data);
    const MemopResult r = t::absolute_read(*core->backend, 6 * 4096, page);
    CHECK(r.error == HostError::enodata);
    CHECK(r.detail.starts_with("page at absolute 0x6000 is not in the dump (the dump is incomplete"));
  }
}

TEST_CASE("kdump: header versions 1 to 6") {
  for (int version = 1; version <= 6; ++version) {
    CAPTURE(version);
    t::KdumpSpec spec = sample_spec();
    spec.version = version;
    const t::BuiltKdump built = t::build_kdump(spec);
    auto r = dump::KdumpReader::open(dump::memory_source(built.bytes), false);
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
    CHECK((*r)->info().version == version);
    CHECK((*r)->cpus().size() == (version >= 4 ? 2u : 0u));
    CHECK((*r)->vmcoreinfo().has_value() == (version >= 3));
    std::vector<std::uint8_t> page(4096);
    REQUIRE((*r)->read_page(9, page));
    CHECK(page == spec.pages[9].data);
  }
  SUBCASE("version 6 takes max_mapnr_64 over the 32-bit field") {
    t::KdumpSpec spec = sample_spec();
    t::BuiltKdump built = t::build_kdump(spec);
    store_be32(built.bytes.data() + 440, 3);  // truncated: would cut pfn 9 off
    auto r = dump::KdumpReader::open(dump::memory_source(built.bytes), false);
    REQUIRE(r);
    CHECK((*r)->info().max_mapnr == 16);
  }
  SUBCASE("a version 1 dump has no notes and no VMCOREINFO: load_core says so") {
    t::TempDir dir;
    t::KdumpSpec spec = sample_spec();
    spec.version = 1;
    auto core = load(t::build_kdump(spec), dir);
    REQUIRE(!core);
    CHECK(core.error().find("no CPU notes") != std::string::npos);
    CHECK(core.error().find("no VMCOREINFO") != std::string::npos);
  }
}

// A kdump without notes (header version 3: VMCOREINFO but no note blob) gets its CPUs from
// the lowcores VMCOREINFO's lowcore_ptr lists, registers from their store-status save
// areas (Linux lowcore.h offsets, written here field by field), in both kernel layouts:
// virtual = absolute (before 6.10), and the 6.10 split (IDENTITYBASE, KERNELOFFSET,
// KERNELOFFPHYS).
TEST_CASE("kdump: CPUs of a dump without notes come from the lowcores in VMCOREINFO") {
  for (const bool split_layout : {false, true}) {
    CAPTURE(split_layout);
    const std::uint64_t identity_base = split_layout ? 0x10000000000ull : 0;  // below the image, as in Linux
    const std::uint64_t kernel_offset = split_layout ? 0x3ffe0000000ull : 0;
    const std::uint64_t kernel_off_phys = split_layout ? 0x4000 : 0;
    // pfn 5: lowcore_ptr[4] = {lowcore of 0x8000, 0, lowcore of 0xa000, 0}; prefixes 0x8000
    // (pages 8-9) and 0xa000 (pages 10-11); the symbol is in the kernel image at 0x5000.
    t::KdumpSpec spec;
    spec.version = 3;
    spec.max_mapnr = 16;
    for (std::uint64_t pfn = 0; pfn < 12; ++pfn) spec.pages[pfn] = {.data = std::vector<std::uint8_t>(4096)};
    const std::uint64_t symbol_va = split_layout ? kernel_offset + (0x5000 - kernel_off_phys) : 0x5000;
    store_be64(spec.pages[5].data.data(), identity_base + 0x8000);
    store_be64(spec.pages[5].data.data() + 16, identity_base + 0xa000);
    for (const std::uint64_t prefix : {0x8000u, 0xa000u}) {
      std::uint8_t* sa = spec.pages[prefix / 4096 + 1].data.data() + 0x200;  // prefix + 0x1200
      for (unsigned r = 0; r < 16; ++r) store_be64(sa + 0x80 + 8 * r, prefix + r);      // GPRs at 0x1280
      store_be64(sa + 0x100, 0x0704000180000000ull);                                     // PSW mask at 0x1300
      store_be64(sa + 0x108, 0x100000 + prefix);                                         // PSW address
      store_be32(sa + 0x118, static_cast<std::uint32_t>(prefix));                        // prefix at 0x1318
      store_be64(sa + 0x130, 0x00123456789abcdeull);                                     // CKC >> 8 at 0x1330
      for (unsigned r = 0; r < 16; ++r) store_be64(sa + 0x180 + 8 * r, 0xc0000000u + r);  // CRs at 0x1380
    }
    spec.vmcoreinfo = fmt::format("OSRELEASE=6.1.0-test\nSYMBOL(lowcore_ptr)={:x}\nLENGTH(lowcore_ptr)=4\n", symbol_va);
    if (split_layout)
      *spec.vmcoreinfo += fmt::format("IDENTITYBASE={:x}\nKERNELOFFSET={:x}\nKERNELOFFPHYS={:x}\n", identity_base,
                                      kernel_offset, kernel_off_phys);
    t::TempDir dir;
    auto core = load(t::build_kdump(spec), dir);
    REQUIRE_MESSAGE(core, (core ? "" : core.error()));
    REQUIRE(core->backend->cpu_count() == 2);
    REQUIRE(core->cpu_sources.size() == 2);
    CHECK(core->cpu_sources[0] == "store-status save area at absolute 0x9200 (lowcore_ptr[0] of VMCOREINFO)");
    CHECK(core->cpu_sources[1] == "store-status save area at absolute 0xb200 (lowcore_ptr[2] of VMCOREINFO)");
    for (unsigned c = 0; c < 2; ++c) {
      const std::uint64_t prefix = c == 0 ? 0x8000 : 0xa000;
      const auto st = core->backend->cpu_state(c);
      REQUIRE(st);
      CHECK(st->prefix == prefix);
      CHECK(st->gprs[15] == prefix + 15);
      CHECK(st->psw.addr == 0x100000 + prefix);
      CHECK(st->crs[13] == 0xc000000du);
      CHECK(st->ckc == 0x123456789abcde00ull);  // the save area holds CKC >> 8
    }
    // A lowcore_ptr that points outside the dump: a clear error.
    spec.vmcoreinfo = "SYMBOL(lowcore_ptr)=7fff0000\nLENGTH(lowcore_ptr)=4\n";
    auto bad = load(t::build_kdump(spec), dir);
    REQUIRE(!bad);
    CHECK_MESSAGE(bad.error().find("lowcore_ptr[0] at absolute 0x7fff0000") != std::string::npos, bad.error());
  }
}

TEST_CASE("kdump: every corrupted header field gives an error naming the offset and the field") {
  const t::BuiltKdump good = t::build_kdump(sample_spec());
  REQUIRE(open_error(good.bytes).empty());
  struct Case {
    const char* what;
    std::size_t offset;
    std::uint64_t value;
    int width;  // 4 or 8
    const char* expect;
  };
  const std::uint64_t sub = 0x1000;
  const Case cases[] = {
      {"signature", 0, 0x58585858, 4, "kdump header at 0x0: signature"},
      {"version 0", 8, 0, 4, "header_version 0 at 0x8 (must be 1..6)"},
      {"version 7", 8, 7, 4, "header_version 7 at 0x8 (must be 1..6)"},
      {"little-endian", 8, 0x06000000, 4, "is little-endian (6): not an s390x"},
      {"block_size 0", 428, 0, 4, "kdump header at 0x0: block_size 0 at 0x1ac (must be a power of two 512..65536)"},
      {"block_size 3000", 428, 3000, 4, "block_size 3000 at 0x1ac (must be a power of two"},
      {"block_size 8192", 428, 8192, 4, "block_size 8192 at 0x1ac: s390x pages are 4096 bytes"},
      {"sub_hdr_size 0", 432, 0, 4, "sub_hdr_size 0 at 0x1b0 (must be at least 1 block)"},
      {"sub_hdr_size huge", 432, 0x7fffffff, 4, "beyond the end of the file"},
      {"bitmap_blocks 0", 436, 0, 4, "bitmap_blocks 0 at 0x1b4"},
      {"max_mapnr_64 huge", sub + 96, std::uint64_t{1} << 41, 8, "max_mapnr_64 0x20000000000 at 0x1060 (must be 1..0x10000000000)"},
      {"max_mapnr too big for the bitmaps", sub + 96, 1 << 20, 8, "bitmap_blocks 2 at 0x1b4 is too small"},
      {"offset_vmcoreinfo", sub + 32, 0x7fffffff0, 8, "offset_vmcoreinfo 0x7fffffff0 (at 0x1020) + size_vmcoreinfo"},
      {"size_vmcoreinfo", sub + 40, 1 << 21, 8, "size_vmcoreinfo 0x200000 at 0x1028 (at most 0x100000)"},
      {"offset_note negative", sub + 48, ~std::uint64_t{0}, 8, "offset_note -0x1 (at 0x1030) + size_note"},
      {"size_note", sub + 56, 0x10000000, 8, "size_note 0x10000000 at 0x1038 (at most 0x4000000)"},
      {"a note's size", good.layout.notes + 4, 0x7fff, 4, "kdump notes (offset_note 0x1068): note at offset 0x1068"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::vector<std::uint8_t> bytes = patched(good.bytes, c);
    const std::string e = open_error(bytes);
    CHECK_MESSAGE(e.find(c.expect) != std::string::npos, e);
  }
  SUBCASE("split part bounds") {
    std::vector<std::uint8_t> bytes = good.bytes;
    store_be32(bytes.data() + sub + 12, 1);
    store_be64(bytes.data() + sub + 80, 8);
    store_be64(bytes.data() + sub + 88, 99);
    CHECK(open_error(bytes).find("split part start_pfn 0x8 .. end_pfn 0x63 (at 0x1050)") != std::string::npos);
  }
  SUBCASE("truncated anywhere in the headers and bitmaps: an error, never a crash") {
    for (std::size_t n = 0; n < good.layout.descs; n += (n < 600 ? 1 : 97)) {
      CAPTURE(n);
      const std::vector<std::uint8_t> cut(good.bytes.begin(), good.bytes.begin() + static_cast<std::ptrdiff_t>(n));
      CHECK(!open_error(cut).empty());
    }
  }
}

TEST_CASE("kdump: corrupt page descriptors and data fail that page with EIO and the descriptor named") {
  const t::BuiltKdump good = t::build_kdump(sample_spec());
  const std::uint64_t d = good.layout.desc_of[2];  // pfn 2
  struct Case {
    const char* what;
    std::size_t offset;
    std::uint64_t value;
    int width;
    std::string expect;
  };
  const Case cases[] = {
      {"size 0", d + 8, 0, 4, fmt::format("page descriptor at {:#x}: size 0x0 at {:#x} (must be 1..block_size 0x1000)", d, d + 8)},
      {"size too big", d + 8, 0x1001, 4, "size 0x1001"},
      {"flags", d + 12, 0x40, 4, fmt::format("page descriptor at {:#x}: flags 0x40 at {:#x}", d, d + 12)},
      {"offset negative", d, ~std::uint64_t{0}, 8, "offset -1 is negative"},
      {"offset beyond the end", d, 0x7fffffff, 8, "runs past the end of the file"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::vector<std::uint8_t> bytes = patched(good.bytes, c);
    auto r = dump::KdumpReader::open(dump::memory_source(bytes), false);
    REQUIRE(r);
    std::vector<std::uint8_t> page(4096);
    auto p = (*r)->read_page(2, page);
    REQUIRE(!p);
    CHECK(p.error().error == HostError::eio);
    CHECK_MESSAGE(p.error().message.find(c.expect) != std::string::npos, p.error().message);
    CHECK((*r)->read_page(3, page));  // the other pages still read
  }
  if (have_zlib) {
    SUBCASE("zlib data that does not decompress") {
      std::vector<std::uint8_t> bytes = good.bytes;
      const std::uint64_t d1 = good.layout.desc_of[1];  // pfn 1, compressible
      REQUIRE(load_be32(bytes.data() + d1 + 12) == 1);
      bytes[load_be64(bytes.data() + d1) + 2] ^= 0xff;
      auto r = dump::KdumpReader::open(dump::memory_source(bytes), false);
      REQUIRE(r);
      std::vector<std::uint8_t> page(4096);
      auto p = (*r)->read_page(1, page);
      REQUIRE(!p);
      CHECK(p.error().message.find("does not decompress to one page") != std::string::npos);
    }
  }
  for (const Compression& c : compressions) {
    CAPTURE(c.name);
    // Page 1 (compressible) in this compression, then its data damaged.
    t::KdumpSpec spec = sample_spec();
    spec.compression = c.flag;
    const t::BuiltKdump built = t::build_kdump(spec);
    std::vector<std::uint8_t> bytes = built.bytes;
    const std::uint64_t d1 = built.layout.desc_of[1];
    auto r = dump::KdumpReader::open(dump::memory_source(bytes), false);
    REQUIRE(r);
    std::vector<std::uint8_t> page(4096);
    if (!c.built) {
      // The builder could not compress either: make the descriptor claim it.
      store_be32(bytes.data() + d + 12, c.flag);
      r = dump::KdumpReader::open(dump::memory_source(bytes), false);
      REQUIRE(r);
      auto p = (*r)->read_page(2, page);
      REQUIRE(!p);
      CHECK(p.error().error == HostError::enotsup);
      CHECK(p.error().message == fmt::format("page at absolute 0x2000 is compressed with {}: not supported in this build", c.name));
      continue;
    }
    REQUIRE(load_be32(bytes.data() + d1 + 12) == c.flag);
    REQUIRE((*r)->read_page(1, page));
    CHECK(page == spec.pages[1].data);
    const std::uint64_t data = load_be64(bytes.data() + d1);
    const std::uint32_t size = load_be32(bytes.data() + d1 + 8);
    for (std::uint32_t at : {0u, 2u, size / 2, size - 1}) {
      CAPTURE(at);
      std::vector<std::uint8_t> bad = bytes;
      bad[data + at] ^= 0xa5;
      auto rb = dump::KdumpReader::open(dump::memory_source(bad), false);
      REQUIRE(rb);
      auto p = (*rb)->read_page(1, page);
      // Some damage still decodes (a literal byte changed): then it must be a page, and
      // the wrong one. Either way, never a crash or a read outside the buffers.
      if (p) {
        CHECK(page != spec.pages[1].data);
        continue;
      }
      CHECK(p.error().error == HostError::eio);
      CHECK_MESSAGE(p.error().message.find(fmt::format("{} data at {:#x}+{:#x}", c.name, data, size)) != std::string::npos,
                    p.error().message);
    }
    // Truncated compressed data: the descriptor's size one byte short.
    std::vector<std::uint8_t> cut = bytes;
    store_be32(cut.data() + d1 + 8, size - 1);
    auto rc = dump::KdumpReader::open(dump::memory_source(cut), false);
    REQUIRE(rc);
    auto pc = (*rc)->read_page(1, page);
    CHECK((!pc || page != spec.pages[1].data));
  }
}

TEST_CASE("kdump flattened: records are indexed and checked") {
  t::KdumpSpec spec = sample_spec();
  spec.flattened = true;
  const t::BuiltKdump built = t::build_kdump(spec);
  dump::FlattenedStats stats;
  auto f = dump::open_flattened(dump::memory_source(built.bytes), &stats);
  REQUIRE(f);
  CHECK(stats.end_marker);
  CHECK((*f)->size() == built.plain.size());
  std::vector<std::uint8_t> all(built.plain.size());
  REQUIRE((*f)->read(0, all));
  CHECK(all == built.plain);

  auto error = [](std::vector<std::uint8_t> bytes) {
    auto r = dump::open_flattened(dump::memory_source(bytes));
    return r ? std::string() : r.error();
  };
  const std::size_t first = 4096;  // the first record header
  SUBCASE("bad type and version") {
    std::vector<std::uint8_t> b = built.bytes;
    store_be64(b.data() + 16, 2);
    CHECK(error(b) == "flattened header at 0x0: type 2 at 0x10 (must be 1)");
    b = built.bytes;
    store_be64(b.data() + 24, 9);
    CHECK(error(b) == "flattened header at 0x0: version 9 at 0x18 (must be 1)");
  }
  SUBCASE("a record past the end of the file") {
    std::vector<std::uint8_t> b = built.bytes;
    store_be64(b.data() + first + 8, 0x100000);
    CHECK(error(b).starts_with("flattened record at 0x1000: size 0x100000 runs past the end of the file"));
  }
  SUBCASE("negative offset and size") {
    std::vector<std::uint8_t> b = built.bytes;
    store_be64(b.data() + first, ~std::uint64_t{1});
    CHECK(error(b) == "flattened record at 0x1000: offset -2 is negative");
    b = built.bytes;
    store_be64(b.data() + first + 8, ~std::uint64_t{1});
    CHECK(error(b) == "flattened record at 0x1008: size -2 is negative");
  }
  SUBCASE("a cut record header") {
    std::vector<std::uint8_t> b(built.bytes.begin(), built.bytes.begin() + first + 7);
    CHECK(error(b) == "flattened record at 0x1000: only 7 bytes left, a record header needs 16");
  }
  SUBCASE("a stream that describes far more than it holds") {
    std::vector<std::uint8_t> b(built.bytes.begin(), built.bytes.begin() + first);
    b.resize(first + 17);
    store_be64(b.data() + first, std::uint64_t{1} << 40);
    store_be64(b.data() + first + 8, 1);
    CHECK(error(b).starts_with("flattened records cover only 0x1 of the"));
  }
  SUBCASE("overlapping records: the later one wins") {
    std::vector<std::uint8_t> b(built.bytes.begin(), built.bytes.begin() + first);
    auto rec = [&](std::uint64_t off, std::vector<std::uint8_t> data) {
      const std::size_t at = b.size();
      b.resize(at + 16 + data.size());
      store_be64(b.data() + at, off);
      store_be64(b.data() + at + 8, data.size());
      std::copy(data.begin(), data.end(), b.begin() + static_cast<std::ptrdiff_t>(at + 16));
    };
    rec(0, std::vector<std::uint8_t>(10, 1));
    rec(4, std::vector<std::uint8_t>(3, 2));
    rec(8, std::vector<std::uint8_t>(4, 3));
    auto r = dump::open_flattened(dump::memory_source(b));
    REQUIRE(r);
    std::vector<std::uint8_t> got(12);
    REQUIRE((*r)->read(0, got));
    CHECK(got == std::vector<std::uint8_t>{1, 1, 1, 1, 2, 2, 2, 1, 3, 3, 3, 3});
  }
}

TEST_CASE("kdump: the page cache is bounded and writes survive eviction") {
  t::TempDir dir;
  t::KdumpSpec spec = sample_spec();
  spec.flattened = true;
  dump::LoadOptions o;
  o.cache_pages = 2;
  auto core = load(t::build_kdump(spec), dir, o);
  REQUIRE(core);
  Backend& b = *core->backend;
  auto& storage = dynamic_cast<EmulatedBackend&>(b).storage();
  std::vector<std::uint8_t> page(4096);
  Memop w;
  w.kind = MemopKind::absolute_write;
  w.gaddr = 0x1ff8;
  w.size = 16;
  std::vector<std::uint8_t> data(16, 0x5a);
  w.buf = data;
  REQUIRE(b.vm_memop(w).ok());  // across pages 1 and 2
  for (int round = 0; round < 2; ++round) {
    for (std::uint64_t pfn : {0, 1, 2, 3, 5, 6, 7, 9}) {
      REQUIRE(t::absolute_read(b, pfn * 4096, page).ok());
      CHECK(storage.cached_pages() <= 2);
      std::vector<std::uint8_t> want = spec.pages[pfn].data;
      if (pfn == 1) std::fill(want.end() - 8, want.end(), 0x5a);
      if (pfn == 2) std::fill(want.begin(), want.begin() + 8, 0x5a);
      CHECK(page == want);
    }
  }
  // A bounded cache hands out no pointers into its pages (they could be evicted).
  CHECK(storage.direct(0, 8) == nullptr);
}

TEST_CASE("kdump: a file changed under the server fails the pages read after with ESTALE") {
  t::TempDir dir;
  const t::BuiltKdump built = t::build_kdump(sample_spec());
  const auto path = dir.path / "guest.kdump";
  t::write_file(path, built.bytes);
  dump::LoadOptions options;
  options.cache_pages = 1;  // every page below is fetched from the file
  auto core = dump::load_core(path.string(), std::nullopt, options);
  REQUIRE(core);
  Backend& b = *core->backend;
  std::vector<std::uint8_t> page(4096);
  REQUIRE(t::absolute_read(b, 0, page).ok());
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out.put('x');  // appended: the size moves
  }
  const MemopResult r = t::absolute_read(b, 2 * 4096, page);
  REQUIRE(r.status == MemopResult::Status::host_error);
  CHECK(r.error == HostError::estale);
  CHECK_MESSAGE(r.detail.find("changed under the server: size") != std::string::npos, r.detail);
  // Rewritten in place with its old size: the modification time moves.
  t::write_file(path, built.bytes);
  CHECK(t::absolute_read(b, 3 * 4096, page).error == HostError::estale);
}
