// Writing a guest as an s390x ELF core in the layout of QEMU's dump-guest-memory
// (QEMU dump/dump.c, target/s390x/arch_dump.c), which every reader of s390x dumps
// accepts, plus the guest kernel's VMCOREINFO note, which QEMU does not write for s390x
// and without which kernel-dump tools (drgn) refuse the file.
//
// Layout: ELF header (ELFCLASS64, ELFDATA2MSB, ET_CORE, EM_S390); program headers: one
// PT_NOTE, then one PT_LOAD per absolute storage range of Backend::memory_map() (adjacent
// ranges merged), p_paddr = p_vaddr = the absolute address, p_filesz = p_memsz; the notes:
// per CPU in cpu order the "CORE" group (NT_PRSTATUS with pr_pid = cpu + 1, NT_FPREGSET)
// and the "LINUX" group (PREFIX, CTRS, TIMER, TODCMP, TODPREG, VXRS_LOW, VXRS_HIGH,
// GS_CB; then LAST_BREAK, which QEMU never has but other sources may), each written only
// when the source has those registers (CpuState::present), NT_PRSTATUS always; then the
// VMCOREINFO note recovered from the guest (vmcoreinfo.h) when there is one. Memory
// starts at the next 4 KiB boundary of the file (so readers can map it), segments follow
// each other in address order. From 65534 segments on (65535 program headers) the file
// uses PN_XNUM (e_phnum 0xffff, the count in section header 0's sh_info), as QEMU does.
//
// Memory is read with absolute MEMOPs at the backend's op limit, a piece at a time, and
// streamed to the file: memory use is one piece, whatever the guest's size. The file is
// written under a temporary name and renamed when complete (output_file.h). The source
// is only read.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/backend.h"
#include "backends/dump/vmcoreinfo.h"

namespace s390b::dump {

struct DumpProgress {
  std::uint64_t done = 0;   // memory bytes written
  std::uint64_t total = 0;  // memory bytes to write
};

struct ElfWriteOptions {
  // Called after each piece of memory; returning false stops the dump (interrupted),
  // and nothing is left at the output path.
  std::function<bool(const DumpProgress&)> progress;
  std::size_t piece = 1 << 20;  // bytes read and written at a time
  bool vmcoreinfo = true;       // look for the guest's VMCOREINFO
  // The source dump's own VMCOREINFO text, written when the guest's memory gives none.
  std::optional<std::string> source_vmcoreinfo;
};

struct ElfWriteReport {
  std::uint64_t file_size = 0;
  std::uint64_t memory_bytes = 0;
  std::vector<MemoryMap::Range> segments;  // as written (merged)
  unsigned cpus = 0;
  std::uint64_t notes_size = 0;
  VmcoreinfoSearch vmcoreinfo;             // found (written) or why not
};

enum class DumpErrorKind : std::uint8_t {
  no_memory_map,  // the source does not say where its storage is
  registers,      // a vCPU's registers could not be read
  memory,         // an absolute read failed
  output,         // creating, writing or renaming the file failed
  interrupted,    // progress() returned false
  unsupported,    // the format cannot be written by this build (a compression library missing)
};

struct DumpError {
  DumpErrorKind kind;
  std::string message;
};

// The memory map as the ELF file will have it: sorted, adjacent ranges merged, empty
// ones dropped.
std::vector<MemoryMap::Range> dump_segments(const MemoryMap& map);

// The notes of the file (every CPU's, then VMCOREINFO if `vmcoreinfo`).
tl::expected<std::vector<std::uint8_t>, DumpError> build_dump_notes(const Backend& backend, const Vmcoreinfo* vmcoreinfo);

// What every dump writer takes from the source before it reads memory: the memory map
// (dump_segments), the CPUs and the note blob, with VMCOREINFO recovered from the guest
// (when `vmcoreinfo`), else `fallback` (the source dump's own VMCOREINFO text, when the
// source is a dump that has one; origin source_dump, the reasons the guest's memory gave
// none kept in `rejected`). Fails with no_memory_map or registers.
struct DumpPreamble {
  std::vector<MemoryMap::Range> segments;
  std::uint64_t memory_bytes = 0;  // sum of the segments
  unsigned cpus = 0;
  VmcoreinfoSearch vmcoreinfo;
  std::vector<std::uint8_t> notes;  // build_dump_notes
};
tl::expected<DumpPreamble, DumpError> prepare_dump(Backend& backend, bool vmcoreinfo,
                                                   const std::optional<std::string>& fallback = std::nullopt);

tl::expected<ElfWriteReport, DumpError> write_elf_dump(Backend& backend, const std::string& path,
                                                        const ElfWriteOptions& options = {});

}  // namespace s390b::dump
