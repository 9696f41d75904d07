// `s390bridge memop` logic (access/memop_request.h, shared with `monitor memop`):
// the options as a user types them (parsed by the same add_memop_options the CLI uses),
// run against the demo guest, every op and flag, the JSON printed (checked with
// nlohmann::json), and the exit codes: 0 ok, 1 exception or host error, 2 bad request.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gdbstub/memop_options.h"
#include "backends/emulated/demo_guest.h"
#include "backends/emulated/lowcore.h"
#include "translate/byteorder.h"
#include "translate/pgm.h"

using namespace s390b;
using nlohmann::json;

namespace {

std::string hex(std::uint64_t v) { return fmt::format("{:#x}", v); }
std::string hex_of(std::string_view text) {
  return to_hex(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

struct Run {
  MemopOutcome out;
  json j;  // the parsed output line when --json was given and the request was valid
};

// Parses `args` (what follows `s390bridge memop --demo` on the command line) with the
// CLI's own option declarations and runs the request.
Run memop(Backend& backend, std::vector<std::string> args) {
  CLI::App app{"memop"};
  MemopArgs margs;
  add_memop_options(app, margs);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes argv reversed
  app.parse(reversed);
  Run r;
  auto request = memop_request(app, margs);
  r.out = request ? run_memop(backend, *request) : MemopOutcome{2, "memop: " + request.error() + "\n"};
  REQUIRE_FALSE(r.out.text.empty());
  CHECK(r.out.text.back() == '\n');
  CHECK(r.out.text.find('\n') == r.out.text.size() - 1);  // one line
  if (margs.json && r.out.exit_code != 2) {
    INFO(r.out.text);
    REQUIRE_NOTHROW(r.j = json::parse(r.out.text));
    REQUIRE(r.j.is_object());
    REQUIRE(r.j.contains("result"));
  }
  return r;
}

// Expects {"result":"ok"} and returns the "data" member ("" when absent).
std::string ok_data(const Run& r) {
  INFO(r.out.text);
  CHECK(r.out.exit_code == 0);
  CHECK(r.j.value("result", "") == "ok");
  return r.j.value("data", "");
}
void expect_errno(const Run& r, const std::string& name) {
  INFO(r.out.text);
  CHECK(r.out.exit_code == 1);
  CHECK(r.j.value("result", "") == "error");
  CHECK(r.j.value("errno", "") == name);
  CHECK(r.j.size() == 2);
  CHECK_FALSE(r.j.contains("data"));
}
// Expects an exception with `code`; returns the TEID (0 when none was reported).
std::uint64_t expect_pgm(const Run& r, PgmCode code) {
  INFO(r.out.text);
  CHECK(r.out.exit_code == 1);
  CHECK(r.j.value("result", "") == "exception");
  CHECK(r.j.value("pgm", 0u) == static_cast<unsigned>(code));
  CHECK(r.j.value("name", "") == std::string(pgm_name(code)));
  CHECK_FALSE(r.j.contains("data"));
  if (!r.j.contains("teid")) return 0;
  const std::string teid = r.j["teid"].get<std::string>();
  REQUIRE(teid.starts_with("0x"));
  return parse_number(teid).value_or(0);
}
void expect_usage_error(Backend& b, std::vector<std::string> args, const std::string& fragment) {
  const Run r = memop(b, std::move(args));
  INFO(r.out.text);
  CHECK(r.out.exit_code == 2);
  CHECK(r.out.text.starts_with("memop: "));
  CHECK(r.out.text.find(fragment) != std::string::npos);
}

std::uint64_t read_abs64(Backend& b, std::uint64_t a) {
  std::vector<std::uint8_t> buf(8);
  Memop op;
  op.kind = MemopKind::absolute_read;
  op.gaddr = a;
  op.size = 8;
  op.buf = buf;
  REQUIRE(b.vm_memop(op).ok());
  return load_be64(buf.data());
}
std::uint16_t read_abs16(Backend& b, std::uint64_t a) { return static_cast<std::uint16_t>(read_abs64(b, a) >> 48); }

constexpr std::string_view banner = "Linux version 6.1.0-s390bridge-demo";

}  // namespace

TEST_CASE("cli memop: read") {
  auto g = demo::make_guest();
  SUBCASE("logical read on cpu 0 (home space), hex and decimal addresses") {
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "16", "--json"})) == hex_of(banner.substr(0, 16)));
    const Run r = memop(*g, {"read", std::to_string(demo::linux_banner_va), "0x10", "--json"});
    CHECK(ok_data(r) == hex_of(banner.substr(0, 16)));
    CHECK(r.j.size() == 2);  // result, data
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "16", "--json", "--cpu", "0"})) ==
          hex_of(banner.substr(0, 16)));
  }
  SUBCASE("cpu 1 reads its own primary space") {
    CHECK(ok_data(memop(*g, {"read", hex(demo::user_text_va), "5", "--cpu", "1", "--json"})) == hex_of("hello"));
  }
  SUBCASE("text output") {
    const Run r = memop(*g, {"read", hex(demo::linux_banner_va), "5"});
    CHECK(r.out.exit_code == 0);
    CHECK(r.out.text == "ok " + hex_of("Linux") + "\n");
  }
  SUBCASE("the op limit: 65536 bytes is one op, 65537 is E2BIG") {
    const Run r = memop(*g, {"read", hex(demo::kernel_data_va), "65536", "--json"});
    CHECK(ok_data(r).size() == 2 * 65536);
    expect_errno(memop(*g, {"read", hex(demo::kernel_data_va), "65537", "--json"}), "E2BIG");
    expect_errno(memop(*g, {"read", hex(demo::kernel_data_va), "0xffffffff", "--json"}), "E2BIG");
    expect_errno(memop(*g, {"abs-read", "0", "65537", "--json"}), "E2BIG");
  }
  SUBCASE("size 0 is EINVAL") {
    expect_errno(memop(*g, {"read", hex(demo::kernel_data_va), "0", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"abs-read", "0", "0", "--json"}), "EINVAL");
  }
  SUBCASE("access registers: 0-15 accepted, 16 and 17 EINVAL (even outside AR mode)") {
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "5", "--ar", "15", "--json"})) == hex_of("Linux"));
    expect_errno(memop(*g, {"read", hex(demo::linux_banner_va), "5", "--ar", "16", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"read", hex(demo::linux_banner_va), "5", "--ar", "17", "--json"}), "EINVAL");
    // The VM's absolute ops ignore the access register.
    CHECK(ok_data(memop(*g, {"abs-read", hex(demo::absolute_zero_string), "8", "--ar", "17", "--json"})) ==
          hex_of("absolute"));
  }
  SUBCASE("KVM's order of checks: flags and size 0, then size, then key, then the access register") {
    expect_errno(memop(*g, {"read", "0", "65537", "--ar", "17", "--key", "16", "--json"}), "E2BIG");
    expect_errno(memop(*g, {"read", "0", "0", "--ar", "17", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"read", "0", "8", "--ar", "17", "--key", "3", "--json"}), "EINVAL");
  }
  SUBCASE("AR mode: the access register selects the space, failures name it") {
    CpuState s = g->cpu_state(0).value();
    s.psw.mask = (s.psw.mask & ~Psw::as_mask) | 0x0000400000000000;  // AS = 01
    REQUIRE(g->set_cpu_state(0, s));
    // AR 2 holds the user space's ALET, AR 0 means primary (the kernel for cpu 0).
    CHECK(ok_data(memop(*g, {"read", hex(demo::user_text_va), "5", "--ar", "2", "--json"})) == hex_of("hello"));
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "5", "--ar", "0", "--json"})) == hex_of("Linux"));
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "5", "--ar", "3", "--json"})) == hex_of("Linux"));
    const Run inv = memop(*g, {"read", hex(demo::user_text_va), "5", "--ar", "4", "--json"});
    expect_pgm(inv, PgmCode::alen_translation);
    CHECK(inv.j.value("access_id", 99u) == 4u);
    const Run fo = memop(*g, {"write", hex(demo::kernel_data_va), "--data", "00", "--ar", "3", "--json"});
    const std::uint64_t teid = expect_pgm(fo, PgmCode::protection);
    CHECK((teid & 0xc) == 0xc);  // bits 60 and 61: access-list-controlled protection
    CHECK(fo.j.value("access_id", 99u) == 3u);
  }
  SUBCASE("exceptions carry the code, its name and the TEID") {
    const Run r = memop(*g, {"read", hex(demo::kernel_hole_va + 0x10), "8", "--json"});
    const std::uint64_t teid = expect_pgm(r, PgmCode::page_translation);
    CHECK((teid & ~std::uint64_t{0xfff}) == demo::kernel_hole_va);
    CHECK((teid & 3) == 3);  // home space
    CHECK((teid & 0xc00) == 0x800);  // fetch
    // Text output: one line naming the exception.
    const Run t = memop(*g, {"read", hex(demo::kernel_hole_va), "8"});
    CHECK(t.out.exit_code == 1);
    CHECK(t.out.text.find("0x11") != std::string::npos);
  }
  SUBCASE("absolute reads: addressing exception beyond storage, no TEID") {
    CHECK(ok_data(memop(*g, {"abs-read", hex(demo::absolute_zero_string), "8", "--json"})) == hex_of("absolute"));
    const Run r = memop(*g, {"abs-read", hex(demo::storage_size - 4), "8", "--json"});
    expect_pgm(r, PgmCode::addressing);
    CHECK_FALSE(r.j.contains("teid"));
  }
}

