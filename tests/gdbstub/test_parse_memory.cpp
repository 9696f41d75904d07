// Parsers for m x M X g G p P Z z.
#include <doctest/doctest.h>

#include "rsp/hex.h"
#include "parse_support.h"

using namespace s390b::rsp;
using namespace s390b::rsp::test;

TEST_CASE("parse: m addr,length") {
  CHECK(parse_as<ReadMemory>("m1000,40") == ReadMemory{0x1000, 0x40});
  CHECK(parse_as<ReadMemory>("mffffffffffffffff,1") == ReadMemory{0xffffffffffffffffULL, 1});
  // Wrap-around of addr + length is the session's check; the parser reports what was sent.
  CHECK(parse_as<ReadMemory>("mffffffffffffff00,ffffffffffffffff").length ==
        0xffffffffffffffffULL);
  CHECK(parse_as<ReadMemory>("m0,0") == ReadMemory{0, 0});
  expect_error("m", ParseError::MissingField);
  expect_error("m1000", ParseError::MissingField);
  expect_error("m1000,", ParseError::MissingField);
  expect_error("m,4", ParseError::MissingField);
  expect_error("m10g0,4", ParseError::BadNumber);
  expect_error("m1000,4;", ParseError::BadNumber);
  expect_error("m10000000000000000,4", ParseError::NumberOverflow);
  expect_error("m1000,10000000000000000", ParseError::NumberOverflow);
}

TEST_CASE("parse: x addr,length (GDB 16 and LLDB forms)") {
  CHECK(parse_as<ReadMemoryBinary>("x7ffff000,200") == ReadMemoryBinary{0x7ffff000, 0x200});
  CHECK(parse_as<ReadMemoryBinary>("x0x1000,0x10") == ReadMemoryBinary{0x1000, 0x10});
  CHECK(parse_as<ReadMemoryBinary>("x0,0") == ReadMemoryBinary{0, 0});
  expect_error("x1000", ParseError::MissingField);
  expect_error("x0x,4", ParseError::MissingField);
  expect_error("xzz,4", ParseError::BadNumber);
}

TEST_CASE("parse: M addr,length:hex") {
  CHECK(parse_as<WriteMemory>("M3ff0,4:deadbeef") == WriteMemory{0x3ff0, {0xde, 0xad, 0xbe, 0xef}});
  CHECK(parse_as<WriteMemory>("M3ff0,0:") == WriteMemory{0x3ff0, {}});
  expect_error("M3ff0,4", ParseError::MissingField);
  expect_error("M3ff0:dead", ParseError::MissingField);
  expect_error("M3ff0,4:dead", ParseError::LengthMismatch);
  expect_error("M3ff0,2:deadbeef", ParseError::LengthMismatch);
  expect_error("M3ff0,2:dea", ParseError::BadHexData);
  expect_error("M3ff0,2:deZZ", ParseError::BadHexData);
  // A huge length with little data is a mismatch, not a huge allocation.
  expect_error("M0,ffffffffffffffff:00", ParseError::LengthMismatch);
}

TEST_CASE("parse: X addr,length:binary") {
  // GDB's support probe.
  CHECK(parse_as<WriteMemoryBinary>("X1000,0:") == WriteMemoryBinary{0x1000, {}});
  const std::string escaped = std::string("X1000,4:") + "}\x03}\x04}]}\x0a";
  CHECK(parse_as<WriteMemoryBinary>(escaped) == WriteMemoryBinary{0x1000, {'#', '$', 0x7d, '*'}});
  // Binary data may contain `:` and `,` and any byte.
  const std::string raw = std::string("X20,5:a:,\x00\xff", 11);
  CHECK(parse_as<WriteMemoryBinary>(raw) == WriteMemoryBinary{0x20, {'a', ':', ',', 0x00, 0xff}});
  expect_error("X1000,1:}", ParseError::BadBinaryData);
  expect_error("X1000,2:}\x03", ParseError::LengthMismatch);  // length counts decoded bytes
  expect_error("X1000,1", ParseError::MissingField);
  expect_error("X1000,ffffffffffffffff:ab", ParseError::LengthMismatch);
}

