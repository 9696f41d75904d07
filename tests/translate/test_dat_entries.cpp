// dat_translate: exceptions raised by table entries (KVM's guest_translate, Linux
// arch/s390/kvm/gaccess.c): TF/TL of the next table at every region level, invalid bits,
// table-type mismatches, CS/CR with a private ASCE, PTE bit 52, entries outside storage.
#include <doctest/doctest.h>

#include <vector>

#include "tests/translate/translate_support.h"

using namespace s390b;
using namespace s390b::test;

namespace {

constexpr WalkLevel all_levels[] = {WalkLevel::region_first, WalkLevel::region_second, WalkLevel::region_third,
                                    WalkLevel::segment, WalkLevel::page};

// The exception for an invalid entry at `level` (gaccess.c: I -> 0x39/0x3A/0x3B/0x10/0x11).
constexpr PgmCode invalid_code(WalkLevel level) {
  switch (level) {
    case WalkLevel::region_first: return PgmCode::region_first_translation;
    case WalkLevel::region_second: return PgmCode::region_second_translation;
    case WalkLevel::region_third: return PgmCode::region_third_translation;
    case WalkLevel::segment: return PgmCode::segment_translation;
    case WalkLevel::page: return PgmCode::page_translation;
  }
  return PgmCode::addressing;
}

constexpr std::uint64_t invalid_bit(WalkLevel level) {
  return level == WalkLevel::page ? PageEntry::i_bit : RegionEntry::i_bit;
}

// A fully mapped page through an ASCE of type `dt`.
struct Mapped {
  DatFixture f;
  Asce asce;
  std::uint64_t va = 0;
  std::uint64_t frame = 0;

  explicit Mapped(TableType dt, std::uint64_t address = 0, std::uint64_t asce_bits = 0) {
    const std::uint64_t reach = dt == TableType::region_first    ? ~std::uint64_t{0}
                                : dt == TableType::region_second ? (std::uint64_t{1} << 53) - 1
                                : dt == TableType::region_third  ? (std::uint64_t{1} << 42) - 1
                                                                 : (std::uint64_t{1} << 31) - 1;
    va = (address ? address : 0x0123456789abcdef) & reach;
    asce = TableBuilder::asce(f.b.region_table(dt), asce_bits);
    frame = f.b.data_frame();
    f.b.map_page(asce, va, frame);
  }
  std::uint64_t entry(WalkLevel level) const { return f.b.entry_address(asce, va, level); }
  std::uint64_t expected() const { return frame | (va & 0xfff); }
};

}  // namespace

TEST_CASE("A complete walk from every designation type reaches the frame") {
  for (TableType dt : {TableType::region_first, TableType::region_second, TableType::region_third,
                       TableType::segment}) {
    Mapped m(dt);
    CAPTURE(m.va);
    CHECK(m.f.fetch(m.asce, m.va) == ok(m.expected()));
    CHECK(m.f.store(m.asce, m.va) == ok(m.expected()));
  }
}

TEST_CASE("TF/TL of the next table at every region level") {
  // A region entry's TF/TL bound the top two bits of the next index:
  // R1TE -> RSX01 (0x3A), R2TE -> RTX01 (0x3B), R3TE -> SX01 (0x10).
  struct Level {
    TableType parent;
    unsigned child_shift;  // position of the next index's "01" bits
    PgmCode code;
  };
  const Level levels[] = {{TableType::region_first, 51, PgmCode::region_second_translation},
                          {TableType::region_second, 40, PgmCode::region_third_translation},
                          {TableType::region_third, 29, PgmCode::segment_translation}};
  for (const auto& l : levels) {
    const TableType child_type = static_cast<TableType>(static_cast<unsigned>(l.parent) - 1);
    for (unsigned tf = 0; tf < 4; ++tf) {
      for (unsigned tl = 0; tl < 4; ++tl) {
        for (unsigned idx01 = 0; idx01 < 4; ++idx01) {
          CAPTURE(static_cast<unsigned>(l.parent));
          CAPTURE(tf);
          CAPTURE(tl);
          CAPTURE(idx01);
          DatFixture f;
          const Table parent = f.b.region_table(l.parent);
          // The child backs only its pages TF..TL: reading outside them would be a 0x05.
          const Table child = f.b.region_table(child_type, tf, tl);
          const Asce asce = TableBuilder::asce(parent);
          const std::uint64_t va = (std::uint64_t{idx01} << l.child_shift) | 0x3000 | 0x42;
          f.b.link(parent, index_of(va, level_of(l.parent)), child);
          const bool inside = idx01 >= tf && idx01 <= tl;
          if (inside) {
            const std::uint64_t frame = f.b.data_frame();
            f.b.map_page(asce, va, frame);
            CHECK(f.fetch(asce, va) == ok(frame | 0x42));
          } else {
            CHECK(f.fetch(asce, va) == pgm(l.code));
            CHECK(f.store(asce, va) == pgm(l.code));
          }
        }
      }
    }
  }
}

