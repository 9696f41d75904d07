// Program-interruption codes and the translation-exception identification (TEID) that a
// failed guest access reports (Linux arch/s390/include/asm/fault.h, union teid; PGM_*
// codes in arch/s390/include/asm/kvm_host.h; filled in by arch/s390/kvm/gaccess.c).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace s390b {

enum class PgmCode : std::uint16_t {
  protection = 0x04,
  addressing = 0x05,
  segment_translation = 0x10,
  page_translation = 0x11,
  translation_specification = 0x12,
  special_operation = 0x13,
  alet_specification = 0x28,
  alen_translation = 0x29,
  ale_sequence = 0x2a,
  aste_validity = 0x2b,
  aste_sequence = 0x2c,
  extended_authority = 0x2d,
  asce_type = 0x38,
  region_first_translation = 0x39,
  region_second_translation = 0x3a,
  region_third_translation = 0x3b,
};

std::string_view pgm_name(PgmCode code);

// How a storage access is used; FSI in the TEID and the protection rules depend on it.
enum class AccessMode : std::uint8_t { fetch, store };

// The address-space identification stored in TEID bits 62-63 (the PSW's AS field values).
enum class AddressSpaceId : std::uint8_t { primary = 0, access_register = 1, secondary = 2, home = 3 };

// Which protection mechanism raised a 0x04 (decides TEID bits 56, 60, 61).
enum class ProtectionKind : std::uint8_t {
  low_address,      // b56
  key_controlled,   // b60
  access_list,      // b60 b61
  dat,              // b61
  iep,              // b56 b61
  termination,      // none: a multi-page store that already modified storage
};

// TEID as a value over the 64-bit word KVM stores at lowcore 168.
class Teid {
 public:
  static constexpr std::uint64_t address_mask = ~std::uint64_t{0xfff};
  static constexpr std::uint64_t fsi_store = 0x400;
  static constexpr std::uint64_t fsi_fetch = 0x800;
  static constexpr std::uint64_t bit56 = 0x80;
  static constexpr std::uint64_t bit60 = 0x08;
  static constexpr std::uint64_t bit61 = 0x04;
  static constexpr std::uint64_t as_mask = 0x3;

  constexpr Teid() = default;
  constexpr explicit Teid(std::uint64_t raw) : raw_(raw) {}

  // The TEID of a translation or protection exception at `address` (as KVM's trans_exc
  // fills it in, Linux arch/s390/kvm/gaccess.c).
  static Teid for_address(std::uint64_t address, AccessMode mode, AddressSpaceId as);
  static Teid for_protection(std::uint64_t address, AccessMode mode, AddressSpaceId as,
                             ProtectionKind kind);

  constexpr std::uint64_t raw() const { return raw_; }
  constexpr std::uint64_t address() const { return raw_ & address_mask; }
  constexpr bool fsi_is_store() const { return (raw_ & (fsi_store | fsi_fetch)) == fsi_store; }
  constexpr bool fsi_is_fetch() const { return (raw_ & (fsi_store | fsi_fetch)) == fsi_fetch; }
  constexpr bool b56() const { return raw_ & bit56; }
  constexpr bool b60() const { return raw_ & bit60; }
  constexpr bool b61() const { return raw_ & bit61; }
  constexpr AddressSpaceId as() const { return static_cast<AddressSpaceId>(raw_ & as_mask); }
  constexpr bool operator==(const Teid&) const = default;

 private:
  std::uint64_t raw_ = 0;
};

// Which codes store a TEID and which an exception access id, as KVM's trans_exc and the
// ART paths of Linux arch/s390/kvm/gaccess.c prepare them: the one table of this, used by
// make_fault (our walker) and by the KVM backend (decoding what the kernel returned).
bool stores_teid(PgmCode code);       // 0x04, 0x10, 0x11, 0x38-0x3b
bool stores_access_id(PgmCode code);  // those, and 0x29-0x2d
// The protection mechanism TEID bits 56, 60 and 61 name (none set: termination).
ProtectionKind protection_kind_of(Teid teid);

// A guest exception as KVM prepares it in vcpu->arch.pgm: the code, the TEID where the
// code stores one, and the exception access id where the code stores one.
struct Fault {
  PgmCode code{};
  std::optional<Teid> teid;
  std::optional<std::uint8_t> exc_access_id;
  ProtectionKind protection{};  // meaningful only for PgmCode::protection

  bool operator==(const Fault&) const = default;

  static Fault plain(PgmCode code) { return Fault{code, std::nullopt, std::nullopt, {}}; }
};

}  // namespace s390b
