// dump::write_elf_dump (backends/dump/elf_writer.h) and the VMCOREINFO recovery
// (backends/dump/vmcoreinfo.h): guests written to ELF and read back with dump::load_core,
// every register group and every storage byte compared; the file's layout and note
// order; VMCOREINFO from os_info entry 0, from the lowcore's 0xe0c note, and the
// fallbacks when either is damaged; interruption leaves nothing behind.
#include <doctest/doctest.h>

#include <elf.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "backends/dump/elf_core.h"
#include "backends/dump/elf_writer.h"
#include "backends/dump/load_core.h"
#include "backends/dump/s390_notes.h"
#include "backends/dump/vmcoreinfo.h"
#include "backends/emulated/demo_guest.h"
#include "backends/emulated/emulated_backend.h"
#include "tests/backends/core_builder.h"
#include "tests/backends/dump_compare.h"
#include "tests/backends/temp_dir.h"
#include "translate/byteorder.h"

using namespace s390b;
namespace t = s390b::test;
using t::check_same_cpus;
using t::check_same_storage;
using t::read_abs;

namespace {

std::vector<std::uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

constexpr std::string_view sample_text =
    "OSRELEASE=6.1.0-50-s390x\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=1a0c000\nKERNELOFFSET=0\n";

// A small guest: 1 MiB at absolute 0, one CPU; helpers to plant os_info and the 0xe0c note.
struct SmallGuest {
  std::unique_ptr<EmulatedBackend> backend;
  Storage& storage() { return backend->storage(); }

  SmallGuest() {
    Storage s;
    REQUIRE(s.add_anonymous(0, 1 << 20));
    std::vector<std::uint8_t> fill = t::core_test_bytes(0x40000, 7);
    REQUIRE(s.write(0x80000, fill));
    backend = std::make_unique<EmulatedBackend>(std::move(s), std::vector<CpuState>{t::sample_cpu_state(3)});
  }
  void put64(std::uint64_t a, std::uint64_t v) { REQUIRE(storage().write_u64(a, v)); }
  void put_bytes(std::uint64_t a, std::span<const std::uint8_t> b) { REQUIRE(storage().write(a, b)); }

  // os_info at `page` whose entry 0 describes `text` at `text_addr`.
  void plant_os_info(std::uint64_t page, std::uint64_t text_addr, std::string_view text) {
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    put_bytes(text_addr, bytes);
    std::vector<std::uint8_t> p(dump::os_info::size, 0);
    store_be64(p.data(), dump::os_info::magic);
    store_be16(p.data() + 0x0c, 1);  // version 1.1
    store_be16(p.data() + 0x0e, 1);
    std::uint8_t* e = p.data() + dump::os_info::entry_offset;
    store_be64(e, text_addr);
    store_be64(e + 8, bytes.size());
    store_be32(e + 16, dump::cksm(bytes));
    store_be32(p.data() + 8, dump::cksm(std::span(p).subspan(0x0c)));
    put_bytes(page, p);
    put64(dump::linux_lowcore::os_info, page);
  }
  // A complete "VMCOREINFO" ELF note at `addr`, as the kernel keeps it, and 0xe0c -> it.
  std::vector<std::uint8_t> plant_note(std::uint64_t addr, std::string_view text) {
    const std::vector<std::uint8_t> bytes(text.begin(), text.end());
    std::vector<std::uint8_t> note;
    dump::append_note(note, "VMCOREINFO", 0, bytes);
    put_bytes(addr, note);
    put64(dump::linux_lowcore::vmcore_info, addr);
    return bytes;
  }
};

// The descriptor bytes of the file's VMCOREINFO note, or empty.
std::vector<std::uint8_t> vmcoreinfo_note_desc(const std::vector<std::uint8_t>& file) {
  auto image = dump::parse_elf_core(file);
  REQUIRE(image);
  for (const auto& n : image->notes)
    if (n.name == "VMCOREINFO" && n.type == 0)
      return {file.begin() + static_cast<std::ptrdiff_t>(n.desc_offset),
              file.begin() + static_cast<std::ptrdiff_t>(n.desc_offset + n.desc_size)};
  return {};
}

// A backend over an emulated one whose memory map is given and whose absolute reads fail
// (addressing exception) from `fail_at` on: what a map with many ranges and a source that
// cannot deliver a page look like to the writer.
class MapBackend final : public Backend, public MemoryMap {
 public:
  MapBackend(Backend& inner, std::vector<Range> ranges) : inner_(inner), ranges_(std::move(ranges)) {}
  std::uint64_t fail_at = ~std::uint64_t{0};

