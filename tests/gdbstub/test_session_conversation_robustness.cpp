// Packet conversations, part 5: robustness. Bad checksums, malformed, oversized and
// unknown packets, interrupts and noise between and inside frames, naks, a client that
// vanishes mid-frame, pipelining and arbitrary read boundaries. Protocol errors are never
// fatal and every request gets exactly one reply (docs/architecture.md, "Rules that hold
// everywhere").
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "backends/emulated/demo_guest.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

constexpr std::uint64_t kScratch = demo::kernel_data_va + 0x2000;

std::string with_bad_checksum(std::string_view payload) {
  std::string f = frame(payload);
  f[f.size() - 1] = f[f.size() - 1] == '0' ? '1' : '0';
  return f;
}

// Requires that `items` is exactly one packet (no acks: no-ack mode) and returns it.
std::string only_packet(const std::vector<WireItem>& items) {
  REQUIRE(items.size() == 1);
  REQUIRE(items[0].kind == WireItem::Kind::packet);
  return items[0].payload;
}

// Packets whose arguments are malformed: each must get an error, never end the session.
const std::vector<std::string> kMalformed = {
    "m", "m600000", "m600000,", "mxyz,4", "m,4", "m600000,4,5", "x600000", "xg,1", "M600000,4", "M600000,4:zz",
    "X600000,4", "X600000:ab", "p", "pxyz", "P", "P1", "P1=", "P1=xyz", "Gxyz", "G0", "H", "Hg", "Hgxyz", "Hq1",
    "T", "Txyz", "Z0,600000", "Z0,xyz,2", "z1,", "x", "vCont;", "vCont;q", "vCont;c:xyz", "vCont;C", "vCont;Sxyz",
    "Cxyz", "C", "Sxyz", "cxyz", "sxyz", "D;xyz", "vKill;", "vKill;xyz", "qAttached:xyz", "QNonStop:2",
    "QNonStop:", "QThreadEvents:x", "qXfer:features:read:target.xml:xyz,10", "qXfer:features:read:target.xml:0",
    "qXfer:features:read:target.xml", "qXfer:threads:read::0,xyz", "qThreadExtraInfo,", "qThreadExtraInfo,xyz",
    "qRcmd,zz", "qRcmd,a", "m10000000000000000,1", "Hg10000000000000000",
};

// Packets we do not implement: each must get the empty packet (GDB manual, "Standard
// Replies"), never OK or an error.
const std::vector<std::string> kUnknown = {
    "vFoo", "vFoo;bar", "qFoo", "qFoo:bar", "QFoo", "QFoo:1", "_foo", "vMustReplyEmpty", "qTStatus", "!",
    "Z0,600000,2", "z0,600000,2", "Z1,600000,2", "z1,600000,2", "Z2,600000,4", "Z3,600000,4", "Z4,600000,4",
    "z4,600000,4", "Z5,600000,4", "Z9,0,0", "qCRC:600000,10", "qSearch:memory:600000;10;6b", "qGetTLSAddr:1,0,0",
    "QPassSignals:e;10", "QProgramSignals:", "QDisableRandomization:1", "QAgent:1", "qL1160000000000000000",
    "qP0000001f0000000000000001", "bc", "bs", "i", "I", "A10,0,2f", "R00", "vRun;", "vAttach;1", "vFile:setfs:0",
    "vFile:open:6a7573,0,0", "vStopped", "vCtrlC", "qXfer:memory-map:read::0,100", "qXfer:auxv:read::0,100",
    "qXfer:exec-file:read:1:0,100", "qSupportedX", "qAttachedX", "qCX", "vCont?x", "vContX", "qTfV", "qTsP", "QTinit",
    "QTDP:1:600000:E:0:0", "qMemTags:600000,10:1", "QStartNoAckModeX", "jThreadsInfo", "z1", "",
};

}  // namespace

