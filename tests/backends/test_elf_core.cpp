// ELF core parser: round trips through the test-side builder, the reference's note sizes
// as golden values, every malformed case with its offset, truncation and byte flips.
#include <doctest/doctest.h>

#include <string>

#include "backends/dump/elf_core.h"
#include "tests/backends/core_builder.h"

namespace {

using s390b::CpuState;
using s390b::dump::CoreErrorKind;
using s390b::dump::CoreImage;
using s390b::dump::parse_elf_core;
using s390b::dump::read_absolute;
namespace t = s390b::test;

void check_registers_equal(const CpuState& got, const CpuState& want) {
  CHECK(got.psw == want.psw);
  CHECK(got.gprs == want.gprs);
  CHECK(got.acrs == want.acrs);
  CHECK(got.crs == want.crs);
  CHECK(got.fpc == want.fpc);
  CHECK(got.vrs == want.vrs);
  CHECK(got.prefix == want.prefix);
  CHECK(got.cputm == want.cputm);
  CHECK(got.ckc == want.ckc);
  CHECK(got.todpr == want.todpr);
  CHECK(got.last_break == want.last_break);
  CHECK(got.gs == want.gs);
}

void check_all_present(const CpuState::Present& p) {
  CHECK(p.gprs);
  CHECK(p.psw);
  CHECK(p.acrs);
  CHECK(p.crs);
  CHECK(p.fprs);
  CHECK(p.vrs);
  CHECK(p.prefix);
  CHECK(p.cputm);
  CHECK(p.ckc);
  CHECK(p.todpr);
  CHECK(p.last_break);
  CHECK(p.gs);
}

// A small QEMU-style core: one CPU, one 256-byte segment at 0.
t::CoreSpec small_spec() {
  t::CoreSpec spec;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(256, 7)});
  spec.cpus.push_back({.state = t::sample_cpu_state(3)});
  return spec;
}

// The two-CPU core with every note type and two segments used by several cases.
t::CoreSpec full_spec() {
  t::CoreSpec spec;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(0x3000, 1), .mem_size = 0x5000});
  spec.segments.push_back({.guest_addr = 0x100000, .data = t::core_test_bytes(0x1000, 2), .vaddr = 0x3ffe0000000});
  spec.cpus.push_back({.state = t::sample_cpu_state(10), .notes = t::all_cpu_notes, .orig_gpr2 = 0x1234});
  spec.cpus.push_back({.state = t::sample_cpu_state(11), .notes = t::all_cpu_notes, .pv_cpu_data_size = 0x41});
  spec.prpsinfo = true;
  spec.vmcoreinfo = std::string("OSRELEASE=6.1.0\nPAGESIZE=4096\n") + '\0';
  return spec;
}

CoreImage parse_ok(const t::BuiltCore& core) {
  auto image = parse_elf_core(core.span());
  REQUIRE_MESSAGE(image.has_value(), (image ? std::string() : image.error().message));
  return *image;
}

// Parses `core`, expects an error of `kind` at `offset` whose message contains `text`.
void expect_error(const t::BuiltCore& core, CoreErrorKind kind, std::uint64_t offset,
                  const std::string& text = {}) {
  auto image = parse_elf_core(core.span());
  REQUIRE_FALSE(image.has_value());
  INFO(image.error().message);
  CHECK(image.error().kind == kind);
  CHECK(image.error().offset == offset);
  CHECK(image.error().message.find(text) != std::string::npos);
}

std::string hex(std::uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v & 15]);
    v >>= 4;
  } while (v);
  return "0x" + s;
}

}  // namespace

