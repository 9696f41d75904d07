// Named numbers of the remote protocol: the errno-style codes sent in `Exx` replies and
// GDB's own signal numbering used in stop replies. Nothing in gdbstub/ writes these as
// bare integers.
#pragma once

#include <cstdint>

namespace s390b::rsp {

// Error numbers for `Exx` replies. The protocol leaves the numbers unspecified and GDB
// mostly ignores them (GDB manual, Remote Protocol appendix, "Standard Replies"); we use
// Linux errno values so a
// trace reads naturally. Always sent as exactly two lowercase hex digits.
enum class ErrorCode : std::uint8_t {
  Perm = 0x01,        // EPERM: refused by policy (e.g. --read-only)
  NoEntry = 0x02,     // ENOENT: no such thread / annex / object
  Io = 0x05,          // EIO: the backend failed
  BadHandle = 0x09,   // EBADF
  NoMemory = 0x0c,    // ENOMEM
  Access = 0x0d,      // EACCES: protection (key, DAT, low-address)
  Fault = 0x0e,       // EFAULT: inaccessible guest memory, nothing read
  Busy = 0x10,        // EBUSY: target running
  Invalid = 0x16,     // EINVAL: malformed request arguments
  NoSpace = 0x1c,     // ENOSPC: e.g. no free hardware breakpoint slot
  ReadOnly = 0x1e,    // EROFS: write to a read-only target
  Range = 0x22,       // ERANGE: address + length wraps
  NotImplemented = 0x26,  // ENOSYS
};

// GDB's target-independent signal numbers (gdb's include/gdb/signals.h numbering, which
// is not the host's). These are what `S`/`T`/`X` replies and `C`/`S`/`vCont;C` carry.
enum class GdbSignal : std::uint8_t {
  None = 0,
  Hup = 1,
  Int = 2,    // stop caused by an interrupt (0x03 from the client)
  Quit = 3,
  Ill = 4,
  Trap = 5,   // breakpoint, single step, watchpoint
  Abrt = 6,
  Emt = 7,
  Fpe = 8,
  Kill = 9,
  Bus = 10,
  Segv = 11,
  Sys = 12,
  Pipe = 13,
  Alrm = 14,
  Term = 15,
};

}  // namespace s390b::rsp