TEST_CASE("conversation: a bad checksum gets `-` and is not executed") {
  auto guest = demo::make_guest();
  Conversation c(*guest);
  c.negotiate("", /*no_ack=*/false);
  const std::string before = c.request("m" + hex_number(kScratch) + ",4");
  // A write with a bad checksum: nak, no reply, nothing written.
  auto items = c.send_raw(with_bad_checksum("M" + hex_number(kScratch) + ",4:01020304"));
  REQUIRE(items.size() == 1);
  CHECK(items[0].kind == WireItem::Kind::nak);
  CHECK(c.request("m" + hex_number(kScratch) + ",4") == before);
  // A trailer that is not hex: also a nak; the next packet is fine.
  items = c.send_raw("$qC#zz");
  REQUIRE_FALSE(items.empty());
  CHECK(items[0].kind == WireItem::Kind::nak);
  CHECK(packets_of(items).empty());
  CHECK(c.request("qC") == "QC1");
  // GDB retransmits after the `-`: the good copy is executed once.
  items = c.send_raw(with_bad_checksum("qC") + frame("qC"));
  REQUIRE(items.size() == 3);
  CHECK(items[0].kind == WireItem::Kind::nak);
  CHECK(items[1].kind == WireItem::Kind::ack);
  CHECK(items[2].payload == "QC1");
  // Uppercase checksum digits are accepted.
  items = c.send_raw("$qOffsets#4B");
  REQUIRE(items.size() == 2);
  CHECK(items[1].payload.empty());
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: no-ack mode skips checksum verification, as GDB does") {
  // One reply, no `-`, no `+`.
  CHECK(only_packet(c.send_raw(with_bad_checksum("qC"))) == "QC1");
}

TEST_CASE("conversation: malformed packets get an error and the session goes on") {
  auto guest = demo::make_guest();
  for (const bool no_ack : {false, true}) {
    for (const bool text : {false, true}) {
      CAPTURE(no_ack);
      CAPTURE(text);
      Conversation c(*guest);
      c.negotiate(text ? ";error-message+" : "", no_ack);
      for (const std::string& p : kMalformed) {
        CAPTURE(p);
        const std::string r = c.request(escape(p));
        CHECK(is_error(r));
        if (!text) CHECK(r == "E16");  // EINVAL
        CHECK(c.request("qC") == "QC1");  // the next packet works
      }
    }
  }
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: unknown packets get the empty reply") {
  for (const std::string& p : kUnknown) {
    CAPTURE(p);
    CHECK(c.request(escape(p)) == "");
  }
  // Settings we understand but decline.
  CHECK(is_error(c.request("QNonStop:1")));  // all-stop only
  CHECK(c.request("QNonStop:0") == "OK");
  CHECK(c.request("QThreadEvents:1") == "OK");
  // Full-name matching: qC is not qCRC, qSupported is not qSupportedX.
  CHECK(c.request("qC") == "QC1");
}

TEST_CASE("conversation: an oversized packet gets `-` (ack mode) and the next good packet works") {
  auto guest = demo::make_guest();
  const std::string huge(kPacketSize + 1, 'a');
  SUBCASE("ack mode") {
    Conversation c(*guest);
    c.negotiate("", /*no_ack=*/false);
    auto items = c.send_raw(frame("m" + huge));
    REQUIRE(items.size() == 1);
    CHECK(items[0].kind == WireItem::Kind::nak);
    CHECK(c.request("qC") == "QC1");
    // In the same read as the next packet; and one that never ends, cut by a new `$`.
    items = c.send_raw(frame(huge) + frame("qC") + "$" + huge + frame("qOffsets"));
    REQUIRE(items.size() == 6);
    CHECK(items[0].kind == WireItem::Kind::nak);
    CHECK(items[1].kind == WireItem::Kind::ack);
    CHECK(items[2].payload == "QC1");
    CHECK(items[3].kind == WireItem::Kind::nak);
    CHECK(items[4].kind == WireItem::Kind::ack);
    CHECK(items[5].kind == WireItem::Kind::packet);
    CHECK(items[5].payload == "");  // qOffsets
    // Exactly PacketSize is fine (an X of PacketSize bytes of payload).
    const std::string header = "X" + hex_number(kScratch) + ",";
    std::string data(kPacketSize, 'b');
    std::string body;
    for (std::size_t digits = 1; digits < 8; ++digits) {  // the length's own digits count too
      const std::size_t len = kPacketSize - header.size() - digits - 1;
      if (hex_number(len).size() != digits) continue;
      body = header + hex_number(len) + ":" + data.substr(0, len);
      break;
    }
    REQUIRE(body.size() == kPacketSize);
    CHECK(c.request(body) == "OK");
  }
  SUBCASE("no-ack mode") {
    Conversation c(*guest);
    c.negotiate();
    // The client waits for a reply: it gets an error instead of silence.
    CHECK(is_error(only_packet(c.send_raw(frame(huge)))));
    CHECK(c.request("qC") == "QC1");
  }
}

