// The builder itself: big-endian layout, holes, TF/TL backing, ART structure encodings.
// (If the builder were wrong every other translate test would test the wrong thing.)
#include <doctest/doctest.h>

#include "tests/translate/table_builder.h"

using namespace s390b;
using namespace s390b::test;

TEST_CASE("SparseStorage: holes, big-endian stores, page-granular backing") {
  SparseStorage s;
  CHECK_FALSE(s.contains(0));
  CHECK_FALSE(s.read_u64(0).has_value());
  s.back(0x1ff8, 16);  // straddles two frames
  CHECK(s.contains(0x1000));
  CHECK(s.contains(0x2fff));
  CHECK_FALSE(s.contains(0x3000));
  s.store_u64(0x1ff8, 0x0102030405060708);
  CHECK(s.load_u8(0x1ff8) == 0x01);  // most significant byte first, whatever the host
  CHECK(s.load_u8(0x1fff) == 0x08);
  CHECK(s.read_u64(0x1ff8) == std::optional<std::uint64_t>{0x0102030405060708});
  s.store_u32(0x2004, 0xa1b2c3d4);
  CHECK(s.read_u64(0x2000) == std::optional<std::uint64_t>{0x00000000a1b2c3d4});
  s.unback(0x2000);
  CHECK_FALSE(s.contains(0x2000));
  CHECK_THROWS_AS(s.store_u8(0x2000, 1), std::logic_error);
  CHECK_FALSE(s.saw_misaligned_read());
}

TEST_CASE("TableBuilder: region table backs only pages TF..TL and holds invalid entries") {
  SparseStorage s;
  TableBuilder b(s);
  const Table t = b.region_table(TableType::region_second, 1, 2);
  CHECK_FALSE(s.contains(t.origin));
  CHECK(s.contains(t.origin + 0x1000));
  CHECK(s.contains(t.origin + 0x2fff));
  CHECK_FALSE(s.contains(t.origin + 0x3000));
  CHECK(s.load_u64(t.entry_address(512)) == (RegionEntry::i_bit | 0x8));  // I, TT=2

  const Asce a = TableBuilder::asce(t, Asce::p_bit);
  CHECK(a.origin() == t.origin);
  CHECK(a.designation() == TableType::region_second);
  CHECK(a.table_length() == 2);
  CHECK(a.private_space());
}

TEST_CASE("TableBuilder: map_page builds the path and entry_address follows it") {
  SparseStorage s;
  TableBuilder b(s);
  const Table r1 = b.region_table(TableType::region_first);
  const Asce a = TableBuilder::asce(r1);
  const std::uint64_t va = 0x0123456789abc000;
  const std::uint64_t frame = b.data_frame();
  const std::uint64_t pte = b.map_page(a, va, frame, PageEntry::p_bit);
  CHECK(pte == b.entry_address(a, va, WalkLevel::page));
  CHECK(s.load_u64(pte) == (frame | PageEntry::p_bit));

  const RegionEntry r1te{s.load_u64(b.entry_address(a, va, WalkLevel::region_first))};
  CHECK_FALSE(r1te.invalid());
  CHECK(r1te.table_type() == TableType::region_first);
  CHECK(r1te.table_offset() == 0);
  CHECK(r1te.table_length() == 3);
  const SegmentEntry ste{s.load_u64(b.entry_address(a, va, WalkLevel::segment))};
  CHECK(ste.table_type() == TableType::segment);
  CHECK(ste.page_table_origin() == (pte & ~std::uint64_t{0x7ff}));
  // A second page in the same segment reuses the page table.
  const std::uint64_t pte2 = b.map_page(a, va + 0x1000, frame);
  CHECK(pte2 == pte + 8);
  // A large frame in the way is reported.
  b.map_segment_1m(a, 0x100000, 0x300000);
  CHECK_THROWS_AS(b.map_page(a, 0x101000, frame), std::logic_error);
}

TEST_CASE("TableBuilder: ART structure encodings") {
  SparseStorage s;
  TableBuilder b(s);
  const AccessList list = b.access_list(1);
  CHECK(list.origin % 128 == 0);
  CHECK(list.ald() == (list.origin | 1));
  CHECK(s.load_u32(list.ale_address(15)) == Ale::i_bit);
  b.set_ale(list, 3, AleSpec{.fetch_only = true, .private_entry = true, .alesn = 0x5a, .aleax = 0x1234,
                             .aste = 0x12340, .astesn = 0xdeadbeef});
  CHECK(s.load_u32(list.ale_address(3)) == (Ale::fo_bit | Ale::p_bit | 0x5a1234));
  CHECK(s.load_u32(list.ale_address(3) + 8) == 0x12340);
  CHECK(s.load_u32(list.ale_address(3) + 12) == 0xdeadbeef);

  const std::uint64_t at = b.authority_table(0);
  b.grant(at, 5, false, true);  // byte 1, pair 1: S = 0x40 >> 2
  CHECK(s.load_u8(at + 1) == 0x10);
  b.grant(at, 7, true, false);  // byte 1, pair 3: P = 0x80 >> 6
  CHECK(s.load_u8(at + 1) == 0x12);

  const std::uint64_t aste =
      b.aste(AsteSpec{.asce = Asce{0xabcd000}, .ald = 0x777, .astesn = 9, .ato = 0x1004, .atl = 0x123, .ax = 0x42});
  CHECK(aste % 64 == 0);
  CHECK(s.load_u32(aste) == 0x1004);
  CHECK(s.load_u32(aste + 4) == 0x00421230);
  CHECK(s.load_u64(aste + 8) == 0xabcd000);
  CHECK(s.load_u32(aste + 16) == 0x777);
  CHECK(s.load_u32(aste + 20) == 9);

  const std::uint64_t duct = b.duct(0x4242);
  CHECK(s.load_u32(duct + 16) == 0x4242);
  CHECK(make_alet(true, 0x12, 0x3456).raw == 0x01123456);
}
