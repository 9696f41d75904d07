// Property test: random (fixed-seed) valid mappings through region-first/second/third and
// segment ASCEs (4 KiB pages, 1 MiB and 2 GiB frames mixed). An independent model of what
// the builder laid out predicts, for mapped and unmapped addresses alike, either the
// absolute address or the exception (as KVM's guest_translate in Linux
// arch/s390/kvm/gaccess.c), and dat_translate must
// agree for every one.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "tests/translate/translate_support.h"

using namespace s390b;
using namespace s390b::test;

namespace {

// Shift of the lowest bit of each level's index: R1 53, R2 42, R3 31, SX 20, PX 12.
constexpr unsigned shift_of(WalkLevel l) {
  switch (l) {
    case WalkLevel::region_first: return 53;
    case WalkLevel::region_second: return 42;
    case WalkLevel::region_third: return 31;
    case WalkLevel::segment: return 20;
    case WalkLevel::page: return 12;
  }
  return 0;
}
constexpr PgmCode invalid_code(WalkLevel l) {
  switch (l) {
    case WalkLevel::region_first: return PgmCode::region_first_translation;
    case WalkLevel::region_second: return PgmCode::region_second_translation;
    case WalkLevel::region_third: return PgmCode::region_third_translation;
    case WalkLevel::segment: return PgmCode::segment_translation;
    case WalkLevel::page: return PgmCode::page_translation;
  }
  return PgmCode::addressing;
}

// What the builder was asked to map, and what a walk must therefore produce.
struct Model {
  TableType dt{};
  unsigned tl = 3;
  std::set<std::uint64_t> valid[5];              // per level: va >> shift of entries made valid
  std::map<std::uint64_t, std::uint64_t> pages;   // va >> 12 -> 4 KiB frame
  std::map<std::uint64_t, std::uint64_t> segs;    // va >> 20 -> 1 MiB frame
  std::map<std::uint64_t, std::uint64_t> regions; // va >> 31 -> 2 GiB frame

  WalkLevel top() const { return level_of(dt); }
  std::uint64_t reach_mask() const {
    const unsigned bits = top() == WalkLevel::region_first ? 64 : shift_of(top()) + 11;
    return bits == 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << bits) - 1;
  }
  // Whether a new mapping ending at `kind` level fits with what is there: a large frame
  // needs its entry unused; a page needs no large frame above it.
  bool fits(std::uint64_t va, WalkLevel kind) const {
    switch (kind) {
      case WalkLevel::region_third: return !valid[2].count(va >> 31);
      case WalkLevel::segment: return !regions.count(va >> 31) && !valid[3].count(va >> 20);
      default: return !regions.count(va >> 31) && !segs.count(va >> 20);
    }
  }
  void add(std::uint64_t va, WalkLevel kind, std::uint64_t frame) {
    for (unsigned l = static_cast<unsigned>(top()); l <= static_cast<unsigned>(kind); ++l)
      valid[l].insert(va >> shift_of(static_cast<WalkLevel>(l)));
    if (kind == WalkLevel::page) pages[va >> 12] = frame;
    if (kind == WalkLevel::segment) segs[va >> 20] = frame;
    if (kind == WalkLevel::region_third) regions[va >> 31] = frame;
  }
  // The absolute address a fetch of `va` must reach, or the exception it must raise
  // (TF 0 / TL 3 below the top table, as the builder makes them).
  std::optional<std::uint64_t> absolute(std::uint64_t va) const {
    if (va & ~reach_mask()) return std::nullopt;
    if (((va >> (shift_of(top()) + 9)) & 3) > tl) return std::nullopt;
    for (unsigned l = static_cast<unsigned>(top()); l < 5; ++l) {
      const WalkLevel level = static_cast<WalkLevel>(l);
      if (!valid[l].count(va >> shift_of(level))) return std::nullopt;
      if (level == WalkLevel::region_third && regions.count(va >> 31))
        return regions.at(va >> 31) | (va & (2 * gib - 1));
      if (level == WalkLevel::segment && segs.count(va >> 20)) return segs.at(va >> 20) | (va & (mib - 1));
    }
    return pages.at(va >> 12) | (va & 0xfff);
  }
  std::string expect(std::uint64_t va) const {
    if (va & ~reach_mask()) return pgm(PgmCode::asce_type);
    if (((va >> (shift_of(top()) + 9)) & 3) > tl) return pgm(invalid_code(top()));
    for (unsigned l = static_cast<unsigned>(top()); l < 5; ++l) {
      const WalkLevel level = static_cast<WalkLevel>(l);
      if (!valid[l].count(va >> shift_of(level))) return pgm(invalid_code(level));
      if ((level == WalkLevel::region_third && regions.count(va >> 31)) ||
          (level == WalkLevel::segment && segs.count(va >> 20)))
        break;
    }
    return ok(*absolute(va));
  }
};

}  // namespace

