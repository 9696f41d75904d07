// dump::write_kdump_dump (backends/dump/kdump_writer.h): guests written as makedumpfile's
// kdump-compressed format in every page compression, plain and flattened, with and
// without zero pages excluded, read back with the bridge's reader (dump::load_core,
// KdumpReader) and compared register by register and byte by byte; the header fields
// checked at offsets spelled out from diskdump_mod.h (independently of kdump.h's
// constants); a kdump source's excluded pages stay excluded; a source page that fails
// otherwise fails the dump; interruption leaves nothing; the source file is untouched.
// (The header's utsname: test_kernel_utsname.cpp. libkdumpfile and drgn read the same
// files in tests/e2e/25-dump-convert.sh.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "backends/dump/byte_source.h"
#include "backends/dump/kdump.h"
#include "backends/dump/kdump_writer.h"
#include "backends/dump/load_core.h"
#include "backends/dump/page_codec.h"
#include "backends/dump/s390_notes.h"
#include "backends/dump/vmcoreinfo.h"
#include "backends/emulated/demo_guest.h"
#include "backends/emulated/emulated_backend.h"
#include "tests/backends/core_builder.h"
#include "tests/backends/dump_compare.h"
#include "tests/backends/kdump_builder.h"
#include "tests/backends/temp_dir.h"
#include "translate/byteorder.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

constexpr std::uint64_t page = 4096;
constexpr dump::PageCompression compressions[] = {dump::PageCompression::zlib, dump::PageCompression::lzo,
                                                  dump::PageCompression::snappy, dump::PageCompression::zstd};

bool is_zero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

// Page by page over the source's memory: pages the source reads equal the copy's, but
// for those in `absent` (absolute page addresses), which the copy must say it does not
// hold (ENODATA). Returns the number of pages compared equal.
std::uint64_t check_pages(Backend& src, Backend& copy, const std::set<std::uint64_t>& absent) {
  std::vector<std::uint8_t> a(page), b(page);
  std::uint64_t equal = 0;
  for (const auto& r : dump::dump_segments(*src.memory_map())) {
    for (std::uint64_t addr = r.start; addr < r.start + r.size; addr += page) {
      CAPTURE(addr);
      const MemopResult rb = t::absolute_read(copy, addr, b);
      if (absent.contains(addr)) {
        REQUIRE_FALSE(rb.ok());
        CHECK(rb.error == HostError::enodata);
        continue;
      }
      REQUIRE(t::absolute_read(src, addr, a).ok());
      REQUIRE_MESSAGE(rb.ok(), rb.detail);
      REQUIRE(a == b);
      ++equal;
    }
  }
  return equal;
}

// Absolute addresses of the source's zero pages.
std::set<std::uint64_t> zero_pages(Backend& src) {
  std::set<std::uint64_t> out;
  std::vector<std::uint8_t> a(page);
  for (const auto& r : dump::dump_segments(*src.memory_map()))
    for (std::uint64_t addr = r.start; addr < r.start + r.size; addr += page) {
      REQUIRE(t::absolute_read(src, addr, a).ok());
      if (is_zero(a)) out.insert(addr);
    }
  return out;
}

// A one-CPU Linux-looking guest of 1 MiB: some data, and the kernel's VMCOREINFO note
// at 0x12000 with the lowcore's 0xe0c pointing at it (vmcoreinfo.h).
constexpr std::string_view sample_vmcoreinfo = "OSRELEASE=6.1.0-99-s390x\nPAGESIZE=4096\nKERNELOFFSET=0\n";
std::unique_ptr<EmulatedBackend> linux_like_guest() {
  Storage s;
  REQUIRE(s.add_anonymous(0, 1 << 20));
  REQUIRE(s.write(0x80000, t::core_test_bytes(0x40000, 7)));
  std::vector<std::uint8_t> note;
  dump::append_note(note, "VMCOREINFO", 0, std::vector<std::uint8_t>(sample_vmcoreinfo.begin(), sample_vmcoreinfo.end()));
  REQUIRE(s.write(0x12000, note));
  REQUIRE(s.write_u64(dump::linux_lowcore::vmcore_info, 0x12000));
  return std::make_unique<EmulatedBackend>(std::move(s), std::vector<CpuState>{t::sample_cpu_state(3)});
}

