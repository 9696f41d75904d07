// Packet conversations, part 7: what a pass-through target (QEMU's gdbstub behind
// QemuBackend) adds to run control. `?` and qThreadStopInfo report the last stop as it was
// (signal, swbreak/hwbreak, watch/rwatch/awatch with the address); a failed wait for a stop
// ends the inferior with a console line and `X09`; D detaches through the backend; k and
// vKill ask the backend and end the session either way; vCont? lists the backend's
// actions; a Z type the target lacks gets the empty reply; `monitor qemu CMD` reaches the
// hypervisor's monitor, except on a read-only server.
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

// The demo guest with the capabilities QemuBackend offers, each scripted by the test:
// run control (stops come through Conversation::stop), breakpoints with some types
// unsupported, and a monitor passthrough.
class PassThroughGuest final : public Backend, public RunControl, public Breakpoints, public MonitorPassthrough {
 public:
  PassThroughGuest() : inner_(demo::make_guest()) {}

  // Backend
  std::string_view name() const override { return "pass-through"; }
  unsigned cpu_count() const override { return inner_->cpu_count(); }
  std::uint32_t op_limit() const override { return inner_->op_limit(); }
  Facilities facilities() const override { return inner_->facilities(); }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override { return inner_->vcpu_memop(cpu, op); }
  MemopResult vm_memop(const Memop& op) override { return inner_->vm_memop(op); }
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_->cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& s) override {
    return inner_->set_cpu_state(cpu, s);
  }
  IpteGuard ipte_lock() override { return inner_->ipte_lock(); }
  RunControl* run_control() override { return this; }
  Breakpoints* breakpoints() override { return this; }
  MonitorPassthrough* monitor_passthrough() override { return this; }

  // RunControl
  tl::expected<void, HostError> resume(const std::vector<unsigned>&) override { return {}; }
  tl::expected<void, HostError> step(unsigned) override { return {}; }
  tl::expected<void, HostError> interrupt() override { return {}; }
  tl::expected<StopEvent, HostError> wait_for_stop() override { return tl::unexpected(HostError::eio); }
  tl::expected<void, HostError> detach() override {
    ++detaches;
    if (detach_error) return tl::unexpected(*detach_error);
    return {};
  }
  tl::expected<void, HostError> kill() override {
    ++kills;
    if (allow_kill) return {};
    return RunControl::kill();  // the default: refused
  }
  std::string vcont_actions() const override { return actions; }

  // Breakpoints
  bool supports(Type) const override { return true; }
  tl::expected<void, HostError> insert(Type type, std::uint64_t address, std::uint64_t) override {
    if (unsupported.count(type)) return tl::unexpected(HostError::enotsup);
    if (failing.count(type)) return tl::unexpected(HostError::eio);
    inserted.insert(address);
    return {};
  }
  tl::expected<void, HostError> remove(Type type, std::uint64_t address, std::uint64_t) override {
    if (unsupported.count(type)) return tl::unexpected(HostError::enotsup);
    inserted.erase(address);
    return {};
  }

  // MonitorPassthrough
  std::string_view monitor_word() const override { return "qemu"; }
  tl::expected<std::string, std::string> monitor_command(std::string_view command) override {
    commands.emplace_back(command);
    if (command == "info status") return std::string("VM status: paused\n");
    return tl::unexpected(std::string("the guest is running: stop it first"));
  }

  int detaches = 0;
  int kills = 0;
  bool allow_kill = false;
  std::optional<HostError> detach_error;
  std::string actions = ";c;C;s;S";
  std::set<Type> unsupported = {Type::read_watch};
  std::set<Type> failing;
  std::set<std::uint64_t> inserted;
  std::vector<std::string> commands;

 private:
  std::unique_ptr<EmulatedBackend> inner_;
};

struct Negotiated {
  PassThroughGuest guest;
  Conversation c{guest};
  Negotiated() { c.negotiate(); }
};