TEST_CASE("Property: random mappings translate as placed; unmapped addresses fail with the right code") {
  std::mt19937_64 rng(0x5390b1d6e);  // fixed seed: the engine's output is fixed by the standard
  auto bits = [&](unsigned n) { return n >= 64 ? rng() : rng() & ((std::uint64_t{1} << n) - 1); };
  unsigned mapped_checks = 0;
  unsigned unmapped_checks = 0;
  unsigned asce_type_checks = 0;
  unsigned cache_hits = 0;
  std::map<std::string, unsigned> by_code;
  for (TableType dt : {TableType::region_first, TableType::region_second, TableType::region_third,
                       TableType::segment}) {
    for (unsigned round = 0; round < 3; ++round) {
      Model m;
      m.dt = dt;
      m.tl = static_cast<unsigned>(bits(2));
      SparseStorage s;
      TableBuilder b(s);
      const Asce asce = TableBuilder::asce(b.region_table(dt, 0, m.tl));
      const unsigned top_shift = shift_of(m.top());
      auto random_va = [&] {
        std::uint64_t va = rng() & m.reach_mask();
        const std::uint64_t top01 = std::uint64_t{3} << (top_shift + 9);
        return (va & ~top01) | ((bits(8) % (m.tl + 1)) << (top_shift + 9));
      };
      std::vector<std::uint64_t> vas;
      for (unsigned n = 0; n < 64; ++n) {
        std::uint64_t va = random_va();
        if (!vas.empty() && bits(2) != 0) {
          // Share a prefix with an earlier mapping: keep its bits above a random level.
          const std::uint64_t base = vas[bits(32) % vas.size()];
          const unsigned keep_from = shift_of(static_cast<WalkLevel>(1 + bits(8) % 4));  // R2 .. page
          const std::uint64_t low = (std::uint64_t{1} << keep_from) - 1;
          if (keep_from < top_shift) va = (base & ~low) | (va & low);
        }
        WalkLevel kind = WalkLevel::page;
        const unsigned pick = static_cast<unsigned>(bits(8) % 8);
        if (pick == 0) kind = WalkLevel::segment;
        if (pick == 1 && m.top() != WalkLevel::segment) kind = WalkLevel::region_third;
        if (!m.fits(va, kind)) continue;
        // Frames well above the table arenas; large frames aligned to their size.
        const std::uint64_t frame = kind == WalkLevel::page      ? (4 * gib + bits(36)) & page_mask
                                    : kind == WalkLevel::segment ? (4 * gib + bits(38)) & ~(mib - 1)
                                                                 : (4 * gib + bits(42)) & ~(2 * gib - 1);
        if (kind == WalkLevel::page) b.map_page(asce, va, frame);
        if (kind == WalkLevel::segment) b.map_segment_1m(asce, va, frame);
        if (kind == WalkLevel::region_third) b.map_region3_2g(asce, va, frame);
        m.add(va, kind, frame);
        vas.push_back(va);
      }
      const DatControls controls = DatControls::all();
      // One walk cache across the round's walks, as one operation would use it: every
      // result must equal the uncached walk's (and the model's).
      DatWalkCache cache;
      auto check = [&](std::uint64_t va) {
        const std::string want = m.expect(va);
        const auto abs = m.absolute(va);
        const bool success = abs.has_value();
        if (success) s.back(*abs);  // so that the final-frame check passes
        const std::string got = show(dat_translate(s, asce, va, AccessMode::fetch, controls, 0));
        CAPTURE(va);
        CHECK(got == want);
        if (cache.hit(asce, controls, va)) ++cache_hits;
        CHECK(show(dat_translate(s, asce, va, AccessMode::fetch, controls, 0, nullptr, &cache)) == want);
        ++by_code[success ? "ok" : want];
        (success ? mapped_checks : (want == pgm(PgmCode::asce_type) ? asce_type_checks : unmapped_checks))++;
      };
      for (std::uint64_t va : vas) {
        check(va | bits(12));
        check(va ^ (bits(12) << 12));          // another page nearby (often unmapped)
        check(va ^ (std::uint64_t{1} << (20 + bits(8) % 11)));  // another segment
        check(va ^ (std::uint64_t{1} << (31 + bits(8) % 11)));  // another region-third entry
        check(va ^ (std::uint64_t{1} << (42 + bits(8) % 22)));  // higher regions / beyond reach
        check(rng());
      }
    }
  }
  MESSAGE("mapped " << mapped_checks << ", unmapped " << unmapped_checks << ", ASCE type " << asce_type_checks
                     << ", walk-cache hits " << cache_hits);
  CHECK(cache_hits > 100);
  for (const auto& [what, n] : by_code) MESSAGE(what << ": " << n);
  // Every exception a valid-table walk can end in was exercised.
  for (PgmCode c : {PgmCode::asce_type, PgmCode::region_first_translation, PgmCode::region_second_translation,
                    PgmCode::region_third_translation, PgmCode::segment_translation, PgmCode::page_translation}) {
    CAPTURE(pgm(c));
    CHECK(by_code[pgm(c)] > 10);
  }
  CHECK(mapped_checks > 500);
  CHECK(unmapped_checks > 500);
  CHECK(asce_type_checks > 50);
}
