// Packet conversations, part 2: memory packets against the demo guest (cpu 0's view is
// the kernel's home space: text DAT-protected up to demo::kernel_hole_va, an invalid page
// there; 0..16 MiB identity-mapped and writable, 16 MiB unmapped).
// Partial reads, zero lengths, x/m equivalence, PacketSize clamping, wrap-around, writes
// that fault part-way, X's probe and malformed writes (read-only: test_session_read_only.cpp).
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "backends/emulated/demo_guest.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

constexpr std::uint64_t kIdentityEnd = demo::identity_map_size;  // first unmapped home VA
constexpr std::uint64_t kScratch = demo::kernel_data_va + 0x1000;  // writable, ours to scribble on

std::string m_packet(std::uint64_t addr, std::uint64_t len) { return "m" + hex_number(addr) + "," + hex_number(len); }
std::string x_packet(std::uint64_t addr, std::uint64_t len) { return "x" + hex_number(addr) + "," + hex_number(len); }
std::string M_packet(std::uint64_t addr, std::string_view bytes) {
  return "M" + hex_number(addr) + "," + hex_number(bytes.size()) + ":" + hex(bytes);
}
std::string X_packet(std::uint64_t addr, std::string_view bytes) {
  return "X" + hex_number(addr) + "," + hex_number(bytes.size()) + ":" + escape(bytes);
}

// `m` and decode; requires success.
std::string read_m(Conversation& c, std::uint64_t addr, std::uint64_t len) {
  const std::string r = c.request(m_packet(addr, len));
  INFO("m reply: ", r.substr(0, 40));
  REQUIRE_FALSE(is_error(r));
  REQUIRE_FALSE(r.empty());
  return unhex(r);
}

// `x` and strip the `b`; requires success.
std::string read_x(Conversation& c, std::uint64_t addr, std::uint64_t len) {
  const std::string r = c.request(x_packet(addr, len));
  INFO("x reply: ", r.substr(0, 40));
  REQUIRE_FALSE(is_error(r));
  REQUIRE(r.starts_with("b"));
  return r.substr(1);
}

// Every byte value, and the four the binary encoding must escape, several times.
std::string awkward_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  s += "$#}*}}}**##$$\x03\x7d\x5d";
  for (int i = 255; i >= 0; --i) s += static_cast<char>(i);
  return s;
}

}  // namespace

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: a read across the kernel hole returns exactly the readable prefix") {
  const std::uint64_t hole = demo::kernel_hole_va;

  const std::string before = read_m(c, hole - 0x10, 0x10);
  CHECK(before.size() == 0x10);
  CHECK(read_m(c, hole - 0x10, 0x20) == before);
  CHECK(read_x(c, hole - 0x10, 0x20) == before);
  CHECK(read_m(c, hole - 1, 2).size() == 1);
  // Page-sized and multi-page requests stop at the same place.
  CHECK(read_m(c, hole - 0x1000, 0x2000).size() == 0x1000);
  CHECK(read_x(c, hole - 0x3000, 0x8000).size() == 0x3000);
  // The whole kernel text (one op-limit chunk) and a bit more: the text, nothing else.
  CHECK(read_x(c, demo::kernel_text_va, demo::kernel_text_size + 0x100).size() == demo::kernel_text_size);
  CHECK(read_m(c, demo::kernel_text_va, demo::kernel_text_size + 0x100).size() == demo::kernel_text_size);
  // Nothing readable: an error, never a successful empty reply.
  for (const std::string& p : {m_packet(hole, 1), m_packet(hole, 0x100), x_packet(hole, 1), x_packet(hole + 0x800, 4)}) {
    CAPTURE(p);
    const std::string r = c.request(p);
    CHECK(is_errno_reply(r));  // m: no E.text without error-message+
    CHECK(r == "E0e");         // EFAULT: inaccessible (a translation exception)
  }
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: zero-length m is OK, zero-length x is b") {
  CHECK(c.request("m600000,0") == "OK");
  CHECK(c.request("x600000,0") == "b");
  // Even where nothing is readable: there is nothing to read.
  CHECK(c.request(m_packet(demo::kernel_hole_va, 0)) == "OK");
  CHECK(c.request(x_packet(demo::kernel_hole_va, 0)) == "b");
  // LLDB's form with 0x prefixes.
  CHECK(c.request("x0x600000,0x0") == "b");
  CHECK(c.request("x0x600000,0x4") == "b" + read_m(c, 0x600000, 4));
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: x and m return the same bytes on many ranges") {
  // Bytes that need escaping in x replies, in a writable page.
  const std::string awkward = awkward_bytes();
  REQUIRE(c.request(M_packet(kScratch, awkward)) == "OK");

  struct Region {
    std::uint64_t start;
    std::uint64_t size;
  };
  const Region regions[] = {
      {kScratch - 0x100, 0x1000},                       // around the awkward bytes
      {demo::kernel_data_va, 0x100},                    // the data string
      {demo::linux_banner_va - 0x40, 0x200},            // protected text
      {demo::kernel_hole_va - 0x1800, 0x2000},          // up to and into the hole
      {0x0, 0x3000},                                    // page 0 and the prefix pages
      {kIdentityEnd - 0x1000, 0x2000},                  // the end of the identity map
      {demo::segment_frame_va - 0x800, 0x1000},         // an unmapped page, then a 1 MiB frame
      {demo::region3_frame_string_va - 0x80, 0x100},    // in the 2 GiB frame
  };
  std::mt19937_64 rng(0x5390b);
  int both_ok = 0;
  int both_failed = 0;
  for (int i = 0; i < 300; ++i) {
    const Region& r = regions[i % std::size(regions)];
    const std::uint64_t addr = r.start + rng() % r.size;
    const std::uint64_t len = 1 + rng() % 0x1800;
    CAPTURE(addr);
    CAPTURE(len);
    const std::string m = c.request(m_packet(addr, len));
    const std::string x = c.request(x_packet(addr, len));
    if (is_error(m)) {
      CHECK(x == m);  // the same error
      ++both_failed;
      continue;
    }
    REQUIRE(x.starts_with("b"));
    const std::string bytes = unhex(m);
    CHECK(x.substr(1) == bytes);
    CHECK(bytes.size() <= len);
    CHECK_FALSE(bytes.empty());
    ++both_ok;
  }
  CHECK(both_ok > 100);
  CHECK(both_failed > 10);
  // The awkward bytes survive both encodings.
  CHECK(read_x(c, kScratch, awkward.size()) == awkward);
  CHECK(read_m(c, kScratch, awkward.size()) == awkward);
}

