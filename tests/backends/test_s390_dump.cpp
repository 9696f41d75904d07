// The s390 stand-alone dump format (backends/dump/s390_dump.h), the store-status save
// area (save_area.h) and the writer (s390_writer.h): the demo guest written as s390 and
// read back through load_core with every byte and register compared; hand-built files
// (every field explicitly big-endian, so the tests hold on an s390x host too) for each
// header error, truncation at many points, a missing end marker, s390_ext segments with
// gaps, compressed chunks, prefixes outside the dump and vector save areas.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#if S390B_HAVE_ZLIB
#include <zlib.h>
#endif

#include "backends/dump/elf_writer.h"
#include "backends/dump/load_core.h"
#include "backends/dump/s390_dump.h"
#include "backends/dump/s390_writer.h"
#include "backends/dump/save_area.h"
#include "backends/emulated/demo_guest.h"
#include "backends/emulated/emulated_backend.h"
#include "tests/backends/temp_dir.h"
#include "translate/byteorder.h"

using namespace s390b;
namespace t = s390b::test;
namespace L = s390b::dump::s390_layout;

namespace {

std::vector<std::uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

MemopResult read_abs(Backend& b, std::uint64_t addr, std::span<std::uint8_t> out) {
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t k = std::min<std::size_t>(b.op_limit(), out.size() - done);
    Memop op;
    op.kind = MemopKind::absolute_read;
    op.gaddr = addr + done;
    op.size = static_cast<std::uint32_t>(k);
    op.buf = out.subspan(done, k);
    if (auto r = b.vm_memop(op); !r.ok()) return r;
    done += k;
  }
  return MemopResult::success();
}

std::vector<std::uint8_t> read_ok(Backend& b, std::uint64_t addr, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  REQUIRE(read_abs(b, addr, out).ok());
  return out;
}

// A small s390 dump header; fields patched by the tests.
struct HeaderSpec {
  std::uint64_t magic = dump::s390_dump_magic;
  std::uint32_t version = 5;
  std::uint64_t mem_size = 0x10000;
  std::uint64_t tod = 0x1000;
  std::vector<std::uint32_t> lc_vec{0x4000};
  std::uint8_t zlib = 0;
  std::uint32_t zlib_entry_size = 0;
};

std::vector<std::uint8_t> header(const HeaderSpec& s) {
  std::vector<std::uint8_t> h(L::header_size, 0);
  store_be64(&h[L::magic], s.magic);
  store_be32(&h[L::version], s.version);
  store_be32(&h[L::hdr_size], 0x1000);
  store_be32(&h[L::dump_level], 4);
  store_be32(&h[L::page_size], 4096);
  store_be64(&h[L::mem_size], s.mem_size);
  store_be64(&h[L::mem_end], s.mem_size);
  store_be32(&h[L::num_pages], static_cast<std::uint32_t>(s.mem_size / 4096));
  store_be64(&h[L::tod], s.tod);
  store_be32(&h[L::arch], 2);
  store_be32(&h[L::build_arch], 2);
  store_be16(&h[L::cpu_cnt], static_cast<std::uint16_t>(s.lc_vec.size()));
  store_be16(&h[L::real_cpu_cnt], static_cast<std::uint16_t>(s.lc_vec.size()));
  h[L::zlib_version_s390] = s.zlib;
  store_be32(&h[L::zlib_entry_size], s.zlib_entry_size);
  for (std::size_t i = 0; i < s.lc_vec.size(); ++i) store_be32(&h[L::lc_vec + 4 * i], s.lc_vec[i]);
  return h;
}

void end_marker(std::vector<std::uint8_t>& f, std::uint64_t tod) {
  const std::size_t at = f.size();
  f.resize(at + 16);
  store_be64(&f[at], dump::s390_end_marker_magic);
  store_be64(&f[at + 8], tod);
}

// Memory whose every doubleword holds its address (so any misplacement shows).
std::vector<std::uint8_t> pattern(std::uint64_t start, std::uint64_t size) {
  std::vector<std::uint8_t> m(size);
  for (std::uint64_t a = 0; a + 8 <= size; a += 8) store_be64(&m[a], start + a);
  return m;
}