TEST_CASE("Invalid bit at every level, from every designation type") {
  for (TableType dt : {TableType::region_first, TableType::region_second, TableType::region_third,
                       TableType::segment}) {
    for (WalkLevel level : all_levels) {
      if (static_cast<unsigned>(level) < static_cast<unsigned>(level_of(dt))) continue;
      CAPTURE(static_cast<unsigned>(dt));
      CAPTURE(level_name(level));
      Mapped m(dt);
      m.f.b.set_bits(m.entry(level), invalid_bit(level));
      CHECK(m.f.fetch(m.asce, m.va) == pgm(invalid_code(level)));
      CHECK(m.f.store(m.asce, m.va) == pgm(invalid_code(level)));
      // The invalid bit is tested before the table type...
      if (level != WalkLevel::page) {
        const std::uint64_t e = m.entry(level);
        const unsigned wrong_tt = (static_cast<unsigned>(table_type_of(level)) + 1) % 4;
        m.f.b.set_raw(e, (m.f.b.raw(e) & ~RegionEntry::tt_mask) | (std::uint64_t{wrong_tt} << 2));
        CHECK(m.f.fetch(m.asce, m.va) == pgm(invalid_code(level)));
      } else {
        // ... and for a PTE before bit 52.
        m.f.b.set_bits(m.entry(level), PageEntry::z_bit);
        CHECK(m.f.fetch(m.asce, m.va) == pgm(PgmCode::page_translation));
      }
    }
  }
}

TEST_CASE("Invalid bit wins over the next table's TF/TL") {
  Mapped m(TableType::region_first);
  const std::uint64_t r1te = m.entry(WalkLevel::region_first);
  // TF 3 > RSX01 would be a 0x3A if the entry were valid.
  m.f.b.set_bits(r1te, tf_bits(3) | RegionEntry::i_bit);
  CHECK(m.f.fetch(m.asce, m.va) == pgm(PgmCode::region_first_translation));
  m.f.b.clear_bits(r1te, RegionEntry::i_bit);
  CHECK(m.f.fetch(m.asce, m.va) == pgm(PgmCode::region_second_translation));
}

TEST_CASE("Table-type mismatch at each level -> 0x12, before the TF/TL check") {
  for (WalkLevel level : {WalkLevel::region_first, WalkLevel::region_second, WalkLevel::region_third,
                          WalkLevel::segment}) {
    for (unsigned tt = 0; tt < 4; ++tt) {
      if (TableType{static_cast<std::uint8_t>(tt)} == table_type_of(level)) continue;
      CAPTURE(level_name(level));
      CAPTURE(tt);
      Mapped m(TableType::region_first);
      const std::uint64_t e = m.entry(level);
      m.f.b.set_raw(e, (m.f.b.raw(e) & ~RegionEntry::tt_mask) | (std::uint64_t{tt} << 2));
      CHECK(m.f.fetch(m.asce, m.va) == pgm(PgmCode::translation_specification));
      if (level != WalkLevel::segment) {
        // Also with a TF that excludes the next index: the type is checked first.
        m.f.b.set_bits(e, tf_bits(3));
        CHECK(m.f.fetch(m.asce, m.va) == pgm(PgmCode::translation_specification));
      }
    }
  }
}

TEST_CASE("STE common-segment bit with a private ASCE -> 0x12, with or without EDAT") {
  struct Case {
    bool cs;
    bool private_asce;
    bool edat;
    bool spec_exception;
  };
  const Case cases[] = {{true, true, true, true},    {true, true, false, true},    {true, false, true, false},
                        {false, true, true, false},  {false, true, false, false},  {true, false, false, false}};
  for (const auto& c : cases) {
    CAPTURE(c.cs);
    CAPTURE(c.private_asce);
    CAPTURE(c.edat);
    Mapped m(TableType::segment, 0x345678, c.private_asce ? Asce::p_bit : 0);
    m.f.controls = c.edat ? DatControls::all() : DatControls{};
    if (c.cs) m.f.b.set_bits(m.entry(WalkLevel::segment), SegmentEntry::cs_bit);
    CHECK(m.f.fetch(m.asce, m.va) == (c.spec_exception ? pgm(PgmCode::translation_specification) : ok(m.expected())));
  }
  // Also on a 1 MiB frame entry (the check precedes the FC decision).
  DatFixture f;
  const Table st = f.b.segment_table();
  const Asce priv = TableBuilder::asce(st, Asce::p_bit);
  f.b.map_segment_1m(priv, 0x500000, 0x900000, SegmentEntry::cs_bit);
  f.storage.back(0x900000);
  CHECK(f.fetch(priv, 0x500000) == pgm(PgmCode::translation_specification));
}

