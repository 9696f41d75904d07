// Reading a guest image from an s390x ELF core file: QEMU's dump-guest-memory output
// (QEMU dump/dump.c, target/s390x/arch_dump.c) and, where it costs nothing, the kernel's
// /proc/vmcore (Linux arch/s390/kernel/crash_dump.c) and zgetdump's ELF output
// (s390-tools zdump/dfo_elf.c).
//
// Contract:
// - The input is a read-only view of the whole file (the caller mmaps it). The parser
//   never writes to it and keeps no pointer into it: CoreImage holds offsets, so the
//   caller keeps the mapping alive for as long as it reads memory through the image.
// - Every field is read with explicit big-endian loads; only ELFCLASS64, ELFDATA2MSB,
//   ET_CORE, EM_S390 files are accepted.
// - Every offset and size is bounds-checked with overflow-safe arithmetic. A malformed
//   file gives a CoreError naming the file offset of the offending structure; nothing
//   throws and nothing reads outside the view.
//
// Quirks accepted: several PT_NOTE segments (read in program-header order, a CPU's notes
// may continue into the next one); notes padded to 4 bytes, the last note of a segment
// without its padding, trailing zero bytes after the last note; either "CORE" or "LINUX"
// as the name of any CPU note; p_filesz < p_memsz (the tail reads as zero);
// p_filesz == 0 with p_offset == -1 (a segment excluded by QEMU's begin/length filter);
// e_phnum == PN_XNUM with the real count in section header 0's sh_info; a kernel-image
// PT_LOAD that repeats part of another segment with identical bytes (Linux >= 6.10
// vmcore), which is reported in `aliases` instead of as an overlap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/cpu_state.h"

namespace s390b::dump {

enum class CoreErrorKind : std::uint8_t {
  truncated,             // the file ends inside the ELF header or another fixed structure
  bad_magic,             // not an ELF file
  bad_class,             // not ELFCLASS64
  bad_data_encoding,     // not ELFDATA2MSB (big-endian)
  bad_type,              // e_type is not ET_CORE
  bad_machine,           // e_machine is not EM_S390
  bad_header,            // e_phentsize/e_shentsize too small, PN_XNUM without sections
  no_program_headers,    // e_phnum (or the PN_XNUM count) is 0
  header_out_of_bounds,  // the program- or section-header table runs past the end of file
  segment_out_of_bounds, // p_offset + p_filesz runs past the end of file
  bad_segment,           // p_filesz > p_memsz, or p_paddr + p_memsz wraps
  overlapping_segments,  // two PT_LOADs claim the same guest address with different bytes
  bad_note,              // a note header or its name/descriptor runs past its segment
  bad_note_size,         // a CPU note's n_descsz differs from the layout's size
  orphan_cpu_note,       // a CPU note before the first NT_PRSTATUS
  duplicate_cpu_note,    // the same CPU note type twice for one CPU
};

struct CoreError {
  CoreErrorKind kind;
  std::uint64_t offset = 0;  // file offset of the offending structure
  std::string message;       // names the structure and the offset, e.g. "program header 3 at
                             // offset 0xe8: p_offset+p_filesz 0x... beyond end of file 0x..."
};

// One PT_LOAD: guest absolute storage [guest_addr, guest_addr + mem_size). The first
// file_size bytes are at file_offset in the file; the rest reads as zero.
struct MemorySegment {
  std::uint64_t guest_addr = 0;   // p_paddr: guest absolute address (QEMU and the kernel agree)
  std::uint64_t file_offset = 0;  // p_offset; meaningless when file_size == 0
  std::uint64_t file_size = 0;    // p_filesz <= mem_size
  std::uint64_t mem_size = 0;     // p_memsz > 0
  std::uint64_t vaddr = 0;        // p_vaddr, informational only (a kernel VA on Linux >= 6.10)
  std::uint32_t phdr_index = 0;   // index in the program-header table

