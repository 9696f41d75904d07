// translate_address failures as KVM reports them (Linux arch/s390/kvm/gaccess.c,
// trans_exc): the exact TEID (address, FSI, AS, b56/b60/b61) and exception-access id of every
// code, low-address protection windows and precedence, AR-mode (ART) faults.
#include <doctest/doctest.h>

#include <functional>

#include "tests/translate/space_fixture.h"

using namespace s390b;
using namespace s390b::test;

namespace {
using Kind = AddressSpace::Kind;
const AddressSpace cpu_view = AddressSpace::of(Kind::cpu);

constexpr std::uint64_t b56 = 0x80, b60 = 0x08, b61 = 0x04;

// How each ASC mode is entered and what the TEID's AS field must then say.
struct AscMode {
  const char* name;
  std::uint64_t bits;
  unsigned as;
  int cr;  // the control register holding its ASCE (-1: AR mode through AR 4's ALET)
};
const AscMode asc_modes[] = {{"primary", psw::primary, 0, 1},
                             {"secondary", psw::secondary, 2, 7},
                             {"home", psw::home, 3, 13},
                             {"AR mode", psw::access_register, 1, -1}};

// Installs `asce` as the space the PSW's mode selects.
void install(SpaceFixture& f, const AscMode& m, Asce asce) {
  f.set_asc(m.bits);
  if (m.cr >= 0) {
    f.ctx.cr[m.cr] = asce.raw;
  } else {
    f.b.write_aste(f.aste, AsteSpec{.asce = asce, .astesn = 42});
  }
}

}  // namespace

TEST_CASE("make_fault: which codes store a TEID and an exception access id (as KVM's trans_exc)") {
  struct Case {
    PgmCode code;
    bool teid;
    bool access_id;
  };
  const Case cases[] = {
      {PgmCode::protection, true, true},
      {PgmCode::addressing, false, false},
      {PgmCode::segment_translation, true, true},
      {PgmCode::page_translation, true, true},
      {PgmCode::translation_specification, false, false},
      {PgmCode::alet_specification, false, false},
      {PgmCode::alen_translation, false, true},
      {PgmCode::ale_sequence, false, true},
      {PgmCode::aste_validity, false, true},
      {PgmCode::aste_sequence, false, true},
      {PgmCode::extended_authority, false, true},
      {PgmCode::asce_type, true, true},
      {PgmCode::region_first_translation, true, true},
      {PgmCode::region_second_translation, true, true},
      {PgmCode::region_third_translation, true, true},
  };
  for (const auto& c : cases) {
    CAPTURE(pgm(c.code));
    const Fault f = make_fault(c.code, ProtectionKind::dat, 0x123456789, AccessMode::store,
                               AddressSpaceId::secondary, 7);
    CHECK(f.code == c.code);
    CHECK(f.teid.has_value() == c.teid);
    CHECK(f.exc_access_id.has_value() == c.access_id);
    if (c.teid) CHECK(f.teid->address() == 0x123456000);
    if (c.access_id) CHECK(*f.exc_access_id == 7);
  }
}

TEST_CASE("make_fault: protection kinds set b56/b60/b61 as KVM's trans_exc sets them") {
  struct Case {
    ProtectionKind kind;
    std::uint64_t bits;
  };
  const Case cases[] = {{ProtectionKind::low_address, b56},     {ProtectionKind::key_controlled, b60},
                        {ProtectionKind::access_list, b60 | b61}, {ProtectionKind::dat, b61},
                        {ProtectionKind::iep, b56 | b61},       {ProtectionKind::termination, 0}};
  for (const auto& c : cases) {
    CAPTURE(protection_name(c.kind));
    for (AccessMode mode : {AccessMode::fetch, AccessMode::store}) {
      const Fault f = make_fault(PgmCode::protection, c.kind, 0xfedcba987654321f, mode, AddressSpaceId::home, 3);
      REQUIRE(f.teid);
      CHECK(f.teid->raw() == expected_teid(0xfedcba987654321f, mode, 3, c.bits));
      CHECK(f.teid->as() == AddressSpaceId::home);
      CHECK(f.teid->fsi_is_store() == (mode == AccessMode::store));
      CHECK(f.teid->fsi_is_fetch() == (mode == AccessMode::fetch));
      CHECK(f.teid->b56() == ((c.bits & b56) != 0));
      CHECK(f.teid->b60() == ((c.bits & b60) != 0));
      CHECK(f.teid->b61() == ((c.bits & b61) != 0));
      CHECK(f.protection == c.kind);
      CHECK(f.exc_access_id == std::optional<std::uint8_t>{3});
    }
  }
}