  std::string_view name() const override { return "map"; }
  unsigned cpu_count() const override { return inner_.cpu_count(); }
  std::uint32_t op_limit() const override { return inner_.op_limit(); }
  Facilities facilities() const override { return inner_.facilities(); }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override { return inner_.vcpu_memop(cpu, op); }
  MemopResult vm_memop(const Memop& op) override {
    if (op.gaddr + op.size > fail_at) return MemopResult::exception(Fault::plain(PgmCode::addressing));
    return inner_.vm_memop(op);
  }
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_.cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& s) override { return inner_.set_cpu_state(cpu, s); }
  IpteGuard ipte_lock() override { return inner_.ipte_lock(); }
  const MemoryMap* memory_map() const override { return this; }
  std::vector<Range> ranges() const override { return ranges_; }

 private:
  Backend& inner_;
  std::vector<Range> ranges_;
};

}  // namespace

TEST_SUITE("dump writer") {

TEST_CASE("cksm is CHECKSUM: 32-bit words, end-around carry, a short last word padded with zeros") {
  const std::vector<std::uint8_t> a{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2};
  CHECK(dump::cksm(a) == 2);  // 0xffffffff + 2 = 0x1'00000001 -> 0x00000002
  const std::vector<std::uint8_t> b{0x12, 0x34, 0x56, 0x78, 0x9a};
  CHECK(dump::cksm(b) == 0x12345678u + 0x9a000000u);
  CHECK(dump::cksm({}) == 0);
  CHECK(dump::cksm(a, 0xfffffffeu) == 1);  // 0xfffffffe + 0xffffffff + 2, carries folded
}

TEST_CASE("the demo guest written to ELF reads back with every register and byte") {
  t::TempDir dir;
  auto demo = demo::make_guest();
  const auto out = dir.path / "demo.elf";
  unsigned calls = 0;
  dump::ElfWriteOptions o;
  o.piece = 1 << 20;
  o.progress = [&](const dump::DumpProgress& p) {
    CHECK(p.done <= p.total);
    ++calls;
    return true;
  };
  auto r = dump::write_elf_dump(*demo, out.string(), o);
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(calls == demo::storage_size >> 20);
  CHECK(r->cpus == demo::cpu_count);
  CHECK(r->memory_bytes == demo::storage_size);
  CHECK(r->file_size == std::filesystem::file_size(out));
  CHECK_FALSE(r->vmcoreinfo.found);  // the demo guest is no Linux
  CHECK(r->vmcoreinfo.rejected.size() == 2);

  auto loaded = dump::load_core(out.string());
  REQUIRE_MESSAGE(loaded, loaded.error());
  CHECK_FALSE(loaded->vmcoreinfo);
  check_same_cpus(*demo, *loaded->backend);
  check_same_storage(*demo, *loaded->backend);
  // Nothing but the file itself in the directory (the temporary name is gone).
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
}

TEST_CASE("QEMU's layout: PT_NOTE first, PT_LOADs at absolute addresses, notes in QEMU's order") {
  t::TempDir dir;
  auto demo = demo::make_guest();
  const auto out = dir.path / "demo.elf";
  REQUIRE(dump::write_elf_dump(*demo, out.string()));
  const auto file = file_bytes(out);
  REQUIRE(file.size() > 64);
  CHECK(file[EI_CLASS] == ELFCLASS64);
  CHECK(file[EI_DATA] == ELFDATA2MSB);
  CHECK(load_be16(file.data() + 16) == ET_CORE);
  CHECK(load_be16(file.data() + 18) == EM_S390);
  const std::uint64_t phoff = load_be64(file.data() + 32);
  const std::uint16_t phnum = load_be16(file.data() + 56);
  REQUIRE(phnum == 2);
  CHECK(load_be32(file.data() + phoff) == PT_NOTE);
  const std::uint8_t* load = file.data() + phoff + 56;
  CHECK(load_be32(load) == PT_LOAD);
  CHECK(load_be64(load + 8) % 4096 == 0);                    // p_offset, page-aligned
  CHECK(load_be64(load + 16) == 0);                          // p_vaddr = p_paddr = absolute
  CHECK(load_be64(load + 24) == 0);
  CHECK(load_be64(load + 32) == demo::storage_size);         // p_filesz
  CHECK(load_be64(load + 40) == demo::storage_size);         // p_memsz

  auto image = dump::parse_elf_core(file);
  REQUIRE(image);
  // Per CPU: QEMU's order; the demo guest has no guarded storage, so no GS_CB; then
  // LAST_BREAK, which the demo guest has.
  const std::vector<std::pair<std::string, std::uint32_t>> want{
      {"CORE", 1}, {"CORE", 2}, {"LINUX", 0x305}, {"LINUX", 0x304}, {"LINUX", 0x301}, {"LINUX", 0x302},
      {"LINUX", 0x303}, {"LINUX", 0x309}, {"LINUX", 0x30a}, {"LINUX", 0x306}};
  REQUIRE(image->notes.size() == 2 * want.size());
  for (std::size_t i = 0; i < image->notes.size(); ++i) {
    CAPTURE(i);
    CHECK(image->notes[i].name == want[i % want.size()].first);
    CHECK(image->notes[i].type == want[i % want.size()].second);
  }
  CHECK(image->cpu_notes[0].pr_pid_be == 1);
  CHECK(image->cpu_notes[1].pr_pid_be == 2);
}

TEST_CASE("a QEMU-layout core converts to a file with the same registers and bytes") {
  t::TempDir dir;
  t::CoreSpec spec;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(0x30000, 1)});
  spec.segments.push_back({.guest_addr = 0x100000, .data = t::core_test_bytes(0x5000, 2), .mem_size = 0x9000});
  spec.cpus.push_back({.state = t::sample_cpu_state(0)});
  spec.cpus.push_back({.state = t::sample_cpu_state(1)});
  const auto built = t::build_core(spec);
  const auto src = dir.path / "qemu.elf";
  {
    std::ofstream f(src, std::ios::binary);
    f.write(reinterpret_cast<const char*>(built.bytes.data()), static_cast<std::streamsize>(built.bytes.size()));
  }
  auto a = dump::load_core(src.string());
  REQUIRE_MESSAGE(a, a.error());
  const auto out = dir.path / "bridge.elf";
  auto r = dump::write_elf_dump(*a->backend, out.string());
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(r->segments.size() == 2);  // the zero tail merged into its segment
  auto b = dump::load_core(out.string());
  REQUIRE_MESSAGE(b, b.error());
  check_same_cpus(*a->backend, *b->backend);
  check_same_storage(*a->backend, *b->backend);
  CHECK(file_bytes(src) == built.bytes);  // the source is untouched
}

