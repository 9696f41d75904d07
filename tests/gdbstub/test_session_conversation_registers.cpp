// Packet conversations, part 3: registers and threads. Register numbers come from the
// target.xml the session serves (as GDB gets them), values from the demo guest's state.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "backends/emulated/demo_guest.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

struct Registers {
  std::map<std::string, XmlRegister> by_name;
  std::vector<XmlRegister> all;
  std::size_t offset(const std::string& name) const {  // byte offset in `g`
    std::size_t off = 0;
    for (const auto& r : all) {
      if (r.name == name) return off;
      off += r.bits / 8;
    }
    FAIL("no register ", name);
    return off;
  }
  const XmlRegister& operator[](const std::string& name) const {
    const auto it = by_name.find(name);
    if (it == by_name.end()) FAIL("no register ", name);
    return it->second;
  }
};

Registers fetch_registers(Conversation& c) {
  Registers regs;
  regs.all = xml_registers(read_xfer(c, "qXfer:features:read:target.xml:", 0x1000));
  for (const auto& r : regs.all) regs.by_name[r.name] = r;
  return regs;
}

std::string p_packet(unsigned regnum) { return "p" + hex_number(regnum); }
std::string P_packet(unsigned regnum, std::string_view value) { return "P" + hex_number(regnum) + "=" + hex(value); }