TEST_CASE("conversation: 0x03 between frames is an interrupt, inside a frame it is data") {
  auto guest = demo::make_guest();
  Conversation c(*guest);
  c.negotiate("", /*no_ack=*/false);
  // The target is stopped: an interrupt changes nothing and sends nothing.
  CHECK(c.send_raw("\x03").empty());
  CHECK(c.send_raw("\x03\x03\x03").empty());
  auto items = c.send_raw(std::string("\x03") + frame("qC") + "\x03");
  REQUIRE(items.size() == 2);
  CHECK(items[1].payload == "QC1");
  // Inside X's binary payload, 0x03 is a byte to write.
  const std::string data("\x03\x03\x00\x03", 4);
  CHECK(c.request("X" + hex_number(kScratch) + ",4:" + escape(data)) == "OK");
  CHECK(c.request("m" + hex_number(kScratch) + ",4") == "03030003");
  // Inside a hex packet it is data too: the packet is malformed, not interrupted.
  CHECK(c.request("m60\x03" "0000,4") == "E16");
  // Between `#` and the checksum: a broken frame (nak); the next one works.
  items = c.send_raw("$qC#b\x03" "4");
  REQUIRE_FALSE(items.empty());
  CHECK(items[0].kind == WireItem::Kind::nak);
  CHECK(packets_of(items).empty());
  CHECK(c.request("qC") == "QC1");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: noise between frames is ignored") {
  CHECK(c.send_raw("garbage\r\n").empty());
  CHECK(c.send_raw(std::string("\xff\xf3\xff\xf4\0\0#00", 10)).empty());  // telnet BREAK, NULs, a lone trailer
  CHECK(only_packet(c.send_raw("hello" + frame("qC") + "world")) == "QC1");
  // A frame abandoned by a new `$` is dropped; the new frame is answered.
  CHECK(only_packet(c.send_raw("$m6000" + frame("qC"))) == "QC1");
}

TEST_CASE("conversation: `-` retransmits the last reply") {
  auto guest = demo::make_guest();
  Conversation c(*guest);
  // Before any reply there is nothing to retransmit.
  CHECK(c.send_raw("-").empty());
  c.negotiate("", /*no_ack=*/false);
  const std::string reply = c.request("m" + hex_number(demo::kernel_data_va) + ",10");
  const std::string wire = c.last_output().substr(1);  // without the `+`
  auto items = c.send_raw("-");
  REQUIRE(items.size() == 1);
  CHECK(items[0].payload == reply);
  CHECK(c.last_output() == wire);  // byte for byte
  // Each piece of input gets at most one retransmission, however many `-` it holds.
  items = c.send_raw("--");
  CHECK(packets_of(items) == std::vector<std::string>{reply});
  CHECK(packets_of(c.send_raw("-")) == std::vector<std::string>{reply});
  // After the next request, `-` retransmits that one's reply.
  CHECK(c.request("qC") == "QC1");
  CHECK(packets_of(c.send_raw("-")) == std::vector<std::string>{"QC1"});
}

// The transport feeds the session 256 bytes at a time and bounds the replies queued per
// piece; a piece of `-` bytes after a large reply must not queue a copy per byte.
TEST_CASE("conversation: a run of `-` after a large reply retransmits it once per piece") {
  auto guest = demo::make_guest();
  Conversation c(*guest);
  c.negotiate("", /*no_ack=*/false);
  const std::string big = c.request("x" + hex_number(demo::kernel_data_va) + ",10000");
  REQUIRE(big.size() > 0x10000);
  const std::string wire = c.last_output().substr(1);
  c.send_raw(std::string(256, '-'));
  CHECK(c.last_output() == wire);  // one copy, not 256
  c.send_raw(std::string(256, '-'));
  CHECK(c.last_output() == wire);  // the next piece: again one
}