TEST_CASE("elf core: QEMU note sizes match the reference") {
  // QEMU target/s390x/arch_dump.c: 1240 bytes of notes per CPU without PV; first note
  // header bytes.
  t::CoreSpec spec = small_spec();
  spec.cpus.push_back({.state = t::sample_cpu_state(4)});
  const t::BuiltCore core = t::build_core(spec);
  CHECK(core.layout.notes_size == 2 * 1240);
  const std::uint8_t first_note[] = {0, 0, 0, 5, 0, 0, 1, 0x50, 0, 0, 0, 1, 'C', 'O', 'R', 'E', 0, 0, 0, 0};
  CHECK(std::equal(std::begin(first_note), std::end(first_note),
                   core.bytes.begin() + static_cast<std::ptrdiff_t>(core.layout.notes_offset)));
  // NT_PRSTATUS pr_reg: the PSW mask big-endian at descriptor offset 112.
  const auto* pr = core.layout.find_note(NT_PRSTATUS, 0);
  REQUIRE(pr);
  CHECK(s390b::load_be64(&core.bytes[pr->desc_offset + 112]) == spec.cpus[0].state.psw.mask);
  CHECK(core.layout.phoff == 64);
}

TEST_CASE("elf core: round trip of two CPUs with every note type") {
  const t::CoreSpec spec = full_spec();
  const t::BuiltCore core = t::build_core(spec);
  const CoreImage image = parse_ok(core);

  REQUIRE(image.cpus.size() == 2);
  REQUIRE(image.cpu_notes.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    check_registers_equal(image.cpus[i], spec.cpus[i].state);
    check_all_present(image.cpus[i].present);
    CHECK(image.cpu_notes[i].pid() == i + 1);
    CHECK(image.cpu_notes[i].pr_pid_be == i + 1);
    CHECK(image.cpu_notes[i].vxrs_low);
    CHECK(image.cpu_notes[i].vxrs_high);
    CHECK(image.cpu_notes[i].pv_cpu_data);
    CHECK(image.cpu_notes[i].prstatus_offset == core.layout.find_note(NT_PRSTATUS, static_cast<int>(i))->offset);
  }
  CHECK(image.cpu_notes[0].orig_gpr2 == 0x1234);
  REQUIRE(image.vmcoreinfo.has_value());
  CHECK(*image.vmcoreinfo == "OSRELEASE=6.1.0\nPAGESIZE=4096\n");

  // Note metadata: every note in file order, CPU attribution, what was decoded.
  REQUIRE(image.notes.size() == core.layout.notes.size());
  for (std::size_t i = 0; i < image.notes.size(); ++i) {
    CAPTURE(i);
    CHECK(image.notes[i].offset == core.layout.notes[i].offset);
    CHECK(image.notes[i].desc_offset == core.layout.notes[i].desc_offset);
    CHECK(image.notes[i].type == core.layout.notes[i].type);
    const int cpu = core.layout.notes[i].cpu;
    CHECK(image.notes[i].cpu == (cpu < 0 ? std::optional<std::size_t>{} : std::optional<std::size_t>(cpu)));
  }
  CHECK(image.notes.front().name == "CORE");  // NT_PRPSINFO
  CHECK_FALSE(image.notes.front().interpreted);
  CHECK(image.notes.back().name == "VMCOREINFO");
  CHECK(image.notes.back().interpreted);

  // Segments: p_paddr, file range, zero tail, p_vaddr kept as information.
  REQUIRE(image.segments.size() == 2);
  CHECK(image.segments[0].guest_addr == 0);
  CHECK(image.segments[0].file_offset == core.layout.segment_data_offsets[0]);
  CHECK(image.segments[0].file_size == 0x3000);
  CHECK(image.segments[0].mem_size == 0x5000);
  CHECK(image.segments[1].guest_addr == 0x100000);
  CHECK(image.segments[1].vaddr == 0x3ffe0000000);
  CHECK(image.segments[1].phdr_index == core.layout.load_phdrs[1]);
  CHECK(image.aliases.empty());
  CHECK(image.phdr_count == 3);
  CHECK_FALSE(image.pn_xnum);

  CHECK(image.find_segment(0x4fff) == &image.segments[0]);
  CHECK(image.find_segment(0x5000) == nullptr);
  CHECK(image.find_segment(0x100fff) == &image.segments[1]);
  CHECK(image.find_segment(0x101000) == nullptr);

  // read_absolute: file bytes, then the zero tail, then a gap stops the copy.
  std::vector<std::uint8_t> buf(0x3000, 0xee);
  CHECK(read_absolute(core.span(), image, 0x2800, buf) == 0x2800);
  const auto& data0 = spec.segments[0].data;
  CHECK(std::equal(data0.begin() + 0x2800, data0.end(), buf.begin()));
  CHECK(std::all_of(buf.begin() + 0x800, buf.begin() + 0x2800, [](std::uint8_t b) { return b == 0; }));
  CHECK(buf[0x2800] == 0xee);
  std::vector<std::uint8_t> tail(16);
  CHECK(read_absolute(core.span(), image, 0x100ff8, tail) == 8);
  CHECK(read_absolute(core.span(), image, ~std::uint64_t{0}, tail) == 0);
  // A shorter view than the parsed file never reads past its end.
  CHECK(read_absolute(core.span().first(core.layout.segment_data_offsets[0] + 8), image, 0, tail) == 0);
}

