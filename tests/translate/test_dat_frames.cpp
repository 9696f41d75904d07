// dat_translate: what the walk ends in (Linux arch/s390/kvm/gaccess.c, guest_translate;
// gaccess.h, kvm_s390_real_to_abs):
// EDAT-1 1 MiB and EDAT-2 2 GiB frames and their enablement, FC ignored without EDAT,
// real-space ASCEs, DAT protection accumulated over the levels, the final-frame check,
// prefixing of page frames (and not of tables or large frames), IEP.
#include <doctest/doctest.h>

#include "tests/translate/translate_support.h"

using namespace s390b;
using namespace s390b::test;

namespace {

constexpr std::uint64_t prefix_value = 0x00040000;  // 8 KiB aligned, below the arenas

struct Enablement {
  bool cr0_edat;
  bool facility_edat1;
  bool facility_edat2;
};

DatControls controls_for(const Enablement& e) {
  return DatControls::from(e.cr0_edat ? cr0::edat : 0, Facilities{e.facility_edat1, e.facility_edat2, true});
}

}  // namespace

TEST_CASE("DatControls::from: EDAT-1 needs CR0 bit 40 and facility 8; EDAT-2 also 78; IEP bit 43 + 130") {
  CHECK(DatControls::from(cr0::edat, {true, true, true}).edat1);
  CHECK(DatControls::from(cr0::edat, {true, true, true}).edat2);
  CHECK_FALSE(DatControls::from(0, {true, true, true}).edat1);
  CHECK_FALSE(DatControls::from(0, {true, true, true}).edat2);
  CHECK_FALSE(DatControls::from(cr0::edat, {false, true, true}).edat1);
  CHECK_FALSE(DatControls::from(cr0::edat, {false, true, true}).edat2);
  CHECK(DatControls::from(cr0::edat, {true, false, true}).edat1);
  CHECK_FALSE(DatControls::from(cr0::edat, {true, false, true}).edat2);
  CHECK(DatControls::from(cr0::iep, {true, true, true}).iep);
  CHECK_FALSE(DatControls::from(cr0::iep, {true, true, false}).iep);
  CHECK_FALSE(DatControls::from(cr0::edat, {true, true, true}).iep);
  CHECK(cr0::edat == 0x00800000);
  CHECK(cr0::iep == 0x00100000);
}

TEST_CASE("EDAT-1 1 MiB frame: used only with CR0 enablement and the facility; else FC is ignored") {
  // The STE has FC=1 and frame 0x200000. With EDAT-1 off its bits are a page-table origin
  // (0x200000, FC masked off), so a page table placed there decides the result instead.
  const Enablement cases[] = {{true, true, true}, {false, true, true}, {true, false, true}, {false, false, false}};
  for (const auto& e : cases) {
    CAPTURE(e.cr0_edat);
    CAPTURE(e.facility_edat1);
    DatFixture f;
    f.controls = controls_for(e);
    const Table st = f.b.segment_table();
    const Asce asce = TableBuilder::asce(st);
    const std::uint64_t va = 0x00503abc;  // SX 5, PX 3, BX 0xabc
    f.b.map_segment_1m(asce, va, 0x200000);
    const Table decoy = f.b.table_at(WalkLevel::page, 0x200000);
    const std::uint64_t page_frame = f.b.data_frame();
    f.b.set_page(decoy, 3, page_frame);
    f.storage.back(0x203000);
    WalkTrace trace;
    const auto r = f.walk(asce, va, AccessMode::fetch, &trace);
    if (e.cr0_edat && e.facility_edat1) {
      CHECK(show(r) == ok(0x203abc));
      CHECK(r->frame_size == 1 * mib);
      CHECK(trace.depth == 1);
    } else {
      CHECK(show(r) == ok(page_frame | 0xabc));
      CHECK(r->frame_size == 4 * kib);
      CHECK(trace.depth == 2);
    }
  }
}