TEST_CASE("Exact Fault of every DAT failure in every ASC mode (cpu view)") {
  // Each case builds a space and an address that fails with `code`; the test then checks
  // the whole Fault: TEID address = effective page, FSI, AS = PSW AS bits, b56/b60/b61 per
  // kind, exc_access_id = the op's AR, nothing for 0x05 and 0x12.
  struct Case {
    const char* what;
    PgmCode code;
    std::function<Asce(TableBuilder&, std::uint64_t)> build;  // builds a space for `va`
    std::uint64_t va;
    bool store_only = false;
  };
  auto r1 = [](TableBuilder& b, std::uint64_t) { return TableBuilder::asce(b.region_table(TableType::region_first)); };
  auto seg = [](TableBuilder& b, std::uint64_t) { return TableBuilder::asce(b.region_table(TableType::segment)); };
  auto mapped_with = [](std::uint64_t pte_bits) {
    return [pte_bits](TableBuilder& b, std::uint64_t va) {
      const Asce a = TableBuilder::asce(b.region_table(TableType::region_second));
      b.map_page(a, va, b.data_frame(), pte_bits);
      return a;
    };
  };
  auto invalid_at = [](WalkLevel level) {
    return [level](TableBuilder& b, std::uint64_t va) {
      const Asce a = TableBuilder::asce(b.region_table(TableType::region_first));
      b.map_page(a, va, b.data_frame());
      b.set_bits(b.entry_address(a, va, level), level == WalkLevel::page ? PageEntry::i_bit : RegionEntry::i_bit);
      return a;
    };
  };
  const Case cases[] = {
      {"ASCE type", PgmCode::asce_type, seg, 0x0000000180003000},
      {"region-first invalid", PgmCode::region_first_translation, r1, 0x0020000000003000},
      {"region-second invalid", PgmCode::region_second_translation, invalid_at(WalkLevel::region_second),
       0x0020000000003000},
      {"region-third invalid", PgmCode::region_third_translation, invalid_at(WalkLevel::region_third),
       0x0020000000003000},
      {"segment invalid", PgmCode::segment_translation, invalid_at(WalkLevel::segment), 0x0020000000003000},
      {"page invalid", PgmCode::page_translation, invalid_at(WalkLevel::page), 0x0020000000003000},
      {"PTE bit 52", PgmCode::translation_specification, mapped_with(PageEntry::z_bit), 0x3000},
      {"frame outside storage", PgmCode::addressing,
       [](TableBuilder& b, std::uint64_t va) {
         const Asce a = TableBuilder::asce(b.region_table(TableType::segment));
         b.map_page(a, va, 0x7ff0000);
         return a;
       },
       0x3000},
      {"DAT protection", PgmCode::protection, mapped_with(PageEntry::p_bit), 0x3000, true},
  };
  for (const auto& m : asc_modes) {
    for (const auto& c : cases) {
      for (AccessMode mode : {AccessMode::fetch, AccessMode::store}) {
        if (c.store_only && mode == AccessMode::fetch) continue;
        CAPTURE(m.name);
        CAPTURE(c.what);
        CAPTURE(mode == AccessMode::store);
        SpaceFixture f;
        install(f, m, c.build(f.b, c.va));
        const std::uint8_t ar = m.cr < 0 ? SpaceFixture::ar_du : 11;  // the op's AR, whatever the mode
        const auto r = f.tr(cpu_view, c.va | 0x9ab, mode, ar);
        REQUIRE_FALSE(r);
        Fault want = Fault::plain(c.code);
        if (c.code != PgmCode::addressing && c.code != PgmCode::translation_specification) {
          const std::uint64_t extra = c.code == PgmCode::protection ? b61 : 0;
          want.teid = Teid{expected_teid(c.va, mode, m.as, extra)};
          want.exc_access_id = ar;
          if (c.code == PgmCode::protection) want.protection = ProtectionKind::dat;
        }
        CHECK(show(r.error()) == show(want));
        CHECK(r.error() == want);
      }
    }
  }
}