TEST_CASE("R3TE common-region bit with a private ASCE -> 0x12 only under EDAT-2") {
  struct Case {
    bool cr;
    bool private_asce;
    DatControls controls;
    bool spec_exception;
  };
  const DatControls edat2 = DatControls::all();
  const DatControls edat1_only{true, false, false};
  const DatControls none{};
  const Case cases[] = {{true, true, edat2, true},       {true, true, edat1_only, false}, {true, true, none, false},
                        {true, false, edat2, false},     {false, true, edat2, false}};
  for (const auto& c : cases) {
    CAPTURE(c.cr);
    CAPTURE(c.private_asce);
    CAPTURE(c.controls.edat1);
    CAPTURE(c.controls.edat2);
    Mapped m(TableType::region_third, 0x2345678, c.private_asce ? Asce::p_bit : 0);
    m.f.controls = c.controls;
    if (c.cr) m.f.b.set_bits(m.entry(WalkLevel::region_third), Region3Entry::cr_bit);
    CHECK(m.f.fetch(m.asce, m.va) == (c.spec_exception ? pgm(PgmCode::translation_specification) : ok(m.expected())));
  }
  // Also on a 2 GiB frame entry (the check precedes the FC decision).
  DatFixture f;
  const Table r3 = f.b.region_table(TableType::region_third);
  const Asce priv = TableBuilder::asce(r3, Asce::p_bit);
  f.b.map_region3_2g(priv, 0x80000000, 0x80000000, Region3Entry::cr_bit);
  f.storage.back(0x80000000);
  CHECK(f.fetch(priv, 0x80000000) == pgm(PgmCode::translation_specification));
}

TEST_CASE("PTE bit 52 -> translation specification; other software bits ignored") {
  Mapped m(TableType::region_second, 0x000123456789a000);
  const std::uint64_t pte = m.entry(WalkLevel::page);
  m.f.b.set_bits(pte, PageEntry::z_bit);
  CHECK(m.f.fetch(m.asce, m.va) == pgm(PgmCode::translation_specification));
  m.f.b.clear_bits(pte, PageEntry::z_bit);
  m.f.b.set_bits(pte, 0xff);  // bits 56-63: software bits
  CHECK(m.f.fetch(m.asce, m.va) == ok(m.expected()));
}

TEST_CASE("Table entry outside storage -> 0x05 at each level") {
  for (WalkLevel level : all_levels) {
    CAPTURE(level_name(level));
    Mapped m(TableType::region_first);
    const std::uint64_t e = m.entry(level);
    m.f.storage.unback(e);
    WalkTrace trace;
    CHECK(show(m.f.walk(m.asce, m.va, AccessMode::fetch, &trace)) == pgm(PgmCode::addressing));
    CHECK(show(m.f.walk(m.asce, m.va, AccessMode::store)) == pgm(PgmCode::addressing));
    REQUIRE(trace.depth == static_cast<unsigned>(level) + 1);
    const WalkStep& last = trace.steps[trace.depth - 1];
    CHECK(last.level == level);
    CHECK(last.entry_address == e);
    CHECK_FALSE(last.entry_read);
    CHECK_FALSE(trace.stop_reason.empty());
  }
}

TEST_CASE("Page table origin is 2 KiB aligned and has no length check") {
  DatFixture f;
  const Table st = f.b.segment_table();
  const Asce asce = TableBuilder::asce(st);
  // Two page tables sharing one 4 KiB frame: the second half is a separate table.
  const Table low = f.b.table_at(WalkLevel::page, 0x3000000);
  const Table high = f.b.table_at(WalkLevel::page, 0x3000800);
  f.b.link(st, 1, low);
  f.b.link(st, 2, high);
  f.b.set_page(low, 255, 0x5000000);
  f.b.set_page(high, 0, 0x6000000);
  f.storage.back(0x5000000);
  f.storage.back(0x6000000);
  CHECK(f.fetch(asce, 0x1ff123) == ok(0x5000123));
  CHECK(f.fetch(asce, 0x200456) == ok(0x6000456));
}

TEST_CASE("WalkTrace records every level of a successful five-level walk") {
  Mapped m(TableType::region_first, 0xfedcba9876543210);
  WalkTrace trace;
  const auto r = m.f.walk(m.asce, m.va, AccessMode::fetch, &trace);
  REQUIRE(r);
  CHECK(r->frame_size == 4096);
  CHECK(trace.asce == m.asce);
  CHECK(trace.address == m.va);
  CHECK_FALSE(trace.real_space);
  CHECK(trace.stop_reason.empty());
  CHECK(trace.absolute == m.expected());
  CHECK(trace.frame_size == 4096);
  REQUIRE(trace.depth == 5);
  std::uint64_t origin = m.asce.origin();
  for (unsigned i = 0; i < 5; ++i) {
    const WalkLevel level = static_cast<WalkLevel>(i);
    CAPTURE(level_name(level));
    const WalkStep& s = trace.steps[i];
    CHECK(s.level == level);
    CHECK(s.table_origin == origin);
    CHECK(s.index == index_of(m.va, level));
    CHECK(s.entry_address == m.entry(level));
    CHECK(s.entry_read);
    CHECK(s.entry == m.f.b.raw(s.entry_address));
    origin = level == WalkLevel::segment ? (s.entry & SegmentEntry::pto_mask) : (s.entry & RegionEntry::origin_mask);
  }
  // A trace object is reset by the next walk.
  CHECK_FALSE(m.f.walk(m.asce, m.va ^ (std::uint64_t{1} << 63), AccessMode::fetch, &trace));
  CHECK(trace.depth == 1);
  CHECK_FALSE(trace.stop_reason.empty());
}
