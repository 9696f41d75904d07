#include "gdbstub/session.h"

#include <cassert>

#include <fmt/format.h>

namespace s390b::rsp {

namespace {

constexpr std::size_t kRecentPackets = 32;
constexpr std::size_t kTraceSample = 200;  // characters of a packet shown in the trace

// A printable rendering of a payload for the trace: binary bytes escaped.
std::string printable(std::string_view payload) {
  std::string out;
  for (char c : payload.substr(0, kTraceSample)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '\\') {
      out.push_back(c);
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  if (payload.size() > kTraceSample) out += fmt::format("... ({} bytes)", payload.size());
  return out;
}

}  // namespace

Session::Session(Backend& backend, SessionOptions options)
    : read_only_(options.read_only ? std::make_unique<ReadOnlyBackend>(backend) : nullptr),
      backend_(read_only_ ? *read_only_ : backend),
      memory_(backend_),
      options_(std::move(options)),
      decoder_(options_.packet_size),
      views_(backend_.cpu_count(), options_.initial_view) {
  CpuState::Present present;
  if (backend_.cpu_count() > 0) {
    if (auto s = backend_.cpu_state(0)) present = s->present;
  }
  layout_ = RegisterLayout::for_state(present);
}

bool Session::take_resume_request() {
  const bool r = resume_requested_;
  resume_requested_ = false;
  return r;
}

void Session::note(std::string_view direction, std::string_view payload) {
  std::string line = fmt::format("{} {}", direction, printable(payload));
  if (options_.trace) options_.trace(line);
  recent_.push_back(std::move(line));
  if (recent_.size() > kRecentPackets) recent_.pop_front();
}

void Session::protocol_error(std::string_view what) {
  if (options_.on_protocol_error) options_.on_protocol_error(what, recent_);
}

std::string Session::on_bytes(std::string_view data) {
  out_.clear();
  resent_in_piece_ = false;
  while (auto event = decoder_.next(data)) handle_event(*event);
  return std::move(out_);
}

void Session::handle_event(const FrameEvent& event) {
  switch (event.kind) {
    case FrameEventKind::Packet:
      if (!no_ack_) out_.push_back(kAckByte);
      handle_packet(event.payload);
      break;
    case FrameEventKind::BadChecksum:
      note("<- bad checksum", event.payload);
      protocol_error("bad checksum");
      // No-ack mode (where only a malformed trailer is caught): the client sends no
      // retransmission and waits for a reply, so answer the lost request with an error.
      if (!no_ack_) {
        out_.push_back(kNakByte);
      } else {
        replies_ = 0;
        reply_error(ErrorCode::Invalid, "packet with a malformed checksum");
      }
      break;
    case FrameEventKind::Overflow:
      note("<- oversized packet", fmt::format("{} bytes", event.size));
      protocol_error("oversized packet");
      // Ack mode: ask for a retransmission (GDB gives up after three). No-ack mode: the
      // client waits for a reply, so answer the lost request with an error.
      if (!no_ack_) {
        out_.push_back(kNakByte);
      } else {
        replies_ = 0;
        reply_error(ErrorCode::Invalid, fmt::format("packet of {} bytes exceeds PacketSize", event.size));
      }
      break;
    case FrameEventKind::Nak:
      // In no-ack mode a `-` cannot be a nak (GDB sends none then): resending would put an
      // unrequested packet on the wire and shift every later reply.
      // At most one retransmission per piece of input: a run of `-` would otherwise queue
      // a copy of a large reply for each byte, past the transport's bound.
      if (!no_ack_ && !last_packet_.empty() && !resent_in_piece_) {
        out_ += last_packet_;
        resent_in_piece_ = true;
      }
      break;
    case FrameEventKind::Interrupt:
      // While stopped, the manual queues the interrupt for the next resume (which then
      // stops at once); a target that cannot run has no resume to apply it to.
      if (running_) {
        if (RunControl* rc = backend_.run_control()) {
          if (auto r = rc->interrupt(); !r) send_console(fmt::format("interrupt failed: {}\n", host_error_name(r.error())));
        }
      } else if (backend_.run_control()) {
        interrupt_pending_ = true;
      }
      break;
    case FrameEventKind::Ack:
    case FrameEventKind::Noise:
      break;
  }
}

void Session::handle_packet(std::string_view payload) {
  note("<-", payload);
  ++packets_handled_;
  replies_ = 0;
  auto request = parse_request(payload);
  if (!request) {
    protocol_error(to_string(request.error()));
    reply_error(error_code(request.error()), fmt::format("malformed packet: {}", to_string(request.error())));
    return;
  }
  if (running_ && !std::holds_alternative<Unknown>(*request)) {
    // All-stop: while the target runs only an interrupt is expected.
    reply_error(ErrorCode::Busy, "the target is running");
    return;
  }
  std::visit([this](const auto& r) { handle(r); }, *request);
  // Kill and a resume of a running target are the only requests without an immediate reply.
  assert(replies_ == 1 || std::holds_alternative<Kill>(*request) || running_);
}

void Session::send_payload(const std::string& payload) {
  note("->", payload);
  std::string wire = encode_packet(payload);
  out_ += wire;
  last_packet_ = std::move(wire);
}

void Session::reply(const Reply& r) {
  ++replies_;
  send_payload(encode_reply(r, negotiated_.reply));
}

void Session::reply_error(ErrorCode code, std::string text) { reply(ErrorReply{code, std::move(text)}); }

void Session::send_console(std::string_view text) {
  for (const std::string& p : console_output_packets(text, options_.packet_size)) send_payload(p);
}

// --- threads and stop state -----------------------------------------------------------

ThreadId Session::thread_of(unsigned cpu) const { return ThreadId::plain(IdPart::id(cpu + 1)); }

std::optional<unsigned> Session::resolve_thread(const ThreadId& id) const {
  switch (id.tid.kind) {
    case IdPart::Kind::Any:
    case IdPart::Kind::All: return stopped_cpu_;
    case IdPart::Kind::Id:
      if (id.tid.value >= 1 && id.tid.value <= backend_.cpu_count()) return static_cast<unsigned>(id.tid.value - 1);
      return std::nullopt;
  }
  return std::nullopt;
}

StopReply Session::stop_reply(unsigned cpu, GdbSignal signal, StopReason reason) const {
  StopReply s;
  s.signal = signal;
  s.thread = thread_of(cpu);
  s.reason = reason;
  if (auto st = backend_.cpu_state(cpu)) {
    for (unsigned regno : {RegisterLayout::pswm, RegisterLayout::pswa, RegisterLayout::r15}) {
      ExpeditedRegister e;
      e.regno = regno;
      std::vector<std::uint8_t> v;
      layout_.read(*st, regno, v);
      e.value.assign(v.begin(), v.end());
      s.registers.push_back(std::move(e));
    }
  }
  return s;
}

std::string Session::on_stop(const StopEvent& event) {
  out_.clear();
  if (!running_) return {};
  running_ = false;
  stopped_cpu_ = event.cpu < backend_.cpu_count() ? event.cpu : 0;
  general_cpu_ = stopped_cpu_;
  LastStop stop;
  switch (event.reason) {
    case StopEvent::Reason::interrupted: stop.signal = GdbSignal::Int; break;
    case StopEvent::Reason::breakpoint: {
      const bool hardware = event.breakpoint == StopEvent::Breakpoint::hardware;
      if (hardware && negotiated_.reply.hwbreak) stop.reason = StopReason::HwBreak;
      if (!hardware && negotiated_.reply.swbreak) stop.reason = StopReason::SwBreak;
      break;
    }
    case StopEvent::Reason::watchpoint:
      stop.reason = event.watch == StopEvent::Watch::read     ? StopReason::ReadWatch
                    : event.watch == StopEvent::Watch::access ? StopReason::AccessWatch
                                                              : StopReason::Watch;
      stop.watch_address = event.address;
      break;
    case StopEvent::Reason::step:
    case StopEvent::Reason::halted: break;
    case StopEvent::Reason::exited:
      send_payload(encode_reply(ExitedReply{static_cast<std::uint8_t>(event.signal)}, negotiated_.reply));
      return std::move(out_);
  }
  // The signal as the target reported it (QEMU: 2 after an interrupt, 5 for a trap...).
  if (event.signal > 0 && event.signal < 256) stop.signal = static_cast<GdbSignal>(event.signal);
  last_stop_ = stop;
  send_payload(encode_reply(last_stop_reply(stopped_cpu_), negotiated_.reply));
  return std::move(out_);
}

std::string Session::on_stop_failed(std::string_view why) {
  out_.clear();
  if (!running_) return {};
  running_ = false;
  // No stop will come: the target is gone. Say why on GDB's console, then end the
  // inferior (GDB has no other way to leave "continuing" than a stop or an exit).
  send_console(fmt::format("s390bridge: the target is gone while running: {}\n", why));
  send_payload(encode_reply(TerminatedReply{GdbSignal::Kill}, negotiated_.reply));
  return std::move(out_);
}

StopReply Session::last_stop_reply(unsigned cpu) const {
  // All-stop: every vCPU stopped with the last stop; the one that caused it reports it as
  // it was, the others a plain stop (SIGTRAP, no reason).
  if (cpu != stopped_cpu_) return stop_reply(cpu, GdbSignal::Trap, StopReason::None);
  StopReply s = stop_reply(cpu, last_stop_.signal, last_stop_.reason);
  s.watch_address = last_stop_.watch_address;
  return s;
}

}  // namespace s390b::rsp