TEST_CASE("elf core: note naming, subsets and present flags") {
  SUBCASE("older kernels name every CPU note CORE") {
    t::CoreSpec spec = full_spec();
    spec.naming = t::NoteNaming::all_core;
    const CoreImage image = parse_ok(t::build_core(spec));
    REQUIRE(image.cpus.size() == 2);
    check_registers_equal(image.cpus[1], spec.cpus[1].state);
    check_all_present(image.cpus[1].present);
  }
  SUBCASE("only NT_PRSTATUS") {
    t::CoreSpec spec = small_spec();
    spec.cpus[0].notes = t::note_prstatus;
    const CoreImage image = parse_ok(t::build_core(spec));
    REQUIRE(image.cpus.size() == 1);
    const auto& p = image.cpus[0].present;
    CHECK((p.psw && p.gprs && p.acrs));
    CHECK_FALSE((p.crs || p.fprs || p.vrs || p.prefix || p.cputm || p.ckc || p.todpr || p.last_break || p.gs));
    CHECK(image.cpus[0].gprs == spec.cpus[0].state.gprs);
  }
  SUBCASE("QEMU's set has no last break; vector registers need both halves") {
    t::CoreSpec spec = small_spec();
    spec.cpus[0].notes = t::qemu_cpu_notes & ~t::note_vxrs_high;
    const CoreImage image = parse_ok(t::build_core(spec));
    const auto& p = image.cpus[0].present;
    CHECK((p.fprs && p.crs && p.prefix && p.cputm && p.ckc && p.todpr && p.gs));
    CHECK_FALSE(p.last_break);
    CHECK_FALSE(p.vrs);
    CHECK(image.cpu_notes[0].vxrs_low);
    CHECK_FALSE(image.cpu_notes[0].vxrs_high);
  }
  SUBCASE("pr_pid in little-endian host order (QEMU under TCG on x86)") {
    t::CoreSpec spec = small_spec();
    spec.cpus[0].pid = 3;
    spec.cpus[0].pid_little_endian = true;
    const CoreImage image = parse_ok(t::build_core(spec));
    CHECK(image.cpu_notes[0].pr_pid_be == 0x03000000);
    CHECK(image.cpu_notes[0].pid() == 3);
  }
  SUBCASE("unknown notes are recorded and skipped") {
    t::CoreSpec spec = small_spec();
    spec.extra_notes.push_back({"GNU", 5, {1, 2, 3}});
    spec.extra_notes.push_back({"LINUX", 0x999, {1, 2, 3, 4}});
    const CoreImage image = parse_ok(t::build_core(spec));
    REQUIRE(image.notes.size() == 12);
    CHECK(image.notes[10].name == "GNU");
    CHECK(image.notes[10].desc_size == 3);
    CHECK_FALSE(image.notes[10].cpu.has_value());
    CHECK_FALSE(image.notes[11].interpreted);
  }
  SUBCASE("a core without notes or memory") {
    t::CoreSpec spec;
    spec.segments.push_back({.guest_addr = 0x2000, .mem_size = 0x1000, .excluded = true});
    const CoreImage image = parse_ok(t::build_core(spec));
    CHECK(image.cpus.empty());
    REQUIRE(image.segments.size() == 1);
    CHECK(image.segments[0].file_size == 0);
    std::vector<std::uint8_t> buf(8, 0xff);
    CHECK(read_absolute({}, image, 0x2ff8, buf) == 8);
    CHECK(buf == std::vector<std::uint8_t>(8, 0));
  }
}