// A backend over another whose absolute reads of one page fail with `error`.
class FailingBackend final : public Backend, public MemoryMap {
 public:
  FailingBackend(Backend& inner, std::uint64_t bad_page, HostError error) : inner_(inner), bad_(bad_page), error_(error) {}
  std::string_view name() const override { return "failing"; }
  unsigned cpu_count() const override { return inner_.cpu_count(); }
  std::uint32_t op_limit() const override { return inner_.op_limit(); }
  Facilities facilities() const override { return inner_.facilities(); }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override { return inner_.vcpu_memop(cpu, op); }
  MemopResult vm_memop(const Memop& op) override {
    if (op.gaddr < bad_ + page && op.gaddr + op.size > bad_) return MemopResult::host(error_, "injected");
    return inner_.vm_memop(op);
  }
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_.cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& s) override { return inner_.set_cpu_state(cpu, s); }
  IpteGuard ipte_lock() override { return inner_.ipte_lock(); }
  const MemoryMap* memory_map() const override { return this; }
  std::vector<Range> ranges() const override { return inner_.memory_map()->ranges(); }

 private:
  Backend& inner_;
  std::uint64_t bad_;
  HostError error_;
};

}  // namespace

TEST_SUITE("kdump writer") {

TEST_CASE("kdump writer: the demo guest in every compression, plain and flattened, reads back with every byte") {
  auto demo = demo::make_guest();
  const std::set<std::uint64_t> zeros = zero_pages(*demo);
  REQUIRE_FALSE(zeros.empty());  // the shared zero page is exercised
  constexpr std::uint64_t pages = demo::storage_size / page;
  REQUIRE(zeros.size() < pages);
  for (const auto c : compressions) {
    for (const bool flattened : {false, true}) {
      CAPTURE(dump::compression_name(c));
      CAPTURE(flattened);
      t::TempDir dir;
      const auto out = dir.path / "demo.kdump";
      dump::KdumpWriteOptions o;
      o.compression = c;
      o.flattened = flattened;
      unsigned calls = 0;
      o.progress = [&](const dump::DumpProgress& p) {
        CHECK(p.done <= p.total);
        CHECK(p.total == demo::storage_size);
        ++calls;
        return true;
      };
      auto r = dump::write_kdump_dump(*demo, out.string(), o);
      if (!dump::supported(c)) {
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == dump::DumpErrorKind::unsupported);
        CHECK(t::entries(dir.path) == 0);
        continue;
      }
      REQUIRE_MESSAGE(r, r.error().message);
      CHECK(calls == demo::storage_size >> 20);
      CHECK(r->file_size == std::filesystem::file_size(out));
      CHECK(r->cpus == demo::cpu_count);
      CHECK(r->max_mapnr == pages);
      CHECK(r->pages_present == pages);
      CHECK(r->pages_dumped == pages);
      CHECK(r->pages_zero == zeros.size());
      CHECK(r->pages_excluded_zero == 0);
      CHECK(r->pages_unreadable == 0);
      CHECK(r->pages_compressed > 0);
      CHECK(r->pages_compressed <= r->pages_dumped);
      // Compressed: much smaller than the guest (the demo guest is mostly zeros and code).
      CHECK(r->file_size < demo::storage_size / 4);

      auto loaded = dump::load_core(out.string());
      REQUIRE_MESSAGE(loaded, loaded.error());
      CHECK(loaded->format == std::string("kdump-compressed v6, ") + std::string(dump::compression_name(c)) +
                                  (flattened ? ", flattened" : ""));
      t::check_same_cpus(*demo, *loaded->backend);
      t::check_same_storage(*demo, *loaded->backend);
      CHECK(t::entries(dir.path) == 1);  // the temporary name is gone
    }
  }
}

