// dump::load_core end to end: an s390x ELF core written to disk by the test-side builder
// (tests/backends/core_builder.h) with real DAT tables in its memory and two CPUs, plus a
// QEMU dump-skeys file; then logical MEMOPs, MemoryAccess views, writes that never reach
// the file, storage keys from the skeys file, and the errors for broken input.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "access/memory_access.h"
#include "backends/dump/load_core.h"
#include "backends/emulated/guest_builder.h"
#include "backends/emulated/lowcore.h"
#include "tests/backends/core_builder.h"
#include "translate/address.h"
#include "translate/byteorder.h"

#include "tests/backends/memop_fixture.h"
#include "tests/backends/temp_dir.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

using TempDir = s390b::test::TempDir;

void write_file(const std::filesystem::path& p, std::span<const std::uint8_t> bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}
void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  REQUIRE(out.good());
}
std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}
std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  return h;
}
std::int64_t mtime_ns(const std::filesystem::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// One line of QEMU's dump-skeys output (backends/dump/skeys.h).
std::string skeys_line(std::uint64_t frame, std::uint8_t key) {
  return fmt::format("page={:03x}: key({}) => ACC={:X}, FP={}, REF={}, ch={}, reserved={}\n", frame, key, key >> 4,
                     key & 0x08, key & 0x04, key & 0x02, key & 0x01);
}

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

// The guest in the core. Absolute layout:
//   [0x000000, 0x180000)  segment 0: absolute page 0, both lowcores, the DAT tables
//   [0x180000, 0x200000)  not in the dump (a hole: addressing exception)
//   [0x200000, 0x208000)  segment 1: data frames
//   [0x208000, 0x20b000)  segment 2: 0x1000 bytes in the file, then a 0x2000 zero tail
struct CoreGuest {
  static constexpr std::uint64_t scratch_size = 0x20b000;
  static constexpr std::uint64_t pool_start = 0x100000, pool_end = 0x180000;
  static constexpr std::uint32_t prefix0 = 0x10000, prefix1 = 0x12000;
  // Home space (the kernel, region-third ASCE): CR13 of both CPUs, CR1 of CPU 0.
  static constexpr std::uint64_t kdata_va = 0x80000000;      // 4 pages -> 0x200000
  static constexpr std::uint64_t kdata_abs = 0x200000;
  static constexpr std::uint64_t khole_va = 0x80004000;      // invalid PTE
  static constexpr std::uint64_t ktext_va = 0x80010000;      // DAT-protected -> 0x204000
  static constexpr std::uint64_t ktext_abs = 0x204000;
  static constexpr std::uint64_t kkeyed_va = 0x80020000;     // -> 0x206000, key 0x38 (ACC 3, F)
  static constexpr std::uint64_t kkeyed_abs = 0x206000;
  static constexpr std::uint64_t ktail_va = 0x80030000;      // -> the zero tail 0x209000
  static constexpr std::uint64_t tail_abs = 0x209000;
  static constexpr std::uint64_t kseg2_va = 0x80040000;      // -> 0x208000 (file part of segment 2)
  // Primary space of CPU 1 (a user process, region-second ASCE) = secondary of CPU 0.
  static constexpr std::uint64_t user_va = 0x1000000;        // -> 0x205000
  static constexpr std::uint64_t user_abs = 0x205000;
  static constexpr std::uint64_t hole_abs = 0x180000;

  Asce kernel, user;
  std::vector<std::uint8_t> image;  // the scratch storage's bytes
  t::CoreSpec spec;

  static std::vector<std::uint8_t> kdata() { return t::core_test_bytes(0x4000, 11); }
  static std::vector<std::uint8_t> udata() { return t::core_test_bytes(0x1000, 12); }
  static std::vector<std::uint8_t> seg2data() { return t::core_test_bytes(0x1000, 13); }

  CoreGuest() {
    Storage scratch;
    REQUIRE(scratch.add_anonymous(0, scratch_size));
    GuestBuilder b(scratch, pool_start, pool_end);
    kernel = b.new_space(TableType::region_third).value();
    user = b.new_space(TableType::region_second).value();
    REQUIRE(b.map_range(kernel, kdata_va, kdata_abs, 0x4000));
    REQUIRE(b.map_page(kernel, khole_va, 0));
    b.store64(b.pte_address(kernel, khole_va).value(), PageEntry::i_bit);
    REQUIRE(b.map_page(kernel, ktext_va, ktext_abs, {.protect = true}));
    REQUIRE(b.map_page(kernel, kkeyed_va, kkeyed_abs));
    REQUIRE(b.map_page(kernel, ktail_va, tail_abs));
    REQUIRE(b.map_page(kernel, kseg2_va, 0x208000));
    REQUIRE(b.map_page(user, user_va, user_abs));

    REQUIRE(b.write_bytes(kdata_abs, kdata()));
    REQUIRE(b.write_bytes(user_abs, udata()));
    REQUIRE(b.write_bytes(0x208000, seg2data()));
    REQUIRE(b.write_string(ktext_abs, "kernel text, DAT-protected"));
    REQUIRE(b.write_string(kkeyed_abs, "fetch-protected, key 0x38"));
    REQUIRE(b.write_string(0x200, "absolute 0x200"));
    REQUIRE(b.write_string(prefix0 + 0x200, "lowcore of cpu 0"));
    REQUIRE(b.write_string(prefix1 + 0x200, "lowcore of cpu 1"));

    image.resize(scratch_size);
    REQUIRE(scratch.read(0, image));

    spec.segments.push_back({.guest_addr = 0, .data = slice(0, 0x180000)});
    spec.segments.push_back({.guest_addr = 0x200000, .data = slice(0x200000, 0x8000)});
    spec.segments.push_back({.guest_addr = 0x208000, .data = slice(0x208000, 0x1000), .mem_size = 0x3000});
    for (unsigned i = 0; i < 2; ++i) {
      CpuState c = t::sample_cpu_state(i);
      c.crs[0] = 0;  // no LAP, no overrides, no EDAT: plain 4 KiB DAT
      c.crs[1] = i == 0 ? kernel.raw : user.raw;
      c.crs[7] = user.raw;
      c.crs[13] = kernel.raw;
      c.prefix = i == 0 ? prefix0 : prefix1;
      c.psw.mask = Psw::dat_bit | Psw::io_bit | Psw::ext_bit | Psw::ea_bit | Psw::ba_bit |
                   (i == 0 ? Psw::as_mask /* home */ : Psw::problem_bit /* primary */);
      spec.cpus.push_back({.state = c});
    }
    spec.vmcoreinfo = "OSRELEASE=6.1.0-test\n";
  }

  std::vector<std::uint8_t> slice(std::uint64_t at, std::uint64_t n) const {
    return {image.begin() + static_cast<std::ptrdiff_t>(at), image.begin() + static_cast<std::ptrdiff_t>(at + n)};
  }
};

struct Files {
  TempDir dir;
  std::filesystem::path core = dir.path / "guest.core";
  std::filesystem::path skeys = dir.path / "guest.skeys";
};

// One op over all of `buf` (t::memop builds the request).
MemopResult logical(Backend& b, unsigned cpu, MemopKind kind, std::uint64_t va, std::span<std::uint8_t> buf,
                    std::uint64_t flags = 0, std::uint8_t key = 0) {
  return b.vcpu_memop(cpu, t::memop(kind, va, buf, static_cast<std::uint32_t>(buf.size()), flags, 0, key));
}
MemopResult absolute(Backend& b, MemopKind kind, std::uint64_t abs, std::span<std::uint8_t> buf,
                     std::uint64_t flags = 0, std::uint8_t key = 0) {
  return b.vm_memop(t::memop(kind, abs, buf, static_cast<std::uint32_t>(buf.size()), flags, 0, key));
}
std::vector<std::uint8_t> read_logical(Backend& b, unsigned cpu, std::uint64_t va, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  const MemopResult r = logical(b, cpu, MemopKind::logical_read, va, out);
  CHECK_MESSAGE(r.ok(), "logical read at 0x" << std::hex << va << " -> " << r.kvm_return());
  return out;
}
std::vector<std::uint8_t> read_view(Backend& b, unsigned cpu, const AddressSpace& view, std::uint64_t a, std::size_t n) {
  MemoryAccess access(b);
  std::vector<std::uint8_t> out(n);
  const ReadOutcome r = access.read(cpu, view, a, out);
  CHECK_MESSAGE(r.status.ok(), view.describe() << " read at 0x" << std::hex << a << " -> " << r.status.kvm_return());
  CHECK(r.bytes == n);
  return out;
}
std::string c_string(std::span<const std::uint8_t> bytes) {
  std::string s;
  for (std::uint8_t b : bytes) {
    if (b == 0) break;
    s.push_back(static_cast<char>(b));
  }
  return s;
}

dump::LoadedCore load_ok(const Files& f, bool with_skeys) {
  auto loaded = dump::load_core(f.core.string(), with_skeys ? std::optional<std::string>(f.skeys.string()) : std::nullopt);
  REQUIRE_MESSAGE(loaded.has_value(), (loaded ? std::string() : loaded.error()));
  REQUIRE(loaded->backend != nullptr);
  return std::move(*loaded);
}

}  // namespace