TEST_CASE("elf core: real-world quirks") {
  SUBCASE("notes split over several PT_NOTE segments") {
    for (unsigned parts : {2u, 3u, 7u}) {
      CAPTURE(parts);
      t::CoreSpec spec = full_spec();
      spec.note_segments = parts;
      const t::BuiltCore core = t::build_core(spec);
      REQUIRE(core.layout.note_phdrs.size() == parts);
      const CoreImage image = parse_ok(core);
      REQUIRE(image.cpus.size() == 2);
      for (std::size_t i = 0; i < 2; ++i) check_registers_equal(image.cpus[i], spec.cpus[i].state);
      CHECK(image.vmcoreinfo.has_value());
    }
  }
  SUBCASE("PN_XNUM: the program-header count in section header 0") {
    t::CoreSpec spec = full_spec();
    spec.pn_xnum = true;
    const CoreImage image = parse_ok(t::build_core(spec));
    CHECK(image.pn_xnum);
    CHECK(image.phdr_count == 3);
    CHECK(image.segments.size() == 2);
    CHECK(image.cpus.size() == 2);
  }
  SUBCASE("zero bytes after the last note") {
    t::CoreSpec spec = small_spec();
    spec.segments.clear();  // notes end the file
    t::BuiltCore core = t::build_core(spec);
    core.bytes.resize(core.bytes.size() + 20, 0);
    core.put64(core.layout.phdr_offset(0) + 32, core.layout.notes_size + 20);
    CHECK(parse_ok(core).cpus.size() == 1);
  }
  SUBCASE("last note without its padding") {
    t::CoreSpec spec = small_spec();
    spec.segments.clear();
    spec.extra_notes.push_back({"GNU", 9, {1, 2, 3}});
    t::BuiltCore core = t::build_core(spec);
    core.bytes.pop_back();
    core.put64(core.layout.phdr_offset(0) + 32, core.layout.notes_size - 1);
    const CoreImage image = parse_ok(core);
    CHECK(image.notes.back().desc_size == 3);
  }
  SUBCASE("a kernel-image PT_LOAD repeating part of memory is an alias") {
    t::CoreSpec spec = small_spec();
    spec.segments[0].data = t::core_test_bytes(0x4000, 5);
    std::vector<std::uint8_t> image_part(spec.segments[0].data.begin() + 0x1000,
                                         spec.segments[0].data.begin() + 0x3000);
    spec.segments.push_back({.guest_addr = 0x1000, .data = image_part, .vaddr = 0x3ffffe00000});
    const CoreImage image = parse_ok(t::build_core(spec));
    REQUIRE(image.segments.size() == 1);
    REQUIRE(image.aliases.size() == 1);
    CHECK(image.aliases[0].vaddr == 0x3ffffe00000);
    CHECK(image.aliases[0].guest_addr == 0x1000);
  }
  SUBCASE("an alias over a zero tail must be zero") {
    t::CoreSpec spec = small_spec();
    spec.segments[0].mem_size = 0x2000;
    spec.segments.push_back({.guest_addr = 0x1000, .data = std::vector<std::uint8_t>(0x800)});
    CHECK(parse_ok(t::build_core(spec)).aliases.size() == 1);
    spec.segments[1].data[0x7ff] = 1;
    const t::BuiltCore core = t::build_core(spec);
    expect_error(core, CoreErrorKind::overlapping_segments, core.layout.phdr_offset(2), "overlaps program header 1");
  }
  SUBCASE("segments are sorted by guest address") {
    t::CoreSpec spec = small_spec();
    spec.segments.insert(spec.segments.begin(), t::CoreSegmentSpec{.guest_addr = 0x8000, .data = t::core_test_bytes(16, 9)});
    const CoreImage image = parse_ok(t::build_core(spec));
    REQUIRE(image.segments.size() == 2);
    CHECK(image.segments[0].guest_addr == 0);
    CHECK(image.segments[1].guest_addr == 0x8000);
    CHECK(image.segments[1].phdr_index == 1);
  }
}

