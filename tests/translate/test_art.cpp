// translate_alet: access-register translation, ALET -> ALD -> ALE -> ASTE -> ASCE, every
// exception of KVM's ar_translation (Linux arch/s390/kvm/gaccess.c) in its check order,
// both access-list sources,
// authority-table rules, and the real (prefixed) addresses of the ART tables.
#include <doctest/doctest.h>

#include "tests/translate/translate_support.h"

using namespace s390b;
using namespace s390b::test;

namespace {

constexpr std::uint64_t primary_asce = 0x1111000;
constexpr std::uint64_t secondary_asce = 0x7777000;
constexpr std::uint64_t target_asce = 0x5550000 | 0x7;     // R2 designation, TL 3
constexpr std::uint64_t target2_asce = 0x6660000 | 0xb;    // R1 designation, TL 3
constexpr std::uint32_t target_astesn = 0x12345678;
constexpr unsigned eax = 0x0123;                            // CR8 bits 32-47

// A dispatchable-unit access list (CR2 -> DUCT) of 16 entries and a primary-space access
// list (CR5 -> primary ASTE) of 8 entries. DU ALEN 3 (ALESN 5) and PS ALEN 2 (ALESN 6)
// lead to ASTEs designating target_asce and target2_asce.
struct ArtFixture {
  SparseStorage s;
  TableBuilder b{s};
  ArtControls c;
  AccessList du;
  AccessList ps;
  std::uint64_t aste = 0;
  std::uint64_t aste2 = 0;

  ArtFixture() {
    aste = b.aste(AsteSpec{.asce = Asce{target_asce}, .astesn = target_astesn});
    aste2 = b.aste(AsteSpec{.asce = Asce{target2_asce}, .astesn = 77});
    du = b.access_list(1);
    ps = b.access_list(0);
    c.cr1 = primary_asce;
    c.cr7 = secondary_asce;
    c.cr2 = b.duct(du.ald());
    c.cr5 = b.aste(AsteSpec{.asce = Asce{primary_asce}, .ald = ps.ald(), .astesn = 1});
    c.cr8 = std::uint64_t{eax} << 16;
    b.set_ale(du, 3, du_ale());
    b.set_ale(ps, 2, AleSpec{.alesn = 6, .aste = static_cast<std::uint32_t>(aste2), .astesn = 77});
  }
  AleSpec du_ale() const {
    return AleSpec{.alesn = 5, .aste = static_cast<std::uint32_t>(aste), .astesn = target_astesn};
  }
  std::string fetch(Alet alet, ArtTrace* trace = nullptr) const {
    return show(translate_alet(s, c, alet, AccessMode::fetch, trace));
  }
  std::string store(Alet alet) const { return show(translate_alet(s, c, alet, AccessMode::store)); }
};

std::string asce_result(std::uint64_t raw) { return fmt::format("asce {:#x}", raw); }

const Alet du3 = make_alet(false, 5, 3);
const Alet ps2 = make_alet(true, 6, 2);

}  // namespace

TEST_CASE("ART: ALET 0 is primary (CR1) and ALET 1 secondary (CR7), without reading tables") {
  ArtFixture f;
  f.c.cr2 = 0x7fff0000;  // holes: nothing may be read
  f.c.cr5 = 0x7fff0000;
  CHECK(f.fetch(Alet{0}) == asce_result(primary_asce));
  CHECK(f.fetch(Alet{1}) == asce_result(secondary_asce));
  CHECK(f.store(Alet{1}) == asce_result(secondary_asce));
}

TEST_CASE("ART: both access-list sources (ALET P=0 -> CR2 DUCT, P=1 -> CR5 primary ASTE)") {
  ArtFixture f;
  ArtTrace t;
  CHECK(f.fetch(du3, &t) == asce_result(target_asce));
  CHECK_FALSE(t.list_from_primary_aste);
  CHECK(t.ald_address == f.c.cr2 + 16);
  CHECK(t.ale_address == f.du.ale_address(3));
  CHECK(t.aste_address == f.aste);
  CHECK(t.reached == 3);
  CHECK(t.stop_reason.empty());
  CHECK(f.fetch(ps2, &t) == asce_result(target2_asce));
  CHECK(t.list_from_primary_aste);
  CHECK(t.ald_address == f.c.cr5 + 16);
  CHECK(t.ale_address == f.ps.ale_address(2));
  // The same ALEN/ALESN in the other list is a different (here invalid) entry.
  CHECK(f.fetch(make_alet(true, 5, 3)) == pgm(PgmCode::alen_translation));
  CHECK(f.fetch(make_alet(false, 6, 2)) == pgm(PgmCode::alen_translation));
}

