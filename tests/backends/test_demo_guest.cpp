// The demo guest through MemoryAccess: every documented string in every view, and the
// documented failures (partial read at the hole, LAP, fetch-only ALE, invalid ALE).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "access/memory_access.h"
#include "backends/emulated/demo_guest.h"

using namespace s390b;

namespace {

std::string read_string(MemoryAccess& mem, unsigned cpu, const AddressSpace& space, std::uint64_t va) {
  std::vector<std::uint8_t> buf(128);
  auto r = mem.read(cpu, space, va, buf);
  std::string s;
  for (std::size_t i = 0; i < r.bytes && buf[i]; ++i) s.push_back(static_cast<char>(buf[i]));
  return s;
}

const AddressSpace cpu_view = AddressSpace::of(AddressSpace::Kind::cpu);
const AddressSpace home = AddressSpace::of(AddressSpace::Kind::home);
const AddressSpace primary = AddressSpace::of(AddressSpace::Kind::primary);
const AddressSpace secondary = AddressSpace::of(AddressSpace::Kind::secondary);
const AddressSpace real = AddressSpace::of(AddressSpace::Kind::real);
const AddressSpace absolute = AddressSpace::of(AddressSpace::Kind::absolute);

}  // namespace

TEST_CASE("demo guest: documented strings in each view") {
  auto guest = demo::make_guest();
  MemoryAccess mem(*guest);
  CHECK(read_string(mem, 0, cpu_view, demo::linux_banner_va).starts_with("Linux version"));
  CHECK(read_string(mem, 1, home, demo::linux_banner_va).starts_with("Linux version"));
  CHECK(read_string(mem, 1, cpu_view, demo::linux_banner_va).empty());  // user space has no kernel
  CHECK(read_string(mem, 1, cpu_view, demo::user_text_va).starts_with("hello from the user"));
  CHECK(read_string(mem, 0, secondary, demo::user_stack_va) == "user stack page");
  CHECK(read_string(mem, 0, primary, demo::kernel_data_va).starts_with("kernel data"));
  CHECK(read_string(mem, 0, home, demo::segment_frame_va).starts_with("kernel 1 MiB frame"));
  CHECK(read_string(mem, 0, home, demo::region3_frame_string_va).starts_with("kernel 2 GiB frame"));
  CHECK(read_string(mem, 0, real, demo::lowcore_string) == "lowcore of cpu 0 (real 0x1180, low-address protected)");
  CHECK(read_string(mem, 1, real, demo::lowcore_string).starts_with("lowcore of cpu 1"));
  CHECK(read_string(mem, 0, absolute, demo::absolute_zero_string).starts_with("absolute page 0"));
  CHECK(read_string(mem, 0, AddressSpace::access_reg(2), demo::user_text_va).starts_with("hello"));
  CHECK(read_string(mem, 0, AddressSpace::with_alet(demo::alet_kernel_fetch_only), demo::linux_banner_va)
            .starts_with("Linux"));
  auto st = guest->cpu_state(1);
  REQUIRE(st);
  CHECK(read_string(mem, 0, AddressSpace::with_asce(Asce{st->crs[1]}), demo::user_text_va).starts_with("hello"));
}

TEST_CASE("demo guest: documented failures") {
  auto guest = demo::make_guest();
  MemoryAccess mem(*guest);
  // A read across the end of the kernel text stops at the invalid page.
  std::vector<std::uint8_t> buf(0x2000);
  auto r = mem.read(0, cpu_view, demo::kernel_hole_va - 0x1000, buf);
  CHECK(r.bytes == 0x1000);
  REQUIRE(r.status.is_exception());
  CHECK(r.status.fault.code == PgmCode::page_translation);
  // The same through a walked view.
  r = mem.read(0, home, demo::kernel_hole_va - 0x800, buf);
  CHECK(r.bytes == 0x800);
  CHECK(r.status.fault.code == PgmCode::page_translation);

  const std::uint8_t one[1] = {1};
  auto w = mem.write(0, real, demo::lowcore_string, one);
  REQUIRE(w.is_exception());
  CHECK(w.fault.code == PgmCode::protection);
  CHECK(w.fault.teid->b56());  // low-address protection
  w = mem.write(0, cpu_view, demo::linux_banner_va, one);
  REQUIRE(w.is_exception());
  CHECK(w.fault.teid->b61());  // DAT protection
  w = mem.write(0, AddressSpace::with_alet(demo::alet_kernel_fetch_only), demo::kernel_data_va, one);
  REQUIRE(w.is_exception());
  CHECK(w.fault.code == PgmCode::protection);
  CHECK((w.fault.teid->b60() && w.fault.teid->b61()));  // access-list controlled
  r = mem.read(0, AddressSpace::with_alet(demo::alet_invalid), 0, buf);
  CHECK(r.bytes == 0);
  CHECK(r.status.fault.code == PgmCode::alen_translation);
  // A write over a range whose second page faults writes nothing.
  std::vector<std::uint8_t> data(0x1800, 0xab);
  w = mem.write(0, home, demo::kernel_data_va + 0x10000 - 0x800, data);
  CHECK(w.ok());
  std::vector<std::uint8_t> text(0x1800, 0xcd);
  w = mem.write(0, absolute, 0x3fff000, text);  // last page of storage + beyond
  REQUIRE(w.is_exception());
  CHECK(w.fault.code == PgmCode::addressing);
  std::vector<std::uint8_t> back(16);
  CHECK(mem.read(0, absolute, 0x3fff000, back).bytes == 16);
  CHECK(back[0] == 0);
}

TEST_CASE("demo guest: translate report") {
  auto guest = demo::make_guest();
  MemoryAccess mem(*guest);
  auto rep = mem.translate(0, cpu_view, demo::linux_banner_va, AccessMode::fetch);
  REQUIRE(rep.absolute);
  CHECK(*rep.absolute == demo::kernel_text_abs + 0x400);
  CHECK(rep.walk.depth == 3);
  const std::string text = format_translation(rep);
  CHECK(text.find("region-third") != std::string::npos);
  CHECK(text.find("=> absolute") != std::string::npos);
  rep = mem.translate(0, home, demo::kernel_hole_va, AccessMode::fetch);
  CHECK(rep.fault);
  CHECK(format_translation(rep).find("page entry invalid") != std::string::npos);
}
