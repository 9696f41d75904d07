// The logic behind `s390bridge read` and `translate` (access/read_range.h, access/json.h)
// against the demo guest (docs/demo-guest.md): streamed reads of any length through a
// view, stopping at the first failing page with the reason; the JSON renderings.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "access/json.h"
#include "access/read_range.h"
#include "backends/emulated/demo_guest.h"

using namespace s390b;

namespace {

std::vector<std::uint8_t> collect(MemoryAccess& m, const AddressSpace& view, std::uint64_t addr, std::uint64_t len,
                                  RangeReadResult& r, std::size_t piece = default_read_piece) {
  std::vector<std::uint8_t> out;
  r = read_range(m, 0, view, addr, len, [&](std::span<const std::uint8_t> b) {
    out.insert(out.end(), b.begin(), b.end());
    return true;
  }, piece);
  return out;
}

const AddressSpace home = AddressSpace::of(AddressSpace::Kind::home);

}  // namespace

TEST_CASE("read_range: any length, in pieces, equal to one read") {
  auto guest = demo::make_guest();
  MemoryAccess m(*guest);
  RangeReadResult r;
  // 3 MiB of the identity map, in pieces of 1 MiB and of 4097 bytes (not a page multiple).
  const auto whole = collect(m, home, 0x100000, 3 << 20, r);
  CHECK(r.complete());
  CHECK(r.status.ok());
  REQUIRE(whole.size() == 3u << 20);
  const auto odd = collect(m, home, 0x100000, 3 << 20, r, 4097);
  CHECK(r.complete());
  CHECK(odd == whole);
  std::vector<std::uint8_t> direct(3 << 20);
  REQUIRE(guest->storage().read(0x100000, direct));
  CHECK(whole == direct);
}

TEST_CASE("read_range: stops at the first failing page and says why") {
  auto guest = demo::make_guest();
  MemoryAccess m(*guest);
  RangeReadResult r;
  // The kernel text ends at the invalid page demo::kernel_hole_va.
  const auto bytes = collect(m, home, demo::kernel_hole_va - 0x1800, 0x3000, r, 0x1000);
  CHECK(r.read == 0x1800);
  CHECK(bytes.size() == 0x1800);
  CHECK_FALSE(r.complete());
  REQUIRE(r.status.is_exception());
  CHECK(r.status.fault.code == PgmCode::page_translation);
  const std::string why = describe_stop(demo::kernel_hole_va, r.status);
  CHECK(why.find("page translation") != std::string::npos);
  CHECK(why.find("fetch, home space") != std::string::npos);
  // Nothing readable: read 0, the reason kept.
  collect(m, home, demo::kernel_hole_va, 16, r);
  CHECK(r.read == 0);
  CHECK(r.status.is_exception());
  // A sink that refuses ends the read early, with no error.
  r = read_range(m, 0, home, 0x100000, 0x10000, [](std::span<const std::uint8_t>) { return false; }, 0x1000);
  CHECK(r.read == 0);
  CHECK(r.status.ok());
}

TEST_CASE("json: a fault and a walk, 64-bit values as 0x strings") {
  auto guest = demo::make_guest();
  MemoryAccess m(*guest);
  const TranslationReport ok = m.translate(0, home, demo::segment_frame_va, AccessMode::fetch);
  const Json j = translation_json(ok, AccessMode::fetch);
  CHECK(j["result"] == "ok");
  CHECK(j["absolute"] == hex_string(demo::segment_frame_abs));
  CHECK(j["view"] == "home");
  CHECK(j["frame_size"] == 1 << 20);
  REQUIRE(j["walk"].is_array());
  CHECK(j["walk"].size() == 2);
  CHECK(j["walk"][1]["level"] == "segment");
  CHECK(j["walk"][1]["entry"].is_string());

  const TranslationReport bad = m.translate(0, home, demo::kernel_hole_va, AccessMode::store);
  const Json b = translation_json(bad, AccessMode::store);
  CHECK(b["result"] == "exception");
  CHECK(b["pgm"] == 0x11);
  CHECK(b["name"] == "page translation");
  CHECK(b["teid_address"] == hex_string(demo::kernel_hole_va));
  CHECK(b["access"] == "store");
  CHECK(b["space"] == "home");
  CHECK_FALSE(b.contains("absolute"));

  const Json e = failure_json(MemopResult::host(HostError::estale));
  CHECK(e["result"] == "error");
  CHECK(e["errno"] == "ESTALE");
  CHECK(e["message"].get<std::string>().find("changed") != std::string::npos);
}