TEST_CASE("ART: CR2/CR5 origins are bits 33-57; CR8 EAX is bits 32-47") {
  ArtFixture f;
  f.c.cr2 |= 0xffffffff8000003f;
  f.c.cr5 |= 0xffffffff8000003f;
  f.c.cr8 |= 0xffffffff0000ffff;
  CHECK(f.fetch(du3) == asce_result(target_asce));
  CHECK(f.fetch(ps2) == asce_result(target2_asce));
  CHECK(ArtControls{.cr8 = 0xaaaa5678bbbbcccc}.eax() == 0xbbbb);  // IBM bits 32-47
}

TEST_CASE("ART: ALET bits 0-6 must be zero -> 0x28 (each bit), before any table read") {
  ArtFixture f;
  f.c.cr2 = 0x7fff0000;
  for (unsigned bit = 0; bit < 7; ++bit) {
    const Alet bad{(0x80000000u >> bit) | du3.raw};
    CAPTURE(bad.raw);
    CHECK(f.fetch(bad) == pgm(PgmCode::alet_specification));
  }
  CHECK(f.fetch(Alet{0xfe000000}) == pgm(PgmCode::alet_specification));
  CHECK(f.fetch(Alet{0x02000001}) == pgm(PgmCode::alet_specification));  // not "ALET 1"
}

TEST_CASE("ART: ALEN against the access-list length (ALEN / 8 > ALL -> 0x29)") {
  ArtFixture f;  // DU list: ALL 1 -> ALEN 0..15
  f.b.set_ale(f.du, 15, f.du_ale());
  CHECK(f.fetch(make_alet(false, 5, 15)) == asce_result(target_asce));
  CHECK(f.fetch(make_alet(false, 5, 16)) == pgm(PgmCode::alen_translation));
  CHECK(f.fetch(make_alet(false, 5, 0xffff)) == pgm(PgmCode::alen_translation));
  // PS list: ALL 0 -> ALEN 0..7; the storage past it is backed with a valid-looking ALE.
  f.s.back(f.ps.ale_address(8), 16);
  f.b.write_ale(f.ps.ale_address(8), AleSpec{.alesn = 6, .aste = static_cast<std::uint32_t>(f.aste2), .astesn = 77});
  CHECK(f.fetch(make_alet(true, 6, 8)) == pgm(PgmCode::alen_translation));
}

TEST_CASE("ART: access list beyond 2 GiB -> 0x05 before the ALE is read") {
  ArtFixture f;
  // ALO 0x7fffff80, ALL 127: ALEN 7 ends at 0x7fffffff, ALEN 8 would start at 2 GiB.
  const AccessList high{0x7fffff80, 127};
  f.s.back(0x7ffff000);
  f.s.back(0x80000000);
  f.b.write_ale(high.ale_address(7), f.du_ale());
  f.b.write_ale(high.ale_address(8), f.du_ale());  // must not be used
  f.c.cr2 = f.b.duct(high.ald());
  CHECK(f.fetch(make_alet(false, 5, 7)) == asce_result(target_asce));
  ArtTrace t;
  CHECK(f.fetch(make_alet(false, 5, 8), &t) == pgm(PgmCode::addressing));
  CHECK(t.reached == 1);
}

TEST_CASE("ART: ALE checks in order: invalid (0x29) before ALESN (0x2A)") {
  ArtFixture f;
  CHECK(f.fetch(make_alet(false, 5, 4)) == pgm(PgmCode::alen_translation));  // fresh list: invalid
  CHECK(f.fetch(make_alet(false, 6, 3)) == pgm(PgmCode::ale_sequence));
  AleSpec bad = f.du_ale();
  bad.invalid = true;
  f.b.set_ale(f.du, 3, bad);
  CHECK(f.fetch(make_alet(false, 6, 3)) == pgm(PgmCode::alen_translation));
}