TEST_CASE("kdump writer: header, sub-header, notes, bitmaps and descriptors where diskdump_mod.h puts them") {
  auto g = linux_like_guest();
  t::TempDir dir;
  const auto out = dir.path / "g.kdump";
  dump::KdumpWriteOptions o;
  o.compression = dump::PageCompression::zlib;
  if (!dump::supported(o.compression)) return;
  auto r = dump::write_kdump_dump(*g, out.string(), o);
  REQUIRE_MESSAGE(r, r.error().message);
  REQUIRE(r->vmcoreinfo.found);
  const auto f = t::file_bytes(out);
  REQUIRE(f.size() > 2 * page);
  auto str = [&](std::size_t off) { return std::string(reinterpret_cast<const char*>(f.data() + off)); };
  // disk_dump_header
  CHECK(std::string(f.begin(), f.begin() + 8) == "KDUMP   ");
  CHECK(load_be32(f.data() + 8) == 6);                          // header_version
  CHECK(str(12) == "Linux");                                    // utsname.sysname
  CHECK(str(12 + 2 * 65) == "6.1.0-99-s390x");                  // utsname.release = OSRELEASE
  CHECK(str(12 + 4 * 65) == "s390x");                           // utsname.machine
  CHECK(load_be64(f.data() + 408) > 1700000000);                // timestamp.tv_sec: now
  CHECK(load_be32(f.data() + 424) == 0x1);                      // status: DUMP_DH_COMPRESSED_ZLIB
  CHECK(load_be32(f.data() + 428) == page);                     // block_size
  const std::uint32_t sub_hdr_size = load_be32(f.data() + 432);
  const std::uint32_t bitmap_blocks = load_be32(f.data() + 436);
  CHECK(load_be32(f.data() + 440) == 256);                      // max_mapnr: 1 MiB
  CHECK(load_be32(f.data() + 460) == 1);                        // nr_cpus
  CHECK(bitmap_blocks == 2);                                    // 2 * ceil(ceil(256 / 8) / 4096)
  // kdump_sub_header at block 1
  const std::uint8_t* s = f.data() + page;
  CHECK(load_be64(s + 0) == 0);                                 // phys_base
  CHECK(load_be32(s + 8) == 0);                                 // dump_level
  CHECK(load_be32(s + 12) == 0);                                // split
  const std::uint64_t off_note = load_be64(s + 48), size_note = load_be64(s + 56);
  CHECK(off_note == page + 104);                                // right after the sub-header
  CHECK(size_note == r->notes_size);
  CHECK(sub_hdr_size == (104 + size_note + page - 1) / page);
  const std::uint64_t off_vmci = load_be64(s + 32), size_vmci = load_be64(s + 40);
  CHECK(off_vmci > off_note);
  CHECK(off_vmci + size_vmci <= off_note + size_note);          // inside the note blob
  CHECK(std::string(f.begin() + static_cast<std::ptrdiff_t>(off_vmci),
                    f.begin() + static_cast<std::ptrdiff_t>(off_vmci + size_vmci)) == sample_vmcoreinfo);
  CHECK(load_be64(s + 80) == 0);                                // start_pfn_64
  CHECK(load_be64(s + 88) == 256);                              // end_pfn_64
  CHECK(load_be64(s + 96) == 256);                              // max_mapnr_64
  // Bitmaps: all 256 pages exist and are dumped (no exclusion asked).
  const std::uint64_t bitmap1 = (1 + std::uint64_t{sub_hdr_size}) * page, bitmap2 = bitmap1 + page;
  for (std::uint64_t i = 0; i < 32; ++i) {
    CHECK(f[bitmap1 + i] == 0xff);
    CHECK(f[bitmap2 + i] == 0xff);
  }
  CHECK(f[bitmap1 + 32] == 0);
  // Descriptors in PFN order; zero pages share one stored page; data raw or zlib.
  const std::uint64_t descs = bitmap1 + 2 * page;
  std::map<std::uint64_t, unsigned> zero_offsets;
  std::uint64_t previous = 0;
  for (std::uint64_t pfn = 0; pfn < 256; ++pfn) {
    CAPTURE(pfn);
    const std::uint8_t* d = f.data() + descs + 24 * pfn;
    const std::uint64_t offset = load_be64(d);
    const std::uint32_t size = load_be32(d + 8), flags = load_be32(d + 12);
    CHECK(load_be64(d + 16) == 0);                              // page_flags
    CHECK(offset >= descs + 24 * 256);
    CHECK(offset + size <= f.size());
    CHECK((flags == 0x1 || (flags == 0 && size == page)));
    const auto data = t::read_abs(*g, pfn * page, page);
    if (is_zero(data)) {
      ++zero_offsets[offset];
    } else {
      CHECK(offset > previous);                                 // data in PFN order
      previous = offset;
    }
  }
  CHECK(zero_offsets.size() == 1);
  CHECK(zero_offsets.begin()->second == r->pages_zero);
  auto loaded = dump::load_core(out.string());
  REQUIRE_MESSAGE(loaded, loaded.error());
  CHECK(loaded->vmcoreinfo == std::string(sample_vmcoreinfo));
  t::check_same_cpus(*g, *loaded->backend);
  t::check_same_storage(*g, *loaded->backend);
}

