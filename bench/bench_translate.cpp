// Translation cost with tables in cache: a 4-level walk (region-second ASCE), a 5-level
// walk (region-first ASCE), AR-mode translation (ALET -> ASCE, then the walk), and the
// same through translate_address. Target: <= 60 ns per 5-level walk (RelWithDebInfo).
// BM_Walk5Level_CacheHit shows a walk that a per-operation DatWalkCache shortens.
//
// Tables are built with the test builder, then copied into a flat storage so the numbers
// are the walker's, not std::map lookups (the sparse-reader variant is kept for contrast).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "tests/translate/table_builder.h"
#include "translate/art.h"
#include "translate/byteorder.h"
#include "translate/dat.h"
#include "translate/space.h"

using namespace s390b;
using namespace s390b::test;

namespace {

// Guest storage [0, size) as one contiguous big-endian byte array.
class FlatStorage final : public AbsoluteReader {
 public:
  explicit FlatStorage(const SparseStorage& sparse, std::uint64_t size) : bytes_(size) {
    for (const auto& [address, frame] : sparse.frames())
      if (address + page_size <= size)
        std::copy(frame->begin(), frame->end(), bytes_.begin() + static_cast<std::ptrdiff_t>(address));
  }
  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override {
    if (address >= bytes_.size() || bytes_.size() - address < 8) return std::nullopt;
    return load_be64(bytes_.data() + address);
  }
  bool contains(std::uint64_t address) const override { return address < bytes_.size(); }
  const std::uint8_t* direct(std::uint64_t address, std::uint64_t length) const override {
    return address <= bytes_.size() && bytes_.size() - address >= length ? bytes_.data() + address : nullptr;
  }

 private:
  std::vector<std::uint8_t> bytes_;
};

constexpr std::uint64_t storage_size = 4 * mib;
constexpr unsigned pages = 16;

// One address space of each shape with `pages` mapped pages spread over different
// region-first/second/third and segment entries (so each walk reads five distinct lines).
struct Spaces {
  SparseStorage sparse;
  TableBuilder b{sparse, 64 * kib, 2 * mib};
  Asce r1;
  Asce r2;
  std::array<std::uint64_t, pages> va1{};
  std::array<std::uint64_t, pages> va2{};
  std::array<std::uint64_t, pages> va_segment{};  // 16 pages of one segment (region-first space)
  ArtControls art;
  Alet alet = make_alet(false, 1, 3);
  TranslationContext ctx;