TEST_CASE("ART: ASTE checks in order: invalid (0x2B) before ASTESN (0x2C)") {
  ArtFixture f;
  AleSpec wrong_sn = f.du_ale();
  wrong_sn.astesn = target_astesn + 1;
  f.b.set_ale(f.du, 3, wrong_sn);
  CHECK(f.fetch(du3) == pgm(PgmCode::aste_sequence));
  f.b.write_aste(f.aste, AsteSpec{.asce = Asce{target_asce}, .invalid = true, .astesn = target_astesn});
  CHECK(f.fetch(du3) == pgm(PgmCode::aste_validity));
  f.b.set_ale(f.du, 3, f.du_ale());
  CHECK(f.fetch(du3) == pgm(PgmCode::aste_validity));
}

TEST_CASE("ART: ALE ASTEO and ASTE ATO use only their masked bits") {
  ArtFixture f;
  // ALE word 2: bit 64 and the low 6 bits are not part of the ASTE origin.
  f.s.store_u32(f.du.ale_address(3) + 8, static_cast<std::uint32_t>(f.aste) | 0x8000003f);
  CHECK(f.fetch(du3) == asce_result(target_asce));
}

TEST_CASE("ART: private ALE and the extended-authorization index") {
  struct Case {
    const char* what;
    bool private_entry;
    unsigned aleax;
    unsigned atl;       // authority-table length field of the ASTE
    bool secondary;     // EAX's secondary-authority bit
    bool primary;       // EAX's primary-authority bit (not the one ART tests)
    std::string expected;
  };
  const std::string ok_result = asce_result(target_asce);
  const std::string eax_fault = pgm(PgmCode::extended_authority);
  const unsigned eax_atl = eax / 16;  // the smallest ATL that covers EAX
  const Case cases[] = {
      {"public entry, other ALEAX: no check", false, 0x9999, 0, false, false, ok_result},
      {"private, ALEAX == EAX: no table needed", true, eax, 0, false, false, ok_result},
      {"private, EAX beyond ATL", true, 0x9999, eax_atl - 1, true, true, eax_fault},
      {"private, EAX at ATL limit, S bit set", true, 0x9999, eax_atl, true, false, ok_result},
      {"private, S bit clear", true, 0x9999, eax_atl, false, false, eax_fault},
      {"private, only the P bit set", true, 0x9999, eax_atl, false, true, eax_fault},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    ArtFixture f;
    const std::uint64_t at = f.b.authority_table(eax_atl);
    f.b.grant(at, eax, c.primary, c.secondary);
    f.b.write_aste(f.aste, AsteSpec{.asce = Asce{target_asce}, .astesn = target_astesn,
                                    .ato = static_cast<std::uint32_t>(at), .atl = c.atl});
    AleSpec ale = f.du_ale();
    ale.private_entry = c.private_entry;
    ale.aleax = c.aleax;
    f.b.set_ale(f.du, 3, ale);
    CHECK(f.fetch(du3) == c.expected);
  }
}

TEST_CASE("ART: the secondary-authority bit of every EAX position within a byte") {
  for (unsigned k = 0; k < 4; ++k) {
    ArtFixture f;
    const unsigned my_eax = 0x40 + k;  // byte 0x10 of the table, pair k
    f.c.cr8 = std::uint64_t{my_eax} << 16;
    const std::uint64_t at = f.b.authority_table(my_eax / 16);
    // Every other pair's bits set; ours only when granted.
    for (unsigned other = 0x40; other < 0x44; ++other)
      if (other != my_eax) f.b.grant(at, other, true, true);
    f.b.write_aste(f.aste, AsteSpec{.asce = Asce{target_asce}, .astesn = target_astesn,
                                    .ato = static_cast<std::uint32_t>(at), .atl = my_eax / 16});
    AleSpec ale = f.du_ale();
    ale.private_entry = true;
    ale.aleax = 1;
    f.b.set_ale(f.du, 3, ale);
    CAPTURE(k);
    CHECK(f.fetch(du3) == pgm(PgmCode::extended_authority));
    f.b.grant(at, my_eax, false, true);
    CHECK(f.s.load_u8(at + my_eax / 4) == (0xffu & ~(0x80u >> (2 * k))));  // all but our P bit
    CHECK(f.fetch(du3) == asce_result(target_asce));
  }
}

TEST_CASE("ART: fetch-only ALE: fetch passes, store -> 0x04, after the authority check") {
  ArtFixture f;
  AleSpec ale = f.du_ale();
  ale.fetch_only = true;
  f.b.set_ale(f.du, 3, ale);
  CHECK(f.fetch(du3) == asce_result(target_asce));
  CHECK(f.store(du3) == pgm(PgmCode::protection));
  // A private entry without authority: 0x2D comes before the fetch-only protection.
  ale.private_entry = true;
  ale.aleax = 0x9999;
  f.b.set_ale(f.du, 3, ale);
  f.b.write_aste(f.aste, AsteSpec{.asce = Asce{target_asce}, .astesn = target_astesn, .ato = 0, .atl = 0});
  CHECK(f.store(du3) == pgm(PgmCode::extended_authority));
}

