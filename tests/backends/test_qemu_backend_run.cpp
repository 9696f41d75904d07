// QemuBackend (backends/qemu/qemu_backend.h) end to end against a fake QEMU 7.2 s390x
// gdbstub (fake_qemu.h, qemu_fixture.h), part 2: run control passed through (c/s/vCont,
// Ctrl-C, Z packets) with QEMU's stop replies turned into stop events, the page cache
// dropped when the guest runs, QEMU exiting, going away and coming back on the same socket.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "tests/backends/qemu_fixture.h"

using namespace s390b;
using namespace s390b::test;

TEST_SUITE("concurrency") {

TEST_CASE("qemu backend: the page cache is dropped when the guest runs") {
  QemuFixture f;
  f.fake->poke(0x9000, "old!");
  CHECK(read_absolute(*f.backend, 0x9000, 4) == "old!");
  REQUIRE(f.backend->resume({0, 1}));
  REQUIRE(f.fake->wait_running());
  CHECK(f.fake->stub().received_starting("vCont;c").size() == 1);
  // While it runs, memory and registers are busy, and the reason says so.
  MemopResult busy;
  read_absolute(*f.backend, 0x9000, 4, &busy);
  CHECK(busy.status == MemopResult::Status::host_error);
  CHECK(busy.error == HostError::ebusy);
  CHECK(f.backend->cpu_state(0).error() == HostError::ebusy);
  CHECK(f.backend->unavailable_reason() == std::optional<std::string>("the guest is running"));
  CHECK_FALSE(f.backend->table_walks_allowed());
  f.fake->poke(0x9000, "new!");
  f.fake->set_reg(0, "r2", 0x2222);
  auto f2 = f.wait_async();
  f.fake->stop("T05thread:01;");
  auto ev = f.get(f2);
  REQUIRE(ev);
  CHECK(ev->reason == StopEvent::Reason::halted);
  CHECK(read_absolute(*f.backend, 0x9000, 4) == "new!");
  CHECK(f.backend->cpu_state(0)->gprs[2] == 0x2222);
  CHECK_FALSE(f.backend->unavailable_reason());
  CHECK(f.backend->table_walks_allowed());
}

TEST_CASE("qemu backend: stop replies become stop events") {
  QemuFixture f;
  auto* bp = f.backend->breakpoints();
  REQUIRE(bp);
  SUBCASE("a software breakpoint at the PSW address") {
    REQUIRE(bp->insert(Breakpoints::Type::software, kPswa1, 2));
    CHECK(f.count(fmt::format("Z0,{:x},2", kPswa1)) == 1);
    auto ev = f.run_until("T05thread:02;");
    REQUIRE(ev);
    CHECK(ev->cpu == 1);
    CHECK(ev->reason == StopEvent::Reason::breakpoint);
    CHECK(ev->breakpoint == StopEvent::Breakpoint::software);
    CHECK(ev->signal == 5);
  }
  SUBCASE("a hardware breakpoint") {
    REQUIRE(bp->insert(Breakpoints::Type::hardware, kPswa1, 2));
    auto ev = f.run_until("T05thread:02;");
    REQUIRE(ev);
    CHECK(ev->reason == StopEvent::Reason::breakpoint);
    CHECK(ev->breakpoint == StopEvent::Breakpoint::hardware);
  }
  SUBCASE("a breakpoint elsewhere: a plain stop") {
    REQUIRE(bp->insert(Breakpoints::Type::software, kPswa1 + 0x100, 2));
    auto ev = f.run_until("T05thread:02;");
    REQUIRE(ev);
    CHECK(ev->reason == StopEvent::Reason::halted);
    // Removed again: z with the same arguments.
    REQUIRE(bp->remove(Breakpoints::Type::software, kPswa1 + 0x100, 2));
    CHECK(f.count(fmt::format("z0,{:x},2", kPswa1 + 0x100)) == 1);
  }
  SUBCASE("a write watchpoint with its address") {
    REQUIRE(bp->insert(Breakpoints::Type::write_watch, 0x1000, 8));
    auto ev = f.run_until("T05thread:02;watch:1000;");
    REQUIRE(ev);
    CHECK(ev->cpu == 1);
    CHECK(ev->reason == StopEvent::Reason::watchpoint);
    CHECK(ev->watch == StopEvent::Watch::write);
    CHECK(ev->address == 0x1000);
  }
  SUBCASE("read and access watchpoints") {
    // The fake offers no read watchpoints (QEMU under KVM): the type is not supported.
    CHECK(bp->insert(Breakpoints::Type::read_watch, 0x1000, 8).error() == HostError::enotsup);
    REQUIRE(bp->insert(Breakpoints::Type::access_watch, 0x2000, 8));
    auto ev = f.run_until("T05thread:01;awatch:2000;");
    REQUIRE(ev);
    CHECK(ev->cpu == 0);
    CHECK(ev->watch == StopEvent::Watch::access);
    CHECK(ev->address == 0x2000);
    ev = f.run_until("T05thread:02;rwatch:3000;");
    REQUIRE(ev);
    CHECK(ev->watch == StopEvent::Watch::read);
    CHECK(ev->address == 0x3000);
  }
  SUBCASE("an interrupt") {
    REQUIRE(f.backend->resume({0, 1}));
    REQUIRE(f.fake->wait_running());
    auto w = f.wait_async();
    REQUIRE(f.backend->interrupt());
    auto ev = f.get(w);
    REQUIRE(ev);
    CHECK(ev->reason == StopEvent::Reason::interrupted);
    CHECK(ev->cpu == 0);
    CHECK(ev->signal == 2);
    CHECK(f.fake->stub().snapshot().interrupts == 1);
    // Stopped: another interrupt sends nothing.
    REQUIRE(f.backend->interrupt());
    CHECK(f.fake->stub().snapshot().interrupts == 1);
  }
  SUBCASE("a step of one vCPU") {
    REQUIRE(f.backend->step(1));
    auto w = f.wait_async();
    auto ev = f.get(w);
    REQUIRE(ev);
    CHECK(f.count("vCont;s:02") == 1);
    CHECK(ev->reason == StopEvent::Reason::step);
    CHECK(ev->cpu == 1);
    CHECK(f.backend->step(2).error() == HostError::einval);
  }
  SUBCASE("another signal is kept") {
    auto ev = f.run_until("T0bthread:01;");
    REQUIRE(ev);
    CHECK(ev->reason == StopEvent::Reason::halted);
    CHECK(ev->signal == 11);
  }
  SUBCASE("console output while running is logged, not a stop") {
    REQUIRE(f.backend->resume({0, 1}));
    REQUIRE(f.fake->wait_running());
    auto w = f.wait_async();
    f.fake->stub().send_packet(console_packet("guest says hi\n"));
    f.fake->stop("T05thread:01;");
    auto ev = f.get(w);
    REQUIRE(ev);
    std::lock_guard lk(f.log_mutex);
    CHECK(std::any_of(f.log_lines.begin(), f.log_lines.end(), [](auto& l) { return contains(l, "guest says hi"); }));
  }
  CHECK(f.fake->stub().problems().empty());
}

TEST_CASE("qemu backend: QEMU exiting is the end of the target") {
  QemuFixture f;
  auto ev = f.run_until("W00");
  REQUIRE(ev);
  CHECK(ev->reason == StopEvent::Reason::exited);
  CHECK(ev->signal == 0);
  auto why = f.backend->unavailable_reason();
  REQUIRE(why);
  CHECK(contains(*why, "QEMU exited"));
  CHECK(contains(*why, f.socket));
  MemopResult r;
  read_absolute(*f.backend, 0x9000, 4, &r);
  CHECK(r.error == HostError::eio);
  CHECK(f.backend->cpu_state(0).error() == HostError::eio);
  CHECK(f.backend->resume({0}).error() == HostError::eio);
}

TEST_CASE("qemu backend: QEMU going away fails every operation with EIO; debugger_attached reconnects") {
  QemuFixture f;
  f.fake->poke(0x100, "first qemu");
  SUBCASE("while stopped") {
    f.fake->stub().close_connection();
    REQUIRE(f.fake->stub().wait_for([](const auto& s) { return s.closed == 1; }));
    MemopResult r;
    read_absolute(*f.backend, 0x100, 10, &r);  // not cached yet: asks QEMU
    CHECK(r.status == MemopResult::Status::host_error);
    CHECK(r.error == HostError::eio);
  }
  SUBCASE("while running") {
    REQUIRE(f.backend->resume({0, 1}));
    REQUIRE(f.fake->wait_running());
    auto w = f.wait_async();
    f.fake->stub().close_connection();
    auto ev = f.get(w);
    REQUIRE_FALSE(ev);
    CHECK(ev.error() == HostError::eio);
  }
  auto why = f.backend->unavailable_reason();
  REQUIRE(why);
  // "closed the connection" or "Broken pipe", depending on who notices first.
  CHECK(contains(*why, f.socket));
  CHECK(f.backend->cpu_state(0).error() == HostError::eio);
  MemopResult r;
  read_absolute(*f.backend, 0x100, 10, &r);
  CHECK(r.error == HostError::eio);
  CHECK(read_logical(*f.backend, 0, 0x100, 4, &r).empty());
  CHECK(r.error == HostError::eio);
  CHECK(f.backend->insert(Breakpoints::Type::software, 0x100, 2).error() == HostError::eio);
  CHECK_FALSE(f.backend->monitor_command("info status"));

  // QEMU restarted on the same socket: the next debugger finds it.
  f.start_fake();
  f.fake->poke(0x100, "second qemu");
  REQUIRE(f.backend->debugger_attached());
  CHECK_FALSE(f.backend->unavailable_reason());
  CHECK(f.backend->cpu_count() == 2);
  CHECK(read_absolute(*f.backend, 0x100, 11) == "second qemu");
  CHECK(f.backend->cpu_state(1)->psw.addr == kPswa1);
  // Nothing to reconnect when the connection is fine.
  const auto connections = f.fake->stub().snapshot().connections;
  REQUIRE(f.backend->debugger_attached());
  CHECK(f.fake->stub().snapshot().connections == connections);

  // No QEMU at all: the reason says so.
  f.fake->stub().close_connection();
  REQUIRE(f.fake->stub().wait_for([](const auto& s) { return s.closed == 1; }));
  f.fake.reset();
  CHECK(f.backend->cpu_state(0).error() == HostError::eio);
  auto again = f.backend->debugger_attached();
  REQUIRE_FALSE(again);
  INFO(again.error());
  CHECK(contains(again.error(), "cannot connect to unix:" + f.socket));
  CHECK(f.backend->unavailable_reason());
}

TEST_CASE("qemu backend: detach removes breakpoints and lets the guest run; attaching stops it again") {
  QemuFixture f;
  REQUIRE(f.backend->insert(Breakpoints::Type::software, 0x5000, 2));
  REQUIRE(f.backend->detach());
  CHECK(f.count("z0,5000,2") == 1);
  REQUIRE(f.fake->wait_running());
  CHECK(f.backend->unavailable_reason() == std::optional<std::string>("the guest is running"));
  // The next debugger: stopped with an interrupt, registers readable.
  REQUIRE(f.backend->debugger_attached());
  CHECK(f.fake->stub().snapshot().interrupts == 1);
  CHECK_FALSE(f.fake->running());
  CHECK(f.backend->cpu_state(0));
  CHECK_FALSE(f.backend->unavailable_reason());
}

TEST_CASE("qemu backend: resume_on_close restores QEMU's memory mode, then lets the guest run") {
  QemuFixture f;
  f.backend.reset();
  auto options = f.options();
  options.resume_on_close = true;
  auto b = QemuBackend::attach(options);
  REQUIRE(b);
  CHECK(read_absolute(**b, 0x100, 4).size() == 4);
  b->reset();
  REQUIRE(f.fake->wait_running());
  const auto received = f.fake->stub().received();
  REQUIRE(received.size() >= 2);
  CHECK(received[received.size() - 2] == "Qqemu.PhyMemMode:0");
  CHECK(received.back() == "vCont;c");
  CHECK(f.fake->stub().snapshot().dropped.empty());
}

// QEMU (system mode) takes any byte from its client while the guest runs as a request to
// stop it, and drops the packet (gdbstub.c, gdb_read_byte). A backend that goes while the
// guest runs -- `serve` shutting down after its last debugger detached -- must leave it
// running: nothing may be sent then.
TEST_CASE("qemu backend: going away while the guest runs sends QEMU nothing") {
  QemuFixture f;
  REQUIRE(f.backend->detach());
  REQUIRE(f.fake->wait_running());
  f.backend.reset();
  CHECK(f.fake->running());
  CHECK(f.fake->stub().snapshot().dropped.empty());
}

TEST_CASE("qemu backend: kill only when allowed; monitor commands pass through") {
  QemuFixture f;
  CHECK(f.backend->kill().error() == HostError::eperm);
  CHECK(f.count("k") == 0);
  auto status = f.backend->monitor_command("info status");
  REQUIRE(status);
  CHECK(*status == "VM status: paused\n");
  auto unknown = f.backend->monitor_command("frobnicate");
  REQUIRE(unknown);
  CHECK(contains(*unknown, "unknown command"));

  QemuFixture k;
  auto options = k.options();
  options.allow_kill = true;
  k.backend.reset();
  auto b = QemuBackend::attach(options);
  REQUIRE(b);
  REQUIRE((*b)->kill());
  CHECK(k.fake->stub().wait_for([](const auto& s) { return !s.received.empty() && s.received.back() == "k"; }));
  CHECK((*b)->unavailable_reason());
}

}  // TEST_SUITE("concurrency")
