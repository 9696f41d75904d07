// Packet conversations, part 4: `monitor` commands through qRcmd (hex), their console
// output as `O` packets, the final OK / E.text, and the views the memory packets then use.
#include <doctest/doctest.h>

#include <string>

#include "access/view.h"
#include "backends/emulated/demo_guest.h"
#include "session_harness.h"
#include "gdbstub/monitor.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

Conversation::Answer monitor(Conversation& c, std::string_view command) {
  return c.request_with_output("qRcmd," + hex(command));
}

bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }

std::string read_text(Conversation& c, std::uint64_t addr, std::size_t len) {
  const std::string r = c.request("m" + hex_number(addr) + "," + hex_number(len));
  if (is_error(r)) return r;
  return unhex(r);
}

}  // namespace

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: monitor help lists the commands") {
  const auto help = monitor(c, "help");
  CHECK(help.reply == "OK");
  for (const char* command : {"help", "view", "translate", "regs", "memop"}) {
    CAPTURE(command);
    CHECK(contains(help.console, std::string("\n  ") + command));
  }
  CHECK(contains(help.console, "run control: no"));  // the demo guest cannot run
  CHECK(help.console.ends_with("\n"));
  // An empty command line is help too.
  const auto empty = c.request_with_output("qRcmd,");
  CHECK(empty.reply == "OK");
  CHECK(empty.console == help.console);
  // Long output is split into O packets no longer than PacketSize.
  SessionOptions small;
  small.packet_size = 0x100;
  Conversation s(*guest, small);
  s.negotiate();
  const auto split = monitor(s, "help");
  CHECK(split.console == help.console);
  for (const auto& item : split_wire(s.last_output()))
    if (item.kind == WireItem::Kind::packet) CHECK(item.payload.size() <= 0x100);
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: monitor view sets and shows the view memory packets use") {
  auto shown = monitor(c, "view");
  CHECK(shown.reply == "OK");
  CHECK(contains(shown.console, "cpu 0: view cpu  (current)"));
  CHECK(contains(shown.console, "cpu 1: view cpu\n"));

  // Absolute storage: page 0 is nobody's lowcore.
  CHECK(monitor(c, "view absolute").reply == "OK");
  CHECK(read_text(c, demo::absolute_zero_string, 15) == "absolute page 0");
  CHECK(contains(monitor(c, "view").console, "cpu 0: view absolute"));
  CHECK(contains(unhex(c.request("qThreadExtraInfo,1")), "view absolute"));
  // Real: cpu 0's lowcore through its prefix.
  CHECK(monitor(c, "view real").reply == "OK");
  CHECK(read_text(c, demo::lowcore_string, 16) == "lowcore of cpu 0");
  // An access register: AR 2 holds the user-space ALET.
  CHECK(monitor(c, "view ar 2").reply == "OK");
  CHECK(read_text(c, demo::user_text_va, 5) == "hello");
  // `all`: every vCPU; cpu 1 (user process) then sees the kernel through home.
  CHECK(monitor(c, "view all home").reply == "OK");
  CHECK(c.request("Hg2") == "OK");
  CHECK(read_text(c, demo::linux_banner_va, 13) == "Linux version");
  shown = monitor(c, "view");
  CHECK(contains(shown.console, "cpu 0: view home"));
  CHECK(contains(shown.console, "cpu 1: view home  (current)"));
  // Back to the CPU's own view.
  CHECK(monitor(c, "view cpu").reply == "OK");
  CHECK(read_text(c, demo::user_text_va, 5) == "hello");
  CHECK(read_text(c, demo::linux_banner_va, 13) == "E0e");

  // A bad view: output says why; the reply is OK without error-message+ ...
  const auto bad = monitor(c, "view nowhere");
  CHECK(contains(bad.console, "unknown view 'nowhere'"));
  CHECK(bad.reply == "OK");
  CHECK(contains(monitor(c, "view").console, "cpu 1: view cpu"));  // unchanged

  // A new connection starts with the initial view again.
  Conversation fresh(*guest);
  fresh.negotiate();
  CHECK(contains(monitor(fresh, "view").console, "cpu 0: view cpu  (current)"));
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: monitor translate prints the walk") {
  const auto t = monitor(c, "translate 0x" + hex_number(demo::linux_banner_va));
  CHECK(t.reply == "OK");
  CHECK(contains(t.console, "translate 0x0000010000000400 in view cpu"));
  CHECK(contains(t.console, "=> absolute 0x0000000000400400"));
  // A translation that ends in an exception is a report, not a failed command.
  const auto hole = monitor(c, "translate 0x" + hex_number(demo::kernel_hole_va));
  CHECK(hole.reply == "OK");
  CHECK_FALSE(contains(hole.console, "=> absolute"));
  CHECK(contains(hole.console, "=> "));
  // Usage errors.
  CHECK(contains(monitor(c, "translate").console, "usage: translate"));
  CHECK(contains(monitor(c, "translate banana").console, "bad address 'banana'"));
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: monitor regs and memop") {
  const auto regs = monitor(c, "regs");
  CHECK(regs.reply == "OK");
  CHECK(contains(regs.console, "cpu 0"));
  CHECK(contains(regs.console, "prefix 0x20000"));
  const auto key = monitor(c, "regs 0x" + hex_number(demo::fetch_protected_abs));
  CHECK(contains(key.console, "storage key 0x38"));
  const auto read = monitor(c, "memop read 0x" + hex_number(demo::kernel_data_va) + " 6");
  CHECK(read.reply == "OK");
  CHECK_FALSE(read.console.empty());
  CHECK(contains(read.console, hex("kernel")));
  const auto bad = monitor(c, "memop frobnicate");
  CHECK_FALSE(bad.console.empty());
  CHECK(bad.reply == "OK");
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: monitor memop --help prints the help; --key and --ar outside a byte are refused") {
  const auto help = monitor(c, "memop --help");
  CHECK(help.reply == "OK");
  CHECK(contains(help.console, "--check-only"));
  CHECK(contains(help.console, "--key"));
  CHECK_FALSE(contains(help.console, "caught in your main"));
  const std::string read = "memop read 0x" + hex_number(demo::kernel_data_va) + " 4";
  for (const std::string opt : {" --key -5", " --key -1", " --key 256", " --ar -1", " --ar 256"}) {
    CAPTURE(opt);
    const auto r = monitor(c, read + opt);
    CHECK(contains(r.console, "memop:"));
    CHECK_FALSE(contains(r.console, "ok "));  // nothing was read
  }
  // A key a byte holds goes through for the backend to judge, as KVM does (EINVAL > 15).
  CHECK(contains(monitor(c, read + " --key 16").console, "EINVAL"));
  CHECK(contains(monitor(c, read + " --key 0").console, "ok "));
}

