// The architected state of one vCPU as the bridge models it, host-order integers.
// Sources fill what they know and say so in `present`; consumers (register packets,
// translation) check before use. Wire and file formats are big-endian; conversion
// happens where those bytes are read or written, never here.
#pragma once

#include <array>
#include <cstdint>

#include "translate/entries.h"

namespace s390b {

struct CpuState {
  // Which register groups the source provided.
  struct Present {
    bool gprs = false, psw = false, acrs = false, crs = false, fprs = false, vrs = false;
    bool prefix = false, cputm = false, ckc = false, todpr = false, last_break = false;
    bool gs = false;
  };

  Psw psw;
  std::array<std::uint64_t, 16> gprs{};
  std::array<std::uint32_t, 16> acrs{};
  std::array<std::uint64_t, 16> crs{};
  std::uint32_t fpc = 0;
  // Vector registers 0-31 as (high, low) doublewords. FPR n is the high doubleword of VR n:
  // fprs and vrs share storage, as in the architecture.
  std::array<std::array<std::uint64_t, 2>, 32> vrs{};
  std::uint32_t prefix = 0;
  std::uint64_t cputm = 0;      // CPU timer
  std::uint64_t ckc = 0;        // clock comparator
  std::uint32_t todpr = 0;      // TOD programmable register
  std::uint64_t last_break = 0; // breaking-event address
  std::array<std::uint64_t, 4> gs{};  // guarded-storage control block: reserved, gsd, gssm, gsepla
  Present present;

  std::uint64_t fpr(unsigned n) const { return vrs[n][0]; }
  void set_fpr(unsigned n, std::uint64_t v) { vrs[n][0] = v; }
};

}  // namespace s390b
