#include "translate/pgm.h"

namespace s390b {

std::string_view pgm_name(PgmCode code) {
  switch (code) {
    case PgmCode::protection: return "protection";
    case PgmCode::addressing: return "addressing";
    case PgmCode::segment_translation: return "segment translation";
    case PgmCode::page_translation: return "page translation";
    case PgmCode::translation_specification: return "translation specification";
    case PgmCode::special_operation: return "special operation";
    case PgmCode::alet_specification: return "ALET specification";
    case PgmCode::alen_translation: return "ALEN translation";
    case PgmCode::ale_sequence: return "ALE sequence";
    case PgmCode::aste_validity: return "ASTE validity";
    case PgmCode::aste_sequence: return "ASTE sequence";
    case PgmCode::extended_authority: return "extended authority";
    case PgmCode::asce_type: return "ASCE type";
    case PgmCode::region_first_translation: return "region-first translation";
    case PgmCode::region_second_translation: return "region-second translation";
    case PgmCode::region_third_translation: return "region-third translation";
  }
  return "unknown program interruption";
}

Teid Teid::for_address(std::uint64_t address, AccessMode mode, AddressSpaceId as) {
  std::uint64_t raw = address & address_mask;
  raw |= mode == AccessMode::store ? fsi_store : fsi_fetch;
  raw |= static_cast<std::uint64_t>(as);
  return Teid{raw};
}

Teid Teid::for_protection(std::uint64_t address, AccessMode mode, AddressSpaceId as,
                          ProtectionKind kind) {
  std::uint64_t raw = for_address(address, mode, as).raw();
  switch (kind) {
    case ProtectionKind::low_address: raw |= bit56; break;
    case ProtectionKind::key_controlled: raw |= bit60; break;
    case ProtectionKind::access_list: raw |= bit60 | bit61; break;
    case ProtectionKind::dat: raw |= bit61; break;
    case ProtectionKind::iep: raw |= bit56 | bit61; break;
    case ProtectionKind::termination: break;
  }
  return Teid{raw};
}

bool stores_teid(PgmCode code) {
  switch (code) {
    case PgmCode::protection:
    case PgmCode::segment_translation:
    case PgmCode::page_translation:
    case PgmCode::asce_type:
    case PgmCode::region_first_translation:
    case PgmCode::region_second_translation:
    case PgmCode::region_third_translation: return true;
    default: return false;
  }
}

bool stores_access_id(PgmCode code) {
  switch (code) {
    case PgmCode::alen_translation:
    case PgmCode::ale_sequence:
    case PgmCode::aste_validity:
    case PgmCode::aste_sequence:
    case PgmCode::extended_authority: return true;
    default: return stores_teid(code);
  }
}

ProtectionKind protection_kind_of(Teid t) {
  if (t.b56() && t.b61()) return ProtectionKind::iep;
  if (t.b56()) return ProtectionKind::low_address;
  if (t.b60() && t.b61()) return ProtectionKind::access_list;
  if (t.b60()) return ProtectionKind::key_controlled;
  if (t.b61()) return ProtectionKind::dat;
  return ProtectionKind::termination;
}

}  // namespace s390b
