// `--read-only` means nothing in the guest changes (backends/read_only_backend.h): every
// Backend method that can change the guest is refused by ReadOnlyBackend, and a session
// that is read-only reaches the guest only through it. The conversation case walks every
// packet and monitor command that can change state, and compares a fingerprint of the
// whole guest (storage bytes, storage keys, every vCPU's registers) before and after.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include "backends/emulated/demo_guest.h"
#include "backends/read_only_backend.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

constexpr std::uint64_t kScratch = demo::kernel_data_va + 0x1000;  // writable in the demo guest
constexpr std::string_view kErofs = "E1e";                         // EROFS, as GDB shows it

// Everything about the guest a change could touch.
std::string fingerprint(EmulatedBackend& guest) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](std::uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  std::vector<std::uint8_t> page(4096);
  for (const auto& r : guest.storage().ranges()) {
    for (std::uint64_t a = r.start; a < r.start + r.size; a += page.size()) {
      REQUIRE(guest.storage().read(a, page));
      for (std::uint8_t b : page) mix(b);
      mix(guest.storage().key(a).raw);
    }
  }
  std::string out = fmt::format("storage {:016x}", h);
  for (unsigned cpu = 0; cpu < guest.cpu_count(); ++cpu) {
    const CpuState s = *guest.cpu_state(cpu);
    out += fmt::format("\ncpu {} psw {:x} {:x} prefix {:x} fpc {:x} cputm {:x} ckc {:x} todpr {:x} gprs {} acrs {} crs {} vrs",
                       cpu, s.psw.mask, s.psw.addr, s.prefix, s.fpc, s.cputm, s.ckc, s.todpr,
                       fmt::join(s.gprs, ","), fmt::join(s.acrs, ","), fmt::join(s.crs, ","));
    for (const auto& v : s.vrs) out += fmt::format(" {:x}.{:x}", v[0], v[1]);
  }
  return out;
}

Memop op(MemopKind kind, std::uint64_t addr, std::span<std::uint8_t> buf, std::uint64_t flags = 0) {
  Memop m;
  m.kind = kind;
  m.gaddr = addr;
  m.size = static_cast<std::uint32_t>(buf.size());
  m.buf = buf;
  m.flags = flags;
  return m;
}

}  // namespace

TEST_CASE("read-only backend: every way to change the guest is refused, reads are not") {
  auto guest = demo::make_guest();
  ReadOnlyBackend ro(*guest);
  const std::string before = fingerprint(*guest);
  std::vector<std::uint8_t> buf(16, 0x5a);
  std::vector<std::uint8_t> old(8, 0);
  auto refused = [](const MemopResult& r) { return r.status == MemopResult::Status::host_error && r.error == HostError::erofs; };

  CHECK(ro.read_only());
  CHECK_FALSE(guest->read_only());
  CHECK(refused(ro.vcpu_memop(0, op(MemopKind::logical_write, kScratch, buf))));
  CHECK(refused(ro.vm_memop(op(MemopKind::absolute_write, 0x600000, buf))));
  CHECK(refused(ro.vcpu_memop(0, op(MemopKind::sida_write, 0, buf))));
  Memop cas = op(MemopKind::absolute_cmpxchg, 0x600000, std::span(buf).first(8));
  cas.old = old;
  CHECK(refused(ro.vm_memop(cas)));
  // Injection rewrites the PSW and the lowcore even when the operation is a read.
  CHECK(refused(ro.vcpu_memop(0, op(MemopKind::logical_read, 0x40000000, buf, memop_flag::inject_exception))));
  CHECK(refused(ro.vcpu_memop(0, op(MemopKind::logical_read, 0x40000000, buf,
                                    memop_flag::inject_exception | memop_flag::check_only))));
  CHECK(refused(ro.vcpu_memop(0, op(MemopKind::logical_write, kScratch, buf,
                                    memop_flag::inject_exception | memop_flag::check_only))));
  CHECK(ro.set_cpu_state(0, *guest->cpu_state(0)).error() == HostError::erofs);
  REQUIRE(ro.storage_keys() != nullptr);
  CHECK(ro.storage_keys()->set_key(0x600000, StorageKey{0x10}).error() == HostError::erofs);
  CHECK(ro.breakpoints() == nullptr);
  CHECK(fingerprint(*guest) == before);

  // What changes nothing still works: reads, check-only writes, keys, registers.
  CHECK(ro.vcpu_memop(0, op(MemopKind::logical_read, kScratch, buf)).ok());
  CHECK(ro.vcpu_memop(0, op(MemopKind::logical_write, kScratch, buf, memop_flag::check_only)).ok());
  CHECK(ro.vm_memop(op(MemopKind::absolute_read, 0x600000, buf)).ok());
  CHECK(ro.storage_keys()->get_key(demo::fetch_protected_abs)->raw == guest->get_key(demo::fetch_protected_abs)->raw);
  CHECK(ro.cpu_state(1)->psw == guest->cpu_state(1)->psw);
  CHECK(fingerprint(*guest) == before);
}