TEST_CASE("VMCOREINFO from os_info entry 0, checksums checked, preferred to the 0xe0c note") {
  SmallGuest g;
  g.plant_os_info(0x10000, 0x11000, sample_text);
  g.plant_note(0x12000, "OSRELEASE=the-other-one\n");
  auto s = dump::recover_vmcoreinfo(*g.backend);
  REQUIRE(s.found);
  CHECK(s.found->origin == dump::VmcoreinfoOrigin::os_info);
  CHECK(s.found->address == 0x11000);
  CHECK(s.found->text() == sample_text);
  CHECK(s.found->value("OSRELEASE") == "6.1.0-50-s390x");
  CHECK(s.found->value("PAGESIZE") == "4096");
  CHECK_FALSE(s.found->value("NOPE"));
  CHECK(s.rejected.empty());

  t::TempDir dir;
  const auto out = dir.path / "g.elf";
  REQUIRE(dump::write_elf_dump(*g.backend, out.string()));
  const auto desc = vmcoreinfo_note_desc(file_bytes(out));
  CHECK(std::string(desc.begin(), desc.end()) == sample_text);
  auto loaded = dump::load_core(out.string());
  REQUIRE(loaded);
  CHECK(loaded->vmcoreinfo == std::string(sample_text));
  check_same_cpus(*g.backend, *loaded->backend);
  check_same_storage(*g.backend, *loaded->backend);
}

