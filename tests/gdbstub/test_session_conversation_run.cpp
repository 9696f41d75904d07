// Packet conversations, part 6: run control. On the demo guest (no RunControl) every
// resume gets one clear error and vCont? says nothing; with RunnableGuest (the demo guest
// plus a fake RunControl, session_harness.h) the advertisement changes, a resume gets no
// immediate reply, the stop reply arrives through on_stop and 0x03 interrupts.
#include <doctest/doctest.h>

#include <string>

#include "backends/emulated/demo_guest.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

bool has_feature(std::string_view supported, std::string_view feature) {
  std::size_t start = 0;
  while (start <= supported.size()) {
    const std::size_t semi = std::min(supported.find(';', start), supported.size());
    if (supported.substr(start, semi - start) == feature) return true;
    start = semi + 1;
  }
  return false;
}

// Whether `monitor help` mentions `text`.
bool contains_text(Conversation& c, std::string_view text) {
  return c.request_with_output("qRcmd," + hex("help")).console.find(text) != std::string::npos;
}

std::unique_ptr<RunnableGuest> runnable() { return std::make_unique<RunnableGuest>(demo::make_guest()); }

}  // namespace

TEST_CASE("conversation: the demo guest cannot run: one clear error per resume") {
  auto guest = demo::make_guest();
  for (const bool text : {false, true}) {
    CAPTURE(text);
    Conversation c(*guest);
    const std::string supported = c.negotiate(text ? ";error-message+" : "");
    CHECK_FALSE(has_feature(supported, "vContSupported+"));
    // vCont? empty: GDB then falls back to c/s, which fail with the reason.
    CHECK(c.request("vCont?") == "");
    for (const char* p : {"c", "s", "C05", "S05", "c600000", "vCont;c", "vCont;s:1", "vCont;c:-1", "vCont;C05",
                          "vCont;s:1;c"}) {
      CAPTURE(p);
      const std::string r = c.request(p);  // exactly one reply
      CHECK(is_error(r));
      if (text) {
        CHECK(r.find("cannot run") != std::string::npos);
      } else {
        CHECK(r == "E26");  // ENOSYS
      }
      CHECK_FALSE(c.session().running());
      CHECK_FALSE(c.session().take_resume_request());
    }
    // An interrupt has nothing to stop; on_stop without a resume sends nothing.
    CHECK(c.send_raw("\x03").empty());
    CHECK(c.session().on_stop(StopEvent{0, StopEvent::Reason::interrupted, 0}).empty());
    CHECK(c.request("qC") == "QC1");
  }
}

TEST_CASE("conversation: with run control, qSupported and vCont? advertise it") {
  auto guest = runnable();
  Conversation c(*guest);
  const std::string supported = c.negotiate();
  CHECK(has_feature(supported, "vContSupported+"));
  // GDB sent swbreak+ and hwbreak+: advertised back now that stops can be reported.
  CHECK(has_feature(supported, "swbreak+"));
  CHECK(has_feature(supported, "hwbreak+"));
  CHECK(c.request("vCont?") == "vCont;c;C;s;S");  // GDB drops vCont unless c and C are listed
  CHECK(contains_text(c, "run control: yes"));
}

TEST_CASE("conversation: c gets no immediate reply; the stop reply comes from on_stop") {
  auto guest = runnable();
  for (const bool no_ack : {false, true}) {
    CAPTURE(no_ack);
    Conversation c(*guest);
    c.negotiate("", no_ack);
    c.request_no_reply("c");
    CHECK(c.session().running());
    CHECK(c.session().take_resume_request());
    CHECK_FALSE(c.session().take_resume_request());  // taken once
    CHECK(guest->resumed_cpus() == std::vector<unsigned>{0, 1});

    // While it runs, a packet other than an interrupt is refused (all-stop) ...
    CHECK(c.request("qC") == "E10");
    CHECK(c.request("c") == "E10");
    CHECK(c.session().running());
    // ... and unknown packets still get the empty reply.
    CHECK(c.request("vFoo") == "");

    // 0x03 while running: RunControl::interrupt, and no bytes yet.
    const int before = guest->interrupts();
    CHECK(c.send_raw("\x03").empty());
    CHECK(guest->interrupts() == before + 1);
    const StopInfo stop = parse_stop(c.stop(StopEvent{0, StopEvent::Reason::interrupted, 0}));
    CHECK(stop.signal == 2);  // SIGINT
    CHECK(stop.get("thread") == "1");
    CHECK_FALSE(c.session().running());
    // A second stop for the same resume is not sent.
    CHECK(c.session().on_stop(StopEvent{0, StopEvent::Reason::interrupted, 0}).empty());
    CHECK(c.request("qC") == "QC1");
  }
}

