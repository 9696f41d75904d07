// Reply encoder: error forms, memory (m/x), registers, qXfer windows, stop replies, O
// packets, thread lists.
#include <doctest/doctest.h>

#include "rsp/codec.h"
#include "gdbstub/reply.h"

using namespace s390b::rsp;

namespace {
std::string enc(const Reply& r, const ReplyContext& ctx = {}) { return encode_reply(r, ctx); }
}  // namespace

TEST_CASE("reply: OK, empty, and the wire form") {
  CHECK(enc(OkReply{}) == "OK");
  CHECK(enc(EmptyReply{}).empty());
  CHECK(encode_packet(enc(EmptyReply{})) == "$#00");
  CHECK(encode_packet(enc(OkReply{})) == "$OK#9a");
}

TEST_CASE("reply: errors are exactly E + two lowercase hex digits unless text was negotiated") {
  CHECK(enc(ErrorReply{ErrorCode::Invalid, ""}) == "E16");
  CHECK(enc(ErrorReply{ErrorCode::Fault, "cannot read"}) == "E0e");
  CHECK(enc(ErrorReply{ErrorCode::Perm, ""}) == "E01");
  CHECK(error_payload(ErrorCode::NotImplemented) == "E26");
  ReplyContext gdb;
  gdb.error_message = true;
  CHECK(enc(ErrorReply{ErrorCode::Fault, "no page at 1000"}, gdb) == "E.no page at 1000");
  // Without text the code form is used even when E.text is allowed.
  CHECK(enc(ErrorReply{ErrorCode::Fault, ""}, gdb) == "E0e");
  // Framing and escape characters and non-printables never reach the client raw.
  CHECK(enc(ErrorReply{ErrorCode::Invalid, "a#b$c*d}e\n"}, gdb) == "E.a?b?c?d?e?");
  ReplyContext lldb;
  lldb.lldb_error_strings = true;
  CHECK(enc(ErrorReply{ErrorCode::Fault, "bad"}, lldb) == "E0e;626164");
}

TEST_CASE("reply: memory as hex (m) and binary (x)") {
  const Bytes data{0x00, 0x23, 0x24, 0x7d, 0x2a, 0xff};
  CHECK(enc(MemoryData{MemoryEncoding::Hex, data}) == "0023247d2aff");
  const std::string bin = enc(MemoryData{MemoryEncoding::Binary, data});
  CHECK(bin == std::string("b\x00#$}*\xff", 7));
  // On the wire the binary part is escaped.
  CHECK(encode_packet(bin) == std::string("$b\x00}\x03}\x04}]}\x0a\xff#c3", 15));
  // Empty reads: `b` for x (an empty packet would mean "unsupported"), OK for m.
  CHECK(enc(MemoryData{MemoryEncoding::Binary, {}}) == "b");
  CHECK(enc(MemoryData{MemoryEncoding::Hex, {}}) == "OK");
}

TEST_CASE("reply: registers with unavailable bytes") {
  CHECK(enc(RegisterData{{0x12, 0x34}, {}}) == "1234");
  CHECK(enc(RegisterData{{0x12, 0x34, 0x56, 0x78}, {true, true, false, false}}) == "1234xxxx");
}

TEST_CASE("reply: qXfer windows") {
  const std::string doc = "<target>0123456789</target>";  // 27 bytes
  CHECK(enc(XferWindow{doc, 0, 8}) == "m<target>");
  CHECK(enc(XferWindow{doc, 8, 10}) == "m0123456789");
  // The window that reaches the end is `l` + data: no extra round trip.
  CHECK(enc(XferWindow{doc, 18, 9}) == "l</target>");
  CHECK(enc(XferWindow{doc, 18, 0x1000}) == "l</target>");
  CHECK(enc(XferWindow{doc, 0, 0xffffffffffffffffULL}) == "l" + doc);
  CHECK(enc(XferWindow{doc, 27, 100}) == "l");
  CHECK(enc(XferWindow{doc, 28, 100}) == "E16");
  CHECK(enc(XferWindow{doc, 0xffffffffffffffffULL, 0xffffffffffffffffULL}) == "E16");
  CHECK(enc(XferWindow{"", 0, 10}) == "l");
}

