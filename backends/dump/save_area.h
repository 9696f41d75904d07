// CPU registers from the architected store-status save area in a CPU's prefix area, for
// every dump format that has lowcores but no register notes (the s390 stand-alone dump,
// s390_dump.h; a kdump or ELF whose notes are missing could use it the same way).
//
// Layout (offsets from the CPU's prefix, i.e. absolute prefix + offset): z/Architecture
// Principles of Operation (SA22-7832), chapter 4, "Store Status" and the figure "Assigned
// storage locations"; the same offsets as Linux arch/s390/include/asm/lowcore.h
// (floating_pt_save_area ... cregs_save_area), s390-tools zipl/boot/stage2dump.c (which
// issues the stores before dumping) and zdump/dfi.c (lc2cpu_64). Every field is
// big-endian and read with explicit loads.
//
// Clock comparator convention. Store status puts bits 0-55 of the clock comparator in
// bytes 0x1331-0x1337 and zero in byte 0x1330, so the doubleword there is CKC >> 8.
// CpuState::ckc holds the clock comparator itself (what SET CLOCK COMPARATOR set, what
// KVM and QEMU's gdbstub report, and what the ELF writer puts in NT_S390_TODCMP): the
// reader shifts the save-area word left by 8, the writer stores ckc >> 8. Bits 56-63 are
// therefore not preserved through a save area (they are 0 after reading). Note that
// zgetdump copies the save-area word unchanged into its ELF notes, so the same dump
// converted by zgetdump to ELF shows CKC >> 8 there (s390_notes.h keeps a note's value as
// it is, since the file does not say which convention it follows).
//
// Vector registers (Linux lowcore.h vector_save_area_addr / mcesad; s390-tools
// zdump/dfi.c): if the doubleword at prefix + 0x11b0, without its 4-bit length code
// (bits 60-63 of the machine-check extended save area designation; Linux sets it when
// guarded storage is on), is non-zero and 1 KiB-aligned, its first 512 bytes are V0-V31,
// 16 bytes each. The left halves of V0-V15 are the FPRs, which the save area
// holds; the reader takes those from the FPRs.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "backends/cpu_state.h"

namespace s390b::dump {

namespace save_area {
// Offsets from the prefix (PoP "Assigned storage locations"; Linux lowcore.h).
inline constexpr std::uint64_t vector_save_area_addr = 0x11b0;  // u64, Linux: mcesad
inline constexpr std::uint64_t fprs = 0x1200;       // 16 x u64
inline constexpr std::uint64_t gprs = 0x1280;       // 16 x u64
inline constexpr std::uint64_t psw = 0x1300;        // mask u64, address u64
inline constexpr std::uint64_t prefix = 0x1318;     // u32
inline constexpr std::uint64_t fpc = 0x131c;        // u32
inline constexpr std::uint64_t todpr = 0x1324;      // u32 (bits 16-31 significant)
inline constexpr std::uint64_t cputm = 0x1328;      // u64
inline constexpr std::uint64_t ckc = 0x1330;        // u64 = clock comparator >> 8
inline constexpr std::uint64_t acrs = 0x1340;       // 16 x u32
inline constexpr std::uint64_t crs = 0x1380;        // 16 x u64
inline constexpr std::uint64_t start = fprs;        // first byte store status writes here
inline constexpr std::uint64_t end = 0x1400;        // one past the control registers
inline constexpr std::uint64_t size = end - start;  // 0x200
inline constexpr std::uint64_t lowcore_size = 0x2000;  // the prefix area: two 4 KiB pages

inline constexpr std::uint64_t vector_area_size = 512;        // V0-V31, 16 bytes each
inline constexpr std::uint64_t vector_area_alignment = 1024;  // MCESAD origin alignment
inline constexpr std::uint64_t mcesad_length_code = 0xf;  // bits 60-63
inline constexpr unsigned ckc_shift = 8;  // the save area holds CKC bits 0-55 in bytes 1-7
}  // namespace save_area

// Reads absolute storage; false when any byte is not there.
using AbsoluteReadFn = std::function<bool(std::uint64_t address, std::span<std::uint8_t> out)>;

inline constexpr std::uint64_t ckc_from_save_area(std::uint64_t word) { return word << save_area::ckc_shift; }
inline constexpr std::uint64_t ckc_to_save_area(std::uint64_t ckc) { return ckc >> save_area::ckc_shift; }

// The registers of the CPU whose prefix register holds `prefix`, from the save area at
// absolute prefix + 0x1200..0x1400 and, when the lowcore points to one, the vector save
// area. `present` says what was found: prefix always (the caller knows it); gprs, psw,
// acrs, crs, fprs (with the FPC), cputm, ckc and todpr when the save area could be read;
// vrs when the vector area could be read too. A prefix whose save area is outside the
// storage `read` reaches gives a CPU with only the prefix known.
CpuState cpu_from_save_area(const AbsoluteReadFn& read, std::uint32_t prefix);

// The 512 bytes store status writes at prefix + 0x1200 (index 0 = offset 0x1200) for
// `cpu`: groups the CpuState does not have are zero, and the stored prefix field is
// cpu.prefix. The inverse of cpu_from_save_area for the save area.
std::array<std::uint8_t, save_area::size> encode_save_area(const CpuState& cpu);

// The 512-byte vector save area for `cpu` (V0-V31; V0-V15's left halves are the FPRs).
std::array<std::uint8_t, save_area::vector_area_size> encode_vector_area(const CpuState& cpu);

// The origin of the vector save area `mcesad` (the doubleword at prefix + 0x11b0)
// designates, or 0 when it designates none (zero, or not 1 KiB-aligned once the length
// code is masked off).
std::uint64_t vector_area_origin(std::uint64_t mcesad);

// "store-status save area at absolute 0x21200" (what LoadedCore::cpu_sources says).
std::string save_area_source(std::uint32_t prefix);

}  // namespace s390b::dump