TEST_CASE("conversation: a stop on another vCPU selects it and lists it first") {
  auto guest = runnable();
  Conversation c(*guest);
  c.negotiate();
  c.request_no_reply("vCont;c");
  const StopInfo stop = parse_stop(c.stop(StopEvent{1, StopEvent::Reason::breakpoint, 0}));
  CHECK(stop.signal == 5);
  CHECK(stop.get("thread") == "2");
  CHECK(stop.has("swbreak"));  // negotiated: GDB sent swbreak+ and we advertised it
  CHECK(stop.get("1") == hex(be_bytes(demo::user_text_va + 0x40, 8)));  // cpu 1's pswa
  CHECK(stop.get("11") == hex(be_bytes(demo::user_stack_va + 0xf00, 8)));
  CHECK(c.request("qfThreadInfo") == "m2,1");  // the stopped vCPU first
  CHECK(c.request("qsThreadInfo") == "l");
  CHECK(c.request("qC") == "QC2");
  CHECK(parse_stop(c.request("?")).get("thread") == "2");
  // Memory packets now use cpu 1's view.
  CHECK(unhex(c.request("m" + hex_number(demo::user_text_va) + ",5")) == "hello");
}

TEST_CASE("conversation: stop reasons") {
  auto guest = runnable();
  SUBCASE("breakpoint without swbreak+ negotiated: plain T05") {
    Conversation c(*guest);
    c.request("qSupported:multiprocess+;vContSupported+");
    c.request_no_reply("c");
    const StopInfo stop = parse_stop(c.stop(StopEvent{0, StopEvent::Reason::breakpoint, 0}));
    CHECK(stop.signal == 5);
    CHECK_FALSE(stop.has("swbreak"));
    CHECK_FALSE(stop.has("hwbreak"));
  }
  SUBCASE("watchpoint: watch:addr") {
    Conversation c(*guest);
    c.negotiate();
    c.request_no_reply("c");
    const StopInfo stop = parse_stop(c.stop(StopEvent{0, StopEvent::Reason::watchpoint, 0x600010}));
    CHECK(stop.signal == 5);
    CHECK(stop.get("watch") == "600010");
  }
  SUBCASE("guest shutdown: W") {
    Conversation c(*guest);
    c.negotiate();
    c.request_no_reply("c");
    const std::string w = c.stop(StopEvent{0, StopEvent::Reason::exited, 0});
    CHECK(w.starts_with("W"));
    CHECK(w.substr(0, 3) == "W00");
  }
  SUBCASE("halted") {
    Conversation c(*guest);
    c.negotiate();
    c.request_no_reply("c");
    CHECK(parse_stop(c.stop(StopEvent{1, StopEvent::Reason::halted, 0})).get("thread") == "2");
  }
}

TEST_CASE("conversation: steps go to the right vCPU") {
  auto guest = runnable();
  Conversation c(*guest);
  c.negotiate();
  CHECK(c.request("Hc2") == "OK");
  c.request_no_reply("s");
  CHECK(guest->stepped_cpu() == 1u);
  CHECK(parse_stop(c.stop(StopEvent{1, StopEvent::Reason::step, 0})).get("thread") == "2");

  c.request_no_reply("vCont;s:1;c");  // step thread 1, the others stay stopped (all-stop)
  CHECK(guest->stepped_cpu() == 0u);
  CHECK(parse_stop(c.stop(StopEvent{0, StopEvent::Reason::step, 0})).get("thread") == "1");

  c.request_no_reply("S05");
  CHECK(c.session().running());
  c.stop(StopEvent{0, StopEvent::Reason::step, 0});

  // GDB's form when it has multiprocess in mind: every thread of process 1.
  c.request_no_reply("vCont;c:p1.-1");
  CHECK(guest->resumed_cpus() == std::vector<unsigned>{0, 1});
  c.stop(StopEvent{0, StopEvent::Reason::interrupted, 0});

  const int resumes = guest->resumes();
  c.request_no_reply("vCont;C05");  // signals mean nothing to a VM: accepted, ignored
  CHECK(guest->resumes() == resumes + 1);
  c.stop(StopEvent{0, StopEvent::Reason::interrupted, 0});

  // Errors: one reply, nothing resumed.
  CHECK(c.request("vCont;s:3") == "E02");
  CHECK(is_error(c.request("vCont;t")));  // non-stop only
  CHECK_FALSE(c.session().running());
  CHECK(guest->resumes() == resumes + 1);
}

// The manual: a 0x03 while stopped is queued and applied at the next resume.
TEST_CASE("conversation: an interrupt when stopped is applied at the next resume") {
  auto guest = runnable();
  Conversation c(*guest);
  c.negotiate();
  CHECK(c.send_raw("\x03").empty());
  CHECK(guest->interrupts() == 0);  // nothing to stop yet
  CHECK(c.request("qC") == "QC1");
  c.request_no_reply("c");
  CHECK(guest->interrupts() == 1);  // the queued interrupt, right after the resume
  const StopInfo stop = parse_stop(c.stop(StopEvent{0, StopEvent::Reason::interrupted, 0}));
  CHECK(stop.signal == 2);
  // Applied once: the next resume runs until something else stops it.
  c.request_no_reply("c");
  CHECK(guest->interrupts() == 1);
}

TEST_CASE_FIXTURE(NegotiatedDemo, "conversation: an interrupt to a target that cannot run changes nothing") {
  CHECK(c.send_raw("\x03").empty());
  CHECK(c.request("c").starts_with("E"));
  CHECK(c.request("qC") == "QC1");
}