TEST_CASE("conversation: reads longer than PacketSize/2 get a short (prefix) reply") {
  auto guest = demo::make_guest();
  SUBCASE("default PacketSize") {
    Conversation c(*guest);
    c.negotiate();
    const std::string whole = read_m(c, 0x600000, kPacketSize / 2);
    REQUIRE(whole.size() == kPacketSize / 2);
    CHECK(read_m(c, 0x600000, kPacketSize) == whole);
    CHECK(read_m(c, 0x600000, 0xffffffff) == whole);
    const std::string x = read_x(c, 0x600000, 0xffffffff);
    CHECK(x.size() <= kPacketSize);
    CHECK(x.size() >= kPacketSize / 2);
    CHECK(x.substr(0, whole.size()) == whole);
  }
  SUBCASE("small PacketSize") {
    SessionOptions o;
    o.packet_size = 0x400;
    Conversation c(*guest, o);
    CHECK(c.negotiate().find("PacketSize=400") != std::string::npos);
    const std::string m = c.request(m_packet(0x600000, 0x1000));
    CHECK(m.size() <= 0x400);
    CHECK(unhex(m).size() == 0x200);
    const std::string x = read_x(c, 0x600000, 0x1000);
    CHECK(x.size() <= 0x400);
    CHECK(x.size() >= 0x200);
    CHECK(x.substr(0, 0x200) == unhex(m));
  }
}

// GDB sizes its buffer from PacketSize: a binary reply must fit once escaped, even when
// every byte needs escaping (0x7d, `}`), which doubles it.
TEST_CASE("conversation: a binary x reply fits PacketSize once escaped") {
  auto guest = demo::make_guest();
  SessionOptions o;
  o.packet_size = 0x400;
  Conversation c(*guest, o);
  c.negotiate();
  for (std::uint64_t off = 0; off < 0x800; off += 0x100)
    REQUIRE(c.request(M_packet(kScratch + off, std::string(0x100, '}'))) == "OK");
  for (std::uint64_t len : {0x3ffull, 0x400ull, 0x1000ull}) {
    CAPTURE(len);
    const std::string r = c.request(x_packet(kScratch, len));
    REQUIRE(r.starts_with("b"));
    CHECK(escape(r).size() <= 0x400);     // what goes on the wire between `$` and `#`
    CHECK(r.size() - 1 == (0x400 - 1) / 2);  // as many escaped bytes as fit
    CHECK(r.substr(1) == std::string(r.size() - 1, '}'));
  }
  // Plain data still fills the packet: PacketSize - 1 bytes after the `b`.
  const std::string plain = c.request(x_packet(0x600000 + 0x10000, 0x1000));
  CHECK(escape(plain).size() <= 0x400);
}

TEST_CASE("conversation: a range that wraps around the address space is an error") {
  // (x1,ffffffffffffffff ends exactly at 2^64: not a wrap, see below.)
  auto guest = demo::make_guest();
  Conversation c(*guest);
  c.negotiate();
  for (const std::string& p : {m_packet(0xffffffffffffff00ull, 0x101), x_packet(0xffffffffffffff00ull, 0x101),
                               m_packet(0xffffffffffffffffull, 2), x_packet(2, 0xffffffffffffffffull),
                               M_packet(0xffffffffffffffffull, "ab"), X_packet(0xfffffffffffffffeull, "abc")}) {
    CAPTURE(p);
    CHECK(c.request(p) == "E22");  // ERANGE
  }
  // Numbers wider than 64 bits are malformed, not wrapped.
  CHECK(c.request("m10000000000000000,4") == "E16");
  CHECK(c.request("x0,10000000000000000") == "E16");
}

