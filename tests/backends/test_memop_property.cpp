// Property: KvmBackend through the fake kernel and the EmulatedBackend, each on its own
// copy of the same random guest, agree on every random MEMOP byte for byte (returned data,
// old values, resulting storage and keys) and code for code (status, errno, PGM code; the
// whole Fault where INJECT_EXCEPTION lets KVM report one). Guests: random DAT tables of
// every designation type with invalid, protected and malformed entries, an EDAT frame,
// random storage keys, an access list with valid and broken entries, random ALETs, CR0
// bits, prefix, PSW address-space control and addressing mode. Ops: every kind on both
// fds, random flags (invalid ones too), sizes from 0 past 64 KiB, random ar and key,
// short and missing buffers. Fixed seeds, so a failure reproduces.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/backends/memop_fixture.h"

namespace s390b::test {
namespace {

using Bytes = std::vector<std::uint8_t>;
using Rng = std::mt19937_64;

constexpr std::uint64_t data_limit = 0x100000;   // random data below, tables above
constexpr std::uint64_t table_arena = 0x100000;
constexpr std::uint64_t max_buffer = 70000;      // larger sizes get a short buffer
constexpr unsigned seeds = 8;
constexpr unsigned ops_per_guest = 400;
constexpr unsigned compare_every = 64;

bool chance(Rng& rng, unsigned percent) { return rng() % 100 < percent; }
template <typename T>
T pick(Rng& rng, std::initializer_list<T> values) {
  return *(values.begin() + static_cast<std::ptrdiff_t>(rng() % values.size()));
}

// The highest virtual address (exclusive) the ASCE's first table can reach.
std::uint64_t reach(TableType top) {
  switch (top) {
    case TableType::segment: return std::uint64_t{1} << 31;
    case TableType::region_third: return std::uint64_t{1} << 42;
    case TableType::region_second: return std::uint64_t{1} << 53;
    case TableType::region_first: return 0;  // everything
  }
  return 0;
}
bool reachable(TableType top, std::uint64_t va) { return reach(top) == 0 || va < reach(top); }

// Virtual addresses near the edges that matter: 16 MiB (24-bit wrap), 2 GiB (31-bit wrap,
// region-third index 1), 4 TiB, and the top of the 64-bit space.
constexpr std::uint64_t far_addresses[] = {0x1000000, 0x80000000, 0x40000000000, 0};  // 0 = 2^64

struct RandomGuest {
  GuestImage image;
  std::vector<std::uint64_t> hot;  // interesting virtual addresses
};

RandomGuest random_guest(std::uint64_t seed) {
  Rng rng(seed);
  RandomGuest out;
  GuestImage& g = out.image;
  for (std::uint64_t i = 0; i < data_limit; ++i) g.memory[i] = static_cast<std::uint8_t>(rng());
  SparseStorage s;
  TableBuilder tb(s, table_arena, guest_storage_size);

  auto random_top = [&] {
    return pick(rng, {TableType::region_first, TableType::region_second, TableType::region_third, TableType::segment});
  };
  const TableType top = random_top();
  const Asce primary = TableBuilder::asce(tb.region_table(top));
  std::vector<std::pair<std::uint64_t, WalkLevel>> entries;  // candidates for corruption

  // Low 1 MiB: mostly identity, some elsewhere, some unmapped; some protected.
  for (std::uint64_t va = 0; va < data_limit; va += page_size) {
    const unsigned r = rng() % 100;
    if (r >= 92) continue;
    const std::uint64_t frame = r < 80 ? va : (rng() % (guest_storage_size / page_size)) * page_size;
    std::uint64_t bits = chance(rng, 6) ? PageEntry::p_bit : 0;
    if (chance(rng, 2)) bits |= PageEntry::z_bit;
    tb.map_page(primary, va, frame, bits);
    if (chance(rng, 3)) entries.emplace_back(va, WalkLevel::page);
  }
  // A few pages on each side of the far edges the ASCE reaches.
  for (std::uint64_t edge : far_addresses) {
    for (std::uint64_t va : {edge - 2 * page_size, edge - page_size, edge, edge + page_size}) {
      if (!reachable(top, va) || (edge == 0 && va < page_size * 2)) continue;
      if (chance(rng, 80)) tb.map_page(primary, va, (rng() % (data_limit / page_size)) * page_size);
      out.hot.push_back(va);
      entries.emplace_back(va, pick(rng, {WalkLevel::page, WalkLevel::segment, WalkLevel::region_third}));
    }
  }
  // An EDAT-1 frame at 512 MiB (ignored unless CR0 enables EDAT).
  if (chance(rng, 60)) {
    tb.map_segment_1m(primary, 0x20000000, pick(rng, {std::uint64_t{0}, std::uint64_t{0x100000}}),
                      chance(rng, 20) ? SegmentEntry::p_bit : 0);
    out.hot.push_back(0x20000000);
  }
  // Break some entries on the way: invalid, protected, wrong type, offset/length, CS/CR.
  for (auto [va, level] : entries) {
    if (static_cast<unsigned>(level) < static_cast<unsigned>(level_of(primary.designation()))) continue;
    std::uint64_t address = 0;
    try {
      address = tb.entry_address(primary, va, level);
    } catch (const std::logic_error&) {
      continue;  // the path goes through a large frame or is not there
    }
    if (!s.contains(address)) continue;
    switch (rng() % 6) {
      case 0: tb.set_bits(address, RegionEntry::i_bit); break;  // the I bit of every level but page
      case 1: tb.set_bits(address, level == WalkLevel::page ? PageEntry::i_bit : RegionEntry::p_bit); break;
      case 2: tb.set_raw(address, tb.raw(address) ^ RegionEntry::tt_mask); break;
      case 3: tb.set_raw(address, (tb.raw(address) & ~std::uint64_t{0xc3}) | (rng() & 0xc3)); break;  // TF/TL
      case 4: tb.set_bits(address, SegmentEntry::cs_bit); break;
      default: tb.set_bits(address, PageEntry::iep_bit); break;
    }
  }

  // Secondary and home: the same space, another small tree, or nonsense.
  auto other_space = [&]() -> Asce {
    const unsigned r = rng() % 10;
    if (r < 5) return primary;
    if (r < 8) {
      const Asce a = TableBuilder::asce(tb.region_table(TableType::segment));
      for (std::uint64_t va = 0; va < data_limit; va += page_size)
        if (chance(rng, 90)) tb.map_page(a, va, va ^ page_size);
      return a;
    }
    return r == 8 ? TableBuilder::real_space_asce() : Asce{rng() & ~std::uint64_t{0xfff} & 0x1fffff000};
  };
  const Asce secondary = other_space();
  const Asce home = other_space();

  // Access lists (DUCT via CR2, primary ASTE via CR5), ASTEs, an authority table.
  const unsigned eax = static_cast<unsigned>(rng() % 8);
  const std::uint64_t atab = tb.authority_table(1);
  for (unsigned e = 0; e < 32; ++e) tb.grant(atab, e, chance(rng, 50), chance(rng, 50));
  const AccessList dual = tb.access_list(static_cast<unsigned>(rng() % 3));
  const AccessList pal = tb.access_list(0);
  std::uint64_t astes[3];
  std::uint32_t astesns[3];
  for (unsigned i = 0; i < 3; ++i) {
    astesns[i] = static_cast<std::uint32_t>(rng() % 4);
    AsteSpec spec;
    spec.asce = pick(rng, {primary, secondary, home});
    spec.invalid = chance(rng, 12);
    spec.ald = pal.ald();
    spec.astesn = astesns[i];
    spec.ato = static_cast<std::uint32_t>(atab);
    spec.atl = static_cast<unsigned>(rng() % 2);
    astes[i] = tb.aste(spec);
  }
  for (const AccessList* list : {&dual, &pal}) {
    for (unsigned alen = 0; alen < (list->all + 1) * 8; ++alen) {
      const unsigned which = static_cast<unsigned>(rng() % 3);
      AleSpec ale;
      ale.invalid = chance(rng, 15);
      ale.fetch_only = chance(rng, 20);
      ale.private_entry = chance(rng, 20);
      ale.aleax = static_cast<unsigned>(rng() % 8);
      ale.alesn = static_cast<unsigned>(rng() % 2);
      ale.aste = static_cast<std::uint32_t>(astes[which]);
      ale.astesn = chance(rng, 85) ? astesns[which] : astesns[which] + 1;
      tb.set_ale(*list, alen, ale);
    }
  }
  const std::uint64_t duct = tb.duct(dual.ald());
  g.absorb(s);

  for (std::uint64_t page = 0; page < guest_storage_size / page_size; ++page)
    g.keys[page] = chance(rng, 50) ? 0 : pick<std::uint8_t>(rng, {0x10, 0x18, 0x90, 0x98, 0x20, 0x28, 0x08, 0x06});

  CpuState& c = g.cpu;
  c.crs[0] = 0;
  for (std::uint64_t bit : {cr0::low_address_protection, cr0::fetch_protection_override,
                            cr0::storage_protection_override, cr0::edat, cr0::iep})
    if (chance(rng, 40)) c.crs[0] |= bit;
  c.crs[1] = primary.raw;
  if (chance(rng, 15)) c.crs[1] = (c.crs[1] & ~std::uint64_t{3}) | (rng() & 3);  // table length
  if (chance(rng, 10)) c.crs[1] |= Asce::p_bit;                                    // private space
  c.crs[2] = duct;
  c.crs[5] = astes[0];
  c.crs[7] = secondary.raw;
  c.crs[8] = std::uint64_t{eax} << 16;
  c.crs[13] = home.raw;
  const unsigned alens = (dual.all + 1) * 8;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned r = rng() % 100;
    if (r < 30) c.acrs[i] = 0;
    else if (r < 45) c.acrs[i] = 1;
    else if (r < 95) c.acrs[i] = make_alet(chance(rng, 30), static_cast<unsigned>(rng() % 2),
                                           static_cast<unsigned>(rng() % (alens + 2))).raw;
    else c.acrs[i] = static_cast<std::uint32_t>(rng());
  }
  std::uint64_t mask = chance(rng, 85) ? Psw::dat_bit : 0;
  mask |= (rng() % 4) << 46;  // address-space control
  const unsigned am = static_cast<unsigned>(rng() % 100);
  mask |= am < 60 ? psw_64bit : am < 85 ? Psw::ba_bit : 0;
  c.psw = Psw{mask, rng() & 0x7ffffffe};
  c.prefix = pick<std::uint32_t>(rng, {0, 0x2000, 0x8000, 0x7e000});
  g.set_program_new_psw(c.psw);  // injected exceptions keep the guest's modes
  g.facilities = Facilities{chance(rng, 80), chance(rng, 80), chance(rng, 80)};
  for (std::uint64_t va : {std::uint64_t{0}, std::uint64_t{0x2000}, data_limit - page_size, std::uint64_t{0x7ffff000},
                           std::uint64_t{0xfff000}})
    out.hot.push_back(va);
  return out;
}

struct Op {
  Memop memop;
  bool on_vm = false;
  Bytes buf;
  Bytes old;
};

Op random_op(Rng& rng, const RandomGuest& guest, EmulatedBackend& reference) {
  Op o;
  Memop& m = o.memop;
  const unsigned k = rng() % 100;
  if (k < 24) m.kind = MemopKind::logical_read;
  else if (k < 48) m.kind = MemopKind::logical_write;
  else if (k < 60) m.kind = MemopKind::absolute_read;
  else if (k < 72) m.kind = MemopKind::absolute_write;
  else if (k < 86) m.kind = MemopKind::absolute_cmpxchg;
  else if (k < 90) m.kind = pick(rng, {MemopKind::sida_read, MemopKind::sida_write});
  else if (k < 93) m.kind = static_cast<MemopKind>(pick<std::uint32_t>(rng, {7, 0xffffffff, 0x10000}));
  else m.kind = static_cast<MemopKind>(rng() % 7);
  const bool vm_kind = m.kind == MemopKind::absolute_read || m.kind == MemopKind::absolute_write ||
                       m.kind == MemopKind::absolute_cmpxchg;
  o.on_vm = chance(rng, 92) ? vm_kind : !vm_kind;
  const bool cmpxchg = m.kind == MemopKind::absolute_cmpxchg;

  // Size.
  if (cmpxchg) {
    m.size = chance(rng, 85) ? 1u << (rng() % 5) : static_cast<std::uint32_t>(rng() % 33);
  } else {
    const unsigned r = rng() % 100;
    if (r < 60) m.size = static_cast<std::uint32_t>(1 + rng() % 9000);
    else if (r < 75) m.size = static_cast<std::uint32_t>(1 + rng() % max_buffer);
    else if (r < 80) m.size = 65536;
    else if (r < 83) m.size = 65537;
    else if (r < 86) m.size = 0;
    else if (r < 88) m.size = 0xffffffff;
    else m.size = static_cast<std::uint32_t>(1 + rng() % 64);
  }
  // Address.
  const unsigned a = rng() % 100;
  if (a < 45) m.gaddr = rng() % data_limit;
  else if (a < 60) m.gaddr = (rng() % (guest_storage_size / page_size) + 1) * page_size - rng() % 64;
  else if (a < 80) m.gaddr = guest.hot[rng() % guest.hot.size()] + rng() % 256 - 128;
  else if (a < 85) m.gaddr = ~std::uint64_t{0xfff};
  else if (a < 90) m.gaddr = rng();
  else m.gaddr = data_limit + rng() % (guest_storage_size - data_limit + 0x4000);
  if (cmpxchg && m.size && chance(rng, 85)) m.gaddr &= ~std::uint64_t{m.size - 1};
  // Flags, access register, key.
  if (chance(rng, 4)) {
    m.flags = rng();
  } else {
    // Mostly flags the op supports (cmpxchg: key only; VM: no inject), sometimes not.
    if (chance(rng, cmpxchg ? 4 : 25)) m.flags |= memop_flag::check_only;
    if (chance(rng, vm_kind ? 4 : 25)) m.flags |= memop_flag::inject_exception;
    if (chance(rng, 40)) m.flags |= memop_flag::skey_protection;
    if (chance(rng, 2)) m.flags |= 1u << 3;  // the withdrawn CMPXCHG flag: just unknown
  }
  m.ar = static_cast<std::uint8_t>(chance(rng, 93) ? rng() % 16 : 16 + rng() % 240);
  m.key = static_cast<std::uint8_t>(chance(rng, 95) ? rng() % 16 : 16 + rng() % 240);
  m.sida_offset = static_cast<std::uint32_t>(chance(rng, 90) ? rng() % 8192 : rng());
  // Buffers: usually exactly `size` bytes, sometimes none or one byte short.
  const unsigned b = rng() % 100;
  std::uint64_t len = std::min<std::uint64_t>(m.size, max_buffer);
  if (b < 5) len = 0;
  else if (b < 8 && len > 0) len -= 1;
  o.buf.resize(len);
  for (auto& x : o.buf) x = static_cast<std::uint8_t>(rng());
  if (cmpxchg) {
    o.old.resize(chance(rng, 4) ? 0 : m.size);
    for (auto& x : o.old) x = static_cast<std::uint8_t>(rng());
    // Half the time the old value is what memory holds, so exchanges happen.
    if (chance(rng, 50) && !o.old.empty()) reference.storage().read(m.gaddr, o.old);
  }
  return o;
}

std::string describe(const Op& o) {
  const Memop& m = o.memop;
  return fmt::format("{} op {} gaddr {:#x} size {:#x} flags {:#x} ar {} key {} sida {:#x} buf {} old {}",
                     o.on_vm ? "vm" : "vcpu", static_cast<std::uint32_t>(m.kind), m.gaddr, m.size, m.flags, m.ar,
                     m.key, m.sida_offset, o.buf.size(), o.old.size());
}

MemopResult run(Backend& b, Op& o) {
  o.memop.buf = o.buf;
  o.memop.old = o.old;
  return o.on_vm ? b.vm_memop(o.memop) : b.vcpu_memop(0, o.memop);
}

// Byte-for-byte comparison of the two guests: storage, keys, the vCPU.
bool same_guest(EmulatedBackend& a, EmulatedBackend& b, std::string& why) {
  const std::uint8_t* pa = a.storage().pointer(0, guest_storage_size);
  const std::uint8_t* pb = b.storage().pointer(0, guest_storage_size);
  if (std::memcmp(pa, pb, guest_storage_size) != 0) {
    const auto at = std::mismatch(pa, pa + guest_storage_size, pb).first - pa;
    why = fmt::format("storage differs at {:#x}", at);
    return false;
  }
  for (std::uint64_t page = 0; page < guest_storage_size; page += page_size) {
    if (a.storage().key(page) != b.storage().key(page)) {
      why = fmt::format("storage key differs at {:#x}", page);
      return false;
    }
  }
  auto ca = a.cpu_state(0);
  auto cb = b.cpu_state(0);
  if (!(ca->psw == cb->psw) || ca->prefix != cb->prefix) {
    why = "vCPU state differs";
    return false;
  }
  return true;
}

}  // namespace

