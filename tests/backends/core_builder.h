// Test-side writer of s390x ELF core files, byte by byte, from a description: memory
// segments with their data and CPUs with their registers. Used by the dump parser's
// tests, the fuzz-corpus generator, and any test that needs a post-mortem guest (the gdb
// end-to-end tests serve a core built this way).
//
// The default output is what QEMU's dump-guest-memory writes for s390x
// (QEMU dump/dump.c, target/s390x/arch_dump.c): ELF header, PT_NOTE program header(s), PT_LOAD
// program headers, notes (per CPU: a "CORE" group with NT_PRSTATUS and NT_FPREGSET, then
// a "LINUX" group with PREFIX, CTRS, TIMER, TODCMP, TODPREG, VXRS_LOW, VXRS_HIGH,
// GS_CB), then each segment's bytes. Options give the kernel /proc/vmcore flavour
// (NT_PRPSINFO first, every name "CORE", VMCOREINFO last), split note segments, PN_XNUM
// and raw extra notes for malformed-input tests.
//
// Payload offsets here are written out from the reference tables on purpose instead of
// reusing backends/dump/s390_notes.h: the builder is the independent side of the round
// trip, so a wrong offset in the parser cannot hide behind the same wrong constant.
//
// Usage:
//   s390b::test::CoreSpec spec;
//   spec.segments.push_back({.guest_addr = 0, .data = s390b::test::core_test_bytes(8192, 1)});
//   spec.cpus.push_back({.state = s390b::test::sample_cpu_state(0)});
//   s390b::test::BuiltCore core = s390b::test::build_core(spec);
//   auto image = s390b::dump::parse_elf_core(core.bytes);
//   // core.layout tells where every header and note landed, for patching.
#pragma once

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/cpu_state.h"
#include "translate/byteorder.h"

namespace s390b::test {

// Which per-CPU notes to write (a bit set).
enum CoreNote : std::uint32_t {
  note_prstatus = 1u << 0,
  note_fpregset = 1u << 1,
  note_prefix = 1u << 2,
  note_ctrs = 1u << 3,
  note_timer = 1u << 4,
  note_todcmp = 1u << 5,
  note_todpreg = 1u << 6,
  note_vxrs_low = 1u << 7,
  note_vxrs_high = 1u << 8,
  note_gs_cb = 1u << 9,
  note_last_break = 1u << 10,  // never written by QEMU; kernels may
  note_pv_cpu_data = 1u << 11, // opaque bytes, QEMU 7.2+ for protected guests
};
// Exactly what QEMU writes for a non-PV guest.
inline constexpr std::uint32_t qemu_cpu_notes = note_prstatus | note_fpregset | note_prefix | note_ctrs |
                                                note_timer | note_todcmp | note_todpreg | note_vxrs_low |
                                                note_vxrs_high | note_gs_cb;
// Every note type the parser decodes or knows.
inline constexpr std::uint32_t all_cpu_notes = qemu_cpu_notes | note_last_break | note_pv_cpu_data;

// Note names: QEMU ("CORE" for PRSTATUS/FPREGSET, "LINUX" for the s390 notes) or older
// kernels ("CORE" for all).
enum class NoteNaming { qemu, all_core };

struct CoreSegmentSpec {
  std::uint64_t guest_addr = 0;        // p_paddr (guest absolute)
  std::vector<std::uint8_t> data{};    // the file bytes; p_filesz = data.size()
  std::uint64_t mem_size = 0;          // p_memsz; 0 means data.size(); larger gives a zero tail
  std::optional<std::uint64_t> vaddr{};  // p_vaddr; default guest_addr
  bool excluded = false;               // QEMU's begin/length filter: p_offset = -1, no data
};

struct CoreCpuSpec {
  CpuState state{};                      // values written; `present` is ignored
  std::uint32_t notes = qemu_cpu_notes;  // which notes to write
  std::optional<std::uint32_t> pid{};    // pr_pid; default index + 1
  bool pid_little_endian = false;        // QEMU under TCG on x86 stores pr_pid host-order
  std::uint64_t orig_gpr2 = 0;
  std::uint32_t pv_cpu_data_size = 64;   // descsz of NT_S390_PV_CPU_DATA
};

struct RawNote {
  std::string name{};  // written with a terminating NUL (namesz = size + 1)
  std::uint32_t type = 0;
  std::vector<std::uint8_t> desc{};
};

struct CoreSpec {
  std::vector<CoreSegmentSpec> segments;
  std::vector<CoreCpuSpec> cpus;
  NoteNaming naming = NoteNaming::qemu;
  bool prpsinfo = false;                   // kernel style: an NT_PRPSINFO note first
  std::vector<RawNote> extra_notes;        // after the CPU notes
  std::optional<std::string> vmcoreinfo;   // a VMCOREINFO note, last
  unsigned note_segments = 1;              // PT_NOTE headers the notes are split over (0: none)
  bool pn_xnum = false;                    // e_phnum = PN_XNUM, count in section header 0
};

// Where things landed in the file.
struct CoreLayout {
  struct Note {
    std::uint64_t offset = 0;       // note header
    std::uint64_t desc_offset = 0;  // descriptor
    std::uint32_t type = 0;
    int cpu = -1;                   // CPU index for per-CPU notes
  };
  std::uint64_t phoff = 64;
  std::uint64_t phentsize = 56;
  std::size_t phnum = 0;
  std::uint64_t shoff = 0;                          // 0 unless pn_xnum
  std::vector<std::size_t> note_phdrs;              // program-header indices of PT_NOTEs
  std::vector<std::size_t> load_phdrs;              // program-header index of segments[i]
  std::uint64_t notes_offset = 0, notes_size = 0;   // all notes, contiguous
  std::vector<Note> notes;                          // file order
  std::vector<std::uint64_t> segment_data_offsets;  // file offset of segments[i].data