TEST_CASE("VMCOREINFO from the lowcore's 0xe0c note, copied verbatim, when os_info has none") {
  SmallGuest g;
  // What the Debian 6.1 guest has: os_info valid, entry 0 empty.
  g.plant_os_info(0x10000, 0x11000, sample_text);
  g.put64(0x10000 + dump::os_info::entry_offset, 0);
  g.put64(0x10000 + dump::os_info::entry_offset + 8, 0);
  std::vector<std::uint8_t> page = read_abs(*g.backend, 0x10000, 4096);
  store_be32(page.data() + 8, dump::cksm(std::span(page).subspan(0x0c)));
  g.put_bytes(0x10000, page);
  // The kernel's note text ends in a NUL inside n_descsz on some versions: kept as it is.
  std::string text(sample_text);
  text.push_back('\0');
  const auto bytes = g.plant_note(0x12000, text);
  auto s = dump::recover_vmcoreinfo(*g.backend);
  REQUIRE(s.found);
  CHECK(s.found->origin == dump::VmcoreinfoOrigin::lowcore_note);
  CHECK(s.found->address == 0x12000);
  CHECK(s.found->desc == bytes);
  REQUIRE(s.rejected.size() == 1);
  CHECK(s.rejected[0].find("entry 0 (VMCOREINFO) is empty") != std::string::npos);

  t::TempDir dir;
  const auto out = dir.path / "g.elf";
  REQUIRE(dump::write_elf_dump(*g.backend, out.string()));
  CHECK(vmcoreinfo_note_desc(file_bytes(out)) == bytes);
  auto loaded = dump::load_core(out.string());
  REQUIRE(loaded);
  CHECK(loaded->vmcoreinfo == std::string(sample_text));
}