TEST_CASE("Low-address protection windows (stores only; 0-511 and 4096-4607)") {
  struct Case {
    std::uint64_t address;
    bool protected_;
  };
  const Case cases[] = {{0, true},       {511, true},    {512, false},   {4095, false},
                        {4096, true},    {4607, true},   {4608, false},  {8191, false},
                        {0x10000, false}, {0x100000000, false}, {0x100000100, false}};
  for (bool dat : {false, true}) {
    for (const auto& c : cases) {
      CAPTURE(dat);
      CAPTURE(c.address);
      SpaceFixture f;
      f.ctx.cr[0] = cr0::low_address_protection;
      f.ctx.psw.mask = (dat ? Psw::dat_bit : 0) | psw::amode64;
      // Map the low pages (and the others) so that only LAP can fail.
      f.s.back(c.address & page_mask);
      f.b.map_page(f.primary, c.address, c.address & page_mask);
      const auto st = f.tr(cpu_view, c.address, AccessMode::store, 5);
      if (c.protected_) {
        REQUIRE_FALSE(st);
        Fault want = Fault::plain(PgmCode::protection);
        want.teid = Teid{expected_teid(c.address, AccessMode::store, 0, b56)};
        want.exc_access_id = 5;
        want.protection = ProtectionKind::low_address;
        CHECK(show(st.error()) == show(want));
        CHECK(st.error() == want);
      } else {
        CHECK(st.has_value());
      }
      CHECK(f.tr(cpu_view, c.address, AccessMode::fetch, 5).has_value());
      f.ctx.cr[0] = 0;  // LAP disabled
      CHECK(f.tr(cpu_view, c.address, AccessMode::store, 5).has_value());
    }
  }
}

TEST_CASE("LAP: private-space exemption only with DAT on; DAT off is always protected") {
  SpaceFixture f;
  f.ctx.cr[0] = cr0::low_address_protection;
  const Asce priv{f.primary.raw | Asce::p_bit};
  f.b.map_page(f.primary, 0, 0x2000);
  f.s.back(0x2000);
  f.ctx.cr[1] = priv.raw;
  CHECK(f.cpu(0x100, AccessMode::store) == ok(0x2100));  // private space: exempt
  f.ctx.cr[1] = f.primary.raw;
  CHECK(f.cpu_code(0x100, AccessMode::store) == prot(ProtectionKind::low_address));
  f.ctx.psw.mask = psw::amode64;  // DAT off: the (private) CR1 does not matter
  f.ctx.cr[1] = priv.raw;
  CHECK(f.cpu_code(0x100, AccessMode::store) == prot(ProtectionKind::low_address));
  // Views: real is protected; an explicit private ASCE is exempt; absolute never.
  CHECK(code_of(f.tr(AddressSpace::of(Kind::real), 0x100, AccessMode::store)) == prot(ProtectionKind::low_address));
  CHECK(code_of(f.tr(AddressSpace::with_asce(priv), 0x100, AccessMode::store)) == ok(0x2100));
  CHECK(code_of(f.tr(AddressSpace::with_asce(f.primary), 0x100, AccessMode::store)) ==
        prot(ProtectionKind::low_address));
  CHECK(code_of(f.tr(AddressSpace::of(Kind::absolute), 0x100, AccessMode::store)) == ok(0x100));
  // AR mode: the exemption follows the ASCE the ALET designates.
  f.ctx.psw.mask = Psw::dat_bit | psw::amode64 | psw::access_register;
  f.b.map_page(f.ar_space, 0, 0x2000);
  CHECK(f.cpu_code(0x100, AccessMode::store, SpaceFixture::ar_du) == prot(ProtectionKind::low_address));
  f.b.write_aste(f.aste, AsteSpec{.asce = Asce{f.ar_space.raw | Asce::p_bit}, .astesn = 42});
  CHECK(f.cpu_code(0x100, AccessMode::store, SpaceFixture::ar_du) == ok(0x2100));
}