TEST_CASE("elf core: malformed headers name the offset") {
  const t::CoreSpec spec = small_spec();
  const t::BuiltCore good = t::build_core(spec);

  SUBCASE("not ELF") {
    t::BuiltCore core = good;
    core.bytes[1] = 'X';
    expect_error(core, CoreErrorKind::bad_magic, 0, "not an ELF file");
  }
  SUBCASE("ELFCLASS32") {
    t::BuiltCore core = good;
    core.bytes[EI_CLASS] = ELFCLASS32;
    expect_error(core, CoreErrorKind::bad_class, EI_CLASS, "ELFCLASS64");
  }
  SUBCASE("little-endian") {
    t::BuiltCore core = good;
    core.bytes[EI_DATA] = ELFDATA2LSB;
    expect_error(core, CoreErrorKind::bad_data_encoding, EI_DATA, "little-endian");
  }
  SUBCASE("not ET_CORE") {
    t::BuiltCore core = good;
    core.put16(16, ET_EXEC);
    expect_error(core, CoreErrorKind::bad_type, 16, "e_type is 2");
  }
  SUBCASE("not EM_S390") {
    t::BuiltCore core = good;
    core.put16(18, EM_X86_64);
    expect_error(core, CoreErrorKind::bad_machine, 18, "e_machine is 62");
  }
  SUBCASE("zero program headers") {
    t::BuiltCore core = good;
    core.put16(56, 0);
    expect_error(core, CoreErrorKind::no_program_headers, 56, "no program headers");
  }
  SUBCASE("e_phoff 0") {
    t::BuiltCore core = good;
    core.put64(32, 0);
    expect_error(core, CoreErrorKind::bad_header, 32, "e_phoff is 0");
  }
  SUBCASE("e_phentsize too small") {
    t::BuiltCore core = good;
    core.put16(54, 32);
    expect_error(core, CoreErrorKind::bad_header, 54, "e_phentsize 32");
  }
  SUBCASE("program-header table beyond end of file") {
    t::BuiltCore core = good;
    core.put64(32, core.bytes.size() - 56);
    expect_error(core, CoreErrorKind::header_out_of_bounds, core.bytes.size() - 56, "run past end of file");
    core.put64(32, ~std::uint64_t{0} - 8);  // phoff + size would wrap
    expect_error(core, CoreErrorKind::header_out_of_bounds, ~std::uint64_t{0} - 8, "program header table");
  }
  SUBCASE("PN_XNUM without section headers") {
    t::BuiltCore core = good;
    core.put16(56, PN_XNUM);
    expect_error(core, CoreErrorKind::bad_header, 56, "e_shoff is 0");
    core.put64(40, core.bytes.size() - 10);
    core.put16(58, 64);
    expect_error(core, CoreErrorKind::header_out_of_bounds, core.bytes.size() - 10, "section header 0");
    core.put16(58, 40);
    expect_error(core, CoreErrorKind::bad_header, 58, "e_shentsize 40");
  }
  SUBCASE("PN_XNUM count of zero") {
    t::CoreSpec x = spec;
    x.pn_xnum = true;
    t::BuiltCore core = t::build_core(x);
    core.put32(core.layout.shoff + 44, 0);
    expect_error(core, CoreErrorKind::no_program_headers, 56);
  }
}