TEST_CASE("load_core: a core with DAT tables and two CPUs reads like the guest") {
  CoreGuest g;
  Files f;
  const t::BuiltCore core = t::build_core(g.spec);
  write_file(f.core, core.bytes);
  dump::LoadedCore loaded = load_ok(f, false);
  Backend& b = *loaded.backend;

  CHECK(loaded.segment_count == 3);
  CHECK(loaded.vmcoreinfo == std::optional<std::string>("OSRELEASE=6.1.0-test\n"));
  REQUIRE(b.cpu_count() == 2);
  for (unsigned i = 0; i < 2; ++i) {
    auto s = b.cpu_state(i);
    REQUIRE(s);
    CHECK(s->psw == g.spec.cpus[i].state.psw);
    CHECK(s->crs == g.spec.cpus[i].state.crs);
    CHECK(s->prefix == g.spec.cpus[i].state.prefix);
    CHECK(s->gprs == g.spec.cpus[i].state.gprs);
  }
  // Memory map: the two file-backed segments, the zero tail, and the hole.
  REQUIRE(b.memory_map() != nullptr);
  std::uint64_t backed = 0;
  for (const auto& r : b.memory_map()->ranges()) backed += r.size;
  CHECK(backed == 0x180000 + 0x8000 + 0x3000);

  SUBCASE("logical reads through each CPU's tables") {
    CHECK(read_logical(b, 0, CoreGuest::kdata_va, 0x4000) == CoreGuest::kdata());       // home space, 4 pages
    CHECK(read_logical(b, 0, CoreGuest::kdata_va + 0xff0, 0x20) == g.slice(CoreGuest::kdata_abs + 0xff0, 0x20));
    CHECK(c_string(read_logical(b, 0, CoreGuest::ktext_va, 64)) == "kernel text, DAT-protected");
    CHECK(read_logical(b, 0, CoreGuest::kseg2_va, 0x1000) == CoreGuest::seg2data());
    CHECK(read_logical(b, 0, CoreGuest::ktail_va, 0x1000) == std::vector<std::uint8_t>(0x1000, 0));
    CHECK(read_logical(b, 1, CoreGuest::user_va, 0x1000) == CoreGuest::udata());     // primary space of cpu 1
    // The user VA in cpu 0's home space: its region-third entry is invalid.
    std::vector<std::uint8_t> buf(16);
    MemopResult r = logical(b, 0, MemopKind::logical_read, CoreGuest::user_va, buf);
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::region_third_translation);
    r = logical(b, 0, MemopKind::logical_read, CoreGuest::khole_va + 8, buf);
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::page_translation);
    REQUIRE(r.fault.teid);
    CHECK(r.fault.teid->address() == CoreGuest::khole_va);
    CHECK(r.fault.teid->as() == AddressSpaceId::home);
    // A read that runs from a good page into the hole fails as a whole.
    std::vector<std::uint8_t> span(0x2000, 0x77);
    r = logical(b, 0, MemopKind::logical_read, CoreGuest::khole_va - 0x1000, span);
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::page_translation);
    CHECK(span == std::vector<std::uint8_t>(0x2000, 0x77));
  }

  SUBCASE("MemoryAccess views") {
    CHECK(read_view(b, 1, AddressSpace::of(AddressSpace::Kind::home), CoreGuest::kdata_va, 0x4000) == CoreGuest::kdata());
    CHECK(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::primary), CoreGuest::kdata_va, 0x100) ==
          g.slice(CoreGuest::kdata_abs, 0x100));
    CHECK(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::secondary), CoreGuest::user_va, 0x1000) == CoreGuest::udata());
    CHECK(read_view(b, 0, AddressSpace::with_asce(g.user), CoreGuest::user_va, 0x1000) == CoreGuest::udata());
    CHECK(read_view(b, 1, AddressSpace::of(AddressSpace::Kind::cpu), CoreGuest::user_va + 0x800, 0x800) ==
          g.slice(CoreGuest::user_abs + 0x800, 0x800));
    // Real: prefixing per CPU. Absolute: none.
    CHECK(c_string(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::real), 0x200, 32)) == "lowcore of cpu 0");
    CHECK(c_string(read_view(b, 1, AddressSpace::of(AddressSpace::Kind::real), 0x200, 32)) == "lowcore of cpu 1");
    CHECK(c_string(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::real), CoreGuest::prefix0 + 0x200, 32)) ==
          "absolute 0x200");
    CHECK(c_string(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::absolute), 0x200, 32)) == "absolute 0x200");
    CHECK(c_string(read_view(b, 1, AddressSpace::of(AddressSpace::Kind::absolute), CoreGuest::prefix1 + 0x200, 32)) ==
          "lowcore of cpu 1");

    // A read running into the hole stops at the end of segment 0 with an addressing exception.
    MemoryAccess access(b);
    std::vector<std::uint8_t> out(0x3000);
    const ReadOutcome r = access.read(0, AddressSpace::of(AddressSpace::Kind::absolute), CoreGuest::hole_abs - 0x1000, out);
    CHECK(r.bytes == 0x1000);
    REQUIRE(r.status.is_exception());
    CHECK(r.status.fault.code == PgmCode::addressing);
    CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + 0x1000) == g.slice(CoreGuest::hole_abs - 0x1000, 0x1000));

    const TranslationReport tr = access.translate(0, AddressSpace::of(AddressSpace::Kind::home), CoreGuest::user_va,
                                                  AccessMode::fetch);
    CHECK(tr.fault.has_value());
    const TranslationReport ok = access.translate(1, AddressSpace::of(AddressSpace::Kind::cpu), CoreGuest::user_va + 0x10,
                                                  AccessMode::fetch);
    CHECK(ok.absolute == std::optional<std::uint64_t>(CoreGuest::user_abs + 0x10));
  }

  SUBCASE("absolute reads: the hole is an addressing exception") {
    std::vector<std::uint8_t> buf(16);
    MemopResult r = absolute(b, MemopKind::absolute_read, CoreGuest::hole_abs + 0x10, buf);
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::addressing);
    r = absolute(b, MemopKind::absolute_read, CoreGuest::tail_abs + 0x1ff0, buf);
    CHECK(r.ok());
    r = absolute(b, MemopKind::absolute_read, CoreGuest::tail_abs + 0x1ff8, buf);  // past the tail
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::addressing);
  }

  SUBCASE("DAT protection and translation exceptions on stores") {
    std::vector<std::uint8_t> data(8, 0x11);
    MemopResult r = logical(b, 0, MemopKind::logical_write, CoreGuest::ktext_va, data);
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::protection);
    CHECK(c_string(read_logical(b, 0, CoreGuest::ktext_va, 64)) == "kernel text, DAT-protected");
  }
}