// A CPU state with every save-area group set, distinct values.
CpuState sample_cpu(std::uint32_t prefix) {
  CpuState c;
  for (unsigned i = 0; i < 16; ++i) {
    c.gprs[i] = 0x0101010101010101ull * (i + 1);
    c.crs[i] = 0x1000000000000000ull + i;
    c.acrs[i] = 0xa0000000u + i;
    c.set_fpr(i, 0xf000000000000000ull + i);
  }
  c.psw = Psw{0x0704c00180000000ull, 0x12345678};
  c.fpc = 0x00080000;
  c.prefix = prefix;
  c.cputm = 0x7fffffff00000000ull;
  c.ckc = 0x00d0000000001200ull;  // bits 56-63 zero: survives a save area
  c.todpr = 0x1234;
  c.present = {.gprs = true, .psw = true, .acrs = true, .crs = true, .fprs = true, .vrs = false,
               .prefix = true, .cputm = true, .ckc = true, .todpr = true};
  return c;
}

// A classic dump of `mem` with the save area of `cpu` at its prefix.
std::vector<std::uint8_t> classic(const HeaderSpec& s, std::vector<std::uint8_t> mem, const std::vector<CpuState>& cpus) {
  for (const CpuState& c : cpus) {
    const auto sa = dump::encode_save_area(c);
    std::copy(sa.begin(), sa.end(), mem.begin() + static_cast<std::ptrdiff_t>(c.prefix + dump::save_area::start));
  }
  std::vector<std::uint8_t> f = header(s);
  f.insert(f.end(), mem.begin(), mem.end());
  end_marker(f, s.tod + 1);
  return f;
}

tl::expected<dump::LoadedCore, std::string> load(const t::TempDir& dir, const std::vector<std::uint8_t>& bytes,
                                                 dump::LoadOptions options = {}) {
  static unsigned serial = 0;  // a new file each time: an earlier LoadedCore may still map the last one
  const auto p = dir.path / fmt::format("dump{}.s390", serial++);
  write_file(p, bytes);
  return dump::load_core(p.string(), std::nullopt, options);
}

void check_save_area_registers(const CpuState& got, const CpuState& want) {
  CHECK(got.present.gprs);
  CHECK(got.present.psw);
  CHECK(got.present.acrs);
  CHECK(got.present.crs);
  CHECK(got.present.fprs);
  CHECK(got.present.prefix);
  CHECK(got.present.cputm);
  CHECK(got.present.ckc);
  CHECK(got.present.todpr);
  CHECK_FALSE(got.present.last_break);
  CHECK_FALSE(got.present.gs);
  CHECK(got.gprs == want.gprs);
  CHECK(got.psw.mask == want.psw.mask);
  CHECK(got.psw.addr == want.psw.addr);
  CHECK(got.crs == want.crs);
  CHECK(got.acrs == want.acrs);
  for (unsigned i = 0; i < 16; ++i) CHECK(got.fpr(i) == want.fpr(i));
  CHECK(got.fpc == want.fpc);
  CHECK(got.prefix == want.prefix);
  CHECK(got.cputm == want.cputm);
  CHECK(got.todpr == want.todpr);
  // The save area keeps CKC bits 0-55 (CKC >> 8): bits 56-63 come back as zero.
  CHECK(got.ckc == (want.ckc & ~std::uint64_t{0xff}));
}

}  // namespace

