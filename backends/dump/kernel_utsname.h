// The guest kernel's utsname (struct new_utsname in init_uts_ns: sysname, nodename,
// release, version, machine, domainname, 65 bytes each; Linux include/uapi/linux/utsname.h
// and kernel/utsname.c), read from the guest, for the kdump header's utsname field
// (makedumpfile's write_kdump_header copies the same structure from the dumped kernel).
// Readers need it whole: libkdumpfile takes the header's utsname, and with it the
// architecture, only when sysname is "Linux" and release, version and machine are all
// set, and drgn refuses a kdump file without an architecture.
//
// Where it is: VMCOREINFO's SYMBOL(init_uts_ns) (a kernel virtual address) plus
// OFFSET(uts_namespace.name) (Linux kernel/crash_core.c, crash_save_vmcoreinfo_init).
// The kernel address is translated through the home-space ASCE of CPU 0 (CR13: Linux on
// s390 keeps the kernel ASCE there; arch/s390/include/asm/mmu_context.h), with our DAT
// walker (translate/dat.h), and the bytes read with absolute MEMOPs. Nothing is trusted
// unchecked: the strings must be NUL-terminated and printable, sysname "Linux", and
// release equal to VMCOREINFO's OSRELEASE.
#pragma once

#include <optional>
#include <string>

#include "backends/backend.h"
#include "backends/dump/vmcoreinfo.h"

namespace s390b::dump {

inline constexpr std::size_t utsname_field_size = 65;  // __NEW_UTS_LEN + 1
inline constexpr unsigned utsname_fields = 6;

struct KernelUtsname {
  std::string sysname, nodename, release, version, machine, domainname;
};

struct UtsnameSearch {
  std::optional<KernelUtsname> found;
  std::string rejected;  // why not, when not found
};

UtsnameSearch recover_utsname(Backend& backend, const Vmcoreinfo& vmcoreinfo);

}  // namespace s390b::dump