TEST_CASE("conversation: an unknown monitor command: output then OK, or E.text with error-message+") {
  auto guest = demo::make_guest();
  SUBCASE("GDB without error-message+") {
    Conversation c(*guest);
    c.negotiate();
    const auto a = monitor(c, "frobnicate now");
    CHECK(contains(a.console, "unknown monitor command 'frobnicate'"));
    CHECK(a.reply == "OK");  // older GDBs report "Protocol error with Rcmd" for E
  }
  SUBCASE("GDB with error-message+") {
    Conversation c(*guest);
    c.negotiate(";error-message+");
    const auto a = monitor(c, "frobnicate now");
    CHECK(contains(a.console, "unknown monitor command 'frobnicate'"));
    CHECK(a.reply.starts_with("E."));
    // Successful commands still end with OK.
    CHECK(monitor(c, "help").reply == "OK");
  }
  SUBCASE("malformed qRcmd") {
    Conversation c(*guest);
    c.negotiate();
    CHECK(c.request("qRcmd,zz") == "E16");
    CHECK(c.request("qRcmd,abc") == "E16");
    CHECK(c.request("qRcmd") != "OK");  // no comma: not qRcmd's syntax
  }
}

TEST_CASE("parse_view: every form round-trips through describe()") {
  for (const char* text : {"cpu", "cpu ar 3", "primary", "secondary", "home", "ar 15", "alet 0x2", "real",
                           "absolute"}) {
    CAPTURE(text);
    auto v = parse_view(text);
    REQUIRE(v);
    CHECK(v->describe() == text);
    auto again = parse_view(v->describe());
    REQUIRE(again);
    CHECK(*again == *v);
  }
  auto asce = parse_view("asce 0x1007");
  REQUIRE(asce);
  CHECK(parse_view(asce->describe()).value() == *asce);
  CHECK_FALSE(parse_view("cpu ar 16"));
  CHECK_FALSE(parse_view("ar"));
  CHECK_FALSE(parse_view("sideways"));
}