TEST_CASE("LAP is checked on the effective address and beats translation exceptions") {
  SpaceFixture f;
  f.ctx.cr[0] = cr0::low_address_protection;
  // Nothing is mapped at 0 in the primary space: fetch faults, store is LAP first.
  CHECK(f.cpu_code(0x10) == pgm(PgmCode::page_translation));
  CHECK(f.cpu_code(0x10, AccessMode::store) == prot(ProtectionKind::low_address));
  CHECK(f.cpu_code(0x1010) == pgm(PgmCode::page_translation));
  CHECK(f.cpu_code(0x1010, AccessMode::store) == prot(ProtectionKind::low_address));
  // ... and beats an ASCE whose first table is outside storage.
  f.ctx.cr[1] = Asce{0x7fff0000 | tt_bits(TableType::region_first) | 3}.raw;
  CHECK(f.cpu_code(0x10) == pgm(PgmCode::addressing));
  CHECK(f.cpu_code(0x10, AccessMode::store) == prot(ProtectionKind::low_address));
  // 31-bit mode: 0x80000000 wraps to effective 0, which is low.
  f.ctx.psw.mask = Psw::dat_bit | psw::amode31;
  const auto r = f.tr(cpu_view, 0x80000010, AccessMode::store);
  REQUIRE_FALSE(r);
  CHECK(r.error().protection == ProtectionKind::low_address);
  CHECK(r.error().teid->raw() == expected_teid(0, AccessMode::store, 0, b56));
  // 64-bit: 4 GiB + 0x10 is not a low address.
  f.ctx.psw.mask = Psw::dat_bit | psw::amode64;
  CHECK(f.cpu_code(0x100000010, AccessMode::store) == pgm(PgmCode::addressing));
}

