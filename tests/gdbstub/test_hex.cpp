// Hex data, hex numbers and binary escaping.
#include <doctest/doctest.h>

#include <random>

#include "rsp/hex.h"

using namespace s390b::rsp;

TEST_CASE("hex: encode is lowercase, decode takes either case") {
  const Bytes bytes{0x00, 0x7f, 0x80, 0xde, 0xad, 0xbe, 0xef, 0xff};
  CHECK(hex_encode(bytes) == "007f80deadbeefff");
  CHECK(hex_encode(std::string_view("help")) == "68656c70");
  CHECK(hex_decode("007f80DEADbeefFF").value() == bytes);
  CHECK(hex_decode("").value().empty());
  CHECK(hex_decode_text("68656c70").value() == "help");
}

TEST_CASE("hex: malformed data") {
  CHECK(hex_decode("abc").error() == HexError::OddLength);
  CHECK(hex_decode("zz").error() == HexError::BadDigit);
  CHECK(hex_decode("0g").error() == HexError::BadDigit);
  CHECK(hex_decode_text("6").error() == HexError::OddLength);
}

TEST_CASE("hex: numbers up to 64 bits, overflow is an error not a wrap") {
  CHECK(parse_hex_u64("0").value() == 0);
  CHECK(parse_hex_u64("3ff8").value() == 0x3ff8);
  CHECK(parse_hex_u64("FfFf").value() == 0xffff);
  CHECK(parse_hex_u64("ffffffffffffffff").value() == 0xffffffffffffffffULL);
  CHECK(parse_hex_u64("8000000000000000").value() == 0x8000000000000000ULL);
  // 17 significant digits
  CHECK(parse_hex_u64("10000000000000000").error() == HexError::Overflow);
  CHECK(parse_hex_u64("fffffffffffffffff").error() == HexError::Overflow);
  // Leading zeros do not change the value.
  CHECK(parse_hex_u64("00000000000000000001").value() == 1);
  CHECK(parse_hex_u64("").error() == HexError::Empty);
  CHECK(parse_hex_u64("12x").error() == HexError::BadDigit);
  CHECK(parse_hex_u64("-1").error() == HexError::BadDigit);
  CHECK(parse_hex_u64("0x10").error() == HexError::BadDigit);
  CHECK(parse_hex_u64_lenient("0x10").value() == 0x10);
  CHECK(parse_hex_u64_lenient("0X10").value() == 0x10);
  CHECK(parse_hex_u64_lenient("10").value() == 0x10);
  CHECK(parse_hex_u64_lenient("0x").error() == HexError::Empty);
}

TEST_CASE("hex: number formatting") {
  CHECK(format_hex(0) == "0");
  CHECK(format_hex(0x3ff8) == "3ff8");
  CHECK(format_hex(0xffffffffffffffffULL) == "ffffffffffffffff");
  std::string s;
  format_hex_byte_append(s, 0x05);
  format_hex_byte_append(s, 0xab);
  CHECK(s == "05ab");
}

TEST_CASE("hex: binary escaping of # $ } *") {
  const Bytes raw{'#', '$', 0x7d, '*', 'a', 0x00, 0xff};
  const std::string wire = escape_binary(raw);
  CHECK(wire == std::string("}\x03}\x04}]}\x0a" "a\x00\xff", 11));
  CHECK(unescape_binary(wire).value() == raw);
  CHECK(unescaped_size(wire).value() == raw.size());
  // Any `}x` pair is unescaped, not only the four we produce.
  CHECK(unescape_binary("}\x61").value() == Bytes{0x41});
  CHECK(unescape_binary("ab}").error() == HexError::BadEscape);
  CHECK(unescaped_size("}").error() == HexError::BadEscape);
}

TEST_CASE("hex: property: escape/unescape round trip over random bytes") {
  std::mt19937 rng(0x390);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 512);
  for (int round = 0; round < 1000; ++round) {
    Bytes raw(static_cast<std::size_t>(length(rng)));
    for (auto& b : raw) b = static_cast<std::uint8_t>(byte(rng));
    const std::string wire = escape_binary(raw);
    CHECK(wire.find_first_of("#$*") == std::string::npos);
    CHECK(unescape_binary(wire).value() == raw);
    CHECK(hex_decode(hex_encode(raw)).value() == raw);
  }
}