TEST_CASE("read-only backend: a running guest may be stopped, not started") {
  RunnableGuest runnable(demo::make_guest());
  ReadOnlyBackend ro(runnable);
  RunControl* rc = ro.run_control();
  REQUIRE(rc != nullptr);
  CHECK(rc->resume({0, 1}).error() == HostError::erofs);
  CHECK(rc->step(0).error() == HostError::erofs);
  CHECK(runnable.resumes() == 0);
  CHECK(runnable.steps() == 0);
  CHECK(rc->interrupt().has_value());
  CHECK(runnable.interrupts() == 1);
}

TEST_CASE("conversation: a read-only server changes nothing, whatever the packet or monitor command") {
  auto inner = demo::make_guest();
  EmulatedBackend& guest = *inner;
  RunnableGuest runnable(std::move(inner));  // so c, s and vCont reach a real RunControl
  SessionOptions o;
  o.read_only = true;
  Conversation c(runnable, o);
  c.negotiate(";error-message+");
  const std::string before = fingerprint(guest);
  const std::string mem = c.request("m" + hex_number(kScratch) + ",4");
  const std::string g = c.request("g");

  // Every packet that writes: memory (hex and binary, including length 0, which a
  // writable server answers OK), all registers, one register, breakpoints of each type,
  // resume and step in each spelling.
  const std::string scratch = hex_number(kScratch);
  for (const std::string& p : {"M" + scratch + ",4:01020304", "X" + scratch + ",4:abcd", "M" + scratch + ",0:",
                               "X" + scratch + ",0:", "G" + g, "P2=" + std::string(16, '0'),
                               "P0=" + std::string(16, 'f')}) {
    CAPTURE(p.substr(0, 24));
    const std::string r = c.request(p);
    CHECK(r.starts_with("E."));
    CHECK(r.find("read-only") != std::string::npos);
  }
  for (const std::string& p : {"Z0," + scratch + ",2", "Z1," + scratch + ",2", "Z2," + scratch + ",8",
                               "Z3," + scratch + ",8", "Z4," + scratch + ",8"}) {
    CAPTURE(p);
    CHECK(c.request(p).empty());  // not offered: GDB falls back to M, which is refused
  }
  for (const std::string p : {"c", "s", "C05", "S05", "vCont;c", "vCont;s:1", "vCont;c:1", "vCont;S05:2"}) {
    CAPTURE(p);
    const std::string r = c.request(p);
    CHECK(r.starts_with("E."));
    CHECK(r.find("read-only") != std::string::npos);
    CHECK_FALSE(c.session().running());
  }
  CHECK(runnable.resumes() == 0);
  CHECK(runnable.steps() == 0);

  // Every monitor command that writes or injects.
  for (const std::string& cmd : std::vector<std::string>{
           "memop write 0x" + scratch + " --data 01020304",
           "memop write 0x" + scratch + " --data 01020304 --key 0",
           "memop abs-write 0x600000 --data 0102",
           "memop cmpxchg 0x600000 --old 0000000000000000 --data 0102030405060708",
           "memop read 0x40000000 8 --inject",               // a fault that would be injected
           "memop read 0x40000000 8 --check-only --inject",  // the check-only path too
           "memop write 0x40000000 --data 00 --check-only --inject",
           "memop read 0x" + scratch + " 8 --inject",         // even a read that would succeed
       }) {
    CAPTURE(cmd);
    const auto out = c.request_with_output("qRcmd," + hex(cmd));
    CHECK(out.console.find("read-only") != std::string::npos);
    CHECK(out.reply.starts_with("E."));
  }
  CHECK(fingerprint(guest) == before);

  // Reads, translation and check-only writes still work; registers read back unchanged.
  CHECK(c.request("m" + scratch + ",4") == mem);
  CHECK(c.request("g") == g);
  CHECK(c.request_with_output("qRcmd," + hex("memop write 0x" + scratch + " --data 0102 --check-only")).reply == "OK");
  CHECK(c.request_with_output("qRcmd," + hex("translate 0x" + scratch)).reply == "OK");
  CHECK(fingerprint(guest) == before);
}
