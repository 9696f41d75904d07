// dump-skeys text parser: QEMU's exact line format, tolerated variations, and every
// malformed line reported with its number.
#include <doctest/doctest.h>

#include <string>

#include "backends/dump/skeys.h"

namespace {

using s390b::StorageKey;
using s390b::dump::parse_skeys;
using s390b::dump::StorageKeyTable;

StorageKeyTable parse_ok(std::string_view text) {
  auto table = parse_skeys(text);
  REQUIRE_MESSAGE(table.has_value(), (table ? std::string() : table.error().message));
  return *table;
}

void expect_error(std::string_view text, std::size_t line, const std::string& fragment) {
  auto table = parse_skeys(text);
  REQUIRE_FALSE(table.has_value());
  INFO(table.error().message);
  CHECK(table.error().line == line);
  CHECK(table.error().message.find("line " + std::to_string(line) + ": ") == 0);
  CHECK(table.error().message.find(fragment) != std::string::npos);
}

// Lines exactly as QEMU's write_keys() prints them: FP/REF/ch/reserved are the masked bits.
constexpr std::string_view qemu_dump =
    "page=000: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n"
    "page=001: key(6) => ACC=0, FP=0, REF=4, ch=2, reserved=0\n"
    "page=002: key(158) => ACC=9, FP=8, REF=4, ch=2, reserved=0\n"
    "page=003: key(255) => ACC=F, FP=8, REF=4, ch=2, reserved=1\n"
    "page=100: key(16) => ACC=1, FP=0, REF=0, ch=0, reserved=0\n"
    "page=1abcd: key(244) => ACC=F, FP=0, REF=4, ch=0, reserved=0\n";

}  // namespace

TEST_CASE("skeys: QEMU dump-skeys output") {
  const StorageKeyTable table = parse_ok(qemu_dump);
  CHECK(table.frame_count() == 6);
  REQUIRE(table.runs().size() == 3);
  CHECK(table.runs()[0].first_frame == 0);
  CHECK(table.runs()[0].keys.size() == 4);
  CHECK(table.runs()[1].first_frame == 0x100);
  CHECK(table.runs()[2].first_frame == 0x1abcd);

  CHECK(table.find(0) == StorageKey{0});
  CHECK(table.find(1) == StorageKey{0x06});
  const auto k2 = table.find(2);
  REQUIRE(k2);
  CHECK(k2->raw == 0x9e);
  CHECK(k2->access_key() == 9);
  CHECK(k2->fetch_protected());
  CHECK(k2->referenced());
  CHECK(k2->changed());
  CHECK(table.find(3) == StorageKey{0xff});
  CHECK_FALSE(table.find(4).has_value());
  CHECK_FALSE(table.find(0xff).has_value());
  CHECK(table.find(0x100) == StorageKey{0x10});
  CHECK(table.find(0x1abcd) == StorageKey{0xf4});
  CHECK_FALSE(table.find(0x1abce).has_value());
  CHECK_FALSE(table.find(~std::uint64_t{0}).has_value());
}

TEST_CASE("skeys: tolerated variations") {
  SUBCASE("empty file") { CHECK(parse_ok("").empty()); }
  SUBCASE("CRLF, blank lines, no final newline, lower-case hex") {
    const StorageKeyTable t = parse_ok(
        "\r\npage=00a: key(250) => ACC=f, FP=8, REF=0, ch=2, reserved=0\r\n\n"
        "page=00B: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0");
    CHECK(t.frame_count() == 2);
    CHECK(t.find(0xa) == StorageKey{0xfa});
    CHECK(t.find(0xb) == StorageKey{0});
  }
  SUBCASE("flags printed as 0/1") {
    const StorageKeyTable t = parse_ok("page=000: key(14) => ACC=0, FP=1, REF=1, ch=1, reserved=0\n");
    CHECK(t.find(0) == StorageKey{0x0e});
  }
  SUBCASE("the largest frame") {
    const StorageKeyTable t = parse_ok("page=fffffffffffff: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n");
    CHECK(t.find(0xfffffffffffff).has_value());
  }
}

TEST_CASE("skeys: malformed lines name their number") {
  const std::string good = "page=000: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n";
  expect_error("garbage\n", 1, "expected \"page=\"");
  expect_error(good + "page=: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "hexadecimal frame number");
  expect_error(good + "page=0x1: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "column 7");
  expect_error(good + "page=001 key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "\": key(\"");
  expect_error(good + "page=001: key(-1) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "decimal key");
  expect_error(good + "page=001: key(256) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "not a byte");
  expect_error(good + "page=001: key(99999999999) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "decimal key");
  expect_error(good + "page=001: key(16) => ACC=2, FP=0, REF=0, ch=0, reserved=0\n", 2, "ACC=2 contradicts key(16)");
  expect_error(good + "page=001: key(8) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 2, "FP=0 contradicts key(8)");
  expect_error(good + "page=001: key(0) => ACC=0, FP=0, REF=4, ch=0, reserved=0\n", 2, "REF=4 contradicts");
  expect_error(good + "page=001: key(2) => ACC=0, FP=0, REF=0, ch=3, reserved=0\n", 2, "ch=3 contradicts");
  expect_error(good + "page=001: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=1\n", 2, "reserved=1 contradicts");
  expect_error(good + "page=001: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0 \n", 2, "end of the line");
  expect_error(good + "page=001: key(0) => ACC=0, FP=0, REF=0, ch=0\n", 2, "\", reserved=\"");
  expect_error(good + "\n" + good, 3, "not above the previous frame 0x0");
  expect_error(good + "page=002: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n" + good, 3,
               "frame 0x0 is not above the previous frame 0x2");
  expect_error("page=10000000000000: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 1,
               "beyond the 64-bit address space");
  expect_error("page=100000000000000000: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n", 1,
               "hexadecimal frame number");
  expect_error(std::string("page=000: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\0\n", 59), 1,
               "end of the line");
}

TEST_CASE("skeys: append keeps runs ordered") {
  StorageKeyTable t;
  CHECK(t.append(5, StorageKey{1}));
  CHECK(t.append(6, StorageKey{2}));
  CHECK_FALSE(t.append(6, StorageKey{3}));
  CHECK_FALSE(t.append(2, StorageKey{3}));
  CHECK_FALSE(t.append(s390b::dump::skey_frame_limit, StorageKey{3}));
  CHECK(t.append(9, StorageKey{4}));
  CHECK(t.runs().size() == 2);
  CHECK(t.frame_count() == 3);
  CHECK(t.find(6) == StorageKey{2});
  CHECK_FALSE(t.find(7).has_value());
}