TEST_CASE("memop property: KVM backend over the fake kernel agrees with the emulated backend") {
  unsigned counts[3] = {};  // ok, host error, exception
  unsigned exchanged = 0;
  unsigned full_faults = 0;
  for (unsigned seed = 1; seed <= seeds; ++seed) {
    CAPTURE(seed);
    const RandomGuest guest = random_guest(seed);
    EmulatedHarness emulated(guest.image);
    KvmHarness kvm(guest.image);
    Rng rng(seed * 7919);
    bool failed = false;
    for (unsigned i = 0; i < ops_per_guest && !failed; ++i) {
      Op a = random_op(rng, guest, emulated.guest());
      Op b = a;
      const MemopResult ra = run(emulated.backend(), a);
      const MemopResult rb = run(kvm.backend(), b);
      const std::string what = describe(a);
      CAPTURE(i);
      CAPTURE(what);
      ++counts[static_cast<unsigned>(ra.status)];
      if (ra.kvm_return() != rb.kvm_return()) {
        FAIL_CHECK("result differs: emulated " << ra.kvm_return() << ", kvm " << rb.kvm_return());
        failed = true;
      } else if (a.buf != b.buf || a.old != b.old) {
        FAIL_CHECK("returned data differs");
        failed = true;
      } else if (ra.ok() && a.memop.kind == MemopKind::absolute_cmpxchg && ra.exchanged != rb.exchanged) {
        FAIL_CHECK("cmpxchg exchange result differs");
        failed = true;
      } else if (ra.is_exception() && !a.on_vm && (a.memop.flags & memop_flag::inject_exception) &&
                 (a.memop.kind == MemopKind::logical_read || a.memop.kind == MemopKind::logical_write)) {
        // With INJECT, KVM's pending interruption tells the whole Fault.
        ++full_faults;
        if (!(ra.fault == rb.fault)) {
          FAIL_CHECK("fault differs: emulated teid " << ra.fault.teid.value_or(Teid{}).raw() << ", kvm teid "
                                                     << rb.fault.teid.value_or(Teid{}).raw());
          failed = true;
        }
      }
      if (ra.ok() && a.memop.kind == MemopKind::absolute_cmpxchg && ra.exchanged) ++exchanged;
      std::string why;
      if (!failed && ((i + 1) % compare_every == 0 || i + 1 == ops_per_guest) &&
          !same_guest(*emulated.kernel, *kvm.kernel, why)) {
        FAIL_CHECK(why);
        failed = true;
      }
    }
  }
  // The generator must reach every outcome often enough to mean something.
  CHECK(counts[0] > seeds * ops_per_guest / 10);
  CHECK(counts[1] > seeds * ops_per_guest / 10);
  CHECK(counts[2] > seeds * ops_per_guest / 10);
  CHECK(exchanged > 10);
  CHECK(full_faults > 20);
}

}  // namespace s390b::test