// In no-ack mode GDB neither sends nor expects `-`: a frame whose trailer is not two hex
// digits (the only checksum problem noticed then) is answered with an error, so the
// client does not wait forever for a reply.
TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: in no-ack mode a malformed checksum gets an error reply") {
  const auto items = c.send_raw("$m600000,4#zz");
  CHECK(count_kind(items, WireItem::Kind::nak) == 0);
  const auto packets = packets_of(items);
  REQUIRE(packets.size() == 1);
  CHECK(is_error(packets[0]));
  CHECK(c.request("qC") == "QC1");  // the session goes on
}

// A stray `-` in no-ack mode cannot be a nak (GDB never sends one then, remote.c only
// naks when !noack_mode); retransmitting would put an unrequested packet on the wire that
// the client takes as the answer to its next request, shifting every reply after it.
TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: in no-ack mode a stray `-` is ignored") {
  CHECK(c.request("qC") == "QC1");
  CHECK(c.send_raw("-").empty());
  CHECK(packets_of(c.send_raw("-" + frame("qOffsets"))) == std::vector<std::string>{""});
}

TEST_CASE("conversation: a client that disconnects mid-frame; a fresh connection works") {
  auto guest = demo::make_guest();
  {
    Conversation gone(*guest);
    gone.negotiate();
    CHECK(gone.send_raw("$M" + hex_number(kScratch) + ",4:0102").empty());
  }  // the transport drops the Session with the half frame
  Conversation c(*guest);
  CHECK(c.ack_mode());
  const std::string supported = c.negotiate("", /*no_ack=*/false);
  CHECK(supported.find("PacketSize=") != std::string::npos);
  CHECK(c.request("m" + hex_number(kScratch) + ",4") == "00000000");  // the half write did nothing
  CHECK(c.request("QStartNoAckMode") == "OK");
  CHECK(c.request("qC") == "QC1");
}

TEST_CASE("conversation: k ends the session without a reply; vKill and D reply OK") {
  auto guest = demo::make_guest();
  {
    Conversation c(*guest);
    c.negotiate();
    CHECK(c.send_raw(frame("k")).empty());
    CHECK(c.session().finished());
  }
  {
    Conversation c(*guest, {});
    c.negotiate("", /*no_ack=*/false);
    auto items = c.send_raw(frame("k"));
    REQUIRE(items.size() == 1);
    CHECK(items[0].kind == WireItem::Kind::ack);
    CHECK(c.session().finished());
  }
  {
    Conversation c(*guest);
    c.negotiate();
    CHECK(c.request("vKill;1") == "OK");
    CHECK(c.session().finished());
  }
  {
    Conversation c(*guest);
    c.negotiate();
    CHECK(c.request("D;1") == "OK");
    CHECK(c.session().finished());
  }
  // The guest was not harmed by any of them.
  Conversation c(*guest);
  c.negotiate();
  CHECK(unhex(c.request("m" + hex_number(demo::linux_banner_va) + ",5")) == "Linux");
}

TEST_CASE("conversation: pipelined requests in one read get one reply each, in order") {
  auto guest = demo::make_guest();
  for (const bool no_ack : {false, true}) {
    CAPTURE(no_ack);
    Conversation c(*guest);
    c.negotiate("", no_ack);
    std::vector<std::string> requests = {"qC", "m600000,6", "vFoo", "mzz", "Hg2", "qC", "?", "p2", "x1000000,5", "T3"};
    std::string bytes;
    for (const auto& r : requests) bytes += frame(r);
    const auto items = c.send_raw(bytes);
    const auto packets = packets_of(items);
    REQUIRE(packets.size() == requests.size());
    CHECK(count_kind(items, WireItem::Kind::ack) == (no_ack ? 0 : requests.size()));
    CHECK(packets[0] == "QC1");
    CHECK(packets[1] == hex("kernel"));
    CHECK(packets[2] == "");
    CHECK(packets[3] == "E16");
    CHECK(packets[4] == "OK");
    CHECK(packets[5] == "QC2");
    CHECK(parse_stop(packets[6]).signal == 5);
    CHECK(packets[7] == hex(be_bytes(0x2000, 8)));  // cpu 1's r0
    CHECK(packets[8] == "bhello");  // cpu 1's view (Hg2)
    CHECK(is_error(packets[9]));
  }
}