TEST_CASE("EDAT-2 2 GiB frame: used only with EDAT-2; else FC is ignored (entry is an STO)") {
  const Enablement cases[] = {{true, true, true}, {true, true, false}, {false, true, true}, {true, false, true}};
  for (const auto& e : cases) {
    CAPTURE(e.cr0_edat);
    CAPTURE(e.facility_edat1);
    CAPTURE(e.facility_edat2);
    DatFixture f;
    f.controls = controls_for(e);
    const Table r3 = f.b.region_table(TableType::region_third);
    const Asce asce = TableBuilder::asce(r3);
    const std::uint64_t va = 0x180123456;  // RTX 3; within the region: SX 1, PX 0x23, BX 0x456
    f.b.map_region3_2g(asce, va, 0x80000000);
    // Read as an R3TE with FC ignored: STO 0x80000000, TF 0, TL 0.
    const Table decoy = f.b.table_at(WalkLevel::segment, 0x80000000, 0, 0);
    const Asce decoy_asce = TableBuilder::asce(decoy);
    const std::uint64_t page_frame = f.b.data_frame();
    f.b.map_page(decoy_asce, 0x123456, page_frame);
    f.storage.back(0x80123000);
    const auto r = f.walk(asce, va);
    if (e.cr0_edat && e.facility_edat1 && e.facility_edat2) {
      CHECK(show(r) == ok(0x80123456));
      CHECK(r->frame_size == 2 * gib);
    } else {
      CHECK(show(r) == ok(page_frame | 0x456));
      CHECK(r->frame_size == 4 * kib);
    }
  }
}

TEST_CASE("EDAT-2 frame offset covers 31 bits; EDAT-1 frame offset 20 bits") {
  DatFixture f;
  const Table r2 = f.b.region_table(TableType::region_second);
  const Asce asce = TableBuilder::asce(r2);
  f.b.map_region3_2g(asce, 0x0000012380000000, 0x0000004000000000);
  f.storage.back(0x4000000000 + 0x7ffff000);
  CHECK(f.fetch(asce, 0x00000123fffffff8) == ok(0x0000004000000000 + 0x7ffffff8));
  f.b.map_segment_1m(asce, 0x0000000000700000, 0x0000000123400000);
  f.storage.back(0x1234ff000);
  CHECK(f.fetch(asce, 0x00000000007ffff0) == ok(0x00000001234ffff0));
}

TEST_CASE("Large frames are absolute (no prefixing); page frames are prefixed") {
  DatFixture f;
  f.prefix = prefix_value;
  const Table r3 = f.b.region_table(TableType::region_third);
  const Asce asce = TableBuilder::asce(r3);
  f.storage.back(0, 0x2000);
  f.storage.back(prefix_value, 0x2000);
  f.b.map_region3_2g(asce, 0x80000000, 0);   // 2 GiB frame at absolute 0
  f.b.map_segment_1m(asce, 0x100000, 0);     // 1 MiB frame at absolute 0
  f.b.map_page(asce, 0x200000, 0);           // 4 KiB frame at real 0
  CHECK(f.fetch(asce, 0x80000100) == ok(0x100));
  CHECK(f.fetch(asce, 0x100100) == ok(0x100));
  CHECK(f.fetch(asce, 0x200100) == ok(prefix_value + 0x100));
}