// [addr, addr + len) may end exactly at 2^64 without wrapping: a read of the last bytes
// of the address space. GDB sends such a read for `x/4xb 0xfffffffffffffffc`.
TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: a range ending exactly at 2^64 is not a wrap") {
  // Nothing is mapped there: the honest answer is EFAULT (0e), not ERANGE (22).
  CHECK(c.request(m_packet(0xfffffffffffffffcull, 4)) == "E0e");
  CHECK(c.request(x_packet(0xffffffffffffff00ull, 0x100)) == "E0e");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: a write across a faulting page writes nothing") {
  // The last writable page of the identity map, then an unmapped page.
  REQUIRE(c.request(m_packet(kIdentityEnd, 4)) == "E0e");
  const std::uint64_t addr = kIdentityEnd - 4;
  REQUIRE(c.request(M_packet(addr, "\xa1\xb2\xc3\xd4")) == "OK");
  REQUIRE(read_m(c, addr, 4) == "\xa1\xb2\xc3\xd4");

  CHECK(is_errno_reply(c.request(M_packet(addr, "12345678"))));
  CHECK(read_m(c, addr, 4) == "\xa1\xb2\xc3\xd4");
  CHECK(is_errno_reply(c.request(X_packet(addr, "$#}*5678"))));
  CHECK(read_m(c, addr, 4) == "\xa1\xb2\xc3\xd4");
  // Many pages, faulting only at the end: still nothing written at the start.
  const std::string big(0x3004, 'z');
  CHECK(is_errno_reply(c.request(X_packet(kIdentityEnd - 0x3000, big))));
  CHECK(read_m(c, kIdentityEnd - 0x3000, 4) != "zzzz");

  // DAT-protected kernel text: a protection exception (EACCES), nothing written.
  const std::string text = read_m(c, demo::linux_banner_va, 16);
  CHECK(c.request(M_packet(demo::linux_banner_va, "overwritten text")) == "E0d");
  CHECK(read_m(c, demo::linux_banner_va, 16) == text);
  // Low-address protection (CR0 LAP) on logical 0..511: refused, nothing written.
  const std::string low = read_m(c, 0x100, 4);
  CHECK(is_errno_reply(c.request(M_packet(0x100, "ABCD"))));
  CHECK(read_m(c, 0x100, 4) == low);
  // With error-message+ the reason is given as text.
  Conversation t(*guest);
  t.negotiate(";error-message+");
  const std::string text_error = t.request(M_packet(addr, "12345678"));
  CHECK(text_error.starts_with("E."));
  CHECK(text_error.size() > 10);
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: writes that succeed, in hex and binary") {
  const std::string awkward = awkward_bytes();
  CHECK(c.request(X_packet(kScratch, awkward)) == "OK");
  CHECK(read_m(c, kScratch, awkward.size()) == awkward);
  CHECK(c.request(M_packet(kScratch + 1, std::string("\x00\x01", 2))) == "OK");
  CHECK(hex(read_x(c, kScratch, 4)) == "00000103");
  // GDB's own escaping escapes the four bytes; any other escaped byte must decode too
  // (unescape any `}x` pair, as GDB's own decoder does).
  CHECK(c.request("X" + hex_number(kScratch) + ",2:}\x61}\x62") == "OK");
  CHECK(read_m(c, kScratch, 2) == "AB");
  // A write spanning op-limit chunks.
  const std::string big(0x11000, 'q');
  CHECK(c.request(X_packet(kScratch, big)) == "OK");
  CHECK(read_x(c, kScratch, big.size()) == big);
  // Zero-length writes: OK (rr: GDB sends them at odd times).
  CHECK(c.request("M600000,0:") == "OK");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: X addr,0: is GDB's binary-download probe") {
  CHECK(c.request("X600000,0:") == "OK");
  // GDB probes at the address it is about to write, mapped or not.
  CHECK(c.request(X_packet(demo::kernel_hole_va, "")) == "OK");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: malformed writes get EINVAL and change nothing") {
  const std::string before = read_m(c, kScratch, 4);
  for (const std::string& p : {
           "M" + hex_number(kScratch) + ",4:aabb",      // fewer bytes than the length
           "M" + hex_number(kScratch) + ",2:aabbcc",    // more
           "M" + hex_number(kScratch) + ",2:aab",       // odd digits
           "M" + hex_number(kScratch) + ",2:zzzz",      // not hex
           "M" + hex_number(kScratch) + ",2",           // no data
           "M" + hex_number(kScratch) + ":aabb",        // no length
           "X" + hex_number(kScratch) + ",4:abc",       // binary: short
           "X" + hex_number(kScratch) + ",2:a}",        // lone escape at the end
           std::string("Mzz,2:aabb"),                   // bad address
       }) {
    CAPTURE(p);
    CHECK(c.request(p) == "E16");
    CHECK(read_m(c, kScratch, 4) == before);
  }
}

