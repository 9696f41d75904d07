// Key-controlled protection (Linux arch/s390/kvm/gaccess.c, vcpu_check_access_key_gpa):
// the vCPU decision in its five
// steps, the fetch-protection-override window edges, storage-protection override (key 9).
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>

#include "translate/keys.h"

using namespace s390b;

namespace {
constexpr KeyOverrides fpo{true, false};
constexpr KeyOverrides spo{false, true};
constexpr KeyOverrides both{true, true};
constexpr KeyOverrides none = KeyOverrides::none();
constexpr AccessMode fetch = AccessMode::fetch;
constexpr AccessMode store = AccessMode::store;
}  // namespace

TEST_CASE("Storage key byte fields") {
  const StorageKey k{0x9e};
  CHECK(k.access_key() == 9);
  CHECK(k.fetch_protected());
  CHECK(k.referenced());
  CHECK(k.changed());
  CHECK_FALSE(StorageKey{0x90}.fetch_protected());
}

TEST_CASE("key_permits: the decision table of KVM's vcpu_check_access_key_gpa") {
  struct Case {
    const char* what;
    std::uint8_t key;
    unsigned access_key;
    AccessMode mode;
    KeyOverrides overrides;
    bool allowed;
  };
  const Case cases[] = {
      // 1. access key 0 is the master key
      {"key 0 stores into ACC 1 F 1", 0x18, 0, store, none, true},
      {"key 0 fetches from ACC 15 F 1", 0xf8, 0, fetch, none, true},
      // 2. matching access-control bits
      {"key 9 stores into ACC 9", 0x98, 9, store, none, true},
      {"key 1 fetches from ACC 1 F 1", 0x18, 1, fetch, none, true},
      // 3. fetches from non-fetch-protected frames
      {"key 2 fetches from ACC 9 F 0 (selftest #3)", 0x90, 2, fetch, none, true},
      {"key 2 stores into ACC 9 F 0", 0x90, 2, store, none, false},
      {"key 2 fetches from ACC 9 F 1", 0x98, 2, fetch, none, false},
      {"key 2 fetches from ACC 1 F 1 (selftest #15)", 0x18, 2, fetch, none, false},
      {"FPO: key 2 fetches from ACC 1 F 1 in the window", 0x18, 2, fetch, fpo, true},
      {"FPO never allows a store", 0x10, 2, store, fpo, false},
      // 4. storage-protection override: ACC 9 accepts any key, fetch and store
      {"SPO: key 2 stores into ACC 9 (selftest #6)", 0x98, 2, store, spo, true},
      {"SPO: key 2 fetches from ACC 9 F 1", 0x98, 2, fetch, spo, true},
      {"SPO does not cover ACC 8", 0x88, 2, store, spo, false},
      {"SPO does not cover ACC 10", 0xa8, 2, fetch, spo, false},
      {"no SPO: ACC 9 is an ordinary key", 0x98, 2, store, none, false},
      {"both overrides, store into ACC 1", 0x18, 2, store, both, false},
      {"R and C bits do not matter", 0x16, 2, store, none, false},
      {"R and C bits do not matter (match)", 0x26, 2, store, none, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK(key_permits(StorageKey{c.key}, c.access_key, c.mode, c.overrides) == c.allowed);
  }
}

TEST_CASE("key_permits: exhaustive against the five rules") {
  for (unsigned raw = 0; raw < 256; ++raw) {
    for (unsigned key = 0; key < 16; ++key) {
      for (AccessMode mode : {fetch, store}) {
        for (const KeyOverrides& o : {none, fpo, spo, both}) {
          const unsigned acc = raw >> 4;
          const bool f = raw & 0x08;
          const bool expected = key == 0 || acc == key || (mode == fetch && (!f || o.fetch_override_applies)) ||
                                (o.storage_override && acc == 9);
          CAPTURE(raw);
          CAPTURE(key);
          REQUIRE(key_permits(StorageKey{static_cast<std::uint8_t>(raw)}, key, mode, o) == expected);
        }
      }
    }
  }
}

TEST_CASE("Fetch-protection-override window: ga < 2048 and ga + len <= 2048") {
  struct Case {
    std::uint64_t ga;
    std::uint64_t len;
    bool inside;
  };
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const Case cases[] = {
      {0, 2048, true},    {0, 2049, false},  {2047, 1, true},  {2047, 2, false}, {2048, 1, false},
      {1, 2047, true},    {1, 2048, false},  {0, 1, true},     {1024, 1024, true}, {1024, 1025, false},
      {2048, 0, false},   {2047, 0, true},   {0, max, false},  {2047, max, false}, {max, 1, false},
      {0xfffffffffffff800, 0x800, false},  // would wrap to 0 + 2048 with 64-bit overflow
  };
  for (const auto& c : cases) {
    CAPTURE(c.ga);
    CAPTURE(c.len);
    CHECK(in_fetch_override_window(c.ga, c.len) == c.inside);
  }
  CHECK(fetch_protection_override_limit == 2048);
}