TEST_CASE("Prefixing of PTE frames at the page boundaries of both prefix areas") {
  struct Case {
    std::uint64_t real;
    std::uint64_t absolute;
  };
  const Case cases[] = {
      {0x0000, prefix_value + 0x0000},
      {0x1fff, prefix_value + 0x1fff},
      {0x2000, 0x2000},
      {prefix_value, 0x0000},
      {prefix_value + 0x1fff, 0x1fff},
      {prefix_value + 0x2000, prefix_value + 0x2000},
  };
  DatFixture f;
  f.prefix = prefix_value;
  f.storage.back(0, 0x3000);
  f.storage.back(prefix_value, 0x3000);
  const Table seg = f.b.segment_table();
  const Asce asce = TableBuilder::asce(seg);
  std::uint64_t va = 0x10000;
  for (const auto& c : cases) {
    CAPTURE(c.real);
    f.b.map_page(asce, va, c.real & page_mask);
    CHECK(f.fetch(asce, va | (c.real & 0xfff)) == ok(c.absolute));
    va += page_size;
  }
  // The prefix register's low bits (below 8 KiB) are not part of the prefix.
  f.prefix = prefix_value | 0x1fff;
  CHECK(f.fetch(asce, 0x10000) == ok(prefix_value));
}

TEST_CASE("DAT tables are read at absolute addresses (no prefixing)") {
  // Segment table at absolute 0 and page table at absolute prefix+0x800; decoys where
  // prefixing would send the walker (absolute prefix, absolute 0x800).
  DatFixture f;
  f.prefix = prefix_value;
  // (Segment tables first: the page tables then reuse the unused upper halves.)
  const Table seg = f.b.table_at(WalkLevel::segment, 0x0, 0, 0);
  const Table decoy_seg = f.b.table_at(WalkLevel::segment, prefix_value, 0, 0);
  const Table pt = f.b.table_at(WalkLevel::page, prefix_value + 0x800);
  const Table decoy_pt = f.b.table_at(WalkLevel::page, 0x800);
  f.b.link(seg, 3, pt);
  f.b.set_page(pt, 4, 0x7000000);
  f.b.link(decoy_seg, 3, decoy_pt);
  f.b.set_page(decoy_pt, 4, 0x7100000);
  f.storage.back(0x7000000);
  f.storage.back(0x7100000);
  const Asce asce = TableBuilder::asce(seg);
  RecordingReader rec(f.storage);
  CHECK(show(dat_translate(rec, asce, 0x304123, AccessMode::fetch, f.controls, f.prefix)) == ok(0x7000123));
  CHECK(rec.reads() == std::vector<std::uint64_t>{0x18, prefix_value + 0x800 + 4 * 8});
}

TEST_CASE("Real-space ASCE: no tables, address is real (prefixed), DT/TL/origin ignored") {
  DatFixture f;
  f.prefix = prefix_value;
  f.storage.back(prefix_value);
  f.storage.back(0x0123456789abc000);
  const Asce real{TableBuilder::real_space_asce().raw | 0xfff0000 | tt_bits(TableType::segment) | Asce::p_bit};
  RecordingReader rec(f.storage);
  WalkTrace trace;
  const auto r = dat_translate(rec, real, 0x0123456789abcdef, AccessMode::store, f.controls, f.prefix, &trace);
  CHECK(show(r) == ok(0x0123456789abcdef));  // no ASCE-type exception for a "segment" DT
  CHECK(r->frame_size == 4 * kib);
  CHECK_FALSE(r->dat_protected);
  CHECK(rec.reads().empty());
  CHECK(trace.real_space);
  CHECK(trace.depth == 0);
  CHECK(f.store(real, 0x10) == ok(prefix_value + 0x10));
  CHECK(f.fetch(real, 0x5000) == pgm(PgmCode::addressing));
  CHECK(f.store(real, 0x5000) == pgm(PgmCode::addressing));
}