TEST_CASE("cli memop: write and abs-write") {
  auto g = demo::make_guest();
  SUBCASE("logical write, then read back") {
    const Run w = memop(*g, {"write", hex(demo::kernel_data_va), "--data", "0x48656c6c6f", "--json"});
    CHECK(ok_data(w) == "");
    CHECK(w.j.size() == 1);
    CHECK(ok_data(memop(*g, {"read", hex(demo::kernel_data_va), "5", "--json"})) == hex_of("Hello"));
    // An explicit size that matches the data is fine.
    CHECK(memop(*g, {"write", hex(demo::kernel_data_va), "5", "--data", "576f726c64", "--json"}).out.exit_code == 0);
    CHECK(ok_data(memop(*g, {"read", hex(demo::kernel_data_va), "5", "--json"})) == hex_of("World"));
    CHECK(memop(*g, {"write", hex(demo::kernel_data_va), "--data", "01"}).out.text == "ok\n");
  }
  SUBCASE("a DAT-protected page refuses the store and keeps its bytes") {
    const Run r = memop(*g, {"write", hex(demo::linux_banner_va), "--data", "00", "--json"});
    const std::uint64_t teid = expect_pgm(r, PgmCode::protection);
    CHECK((teid & 0x4) != 0);  // bit 61: DAT protection
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "5", "--json"})) == hex_of("Linux"));
  }
  SUBCASE("abs-write, then abs-read") {
    CHECK(ok_data(memop(*g, {"abs-write", "0x3000000", "--data", "deadbeef", "--json"})) == "");
    CHECK(ok_data(memop(*g, {"abs-read", "0x3000000", "4", "--json"})) == "deadbeef");
    expect_pgm(memop(*g, {"abs-write", hex(demo::storage_size - 2), "--data", "deadbeef", "--json"}),
               PgmCode::addressing);
  }
  SUBCASE("empty data is a size-0 op: EINVAL") {
    expect_errno(memop(*g, {"write", hex(demo::kernel_data_va), "--data", "", "--json"}), "EINVAL");
  }
  SUBCASE("65537 bytes of data: E2BIG") {
    expect_errno(memop(*g, {"write", hex(demo::kernel_data_va), "--data", std::string(2 * 65537, 'a'), "--json"}),
                 "E2BIG");
    expect_errno(memop(*g, {"abs-write", "0", "--data", std::string(2 * 65537, 'a'), "--json"}), "E2BIG");
  }
}