  std::uint64_t guest_end() const { return guest_addr + mem_size; }  // checked not to wrap
  bool contains(std::uint64_t addr) const { return addr >= guest_addr && addr - guest_addr < mem_size; }
};

// One note as found in the file, in file order.
struct NoteInfo {
  std::uint64_t offset = 0;       // file offset of the note header
  std::uint64_t desc_offset = 0;  // file offset of the descriptor
  std::uint32_t desc_size = 0;
  std::uint32_t type = 0;
  std::string name;               // without trailing NULs
  std::optional<std::size_t> cpu; // index into CoreImage::cpus for CPU notes
  bool interpreted = false;       // decoded into a CpuState or the VMCOREINFO text
};

// What the notes say about one CPU beyond CpuState.
struct CpuNoteInfo {
  std::uint64_t prstatus_offset = 0;  // file offset of the CPU's NT_PRSTATUS note header
  // pr_pid as stored. QEMU writes cpu_index + 1 in *host* byte order (QEMU
  // target/s390x/arch_dump.c), so a dump made under TCG on x86 holds it little-endian;
  // zgetdump writes the CPU number counted from 1, big-endian. pid() picks the smaller of
  // the two readings.
  std::uint32_t pr_pid_be = 0;
  std::uint32_t pr_pid_le = 0;
  std::uint64_t orig_gpr2 = 0;
  bool vxrs_low = false;   // NT_S390_VXRS_LOW seen
  bool vxrs_high = false;  // NT_S390_VXRS_HIGH seen
  bool pv_cpu_data = false;  // NT_S390_PV_CPU_DATA seen (protected guest; not decoded)

  std::uint32_t pid() const { return pr_pid_be < pr_pid_le ? pr_pid_be : pr_pid_le; }
};

struct CoreImage {
  // Sorted by guest_addr, pairwise disjoint, every mem_size > 0.
  std::vector<MemorySegment> segments;
  // PT_LOADs dropped because they repeat, with identical bytes, a range that a segment in
  // `segments` already covers (the kernel-image PT_LOAD of newer vmcores).
  std::vector<MemorySegment> aliases;
  // One per NT_PRSTATUS, in note order; cpu_notes[i] belongs to cpus[i].
  std::vector<CpuState> cpus;
  std::vector<CpuNoteInfo> cpu_notes;
  std::optional<std::string> vmcoreinfo;  // first VMCOREINFO note, trailing NULs removed
  std::vector<NoteInfo> notes;            // every note, in file order
  std::uint32_t phdr_count = 0;           // after PN_XNUM resolution
  bool pn_xnum = false;                   // e_phnum was PN_XNUM
  std::uint64_t file_size = 0;

  // The segment containing absolute `addr`, or null.
  const MemorySegment* find_segment(std::uint64_t addr) const;
};

// Parses the ELF core in `file`.
tl::expected<CoreImage, CoreError> parse_elf_core(std::span<const std::uint8_t> file);

// Parses a blob of ELF notes on its own: the copy of /proc/vmcore's PT_NOTE that a
// kdump-compressed file keeps at the sub-header's offset_note (kdump.h). Same rules as
// the PT_NOTE segments of parse_elf_core; only cpus, cpu_notes, vmcoreinfo, notes and
// file_size are filled. Offsets (in errors too) are `base` + the position in `blob`.
tl::expected<CoreImage, CoreError> parse_note_blob(std::span<const std::uint8_t> blob, std::uint64_t base);

// Copies guest absolute storage starting at `addr` into `out`, across adjacent segments,
// zero-filling the p_memsz tails. Returns how many bytes were copied: less than
// out.size() when a byte is not covered by any segment (or `file` is shorter than the
// file the image was parsed from). `file` must be the view `image` was parsed from.
std::size_t read_absolute(std::span<const std::uint8_t> file, const CoreImage& image,
                          std::uint64_t addr, std::span<std::uint8_t> out);

}  // namespace s390b::dump
