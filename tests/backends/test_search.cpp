// access/search.h, the logic of `s390bridge find`: matches through DAT views (the demo
// guest, docs/demo-guest.md, and a small guest built here whose neighbouring pages lie in
// far-apart frames), real and absolute views, ranges and limits; and that a search of a
// whole 64-bit space costs walks in proportion to what is mapped.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "access/search.h"
#include "backends/emulated/demo_guest.h"
#include "backends/emulated/guest_builder.h"

using namespace s390b;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

SearchResult find(Backend& b, unsigned cpu, AddressSpace view, std::string_view text, std::size_t max = 100,
                  std::uint64_t start = 0, std::uint64_t end = ~std::uint64_t{0}) {
  SearchRequest r;
  r.cpu = cpu;
  r.view = view;
  r.pattern = bytes_of(text);
  r.max_matches = max;
  r.start = start;
  r.end = end;
  return search(b, r);
}

std::vector<std::uint64_t> addresses(const SearchResult& r) {
  std::vector<std::uint64_t> out;
  for (const auto& m : r.matches) out.push_back(m.address);
  return out;
}

const AddressSpace home = AddressSpace::of(AddressSpace::Kind::home);

}  // namespace

TEST_CASE("search: the demo kernel's banner, in every place the home space maps it") {
  auto g = demo::make_guest();
  const SearchResult r = find(*g, 0, home, "Linux version");
  REQUIRE_FALSE(r.error);
  CHECK(r.complete);
  // The identity map, the DAT-protected text mapping, and the 2 GiB frame at absolute 0.
  CHECK(addresses(r) == std::vector<std::uint64_t>{demo::kernel_text_abs + 0x400, demo::linux_banner_va,
                                                   demo::region3_frame_va + demo::kernel_text_abs + 0x400});
  for (const auto& m : r.matches) CHECK(m.absolute == demo::kernel_text_abs + 0x400);
  // The first match only, and a range that excludes the identity map.
  CHECK(addresses(find(*g, 0, home, "Linux version", 1)) == std::vector<std::uint64_t>{demo::kernel_text_abs + 0x400});
  CHECK(addresses(find(*g, 0, home, "Linux version", 100, demo::kernel_text_va, demo::kernel_text_va + 0xffff)) ==
        std::vector<std::uint64_t>{demo::linux_banner_va});
  CHECK(find(*g, 0, home, "no such bytes anywhere").matches.empty());
}

TEST_CASE("search: a 64-bit space costs walks for what is mapped, not for its size") {
  auto g = demo::make_guest();
  // cpu 1's primary space: the user process, a region-second ASCE with two pages mapped.
  const SearchResult r = find(*g, 1, AddressSpace::of(AddressSpace::Kind::primary), "user");
  REQUIRE_FALSE(r.error);
  CHECK(r.scanned == 2 * 4096);
  // At most one walk per entry of each table on the way to the two pages: the region-
  // second table, two region-third and two segment tables (2048 entries each), two page
  // tables (256). A page-by-page probe of 2^53 bytes would never end.
  CHECK(r.translations <= 2048 + 2 * 2048 + 2 * 2048 + 2 * 256);
  MESSAGE("walks for a 2^53-byte space with two pages: ", r.translations);
  CHECK(addresses(r).size() == 2);
}

TEST_CASE("search: a match across two pages that are neighbours in the view, not in storage") {
  Storage storage;
  REQUIRE(storage.add_anonymous(0, 16 << 20));
  GuestBuilder b(storage, 0x100000, 0x200000);
  const Asce asce = *b.new_space(TableType::region_third);
  constexpr std::uint64_t va = 0x7000000;
  REQUIRE(b.map_page(asce, va, 0x900000));
  REQUIRE(b.map_page(asce, va + 0x1000, 0x300000));  // the next page, 6 MiB lower
  const std::string text = "split-across-pages";
  const std::vector<std::uint8_t> bytes = bytes_of(text);
  REQUIRE(storage.write(0x900000 + 0x1000 - 5, std::span(bytes).first(5)));  // the end of the first page
  REQUIRE(storage.write(0x300000, std::span(bytes).subspan(5)));             // the start of the next
  CpuState cpu;
  cpu.psw.mask = Psw::dat_bit | Psw::ea_bit | Psw::ba_bit;
  cpu.crs[1] = asce.raw;
  cpu.present.psw = cpu.present.crs = true;
  EmulatedBackend guest(std::move(storage), {cpu});
  const SearchResult r = find(guest, 0, AddressSpace::with_asce(asce), text);
  REQUIRE(r.matches.size() == 1);
  CHECK(r.matches[0].address == va + 0x1000 - 5);
  CHECK(r.matches[0].absolute == 0x900000 + 0x1000 - 5);
  CHECK(r.scanned == 2 * 4096);
}

TEST_CASE("search: real and absolute views search storage, with the prefix swap") {
  auto g = demo::make_guest();
  // The demo writes "lowcore of cpu N" at real 0x1180 of each CPU's lowcore.
  const SearchResult abs = find(*g, 0, AddressSpace::of(AddressSpace::Kind::absolute), "lowcore of cpu");
  CHECK(addresses(abs) == std::vector<std::uint64_t>{demo::prefix[0] + 0x1180, demo::prefix[1] + 0x1180});
  const SearchResult real = find(*g, 0, AddressSpace::of(AddressSpace::Kind::real), "lowcore of cpu");
  REQUIRE(real.matches.size() == 2);
  CHECK(real.matches[0].address == 0x1180);  // cpu 0's own lowcore, at real 0
  CHECK(real.matches[0].absolute == demo::prefix[0] + 0x1180);
  CHECK(real.matches[1].address == demo::prefix[1] + 0x1180);
}

TEST_CASE("search: bad requests") {
  auto g = demo::make_guest();
  // A view that designates nothing: an ALET whose access-list entry is invalid.
  SearchRequest v;
  v.view = AddressSpace::with_alet(demo::alet_invalid);
  v.pattern = bytes_of("x");
  const SearchResult bad_view = search(*g, v);
  REQUIRE(bad_view.view_fault);
  CHECK(bad_view.view_fault->code == PgmCode::alen_translation);
  CHECK(bad_view.message.find("ALEN translation") != std::string::npos);
  SearchRequest r;
  r.view = home;
  CHECK(search(*g, r).error == HostError::einval);  // no pattern
  r.pattern = bytes_of("x");
  r.start = 10;
  r.end = 9;
  CHECK(search(*g, r).error == HostError::einval);
  r.start = 0;
  r.cpu = 7;
  CHECK(search(*g, r).error == HostError::einval);
}