Conversation::Answer monitor(Conversation& c, std::string_view command) {
  return c.request_with_output("qRcmd," + hex(command));
}

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

}  // namespace

TEST_CASE_FIXTURE(Negotiated, "conversation: `?` before any stop is a plain SIGTRAP") {
  const StopInfo s = parse_stop(c.request("?"));
  CHECK(s.signal == 5);
  CHECK(s.get("thread") == "1");
  for (const char* reason : {"watch", "rwatch", "awatch", "swbreak", "hwbreak"}) CHECK_FALSE(s.has(reason));
}

TEST_CASE_FIXTURE(Negotiated, "conversation: `?` and qThreadStopInfo repeat a watchpoint stop with its address") {
  struct Case {
    StopEvent::Watch watch;
    const char* key;
  };
  for (const Case k : {Case{StopEvent::Watch::write, "watch"}, Case{StopEvent::Watch::read, "rwatch"},
                       Case{StopEvent::Watch::access, "awatch"}}) {
    CAPTURE(k.key);
    c.request_no_reply("c");
    StopEvent ev{1, StopEvent::Reason::watchpoint, 0x600010};
    ev.watch = k.watch;
    const StopInfo stop = parse_stop(c.stop(ev));
    CHECK(stop.signal == 5);
    CHECK(stop.get(k.key) == "600010");
    // Asked again: the same stop, not a made-up SIGTRAP.
    const StopInfo again = parse_stop(c.request("?"));
    CHECK(again.signal == 5);
    CHECK(again.get("thread") == "2");
    CHECK(again.get(k.key) == "600010");
    const StopInfo info = parse_stop(c.request("qThreadStopInfo2"));
    CHECK(info.get(k.key) == "600010");
    // The other vCPU stopped with it (all-stop) but for no reason of its own.
    const StopInfo other = parse_stop(c.request("qThreadStopInfo1"));
    CHECK(other.signal == 5);
    CHECK(other.get("thread") == "1");
    CHECK_FALSE(other.has(k.key));
  }
}

TEST_CASE_FIXTURE(Negotiated, "conversation: `?` after an interrupt reports SIGINT") {
  c.request_no_reply("c");
  CHECK(c.send_raw("\x03").empty());
  CHECK(parse_stop(c.stop(StopEvent{0, StopEvent::Reason::interrupted, 0})).signal == 2);
  const StopInfo s = parse_stop(c.request("?"));
  CHECK(s.signal == 2);
  CHECK(s.get("thread") == "1");
  CHECK(parse_stop(c.request("qThreadStopInfo1")).signal == 2);
  CHECK(parse_stop(c.request("qThreadStopInfo2")).signal == 5);
  // A later stop replaces it.
  c.request_no_reply("s");
  c.stop(StopEvent{0, StopEvent::Reason::step, 0});
  CHECK(parse_stop(c.request("?")).signal == 5);
}

TEST_CASE_FIXTURE(Negotiated, "conversation: the signal the target reported is kept") {
  c.request_no_reply("c");
  StopEvent ev{1, StopEvent::Reason::halted, 0};
  ev.signal = 3;  // SIGQUIT, as QEMU would report it
  const StopInfo stop = parse_stop(c.stop(ev));
  CHECK(stop.signal == 3);
  CHECK(stop.get("thread") == "2");
  CHECK(parse_stop(c.request("?")).signal == 3);
  CHECK(parse_stop(c.request("qThreadStopInfo2")).signal == 3);
  // A signal on an interrupt stop wins over the SIGINT the reason implies.
  c.request_no_reply("c");
  StopEvent quit{0, StopEvent::Reason::interrupted, 0};
  quit.signal = 5;
  CHECK(parse_stop(c.stop(quit)).signal == 5);
}