TEST_CASE("cli memop: cmpxchg") {
  auto g = demo::make_guest();
  const std::string at = hex(demo::kernel_data_va);  // absolute = virtual in the identity map
  REQUIRE(memop(*g, {"abs-write", at, "--data", "0102030405060708"}).out.exit_code == 0);

  SUBCASE("exchanged: true, the old value as given") {
    const Run r = memop(*g, {"cmpxchg", at, "--data", "1111111111111111", "--old", "0102030405060708", "--json"});
    CHECK(ok_data(r) == "");
    CHECK(r.j.value("exchanged", false) == true);
    CHECK(r.j.value("old", "") == "0102030405060708");
    CHECK(ok_data(memop(*g, {"abs-read", at, "8", "--json"})) == "1111111111111111");
  }
  SUBCASE("not exchanged: false, with the value found") {
    const Run r = memop(*g, {"cmpxchg", at, "--data", "2222222222222222", "--old", "0000000000000000", "--json"});
    CHECK(ok_data(r) == "");
    CHECK(r.j.value("exchanged", true) == false);
    CHECK(r.j.value("old", "") == "0102030405060708");
    CHECK(ok_data(memop(*g, {"abs-read", at, "8", "--json"})) == "0102030405060708");
    const Run t = memop(*g, {"cmpxchg", at, "--data", "22222222", "--old", "00000000"});
    CHECK(t.out.text == "ok not exchanged, found 01020304\n");
  }
  SUBCASE("sizes 1, 2, 4, 8, 16") {
    for (unsigned n : {1u, 2u, 4u, 8u, 16u}) {
      CAPTURE(n);
      const std::string cur = ok_data(memop(*g, {"abs-read", at, std::to_string(n), "--json"}));
      const std::string next(2 * n, 'e');
      const Run r = memop(*g, {"cmpxchg", at, "--data", next, "--old", cur, "--json"});
      CHECK(r.j.value("exchanged", false) == true);
      CHECK(ok_data(memop(*g, {"abs-read", at, std::to_string(n), "--json"})) == next);
    }
  }
  SUBCASE("misaligned, not a power of two, over 16 bytes, check-only: EINVAL") {
    expect_errno(memop(*g, {"cmpxchg", hex(demo::kernel_data_va + 4), "--data", "1111111111111111", "--old",
                            "0000000000000000", "--json"}),
                 "EINVAL");
    expect_errno(memop(*g, {"cmpxchg", at, "--data", "111111", "--old", "000000", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"cmpxchg", at, "--data", std::string(64, '1'), "--old", std::string(64, '0'), "--json"}),
                 "EINVAL");
    expect_errno(memop(*g, {"cmpxchg", at, "--data", "11", "--old", "01", "--check-only", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"cmpxchg", at, "--data", "11", "--old", "01", "--inject", "--json"}), "EINVAL");
  }
  SUBCASE("a key mismatch is a protection exception and reads back zeros as the old value") {
    const Run r = memop(*g, {"cmpxchg", hex(demo::key9_abs), "--data", "11", "--old", "73", "--key", "3", "--json"});
    expect_pgm(r, PgmCode::protection);
    CHECK(r.j.value("old", "") == "00");
    CHECK(memop(*g, {"cmpxchg", hex(demo::key9_abs), "--data", "11", "--old", "73", "--key", "9", "--json"})
              .out.exit_code == 0);
  }
  SUBCASE("beyond storage: addressing") {
    expect_pgm(memop(*g, {"cmpxchg", hex(demo::storage_size), "--data", "11", "--old", "00", "--json"}),
               PgmCode::addressing);
  }
  SUBCASE("--old is required and must match --data in length") {
    expect_usage_error(*g, {"cmpxchg", at, "--data", "11"}, "--old");
    expect_usage_error(*g, {"cmpxchg", at, "--data", "1111", "--old", "00"}, "--old");
    expect_usage_error(*g, {"cmpxchg", at, "--data", "11", "--old", "0"}, "--old");
  }
}