TEST_CASE("load_core: writes go to the overlay, the core file never changes") {
  CoreGuest g;
  Files f;
  const t::BuiltCore core = t::build_core(g.spec);
  write_file(f.core, core.bytes);
  const std::uint64_t hash_before = fnv1a(read_file(f.core));
  const std::int64_t mtime_before = mtime_ns(f.core);
  {
    dump::LoadedCore loaded = load_ok(f, false);
    Backend& b = *loaded.backend;
    std::vector<std::uint8_t> ones(0x2000, 0x11);
    REQUIRE(logical(b, 0, MemopKind::logical_write, CoreGuest::kdata_va + 0x800, ones).ok());  // two pages
    std::vector<std::uint8_t> twos(0x100, 0x22);
    REQUIRE(absolute(b, MemopKind::absolute_write, 0x208f80, twos).ok());  // file part and zero tail
    std::vector<std::uint8_t> threes(0x10, 0x33);
    MemoryAccess access(b);
    REQUIRE(access.write(0, AddressSpace::with_asce(g.user), CoreGuest::user_va, threes).ok());
    REQUIRE(access.write(0, AddressSpace::of(AddressSpace::Kind::real), 0x200, bytes_of("overwritten")).ok());
    std::vector<std::uint8_t> old(8), desired(8, 0x44);
    std::copy_n(g.image.begin() + 0x1000, 8, old.begin());
    Memop x;
    x.kind = MemopKind::absolute_cmpxchg;
    x.gaddr = 0x1000;
    x.size = 8;
    x.buf = desired;
    x.old = old;
    const MemopResult xr = b.vm_memop(x);
    REQUIRE(xr.ok());
    CHECK(xr.exchanged);

    // The guest sees every write.
    auto want = CoreGuest::kdata();
    std::fill_n(want.begin() + 0x800, 0x2000, 0x11);
    CHECK(read_logical(b, 0, CoreGuest::kdata_va, 0x4000) == want);
    CHECK(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::absolute), 0x208f80, 0x100) == twos);
    CHECK(read_logical(b, 1, CoreGuest::user_va, 0x10) == threes);
    CHECK(c_string(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::absolute), CoreGuest::prefix0 + 0x200, 32)) ==
          "overwrittencpu 0");  // "lowcore of cpu 0" with its first 11 bytes replaced
    CHECK(read_view(b, 0, AddressSpace::of(AddressSpace::Kind::absolute), 0x1000, 8) == desired);

    // The file does not, even while the backend is alive.
    CHECK(fnv1a(read_file(f.core)) == hash_before);
    CHECK(read_file(f.core) == core.bytes);
  }
  CHECK(fnv1a(read_file(f.core)) == hash_before);
  CHECK(mtime_ns(f.core) == mtime_before);
  // A fresh load sees the original bytes.
  dump::LoadedCore again = load_ok(f, false);
  CHECK(read_logical(*again.backend, 0, CoreGuest::kdata_va, 0x4000) == CoreGuest::kdata());
  CHECK(read_logical(*again.backend, 1, CoreGuest::user_va, 0x1000) == CoreGuest::udata());
}