TEST_CASE_FIXTURE(Negotiated, "conversation: hardware and software breakpoints are told apart") {
  c.request_no_reply("c");
  StopEvent hw{0, StopEvent::Reason::breakpoint, 0};
  hw.breakpoint = StopEvent::Breakpoint::hardware;
  const StopInfo stop = parse_stop(c.stop(hw));
  CHECK(stop.has("hwbreak"));
  CHECK_FALSE(stop.has("swbreak"));
  CHECK(parse_stop(c.request("?")).has("hwbreak"));
  c.request_no_reply("c");
  CHECK(parse_stop(c.stop(StopEvent{0, StopEvent::Reason::breakpoint, 0})).has("swbreak"));
  CHECK(parse_stop(c.request("?")).has("swbreak"));
}

TEST_CASE("conversation: hwbreak is not reported to a client that did not ask for it") {
  PassThroughGuest guest;
  Conversation c(guest);
  c.request("qSupported:multiprocess+;swbreak+;vContSupported+");
  c.request_no_reply("c");
  StopEvent hw{0, StopEvent::Reason::breakpoint, 0};
  hw.breakpoint = StopEvent::Breakpoint::hardware;
  const StopInfo stop = parse_stop(c.stop(hw));
  CHECK(stop.signal == 5);
  CHECK_FALSE(stop.has("hwbreak"));
  CHECK_FALSE(stop.has("swbreak"));
}

TEST_CASE("conversation: a failed wait for a stop ends the inferior with a reason and X09") {
  PassThroughGuest guest;
  for (const bool no_ack : {false, true}) {
    CAPTURE(no_ack);
    Conversation c(guest);
    c.negotiate("", no_ack);
    // Not running: nothing to end.
    CHECK(c.session().on_stop_failed("QEMU went away").empty());
    c.request_no_reply("c");
    const auto items = split_wire(c.session().on_stop_failed("QEMU's gdbstub closed the connection"));
    const auto packets = packets_of(items);
    CHECK(count_kind(items, WireItem::Kind::ack) == 0);
    REQUIRE(packets.size() >= 2);
    std::string console;
    for (std::size_t i = 0; i + 1 < packets.size(); ++i) {
      REQUIRE(packets[i].starts_with("O"));
      console += unhex(std::string_view(packets[i]).substr(1));
    }
    CHECK(contains(console, "QEMU's gdbstub closed the connection"));
    CHECK(console.ends_with("\n"));
    CHECK(packets.back() == "X09");  // SIGKILL
    CHECK_FALSE(c.session().running());
    // Once only.
    CHECK(c.session().on_stop_failed("again").empty());
    CHECK(c.session().on_stop(StopEvent{0, StopEvent::Reason::interrupted, 0}).empty());
  }
}

TEST_CASE("conversation: D detaches through the backend") {
  PassThroughGuest guest;
  {
    Conversation c(guest);
    c.negotiate();
    CHECK(c.request("D") == "OK");
    CHECK(guest.detaches == 1);
    CHECK(c.session().finished());
  }
  {
    Conversation c(guest);
    c.negotiate();
    CHECK(c.request("D;1") == "OK");  // the multiprocess form
    CHECK(guest.detaches == 2);
    CHECK(c.session().finished());
  }
  // A detach that fails is an error, and the session ends anyway.
  guest.detach_error = HostError::eio;
  Conversation c(guest);
  c.negotiate();
  CHECK(c.request("D") == "E05");
  CHECK(guest.detaches == 3);
  CHECK(c.session().finished());
}

TEST_CASE("conversation: k and vKill ask the backend to kill and end the session either way") {
  PassThroughGuest guest;
  for (const bool allow : {false, true}) {
    CAPTURE(allow);
    guest.allow_kill = allow;
    const int before = guest.kills;
    {
      std::vector<std::string> log;
      SessionOptions options;
      options.log = [&log](std::string_view line) { log.emplace_back(line); };
      Conversation c(guest, options);
      c.negotiate();
      c.request_no_reply("k");  // no reply to k
      CHECK(c.session().finished());
      CHECK(guest.kills == before + 1);
      // A refusal is worth a line in the server's log.
      CHECK(log.empty() == allow);
      if (!allow) CHECK(contains(log.front(), "refused"));
    }
    {
      Conversation c(guest);
      c.negotiate();
      CHECK(c.request("vKill;1") == "OK");
      CHECK(c.session().finished());
      CHECK(guest.kills == before + 2);
    }
  }
  CHECK(guest.detaches == 0);
}