TEST_SUITE("s390 dump") {

TEST_CASE("the demo guest written as s390 reads back with every byte and register") {
  t::TempDir dir;
  auto src = demo::make_guest();
  const auto path = dir.path / "demo.s390";
  auto report = dump::write_s390_dump(*src, path.string(), {.progress = {}, .piece = 1 << 20, .tod = 0x1234000});
  REQUIRE_MESSAGE(report, (report ? "" : report.error().message));
  CHECK(report->mem_size == demo::storage_size);
  CHECK(report->lc_vec == std::vector<std::uint32_t>{demo::prefix[0], demo::prefix[1]});
  // The demo's lowcores designate no vector save area: its vector registers cannot be kept.
  CHECK(report->warnings.size() == 2);
  for (const auto& w : report->warnings) CHECK(w.find("vector registers not written") != std::string::npos);
  CHECK(report->vector_areas == 0);
  CHECK(report->unreadable_bytes == 0);
  CHECK(report->file_size == 0x1000 + demo::storage_size + 16);

  const auto bytes = file_bytes(path);
  REQUIRE(bytes.size() == report->file_size);
  auto hdr = dump::parse_s390_header(bytes);
  REQUIRE(hdr);
  CHECK(hdr->version == 5);
  CHECK(hdr->dump_level == 4);
  CHECK(hdr->num_pages == demo::storage_size / 4096);
  CHECK(hdr->tod == 0x1234000);
  CHECK(hdr->real_cpu_cnt == 2);
  CHECK(hdr->build_arch == 2);
  CHECK(hdr->mem_size_real == demo::storage_size);
  CHECK(load_be64(&bytes[bytes.size() - 16]) == dump::s390_end_marker_magic);

  auto loaded = dump::load_core(path.string());
  REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.error()));
  CHECK(loaded->format == "s390 stand-alone dump (s390), 2 CPUs, complete");
  REQUIRE(loaded->cpu_sources.size() == 2);
  CHECK(loaded->cpu_sources[0].starts_with("store-status save area at absolute 0x21200"));
  CHECK(loaded->cpu_sources[1].starts_with("store-status save area at absolute 0x23200"));
  Backend& back = *loaded->backend;
  REQUIRE(back.cpu_count() == src->cpu_count());
  for (unsigned cpu = 0; cpu < src->cpu_count(); ++cpu) {
    CAPTURE(cpu);
    check_save_area_registers(*back.cpu_state(cpu), *src->cpu_state(cpu));
  }
  // Every byte, but the save areas hold the registers now.
  for (std::uint64_t a = 0; a < demo::storage_size; a += 1 << 20) {
    std::vector<std::uint8_t> want = read_ok(*src, a, 1 << 20);
    for (unsigned cpu = 0; cpu < src->cpu_count(); ++cpu) {
      const std::uint64_t sa = std::uint64_t{demo::prefix[cpu]} + dump::save_area::start;
      if (sa >= a && sa < a + (1 << 20)) {
        const auto enc = dump::encode_save_area(*src->cpu_state(cpu));
        std::copy(enc.begin(), enc.end(), want.begin() + static_cast<std::ptrdiff_t>(sa - a));
      }
    }
    const auto got = read_ok(back, a, 1 << 20);
    CAPTURE(a);
    CHECK(got == want);
  }
}

TEST_CASE("writer: CPUs without a usable prefix are left out of lc_vec with a warning") {
  t::TempDir dir;
  Storage storage;
  REQUIRE(storage.add_anonymous(0, 0x20000));
  std::vector<CpuState> cpus{sample_cpu(0x4000), sample_cpu(0), sample_cpu(0x5000), sample_cpu(0x4000),
                             sample_cpu(0x40000)};
  cpus.push_back(sample_cpu(0x6000));
  cpus.back().present.prefix = false;
  EmulatedBackend src(std::move(storage), cpus);
  const auto path = dir.path / "w.s390";
  auto report = dump::write_s390_dump(src, path.string());
  REQUIRE(report);
  CHECK(report->lc_vec == std::vector<std::uint32_t>{0x4000});
  REQUIRE(report->warnings.size() == 5);
  CHECK(report->warnings[0].find("cpu 1: prefix 0") != std::string::npos);
  CHECK(report->warnings[1].find("cpu 2: prefix 0x5000 is not 0x2000-aligned") != std::string::npos);
  CHECK(report->warnings[2].find("cpu 3: prefix 0x4000 is also an earlier CPU's") != std::string::npos);
  CHECK(report->warnings[3].find("cpu 4: prefix 0x40000: the prefix area lies beyond") != std::string::npos);
  CHECK(report->warnings[4].find("cpu 5: prefix unknown") != std::string::npos);
  auto hdr = dump::parse_s390_header(file_bytes(path));
  REQUIRE(hdr);
  CHECK(hdr->real_cpu_cnt == 6);
  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  REQUIRE(loaded->backend->cpu_count() == 1);
  check_save_area_registers(*loaded->backend->cpu_state(0), cpus[0]);
}