TEST_CASE("DAT protection accumulates from each level (region levels only with EDAT-1)") {
  struct Config {
    const char* name;
    DatControls controls;
  };
  const Config configs[] = {{"no EDAT", DatControls{}},
                            {"EDAT-1 only", DatControls{true, false, false}},
                            {"EDAT-1 and EDAT-2", DatControls::all()}};
  const WalkLevel levels[] = {WalkLevel::region_first, WalkLevel::region_second, WalkLevel::region_third,
                              WalkLevel::segment, WalkLevel::page};
  for (const auto& cfg : configs) {
    for (WalkLevel level : levels) {
      CAPTURE(cfg.name);
      CAPTURE(level_name(level));
      DatFixture f;
      f.controls = cfg.controls;
      const Asce asce = TableBuilder::asce(f.b.region_table(TableType::region_first));
      const std::uint64_t va = 0x8000123456789000;
      const std::uint64_t frame = f.b.data_frame();
      f.b.map_page(asce, va, frame);
      // P is bit 54 (0x200) in every region and segment entry and in the PTE.
      f.b.set_bits(f.b.entry_address(asce, va, level), RegionEntry::p_bit);
      const bool region_level = level != WalkLevel::segment && level != WalkLevel::page;
      const bool counted = !region_level || cfg.controls.edat1;
      const auto fetched = f.walk(asce, va, AccessMode::fetch);
      REQUIRE(fetched);
      CHECK(fetched->dat_protected == counted);
      CHECK(f.fetch(asce, va) == ok(frame));
      CHECK(f.store(asce, va) == (counted ? prot(ProtectionKind::dat) : ok(frame)));
    }
  }
}

TEST_CASE("DAT protection of large frames and above them") {
  DatFixture f;
  const Asce asce = TableBuilder::asce(f.b.region_table(TableType::region_second));
  f.storage.back(0x40000000);
  f.storage.back(0x80000000);
  f.b.map_segment_1m(asce, 0x40000000, 0x40000000, SegmentEntry::p_bit);
  CHECK(f.store(asce, 0x40000000) == prot(ProtectionKind::dat));
  CHECK(f.fetch(asce, 0x40000000) == ok(0x40000000));
  f.b.map_region3_2g(asce, 0x80000000, 0x80000000, Region3Entry::p_bit);
  CHECK(f.store(asce, 0x80000000) == prot(ProtectionKind::dat));
  // R2TE protection above a 1 MiB frame (EDAT-1 counts region-level P).
  f.b.map_segment_1m(asce, 0x4000000000000, 0x40000000);
  CHECK(f.store(asce, 0x4000000000000) == ok(0x40000000));
  f.b.set_bits(f.b.entry_address(asce, 0x4000000000000, WalkLevel::region_second), RegionEntry::p_bit);
  CHECK(f.store(asce, 0x4000000000000) == prot(ProtectionKind::dat));
}

TEST_CASE("DAT protection beats the final-frame addressing check; fetch gets 0x05") {
  DatFixture f;
  const Asce asce = TableBuilder::asce(f.b.segment_table());
  f.b.map_page(asce, 0x1000, 0x7ff000, PageEntry::p_bit);  // frame not backed
  CHECK(f.store(asce, 0x1000) == prot(ProtectionKind::dat));
  CHECK(f.fetch(asce, 0x1000) == pgm(PgmCode::addressing));
  f.b.map_segment_1m(asce, 0x300000, 0x7f00000, SegmentEntry::p_bit);  // 1 MiB frame not backed
  CHECK(f.store(asce, 0x300000) == prot(ProtectionKind::dat));
  CHECK(f.fetch(asce, 0x300000) == pgm(PgmCode::addressing));
}

TEST_CASE("Final frame outside storage -> 0x05 for fetch and store; the frame check is per byte address") {
  DatFixture f;
  const Asce asce = TableBuilder::asce(f.b.segment_table());
  f.b.map_page(asce, 0x5000, 0x7ff000);
  CHECK(f.fetch(asce, 0x5000) == pgm(PgmCode::addressing));
  CHECK(f.store(asce, 0x5123) == pgm(PgmCode::addressing));
  f.storage.back(0x7ff000);
  CHECK(f.store(asce, 0x5123) == ok(0x7ff123));
}