TEST_CASE("reply: stop replies") {
  CHECK(enc(StopReply{}) == "S05");
  StopReply s;
  s.signal = GdbSignal::Int;
  s.thread = ThreadId::plain(IdPart::id(1));
  CHECK(enc(s) == "T02thread:1;");
  s.signal = GdbSignal::Trap;
  s.reason = StopReason::SwBreak;
  CHECK(enc(s) == "T05thread:1;");  // not negotiated: no swbreak
  ReplyContext ctx;
  ctx.swbreak = true;
  CHECK(enc(s, ctx) == "T05thread:1;swbreak:;");
  s.reason = StopReason::HwBreak;
  CHECK(enc(s, ctx) == "T05thread:1;");
  ctx.hwbreak = true;
  CHECK(enc(s, ctx) == "T05thread:1;hwbreak:;");
  s.reason = StopReason::Watch;
  s.watch_address = 0x3ff0;
  CHECK(enc(s) == "T05thread:1;watch:3ff0;");
  s.reason = StopReason::AccessWatch;
  CHECK(enc(s) == "T05thread:1;awatch:3ff0;");
  s.reason = StopReason::ReadWatch;
  s.core = 2;
  s.registers = {{1, {0, 0, 0, 0, 0, 0, 0x10, 0}}, {0x11, {0, 0, 0, 0, 0, 0, 0x0f, 0xa0}}};
  CHECK(enc(s) == "T051:0000000000001000;11:0000000000000fa0;thread:1;core:2;rwatch:3ff0;");
  // Without a thread but with a register it is still a T reply.
  StopReply r;
  r.registers = {{1, {0xab}}};
  CHECK(enc(r) == "T051:ab;");
  CHECK(enc(ExitedReply{0}) == "W00");
  CHECK(enc(TerminatedReply{GdbSignal::Kill}) == "X09");
  ReplyContext mp;
  mp.multiprocess = true;
  mp.pid = 0x2a;
  CHECK(enc(ExitedReply{1}, mp) == "W01;process:2a");
}

TEST_CASE("reply: thread ids, lists and qC") {
  ReplyContext plain;
  ReplyContext mp;
  mp.multiprocess = true;
  mp.pid = 1;
  const ThreadId t2 = ThreadId::plain(IdPart::id(2));
  CHECK(format_thread_id(t2, plain) == "2");
  CHECK(format_thread_id(t2, mp) == "p1.2");
  CHECK(format_thread_id(ThreadId{IdPart::id(7), IdPart::all()}, mp) == "p7.-1");
  CHECK(format_thread_id(ThreadId::plain(IdPart::any()), plain) == "0");
  CHECK(enc(ThreadList{{ThreadId::plain(IdPart::id(1)), t2, ThreadId::plain(IdPart::id(0x1a))}}) ==
        "m1,2,1a");
  CHECK(enc(ThreadList{{t2}}, mp) == "mp1.2");
  CHECK(enc(ThreadList{}) == "l");
  CHECK(enc(CurrentThread{t2}) == "QC2");
  CHECK(enc(CurrentThread{t2}, mp) == "QCp1.2");
  StopReply s;
  s.thread = t2;
  CHECK(enc(s, mp) == "T05thread:p1.2;");
}

TEST_CASE("reply: console output and hex text") {
  CHECK(enc(ConsoleOutput{"hi\n"}) == "O68690a");
  CHECK(enc(HexText{"CPU 2 stopped"}) == "43505520322073746f70706564");
  // Split to fit the packet size: `O` + 2 digits per character.
  const auto packets = console_output_packets("abcdefg", 7);  // 3 chars per packet
  REQUIRE(packets.size() == 3);
  CHECK(packets[0] == "O616263");
  CHECK(packets[1] == "O646566");
  CHECK(packets[2] == "O67");
  CHECK(console_output_packets("", 100).empty());
  CHECK(console_output_packets("ab", 1).size() == 2);  // degenerate size: one char each
  for (const auto& p : console_output_packets(std::string(1000, 'x'), 0x40)) CHECK(p.size() <= 0x40);
}

TEST_CASE("reply: qSupported and preformatted text") {
  SupportedReply r;
  r.features = {{"PacketSize", Feature::State::Value, "4000"},
                {"qXfer:features:read", Feature::State::Supported, ""},
                {"QStartNoAckMode", Feature::State::Supported, ""},
                {"binary-upload", Feature::State::Supported, ""},
                {"QNonStop", Feature::State::Unsupported, ""}};
  CHECK(enc(r) == "PacketSize=4000;qXfer:features:read+;QStartNoAckMode+;binary-upload+;QNonStop-");
  CHECK(enc(TextReply{"vCont;c;C;s;S"}) == "vCont;c;C;s;S");
}