TEST_CASE("writer: gaps and unreadable pages are zeros; vector registers go to the lowcore's vector save area") {
  t::TempDir dir;
  Storage storage;
  REQUIRE(storage.add_anonymous(0, 0x10000));
  REQUIRE(storage.add_anonymous(0x20000, 0x3000));  // mem_size 0x23000, gap 0x10000-0x20000
  REQUIRE(storage.write(0x20000, pattern(0x20000, 0x3000)));
  std::uint8_t mcesad[8];
  store_be64(mcesad, 0x8400 | 0xb);  // origin 0x8400 (1 KiB-aligned), length code 11
  REQUIRE(storage.write(0x4000 + dump::save_area::vector_save_area_addr, mcesad));
  CpuState cpu = sample_cpu(0x4000);
  for (unsigned n = 0; n < 32; ++n) cpu.vrs[n] = {n < 16 ? cpu.fpr(n) : 0xee00000000000000ull + n, 0xdd00000000000000ull + n};
  cpu.present.vrs = true;
  EmulatedBackend src(std::move(storage), {cpu});
  const auto path = dir.path / "w.s390";
  auto report = dump::write_s390_dump(src, path.string());
  REQUIRE(report);
  CHECK(report->mem_size == 0x23000);
  CHECK(report->gap_bytes == 0x10000);
  CHECK(report->vector_areas == 1);
  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  CHECK(read_ok(*loaded->backend, 0x10000, 0x10000) == std::vector<std::uint8_t>(0x10000, 0));
  CHECK(read_ok(*loaded->backend, 0x20000, 0x3000) == pattern(0x20000, 0x3000));
  const CpuState got = *loaded->backend->cpu_state(0);
  CHECK(got.present.vrs);
  CHECK(got.vrs == cpu.vrs);
  CHECK(loaded->cpu_sources[0].find("vector registers") != std::string::npos);
}

TEST_CASE("hand-built classic dump: memory, registers from the save area, prefix outside the dump") {
  t::TempDir dir;
  HeaderSpec s;
  s.lc_vec = {0x4000, 0x8000, 0x100000};
  const CpuState a = sample_cpu(0x4000), b = sample_cpu(0x8000);
  auto f = classic(s, pattern(0, s.mem_size), {a, b});
  auto loaded = load(dir, f);
  REQUIRE_MESSAGE(loaded, (loaded ? "" : loaded.error()));
  CHECK(loaded->format == "s390 stand-alone dump (s390), 3 CPUs, complete");
  Backend& back = *loaded->backend;
  REQUIRE(back.cpu_count() == 3);
  check_save_area_registers(*back.cpu_state(0), a);
  check_save_area_registers(*back.cpu_state(1), b);
  const CpuState far = *back.cpu_state(2);
  CHECK(far.present.prefix);
  CHECK(far.prefix == 0x100000);
  CHECK_FALSE(far.present.gprs);
  CHECK_FALSE(far.present.psw);
  CHECK_FALSE(far.present.crs);
  CHECK(loaded->cpu_sources[2] == "prefix 0x100000 only (lc_vec): its save area at absolute 0x101200 is not in the dump");
  CHECK(read_ok(back, 0x100, 0x100) == pattern(0x100, 0x100));
  CHECK(read_ok(back, 0xff00, 0x100) == pattern(0xff00, 0x100));
  // The save area's raw CKC word is CKC >> 8 (PoP "Store Status").
  CHECK(load_be64(&f[0x1000 + 0x4000 + dump::save_area::ckc]) == a.ckc >> 8);
}

