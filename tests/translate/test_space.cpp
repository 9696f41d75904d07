// translate_address: ASCE selection by the PSW and by debugger views, AR mode sources,
// effective-address wrapping, DAT off (real + prefixing), absolute
// (Linux arch/s390/kvm/gaccess.h; gaccess.c, get_vcpu_asce and ar_translation).
#include <doctest/doctest.h>

#include "tests/translate/space_fixture.h"

using namespace s390b;
using namespace s390b::test;

namespace {
using Kind = AddressSpace::Kind;
const AddressSpace cpu_view = AddressSpace::of(Kind::cpu);
}  // namespace

TEST_CASE("cpu view: the PSW's address-space control selects the ASCE") {
  SpaceFixture f;
  struct Case {
    const char* mode;
    std::uint64_t as_bits;
    std::uint8_t ar;
    std::uint64_t frame;
  };
  const Case cases[] = {
      {"primary", psw::primary, 0, f.fp},
      {"secondary", psw::secondary, 0, f.fs},
      {"home", psw::home, 0, f.fh},
      {"AR mode, AR 4 (DU list)", psw::access_register, SpaceFixture::ar_du, f.fa},
      {"AR mode, AR 6 (primary-space list)", psw::access_register, SpaceFixture::ar_ps, f.fps},
      {"AR mode, AR 0", psw::access_register, 0, f.fp},
      // Outside AR mode the access register is irrelevant.
      {"primary with AR 4", psw::primary, SpaceFixture::ar_du, f.fp},
      {"home with AR 4", psw::home, SpaceFixture::ar_du, f.fh},
  };
  for (const auto& c : cases) {
    CAPTURE(c.mode);
    f.set_asc(c.as_bits);
    CHECK(f.cpu(SpaceFixture::va | 0x123, AccessMode::fetch, c.ar) == ok(c.frame | 0x123));
    CHECK(f.cpu(SpaceFixture::va | 0x123, AccessMode::store, c.ar) == ok(c.frame | 0x123));
  }
}

TEST_CASE("AR mode: AR 0 always designates the primary space whatever it holds") {
  SpaceFixture f;
  f.set_asc(psw::access_register);
  for (std::uint32_t content : {0u, 1u, 0xffffffffu, make_alet(false, 7, 3).raw}) {
    CAPTURE(content);
    f.ctx.ar[0] = content;
    CHECK(f.cpu(SpaceFixture::va) == ok(f.fp));
    CHECK(show(f.tr(AddressSpace::access_reg(0), SpaceFixture::va)) == ok(f.fp));
  }
}

TEST_CASE("AR mode: ALET 0 -> primary, ALET 1 -> secondary, in any other AR") {
  SpaceFixture f;
  f.set_asc(psw::access_register);
  f.ctx.ar[9] = 0;
  f.ctx.ar[10] = 1;
  CHECK(f.cpu(SpaceFixture::va, AccessMode::fetch, 9) == ok(f.fp));
  CHECK(f.cpu(SpaceFixture::va, AccessMode::fetch, 10) == ok(f.fs));
  CHECK(show(f.tr(AddressSpace::with_alet(0), SpaceFixture::va)) == ok(f.fp));
  CHECK(show(f.tr(AddressSpace::with_alet(1), SpaceFixture::va)) == ok(f.fs));
}

TEST_CASE("Explicit views ignore the PSW's mode (even with DAT off)") {
  SpaceFixture f;
  f.ctx.psw.mask = psw::amode31;  // DAT off, 31-bit: the cpu view would be real
  CHECK(show(f.tr(AddressSpace::of(Kind::primary), SpaceFixture::va)) == ok(f.fp));
  CHECK(show(f.tr(AddressSpace::of(Kind::secondary), SpaceFixture::va)) == ok(f.fs));
  CHECK(show(f.tr(AddressSpace::of(Kind::home), SpaceFixture::va)) == ok(f.fh));
  CHECK(show(f.tr(AddressSpace::access_reg(SpaceFixture::ar_du), SpaceFixture::va)) == ok(f.fa));
  CHECK(show(f.tr(AddressSpace::access_reg(SpaceFixture::ar_ps), SpaceFixture::va)) == ok(f.fps));
  CHECK(show(f.tr(AddressSpace::with_alet(make_alet(false, 7, 3).raw), SpaceFixture::va)) == ok(f.fa));
  CHECK(show(f.tr(AddressSpace::with_asce(f.home), SpaceFixture::va)) == ok(f.fh));
  CHECK(show(f.tr(AddressSpace::of(Kind::real), 0x10)) == ok(SpaceFixture::prefix + 0x10));
  CHECK(show(f.tr(AddressSpace::of(Kind::absolute), 0x10)) == ok(0x10));
  f.s.back(SpaceFixture::va);
  CHECK(f.cpu(SpaceFixture::va) == ok(SpaceFixture::va));  // DAT off: real, not translated
}