  std::uint64_t phdr_offset(std::size_t i) const { return phoff + i * phentsize; }
  // The i-th note of `type` (for `cpu`, or any CPU when cpu < 0).
  const Note* find_note(std::uint32_t type, int cpu = -1, std::size_t nth = 0) const {
    for (const Note& n : notes) {
      if (n.type == type && (cpu < 0 || n.cpu == cpu) && nth-- == 0) return &n;
    }
    return nullptr;
  }
};

struct BuiltCore {
  std::vector<std::uint8_t> bytes;
  CoreLayout layout;

  std::span<const std::uint8_t> span() const { return bytes; }
  // Patch helpers for malformed-input tests.
  void put16(std::uint64_t off, std::uint16_t v) { store_be16(bytes.data() + off, v); }
  void put32(std::uint64_t off, std::uint32_t v) { store_be32(bytes.data() + off, v); }
  void put64(std::uint64_t off, std::uint64_t v) { store_be64(bytes.data() + off, v); }
};

// Deterministic filler bytes.
inline std::vector<std::uint8_t> core_test_bytes(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed * 2654435761u + 12345u;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

// A CPU with every register set to a distinct value derived from `seed` and every
// `present` flag set: a 64-bit, DAT-on, home-space PSW, an 8 KiB-aligned prefix.
inline CpuState sample_cpu_state(unsigned seed) {
  std::uint64_t s = 0x9e3779b97f4a7c15ull * (seed + 1);
  auto next = [&s] {  // splitmix64
    std::uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  CpuState c;
  c.psw.mask = Psw::dat_bit | Psw::io_bit | Psw::ext_bit | Psw::mcheck_bit | Psw::as_mask | Psw::ea_bit |
               Psw::ba_bit;
  c.psw.addr = next() & 0x000003fffffffffeull;
  for (auto& r : c.gprs) r = next();
  for (auto& r : c.acrs) r = static_cast<std::uint32_t>(next());
  for (auto& r : c.crs) r = next();
  c.fpc = static_cast<std::uint32_t>(next()) & 0xf8f8ff77u;
  for (auto& v : c.vrs) v = {next(), next()};
  c.prefix = static_cast<std::uint32_t>(next()) & 0x7fffe000u;
  c.cputm = next();
  c.ckc = next();
  c.todpr = static_cast<std::uint32_t>(next()) & 0xffffu;
  c.last_break = next() & ~1ull;
  for (auto& g : c.gs) g = next();
  c.present = {.gprs = true, .psw = true, .acrs = true, .crs = true, .fprs = true, .vrs = true,
               .prefix = true, .cputm = true, .ckc = true, .todpr = true, .last_break = true,
               .gs = true};
  return c;
}

namespace core_builder_detail {

struct PendingNote {
  std::string name;
  std::uint32_t type = 0;
  std::vector<std::uint8_t> desc;
  int cpu = -1;
};

inline std::vector<std::uint8_t> zeros(std::size_t n) { return std::vector<std::uint8_t>(n); }

// One CPU's notes, in QEMU's order (QEMU target/s390x/arch_dump.c), plus LAST_BREAK and
// PV data.
inline void cpu_notes(const CoreCpuSpec& cpu, int index, NoteNaming naming,
                      std::vector<PendingNote>& out) {
  const std::string core = "CORE";
  const std::string linux_name = naming == NoteNaming::qemu ? "LINUX" : "CORE";
  const CpuState& s = cpu.state;
  auto add = [&](std::uint32_t bit, const std::string& name, std::uint32_t type, std::vector<std::uint8_t> d) {
    if (cpu.notes & bit) out.push_back({name, type, std::move(d), index});
  };
  {  // NT_PRSTATUS, 336 bytes: pid at 32, PSW at 112, GPRs at 128, ACRs at 256, orig_gpr2 at 320
    auto d = zeros(336);
    const std::uint32_t pid = cpu.pid.value_or(static_cast<std::uint32_t>(index + 1));
    if (cpu.pid_little_endian) {
      for (int i = 0; i < 4; ++i) d[32 + i] = static_cast<std::uint8_t>(pid >> (8 * i));
    } else {
      store_be32(&d[32], pid);
    }
    store_be64(&d[112], s.psw.mask);
    store_be64(&d[120], s.psw.addr);
    for (int i = 0; i < 16; ++i) store_be64(&d[128 + 8 * i], s.gprs[i]);
    for (int i = 0; i < 16; ++i) store_be32(&d[256 + 4 * i], s.acrs[i]);
    store_be64(&d[320], cpu.orig_gpr2);
    add(note_prstatus, core, NT_PRSTATUS, std::move(d));
  }
  {  // NT_FPREGSET, 136 bytes: fpc, pad, f0-f15
    auto d = zeros(136);
    store_be32(&d[0], s.fpc);
    for (int i = 0; i < 16; ++i) store_be64(&d[8 + 8 * i], s.vrs[i][0]);
    add(note_fpregset, core, NT_FPREGSET, std::move(d));
  }
  {
    auto d = zeros(4);
    store_be32(&d[0], s.prefix);
    add(note_prefix, linux_name, NT_S390_PREFIX, std::move(d));
  }
  {
    auto d = zeros(128);
    for (int i = 0; i < 16; ++i) store_be64(&d[8 * i], s.crs[i]);
    add(note_ctrs, linux_name, NT_S390_CTRS, std::move(d));
  }
  {
    auto d = zeros(8);
    store_be64(&d[0], s.cputm);
    add(note_timer, linux_name, NT_S390_TIMER, std::move(d));
  }
  {
    auto d = zeros(8);
    store_be64(&d[0], s.ckc);
    add(note_todcmp, linux_name, NT_S390_TODCMP, std::move(d));
  }
  {
    auto d = zeros(4);
    store_be32(&d[0], s.todpr);
    add(note_todpreg, linux_name, NT_S390_TODPREG, std::move(d));
  }
  {  // right halves of V0-V15
    auto d = zeros(128);
    for (int i = 0; i < 16; ++i) store_be64(&d[8 * i], s.vrs[i][1]);
    add(note_vxrs_low, linux_name, NT_S390_VXRS_LOW, std::move(d));
  }
  {  // V16-V31, left half first
    auto d = zeros(256);
    for (int i = 0; i < 16; ++i) {
      store_be64(&d[16 * i], s.vrs[16 + i][0]);
      store_be64(&d[16 * i + 8], s.vrs[16 + i][1]);
    }
    add(note_vxrs_high, linux_name, NT_S390_VXRS_HIGH, std::move(d));
  }
  {
    auto d = zeros(32);
    for (int i = 0; i < 4; ++i) store_be64(&d[8 * i], s.gs[i]);
    add(note_gs_cb, linux_name, NT_S390_GS_CB, std::move(d));
  }
  {
    auto d = zeros(8);
    store_be64(&d[0], s.last_break);
    add(note_last_break, linux_name, NT_S390_LAST_BREAK, std::move(d));
  }
  add(note_pv_cpu_data, linux_name, 0x30e /* NT_S390_PV_CPU_DATA, not in glibc 2.36 */,
      std::vector<std::uint8_t>(cpu.pv_cpu_data_size, 0xa5));
}

inline std::uint64_t align4(std::uint64_t v) { return (v + 3) & ~std::uint64_t{3}; }

inline void append_note(std::vector<std::uint8_t>& out, const PendingNote& n) {
  const std::size_t start = out.size();
  const std::size_t namesz = n.name.size() + 1;
  out.resize(start + 12 + align4(namesz) + align4(n.desc.size()), 0);
  store_be32(&out[start], static_cast<std::uint32_t>(namesz));
  store_be32(&out[start + 4], static_cast<std::uint32_t>(n.desc.size()));
  store_be32(&out[start + 8], n.type);
  std::copy(n.name.begin(), n.name.end(), out.begin() + static_cast<std::ptrdiff_t>(start + 12));
  std::copy(n.desc.begin(), n.desc.end(), out.begin() + static_cast<std::ptrdiff_t>(start + 12 + align4(namesz)));
}

}  // namespace core_builder_detail

inline BuiltCore build_core(const CoreSpec& spec) {
  using namespace core_builder_detail;
  std::vector<PendingNote> notes;
  if (spec.prpsinfo) notes.push_back({"CORE", NT_PRPSINFO, zeros(136), -1});
  for (std::size_t i = 0; i < spec.cpus.size(); ++i) cpu_notes(spec.cpus[i], static_cast<int>(i), spec.naming, notes);
  for (const RawNote& r : spec.extra_notes) notes.push_back({r.name, r.type, r.desc, -1});
  if (spec.vmcoreinfo) {
    notes.push_back({"VMCOREINFO", 0, std::vector<std::uint8_t>(spec.vmcoreinfo->begin(), spec.vmcoreinfo->end()), -1});
  }

  BuiltCore core;
  CoreLayout& L = core.layout;
  const std::size_t note_segs = notes.empty() ? 0 : std::min<std::size_t>(spec.note_segments, notes.size());
  L.phnum = note_segs + spec.segments.size();
  L.shoff = spec.pn_xnum ? L.phoff + L.phnum * L.phentsize : 0;
  L.notes_offset = L.phoff + L.phnum * L.phentsize + (spec.pn_xnum ? 64 : 0);

  // Notes, and the split points of the PT_NOTE segments (consecutive groups of notes).
  std::vector<std::uint8_t> blob;
  std::vector<std::uint64_t> group_start(note_segs + 1, 0);
  for (std::size_t i = 0; i < notes.size(); ++i) {
    for (std::size_t g = 1; g < note_segs; ++g) {
      if (i == g * notes.size() / note_segs) group_start[g] = blob.size();
    }
    const std::uint64_t off = L.notes_offset + blob.size();
    const std::uint64_t desc_off = off + 12 + align4(notes[i].name.size() + 1);
    L.notes.push_back({off, desc_off, notes[i].type, notes[i].cpu});
    append_note(blob, notes[i]);
  }
  if (note_segs) group_start[note_segs] = blob.size();
  L.notes_size = blob.size();

  std::uint64_t data_off = L.notes_offset + L.notes_size;
  for (const CoreSegmentSpec& seg : spec.segments) {
    L.segment_data_offsets.push_back(data_off);
    if (!seg.excluded) data_off += seg.data.size();
  }

  auto& b = core.bytes;
  b.assign(data_off, 0);
  // ELF header (gABI Elf64_Ehdr).
  b[EI_MAG0] = ELFMAG0;
  b[EI_MAG1] = ELFMAG1;
  b[EI_MAG2] = ELFMAG2;
  b[EI_MAG3] = ELFMAG3;
  b[EI_CLASS] = ELFCLASS64;
  b[EI_DATA] = ELFDATA2MSB;
  b[EI_VERSION] = EV_CURRENT;
  b[EI_OSABI] = ELFOSABI_SYSV;
  store_be16(&b[16], ET_CORE);
  store_be16(&b[18], EM_S390);
  store_be32(&b[20], EV_CURRENT);
  store_be64(&b[32], L.phoff);
  store_be64(&b[40], L.shoff);
  store_be16(&b[52], 64);
  store_be16(&b[54], static_cast<std::uint16_t>(L.phentsize));
  store_be16(&b[56], spec.pn_xnum ? PN_XNUM : static_cast<std::uint16_t>(L.phnum));
  store_be16(&b[58], spec.pn_xnum ? 64 : 0);
  store_be16(&b[60], spec.pn_xnum ? 1 : 0);
  if (spec.pn_xnum) store_be32(&b[L.shoff + 44], static_cast<std::uint32_t>(L.phnum));  // sh_info

  auto phdr = [&](std::size_t i, std::uint32_t type, std::uint64_t offset, std::uint64_t vaddr,
                  std::uint64_t paddr, std::uint64_t filesz, std::uint64_t memsz) {
    std::uint8_t* p = &b[L.phdr_offset(i)];
    store_be32(p + 0, type);
    store_be64(p + 8, offset);
    store_be64(p + 16, vaddr);
    store_be64(p + 24, paddr);
    store_be64(p + 32, filesz);
    store_be64(p + 40, memsz);
  };
  for (std::size_t g = 0; g < note_segs; ++g) {
    const std::uint64_t size = group_start[g + 1] - group_start[g];
    phdr(g, PT_NOTE, L.notes_offset + group_start[g], 0, 0, size, size);
    L.note_phdrs.push_back(g);
  }
  for (std::size_t i = 0; i < spec.segments.size(); ++i) {
    const CoreSegmentSpec& seg = spec.segments[i];
    const std::size_t index = note_segs + i;
    const std::uint64_t filesz = seg.excluded ? 0 : seg.data.size();
    const std::uint64_t memsz = seg.mem_size ? seg.mem_size : seg.data.size();
    phdr(index, PT_LOAD, seg.excluded ? ~std::uint64_t{0} : L.segment_data_offsets[i],
         seg.vaddr.value_or(seg.guest_addr), seg.guest_addr, filesz, memsz);
    L.load_phdrs.push_back(index);
    if (!seg.excluded) std::copy(seg.data.begin(), seg.data.end(), b.begin() + static_cast<std::ptrdiff_t>(L.segment_data_offsets[i]));
  }
  std::copy(blob.begin(), blob.end(), b.begin() + static_cast<std::ptrdiff_t>(L.notes_offset));
  return core;
}

}  // namespace s390b::test