TEST_CASE("IEP bit of the final entry is reported only when IEP is enabled") {
  DatFixture f;
  const Asce asce = TableBuilder::asce(f.b.segment_table());
  const std::uint64_t frame = f.b.data_frame();
  f.b.map_page(asce, 0x1000, frame, PageEntry::iep_bit);
  f.b.map_page(asce, 0x2000, frame);
  f.b.map_segment_1m(asce, 0x100000, 0x100000, SegmentEntry::iep_bit);
  f.storage.back(0x100000);
  f.controls = DatControls::all();
  CHECK(f.walk(asce, 0x1000)->iep);
  CHECK_FALSE(f.walk(asce, 0x2000)->iep);
  CHECK(f.walk(asce, 0x100000)->iep);
  CHECK(f.store(asce, 0x1000) == ok(frame));  // IEP never blocks a data access
  f.controls.iep = false;
  CHECK_FALSE(f.walk(asce, 0x1000)->iep);
  CHECK_FALSE(f.walk(asce, 0x100000)->iep);
}

// DatWalkCache (one operation under the IPTE lock): a hit skips the upper levels but must
// give exactly a full walk's result, protection and final checks included.
TEST_CASE("walk cache: hits equal full walks for pages, 1 MiB and 2 GiB frames") {
  DatFixture f;
  f.prefix = 0x40000;
  const Table r3 = f.b.region_table(TableType::region_third);
  const Asce asce = TableBuilder::asce(r3);
  // Segment 1: 4 KiB pages, the segment entry DAT-protected; page 2 invalid; page 3 maps
  // real 0 (prefixed).
  const std::uint64_t seg = 0x00100000;
  f.b.map_page(asce, seg, f.b.data_frame());
  f.b.map_page(asce, seg + 0x1000, f.b.data_frame(), PageEntry::p_bit);
  f.b.map_page(asce, seg + 0x3000, 0);
  f.storage.back(0);
  f.storage.back(f.prefix);
  f.b.set_bits(f.b.entry_address(asce, seg, WalkLevel::segment), SegmentEntry::p_bit);
  f.b.clear_bits(f.b.entry_address(asce, seg + 0x2000, WalkLevel::page), ~std::uint64_t{0});
  f.b.set_bits(f.b.entry_address(asce, seg + 0x2000, WalkLevel::page), PageEntry::i_bit);
  // Segment 2: a 1 MiB frame. Region 1: a 2 GiB frame.
  f.b.map_segment_1m(asce, 0x00200000, 0x00600000);
  f.storage.back(0x00600000 + 0x5000);
  f.b.map_region3_2g(asce, 0x80000000, 0x80000000);
  f.storage.back(0x80000000 + 0x7000);

  DatWalkCache cache;
  auto cached = [&](std::uint64_t va, AccessMode mode) {
    return show(dat_translate(f.storage, asce, va, mode, f.controls, f.prefix, nullptr, &cache));
  };
  const std::uint64_t vas[] = {seg, seg + 0x1008, seg + 0x2000, seg + 0x3010, seg,
                               0x00205000, 0x00205ff8, 0x80007000, 0x80007abc, 0x00200000 + 0x3000, seg + 0x1000};
  unsigned hits = 0;
  for (const AccessMode mode : {AccessMode::fetch, AccessMode::store}) {
    for (std::uint64_t va : vas) {
      CAPTURE(va);
      const std::string full = show(f.walk(asce, va, mode));
      if (cache.hit(asce, f.controls, va)) ++hits;
      CHECK(cached(va, mode) == full);
    }
  }
  CHECK(hits >= 8);
  // The segment's P bit reaches every page through the cache (a store is a protection
  // exception), and prefixing applies to the cached page frame.
  CHECK(cached(seg + 0x3010, AccessMode::store) == prot(ProtectionKind::dat));
  CHECK(cached(seg + 0x3010, AccessMode::fetch) == ok(f.prefix + 0x10));
  // Another ASCE or other controls never hit.
  CHECK_FALSE(cache.hit(Asce{asce.raw ^ 0x1000}, f.controls, seg));
  DatControls no_edat = f.controls;
  no_edat.edat1 = false;
  CHECK_FALSE(cache.hit(asce, no_edat, seg));
}