TEST_CASE("conversation: the output does not depend on how the input is split into reads") {
  // GDB 13's connect, with a malformed, an unknown, a bad-checksum and an oversized packet
  // and some noise thrown in.
  std::string script = "+" + frame(std::string("qSupported:") + std::string(kGdb13Features)) + "+" +
                       frame("vMustReplyEmpty") + "+" + with_bad_checksum("Hg0") + frame("Hg0") + "+" +
                       frame("mzz") + "+noise" + frame("vFoo") + "+" + frame(std::string(0x1800, 'q')) +
                       frame("qXfer:features:read:target.xml:0,ffb") + "+" + frame("qXfer:threads:read::0,1000") +
                       "+\x03" + frame("X" + hex_number(kScratch) + ",3:\x03}\x03" "a") + "+" + frame("?") + "+" +
                       frame("QStartNoAckMode") + "+" + frame("qC") + frame("g") + frame("x600000,40") +
                       with_bad_checksum("m600000,10") + frame("qRcmd," + hex("view")) + frame("D");
  auto run = [&](const std::vector<std::size_t>& cuts) {
    auto guest = demo::make_guest();
    SessionOptions o;
    o.packet_size = 0x1000;  // so the oversized frame stays small
    Session s(*guest, o);
    std::string out;
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
      out += s.on_bytes(std::string_view(script).substr(at, cut - at));
      at = cut;
    }
    out += s.on_bytes(std::string_view(script).substr(at));
    return out;
  };
  const std::string whole = run({});
  const auto items = split_wire(whole);
  CHECK(packets_of(items).size() == 17);  // one per request (qRcmd: an O packet + OK)
  CHECK(count_kind(items, WireItem::Kind::nak) == 2);  // the bad checksum, the oversized frame
  std::mt19937 rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::size_t> cuts;
    std::size_t at = 0;
    while (true) {
      at += 1 + rng() % (trial < 5 ? 3 : 200);
      if (at >= script.size()) break;
      cuts.push_back(at);
    }
    CAPTURE(trial);
    CHECK(run(cuts) == whole);
  }
}

TEST_CASE("conversation: the trace and the protocol-error ring dump see every packet") {
  auto guest = demo::make_guest();
  std::vector<std::string> trace;
  std::vector<std::pair<std::string, std::size_t>> errors;  // what, ring size
  std::string last_ring;
  SessionOptions o;
  o.trace = [&](std::string_view line) { trace.emplace_back(line); };
  o.on_protocol_error = [&](std::string_view what, const std::deque<std::string>& recent) {
    errors.emplace_back(std::string(what), recent.size());
    last_ring = recent.empty() ? "" : recent.back();
  };
  Conversation c(*guest, o);
  c.negotiate("", /*no_ack=*/false);
  CHECK(c.request("X" + hex_number(kScratch) + ",3:" + escape(std::string("\x03}\xff", 3))) == "OK");
  // Binary bytes are escaped for display: no control characters in the trace.
  for (const auto& line : trace) {
    CAPTURE(line);
    CHECK(line.find('\x03') == std::string::npos);
    CHECK(line.find('\xff') == std::string::npos);
  }
  REQUIRE(trace.size() >= 2);
  CHECK(trace[trace.size() - 2].starts_with("<- X"));
  CHECK(trace.back() == "-> OK");
  CHECK(errors.empty());
  // Each kind of protocol error reports once, with the recent packets.
  c.send_raw(with_bad_checksum("qC"));
  c.request("mzz");
  c.send_raw(frame(std::string(kPacketSize + 1, 'a')));
  REQUIRE(errors.size() == 3);
  for (const auto& [what, ring] : errors) {
    CAPTURE(what);
    CHECK_FALSE(what.empty());
    CHECK(ring > 0);
    CHECK(ring <= 32);
  }
  CHECK(last_ring.find("oversized") != std::string::npos);
  CHECK(c.session().recent_packets().size() <= 32);
}