TEST_CASE("every header field error names its offset and field") {
  t::TempDir dir;
  struct Case {
    std::size_t offset;
    int width;  // 1, 2, 4, 8
    std::uint64_t value;
    std::string message;
  };
  const std::vector<Case> cases{
      {L::version, 4, 0, "s390 dump header at 0x8: version 0"},
      {L::hdr_size, 4, 0x800, "s390 dump header at 0xc: hdr_size 0x800 (must be 0x1000)"},
      {L::dump_level, 4, 5, "s390 dump header at 0x10: dump_level 5 (at most 4)"},
      {L::page_size, 4, 0x2000, "s390 dump header at 0x14: page_size 0x2000 (must be 0x1000)"},
      {L::mem_size, 8, 0, "s390 dump header at 0x18: mem_size 0x0"},
      {L::mem_size, 8, 0x10001, "s390 dump header at 0x18: mem_size 0x10001"},
      {L::mem_size, 8, ~std::uint64_t{0xfff}, "s390 dump header at 0x18: mem_size 0xfffffffffffff000"},
      {L::mem_start, 8, 0x1000, "s390 dump header at 0x20: mem_start 0x1000 (must be 0)"},
      {L::mem_end, 8, 0x20000, "s390 dump header at 0x28: mem_end 0x20000 (must be mem_size 0x10000)"},
      {L::num_pages, 4, 17, "s390 dump header at 0x30: num_pages 0x11 (must be mem_size / 0x1000 = 0x10)"},
      {L::arch, 4, 1, "s390 dump header at 0x48: arch 1 (must be 2: 64-bit"},
      {L::volnr, 4, 1, "s390 dump header at 0x4c: volnr 1"},
      {L::build_arch, 4, 1, "s390 dump header at 0x50: build_arch 1 (must be 0 or 2)"},
      {L::mvdump, 1, 1, "s390 dump header at 0x5c: mvdump 0x1: one volume of a multi-volume dump, not supported"},
      {L::cpu_cnt, 2, 513, "s390 dump header at 0x5d: cpu_cnt 513 (at most 512)"},
      {L::zlib_version_s390, 1, 1, "s390 dump header at 0x61: zlib_version_s390 0x1 in a s390 dump of version 5"},
  };
  HeaderSpec s;
  const auto good = classic(s, pattern(0, s.mem_size), {sample_cpu(0x4000)});
  REQUIRE(load(dir, good));
  for (const Case& c : cases) {
    CAPTURE(c.message);
    auto f = good;
    switch (c.width) {
      case 1: f[c.offset] = static_cast<std::uint8_t>(c.value); break;
      case 2: store_be16(&f[c.offset], static_cast<std::uint16_t>(c.value)); break;
      case 4: store_be32(&f[c.offset], static_cast<std::uint32_t>(c.value)); break;
      default: store_be64(&f[c.offset], c.value); break;
    }
    auto r = load(dir, f);
    REQUIRE_FALSE(r);
    CHECK(r.error().find(c.message) != std::string::npos);
    CHECK(r.error().find(".s390: ") != std::string::npos);  // names the file
  }
  // The extended format: zlib needs version 2 and a sane entry size.
  {
    HeaderSpec e;
    e.magic = dump::s390_ext_dump_magic;
    e.version = 2;
    e.zlib = 1;
    e.zlib_entry_size = 0x1234;
    auto r = dump::parse_s390_header(header(e));
    REQUIRE_FALSE(r);
    CHECK(r.error() == "s390 dump header at 0x62: zlib_entry_size 0x1234 (must be a non-zero multiple of 0x1000, at most 0x4000000)");
  }
  {
    HeaderSpec old;
    old.version = 4;  // classic before 5: no lc_vec
    auto r = load(dir, classic(old, pattern(0, old.mem_size), {}));
    REQUIRE_FALSE(r);
    CHECK(r.error().find("no CPUs: header version 4 (before 5) has no CPU list (lc_vec)") != std::string::npos);
  }
}