TEST_CASE("cli memop: --check-only") {
  auto g = demo::make_guest();
  SUBCASE("a good read returns no data") {
    const Run r = memop(*g, {"read", hex(demo::linux_banner_va), "16", "--check-only", "--json"});
    CHECK(ok_data(r) == "");
    CHECK_FALSE(r.j.contains("data"));
  }
  SUBCASE("a bad read reports the exception") {
    expect_pgm(memop(*g, {"read", hex(demo::kernel_hole_va), "1", "--check-only", "--json"}), PgmCode::page_translation);
    // The check covers the whole range: a read that starts well runs into the hole.
    expect_pgm(memop(*g, {"read", hex(demo::kernel_hole_va - 8), "16", "--check-only", "--json"}),
               PgmCode::page_translation);
  }
  SUBCASE("a checked write stores nothing") {
    const std::string before = ok_data(memop(*g, {"read", hex(demo::kernel_data_va), "4", "--json"}));
    CHECK(ok_data(memop(*g, {"write", hex(demo::kernel_data_va), "--data", "ffffffff", "--check-only", "--json"})) == "");
    CHECK(ok_data(memop(*g, {"read", hex(demo::kernel_data_va), "4", "--json"})) == before);
    expect_pgm(memop(*g, {"write", hex(demo::linux_banner_va), "--data", "ff", "--check-only", "--json"}),
               PgmCode::protection);
  }
  SUBCASE("absolute ops accept it too") {
    CHECK(ok_data(memop(*g, {"abs-read", "0", "16", "--check-only", "--json"})) == "");
    expect_pgm(memop(*g, {"abs-read", hex(demo::storage_size), "16", "--check-only", "--json"}), PgmCode::addressing);
    CHECK(ok_data(memop(*g, {"abs-write", "0x3000000", "--data", "ff", "--check-only", "--json"})) == "");
    CHECK(ok_data(memop(*g, {"abs-read", "0x3000000", "1", "--json"})) == "00");
  }
  SUBCASE("size limits still apply") {
    expect_errno(memop(*g, {"read", "0", "0", "--check-only", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"read", "0", "65537", "--check-only", "--json"}), "E2BIG");
  }
}