TEST_CASE("a damaged os_info falls back to the 0xe0c note; with neither, no note and the reasons") {
  SmallGuest g;
  g.plant_os_info(0x10000, 0x11000, sample_text);
  g.plant_note(0x12000, "OSRELEASE=from-the-note\n");

  SUBCASE("page checksum") {
    g.put64(0x10000 + 0x10, 0x1234);  // crashkernel_addr changed, csum not updated
    auto s = dump::recover_vmcoreinfo(*g.backend);
    REQUIRE(s.found);
    CHECK(s.found->origin == dump::VmcoreinfoOrigin::lowcore_note);
    REQUIRE(s.rejected.size() == 1);
    CHECK(s.rejected[0].find("checksum") != std::string::npos);
  }
  SUBCASE("entry 0's checksum") {
    g.put_bytes(0x11000, std::vector<std::uint8_t>{'X'});
    auto s = dump::recover_vmcoreinfo(*g.backend);
    REQUIRE(s.found);
    CHECK(s.found->value("OSRELEASE") == "from-the-note");
    CHECK(s.rejected[0].find("entry 0 checksum") != std::string::npos);
  }
  SUBCASE("bad magic, unaligned and unbacked pointers") {
    for (std::uint64_t ptr : {0x10008ull, 0x4000000ull}) {
      g.put64(dump::linux_lowcore::os_info, ptr);
      auto s = dump::recover_vmcoreinfo(*g.backend);
      REQUIRE(s.found);
      CHECK(s.found->origin == dump::VmcoreinfoOrigin::lowcore_note);
    }
    g.put64(0x10000, 0);
    g.put64(dump::linux_lowcore::os_info, 0x10000);
    auto s = dump::recover_vmcoreinfo(*g.backend);
    CHECK(s.rejected[0].find("bad magic") != std::string::npos);
  }
  SUBCASE("neither: the note's name, size and text are checked too") {
    g.put64(dump::linux_lowcore::os_info, 0);
    for (int damage = 0; damage < 5; ++damage) {
      CAPTURE(damage);
      g.plant_note(0x12000, "OSRELEASE=from-the-note\n");
      switch (damage) {
        case 0: g.put_bytes(0x12000 + 12, std::vector<std::uint8_t>{'v'}); break;          // name
        case 1: g.put_bytes(0x12000 + 4, std::vector<std::uint8_t>{0x7f, 0, 0, 0}); break;  // n_descsz
        case 2: g.put_bytes(0x12000 + 24, std::vector<std::uint8_t>{0x01}); break;         // text
        case 3: g.put64(dump::linux_lowcore::vmcore_info, 0x12001); break;                 // odd: KASLR
        case 4: g.put64(dump::linux_lowcore::vmcore_info, 0); break;
      }
      auto s = dump::recover_vmcoreinfo(*g.backend);
      CHECK_FALSE(s.found);
      CHECK(s.rejected.size() == 2);
    }
    t::TempDir dir;
    const auto out = dir.path / "g.elf";
    auto r = dump::write_elf_dump(*g.backend, out.string());
    REQUIRE(r);
    CHECK_FALSE(r->vmcoreinfo.found);
    CHECK(vmcoreinfo_note_desc(file_bytes(out)).empty());
    auto loaded = dump::load_core(out.string());
    REQUIRE(loaded);
    CHECK_FALSE(loaded->vmcoreinfo);
  }
}

TEST_CASE("an interrupted dump leaves nothing, and an existing file stays as it was") {
  t::TempDir dir;
  auto demo = demo::make_guest();
  const auto out = dir.path / "demo.elf";
  { std::ofstream(out) << "old"; }
  dump::ElfWriteOptions o;
  unsigned calls = 0;
  o.progress = [&](const dump::DumpProgress&) { return ++calls < 3; };
  auto r = dump::write_elf_dump(*demo, out.string(), o);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == dump::DumpErrorKind::interrupted);
  CHECK(file_bytes(out) == std::vector<std::uint8_t>{'o', 'l', 'd'});
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path), std::filesystem::directory_iterator()) == 1);
  // A directory that does not exist: an output error naming it.
  auto bad = dump::write_elf_dump(*demo, (dir.path / "no" / "such.elf").string());
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == dump::DumpErrorKind::output);
}

TEST_CASE("encode_cpu_note is the inverse of decode_cpu_note for every interpreted note") {
  const CpuState src = t::sample_cpu_state(9);
  CpuState back;
  for (dump::NoteType type : dump::qemu_cpu_note_order) dump::decode_cpu_note(type, dump::encode_cpu_note(type, src, 1), back);
  dump::decode_cpu_note(dump::NoteType::s390_last_break, dump::encode_cpu_note(dump::NoteType::s390_last_break, src), back);
  CHECK(back.psw.mask == src.psw.mask);
  CHECK(back.gprs == src.gprs);
  CHECK(back.acrs == src.acrs);
  CHECK(back.crs == src.crs);
  CHECK(back.vrs == src.vrs);
  CHECK(back.fpc == src.fpc);
  CHECK(back.prefix == src.prefix);
  CHECK(back.cputm == src.cputm);
  CHECK(back.ckc == src.ckc);
  CHECK(back.todpr == src.todpr);
  CHECK(back.last_break == src.last_break);
  CHECK(back.gs == src.gs);
}

