// Shared helpers for the translate/ tests: readable renderings of results (so a failing
// CHECK prints "pgm 0x3a region-second translation" instead of a bool), and a fixture with
// storage, a builder and walk/translate shorthands.
#pragma once

#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdint>
#include <string>

#include "tests/translate/table_builder.h"
#include "translate/dat.h"
#include "translate/pgm.h"
#include "translate/space.h"

namespace s390b::test {

inline std::string protection_name(ProtectionKind kind) {
  switch (kind) {
    case ProtectionKind::low_address: return "low-address";
    case ProtectionKind::key_controlled: return "key-controlled";
    case ProtectionKind::access_list: return "access-list";
    case ProtectionKind::dat: return "dat";
    case ProtectionKind::iep: return "iep";
    case ProtectionKind::termination: return "termination";
  }
  return "?";
}

// Expected-outcome strings.
inline std::string ok(std::uint64_t absolute) { return fmt::format("abs {:#x}", absolute); }
inline std::string pgm(PgmCode code) {
  return fmt::format("pgm {:#04x} {}", static_cast<unsigned>(code), pgm_name(code));
}
inline std::string prot(ProtectionKind kind) { return pgm(PgmCode::protection) + " (" + protection_name(kind) + ")"; }

inline std::string show(const DatFault& f) {
  return f.code == PgmCode::protection ? prot(f.protection) : pgm(f.code);
}
inline std::string show(const tl::expected<DatTranslation, DatFault>& r) {
  return r ? ok(r->absolute) : show(r.error());
}
inline std::string show(const tl::expected<Asce, ArtFault>& r) {
  return r ? fmt::format("asce {:#x}", r->raw) : pgm(r.error().code);
}

inline std::string show(const Fault& f) {
  std::string s = f.code == PgmCode::protection ? prot(f.protection) : pgm(f.code);
  if (f.teid) s += fmt::format(" teid={:#x}", f.teid->raw());
  if (f.exc_access_id) s += fmt::format(" aid={}", *f.exc_access_id);
  return s;
}
inline std::string show(const tl::expected<std::uint64_t, Fault>& r) { return r ? ok(*r) : show(r.error()); }
// Only the code (and protection kind) of a translate_address result.
inline std::string code_of(const tl::expected<std::uint64_t, Fault>& r) {
  if (r) return ok(*r);
  return r.error().code == PgmCode::protection ? prot(r.error().protection) : pgm(r.error().code);
}

// A fixture: storage, builder, DAT controls and prefix for dat_translate.
struct DatFixture {
  SparseStorage storage;
  TableBuilder b{storage};
  DatControls controls = DatControls::all();
  std::uint64_t prefix = 0;

  tl::expected<DatTranslation, DatFault> walk(Asce asce, std::uint64_t va, AccessMode mode = AccessMode::fetch,
                                              WalkTrace* trace = nullptr) const {
    return dat_translate(storage, asce, va, mode, controls, prefix, trace);
  }
  std::string fetch(Asce asce, std::uint64_t va) const { return show(walk(asce, va, AccessMode::fetch)); }
  std::string store(Asce asce, std::uint64_t va) const { return show(walk(asce, va, AccessMode::store)); }
};

// PSW masks for the address-space-control modes (PSW_ASC_* in Linux
// arch/s390/include/asm/ptrace.h).
namespace psw {
constexpr std::uint64_t dat = Psw::dat_bit;
constexpr std::uint64_t primary = 0;
constexpr std::uint64_t access_register = 0x0000400000000000;
constexpr std::uint64_t secondary = 0x0000800000000000;
constexpr std::uint64_t home = 0x0000c00000000000;
constexpr std::uint64_t amode64 = Psw::ea_bit | Psw::ba_bit;
constexpr std::uint64_t amode31 = Psw::ba_bit;
constexpr std::uint64_t amode24 = 0;
}  // namespace psw

}  // namespace s390b::test