TEST_CASE("load_core: storage keys from a dump-skeys file") {
  CoreGuest g;
  Files f;
  write_file(f.core, t::build_core(g.spec).bytes);
  std::string skeys;
  for (std::uint64_t frame = 0; frame < 0x180; ++frame) skeys += skeys_line(frame, 0x06);  // R, C
  skeys += skeys_line(0x200, 0x50);  // kdata frame 0: ACC 5
  skeys += skeys_line(0x201, 0x5e);  // kdata frame 1: ACC 5, F, R, C
  skeys += skeys_line(0x206, 0x38);  // ACC 3, fetch-protected
  skeys += skeys_line(0x209, 0x78);  // the zero tail: ACC 7, F
  skeys += skeys_line(0x300, 0x10);  // not in the dump: ignored
  write_text(f.skeys, skeys);
  dump::LoadedCore loaded = load_ok(f, true);
  Backend& b = *loaded.backend;
  StorageKeys* keys = b.storage_keys();
  REQUIRE(keys != nullptr);
  CHECK(keys->get_key(0x0).value().raw == 0x06);
  CHECK(keys->get_key(0x17f000).value().raw == 0x06);
  CHECK(keys->get_key(0x200000).value().raw == 0x50);
  CHECK(keys->get_key(0x201fff).value().raw == 0x5e);
  CHECK(keys->get_key(0x202000).value().raw == 0x00);  // not listed
  CHECK(keys->get_key(0x206000).value().raw == 0x38);
  CHECK(keys->get_key(0x209000).value().raw == 0x78);
  CHECK_FALSE(keys->get_key(0x300000).has_value());

  constexpr std::uint64_t skey = memop_flag::skey_protection;
  std::vector<std::uint8_t> buf(16);
  auto code = [](const MemopResult& r) { return r.kvm_return(); };

  // Fetch-protected frame: only key 0 (no check) and the matching key read it.
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::kkeyed_va, buf, skey, 5)) == 0x04);
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::kkeyed_va, buf, skey, 3)) == 0);
  CHECK(c_string(buf) == "fetch-protected,");
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::kkeyed_va, buf, skey, 0)) == 0);
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::kkeyed_va, buf, 0, 5)) == 0);  // no SKEY flag: key ignored
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::kkeyed_va, buf, skey | memop_flag::check_only, 5)) == 0x04);
  CHECK(code(absolute(b, MemopKind::absolute_read, CoreGuest::kkeyed_abs, buf, skey, 5)) == 0x04);
  CHECK(code(absolute(b, MemopKind::absolute_read, CoreGuest::kkeyed_abs, buf, skey, 3)) == 0);
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::ktail_va, buf, skey, 6)) == 0x04);  // the anonymous tail

  // Not fetch-protected: any key reads, only ACC 5 (or 0) stores.
  CHECK(code(logical(b, 0, MemopKind::logical_read, CoreGuest::kdata_va, buf, skey, 6)) == 0);
  const std::vector<std::uint8_t> before = read_logical(b, 0, CoreGuest::kdata_va, 16);
  std::vector<std::uint8_t> data(16, 0xab);
  MemopResult r = logical(b, 0, MemopKind::logical_write, CoreGuest::kdata_va, data, skey, 6);
  REQUIRE(r.is_exception());
  CHECK(r.fault.code == PgmCode::protection);
  REQUIRE(r.fault.teid);
  CHECK(r.fault.teid->b60());  // key-controlled, suppressing
  CHECK(read_logical(b, 0, CoreGuest::kdata_va, 16) == before);
  CHECK(code(logical(b, 0, MemopKind::logical_write, CoreGuest::kdata_va, data, skey, 5)) == 0);
  CHECK(read_logical(b, 0, CoreGuest::kdata_va, 16) == data);
  // A store changes the frame's R and C bits (in memory only).
  CHECK(keys->get_key(0x200000).value().raw == 0x56);

  // A two-page store whose second page has another key: KVM stores the first page and
  // reports a terminating protection exception (no suppression bits in the TEID).
  const std::vector<std::uint8_t> page2_before = read_logical(b, 0, CoreGuest::kdata_va + 0x2000, 16);
  std::vector<std::uint8_t> big(0x20, 0xcd);
  r = logical(b, 0, MemopKind::logical_write, CoreGuest::kdata_va + 0x1ff0, big, skey, 5);  // ACC 5 | ACC 0
  REQUIRE(r.is_exception());
  CHECK(r.fault.code == PgmCode::protection);
  REQUIRE(r.fault.teid);
  CHECK_FALSE(r.fault.teid->b60());
  CHECK_FALSE(r.fault.teid->b61());
  CHECK(read_logical(b, 0, CoreGuest::kdata_va + 0x1ff0, 16) == std::vector<std::uint8_t>(16, 0xcd));
  CHECK(read_logical(b, 0, CoreGuest::kdata_va + 0x2000, 16) == page2_before);
}

