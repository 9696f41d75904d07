// Packet conversations, part 1: connecting. GDB 13.1's opening sequence replayed byte for
// byte against the demo guest (captured with `set remotelogfile`), then the queries other
// clients and older GDBs send at connect (qfThreadInfo, qC, qOffsets, g, qSymbol, LLDB's
// qHostInfo), target.xml in every window size, and qSupported renegotiation.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "backends/emulated/demo_guest.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

std::set<std::string> split_features(std::string_view reply) {
  std::set<std::string> out;
  std::size_t start = 0;
  while (start <= reply.size()) {
    const std::size_t semi = std::min(reply.find(';', start), reply.size());
    const std::string f(reply.substr(start, semi - start));
    CHECK_FALSE(f.empty());
    CHECK(out.insert(f).second);  // no feature twice
    start = semi + 1;
  }
  return out;
}

std::size_t register_bytes(const std::vector<XmlRegister>& regs) {
  std::size_t n = 0;
  for (const auto& r : regs) n += r.bits / 8;
  return n;
}

const XmlRegister* find_reg(const std::vector<XmlRegister>& regs, std::string_view name) {
  for (const auto& r : regs)
    if (r.name == name) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("conversation: GDB 13.1 connect sequence, byte for byte") {
  auto guest = demo::make_guest();
  const auto cpu0 = guest->cpu_state(0);
  REQUIRE(cpu0);
  Conversation c(*guest);

  // GDB first acks "any packet the remote side has already sent".
  CHECK(c.send_raw("+").empty());

  // qSupported, acked; the reply follows in the same write.
  auto items = c.send_raw(frame(std::string("qSupported:") + std::string(kGdb13Features)));
  REQUIRE(items.size() == 2);
  CHECK(items[0].kind == WireItem::Kind::ack);
  const auto features = split_features(items[1].payload);
  CHECK(features.count("PacketSize=20000") == 1);  // kPacketSize, hex
  CHECK(features.count("qXfer:features:read+") == 1);
  CHECK(features.count("qXfer:threads:read+") == 1);
  CHECK(features.count("QStartNoAckMode+") == 1);
  CHECK(features.count("binary-upload+") == 1);
  // No run control on the demo guest: nothing about resuming or stop reasons; and no
  // multiprocess (the stub must not use p-ids unless both sides said so).
  CHECK(features.count("vContSupported+") == 0);
  CHECK(features.count("swbreak+") == 0);
  CHECK(features.count("hwbreak+") == 0);
  CHECK(features.count("multiprocess+") == 0);
  CHECK(features.count("QNonStop+") == 0);

  // vMustReplyEmpty, with GDB's ack of the qSupported reply in front.
  items = c.send_raw("+$vMustReplyEmpty#3a");
  REQUIRE(items.size() == 2);
  CHECK(items[0].kind == WireItem::Kind::ack);
  CHECK(items[1].kind == WireItem::Kind::packet);
  CHECK(items[1].payload.empty());

  // QStartNoAckMode: still acked; OK; from now on no acks either way.
  items = c.send_raw("+$QStartNoAckMode#b0");
  REQUIRE(items.size() == 2);
  CHECK(items[0].kind == WireItem::Kind::ack);
  CHECK(items[1].payload == "OK");

  auto one = [&](std::string_view wire) {
    const auto it = c.send_raw(wire);
    INFO("request: ", std::string(wire));
    REQUIRE(it.size() == 1);
    REQUIRE(it[0].kind == WireItem::Kind::packet);
    return it[0].payload;
  };

  CHECK(one("$Hg0#df") == "OK");

  // target.xml in GDB 13's 0x1000 windows.
  std::string xml;
  {
    const std::string w0 = one("$qXfer:features:read:target.xml:0,1000#0c");
    const std::string w1 = one("$qXfer:features:read:target.xml:1000,1000#9d");
    const std::string w2 = one("$qXfer:features:read:target.xml:2000,1000#9e");
    REQUIRE(w0.size() == 0x1001);
    REQUIRE(w1.size() == 0x1001);
    CHECK(w0[0] == 'm');
    CHECK(w1[0] == 'm');
    REQUIRE(w2[0] == 'l');  // the last window ends the document: no extra round trip
    CHECK(w2.size() > 1);
    xml = w0.substr(1) + w1.substr(1) + w2.substr(1);
  }
  CHECK(xml_problem(xml) == "");
  CHECK(xml.find("<architecture>s390:64-bit</architecture>") != std::string::npos);
  for (const char* feature : {"org.gnu.gdb.s390.core", "org.gnu.gdb.s390.acr", "org.gnu.gdb.s390.fpr",
                              "org.gnu.gdb.s390.vx", "org.gnu.gdb.s390.cr", "org.gnu.gdb.s390.virt"}) {
    CAPTURE(feature);
    CHECK(xml.find(std::string("<feature name=\"") + feature + "\">") != std::string::npos);
  }
  const auto regs = xml_registers(xml);
  REQUIRE(regs.size() > 18);
  for (unsigned i = 0; i < regs.size(); ++i) CHECK(regs[i].regnum == i);  // g order = regnum order
  CHECK(regs[0].name == "pswm");
  CHECK(regs[1].name == "pswa");
  REQUIRE(find_reg(regs, "r15") != nullptr);
  // gdb/features/s390x-core64.xml order: r15, the stack pointer, is 0x11.
  CHECK(find_reg(regs, "r15")->regnum == 0x11);

  CHECK(one("$qTStatus#49").empty());  // no tracepoints (rr: T0 invites more questions)

  // `?`: T05 with the thread and expedited pswm, pswa and r15.
  const StopInfo stop = parse_stop(one("$?#3f"));
  CHECK(stop.signal == 5);
  CHECK(stop.get("thread") == "1");
  CHECK(stop.get("0") == hex(be_bytes(cpu0->psw.mask, 8)));
  CHECK(stop.get("1") == hex(be_bytes(demo::kernel_text_va + 0x100, 8)));
  CHECK(stop.get("11") == hex(be_bytes(demo::kernel_data_va + 0x8000, 8)));

  // GDB 13 prefers qXfer:threads:read when it is advertised.
  const std::string threads = one("$qXfer:threads:read::0,1000#92");
  REQUIRE(threads.starts_with("l"));
  const std::string threads_doc = threads.substr(1);
  CHECK(xml_problem(threads_doc) == "");
  const auto thread_tags = xml_tags(threads_doc, "thread");
  REQUIRE(thread_tags.size() == demo::cpu_count);
  CHECK(xml_attribute(thread_tags[0], "id") == "1");
  CHECK(xml_attribute(thread_tags[1], "id") == "2");

  CHECK(one("$qAttached#8f") == "1");  // attached: GDB detaches rather than kills on quit
  CHECK(one("$Hc-1#09") == "OK");
  CHECK(one("$m10000000100,2#dd") == "0000");  // GDB reads at the pc

  // What an older GDB or another client asks at this point.
  CHECK(one(frame("qfThreadInfo")) == "m1,2");  // the stopped vCPU first
  CHECK(one(frame("qsThreadInfo")) == "l");
  CHECK(one(frame("qC")) == "QC1");
  CHECK(one(frame("qOffsets")).empty());  // fixed-address kernel: no relocation
  const std::string g = one(frame("g"));
  CHECK(g.size() == 2 * register_bytes(regs));
  CHECK(g.substr(0, 16) == hex(be_bytes(cpu0->psw.mask, 8)));
  CHECK(g.substr(16, 16) == hex(be_bytes(cpu0->psw.addr, 8)));
  const std::string banner = unhex(one(frame("m" + hex_number(demo::linux_banner_va) + ",d")));
  CHECK(banner == "Linux version");
  CHECK(one(frame("qSymbol::")) == "OK");  // no symbols needed

  CHECK(one("$D#44") == "OK");
  CHECK(c.session().finished());
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: GDB's trailing + after QStartNoAckMode is tolerated") {
  CHECK(c.send_raw("+").empty());
  CHECK(c.request("Hg0") == "OK");
  // Stray acks between frames in no-ack mode: ignored, no acks sent back.
  const auto items = c.send_raw("++" + frame("qC") + "+");
  REQUIRE(items.size() == 1);
  CHECK(items[0].payload == "QC1");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: target.xml reassembles the same in any window size") {
  const std::string prefix = "qXfer:features:read:target.xml:";
  const std::string whole = read_xfer(c, prefix, 0xffb);  // the window in the brief
  CHECK(xml_problem(whole) == "");
  for (std::uint64_t window : {0x1ull, 0x7ull, 0x100ull, 0x1000ull, 0x1fffbull, 0x100000ull}) {
    CAPTURE(window);
    if (window == 1) {
      // One byte at a time is slow but must work; check only the first 300 bytes.
      std::string part;
      for (std::uint64_t off = 0; off < 300; ++off) {
        const std::string r = c.request(prefix + hex_number(off) + ",1");
        REQUIRE(r.size() == 2);
        CHECK(r[0] == 'm');
        part += r[1];
      }
      CHECK(part == whole.substr(0, 300));
      continue;
    }
    CHECK(read_xfer(c, prefix, window) == whole);
  }
  // At the end exactly: `l` alone. Past the end: an error. Zero length mid-document: `m`.
  CHECK(c.request(prefix + hex_number(whole.size()) + ",100") == "l");
  CHECK(is_error(c.request(prefix + hex_number(whole.size() + 1) + ",100")));
  CHECK(c.request(prefix + "0,0") == "m");
  // Unknown annex: an error (rr: E01); unknown object or operation: empty (the manual).
  CHECK(is_error(c.request("qXfer:features:read:s390-core64.xml:0,1000")));
  CHECK(c.request("qXfer:memory-map:read::0,1000").empty());
  CHECK(c.request("qXfer:libraries:read::0,1000").empty());
  CHECK(c.request("qXfer:features:write:target.xml:0:abc").empty());
}

TEST_CASE("conversation: the connect sequence also works without QStartNoAckMode") {
  auto guest = demo::make_guest();
  Conversation c(*guest);
  c.negotiate("", /*no_ack=*/false);
  CHECK(c.ack_mode());
  CHECK(c.request("vMustReplyEmpty").empty());
  CHECK(c.request("Hg0") == "OK");
  CHECK(read_xfer(c, "qXfer:features:read:target.xml:", 0xffb).ends_with("</target>\n"));
  CHECK(c.request("qTStatus").empty());
  CHECK(parse_stop(c.request("?")).signal == 5);
  CHECK(c.request("qfThreadInfo") == "m1,2");
  CHECK(c.request("qsThreadInfo") == "l");
  CHECK(c.request("qAttached") == "1");
  CHECK(c.request("qAttached:1") == "1");
  CHECK(c.request("Hc-1") == "OK");
  CHECK(c.request("qC") == "QC1");
  CHECK(c.request("qOffsets").empty());
  CHECK(c.request("g").size() % 2 == 0);
  CHECK(c.request("qSymbol::") == "OK");
  CHECK(c.request("D") == "OK");
}

TEST_CASE("conversation: each qSupported renegotiates from scratch") {
  auto guest = demo::make_guest();
  Conversation c(*guest);
  c.negotiate(";error-message+", /*no_ack=*/false);
  // error-message+ negotiated: text errors allowed.
  CHECK(c.request("Hg3").starts_with("E."));
  // A new GDB on the same connection (no error-message this time): back to Exx.
  CHECK_FALSE(c.request(std::string("qSupported:") + std::string(kGdb13Features)).empty());
  CHECK(is_errno_reply(c.request("Hg3")));
  // A bare qSupported (no features) works too.
  CHECK(c.request("qSupported").find("PacketSize=") != std::string::npos);
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: LLDB's connect probes") {
  const std::string host = c.request("qHostInfo");
  CHECK(host.find("triple:" + hex("s390x-unknown-linux-gnu") + ";") != std::string::npos);
  CHECK(host.find("endian:big;") != std::string::npos);
  CHECK(host.find("ptrsize:8;") != std::string::npos);
  CHECK(c.request("qProcessInfo").empty());
  CHECK(c.request("QListThreadsInStopReply") == "OK");
  // The thread suffix: registers of any vCPU without a preceding Hg.
  CHECK(c.request("QThreadSuffixSupported") == "OK");
  REQUIRE(c.request("Hg2") == "OK");
  const std::string pswa_cpu1 = c.request("p1");
  REQUIRE(c.request("Hg1") == "OK");
  CHECK(c.request("p1;thread:2;") == pswa_cpu1);
  CHECK(c.request("p1;thread:2;") != c.request("p1"));  // pswa of cpu 1 vs cpu 0
  CHECK(c.request("g;thread:2;").size() == c.request("g").size());
  CHECK(c.request("p1;thread:9;").starts_with("E"));
  // QEnableErrorStrings: from then on an error carries its text, as `Exx;<hex>`.
  CHECK(c.request("p1;thread:9;").size() == 3);
  CHECK(c.request("QEnableErrorStrings") == "OK");
  const std::string err = c.request("p1;thread:9;");
  REQUIRE(err.size() > 4);
  CHECK(err[3] == ';');
  CHECK(unhex(err.substr(4)) == "no such thread");
  // qThreadStopInfo: a stop reply for that thread.
  const std::string stop2 = c.request("qThreadStopInfo2");
  CAPTURE(stop2);
  CHECK(stop2.starts_with("T05"));
  CHECK(stop2.find(";thread:2;") != std::string::npos);
  CHECK(c.request("qThreadStopInfo9").starts_with("E"));
  // Probes LLDB sends that we do not implement: every one must be the empty packet.
  for (const char* probe : {"qGDBServerVersion", "qRegisterInfo0", "jThreadsInfo",
                            "qMemoryRegionInfo:0", "qWatchpointSupportInfo:",
                            "qVAttachOrWaitSupported", "QSetSTDIN:2f6465762f6e756c6c", "_M1000,rwx", "qShlibInfoAddr",
                            "qfProcessInfo", "jGetLoadedDynamicLibrariesInfos:{}"}) {
    CAPTURE(probe);
    CHECK(c.request(escape(probe)).empty());
  }
  // LLDB's x probe: answered `b` (an old LLDB then falls back to m;
  // lldb/docs/resources/lldbgdbremote.md).
  CHECK(c.request("x0,0") == "b");
}

// GDB manual, Remote Protocol appendix (QStartNoAckMode): acks cannot be turned back on;
// a new connection starts in ack mode again.
// GDB sends qSupported once per connection, but another client (or a GDB reconnecting
// through a proxy that keeps the socket) may send it again after QStartNoAckMode.
TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: no-ack mode survives a later qSupported") {
  REQUIRE_FALSE(c.ack_mode());
  // Still no acks: the client stopped expecting them.
  auto items = c.send_raw(frame(std::string("qSupported:") + std::string(kGdb13Features)));
  CHECK(count_kind(items, WireItem::Kind::ack) == 0);
  CHECK(packets_of(items).size() == 1);
  items = c.send_raw(frame("qC"));
  CHECK(count_kind(items, WireItem::Kind::ack) == 0);
  REQUIRE(packets_of(items).size() == 1);
  CHECK(packets_of(items)[0] == "QC1");
}