TEST_CASE("cli memop: --inject delivers the program interruption into the lowcore") {
  auto g = demo::make_guest();
  const std::uint64_t lc = demo::prefix[0];
  const CpuState before = g->cpu_state(0).value();
  // Give the program-new PSW a recognisable value.
  const std::uint64_t new_mask = Psw::ea_bit | Psw::ba_bit, new_addr = 0x1234560;
  REQUIRE(memop(*g, {"abs-write", hex(lc + lowcore::program_new_psw), "--data",
                     fmt::format("{:016x}{:016x}", new_mask, new_addr)})
              .out.exit_code == 0);

  SUBCASE("a failed read") {
    const Run r = memop(*g, {"read", hex(demo::kernel_hole_va + 0x24), "8", "--inject", "--json"});
    const std::uint64_t teid = expect_pgm(r, PgmCode::page_translation);
    CHECK(read_abs16(*g, lc + lowcore::pgm_code) == 0x11);
    CHECK(read_abs64(*g, lc + lowcore::trans_exc_code) == teid);
    // The same fields read with the CLI's own abs-read.
    CHECK(ok_data(memop(*g, {"abs-read", hex(lc + 0x8e), "2", "--json"})) == "0011");
    CHECK(ok_data(memop(*g, {"abs-read", hex(lc + 0xa8), "8", "--json"})) == fmt::format("{:016x}", teid));
    // The old PSW went to the program-old PSW, the new one is loaded.
    CHECK(read_abs64(*g, lc + lowcore::program_old_psw) == before.psw.mask);
    CHECK(read_abs64(*g, lc + lowcore::program_old_psw + 8) == before.psw.addr);
    const CpuState after = g->cpu_state(0).value();
    CHECK(after.psw == Psw{new_mask, new_addr});
    // cpu 1's lowcore is untouched.
    CHECK(read_abs16(*g, demo::prefix[1] + lowcore::pgm_code) == 0);
  }
  SUBCASE("a protection exception on a write") {
    const Run r = memop(*g, {"write", hex(demo::linux_banner_va), "--data", "00", "--inject", "--json"});
    const std::uint64_t teid = expect_pgm(r, PgmCode::protection);
    CHECK(read_abs16(*g, lc + lowcore::pgm_code) == 0x04);
    CHECK(read_abs64(*g, lc + lowcore::trans_exc_code) == teid);
  }
  SUBCASE("check-only failures are injected too (KVM does)") {
    expect_pgm(memop(*g, {"read", hex(demo::kernel_hole_va), "8", "--check-only", "--inject", "--json"}),
               PgmCode::page_translation);
    CHECK(read_abs16(*g, lc + lowcore::pgm_code) == 0x11);
  }
  SUBCASE("success injects nothing; failure without --inject neither") {
    CHECK(ok_data(memop(*g, {"read", hex(demo::linux_banner_va), "4", "--inject", "--json"})) == hex_of("Linu"));
    expect_pgm(memop(*g, {"read", hex(demo::kernel_hole_va), "8", "--json"}), PgmCode::page_translation);
    CHECK(read_abs16(*g, lc + lowcore::pgm_code) == 0);
    CHECK(read_abs64(*g, lc + lowcore::trans_exc_code) == 0);
    CHECK(g->cpu_state(0).value().psw == before.psw);
  }
  SUBCASE("absolute ops do not take it") {
    expect_errno(memop(*g, {"abs-read", "0", "8", "--inject", "--json"}), "EINVAL");
  }
}