TEST_CASE("conversation: vCont? lists what the backend can do") {
  PassThroughGuest guest;
  {
    Conversation c(guest);
    c.negotiate();
    CHECK(c.request("vCont?") == "vCont;c;C;s;S");
  }
  guest.actions = ";c;C;s;S;r";
  Conversation c(guest);
  c.negotiate();
  CHECK(c.request("vCont?") == "vCont;c;C;s;S;r");
}

TEST_CASE_FIXTURE(Negotiated, "conversation: a breakpoint type the target lacks gets the empty reply") {
  CHECK(c.request("Z0,600000,2") == "OK");
  CHECK(guest.inserted.count(0x600000));
  CHECK(c.request("Z3,600100,8") == "");  // read watchpoints: not offered (QEMU under KVM)
  CHECK(c.request("z3,600100,8") == "");
  CHECK(c.request("Z2,600100,8") == "OK");
  CHECK(c.request("z2,600100,8") == "OK");
  // Other failures stay errors.
  guest.failing = {Breakpoints::Type::access_watch};
  CHECK(c.request("Z4,600100,8") == "E05");
  CHECK(c.request("z0,600000,2") == "OK");
  CHECK(guest.inserted.empty());
}

TEST_CASE_FIXTURE(Negotiated, "conversation: monitor qemu CMD goes to the hypervisor's monitor") {
  const auto status = monitor(c, "qemu info status");
  CHECK(status.reply == "OK");
  CHECK(status.console == "VM status: paused\n");
  // The rest of the line as typed (the other monitor has its own quoting).
  (void)monitor(c, "qemu   info   status  -x");
  REQUIRE(guest.commands.size() == 2);
  CHECK(guest.commands[0] == "info status");
  CHECK(guest.commands[1] == "info   status  -x");
  // Its failure is ours, said on the console.
  const auto failed = monitor(c, "qemu cont");
  CHECK(contains(failed.console, "qemu: the guest is running"));
  // Without a command: how to use it, and nothing sent.
  const auto usage = monitor(c, "qemu");
  CHECK(contains(usage.console, "usage: monitor qemu CMD"));
  CHECK(guest.commands.size() == 3);
  // help mentions it.
  CHECK(contains(monitor(c, "help").console, "\n  qemu CMD"));
}

TEST_CASE("conversation: a monitor error reply needs error-message+") {
  PassThroughGuest guest;
  Conversation c(guest);
  c.negotiate(";error-message+");
  const auto failed = monitor(c, "qemu cont");
  CHECK(is_error(failed.reply));
  CHECK(contains(failed.console, "qemu: "));
}

TEST_CASE("conversation: a read-only session offers no qemu monitor and no kill") {
  PassThroughGuest guest;
  SessionOptions options;
  options.read_only = true;
  Conversation c(guest, options);
  c.negotiate();
  const auto r = monitor(c, "qemu info status");
  CHECK(contains(r.console, "unknown monitor command 'qemu'"));
  CHECK(guest.commands.empty());
  CHECK_FALSE(contains(monitor(c, "help").console, "qemu CMD"));
  // Killing is a change: refused before it reaches the backend; the session ends.
  c.request_no_reply("k");
  CHECK(c.session().finished());
  CHECK(guest.kills == 0);
  // Detaching lets the guest go on as it was: passed through.
  Conversation d(guest, options);
  d.negotiate();
  CHECK(d.request("D") == "OK");
  CHECK(guest.detaches == 1);
}