TEST_CASE("load_core: broken input gives a clear error") {
  CoreGuest g;
  Files f;
  t::BuiltCore core = t::build_core(g.spec);

  SUBCASE("a segment running past the end of the file names its program header's offset") {
    const std::uint64_t ph = core.layout.phdr_offset(core.layout.load_phdrs[1]);
    core.put64(ph + 8, core.bytes.size() - 0x10);  // p_offset near EOF, p_filesz 0x8000
    write_file(f.core, core.bytes);
    auto loaded = dump::load_core(f.core.string());
    REQUIRE_FALSE(loaded.has_value());
    INFO(loaded.error());
    CHECK(loaded.error().find(f.core.string()) != std::string::npos);
    CHECK(loaded.error().find(fmt::format("offset {:#x}", ph)) != std::string::npos);
  }
  SUBCASE("a truncated core") {
    core.bytes.resize(40);
    write_file(f.core, core.bytes);
    auto loaded = dump::load_core(f.core.string());
    REQUIRE_FALSE(loaded.has_value());
    INFO(loaded.error());
    CHECK(loaded.error().find("offset 0x0") != std::string::npos);
  }
  SUBCASE("a bad note size names the note's offset") {
    const auto* note = core.layout.find_note(NT_S390_CTRS, 1);
    REQUIRE(note != nullptr);
    core.put32(note->offset + 4, 120);  // n_descsz 128 -> 120
    write_file(f.core, core.bytes);
    auto loaded = dump::load_core(f.core.string());
    REQUIRE_FALSE(loaded.has_value());
    INFO(loaded.error());
    CHECK(loaded.error().find(fmt::format("offset {:#x}", note->offset)) != std::string::npos);
  }
  SUBCASE("not a core at all") {
    write_text(f.core, "this is not an ELF file, just some text that is long enough for a header........");
    auto loaded = dump::load_core(f.core.string());
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().find(f.core.string()) != std::string::npos);
  }
  SUBCASE("an empty file") {
    write_text(f.core, "");
    auto loaded = dump::load_core(f.core.string());
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().find(f.core.string()) != std::string::npos);
  }
  SUBCASE("a missing file") {
    auto loaded = dump::load_core((f.dir.path / "missing.core").string());
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().find("missing.core") != std::string::npos);
  }
  SUBCASE("no CPU notes") {
    g.spec.cpus.clear();
    write_file(f.core, t::build_core(g.spec).bytes);
    auto loaded = dump::load_core(f.core.string());
    REQUIRE_FALSE(loaded.has_value());
    INFO(loaded.error());
    CHECK(loaded.error().find("no CPU notes") != std::string::npos);
    CHECK(loaded.error().find(f.core.string()) != std::string::npos);
  }
  SUBCASE("a bad skeys file names the file and the line") {
    write_file(f.core, core.bytes);
    write_text(f.skeys, skeys_line(0, 0x10) + "page=001: key(300) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n");
    auto loaded = dump::load_core(f.core.string(), f.skeys.string());
    REQUIRE_FALSE(loaded.has_value());
    INFO(loaded.error());
    CHECK(loaded.error().find(f.skeys.string()) != std::string::npos);
    CHECK(loaded.error().find("line 2") != std::string::npos);
  }
  SUBCASE("a missing skeys file") {
    write_file(f.core, core.bytes);
    auto loaded = dump::load_core(f.core.string(), (f.dir.path / "nokeys").string());
    REQUIRE_FALSE(loaded.has_value());
    CHECK(loaded.error().find("nokeys") != std::string::npos);
  }
}