TEST_CASE("kdump writer: the flattened stream, replayed record by record, is the plain file") {
  // The replay follows makedumpfile.h's description (a 4096-byte header: "makedumpfile"
  // in 16 bytes, i64 type 1, i64 version 1; records {i64 offset, i64 size} + bytes; the
  // end {-1, -1}), independently of byte_source.h; only the timestamp may differ.
  auto g = linux_like_guest();
  for (const bool exclude_zero : {false, true}) {
    CAPTURE(exclude_zero);
    t::TempDir dir;
    dump::KdumpWriteOptions o;
    o.exclude_zero = exclude_zero;
    if (!dump::supported(o.compression)) return;
    REQUIRE(dump::write_kdump_dump(*g, (dir.path / "plain").string(), o));
    o.flattened = true;
    REQUIRE(dump::write_kdump_dump(*g, (dir.path / "flat").string(), o));
    const auto plain = t::file_bytes(dir.path / "plain");
    const auto flat = t::file_bytes(dir.path / "flat");
    REQUIRE(flat.size() > 4096);
    CHECK(std::string(flat.begin(), flat.begin() + 12) == "makedumpfile");
    CHECK(std::all_of(flat.begin() + 12, flat.begin() + 16, [](std::uint8_t b) { return b == 0; }));
    CHECK(load_be64(flat.data() + 16) == 1);
    CHECK(load_be64(flat.data() + 24) == 1);
    std::vector<std::uint8_t> replay;
    std::size_t at = 4096;
    bool ended = false;
    unsigned records = 0;
    while (at + 16 <= flat.size()) {
      const auto offset = static_cast<std::int64_t>(load_be64(flat.data() + at));
      const auto size = static_cast<std::int64_t>(load_be64(flat.data() + at + 8));
      at += 16;
      if (offset == -1 && size == -1) {
        ended = true;
        break;
      }
      REQUIRE(offset >= 0);
      REQUIRE(size > 0);
      REQUIRE(at + static_cast<std::size_t>(size) <= flat.size());
      const auto end = static_cast<std::size_t>(offset + size);
      if (replay.size() < end) replay.resize(end, 0);
      std::copy_n(flat.begin() + static_cast<std::ptrdiff_t>(at), size, replay.begin() + offset);
      at += static_cast<std::size_t>(size);
      ++records;
    }
    CHECK(ended);
    CHECK(at == flat.size());  // nothing after the end marker
    CHECK(records >= 4);       // headers, data, descriptors, bitmaps
    REQUIRE(replay.size() == plain.size());
    std::fill_n(replay.begin() + 408, 16, std::uint8_t{0});  // timestamp
    auto p = plain;
    std::fill_n(p.begin() + 408, 16, std::uint8_t{0});
    CHECK(replay == p);
  }
}