TEST_CASE("parse: g G p P") {
  CHECK_FALSE(parse_as<ReadRegisters>("g").thread);
  // LLDB's thread suffix on g/G/p/P (after QThreadSuffixSupported).
  CHECK(parse_as<ReadRegisters>("g;thread:2;").thread == ThreadId::plain(IdPart::id(2)));
  CHECK(parse_as<WriteRegisters>("G0001;thread:1;").thread.has_value());
  CHECK(parse_as<WriteRegisters>("G0001;thread:1;").data == Bytes{0, 1});
  CHECK(parse_as<ReadRegister>("p11;thread:2;").thread.has_value());
  CHECK(parse_as<WriteRegister>("P11=00ff;thread:2;").data == Bytes{0, 0xff});
  expect_error("g;thread:2", ParseError::BadThreadId);    // the suffix ends in `;`
  CHECK_FALSE(parse_request("g;thread:zz;"));
  expect_error("g;bogus", ParseError::BadThreadId);
  expect_error("p11;thread:;", ParseError::BadThreadId);
  CHECK(parse_as<WriteRegisters>("G00010203").data == Bytes{0, 1, 2, 3});
  expect_error("G0001020", ParseError::BadHexData);
  expect_error("Gxx", ParseError::BadHexData);
  CHECK(parse_as<ReadRegister>("p11") == ReadRegister{0x11, std::nullopt});
  expect_error("p", ParseError::MissingField);
  expect_error("pq", ParseError::BadNumber);
  const auto w = parse_as<WriteRegister>("P11=0000000000001000");
  CHECK(w.regno == 0x11);
  CHECK(w.data == Bytes{0, 0, 0, 0, 0, 0, 0x10, 0});
  expect_error("P11", ParseError::MissingField);
  expect_error("P11=", ParseError::MissingField);
  expect_error("P=00", ParseError::MissingField);
  expect_error("P11=0", ParseError::BadHexData);
}

TEST_CASE("parse: Z and z, types 0-4") {
  const auto z0 = parse_as<InsertBreakpoint>("Z0,3ff8,2");
  CHECK(z0.type == BreakpointType::Software);
  CHECK(z0.addr == 0x3ff8);
  CHECK(z0.kind == 2);
  CHECK(z0.conditions.empty());
  CHECK(parse_as<InsertBreakpoint>("Z1,1000,2").type == BreakpointType::Hardware);
  CHECK(parse_as<InsertBreakpoint>("Z2,1000,8").type == BreakpointType::WriteWatch);
  CHECK(parse_as<InsertBreakpoint>("Z3,1000,8").type == BreakpointType::ReadWatch);
  CHECK(parse_as<InsertBreakpoint>("Z4,1000,8").type == BreakpointType::AccessWatch);
  const auto z2 = parse_as<RemoveBreakpoint>("z2,2000,4");
  CHECK(z2.type == BreakpointType::WriteWatch);
  CHECK(z2.addr == 0x2000);
  CHECK(z2.kind == 4);
  CHECK(parse_as<RemoveBreakpoint>("z0,1,2").type == BreakpointType::Software);
  // Conditions are tolerated and kept raw.
  CHECK(parse_as<InsertBreakpoint>("Z0,1000,2;X3,220405").conditions == "X3,220405");
  // Unknown types are unknown packets (empty reply), not errors.
  expect_unknown("Z5,1000,2", "Z");
  expect_unknown("z9,1000,2", "z");
  expect_unknown("Z0", "Z");
  expect_error("Z0,1000", ParseError::MissingField);
  expect_error("Z0,", ParseError::MissingField);
  expect_error("Z0,xyz,2", ParseError::BadNumber);
  expect_error("z1,1000,10000000000000000", ParseError::NumberOverflow);
}