TEST_CASE("cli memop: --key turns on storage-key protection") {
  auto g = demo::make_guest();
  // cpu 0's home space maps virtual 0-16 MiB to the same absolute addresses.
  const std::string fp = hex(demo::fetch_protected_abs), k9 = hex(demo::key9_abs);
  SUBCASE("fetch-protected page (key 0x38)") {
    const Run r = memop(*g, {"read", fp, "16", "--key", "1", "--json"});
    const std::uint64_t teid = expect_pgm(r, PgmCode::protection);
    CHECK((teid & 0x8) != 0);  // bit 60: key-controlled protection
    CHECK(ok_data(memop(*g, {"read", fp, "15", "--key", "3", "--json"})) == hex_of("fetch-protected"));
    CHECK(ok_data(memop(*g, {"read", fp, "15", "--key", "0", "--json"})) == hex_of("fetch-protected"));
    CHECK(ok_data(memop(*g, {"read", fp, "15", "--json"})) == hex_of("fetch-protected"));  // no key: no check
    expect_pgm(memop(*g, {"abs-read", fp, "16", "--key", "1", "--json"}), PgmCode::protection);
    CHECK(ok_data(memop(*g, {"abs-read", fp, "15", "--key", "3", "--json"})) == hex_of("fetch-protected"));
    expect_pgm(memop(*g, {"read", fp, "16", "--key", "1", "--check-only", "--json"}), PgmCode::protection);
  }
  SUBCASE("key 9 page: readable by any key, writable by 9 (and 0)") {
    CHECK(ok_data(memop(*g, {"read", k9, "7", "--key", "4", "--json"})) == hex_of("storage"));
    expect_pgm(memop(*g, {"write", k9, "--data", "00", "--key", "4", "--json"}), PgmCode::protection);
    expect_pgm(memop(*g, {"abs-write", k9, "--data", "00", "--key", "4", "--json"}), PgmCode::protection);
    CHECK(ok_data(memop(*g, {"write", k9, "--data", "53", "--key", "9", "--json"})) == "");
    CHECK(ok_data(memop(*g, {"abs-write", k9, "--data", "53", "--key", "0", "--json"})) == "");
  }
  SUBCASE("keys above 15 are EINVAL") {
    expect_errno(memop(*g, {"read", fp, "16", "--key", "16", "--json"}), "EINVAL");
    expect_errno(memop(*g, {"abs-read", fp, "16", "--key", "16", "--json"}), "EINVAL");
  }
}