// The expected value of each register class, from the demo guest's CpuState.
struct Sample {
  const char* name;
  std::string value;  // big-endian bytes
};
std::vector<Sample> samples(const CpuState& s) {
  return {
      {"pswm", be_bytes(s.psw.mask, 8)},
      {"pswa", be_bytes(s.psw.addr, 8)},
      {"r15", be_bytes(s.gprs[15], 8)},
      {"acr2", be_bytes(s.acrs[2], 4)},
      {"fpc", be_bytes(s.fpc, 4)},
      {"f0", be_bytes(s.vrs[0][0], 8)},
      {"v0l", be_bytes(s.vrs[0][1], 8)},
      {"v16", be_bytes(s.vrs[16][0], 8) + be_bytes(s.vrs[16][1], 8)},
      {"cr1", be_bytes(s.crs[1], 8)},
      {"prefix", be_bytes(s.prefix, 8)},
  };
}

}  // namespace

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: p reads each register class") {
  const Registers regs = fetch_registers(c);
  const auto st = guest->cpu_state(0);
  REQUIRE(st);
  for (const Sample& s : samples(*st)) {
    CAPTURE(s.name);
    const XmlRegister& r = regs[s.name];
    CHECK(r.bits / 8 == s.value.size());
    CHECK(c.request(p_packet(r.regnum)) == hex(s.value));
  }
  // Spot values from the guest's documentation.
  CHECK(c.request(p_packet(regs["acr2"].regnum)) == "00000002");  // demo::alet_user
  CHECK(c.request(p_packet(regs["prefix"].regnum)) == "0000000000020000");
  CHECK(c.request(p_packet(regs["pswa"].regnum)) == hex(be_bytes(demo::kernel_text_va + 0x100, 8)));
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: P writes each register class, p and g see it") {
  const Registers regs = fetch_registers(c);
  const auto st = guest->cpu_state(0);
  REQUIRE(st);
  std::uint8_t fill = 0x11;
  for (const Sample& s : samples(*st)) {
    CAPTURE(s.name);
    const XmlRegister& r = regs[s.name];
    std::string value(r.bits / 8, static_cast<char>(fill));
    fill = static_cast<std::uint8_t>(fill + 0x11);
    if (std::string_view(s.name) == "prefix") value = be_bytes(0x24000, 8);  // 8 KiB-aligned, 31-bit
    CHECK(c.request(P_packet(r.regnum, value)) == "OK");
    CHECK(c.request(p_packet(r.regnum)) == hex(value));
    const std::string g = unhex(c.request("g"));
    CHECK(g.substr(regs.offset(s.name), value.size()) == value);
  }
  // The backend holds the new values (not just a session cache).
  const auto after = guest->cpu_state(0);
  REQUIRE(after);
  CHECK(after->gprs[15] == 0x3333333333333333ull);
  CHECK(after->acrs[2] == 0x44444444u);
  CHECK(after->prefix == 0x24000u);
  // The stop reply expedites the written pswa.
  CHECK(parse_stop(c.request("?")).get("1") == hex(std::string(8, '\x22')));
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: P with the wrong size and p/P beyond the last register are errors") {
  const Registers regs = fetch_registers(c);
  for (const char* name : {"pswm", "r15", "acr2", "fpc", "v16", "prefix"}) {
    CAPTURE(name);
    const XmlRegister& r = regs[name];
    const std::string before = c.request(p_packet(r.regnum));
    const std::size_t size = r.bits / 8;
    CHECK(c.request(P_packet(r.regnum, std::string(size - 1, 'a'))) == "E16");
    CHECK(c.request(P_packet(r.regnum, std::string(size + 1, 'a'))) == "E16");
    CHECK(c.request("P" + hex_number(r.regnum) + "=") == "E16");
    CHECK(c.request("P" + hex_number(r.regnum) + "=abc") == "E16");  // odd digits
    CHECK(c.request(p_packet(r.regnum)) == before);
  }
  const unsigned count = static_cast<unsigned>(regs.all.size());
  CHECK(c.request(p_packet(count - 1)).size() == 2 * (regs.all.back().bits / 8));
  CHECK(c.request(p_packet(count)) == "E16");
  CHECK(c.request(p_packet(0xffffffff)) == "E16");
  CHECK(c.request("pffffffffffffffff") == "E16");
  CHECK(c.request(P_packet(count, std::string(8, 'a'))) == "E16");
  CHECK(c.request("p") == "E16");
  CHECK(c.request("pxyz") == "E16");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: G round trip") {
  const Registers regs = fetch_registers(c);
  const std::string g = c.request("g");
  CHECK(c.request("G" + g) == "OK");
  CHECK(c.request("g") == g);
  // Change r2 and cr0 in the block; only they change.
  std::string bytes = unhex(g);
  bytes.replace(regs.offset("r2"), 8, be_bytes(0x0123456789abcdefull, 8));
  bytes.replace(regs.offset("cr0"), 8, be_bytes(0xe0ull, 8));
  CHECK(c.request("G" + hex(bytes)) == "OK");
  CHECK(c.request("g") == hex(bytes));
  CHECK(c.request(p_packet(regs["r2"].regnum)) == "0123456789abcdef");
  // The wrong length: an error, nothing changed.
  CHECK(c.request("G" + hex(bytes.substr(0, bytes.size() - 1))) == "E16");
  CHECK(c.request("G" + hex(bytes) + "00") == "E16");
  CHECK(c.request("G") == "E16");
  CHECK(c.request("G" + hex(bytes).substr(1)) == "E16");  // odd digits
  CHECK(c.request("g") == hex(bytes));
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: Hg selects whose registers and memory view the packets use") {
  const Registers regs = fetch_registers(c);
  const std::string hello = hex("hello from the user process");
  const std::string user_read = "m" + hex_number(demo::user_text_va) + ",1b";

  // cpu 0 (thread 1) runs the kernel: its home space has nothing at the user text.
  CHECK(c.request(user_read) == "E0e");
  CHECK(c.request("Hg2") == "OK");
  CHECK(c.request(user_read) == hello);
  CHECK(c.request("qC") == "QC2");
  CHECK(c.request(p_packet(regs["pswa"].regnum)) == hex(be_bytes(demo::user_text_va + 0x40, 8)));
  CHECK(c.request(p_packet(regs["r15"].regnum)) == hex(be_bytes(demo::user_stack_va + 0xf00, 8)));
  CHECK(unhex(c.request("g")).substr(regs.offset("pswa"), 8) == be_bytes(demo::user_text_va + 0x40, 8));

  // A thread that does not exist: an error, and the selection is kept.
  CHECK(c.request("Hg3") == "E02");
  CHECK(c.request("Hgffffffffffffffff") == "E02");
  CHECK(c.request(user_read) == hello);
  // P on thread 2 changes cpu 1 only.
  CHECK(c.request(P_packet(regs["r3"].regnum, be_bytes(0xabcdull, 8))) == "OK");
  CHECK(guest->cpu_state(1)->gprs[3] == 0xabcdu);
  CHECK(guest->cpu_state(0)->gprs[3] == 0x1003u);
  // The multiprocess form is parsed even if not negotiated.
  CHECK(c.request("Hgp1.1") == "OK");
  CHECK(c.request(user_read) == "E0e");
  CHECK(c.request("Hgp1.2") == "OK");
  CHECK(c.request(user_read) == hello);
  // Hg0 (any thread) is what GDB sends at connect: fine, some thread is selected.
  CHECK(c.request("Hg0") == "OK");
  CHECK(c.request("Hg1") == "OK");
  CHECK(c.request(user_read) == "E0e");
  // Malformed thread ids.
  CHECK(c.request("Hgxyz") == "E16");
  CHECK(c.request("Hx1") == "E16");
  CHECK(c.request("Hc3") == "E02");
  CHECK(c.request("Hc2") == "OK");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: T, qThreadExtraInfo and qXfer:threads:read") {
  CHECK(c.request("T1") == "OK");
  CHECK(c.request("T2") == "OK");
  CHECK(c.request("T3") == "E02");
  CHECK(c.request("T0") != "OK");   // `0` is "any thread", not a thread
  CHECK(c.request("T-1") != "OK");  // `-1` is "all threads"
  CHECK(c.request("Tp1.2") == "OK");
  CHECK(c.request("T") == "E16");

  const std::string info1 = unhex(c.request("qThreadExtraInfo,1"));
  CHECK(info1.find("cpu 0") != std::string::npos);
  CHECK(info1.find("stopped") != std::string::npos);
  CHECK(info1.find("home space") != std::string::npos);
  const std::string info2 = unhex(c.request("qThreadExtraInfo,2"));
  CHECK(info2.find("cpu 1") != std::string::npos);
  CHECK(info2.find("problem state") != std::string::npos);
  CHECK(is_error(c.request("qThreadExtraInfo,3")));
  CHECK(c.request("qThreadExtraInfo,zz") == "E16");

  const std::string doc = read_xfer(c, "qXfer:threads:read::", 0x1000);
  CHECK(xml_problem(doc) == "");
  const auto threads = xml_tags(doc, "thread");
  REQUIRE(threads.size() == 2);
  CHECK(xml_attribute(threads[0], "id") == "1");
  CHECK(xml_attribute(threads[0], "core") == "0");
  CHECK(xml_attribute(threads[0], "name") == "cpu0");
  CHECK(xml_attribute(threads[1], "id") == "2");
  CHECK(xml_attribute(threads[1], "name") == "cpu1");
  CHECK(doc.find(info1) != std::string::npos);  // the same text as qThreadExtraInfo
  // Small windows reassemble to the same document.
  CHECK(read_xfer(c, "qXfer:threads:read::", 0x10) == doc);
  CHECK(is_error(c.request("qXfer:threads:read::" + hex_number(doc.size() + 1) + ",10")));
}