TEST_CASE("AR mode: each ART failure as a Fault (code, TEID, exc_access_id)") {
  struct Case {
    const char* what;
    std::function<void(SpaceFixture&)> setup;
    PgmCode code;
    bool access_id;
  };
  auto ale = [](SpaceFixture& f, AleSpec spec) { f.b.set_ale(f.du, 3, spec); };
  const AleSpec good{.alesn = 7, .aste = 0, .astesn = 42};
  const Case cases[] = {
      {"ALET specification", [](SpaceFixture& f) { f.ctx.ar[SpaceFixture::ar_du] |= 0x10000000; },
       PgmCode::alet_specification, false},
      {"ALEN beyond the list", [](SpaceFixture& f) { f.ctx.ar[SpaceFixture::ar_du] = make_alet(false, 7, 8).raw; },
       PgmCode::alen_translation, true},
      {"ALE invalid", [](SpaceFixture& f) { f.ctx.ar[SpaceFixture::ar_du] = make_alet(false, 7, 2).raw; },
       PgmCode::alen_translation, true},
      {"ALE sequence", [](SpaceFixture& f) { f.ctx.ar[SpaceFixture::ar_du] = make_alet(false, 8, 3).raw; },
       PgmCode::ale_sequence, true},
      {"ASTE validity",
       [](SpaceFixture& f) { f.b.write_aste(f.aste, AsteSpec{.asce = f.ar_space, .invalid = true, .astesn = 42}); },
       PgmCode::aste_validity, true},
      {"ASTE sequence", [](SpaceFixture& f) { f.b.write_aste(f.aste, AsteSpec{.asce = f.ar_space, .astesn = 41}); },
       PgmCode::aste_sequence, true},
      {"extended authority",
       [&](SpaceFixture& f) {
         AleSpec s = good;
         s.aste = static_cast<std::uint32_t>(f.aste);
         s.private_entry = true;
         s.aleax = 0x55;
         ale(f, s);
       },
       PgmCode::extended_authority, true},
      {"ALD outside storage", [](SpaceFixture& f) { f.ctx.cr[2] = 0x7fff0000; }, PgmCode::addressing, false},
  };
  for (const auto& c : cases) {
    for (AccessMode mode : {AccessMode::fetch, AccessMode::store}) {
      CAPTURE(c.what);
      SpaceFixture f;
      f.set_asc(psw::access_register);
      c.setup(f);
      const auto r = f.tr(cpu_view, SpaceFixture::va, mode, SpaceFixture::ar_du);
      REQUIRE_FALSE(r);
      Fault want = Fault::plain(c.code);
      if (c.access_id) want.exc_access_id = SpaceFixture::ar_du;
      CHECK(show(r.error()) == show(want));
      CHECK(r.error() == want);
    }
  }
}

TEST_CASE("AR mode: store through a fetch-only ALE -> 0x04 access-list controlled") {
  SpaceFixture f;
  f.set_asc(psw::access_register);
  f.b.set_ale(f.du, 3,
              AleSpec{.fetch_only = true, .alesn = 7, .aste = static_cast<std::uint32_t>(f.aste), .astesn = 42});
  CHECK(f.cpu(SpaceFixture::va | 0x10, AccessMode::fetch, SpaceFixture::ar_du) == ok(f.fa | 0x10));
  const auto r = f.tr(cpu_view, 0x0000123456789abc, AccessMode::store, SpaceFixture::ar_du);
  REQUIRE_FALSE(r);
  Fault want = Fault::plain(PgmCode::protection);
  want.teid = Teid{expected_teid(0x0000123456789abc, AccessMode::store, 1, b60 | b61)};
  want.exc_access_id = SpaceFixture::ar_du;
  want.protection = ProtectionKind::access_list;
  CHECK(show(r.error()) == show(want));
  CHECK(r.error() == want);
  // The TEID address is the effective address (31-bit mode drops bits 0-32).
  f.set_amode(psw::amode31);
  const auto r31 = f.tr(cpu_view, 0xffffffff80005abc, AccessMode::store, SpaceFixture::ar_du);
  REQUIRE_FALSE(r31);
  REQUIRE(r31.error().teid);
  CHECK(r31.error().teid->raw() == expected_teid(0x5abc, AccessMode::store, 1, b60 | b61));
}

TEST_CASE("AR mode: DAT failures after ART report AS = 1 and the AR as access id") {
  SpaceFixture f;
  f.set_asc(psw::access_register);
  const auto r = f.tr(cpu_view, 0x7000, AccessMode::store, SpaceFixture::ar_ps);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == PgmCode::page_translation);
  CHECK(r.error().teid->raw() == expected_teid(0x7000, AccessMode::store, 1));
  CHECK(r.error().exc_access_id == std::optional<std::uint8_t>{SpaceFixture::ar_ps});
  // An explicit ALET view reports the op's AR as access id.
  const auto v = f.tr(AddressSpace::with_alet(make_alet(false, 7, 2).raw), 0x7000, AccessMode::fetch, 9);
  REQUIRE_FALSE(v);
  CHECK(v.error() == [] {
    Fault w = Fault::plain(PgmCode::alen_translation);
    w.exc_access_id = 9;
    return w;
  }());
}