TEST_CASE("truncated and marker-less dumps open with what is there; the rest is ENODATA") {
  t::TempDir dir;
  HeaderSpec s;
  const auto whole = classic(s, pattern(0, s.mem_size), {sample_cpu(0x4000)});
  for (std::size_t cut : {std::size_t{16}, std::size_t{0x800}, std::size_t{0xfff}}) {
    CAPTURE(cut);
    auto r = load(dir, std::vector<std::uint8_t>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
    REQUIRE_FALSE(r);
    CHECK(r.error().find("shorter than its 0x1000-byte header") != std::string::npos);
  }
  // Cut inside memory: the whole pages before the cut are there.
  for (std::size_t cut : {std::size_t{0x1000}, std::size_t{0x1001}, std::size_t{0x2fff}, std::size_t{0x5000},
                          std::size_t{0x6800}, std::size_t{0x10fff}}) {
    CAPTURE(cut);
    auto r = load(dir, std::vector<std::uint8_t>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
    const std::uint64_t have = (cut - 0x1000) & ~std::uint64_t{0xfff};
    CHECK(r->format.find(fmt::format("incomplete: ends at {:#x}", have)) != std::string::npos);
    Backend& b = *r->backend;
    if (have > 0) CHECK(read_ok(b, have - 8, 8) == pattern(have - 8, 8));
    std::vector<std::uint8_t> buf(8);
    const MemopResult miss = read_abs(b, have, buf);
    CHECK(miss.error == HostError::enodata);
    CHECK(miss.detail.find("is not in the dump") != std::string::npos);
    // The CPU's save area (0x5200) is there from a cut at 0x6000 on.
    CHECK(b.cpu_state(0)->present.gprs == (have >= 0x6000));
    // With zero_excluded the missing tail reads as zeros.
    auto z = load(dir, std::vector<std::uint8_t>(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)),
                  {.zero_excluded = true});
    REQUIRE(z);
    CHECK(read_ok(*z->backend, s.mem_size - 8, 8) == std::vector<std::uint8_t>(8, 0));
  }
  // Memory complete, the end marker cut off, wrong or earlier than the header's TOD.
  for (std::size_t cut : {std::size_t{0}, std::size_t{8}, std::size_t{15}}) {
    CAPTURE(cut);
    auto f = whole;
    f.resize(0x1000 + s.mem_size + cut);
    auto r = load(dir, f);
    REQUIRE(r);
    CHECK(r->format.find("incomplete: no end marker (the file ends at") != std::string::npos);
    CHECK(read_ok(*r->backend, s.mem_size - 8, 8) == pattern(s.mem_size - 8, 8));
  }
  {
    auto f = whole;
    f[0x1000 + s.mem_size] = 'X';
    auto r = load(dir, f);
    REQUIRE(r);
    CHECK(r->format.find("incomplete: no end marker at file offset 0x11000") != std::string::npos);
  }
  {
    auto f = whole;
    store_be64(&f[0x1000 + s.mem_size + 8], s.tod - 1);
    auto r = load(dir, f);
    REQUIRE(r);
    CHECK(r->format.find("is earlier than the header's") != std::string::npos);
  }
}

TEST_CASE("s390_ext: segments with gaps between and after them read as zeros") {
  t::TempDir dir;
  HeaderSpec s;
  s.magic = dump::s390_ext_dump_magic;
  s.version = 1;
  s.mem_size = 0x20000;
  s.lc_vec = {0x8000};
  auto seg = [](std::vector<std::uint8_t>& f, std::uint64_t start, std::uint64_t len, bool stop) {
    std::vector<std::uint8_t> h(L::segment_header_size, 0);
    store_be64(&h[L::segment_start], start);
    store_be64(&h[L::segment_len], len);
    store_be64(&h[L::segment_stop_marker], stop ? 1 : 0);
    f.insert(f.end(), h.begin(), h.end());
    auto m = pattern(start, len);
    f.insert(f.end(), m.begin(), m.end());
  };
  std::vector<std::uint8_t> f = header(s);
  seg(f, 0x2000, 0x2000, false);
  seg(f, 0x8000, 0x4000, true);  // holds the CPU's prefix area
  const CpuState cpu = sample_cpu(0x8000);
  const auto sa = dump::encode_save_area(cpu);
  // Segment 2's data starts at 0x1000 + 0x1000 + 0x2000 + 0x1000.
  std::copy(sa.begin(), sa.end(), f.begin() + 0x5000 + static_cast<std::ptrdiff_t>(dump::save_area::start));
  const auto no_marker = f;
  end_marker(f, s.tod);
  auto r = load(dir, f);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  CHECK(r->format == "s390 stand-alone dump (s390_ext), 1 CPU, complete");
  CHECK(r->segment_count == 2);
  Backend& b = *r->backend;
  CHECK(read_ok(b, 0, 0x2000) == std::vector<std::uint8_t>(0x2000, 0));
  CHECK(read_ok(b, 0x2000, 0x2000) == pattern(0x2000, 0x2000));
  CHECK(read_ok(b, 0x4000, 0x4000) == std::vector<std::uint8_t>(0x4000, 0));
  CHECK(read_ok(b, 0xa000, 0x100) == pattern(0xa000, 0x100));
  CHECK(read_ok(b, 0xc000, 0x14000) == std::vector<std::uint8_t>(0x14000, 0));
  check_save_area_registers(*b.cpu_state(0), cpu);

  // The chain cut after its first segment: the rest is missing.
  auto cut = std::vector<std::uint8_t>(no_marker.begin(), no_marker.begin() + 0x4000);
  auto c = load(dir, cut);
  REQUIRE(c);
  CHECK(c->format.find("incomplete: ends at 0x4000") != std::string::npos);
  std::vector<std::uint8_t> buf(8);
  CHECK(read_abs(*c->backend, 0x8000, buf).error == HostError::enodata);
  CHECK_FALSE(c->backend->cpu_state(0)->present.gprs);

  // Bad segments.
  auto bad = no_marker;
  store_be64(&bad[0x1000 + L::segment_start], 0x2800);
  auto e = load(dir, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().find("s390_ext segment header at 0x1000: start 0x2800 (must be page-aligned") != std::string::npos);
  bad = no_marker;
  store_be64(&bad[0x4000 + L::segment_start], 0x3000);  // overlaps the first
  e = load(dir, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().find("s390_ext segment header at 0x4000: start 0x3000") != std::string::npos);
  bad = no_marker;
  store_be64(&bad[0x4000 + L::segment_len], 0x20000);
  e = load(dir, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().find("s390_ext segment header at 0x4008: len 0x20000") != std::string::npos);
}

TEST_CASE("s390_ext version 2: compressed chunks, one stored raw") {
  t::TempDir dir;
  HeaderSpec s;
  s.magic = dump::s390_ext_dump_magic;
  s.version = 2;
  s.mem_size = 0x10000;
  s.lc_vec = {0x2000};
  s.zlib = 1;
  s.zlib_entry_size = 0x2000;
  const std::uint64_t start = 0x2000, len = 0x6000;  // chunks at 0x2000, 0x4000, 0x6000
  auto mem = pattern(start, len);
  const CpuState cpu = sample_cpu(0x2000);
  const auto sa = dump::encode_save_area(cpu);
  std::copy(sa.begin(), sa.end(), mem.begin() + static_cast<std::ptrdiff_t>(dump::save_area::start));
  std::vector<std::uint8_t> data;
  std::vector<std::uint32_t> entries;
  for (unsigned i = 0; i < 3; ++i) {
    data.resize((data.size() + 4095) & ~std::size_t{4095});
    const auto chunk = std::span(mem).subspan(i * 0x2000, 0x2000);
    if (i == 1) {  // stored raw
      entries.push_back(static_cast<std::uint32_t>(data.size() / 4096) | L::entry_uncompressed);
      data.insert(data.end(), chunk.begin(), chunk.end());
      continue;
    }
    entries.push_back(static_cast<std::uint32_t>(data.size() / 4096));
#if S390B_HAVE_ZLIB
    std::vector<std::uint8_t> z(compressBound(0x2000));
    uLongf zn = z.size();
    REQUIRE(compress2(z.data(), &zn, chunk.data(), chunk.size(), 6) == Z_OK);
    data.insert(data.end(), z.begin(), z.begin() + static_cast<std::ptrdiff_t>(zn));
#else
    data.insert(data.end(), 64, 0x78);  // never decompressed in this build
#endif
  }
  data.resize((data.size() + 4095) & ~std::size_t{4095});
  std::vector<std::uint8_t> f = header(s);
  std::vector<std::uint8_t> h(L::segment_header_size, 0);
  store_be64(&h[L::segment_start], start);
  store_be64(&h[L::segment_len], len);
  store_be64(&h[L::segment_stop_marker], 1);
  store_be32(&h[L::segment_size_on_disk], static_cast<std::uint32_t>(data.size() / 4096));
  store_be32(&h[L::segment_entry_count], 3);
  for (unsigned i = 0; i < 3; ++i) store_be32(&h[L::segment_entry_offset + 4 * i], entries[i]);
  f.insert(f.end(), h.begin(), h.end());
  f.insert(f.end(), data.begin(), data.end());
  end_marker(f, s.tod);
  auto r = load(dir, f);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  CHECK(r->format == "s390 stand-alone dump (s390_ext, zlib), 1 CPU, complete");
  Backend& b = *r->backend;
  CHECK(read_ok(b, 0x4000, 0x2000) == std::vector<std::uint8_t>(mem.begin() + 0x2000, mem.begin() + 0x4000));
  CHECK(read_ok(b, 0x8000, 0x8000) == std::vector<std::uint8_t>(0x8000, 0));
#if S390B_HAVE_ZLIB
  CHECK(read_ok(b, start, len) == mem);
  check_save_area_registers(*b.cpu_state(0), cpu);
#else
  std::vector<std::uint8_t> buf(8);
  const MemopResult m = read_abs(b, 0x2000, buf);
  CHECK(m.error == HostError::enotsup);
  CHECK(m.detail.find("not supported in this build") != std::string::npos);
#endif
  // Cut after the first chunk: the chunks past the end of the file are ENODATA.
  {
    auto cut = std::vector<std::uint8_t>(f.begin(), f.begin() + 0x2000 + 0x1000);
    auto c = load(dir, cut);
    REQUIRE(c);
    CHECK(c->format.find("incomplete: the compressed segment at file offset 0x1000 runs past the end") != std::string::npos);
    std::vector<std::uint8_t> tail(8);
    const MemopResult cut_read = read_abs(*c->backend, 0x4000, tail);
    CHECK(cut_read.error == HostError::enodata);
    CHECK(cut_read.detail.find("lies past the end of the file") != std::string::npos);
#if S390B_HAVE_ZLIB
    CHECK(read_ok(*c->backend, 0x2000, 0x2000) == std::vector<std::uint8_t>(mem.begin(), mem.begin() + 0x2000));
#endif
  }
  // entry_count must match len.
  auto bad = f;
  store_be32(&bad[0x1000 + L::segment_entry_count], 2);
  auto e = load(dir, bad);
  REQUIRE_FALSE(e);
  CHECK(e.error().find("s390_ext segment header at 0x1030: entry_count 2 (must be len / zlib_entry_size rounded up = 3") !=
        std::string::npos);
}

TEST_CASE("cpu_from_save_area: the CKC convention and the vector save area") {
  std::vector<std::uint8_t> mem(0x10000, 0);
  CpuState c = sample_cpu(0x2000);
  c.ckc = 0xfedcba9876543210ull;
  const auto sa = dump::encode_save_area(c);
  std::copy(sa.begin(), sa.end(), mem.begin() + 0x3200);
  CHECK(mem[0x3330] == 0);          // byte 0x1330: zero
  CHECK(mem[0x3331] == 0xfe);       // bits 0-55 of the CKC in 0x1331-0x1337
  CHECK(mem[0x3337] == 0x32);
  auto read = [&](std::uint64_t a, std::span<std::uint8_t> out) {
    if (a > mem.size() || out.size() > mem.size() - a) return false;
    std::copy_n(mem.begin() + static_cast<std::ptrdiff_t>(a), out.size(), out.begin());
    return true;
  };
  CpuState got = dump::cpu_from_save_area(read, 0x2000);
  CHECK(got.ckc == 0xfedcba9876543200ull);
  CHECK_FALSE(got.present.vrs);
  // A vector save area designation that is not 1 KiB-aligned is ignored; one that is, used.
  store_be64(&mem[0x2000 + 0x11b0], 0x8200);
  CHECK_FALSE(dump::cpu_from_save_area(read, 0x2000).present.vrs);
  store_be64(&mem[0x2000 + 0x11b0], 0x8400);
  for (unsigned n = 0; n < 32; ++n) {
    store_be64(&mem[0x8400 + 16 * n], 0xaa00 + n);  // left halves; V0-V15's come from the FPRs
    store_be64(&mem[0x8400 + 16 * n + 8], 0xbb00 + n);
  }
  got = dump::cpu_from_save_area(read, 0x2000);
  CHECK(got.present.vrs);
  CHECK(got.vrs[3][0] == c.fpr(3));
  CHECK(got.vrs[3][1] == 0xbb03);
  CHECK(got.vrs[20][0] == 0xaa14);
  CHECK(got.vrs[20][1] == 0xbb14);
  // The vector area beyond the storage: registers without vectors.
  store_be64(&mem[0x2000 + 0x11b0], 0x100000);
  got = dump::cpu_from_save_area(read, 0x2000);
  CHECK(got.present.gprs);
  CHECK_FALSE(got.present.vrs);
  CHECK(dump::tod_from_unix_us(0) == 0x7d91048bca000000ull);
}

TEST_CASE("ELF and kdump cores say where their registers came from") {
  t::TempDir dir;
  auto src = demo::make_guest();
  const auto path = dir.path / "demo.elf";
  REQUIRE(dump::write_elf_dump(*src, path.string()));
  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  REQUIRE(loaded->cpu_sources.size() == 2);
  CHECK(loaded->cpu_sources[0].starts_with("ELF notes (NT_PRSTATUS at 0x"));
}

}  // TEST_SUITE
