// Recovering a Linux guest's VMCOREINFO from the guest's own memory, so that a dump the
// bridge writes carries it even where the hypervisor wrote none (QEMU writes no
// VMCOREINFO note for s390x guests: its vmcoreinfo device needs fw_cfg DMA, which
// s390-ccw-virtio lacks). Tools that open kernel dumps (drgn, crash, makedumpfile) need
// it to know they hold a kernel, which one, and where its page tables are.
//
// Two places, tried in the order the kernel's own kdump code tries them (Linux
// arch/s390/kernel/crash_dump.c, nt_vmcoreinfo; s390-tools zdump/dfi_vmcoreinfo.c):
//  1. the os_info page the absolute lowcore points at (u64 at 0xe18), Linux
//     arch/s390/include/asm/os_info.h and arch/s390/kernel/os_info.c: magic "OSINFOSZ",
//     a checksum over the page from version_major on, version_major <= 1, and entry 0
//     (OS_INFO_VMCOREINFO) = {addr, size, csum} of the VMCOREINFO text, checksummed too;
//  2. the lowcore's vmcore_info pointer (u64 at 0xe0c), set by the kernel's
//     arch_crash_save_vmcoreinfo to the physical address of its complete ELF note
//     (Elf64_Nhdr, "VMCOREINFO\0" padded to 12, the text at +24). An odd value there is
//     the early-boot KASLR offset, not a pointer (crash's s390x.c reads it so).
// Both checksums are CHECKSUM (CKSM), the z/Architecture instruction the kernel computes
// them with (Principles of Operation, "CHECKSUM"; Linux arch/s390/include/asm/checksum.h).
//
// The kernel stores physical addresses there; they are read as absolute addresses, which
// they are everywhere but in the prefix areas, where Linux keeps neither structure.
// Everything is read through absolute MEMOPs; nothing is trusted that is not validated:
// pointers must be readable, sizes are bounded, the text must look like VMCOREINFO
// (printable lines). The descriptor is returned byte for byte as the guest holds it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace s390b::dump {

// Linux lowcore fields (arch/s390/include/asm/lowcore.h; fixed: "must not move").
namespace linux_lowcore {
constexpr std::uint64_t vmcore_info = 0xe0c;  // u64, physical address of the VMCOREINFO note
constexpr std::uint64_t os_info = 0xe18;      // u64, physical address of the os_info page
}  // namespace linux_lowcore

// struct os_info (Linux arch/s390/include/asm/os_info.h), packed, one 4 KiB page.
namespace os_info {
constexpr std::uint64_t magic = 0x4f53494e464f535aULL;  // "OSINFOSZ"
constexpr std::size_t size = 4096;                       // sizeof(struct os_info)
constexpr std::size_t magic_offset = 0x00;               // u64
constexpr std::size_t csum_offset = 0x08;                // u32, CKSM of [version_major, end)
constexpr std::size_t version_major_offset = 0x0c;       // u16; the checksum starts here
constexpr std::size_t entry_offset = 0x20;               // entry[i] at 0x20 + 20 * i
constexpr std::size_t entry_size = 20;                   // {u64 addr, u64 size, u32 csum}
constexpr unsigned entry_vmcoreinfo = 0;                 // OS_INFO_VMCOREINFO
constexpr std::uint16_t version_major_max = 1;           // OS_INFO_VERSION_MAJOR the kernel accepts
}  // namespace os_info

// The kernel reserves one page for the text (VMCOREINFO_BYTES, include/linux/crash_core.h);
// anything beyond this bound is not VMCOREINFO, whatever the pointer says.
constexpr std::size_t vmcoreinfo_max_bytes = 64 * 1024;
constexpr std::size_t vmcoreinfo_note_header = 24;  // Elf64_Nhdr (12) + "VMCOREINFO\0" padded to 12

// CHECKSUM over `bytes` (Principles of Operation): 32-bit big-endian words added with
// end-around carry, a short last word padded with zeros on the right.
std::uint32_t cksm(std::span<const std::uint8_t> bytes, std::uint32_t initial = 0);

// source_dump: not found in the guest's memory, taken from the dump being converted (its
// VMCOREINFO note or kdump sub-header), which the dump writers accept as a fallback.
enum class VmcoreinfoOrigin : std::uint8_t { os_info, lowcore_note, source_dump };
// "os_info entry 0", "lowcore 0xe0c note", "the source dump"
std::string_view vmcoreinfo_origin_name(VmcoreinfoOrigin origin);
// "os_info", "lowcore_note", "source_dump" (docs/json.md)
std::string_view vmcoreinfo_origin_key(VmcoreinfoOrigin origin);

struct Vmcoreinfo {
  VmcoreinfoOrigin origin = VmcoreinfoOrigin::lowcore_note;
  std::uint64_t address = 0;       // absolute address of the text (os_info) or of the note (0xe0c)
  std::vector<std::uint8_t> desc;  // the descriptor, verbatim (n_descsz bytes)

  std::string_view text() const;   // desc without trailing NULs
  // The value of "KEY=value" (first line with that key), e.g. value("OSRELEASE").
  std::optional<std::string> value(std::string_view key) const;
};

struct VmcoreinfoSearch {
  std::optional<Vmcoreinfo> found;
  // Why each place tried before (or instead of) the one that gave it did not, one line
  // each: "os_info (lowcore 0xe18 = 0x...): entry 0 (VMCOREINFO) is empty".
  std::vector<std::string> rejected;
};

// Looks in the guest's absolute lowcore (absolute 0). Never fails: what it could not use
// is in `rejected`.
VmcoreinfoSearch recover_vmcoreinfo(Backend& backend);

// Whether `desc` looks like VMCOREINFO text: non-empty, printable ASCII lines, NULs only
// at the end. Empty string when it does, else why not.
std::string vmcoreinfo_text_problem(std::span<const std::uint8_t> desc);

}  // namespace s390b::dump
