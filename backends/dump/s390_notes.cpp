#include "backends/dump/s390_notes.h"

#include <elf.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "translate/byteorder.h"

namespace s390b::dump {

// Our enumerators must keep glibc's numbers; the cross-check costs nothing.
static_assert(static_cast<std::uint32_t>(NoteType::prstatus) == NT_PRSTATUS);
static_assert(static_cast<std::uint32_t>(NoteType::fpregset) == NT_FPREGSET);
static_assert(static_cast<std::uint32_t>(NoteType::prpsinfo) == NT_PRPSINFO);
static_assert(static_cast<std::uint32_t>(NoteType::s390_timer) == NT_S390_TIMER);
static_assert(static_cast<std::uint32_t>(NoteType::s390_todcmp) == NT_S390_TODCMP);
static_assert(static_cast<std::uint32_t>(NoteType::s390_todpreg) == NT_S390_TODPREG);
static_assert(static_cast<std::uint32_t>(NoteType::s390_ctrs) == NT_S390_CTRS);
static_assert(static_cast<std::uint32_t>(NoteType::s390_prefix) == NT_S390_PREFIX);
static_assert(static_cast<std::uint32_t>(NoteType::s390_last_break) == NT_S390_LAST_BREAK);
static_assert(static_cast<std::uint32_t>(NoteType::s390_vxrs_low) == NT_S390_VXRS_LOW);
static_assert(static_cast<std::uint32_t>(NoteType::s390_vxrs_high) == NT_S390_VXRS_HIGH);
static_assert(static_cast<std::uint32_t>(NoteType::s390_gs_cb) == NT_S390_GS_CB);

namespace {

constexpr std::array<CpuNoteKind, 17> cpu_note_kinds{{
    {NoteType::prstatus, "NT_PRSTATUS", layout::prstatus_size, true},
    {NoteType::fpregset, "NT_FPREGSET", layout::fpregset_size, true},
    {NoteType::s390_high_gprs, "NT_S390_HIGH_GPRS", std::nullopt, false},
    {NoteType::s390_timer, "NT_S390_TIMER", layout::timer_size, true},
    {NoteType::s390_todcmp, "NT_S390_TODCMP", layout::todcmp_size, true},
    {NoteType::s390_todpreg, "NT_S390_TODPREG", layout::todpreg_size, true},
    {NoteType::s390_ctrs, "NT_S390_CTRS", layout::ctrs_size, true},
    {NoteType::s390_prefix, "NT_S390_PREFIX", layout::prefix_size, true},
    {NoteType::s390_last_break, "NT_S390_LAST_BREAK", layout::last_break_size, true},
    {NoteType::s390_system_call, "NT_S390_SYSTEM_CALL", std::nullopt, false},
    {NoteType::s390_tdb, "NT_S390_TDB", std::nullopt, false},
    {NoteType::s390_vxrs_low, "NT_S390_VXRS_LOW", layout::vxrs_low_size, true},
    {NoteType::s390_vxrs_high, "NT_S390_VXRS_HIGH", layout::vxrs_high_size, true},
    {NoteType::s390_gs_cb, "NT_S390_GS_CB", layout::gs_cb_size, true},
    {NoteType::s390_gs_bc, "NT_S390_GS_BC", std::nullopt, false},
    {NoteType::s390_ri_cb, "NT_S390_RI_CB", std::nullopt, false},
    {NoteType::s390_pv_cpu_data, "NT_S390_PV_CPU_DATA", std::nullopt, false},
}};

std::uint64_t u64_at(std::span<const std::uint8_t> d, std::size_t off) { return load_be64(d.data() + off); }
void put64(std::vector<std::uint8_t>& d, std::size_t off, std::uint64_t v) { store_be64(d.data() + off, v); }
void put32(std::vector<std::uint8_t>& d, std::size_t off, std::uint32_t v) { store_be32(d.data() + off, v); }
constexpr std::size_t note_align = 4;
constexpr std::size_t padded(std::size_t n) { return (n + note_align - 1) & ~(note_align - 1); }
std::uint32_t u32_at(std::span<const std::uint8_t> d, std::size_t off) { return load_be32(d.data() + off); }

}  // namespace

std::optional<CpuNoteKind> cpu_note_kind(std::uint32_t type) {
  for (const auto& kind : cpu_note_kinds) {
    if (static_cast<std::uint32_t>(kind.type) == type) return kind;
  }
  return std::nullopt;
}

std::string note_type_name(std::uint32_t type) {
  if (auto kind = cpu_note_kind(type)) return std::string(kind->name);
  if (type == static_cast<std::uint32_t>(NoteType::prpsinfo)) return "NT_PRPSINFO";
  return fmt::format("type {:#x}", type);
}

void decode_cpu_note(NoteType type, std::span<const std::uint8_t> desc, CpuState& cpu) {
  using namespace layout;
  switch (type) {
    case NoteType::prstatus:
      cpu.psw.mask = u64_at(desc, prstatus_psw_mask);
      cpu.psw.addr = u64_at(desc, prstatus_psw_addr);
      for (std::size_t i = 0; i < 16; ++i) cpu.gprs[i] = u64_at(desc, prstatus_gprs + 8 * i);
      for (std::size_t i = 0; i < 16; ++i) cpu.acrs[i] = u32_at(desc, prstatus_acrs + 4 * i);
      cpu.present.psw = cpu.present.gprs = cpu.present.acrs = true;
      break;
    case NoteType::fpregset:
      cpu.fpc = u32_at(desc, fpregset_fpc);
      for (unsigned i = 0; i < 16; ++i) cpu.set_fpr(i, u64_at(desc, fpregset_fprs + 8 * i));
      cpu.present.fprs = true;
      break;
    case NoteType::s390_timer:
      cpu.cputm = u64_at(desc, 0);
      cpu.present.cputm = true;
      break;
    case NoteType::s390_todcmp:
      cpu.ckc = u64_at(desc, 0);
      cpu.present.ckc = true;
      break;
    case NoteType::s390_todpreg:
      cpu.todpr = u32_at(desc, 0);
      cpu.present.todpr = true;
      break;
    case NoteType::s390_ctrs:
      for (std::size_t i = 0; i < 16; ++i) cpu.crs[i] = u64_at(desc, 8 * i);
      cpu.present.crs = true;
      break;
    case NoteType::s390_prefix:
      cpu.prefix = u32_at(desc, 0);
      cpu.present.prefix = true;
      break;
    case NoteType::s390_last_break:
      cpu.last_break = u64_at(desc, 0);
      cpu.present.last_break = true;
      break;
    case NoteType::s390_vxrs_low:
      for (std::size_t i = 0; i < 16; ++i) cpu.vrs[i][1] = u64_at(desc, 8 * i);
      break;
    case NoteType::s390_vxrs_high:
      for (std::size_t i = 0; i < 16; ++i) {
        cpu.vrs[16 + i][0] = u64_at(desc, 16 * i);
        cpu.vrs[16 + i][1] = u64_at(desc, 16 * i + 8);
      }
      break;
    case NoteType::s390_gs_cb:
      for (std::size_t i = 0; i < 4; ++i) cpu.gs[i] = u64_at(desc, 8 * i);
      cpu.present.gs = true;
      break;
    default:
      break;  // not interpreted
  }
}

std::string_view cpu_note_name(NoteType type) {
  return type == NoteType::prstatus || type == NoteType::fpregset ? core_note_name : linux_note_name;
}

bool cpu_note_present(NoteType type, const CpuState& cpu) {
  const CpuState::Present& p = cpu.present;
  switch (type) {
    case NoteType::prstatus: return true;
    case NoteType::fpregset: return p.fprs;
    case NoteType::s390_timer: return p.cputm;
    case NoteType::s390_todcmp: return p.ckc;
    case NoteType::s390_todpreg: return p.todpr;
    case NoteType::s390_ctrs: return p.crs;
    case NoteType::s390_prefix: return p.prefix;
    case NoteType::s390_last_break: return p.last_break;
    case NoteType::s390_vxrs_low:
    case NoteType::s390_vxrs_high: return p.vrs;
    case NoteType::s390_gs_cb: return p.gs;
    default: return false;
  }
}

std::vector<std::uint8_t> encode_cpu_note(NoteType type, const CpuState& cpu, std::uint32_t pid) {
  using namespace layout;
  const auto kind = cpu_note_kind(static_cast<std::uint32_t>(type));
  std::vector<std::uint8_t> d(kind && kind->desc_size ? *kind->desc_size : 0, 0);
  switch (type) {
    case NoteType::prstatus:
      put32(d, prstatus_pid, pid);
      put64(d, prstatus_psw_mask, cpu.psw.mask);
      put64(d, prstatus_psw_addr, cpu.psw.addr);
      for (std::size_t i = 0; i < 16; ++i) put64(d, prstatus_gprs + 8 * i, cpu.gprs[i]);
      for (std::size_t i = 0; i < 16; ++i) put32(d, prstatus_acrs + 4 * i, cpu.acrs[i]);
      break;
    case NoteType::fpregset:
      put32(d, fpregset_fpc, cpu.fpc);
      for (unsigned i = 0; i < 16; ++i) put64(d, fpregset_fprs + 8 * i, cpu.fpr(i));
      break;
    case NoteType::s390_timer: put64(d, 0, cpu.cputm); break;
    case NoteType::s390_todcmp: put64(d, 0, cpu.ckc); break;
    case NoteType::s390_todpreg: put32(d, 0, cpu.todpr); break;
    case NoteType::s390_ctrs:
      for (std::size_t i = 0; i < 16; ++i) put64(d, 8 * i, cpu.crs[i]);
      break;
    case NoteType::s390_prefix: put32(d, 0, cpu.prefix); break;
    case NoteType::s390_last_break: put64(d, 0, cpu.last_break); break;
    case NoteType::s390_vxrs_low:
      for (std::size_t i = 0; i < 16; ++i) put64(d, 8 * i, cpu.vrs[i][1]);
      break;
    case NoteType::s390_vxrs_high:
      for (std::size_t i = 0; i < 16; ++i) {
        put64(d, 16 * i, cpu.vrs[16 + i][0]);
        put64(d, 16 * i + 8, cpu.vrs[16 + i][1]);
      }
      break;
    case NoteType::s390_gs_cb:
      for (std::size_t i = 0; i < 4; ++i) put64(d, 8 * i, cpu.gs[i]);
      break;
    default:
      break;  // not a note the bridge writes
  }
  return d;
}

void append_note(std::vector<std::uint8_t>& out, std::string_view name, std::uint32_t type,
                 std::span<const std::uint8_t> desc) {
  const std::size_t namesz = name.size() + 1;  // with its NUL
  const std::size_t at = out.size();
  out.resize(at + 12 + padded(namesz) + padded(desc.size()), 0);
  store_be32(out.data() + at, static_cast<std::uint32_t>(namesz));
  store_be32(out.data() + at + 4, static_cast<std::uint32_t>(desc.size()));
  store_be32(out.data() + at + 8, type);
  std::copy(name.begin(), name.end(), out.begin() + static_cast<std::ptrdiff_t>(at + 12));
  std::copy(desc.begin(), desc.end(), out.begin() + static_cast<std::ptrdiff_t>(at + 12 + padded(namesz)));
}

}  // namespace s390b::dump
