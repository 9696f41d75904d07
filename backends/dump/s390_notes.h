// The per-CPU ELF notes of an s390x core file and their payload layouts.
//
// Sources: QEMU target/s390x/arch_dump.c (what QEMU's dump-guest-memory writes),
// s390-tools zdump/dfo_elf.c (zgetdump) and Linux arch/s390/kernel/crash_dump.c (kernel
// /proc/vmcore). Every payload is big-endian; fields are read with explicit loads, never
// by casting file bytes.
//
// Note names: QEMU writes "CORE" for NT_PRSTATUS/NT_FPREGSET and "LINUX" for the s390
// notes; older kernels write "CORE" for all of them. Readers therefore match on the type
// and accept either name for every CPU note (Linux arch/s390/kernel/crash_dump.c;
// s390-tools zdump/dfo_elf.c).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu_state.h"

namespace s390b::dump {

// n_type values (same numbers as glibc <elf.h>; its macros are not used as names here
// because they would collide with enumerators).
enum class NoteType : std::uint32_t {
  prstatus = 1,             // NT_PRSTATUS, name CORE
  fpregset = 2,             // NT_FPREGSET / NT_PRFPREG, name CORE
  prpsinfo = 3,             // NT_PRPSINFO, kernel vmcore only; not per CPU
  s390_high_gprs = 0x300,   // never written for 64-bit cores; ignored
  s390_timer = 0x301,
  s390_todcmp = 0x302,
  s390_todpreg = 0x303,
  s390_ctrs = 0x304,
  s390_prefix = 0x305,
  s390_last_break = 0x306,
  s390_system_call = 0x307,  // ignored
  s390_tdb = 0x308,          // ignored
  s390_vxrs_low = 0x309,
  s390_vxrs_high = 0x30a,
  s390_gs_cb = 0x30b,
  s390_gs_bc = 0x30c,        // ignored
  s390_ri_cb = 0x30d,        // ignored
  s390_pv_cpu_data = 0x30e,  // Ultravisor-encrypted, size varies; ignored (QEMU 7.2+, PV guests)
};

// VMCOREINFO note: name "VMCOREINFO", type 0, text payload (s390-tools zdump/dfo_elf.c;
// Linux arch/s390/kernel/crash_dump.c).
inline constexpr std::uint32_t vmcoreinfo_note_type = 0;
inline constexpr std::string_view vmcoreinfo_note_name = "VMCOREINFO";
inline constexpr std::string_view core_note_name = "CORE";
inline constexpr std::string_view linux_note_name = "LINUX";

// Payload layouts (byte offsets inside the descriptor).
namespace layout {
// NT_PRSTATUS, Linux elf_prstatus for s390x, 336 bytes (QEMU target/s390x/arch_dump.c;
// s390-tools zdump/dfo_elf.c): pr_reg starts at 112 with the PSW, then
// GPRs, then access registers (u32), then orig_gpr2.
inline constexpr std::size_t prstatus_size = 336;
inline constexpr std::size_t prstatus_pid = 32;        // u32; QEMU stores it in host order
inline constexpr std::size_t prstatus_psw_mask = 112;  // u64
inline constexpr std::size_t prstatus_psw_addr = 120;  // u64
inline constexpr std::size_t prstatus_gprs = 128;      // 16 x u64
inline constexpr std::size_t prstatus_acrs = 256;      // 16 x u32
inline constexpr std::size_t prstatus_orig_gpr2 = 320; // u64

// NT_FPREGSET, 136 bytes: fpc u32, pad u32, f0-f15 u64.
inline constexpr std::size_t fpregset_size = 136;
inline constexpr std::size_t fpregset_fpc = 0;
inline constexpr std::size_t fpregset_fprs = 8;

inline constexpr std::size_t timer_size = 8;       // CPU timer u64
inline constexpr std::size_t todcmp_size = 8;      // clock comparator u64 (see CpuState::ckc note below)
inline constexpr std::size_t todpreg_size = 4;     // TOD programmable register u32
inline constexpr std::size_t ctrs_size = 128;      // CR0-CR15, u64 each
inline constexpr std::size_t prefix_size = 4;      // prefix u32
inline constexpr std::size_t last_break_size = 8;  // breaking-event address u64
inline constexpr std::size_t vxrs_low_size = 128;  // rightmost 64 bits of V0-V15
inline constexpr std::size_t vxrs_high_size = 256; // V16-V31, 16 bytes each, left half first
inline constexpr std::size_t gs_cb_size = 32;      // reserved, gsd, gssm, gsepla u64
}  // namespace layout

// How the parser treats one CPU note type.
struct CpuNoteKind {
  NoteType type;
  std::string_view name;                 // "NT_S390_PREFIX" etc., for messages
  std::optional<std::size_t> desc_size;  // exact size required; nullopt = any (ignored notes)
  bool interpreted;                      // decoded into CpuState; otherwise skipped
};

// The CPU note kind for `type`, or nullopt when `type` is not a per-CPU note.
std::optional<CpuNoteKind> cpu_note_kind(std::uint32_t type);

// A printable name for any n_type ("NT_PRPSINFO", "0x1234").
std::string note_type_name(std::uint32_t type);

// Decodes an interpreted CPU note into `cpu` and sets the matching `present` flags.
// `desc` has exactly kind.desc_size bytes (checked by the caller).
//
// Conventions of the values stored:
// - ckc is the note's u64 unchanged. QEMU writes the full clock comparator
//   (env.ckc); kernel and zgetdump notes copy the store-status save-area word, which is
//   CKC >> 8 (s390-tools zdump/dfo_elf.c; the save area: Linux
//   arch/s390/include/asm/lowcore.h). The file does not say which.
// - vrs[n][1] (n < 16) comes from NT_S390_VXRS_LOW, vrs[16..31] from NT_S390_VXRS_HIGH;
//   present.vrs is set only once both notes were seen (the caller handles that).
void decode_cpu_note(NoteType type, std::span<const std::uint8_t> desc, CpuState& cpu);

// Writing. The per-CPU notes in the order QEMU's dump-guest-memory writes them
// (target/s390x/arch_dump.c): NT_PRSTATUS and NT_FPREGSET named "CORE", then the s390
// notes named "LINUX".
inline constexpr std::array<NoteType, 10> qemu_cpu_note_order{
    NoteType::prstatus,     NoteType::fpregset,    NoteType::s390_prefix,    NoteType::s390_ctrs,
    NoteType::s390_timer,   NoteType::s390_todcmp, NoteType::s390_todpreg,   NoteType::s390_vxrs_low,
    NoteType::s390_vxrs_high, NoteType::s390_gs_cb};

// The name a writer gives a CPU note: "CORE" for NT_PRSTATUS and NT_FPREGSET, "LINUX" for
// the s390 notes (what QEMU and zgetdump write).
std::string_view cpu_note_name(NoteType type);

// Whether `cpu` holds the registers the note carries (its `present` flags). NT_PRSTATUS
// is always written: it opens a CPU's group of notes.
bool cpu_note_present(NoteType type, const CpuState& cpu);

// The inverse of decode_cpu_note: the descriptor of an interpreted CPU note, exactly
// cpu_note_kind(type)->desc_size bytes, big-endian. `pid` is NT_PRSTATUS's pr_pid
// (written big-endian, the CPU number counted from 1, as zgetdump does). Fields the note
// layout has and CpuState does not (signal info, orig_gpr2) are zero.
std::vector<std::uint8_t> encode_cpu_note(NoteType type, const CpuState& cpu, std::uint32_t pid = 0);

// Appends one ELF note to `out`: Elf64_Nhdr (n_namesz, n_descsz, n_type, big-endian),
// the name with its NUL, padded to 4 bytes, and the descriptor, padded to 4 bytes (the
// note alignment of ELF core files; gABI "Note Section").
void append_note(std::vector<std::uint8_t>& out, std::string_view name, std::uint32_t type,
                 std::span<const std::uint8_t> desc);

}  // namespace s390b::dump