TEST_CASE("kdump writer: --exclude-zero leaves zero pages out of bitmap 2, dump level 1") {
  auto demo = demo::make_guest();
  const std::set<std::uint64_t> zeros = zero_pages(*demo);
  for (const bool flattened : {false, true}) {
    CAPTURE(flattened);
    t::TempDir dir;
    const auto out = dir.path / "demo.kdump";
    dump::KdumpWriteOptions o;
    o.compression = dump::PageCompression::zstd;
    if (!dump::supported(o.compression)) o.compression = dump::PageCompression::zlib;
    if (!dump::supported(o.compression)) return;
    o.flattened = flattened;
    o.exclude_zero = true;
    auto r = dump::write_kdump_dump(*demo, out.string(), o);
    REQUIRE_MESSAGE(r, r.error().message);
    CHECK(r->pages_excluded_zero == zeros.size());
    CHECK(r->pages_zero == 0);
    CHECK(r->pages_dumped + zeros.size() == demo::storage_size / page);

    auto plain = dump::open_file_source(out.string());
    REQUIRE(plain);
    std::shared_ptr<dump::ByteSource> src = *plain;
    if (flattened) {
      auto f = dump::open_flattened(src);
      REQUIRE_MESSAGE(f, f.error());
      src = *f;
    }
    auto reader = dump::KdumpReader::open(src, flattened);
    REQUIRE_MESSAGE(reader, reader.error());
    CHECK((*reader)->info().dump_level == 1);
    REQUIRE((*reader)->memory().size() == 1);  // bitmap 1 still lists every page
    CHECK((*reader)->memory()[0].size == demo::storage_size);

    auto loaded = dump::load_core(out.string());
    REQUIRE_MESSAGE(loaded, loaded.error());
    CHECK(check_pages(*demo, *loaded->backend, zeros) == r->pages_dumped);
    t::check_same_cpus(*demo, *loaded->backend);
    dump::LoadOptions zo;
    zo.zero_excluded = true;
    auto z = dump::load_core(out.string(), std::nullopt, zo);
    REQUIRE_MESSAGE(z, z.error());
    t::check_same_storage(*demo, *z->backend);
  }
}

TEST_CASE("kdump writer: a kdump source's excluded pages stay excluded; its holes stay holes") {
  // Source: pages 0-3, 5-7, 9 dumped, 4 excluded, 8 and 10-15 no memory (kdump_builder.h).
  const t::KdumpSpec spec = t::sample_kdump_spec();
  const auto built = t::build_kdump(spec);
  t::TempDir dir;
  const auto src_path = dir.path / "src.kdump";
  t::write_file(src_path, built.bytes);
  auto src = dump::load_core(src_path.string());
  REQUIRE_MESSAGE(src, src.error());

  for (const auto c : compressions) {
    if (!dump::supported(c)) continue;
    for (const bool flattened : {false, true}) {
      CAPTURE(dump::compression_name(c));
      CAPTURE(flattened);
      const auto out = dir.path / "out.kdump";
      dump::KdumpWriteOptions o;
      o.compression = c;
      o.flattened = flattened;
      o.source_vmcoreinfo = src->vmcoreinfo;
      auto r = dump::write_kdump_dump(*src->backend, out.string(), o);
      REQUIRE_MESSAGE(r, r.error().message);
      CHECK(r->pages_present == 9);
      CHECK(r->pages_unreadable == 1);
      CHECK(r->pages_dumped == 8);
      CHECK(r->first_unreadable.find("0x4000") != std::string::npos);
      CHECK(r->first_unreadable.find("ENODATA") != std::string::npos);
      CHECK(r->max_mapnr == 10);  // the end of the highest range
      auto copy = dump::load_core(out.string());
      REQUIRE_MESSAGE(copy, copy.error());
      CHECK(copy->segment_count == 2);  // pages 0-7 and 9, as in the source
      CHECK(check_pages(*src->backend, *copy->backend, {4 * page}) == 8);
      t::check_same_cpus(*src->backend, *copy->backend);
      // VMCOREINFO is looked for in the guest's lowcore first (vmcoreinfo.h), which this
      // synthetic source does not point anywhere; then the source dump's own copy is used.
      REQUIRE(r->vmcoreinfo.found);
      CHECK(r->vmcoreinfo.found->origin == dump::VmcoreinfoOrigin::source_dump);
      CHECK_FALSE(r->vmcoreinfo.rejected.empty());  // why the guest's memory gave none
      CHECK(copy->vmcoreinfo == spec.vmcoreinfo);
    }
  }
  CHECK(t::file_bytes(src_path) == built.bytes);  // the source file is untouched
}

