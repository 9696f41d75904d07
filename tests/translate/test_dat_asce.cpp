// dat_translate: what the ASCE alone decides (KVM's guest_translate, Linux
// arch/s390/kvm/gaccess.c):
// ASCE-type exceptions (0x38) and the first index against the ASCE's table length,
// both before any table is read.
#include <doctest/doctest.h>

#include "tests/translate/translate_support.h"

using namespace s390b;
using namespace s390b::test;

namespace {

// Bit position of the "01" (top two) bits of each level's 11-bit index.
constexpr unsigned index01_shift(TableType t) {
  switch (t) {
    case TableType::region_first: return 62;
    case TableType::region_second: return 51;
    case TableType::region_third: return 40;
    case TableType::segment: return 29;
  }
  return 0;
}

// The exception for an index beyond the table length of a table of type `t` (PGM_* in
// Linux arch/s390/include/asm/kvm_host.h).
constexpr PgmCode length_code(TableType t) {
  switch (t) {
    case TableType::region_first: return PgmCode::region_first_translation;
    case TableType::region_second: return PgmCode::region_second_translation;
    case TableType::region_third: return PgmCode::region_third_translation;
    case TableType::segment: return PgmCode::segment_translation;
  }
  return PgmCode::addressing;
}

const char* name(TableType t) {
  switch (t) {
    case TableType::region_first: return "region-first";
    case TableType::region_second: return "region-second";
    case TableType::region_third: return "region-third";
    case TableType::segment: return "segment";
  }
  return "?";
}

}  // namespace

TEST_CASE("ASCE type: the address needs a higher table than the ASCE designates -> 0x38") {
  struct Case {
    TableType dt;
    std::uint64_t va;
    bool asce_type_exception;
  };
  const Case cases[] = {
      // region-first ASCE: every address is reachable
      {TableType::region_first, 0xfffffffffffff000, false},
      // region-second ASCE: RFX (bits 0-10) must be zero
      {TableType::region_second, std::uint64_t{1} << 53, true},
      {TableType::region_second, 0x8000000000000000, true},
      {TableType::region_second, (std::uint64_t{1} << 53) - 1, false},
      // region-third ASCE: RFX and RSX (bits 0-21) zero
      {TableType::region_third, std::uint64_t{1} << 53, true},
      {TableType::region_third, std::uint64_t{1} << 42, true},
      {TableType::region_third, (std::uint64_t{1} << 42) - 1, false},
      // segment ASCE: RFX, RSX, RTX (bits 0-32) zero
      {TableType::segment, std::uint64_t{1} << 53, true},
      {TableType::segment, std::uint64_t{1} << 42, true},
      {TableType::segment, std::uint64_t{1} << 31, true},
      {TableType::segment, 0x7fffffff, false},
  };
  for (const auto& c : cases) {
    CAPTURE(name(c.dt));
    CAPTURE(c.va);
    DatFixture f;
    // Full-length table, all entries invalid: a walk that passes the ASCE checks stops at
    // the first entry with that table's invalid-entry exception.
    const Table top = f.b.region_table(c.dt);
    const Asce asce = TableBuilder::asce(top);
    RecordingReader rec(f.storage);
    const auto r = dat_translate(rec, asce, c.va, AccessMode::fetch, f.controls, 0);
    if (c.asce_type_exception) {
      CHECK(show(r) == pgm(PgmCode::asce_type));
      CHECK(rec.reads().empty());  // decided from the ASCE alone
    } else {
      CHECK(show(r) == pgm(length_code(c.dt)));
      CHECK(rec.reads().size() == 1);
    }
  }
}

TEST_CASE("ASCE type wins over the ASCE table-length check and needs no readable table") {
  DatFixture f;
  // Origin in a hole, TL 0, and an index beyond TL: still 0x38 (store and fetch alike).
  const Asce r2{0x7654000 | tt_bits(TableType::region_second) | tl_bits(0)};
  const std::uint64_t va = (std::uint64_t{1} << 53) | (std::uint64_t{3} << 51);
  CHECK(f.fetch(r2, va) == pgm(PgmCode::asce_type));
  CHECK(f.store(r2, va) == pgm(PgmCode::asce_type));
  const Asce seg{0x7654000 | tt_bits(TableType::segment) | tl_bits(0)};
  CHECK(f.fetch(seg, std::uint64_t{1} << 31 | std::uint64_t{3} << 29) == pgm(PgmCode::asce_type));
}

TEST_CASE("ASCE table length: the first index's top two bits against TL, for every DT") {
  // (TL + 1) * 512 entries: the "01" bits of the first index must be <= TL, else the
  // translation exception of that first table (0x39, 0x3A, 0x3B, 0x10), before any read.
  for (TableType dt : {TableType::region_first, TableType::region_second, TableType::region_third,
                       TableType::segment}) {
    for (unsigned tl = 0; tl < 4; ++tl) {
      for (unsigned idx01 = 0; idx01 < 4; ++idx01) {
        CAPTURE(name(dt));
        CAPTURE(tl);
        CAPTURE(idx01);
        DatFixture f;
        // Only pages 0..TL of the top table are backed, so a walker that skipped the
        // length check would read a hole and report 0x05 instead.
        const Table top = f.b.region_table(dt, 0, tl);
        const Asce asce = TableBuilder::asce(top);
        const std::uint64_t va = (std::uint64_t{idx01} << index01_shift(dt)) | 0x5000 | 0x123;
        RecordingReader rec(f.storage);
        if (idx01 <= tl) {
          const std::uint64_t frame = f.b.data_frame();
          f.b.map_page(asce, va, frame);
          CHECK(show(dat_translate(rec, asce, va, AccessMode::fetch, f.controls, 0)) == ok(frame | 0x123));
        } else {
          CHECK(show(dat_translate(rec, asce, va, AccessMode::fetch, f.controls, 0)) == pgm(length_code(dt)));
          CHECK(rec.reads().empty());
        }
      }
    }
  }
}

TEST_CASE("ASCE origin outside storage -> addressing exception at the first table") {
  for (TableType dt : {TableType::region_first, TableType::region_second, TableType::region_third,
                       TableType::segment}) {
    CAPTURE(name(dt));
    DatFixture f;
    const Asce asce{0x40000000 | tt_bits(dt) | tl_bits(3)};
    WalkTrace trace;
    CHECK(show(f.walk(asce, 0x1000, AccessMode::fetch, &trace)) == pgm(PgmCode::addressing));
    REQUIRE(trace.depth == 1);
    CHECK_FALSE(trace.steps[0].entry_read);
    CHECK(trace.steps[0].entry_address == 0x40000000);
    CHECK(trace.steps[0].level == level_of(dt));
    CHECK_FALSE(trace.stop_reason.empty());
  }
}

TEST_CASE("ASCE control bits other than DT/TL/R/P do not change the walk") {
  DatFixture f;
  const Table r3 = f.b.region_table(TableType::region_third);
  const std::uint64_t frame = f.b.data_frame();
  const Asce plain = TableBuilder::asce(r3);
  f.b.map_page(plain, 0x12345000, frame);
  const Asce noisy{plain.raw | Asce::g_bit | Asce::s_bit | Asce::x_bit};
  CHECK(f.fetch(noisy, 0x12345678) == ok(frame | 0x678));
  CHECK(f.store(noisy, 0x12345678) == ok(frame | 0x678));
}
