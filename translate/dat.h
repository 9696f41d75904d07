// Dynamic address translation from any ASCE, as z/Architecture and KVM's gaccess.c do it
// (Linux arch/s390/kvm/gaccess.c, guest_translate; entry layouts from
// arch/s390/include/asm/dat-bits.h): region-first/second/third, segment and page tables,
// EDAT-1 1 MiB and EDAT-2 2 GiB frames, DAT protection, real-space designations.
//
// The walker is pure: it reads table entries through an AbsoluteReader and returns an
// absolute address or the program-interruption code that the CPU would present. It does
// not lock; callers hold the backend's IPTE lock for the walk and the access it authorises.
// There is no TLB. Within one operation a caller may pass a DatWalkCache, which lets the
// next page of the same segment (or large frame) skip the upper levels; see there.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <tl/expected.hpp>

#include "translate/address.h"
#include "translate/entries.h"
#include "translate/pgm.h"
#include "translate/reader.h"

namespace s390b {

// Installed facilities that DAT depends on (facility numbers 8, 78, 130).
struct Facilities {
  bool edat1 = true;
  bool edat2 = true;
  bool iep = true;
};

// What CR0 and the facilities enable for one walk.
struct DatControls {
  bool edat1 = false;
  bool edat2 = false;
  bool iep = false;

  // Inline: it runs for every page of every operation.
  static constexpr DatControls from(std::uint64_t cr0_value, Facilities facilities) {
    DatControls c;
    c.edat1 = (cr0_value & cr0::edat) && facilities.edat1;
    c.edat2 = c.edat1 && facilities.edat2;
    c.iep = (cr0_value & cr0::iep) && facilities.iep;
    return c;
  }
  static constexpr DatControls all() { return {true, true, true}; }
};

enum class WalkLevel : std::uint8_t { region_first, region_second, region_third, segment, page };
std::string_view level_name(WalkLevel level);

// One table visited during a walk.
struct WalkStep {
  WalkLevel level{};
  std::uint64_t table_origin = 0;
  unsigned index = 0;
  std::uint64_t entry_address = 0;
  std::uint64_t entry = 0;
  bool entry_read = false;  // false when the entry address is outside storage
};

// The raw material for `monitor translate`: every level visited and where and why the
// walk stopped. Fixed capacity (at most five tables), so tracing never allocates.
struct WalkTrace {
  Asce asce;
  std::uint64_t address = 0;
  std::array<WalkStep, 5> steps{};
  unsigned depth = 0;
  bool real_space = false;         // the ASCE was a real-space designation
  std::string_view stop_reason;    // empty on success
  std::uint64_t frame_size = 0;    // of the final frame on success
  std::uint64_t absolute = 0;      // on success

  void add(const WalkStep& step) {
    if (depth < steps.size()) steps[depth++] = step;
  }
};

struct DatTranslation {
  std::uint64_t absolute = 0;
  std::uint64_t frame_size = 0;   // 4 KiB, 1 MiB or 2 GiB (4 KiB for real space)
  bool dat_protected = false;     // accumulated DAT protection over all levels
  bool iep = false;               // instruction-execution protection of the frame
};

// The upper levels of the last walk, for the pages that follow it within one operation.
// Holding it is only sound while the caller holds the IPTE lock from the first walk that
// filled it to the last that uses it: every guest IPTE/IDTE/CSP takes that lock, so no
// entry it remembers can be invalidated in between (a guest that rewrites a valid entry
// with a plain store gets no guarantee from the architecture either: TLBs keep old
// copies). Never keep one across operations. A hit re-reads the page-table entry (for
// 4 KiB pages) and redoes every final check, so results are those of a full walk.
struct DatWalkCache {
  bool valid = false;
  std::uint64_t asce = 0;
  DatControls controls;
  unsigned shift = 0;           // 20: a segment (page table or 1 MiB frame); 31: a 2 GiB frame
  std::uint64_t tag = 0;        // address >> shift of the walk that filled it
  bool large_frame = false;     // EDAT frame (absolute) instead of a page table
  std::uint64_t origin = 0;     // page-table origin, or the large frame's first byte
  const std::uint8_t* table = nullptr;  // the page table in host memory (AbsoluteReader::direct)
  bool upper_protected = false; // DAT protection accumulated above the page table / of the frame
  bool upper_iep = false;       // IEP of the large frame

  bool hit(Asce a, DatControls c, std::uint64_t address) const {
    return valid && a.raw == asce && c.edat1 == controls.edat1 && c.edat2 == controls.edat2 &&
           c.iep == controls.iep && (address >> shift) == tag;
  }
};

struct DatFault {
  PgmCode code{};
  ProtectionKind protection{};  // for PgmCode::protection
  bool operator==(const DatFault&) const = default;
};

// Translates `address` (already an effective address) through `asce`.
// `prefix` applies to page frames and real-space results (not to tables or large frames).
// For a store, accumulated DAT protection yields 0x04 before the final-frame addressing check.
// With a `cache` (see DatWalkCache) a hit skips the upper levels and a full walk refills
// it; a trace always walks every level.
tl::expected<DatTranslation, DatFault> dat_translate(const AbsoluteReader& reader, Asce asce,
                                                     std::uint64_t address, AccessMode mode,
                                                     DatControls controls, std::uint64_t prefix,
                                                     WalkTrace* trace = nullptr,
                                                     DatWalkCache* cache = nullptr);

}  // namespace s390b
