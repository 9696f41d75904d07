// Logical -> absolute for one vCPU in a chosen address space: the ASCE selection of the
// PSW (or of a debugger view), access-register translation, low-address protection, DAT
// or prefixing, and the Fault (PGM code, TEID, access id) KVM would report
// (Linux arch/s390/kvm/gaccess.c: get_vcpu_asce, low-address protection, trans_exc).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include <tl/expected.hpp>

#include "translate/art.h"
#include "translate/dat.h"
#include "translate/entries.h"
#include "translate/pgm.h"
#include "translate/reader.h"

namespace s390b {

// The vCPU state translation depends on.
struct TranslationContext {
  Psw psw;
  std::array<std::uint64_t, 16> cr{};
  std::array<std::uint32_t, 16> ar{};
  std::uint64_t prefix = 0;
  Facilities facilities;

  DatControls dat_controls() const { return DatControls::from(cr[0], facilities); }
  ArtControls art_controls() const { return {cr[1], cr[2], cr[5], cr[7], cr[8], prefix}; }
};

// Which address space a memory access goes through: the debugger's "view".
struct AddressSpace {
  enum class Kind : std::uint8_t {
    cpu,              // what the PSW selects (DAT off -> real; AR mode uses the op's AR)
    primary,          // CR1
    secondary,        // CR7
    home,             // CR13
    access_register,  // AR mode with access register `ar`
    alet,             // AR mode with an explicit ALET
    asce,             // any ASCE, e.g. a process's page-table root
    real,             // real addresses (prefixing applies)
    absolute,         // absolute addresses, no translation
  };

  Kind kind = Kind::cpu;
  std::uint8_t ar = 0;
  std::uint32_t alet = 0;
  Asce asce_value;

  static AddressSpace of(Kind k) { return AddressSpace{k, 0, 0, {}}; }
  static AddressSpace access_reg(std::uint8_t n) { return AddressSpace{Kind::access_register, n, 0, {}}; }
  static AddressSpace with_alet(std::uint32_t a) { return AddressSpace{Kind::alet, 0, a, {}}; }
  static AddressSpace with_asce(Asce a) { return AddressSpace{Kind::asce, 0, 0, a}; }

  std::string describe() const;
  bool operator==(const AddressSpace&) const = default;
};

// The space after ASCE selection (and ART): either an ASCE to walk, real, or absolute.
struct ResolvedSpace {
  enum class Kind : std::uint8_t { dat, real, absolute };
  Kind kind = Kind::real;
  Asce asce;
  AddressSpaceId teid_as = AddressSpaceId::primary;  // stored in TEID bits 62-63
  std::uint8_t access_id = 0;                        // the AR number for exc_access_id
  bool low_address_protection = false;               // LAP applies to stores
  Psw::AddressingMode addressing = Psw::AddressingMode::bits64;
};

// Builds the Fault KVM would report for `code` at `address` (as KVM's trans_exc does,
// Linux arch/s390/kvm/gaccess.c).
Fault make_fault(PgmCode code, ProtectionKind kind, std::uint64_t address, AccessMode mode,
                 AddressSpaceId as, std::uint8_t access_id);

// Selects the ASCE for `space` (and access register `ar` where the space is the CPU's AR
// mode). AR translation happens here, before any IPTE lock is needed.
tl::expected<ResolvedSpace, Fault> resolve_space(const AbsoluteReader& reader, const TranslationContext& ctx,
                                                 const AddressSpace& space, std::uint8_t ar,
                                                 std::uint64_t address, AccessMode mode,
                                                 ArtTrace* art_trace = nullptr);

// Translates one page fragment starting at effective address `address`: LAP (stores),
// then DAT or prefixing, with the storage check. Returns the absolute address. `cache`:
// see DatWalkCache (one operation, under the IPTE lock).
tl::expected<std::uint64_t, Fault> translate_in_space(const AbsoluteReader& reader, const TranslationContext& ctx,
                                                      const ResolvedSpace& space, std::uint64_t address,
                                                      AccessMode mode, WalkTrace* trace = nullptr,
                                                      DatWalkCache* cache = nullptr);

// Convenience: resolve + translate one address (no range handling).
tl::expected<std::uint64_t, Fault> translate_address(const AbsoluteReader& reader, const TranslationContext& ctx,
                                                     const AddressSpace& space, std::uint8_t ar,
                                                     std::uint64_t address, AccessMode mode,
                                                     WalkTrace* trace = nullptr);

}  // namespace s390b
