// dump::recover_utsname (backends/dump/kernel_utsname.h) and its use by the kdump writer:
// the kernel's init_uts_ns.name found from VMCOREINFO, read through CR13's ASCE across a
// page boundary, written into the kdump header field by field; rejected (and the header's
// fallback written) when it is not Linux's or cannot be translated.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "backends/dump/kdump_writer.h"
#include "backends/dump/s390_notes.h"
#include "backends/dump/vmcoreinfo.h"
#include "backends/emulated/emulated_backend.h"
#include "tests/backends/core_builder.h"
#include "tests/backends/temp_dir.h"
#include "translate/entries.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

std::vector<std::uint8_t> file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A Linux-looking guest of 4 MiB (VMCOREINFO at 0x12000, the lowcore's 0xe0c pointing
// at it) with the kernel's init_uts_ns.name at kernel virtual 0x40001f80
// (SYMBOL(init_uts_ns)=40001f00, OFFSET(uts_namespace.name)=128), mapped through a
// segment-table ASCE in CR13 onto two frames in reverse order (the six fields cross the
// page boundary), as kernel_utsname.h finds it.
constexpr std::string_view uts_vmcoreinfo =
    "OSRELEASE=6.1.0-99-s390x\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=40001f00\nOFFSET(uts_namespace.name)=128\n";
std::unique_ptr<EmulatedBackend> linux_guest_with_uts(std::string_view sysname = "Linux") {
  Storage s;
  REQUIRE(s.add_anonymous(0, 4 << 20));
  std::vector<std::uint8_t> note;
  dump::append_note(note, "VMCOREINFO", 0, std::vector<std::uint8_t>(uts_vmcoreinfo.begin(), uts_vmcoreinfo.end()));
  REQUIRE(s.write(0x12000, note));
  REQUIRE(s.write_u64(dump::linux_lowcore::vmcore_info, 0x12000));
  constexpr std::uint64_t segments = 0x100000, pages = 0x110000, va = 0x40001f80;
  for (std::uint64_t i = 0; i < 2048; ++i) REQUIRE(s.write_u64(segments + 8 * i, SegmentEntry::i_bit));
  for (std::uint64_t i = 0; i < 256; ++i) REQUIRE(s.write_u64(pages + 8 * i, PageEntry::i_bit));
  REQUIRE(s.write_u64(segments + 8 * (va >> 20), pages));                // valid, a page table
  REQUIRE(s.write_u64(pages + 8 * ((va >> 12) & 0xff), 0x203000));       // page 1 -> frame 0x203000
  REQUIRE(s.write_u64(pages + 8 * (((va >> 12) + 1) & 0xff), 0x200000)); // page 2 -> frame 0x200000
  std::vector<std::uint8_t> name(6 * 65, 0);
  const std::string fields[] = {std::string(sysname), "guest", "6.1.0-99-s390x", "#1 SMP Debian 6.1.999-1", "s390x", "(none)"};
  for (std::size_t i = 0; i < 6; ++i) std::copy(fields[i].begin(), fields[i].end(), name.begin() + static_cast<std::ptrdiff_t>(65 * i));
  REQUIRE(s.write(0x203000 + (va & 0xfff), std::span(name).first(0x80)));
  REQUIRE(s.write(0x200000, std::span(name).subspan(0x80)));
  CpuState cpu = t::sample_cpu_state(3);
  cpu.crs[13] = segments | 3;  // designation segment table (0), length 3: 2 GiB
  cpu.crs[0] = 0;
  cpu.prefix = 0x2000;
  return std::make_unique<EmulatedBackend>(std::move(s), std::vector<CpuState>{cpu});
}

}  // namespace

TEST_SUITE("kdump writer") {

TEST_CASE("kdump writer: the header's utsname is the kernel's init_uts_ns, read through its page tables") {
  auto g = linux_guest_with_uts();
  t::TempDir dir;
  const auto out = dir.path / "g.kdump";
  auto r = dump::write_kdump_dump(*g, out.string());
  REQUIRE_MESSAGE(r, r.error().message);
  REQUIRE_MESSAGE(r->utsname.found, r->utsname.rejected);
  CHECK(r->utsname.found->version == "#1 SMP Debian 6.1.999-1");
  const auto f = file_bytes(out);
  auto str = [&](std::size_t off) { return std::string(reinterpret_cast<const char*>(f.data() + off)); };
  CHECK(str(12) == "Linux");
  CHECK(str(12 + 65) == "guest");
  CHECK(str(12 + 2 * 65) == "6.1.0-99-s390x");
  CHECK(str(12 + 3 * 65) == "#1 SMP Debian 6.1.999-1");
  CHECK(str(12 + 4 * 65) == "s390x");
  CHECK(str(12 + 5 * 65) == "(none)");

  SUBCASE("not Linux's: rejected, and the header falls back to sysname, release, machine") {
    auto h = linux_guest_with_uts("Linuz");
    auto r2 = dump::write_kdump_dump(*h, out.string());
    REQUIRE(r2);
    CHECK_FALSE(r2->utsname.found);
    CHECK(r2->utsname.rejected.find("sysname \"Linuz\"") != std::string::npos);
    const auto f2 = file_bytes(out);
    CHECK(std::string(reinterpret_cast<const char*>(f2.data() + 12))== "Linux");
    CHECK(f2[12 + 65] == 0);      // nodename
    CHECK(f2[12 + 3 * 65] == 0);  // version
  }
  SUBCASE("an unmapped address: the walk's exception named") {
    REQUIRE(g->storage().write_u64(0x110000 + 8 * 1, PageEntry::i_bit));
    auto r2 = dump::write_kdump_dump(*g, out.string());
    REQUIRE(r2);
    CHECK_FALSE(r2->utsname.found);
    CHECK(r2->utsname.rejected.find("0x40001f80") != std::string::npos);
  }
}

}  // TEST_SUITE
