// Access-register translation: ALET -> access-list entry -> ASTE -> ASCE
// (Linux arch/s390/kvm/gaccess.c, ar_translation). Tables are read at real addresses
// (prefixing applies).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <tl/expected.hpp>

#include "translate/entries.h"
#include "translate/pgm.h"
#include "translate/reader.h"

namespace s390b {

// The control registers ART consults.
struct ArtControls {
  std::uint64_t cr1 = 0;  // primary ASCE (ALET 0)
  std::uint64_t cr2 = 0;  // DUCT origin (ALET P=0 list)
  std::uint64_t cr5 = 0;  // primary-ASTE origin (ALET P=1 list)
  std::uint64_t cr7 = 0;  // secondary ASCE (ALET 1)
  std::uint64_t cr8 = 0;  // extended authorization index in bits 32-47
  std::uint64_t prefix = 0;

  unsigned eax() const { return (cr8 >> 16) & 0xffff; }
};

// What ART looked at, for `monitor translate` in AR mode.
struct ArtTrace {
  Alet alet;
  bool list_from_primary_aste = false;  // CR5 (P=1) rather than CR2's DUCT
  std::uint64_t ald_address = 0;
  Ald ald;
  std::uint64_t ale_address = 0;
  Ale ale;
  std::uint64_t aste_address = 0;
  Aste aste;
  std::string_view stop_reason;  // empty on success
  unsigned reached = 0;          // 0 none, 1 ALD, 2 ALE, 3 ASTE read
  // Whether the ALET went through the access list (everything but ALETs 0 and 1, which
  // designate the primary and secondary space directly): a fact of the translation that
  // reports show, not a guess from the ALET's value.
  bool ran = false;
};

struct ArtFault {
  PgmCode code{};
  bool operator==(const ArtFault&) const = default;
};

// Translates `alet` to the ASCE it designates. ALET 0 is primary and ALET 1 secondary.
// (AR 0 always means primary whatever it holds: that is the caller's rule, see space.h.)
// A store through a fetch-only entry is a protection exception (access-list controlled).
tl::expected<Asce, ArtFault> translate_alet(const AbsoluteReader& reader, const ArtControls& controls,
                                            Alet alet, AccessMode mode, ArtTrace* trace = nullptr);

}  // namespace s390b