TEST_CASE("cli memop: malformed requests exit with 2 and a message") {
  auto g = demo::make_guest();
  expect_usage_error(*g, {"read", "zz", "8"}, "bad address 'zz'");
  expect_usage_error(*g, {"read", "0x", "8"}, "bad address");
  expect_usage_error(*g, {"read", "0x1g", "8"}, "bad address");
  expect_usage_error(*g, {"read", "12abc", "8"}, "bad address");
  expect_usage_error(*g, {"read", "0x10000000000000000", "8"}, "bad address");    // 2^64
  expect_usage_error(*g, {"read", "18446744073709551616", "8"}, "bad address");  // 2^64
  expect_usage_error(*g, {"read", "0x100", "abc"}, "bad size 'abc'");
  expect_usage_error(*g, {"read", "0x100", "0x100000000"}, "bad size");  // over 32 bits
  expect_usage_error(*g, {"read", "0x100"}, "needs a size");
  expect_usage_error(*g, {"abs-read", "0x100"}, "needs a size");
  expect_usage_error(*g, {"write", "0x600000", "--data", "abc"}, "--data");
  expect_usage_error(*g, {"write", "0x600000", "--data", "zz"}, "--data");
  expect_usage_error(*g, {"write", "0x600000", "--data", "0x1"}, "--data");
  expect_usage_error(*g, {"write", "0x600000", "2", "--data", "aa"}, "size does not match");
  expect_usage_error(*g, {"write", "0x600000", "xyz", "--data", "aa"}, "bad size 'xyz'");
  expect_usage_error(*g, {"peek", "0x600000", "8"}, "unknown op 'peek'");
  expect_usage_error(*g, {"read", "0x600000", "8", "--cpu", "2"}, "--cpu 2 out of range");
  // Malformed requests print no JSON even with --json.
  const Run r = memop(*g, {"read", "zz", "8", "--json"});
  CHECK(r.out.exit_code == 2);
  CHECK(r.out.text.front() != '{');

  // Option values CLI11 itself rejects (the CLI exits with its own usage message).
  auto parse_fails = [](std::vector<std::string> args) {
    CLI::App app{"memop"};
    MemopArgs request;
    add_memop_options(app, request);
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    CHECK_THROWS_AS(app.parse(reversed), CLI::ParseError);
  };
  parse_fails({"read", "0x100", "8", "--ar", "x"});
  parse_fails({"read", "0x100", "8", "--cpu", "-1"});
  parse_fails({"read", "0x100", "8", "--key", "x"});
  parse_fails({"read"});
}

// The access register and the key are u8 in the uapi struct: a value beyond a byte must
// fail, not wrap into a valid one (--ar 256 -> AR 0, --key 259 -> key 3), and a negative
// key must not silently mean "no key protection". The option parser refuses them.
TEST_CASE("cli memop: --ar and --key outside a byte are refused, not wrapped or ignored") {
  auto refused = [&](std::vector<std::string> args) {
    CLI::App app{"memop"};
    MemopArgs request;
    add_memop_options(app, request);
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    CHECK_THROWS_AS(app.parse(reversed), CLI::ParseError);
  };
  refused({"read", hex(demo::linux_banner_va), "5", "--ar", "256", "--json"});
  refused({"read", hex(demo::linux_banner_va), "5", "--ar", "-1", "--json"});
  refused({"read", hex(demo::fetch_protected_abs), "16", "--key", "-5", "--json"});
  refused({"read", hex(demo::fetch_protected_abs), "16", "--key", "-1", "--json"});
  refused({"read", hex(demo::fetch_protected_abs), "16", "--key", "256", "--json"});
  refused({"read", hex(demo::fetch_protected_abs), "16", "--key", "259", "--json"});
  refused({"write", hex(demo::key9_abs), "--data", "00", "--key", "265", "--json"});
}