TEST_CASE("elf core: malformed segments name the program header") {
  t::CoreSpec spec = small_spec();
  spec.segments.push_back({.guest_addr = 0x1000, .data = t::core_test_bytes(64, 2)});
  const t::BuiltCore good = t::build_core(spec);
  const std::uint64_t ph1 = good.layout.phdr_offset(1);  // first PT_LOAD
  const std::uint64_t ph2 = good.layout.phdr_offset(2);
  const std::uint64_t size = good.bytes.size();

  SUBCASE("p_offset + p_filesz beyond end of file") {
    t::BuiltCore core = good;
    core.put64(ph2 + 32, 65);
    core.put64(ph2 + 40, 65);
    expect_error(core, CoreErrorKind::segment_out_of_bounds, ph2,
                 "program header 2 at offset " + hex(ph2) + ": p_offset+p_filesz " + hex(size + 1) +
                     " beyond end of file " + hex(size));
  }
  SUBCASE("p_offset + p_filesz wraps") {
    t::BuiltCore core = good;
    core.put64(ph1 + 8, ~std::uint64_t{0} - 16);
    expect_error(core, CoreErrorKind::segment_out_of_bounds, ph1, "wraps past 2^64");
  }
  SUBCASE("p_filesz > p_memsz") {
    t::BuiltCore core = good;
    core.put64(ph1 + 40, 255);
    expect_error(core, CoreErrorKind::bad_segment, ph1, "p_filesz 0x100 exceeds p_memsz 0xff");
  }
  SUBCASE("p_paddr + p_memsz wraps") {
    t::BuiltCore core = good;
    core.put64(ph2 + 24, ~std::uint64_t{0} - 32);
    expect_error(core, CoreErrorKind::bad_segment, ph2, "wraps past 2^64");
  }
  SUBCASE("overlapping segments") {
    t::BuiltCore core = good;
    core.put64(ph2 + 24, 0xf0);  // [0xf0, 0x130) against [0, 0x100)
    expect_error(core, CoreErrorKind::overlapping_segments, ph2,
                 "program header 2 at offset " + hex(ph2) + ": guest range [0xf0, 0x130) overlaps program header 1 [0x0, 0x100)");
  }
  SUBCASE("PT_NOTE beyond end of file") {
    t::BuiltCore core = good;
    core.put64(good.layout.phdr_offset(0) + 32, size);
    expect_error(core, CoreErrorKind::segment_out_of_bounds, good.layout.phdr_offset(0), "program header 0");
  }
  SUBCASE("p_memsz 0 is skipped, excluded blocks accepted") {
    t::BuiltCore core = good;
    core.put64(ph2 + 32, 0);
    core.put64(ph2 + 40, 0);
    core.put64(ph1 + 8, ~std::uint64_t{0});
    core.put64(ph1 + 32, 0);
    const CoreImage image = parse_ok(core);
    REQUIRE(image.segments.size() == 1);
    CHECK(image.segments[0].file_size == 0);
  }
}