TEST_CASE("kdump writer: a page failing otherwise than 'not held' fails the dump, naming it; nothing is left") {
  auto demo = demo::make_guest();
  for (const auto error : {HostError::eio, HostError::estale}) {
    CAPTURE(host_error_name(error));
    FailingBackend b(*demo, 0x123000, error);
    t::TempDir dir;
    auto r = dump::write_kdump_dump(b, (dir.path / "x.kdump").string());
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == dump::DumpErrorKind::memory);
    CHECK(r.error().message.find("0x123000") != std::string::npos);
    CHECK(t::entries(dir.path) == 0);
  }
  // ENODATA from any source: excluded, counted, and the dump completes.
  FailingBackend b(*demo, 0x123000, HostError::enodata);
  t::TempDir dir;
  const auto out = dir.path / "x.kdump";
  auto r = dump::write_kdump_dump(b, out.string());
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(r->pages_unreadable == 1);
  auto loaded = dump::load_core(out.string());
  REQUIRE_MESSAGE(loaded, loaded.error());
  CHECK(check_pages(*demo, *loaded->backend, {0x123000}) == demo::storage_size / page - 1);
}

TEST_CASE("kdump writer: an interrupted dump leaves nothing, and an existing file stays as it was") {
  auto demo = demo::make_guest();
  for (const bool flattened : {false, true}) {
    CAPTURE(flattened);
    t::TempDir dir;
    const auto out = dir.path / "demo.kdump";
    { std::ofstream(out) << "old"; }
    dump::KdumpWriteOptions o;
    o.flattened = flattened;
    unsigned calls = 0;
    o.progress = [&](const dump::DumpProgress&) { return ++calls < 3; };
    auto r = dump::write_kdump_dump(*demo, out.string(), o);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == dump::DumpErrorKind::interrupted);
    CHECK(t::file_bytes(out) == std::vector<std::uint8_t>{'o', 'l', 'd'});
    CHECK(t::entries(dir.path) == 1);
    auto bad = dump::write_kdump_dump(*demo, (dir.path / "no" / "such.kdump").string());
    REQUIRE_FALSE(bad);
    CHECK(bad.error().kind == dump::DumpErrorKind::output);
  }
}

TEST_CASE("kdump writer: an ELF source converts to kdump and back to the same bytes; the source is untouched") {
  t::TempDir dir;
  t::CoreSpec spec;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(0x30000, 1)});
  spec.segments.push_back({.guest_addr = 0x100000, .data = t::core_test_bytes(0x5000, 2), .mem_size = 0x9000});
  spec.cpus.push_back({.state = t::sample_cpu_state(0)});
  const auto built = t::build_core(spec);
  const auto src = dir.path / "qemu.elf";
  t::write_file(src, built.bytes);
  auto a = dump::load_core(src.string());
  REQUIRE_MESSAGE(a, a.error());
  const auto out = dir.path / "bridge.kdump";
  auto r = dump::write_kdump_dump(*a->backend, out.string());
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(r->pages_present == 0x30 + 0x9);
  auto b = dump::load_core(out.string());
  REQUIRE_MESSAGE(b, b.error());
  t::check_same_cpus(*a->backend, *b->backend);
  t::check_same_storage(*a->backend, *b->backend);
  // kdump -> ELF -> the same bytes again.
  const auto elf = dir.path / "again.elf";
  REQUIRE(dump::write_elf_dump(*b->backend, elf.string()));
  auto c = dump::load_core(elf.string());
  REQUIRE_MESSAGE(c, c.error());
  t::check_same_storage(*a->backend, *c->backend);
  CHECK(t::file_bytes(src) == built.bytes);
}

}  // TEST_SUITE