TEST_CASE("more than 65534 segments: PN_XNUM, the count in section header 0, read back") {
  SmallGuest g;
  // 70000 ranges of 8 bytes, 12 bytes apart, in reverse order: sorted, not merged.
  std::vector<MemoryMap::Range> ranges;
  constexpr std::uint64_t count = 70000;
  for (std::uint64_t i = count; i-- > 0;) ranges.push_back({0x20000 + 12 * i, 8});
  MapBackend b(*g.backend, ranges);
  t::TempDir dir;
  const auto out = dir.path / "many.elf";
  auto r = dump::write_elf_dump(b, out.string());
  REQUIRE_MESSAGE(r, r.error().message);
  CHECK(r->segments.size() == count);
  const auto file = file_bytes(out);
  CHECK(load_be16(file.data() + 56) == PN_XNUM);
  auto image = dump::parse_elf_core(file);
  REQUIRE_MESSAGE(image, image.error().message);
  CHECK(image->pn_xnum);
  CHECK(image->phdr_count == count + 1);
  REQUIRE(image->segments.size() == count);
  for (std::uint64_t i = 0; i < count; i += 9999) {
    CAPTURE(i);
    CHECK(image->segments[i].guest_addr == 0x20000 + 12 * i);
    std::vector<std::uint8_t> got(8);
    CHECK(dump::read_absolute(file, *image, 0x20000 + 12 * i, got) == 8);
    CHECK(got == read_abs(*g.backend, 0x20000 + 12 * i, 8));
  }
}

TEST_CASE("a page the source cannot deliver fails the dump, naming the address; nothing is left") {
  SmallGuest g;
  MapBackend b(*g.backend, {{0, 1 << 20}});
  b.fail_at = 0x54321;
  t::TempDir dir;
  const auto out = dir.path / "g.elf";
  dump::ElfWriteOptions o;
  o.piece = 0x10000;
  auto r = dump::write_elf_dump(b, out.string(), o);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == dump::DumpErrorKind::memory);
  CHECK(r.error().message.find("0x50000") != std::string::npos);  // the failing op's address
  CHECK(r.error().message.find("addressing") != std::string::npos);
  CHECK(std::filesystem::is_empty(dir.path));
  // No memory map at all: said so.
  auto demo = demo::make_guest();
  struct NoMap final : public Backend {
    Backend& in;
    explicit NoMap(Backend& i) : in(i) {}
    std::string_view name() const override { return "nomap"; }
    unsigned cpu_count() const override { return in.cpu_count(); }
    std::uint32_t op_limit() const override { return in.op_limit(); }
    Facilities facilities() const override { return in.facilities(); }
    MemopResult vcpu_memop(unsigned c, const Memop& op) override { return in.vcpu_memop(c, op); }
    MemopResult vm_memop(const Memop& op) override { return in.vm_memop(op); }
    tl::expected<CpuState, HostError> cpu_state(unsigned c) const override { return in.cpu_state(c); }
    tl::expected<void, HostError> set_cpu_state(unsigned c, const CpuState& s) override { return in.set_cpu_state(c, s); }
    IpteGuard ipte_lock() override { return in.ipte_lock(); }
  } nomap(*demo);
  auto n = dump::write_elf_dump(nomap, out.string());
  REQUIRE_FALSE(n);
  CHECK(n.error().kind == dump::DumpErrorKind::no_memory_map);
  CHECK(std::filesystem::is_empty(dir.path));
}

}  // TEST_SUITE