TEST_CASE("elf core: malformed notes name the note") {
  const t::CoreSpec spec = small_spec();
  const t::BuiltCore good = t::build_core(spec);
  const auto& notes = good.layout.notes;

  SUBCASE("n_namesz past the segment") {
    t::BuiltCore core = good;
    core.put32(notes[3].offset, 0x10000);
    expect_error(core, CoreErrorKind::bad_note, notes[3].offset, "n_namesz 0x10000");
  }
  SUBCASE("n_descsz past the segment") {
    t::BuiltCore core = good;
    core.put32(notes.back().offset + 4, 0xffffffff);
    expect_error(core, CoreErrorKind::bad_note, notes.back().offset, "n_descsz 0xffffffff");
  }
  SUBCASE("a partial note header at the end") {
    t::BuiltCore core = good;
    const std::uint64_t ph0 = good.layout.phdr_offset(0);
    // Shrink the note segment so that 8 bytes of the last note's header remain.
    const std::uint64_t cut = notes.back().offset + 8 - good.layout.notes_offset;
    core.put64(ph0 + 32, cut);
    expect_error(core, CoreErrorKind::bad_note, notes.back().offset, "only 8 bytes left");
  }
  SUBCASE("wrong descriptor size for a CPU note") {
    t::CoreSpec s = spec;
    s.cpus[0].notes &= ~t::note_prefix;
    s.extra_notes.push_back({"LINUX", NT_S390_PREFIX, std::vector<std::uint8_t>(8)});
    const t::BuiltCore core = t::build_core(s);
    expect_error(core, CoreErrorKind::bad_note_size, core.layout.notes.back().offset,
                 "NT_S390_PREFIX for CPU 0 has n_descsz 8, expected 4");
  }
  SUBCASE("wrong NT_PRSTATUS size") {
    t::CoreSpec s = spec;
    s.cpus.clear();
    s.extra_notes.push_back({"CORE", NT_PRSTATUS, std::vector<std::uint8_t>(332)});
    const t::BuiltCore core = t::build_core(s);
    expect_error(core, CoreErrorKind::bad_note_size, core.layout.notes.back().offset, "NT_PRSTATUS");
  }
  SUBCASE("a CPU note before any NT_PRSTATUS") {
    t::CoreSpec s = spec;
    s.cpus.clear();
    s.extra_notes.push_back({"LINUX", NT_S390_CTRS, std::vector<std::uint8_t>(128)});
    const t::BuiltCore core = t::build_core(s);
    expect_error(core, CoreErrorKind::orphan_cpu_note, core.layout.notes.back().offset,
                 "NT_S390_CTRS comes before the first NT_PRSTATUS");
  }
  SUBCASE("the same CPU note twice") {
    t::CoreSpec s = spec;
    s.extra_notes.push_back({"LINUX", NT_S390_TIMER, std::vector<std::uint8_t>(8)});
    const t::BuiltCore core = t::build_core(s);
    expect_error(core, CoreErrorKind::duplicate_cpu_note, core.layout.notes.back().offset,
                 "second NT_S390_TIMER for CPU 0");
  }
}

TEST_CASE("elf core: every truncation of a small core fails cleanly") {
  const t::BuiltCore core = t::build_core(small_spec());
  REQUIRE(parse_elf_core(core.span()).has_value());
  for (std::size_t len = 0; len < core.bytes.size(); ++len) {
    CAPTURE(len);
    const auto image = parse_elf_core(core.span().first(len));
    REQUIRE_FALSE(image.has_value());
    CHECK_FALSE(image.error().message.empty());
    CHECK(image.error().offset <= std::max<std::uint64_t>(len, core.bytes.size()));
  }
}

TEST_CASE("elf core: flipping any byte never crashes") {
  t::CoreSpec spec = small_spec();
  spec.note_segments = 2;
  const t::BuiltCore core = t::build_core(spec);
  std::vector<std::uint8_t> bytes = core.bytes;
  std::size_t errors = 0;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    for (std::uint8_t flip : {std::uint8_t{0xff}, std::uint8_t{0x80}, std::uint8_t{0x01}}) {
      bytes[i] ^= flip;
      auto image = parse_elf_core(bytes);
      if (!image) {
        ++errors;
        CHECK_FALSE(image.error().message.empty());
      } else {
        std::vector<std::uint8_t> buf(64);
        for (const auto& seg : image->segments) (void)read_absolute(bytes, *image, seg.guest_addr, buf);
      }
      bytes[i] ^= flip;
    }
  }
  CHECK(errors > 0);
}
