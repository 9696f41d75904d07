// The CPUs of a Linux guest found through its lowcores, for a dump that has memory and
// VMCOREINFO but no CPU notes (a kdump-compressed file of header version 1-3, whose
// sub-header has no note blob; an ELF core or kdump whose note blob lacks NT_PRSTATUS).
//
// The kernel exports the array of its CPUs' lowcores in VMCOREINFO (Linux
// arch/s390/kernel/vmcore_info.c, older kernels machine_kexec.c: SYMBOL(lowcore_ptr),
// LENGTH(lowcore_ptr)): lowcore_ptr[i] is the kernel virtual address of CPU i's 8 KiB
// lowcore, whose absolute address is that CPU's prefix. Before dumping, the crashed
// kernel had every CPU store its status into its lowcore (SIGP STOP AND STORE STATUS;
// Linux arch/s390/kernel/machine_kexec.c, smp.c), which is where the kdump kernel takes
// the registers of its notes from (crash_dump.c): so the registers come from each
// lowcore's store-status save area (save_area.h), as s390-tools zgetdump does for
// `--select prod` (zdump/dfi.c, the lowcore_ptr walk).
//
// Kernel virtual to absolute without page tables (as zgetdump's dfi_vm_vtop does, Linux
// >= 6.10 having split the two): when VMCOREINFO has KERNELOFFPHYS, an address below
// KERNELOFFSET is in the identity map (absolute = va - IDENTITYBASE) and one above it in
// the kernel image (absolute = va - KERNELOFFSET + KERNELOFFPHYS); without it (older
// kernels) virtual and absolute addresses are the same.
//
// Bounds: LENGTH(lowcore_ptr) at most max_lowcore_ptrs; every pointer must give an
// 8 KiB-aligned prefix below 2^31 whose save area the dump holds, else that entry is
// skipped and said why.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "backends/cpu_state.h"
#include "backends/dump/save_area.h"

namespace s390b::dump {

inline constexpr std::uint64_t max_lowcore_ptrs = 4096;  // NR_CPUS is at most 512 on s390

struct LowcoreCpus {
  std::vector<CpuState> cpus;        // in lowcore_ptr order, empty entries left out
  std::vector<std::string> sources;  // one per CPU: "store-status save area at absolute 0x... (lowcore_ptr[1])"
  std::vector<std::string> skipped;  // entries not used and why
};

// Fails (with the reason) when VMCOREINFO does not name lowcore_ptr, the array cannot be
// read, or no entry gives a CPU.
tl::expected<LowcoreCpus, std::string> cpus_from_lowcores(const AbsoluteReadFn& read, std::string_view vmcoreinfo);

}  // namespace s390b::dump
