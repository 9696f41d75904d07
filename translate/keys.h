// Key-controlled protection: may an access with `access_key` touch a frame whose storage
// key is `key`? (Linux arch/s390/kvm/gaccess.c, vcpu_check_access_key_gpa.) Pure
// decision; callers know which
// overrides the CPU state enables and whether fetch-protection override covers the bytes.
#pragma once

#include <cstdint>

#include "translate/entries.h"
#include "translate/pgm.h"

namespace s390b {

// The fetch-protection-override window: effective addresses 0-2047.
constexpr std::uint64_t fetch_protection_override_limit = 2048;

struct KeyOverrides {
  // Fetch-protection override is enabled (CR0 bit 38, not with DAT on and a private ASCE)
  // AND the fragment lies wholly within effective addresses 0-2047.
  bool fetch_override_applies = false;
  // Storage-protection override is enabled (CR0 bit 39): key 9 frames accept any key.
  bool storage_override = false;

  static constexpr KeyOverrides none() { return {}; }
};

constexpr bool key_permits(StorageKey key, unsigned access_key, AccessMode mode, KeyOverrides overrides) {
  if (access_key == 0) return true;
  if (key.access_key() == access_key) return true;
  if (mode == AccessMode::fetch) {
    if (!key.fetch_protected()) return true;
    if (overrides.fetch_override_applies) return true;
  }
  constexpr unsigned storage_override_key = 9;
  return overrides.storage_override && key.access_key() == storage_override_key;
}

// Whether a fragment [address, address + length) lies in the fetch-protection-override window.
constexpr bool in_fetch_override_window(std::uint64_t effective, std::uint64_t length) {
  return effective < fetch_protection_override_limit && length <= fetch_protection_override_limit - effective;
}

}  // namespace s390b
