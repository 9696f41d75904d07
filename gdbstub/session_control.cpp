// Negotiation, threads, run control, queries and monitor commands.
#include <utility>

#include <fmt/format.h>

#include "rsp/hex.h"
#include "gdbstub/monitor.h"
#include "gdbstub/session.h"

namespace s390b::rsp {

namespace {

constexpr std::string_view kTargetXml = "target.xml";
constexpr std::string_view kLldbTriple = "s390x-unknown-linux-gnu";

constexpr std::string_view kNoRunControl =
    "the target cannot run: this backend has no run control (a dump or an emulated guest)";

}  // namespace

void Session::handle(const QuerySupported& r) {
  // Each qSupported starts a new negotiation (a new GDB may talk to the same stub).
  negotiated_ = Negotiated{};
  const bool runs = backend_.run_control() != nullptr;
  negotiated_.reply.error_message = r.supports("error-message");
  negotiated_.reply.swbreak = runs && r.supports("swbreak");
  negotiated_.reply.hwbreak = runs && r.supports("hwbreak");

  SupportedReply s;
  auto add = [&](std::string name, Feature::State st = Feature::State::Supported, std::string value = {}) {
    s.features.push_back(Feature{std::move(name), st, std::move(value)});
  };
  add("PacketSize", Feature::State::Value, format_hex(options_.packet_size));
  add("qXfer:features:read");
  add("qXfer:threads:read");
  add("QStartNoAckMode");
  add("binary-upload");
  if (runs) {
    add("vContSupported");
    if (negotiated_.reply.swbreak) add("swbreak");
    if (negotiated_.reply.hwbreak) add("hwbreak");
  }
  reply(s);
}

void Session::handle(const StartNoAckMode&) {
  reply(OkReply{});  // still acked: the mode starts after this reply
  no_ack_ = true;
  decoder_.set_verify_checksum(false);
}

void Session::handle(const XferFeaturesRead& r) {
  if (r.annex != kTargetXml) {
    reply_error(ErrorCode::NoEntry, fmt::format("no feature document '{}'", r.annex));
    return;
  }
  reply(XferWindow{layout_.target_xml(), r.offset, r.length});
}

std::string Session::threads_document() const {
  std::string doc = "<?xml version=\"1.0\"?>\n<threads>\n";
  for (unsigned cpu = 0; cpu < backend_.cpu_count(); ++cpu)
    doc += fmt::format("  <thread id=\"{}\" core=\"{}\" name=\"cpu{}\">{}</thread>\n",
                       format_thread_id(thread_of(cpu), negotiated_.reply), cpu, cpu, thread_description(cpu));
  return doc + "</threads>\n";
}

void Session::handle(const XferRead& r) {
  if (r.object != "threads") {
    reply(EmptyReply{});
    return;
  }
  // Built at offset 0 and kept, so a window sequence sees one consistent document.
  if (r.offset == 0 || threads_xml_.empty()) threads_xml_ = threads_document();
  reply(XferWindow{threads_xml_, r.offset, r.length});
}

std::string Session::thread_description(unsigned cpu) const {
  auto st = backend_.cpu_state(cpu);
  if (!st) return fmt::format("cpu {}: state unavailable", cpu);
  static constexpr std::string_view asc_names[] = {"primary", "AR", "secondary", "home"};
  const Psw& p = st->psw;
  return fmt::format("cpu {}: {}, {}{}, view {}", cpu, running_ ? "running" : "stopped",
                     p.dat() ? fmt::format("DAT on, {} space", asc_names[static_cast<unsigned>(p.asc())]) : "DAT off",
                     p.problem_state() ? ", problem state" : "", views_[cpu].describe());
}

void Session::handle(const ThreadInfoFirst&) {
  // The first thread listed is the one GDB selects: the stopped vCPU.
  ThreadList list;
  list.threads.push_back(thread_of(stopped_cpu_));
  for (unsigned cpu = 0; cpu < backend_.cpu_count(); ++cpu)
    if (cpu != stopped_cpu_) list.threads.push_back(thread_of(cpu));
  reply(list);
}

void Session::handle(const ThreadInfoNext&) { reply(ThreadList{}); }

void Session::handle(const QueryCurrentThread&) { reply(CurrentThread{thread_of(general_cpu_)}); }

void Session::handle(const SetThread& r) {
  auto cpu = resolve_thread(r.thread);
  if (!cpu) {
    reply_error(ErrorCode::NoEntry, "no such thread");
    return;
  }
  (r.op == ThreadOp::General ? general_cpu_ : continue_cpu_) = *cpu;
  reply(OkReply{});
}

void Session::handle(const ThreadAlive& r) {
  if (r.thread.tid.kind == IdPart::Kind::Id && resolve_thread(r.thread)) {
    reply(OkReply{});
  } else {
    reply_error(ErrorCode::NoEntry, "no such thread");
  }
}

void Session::handle(const ThreadExtraInfo& r) {
  auto cpu = resolve_thread(r.thread);
  if (!cpu) {
    reply_error(ErrorCode::NoEntry, "no such thread");
    return;
  }
  reply(HexText{thread_description(*cpu)});
}

void Session::handle(const QueryHalt&) { reply(last_stop_reply(stopped_cpu_)); }

void Session::handle(const QueryAttached&) { reply(TextReply{"1"}); }

void Session::resume(const std::vector<unsigned>& cpus, std::optional<unsigned> step_cpu) {
  RunControl* rc = backend_.run_control();
  if (!rc) {
    reply_error(ErrorCode::NotImplemented, std::string(kNoRunControl));
    return;
  }
  auto r = step_cpu ? rc->step(*step_cpu) : rc->resume(cpus);
  if (!r) {
    reply_error(error_for(r.error()), fmt::format("cannot resume: {}", describe_failure(MemopResult::host(r.error()))));
    return;
  }
  // The reply is the stop reply the transport delivers through on_stop.
  running_ = true;
  resume_requested_ = true;
  if (std::exchange(interrupt_pending_, false)) {
    // A 0x03 that arrived while stopped: apply it now, the stop comes back as usual.
    if (auto i = rc->interrupt(); !i) send_console(fmt::format("interrupt failed: {}\n", host_error_name(i.error())));
  }
}

namespace {
std::vector<unsigned> all_cpus(unsigned n) {
  std::vector<unsigned> v(n);
  for (unsigned i = 0; i < n; ++i) v[i] = i;
  return v;
}
}  // namespace

void Session::handle(const Continue&) { resume(all_cpus(backend_.cpu_count()), std::nullopt); }
void Session::handle(const ContinueWithSignal&) { resume(all_cpus(backend_.cpu_count()), std::nullopt); }
void Session::handle(const Step&) { resume({}, continue_cpu_); }
void Session::handle(const StepWithSignal&) { resume({}, continue_cpu_); }

void Session::handle(const VCont& r) {
  // All-stop: a step action on one thread steps it (the others stay stopped); otherwise
  // any continue action resumes every vCPU. Signals mean nothing to a VM and are ignored.
  for (const VContAction& a : r.actions) {
    if (a.kind == VContAction::Kind::Step || a.kind == VContAction::Kind::StepSignal ||
        a.kind == VContAction::Kind::RangeStep) {
      std::optional<unsigned> cpu = a.thread ? resolve_thread(*a.thread) : std::optional<unsigned>(continue_cpu_);
      if (!cpu) {
        reply_error(ErrorCode::NoEntry, "no such thread");
        return;
      }
      resume({}, *cpu);
      return;
    }
    if (a.kind == VContAction::Kind::Stop) {
      reply_error(ErrorCode::Invalid, "vCont;t needs non-stop mode, which this stub does not offer");
      return;
    }
  }
  resume(all_cpus(backend_.cpu_count()), std::nullopt);
}

void Session::handle(const VContQuery&) {
  // GDB ignores vCont unless both c and C are listed; without run control say nothing.
  if (!backend_.run_control()) {
    reply(EmptyReply{});
    return;
  }
  reply(TextReply{"vCont" + backend_.run_control()->vcont_actions()});
}

void Session::handle(const Kill&) {
  // No reply is required. A debugger's `kill` must not destroy a VM unless the user said
  // so (serve --allow-kill); otherwise the session ends and the guest is left stopped.
  kill_target();
  finished_ = true;
}

void Session::handle(const VKill&) {
  kill_target();
  reply(OkReply{});
  finished_ = true;
}

void Session::kill_target() {
  RunControl* rc = backend_.run_control();
  if (!rc) {
    note("<-", "kill: session ends, the guest is left as it is");
    return;
  }
  if (auto r = rc->kill(); !r) {
    note("<-", fmt::format("kill refused ({}): session ends, the guest is left stopped", host_error_name(r.error())));
    if (options_.log) options_.log("the debugger asked to kill the guest: refused (serve --allow-kill allows it); left stopped");
  }
}

void Session::handle(const Detach&) {
  // The guest goes on running without a debugger (its breakpoints removed).
  if (RunControl* rc = backend_.run_control()) {
    if (auto r = rc->detach(); !r) {
      reply_error(error_for(r.error()), fmt::format("cannot detach: {}", describe_failure(MemopResult::host(r.error()))));
      finished_ = true;
      return;
    }
  }
  reply(OkReply{});
  finished_ = true;
}

void Session::handle(const ExtendedMode&) { reply(EmptyReply{}); }

void Session::handle(const MonitorCommand& r) {
  MonitorContext ctx{backend_, memory_, views_, general_cpu_};
  const MonitorReply m = run_monitor_command(ctx, r.command);
  if (!m.output.empty()) send_console(m.output);
  // The output already says what went wrong. An error reply to qRcmd is only understood
  // by a client that sent error-message+; older GDBs report "Protocol error with Rcmd".
  if (m.error && negotiated_.reply.error_message) {
    reply_error(ErrorCode::Invalid, "monitor command failed");
  } else {
    reply(OkReply{});
  }
}

void Session::handle(const QueryOffsets&) { reply(EmptyReply{}); }
void Session::handle(const QuerySymbol&) { reply(OkReply{}); }
void Session::handle(const QueryTraceStatus&) { reply(EmptyReply{}); }
void Session::handle(const MustReplyEmpty&) { reply(EmptyReply{}); }

// Thread create/exit events mean nothing for vCPUs, which neither appear nor vanish while
// GDB is attached: acknowledged, nothing to report.
void Session::handle(const SetThreadEvents&) { reply(OkReply{}); }

void Session::handle(const SetNonStop& r) {
  if (r.enable) {
    reply_error(ErrorCode::NotImplemented, "non-stop mode is not supported");
  } else {
    reply(OkReply{});
  }
}

// LLDB asks for a threads: list in stop replies; it also reads qfThreadInfo, which every
// stop makes it do anyway, so acknowledged without changing the replies.
void Session::handle(const ListThreadsInStopReply&) { reply(OkReply{}); }

// LLDB then appends `;thread:<tid>;` to g/G/p/P instead of switching with Hg first; the
// parsers accept the suffix either way.
void Session::handle(const ThreadSuffixSupported&) { reply(OkReply{}); }

// LLDB then understands `Exx;<hex text>`; the reply encoder adds the text from now on.
void Session::handle(const EnableErrorStrings&) {
  reply(OkReply{});
  negotiated_.reply.lldb_error_strings = true;
}

void Session::handle(const ThreadStopInfo& r) {
  auto cpu = resolve_thread(r.thread);
  if (!cpu || r.thread.tid.kind != IdPart::Kind::Id) {
    reply_error(ErrorCode::NoEntry, "no such thread");
    return;
  }
  reply(last_stop_reply(*cpu));
}

void Session::handle(const HostInfo&) {
  reply(TextReply{fmt::format("triple:{};endian:big;ptrsize:8;", hex_encode(kLldbTriple))});
}

void Session::handle(const ProcessInfo&) { reply(EmptyReply{}); }

void Session::handle(const Unknown&) { reply(EmptyReply{}); }

}  // namespace s390b::rsp