// A PT_LOAD whose p_filesz is not a multiple of 4 KiB and whose p_memsz is larger: the
// file part and the zero tail become two Storage ranges that share a frame. The skeys file
// gives that frame ONE key, which must protect both parts of it.
TEST_CASE("load_core: the key of a frame split between file bytes and the zero tail") {
  Files f;
  t::CoreSpec spec;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(0x1800, 21), .mem_size = 0x4000});
  CpuState c = t::sample_cpu_state(0);
  c.psw.mask = Psw::ea_bit | Psw::ba_bit;  // DAT off: logical = real
  c.crs[0] = 0;
  c.prefix = 0x2000;
  spec.cpus.push_back({.state = c});
  write_file(f.core, t::build_core(spec).bytes);
  write_text(f.skeys, skeys_line(0, 0) + skeys_line(1, 0x30) + skeys_line(2, 0) + skeys_line(3, 0));
  dump::LoadedCore loaded = load_ok(f, true);
  Backend& b = *loaded.backend;
  std::vector<std::uint8_t> data(8, 0xee);
  // Real 0x3100 -> absolute 0x1100 (prefix 0x2000): the file part of frame 1.
  CHECK(logical(b, 0, MemopKind::logical_write, 0x3100, data, memop_flag::skey_protection, 5).kvm_return() == 0x04);
  CHECK(b.storage_keys()->get_key(0x1100).value().raw == 0x30);
  // Real 0x3900 -> absolute 0x1900: the anonymous tail of the same frame.
  CHECK(b.storage_keys()->get_key(0x1900).value().raw == 0x30);
  CHECK(logical(b, 0, MemopKind::logical_write, 0x3900, data, memop_flag::skey_protection, 5).kvm_return() == 0x04);
}