TEST_CASE("ART: each table outside storage -> 0x05") {
  SUBCASE("ALD (DUCT in a hole)") {
    ArtFixture f;
    f.c.cr2 = 0x7fff0000;
    ArtTrace t;
    CHECK(f.fetch(du3, &t) == pgm(PgmCode::addressing));
    CHECK(t.reached == 0);
  }
  SUBCASE("ALD (primary ASTE in a hole)") {
    ArtFixture f;
    f.c.cr5 = 0x7fff0000;
    CHECK(f.fetch(ps2) == pgm(PgmCode::addressing));
    CHECK(f.fetch(du3) == asce_result(target_asce));  // the other list still works
  }
  SUBCASE("ALE") {
    ArtFixture f;
    f.c.cr2 = f.b.duct(AccessList{0x7ffe0000, 1}.ald());
    ArtTrace t;
    CHECK(f.fetch(du3, &t) == pgm(PgmCode::addressing));
    CHECK(t.reached == 1);
  }
  SUBCASE("ASTE") {
    ArtFixture f;
    AleSpec ale = f.du_ale();
    ale.aste = 0x7ffe0000;
    f.b.set_ale(f.du, 3, ale);
    ArtTrace t;
    CHECK(f.fetch(du3, &t) == pgm(PgmCode::addressing));
    CHECK(t.reached == 2);
  }
  SUBCASE("authority table") {
    ArtFixture f;
    f.b.write_aste(f.aste, AsteSpec{.asce = Asce{target_asce}, .astesn = target_astesn,
                                    .ato = 0x7ffe0000, .atl = 0xfff});
    AleSpec ale = f.du_ale();
    ale.private_entry = true;
    ale.aleax = 0x9999;
    f.b.set_ale(f.du, 3, ale);
    ArtTrace t;
    CHECK(f.fetch(du3, &t) == pgm(PgmCode::addressing));
    CHECK(t.reached == 3);
  }
}

TEST_CASE("ART tables are read at real addresses: prefixing applies to each of them") {
  // Each structure lives at a real address in 0-8 KiB, i.e. at absolute prefix + x; a decoy
  // at absolute x would be found by a walker that forgot to prefix.
  constexpr std::uint64_t prefix = 0x40000;
  SparseStorage s;
  TableBuilder b(s);
  s.back(0, 0x2000);
  s.back(prefix, 0x2000);
  // Real layout: DUCT 0x100, access list 0x200, ASTE 0x1000, authority table 0x1800.
  const AccessList list_real{0x200, 0};
  b.duct(list_real.ald(), prefix + 0x100);
  b.duct(0xdead0000, 0x100);  // decoy ALD
  b.access_list(0, prefix + 0x200);
  b.access_list(0, 0x200);    // decoy list: all invalid
  b.write_ale(prefix + 0x200 + 5 * 16,
              AleSpec{.private_entry = true, .alesn = 9, .aleax = 0x9999, .aste = 0x1000, .astesn = 3});
  b.authority_table(0, prefix + 0x1800);
  b.grant(prefix + 0x1800, 2, false, true);
  b.authority_table(0, 0x1800);  // decoy: no authority
  b.aste(AsteSpec{.asce = Asce{target_asce}, .astesn = 3, .ato = 0x1800, .atl = 0}, prefix + 0x1000);
  b.aste(AsteSpec{.asce = Asce{0xbad000}, .invalid = true, .astesn = 3, .ato = 0x1800, .atl = 0}, 0x1000);
  ArtControls c;
  c.cr2 = 0x100;
  c.cr8 = std::uint64_t{2} << 16;
  c.prefix = prefix;
  CHECK(show(translate_alet(s, c, make_alet(false, 9, 5), AccessMode::fetch)) == asce_result(target_asce));
  // And the real address of the prefix area reaches absolute 0-8 KiB (the decoys).
  c.cr2 = prefix + 0x100;
  CHECK(show(translate_alet(s, c, make_alet(false, 9, 5), AccessMode::fetch)) == pgm(PgmCode::addressing));
}
