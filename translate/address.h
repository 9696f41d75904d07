// Address conversions that do not need tables: logical -> effective by addressing mode,
// real <-> absolute by the CPU's prefix, and the low-address-protection test
// (Linux arch/s390/kvm/gaccess.h, kvm_s390_logical_to_effective and kvm_s390_real_to_abs;
// arch/s390/kvm/gaccess.c).
#pragma once

#include <cstdint>

#include "translate/entries.h"

namespace s390b {

constexpr std::uint64_t page_size = 4096;
constexpr std::uint64_t page_mask = ~(page_size - 1);
// The prefix area covers two 4 KiB pages and is 8 KiB aligned.
constexpr std::uint64_t prefix_area_size = 0x2000;
constexpr std::uint64_t prefix_mask = 0x7fffe000;

// Wraps `address` to the PSW's addressing mode (24, 31 or 64 bit).
constexpr std::uint64_t effective_address(std::uint64_t address, Psw::AddressingMode mode) {
  switch (mode) {
    case Psw::AddressingMode::bits24: return address & 0xffffff;
    case Psw::AddressingMode::bits31: return address & 0x7fffffff;
    case Psw::AddressingMode::bits64: return address;
  }
  return address;
}

// Prefixing: real page 0-1 <-> the prefix area; the prefix area <-> real 0-1.
// The mapping is its own inverse.
constexpr std::uint64_t real_to_absolute(std::uint64_t real, std::uint64_t prefix) {
  prefix &= prefix_mask;
  if (real < prefix_area_size) return real + prefix;
  if (real >= prefix && real < prefix + prefix_area_size) return real - prefix;
  return real;
}
constexpr std::uint64_t absolute_to_real(std::uint64_t absolute, std::uint64_t prefix) {
  return real_to_absolute(absolute, prefix);
}

// Control-register 0 bits that change translation and protection (IBM bit numbers).
namespace cr0 {
constexpr std::uint64_t low_address_protection = 0x10000000;  // bit 35
constexpr std::uint64_t fetch_protection_override = 0x02000000;  // bit 38
constexpr std::uint64_t storage_protection_override = 0x01000000;  // bit 39
constexpr std::uint64_t edat = 0x00800000;  // bit 40
constexpr std::uint64_t iep = 0x00100000;  // bit 43
}  // namespace cr0

// Effective addresses 0-511 and 4096-4607 are the low-address-protected windows.
constexpr bool is_low_address(std::uint64_t effective) { return (effective & ~std::uint64_t{0x11ff}) == 0; }

}  // namespace s390b