  Spaces() {
    r1 = TableBuilder::asce(b.region_table(TableType::region_first));
    r2 = TableBuilder::asce(b.region_table(TableType::region_second));
    for (unsigned i = 0; i < pages; ++i) {
      va1[i] = (std::uint64_t{i} << 53) | (std::uint64_t{i} << 42) | (std::uint64_t{i} << 31) |
               (std::uint64_t{i} << 20) | (std::uint64_t{i} << 12) | 0x123;
      va2[i] = va1[i] & ((std::uint64_t{1} << 53) - 1);
      b.map_page(r1, va1[i], b.data_frame());
      b.map_page(r2, va2[i], b.data_frame());
    }
    for (unsigned i = 0; i < pages; ++i) {
      va_segment[i] = (va1[1] & ~((std::uint64_t{1} << 20) - 1)) | (std::uint64_t{16 + i} << 12);
      b.map_page(r1, va_segment[i], b.data_frame());
    }
    const std::uint64_t aste = b.aste(AsteSpec{.asce = r1, .astesn = 5});
    const AccessList list = b.access_list(0);
    b.set_ale(list, 3, AleSpec{.alesn = 1, .aste = static_cast<std::uint32_t>(aste), .astesn = 5});
    art.cr2 = b.duct(list.ald());
    ctx.psw.mask = Psw::dat_bit | Psw::ea_bit | Psw::ba_bit | (std::uint64_t{1} << 46);  // AR mode
    ctx.cr[0] = 0x00800000;  // EDAT-1
    ctx.cr[1] = r1.raw;
    ctx.cr[2] = art.cr2;
    ctx.ar[4] = alet.raw;
  }
};

const Spaces& spaces() {
  static const Spaces s;
  return s;
}
const FlatStorage& flat() {
  static const FlatStorage f(spaces().sparse, storage_size);
  return f;
}

template <const AbsoluteReader& (*Reader)(), bool FiveLevels, bool Traced>
void walk(benchmark::State& state) {
  const Spaces& s = spaces();
  const AbsoluteReader& reader = Reader();
  const Asce asce = FiveLevels ? s.r1 : s.r2;
  const auto& vas = FiveLevels ? s.va1 : s.va2;
  WalkTrace trace;
  unsigned i = 0;
  for (auto _ : state) {
    auto r = dat_translate(reader, asce, vas[i++ % pages], AccessMode::fetch, DatControls::all(), 0,
                           Traced ? &trace : nullptr);
    benchmark::DoNotOptimize(r);
  }
  if (!dat_translate(reader, asce, vas[0], AccessMode::fetch, DatControls::all(), 0))
    state.SkipWithError("walk failed");
}

const AbsoluteReader& flat_reader() { return flat(); }
const AbsoluteReader& sparse_reader() { return spaces().sparse; }

// The same 5-level space with a DatWalkCache (one operation's pages within a segment): a
// hit reads only the page-table entry. The cache lives for one operation under the IPTE
// lock, so there is nothing to invalidate; the plain walks above are the uncached figure.
void BM_Walk5Level_CacheHit(benchmark::State& state) {
  const Spaces& s = spaces();
  DatWalkCache cache;
  if (!dat_translate(flat(), s.r1, s.va_segment[0], AccessMode::fetch, DatControls::all(), 0, nullptr, &cache))
    state.SkipWithError("walk failed");
  unsigned i = 0;
  for (auto _ : state) {
    auto r = dat_translate(flat(), s.r1, s.va_segment[i++ % pages], AccessMode::fetch, DatControls::all(), 0, nullptr,
                           &cache);
    benchmark::DoNotOptimize(r);
  }
}

void BM_TranslateAlet(benchmark::State& state) {
  const Spaces& s = spaces();
  for (auto _ : state) {
    auto r = translate_alet(flat(), s.art, s.alet, AccessMode::fetch);
    benchmark::DoNotOptimize(r);
  }
  if (!translate_alet(flat(), s.art, s.alet, AccessMode::fetch)) state.SkipWithError("ART failed");
}

// AR mode end to end: AR 4's ALET -> ASTE's region-first ASCE -> 5-level walk.
void BM_ArModeTranslateAddress(benchmark::State& state) {
  const Spaces& s = spaces();
  const AddressSpace cpu = AddressSpace::of(AddressSpace::Kind::cpu);
  unsigned i = 0;
  for (auto _ : state) {
    auto r = translate_address(flat(), s.ctx, cpu, 4, s.va1[i++ % pages], AccessMode::fetch);
    benchmark::DoNotOptimize(r);
  }
  if (!translate_address(flat(), s.ctx, cpu, 4, s.va1[0], AccessMode::fetch)) state.SkipWithError("failed");
}

// Primary space through translate_address (the space layer's overhead on a 5-level walk).
void BM_PrimaryTranslateAddress(benchmark::State& state) {
  const Spaces& s = spaces();
  const AddressSpace primary = AddressSpace::of(AddressSpace::Kind::primary);
  unsigned i = 0;
  for (auto _ : state) {
    auto r = translate_address(flat(), s.ctx, primary, 0, s.va1[i++ % pages], AccessMode::fetch);
    benchmark::DoNotOptimize(r);
  }
}

}  // namespace

BENCHMARK(walk<flat_reader, false, false>)->Name("BM_Walk4Level_RegionSecond");
BENCHMARK(walk<flat_reader, true, false>)->Name("BM_Walk5Level_RegionFirst");
BENCHMARK(walk<flat_reader, true, true>)->Name("BM_Walk5Level_RegionFirst_Traced");
BENCHMARK(walk<sparse_reader, true, false>)->Name("BM_Walk5Level_RegionFirst_SparseReader");
BENCHMARK(BM_Walk5Level_CacheHit);
BENCHMARK(BM_TranslateAlet);
BENCHMARK(BM_ArModeTranslateAddress);
BENCHMARK(BM_PrimaryTranslateAddress);