// The two other ELF producers the loader must take as they write (issue: "Linux kdump ELF
// vmcores and zgetdump's ELF output"), on the same guest:
// - the kernel's /proc/vmcore (Linux arch/s390/kernel/crash_dump.c): NT_PRPSINFO first,
//   every CPU note named "CORE", VMCOREINFO last; p_vaddr = the old kernel's identity-map
//   base + p_paddr (Linux >= 6.10), plus a kernel-image PT_LOAD whose virtual address is
//   the image's and whose physical range repeats part of memory;
// - zgetdump (s390-tools zdump/dfo_elf.c): NT_PRPSINFO, "LINUX" s390 notes, a zero chunk
//   written as p_filesz 0 with its p_memsz.
// Both must read exactly like QEMU's layout: registers from the notes, memory by p_paddr
// (never p_vaddr), translation through the CPUs' own tables.
TEST_CASE("load_core: /proc/vmcore and zgetdump ELF layouts read like QEMU's") {
  for (const bool vmcore : {true, false}) {
    CAPTURE(vmcore);
    CoreGuest g;
    g.spec.prpsinfo = true;
    if (vmcore) {
      g.spec.naming = t::NoteNaming::all_core;
      constexpr std::uint64_t identity_base = 0x3fe0000000000ull;
      for (auto& seg : g.spec.segments) seg.vaddr = identity_base + seg.guest_addr;
      // The kernel image again: 0x204000.. (kernel text) at its own virtual address.
      t::CoreSegmentSpec image_seg;
      image_seg.guest_addr = CoreGuest::ktext_abs;
      image_seg.data = g.slice(CoreGuest::ktext_abs, 0x2000);
      image_seg.vaddr = 0x3ffffe00000ull;
      g.spec.segments.push_back(image_seg);
    } else {
      // A chunk of zeros past the hole, as zgetdump writes one (no file bytes).
      t::CoreSegmentSpec zero_seg;
      zero_seg.guest_addr = 0x400000;
      zero_seg.mem_size = 0x100000;
      g.spec.segments.push_back(zero_seg);
    }
    Files f;
    write_file(f.core, t::build_core(g.spec).bytes);
    dump::LoadedCore loaded = load_ok(f, false);
    Backend& b = *loaded.backend;
    CHECK(loaded.format == "ELF core");
    REQUIRE(b.cpu_count() == 2);
    REQUIRE(loaded.cpu_sources.size() == 2);
    CHECK(loaded.cpu_sources[0].starts_with("ELF notes (NT_PRSTATUS at 0x"));
    for (unsigned i = 0; i < 2; ++i) {
      auto s = b.cpu_state(i);
      REQUIRE(s);
      CHECK(s->psw == g.spec.cpus[i].state.psw);
      CHECK(s->crs == g.spec.cpus[i].state.crs);
      CHECK(s->prefix == g.spec.cpus[i].state.prefix);
    }
    CHECK(read_logical(b, 0, CoreGuest::kdata_va, 0x4000) == CoreGuest::kdata());
    CHECK(c_string(read_logical(b, 0, CoreGuest::ktext_va, 64)) == "kernel text, DAT-protected");
    CHECK(read_logical(b, 1, CoreGuest::user_va, 0x1000) == CoreGuest::udata());
    std::vector<std::uint8_t> buf(0x100);
    REQUIRE(absolute(b, MemopKind::absolute_read, CoreGuest::kdata_abs, buf).ok());
    CHECK(buf == g.slice(CoreGuest::kdata_abs, 0x100));
    if (!vmcore) {
      std::vector<std::uint8_t> zeros(0x1000, 0xee);
      REQUIRE(absolute(b, MemopKind::absolute_read, 0x480000, zeros).ok());
      CHECK(zeros == std::vector<std::uint8_t>(0x1000, 0));
    }
  }
}