TEST_CASE("DAT off: real addresses with prefixing; CRs and ARs are not consulted") {
  SpaceFixture f;
  f.ctx.psw.mask = psw::amode64 | psw::access_register;  // AS bits are irrelevant without DAT
  f.ctx.cr[1] = f.ctx.cr[7] = f.ctx.cr[13] = 0x7fff0000;
  f.ctx.ar[3] = 0xffffffff;
  const std::uint64_t p = SpaceFixture::prefix;
  struct Case {
    std::uint64_t real;
    std::uint64_t absolute;
  };
  const Case cases[] = {{0x0, p}, {0x1fff, p + 0x1fff}, {0x2000, 0x2000}, {p, 0x0},
                        {p + 0x1fff, 0x1fff}, {p + 0x2000, p + 0x2000}};
  f.s.back(0x2000);
  f.s.back(p + 0x2000);
  for (const auto& c : cases) {
    CAPTURE(c.real);
    CHECK(f.cpu(c.real, AccessMode::fetch, 3) == ok(c.absolute));
    CHECK(show(f.tr(AddressSpace::of(Kind::real), c.real)) == ok(c.absolute));
    CHECK(show(f.tr(AddressSpace::of(Kind::absolute), c.real)) == ok(c.real));  // no prefixing
  }
  // Outside storage: 0x05 without TEID or access id.
  const auto r = f.tr(cpu_view, 0x7654321, AccessMode::store, 3);
  REQUIRE_FALSE(r);
  CHECK(r.error() == Fault::plain(PgmCode::addressing));
  CHECK(f.tr(AddressSpace::of(Kind::absolute), 0x7654321).error() == Fault::plain(PgmCode::addressing));
}

TEST_CASE("cpu view: 24/31/64-bit effective addresses wrap; explicit views do not") {
  SpaceFixture f;
  struct Case {
    const char* what;
    std::uint64_t psw;
    std::uint64_t address;
    std::string expected;
  };
  const std::uint64_t dat = Psw::dat_bit;
  const Case cases[] = {
      {"64-bit DAT: no wrap (RTX 2 invalid)", dat | psw::amode64, 0x100005123, pgm(PgmCode::region_third_translation)},
      {"31-bit DAT", dat | psw::amode31, 0x100005123, ok(f.fp | 0x123)},
      {"31-bit DAT, bit 32 set", dat | psw::amode31, 0xffffffff80005123, ok(f.fp | 0x123)},
      {"24-bit DAT", dat | psw::amode24, 0x7f005123, ok(f.fp | 0x123)},
      {"24-bit DAT, bit 39 set", dat | psw::amode24, 0x01005123, ok(f.fp | 0x123)},
      {"31-bit real", psw::amode31, 0x80001010, ok(SpaceFixture::prefix + 0x1010)},
      {"24-bit real", psw::amode24, 0xff001010, ok(SpaceFixture::prefix + 0x1010)},
      {"64-bit real", psw::amode64, 0x80001010, pgm(PgmCode::addressing)},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    f.ctx.psw.mask = c.psw;
    CHECK(f.cpu_code(c.address) == c.expected);
  }
  // A debugger view addresses all 64 bits even when the PSW is in 31-bit mode.
  f.ctx.psw.mask = dat | psw::amode31;
  CHECK(code_of(f.tr(AddressSpace::of(Kind::primary), 0x100005123)) == pgm(PgmCode::region_third_translation));
  CHECK(code_of(f.tr(AddressSpace::of(Kind::real), 0x80001010)) == pgm(PgmCode::addressing));
}

TEST_CASE("Translation-exception TEID carries the effective address (31-bit wrap)") {
  SpaceFixture f;
  f.ctx.psw.mask = Psw::dat_bit | psw::amode31;
  const auto r = f.tr(cpu_view, 0xffffffff80007abc, AccessMode::fetch, 2);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == PgmCode::page_translation);
  REQUIRE(r.error().teid);
  CHECK(r.error().teid->raw() == expected_teid(0x7abc, AccessMode::fetch, 0));
}

TEST_CASE("Real-space ASCE in CR1 with DAT on: real + prefixing, no walk") {
  SpaceFixture f;
  f.ctx.cr[1] = TableBuilder::real_space_asce().raw;
  CHECK(f.cpu(0x10) == ok(SpaceFixture::prefix + 0x10));
  CHECK(f.cpu(0x5000000) == pgm(PgmCode::addressing));
}

TEST_CASE("AddressSpace::describe names every view") {
  CHECK(AddressSpace::of(Kind::cpu).describe() == "cpu");
  CHECK(AddressSpace::of(Kind::primary).describe() == "primary");
  CHECK(AddressSpace::of(Kind::secondary).describe() == "secondary");
  CHECK(AddressSpace::of(Kind::home).describe() == "home");
  CHECK(AddressSpace::access_reg(5).describe() == "ar 5");
  CHECK(AddressSpace::with_alet(0x1000003).describe() == "alet 0x1000003");
  CHECK(AddressSpace::with_asce(Asce{0x1234007}).describe() == "asce 0x0000000001234007");
  CHECK(AddressSpace::of(Kind::real).describe() == "real");
  CHECK(AddressSpace::of(Kind::absolute).describe() == "absolute");
}
