// libFuzzer target for the whole protocol layer: hostile client bytes through
// Session::on_bytes against the demo guest (decoder, parser, every handler, MemoryAccess,
// the translation walker, the monitor). It must never crash, hang or allocate without
// bound, and what it sends must always be well formed.
//
// Input layout:
//   byte 0     flags (see Flag below)
//   bytes 1-3  chunk lengths, cycled, for feeding the stream in pieces (value + 1)
//   rest       the client's byte stream
// With Flag::strict the stream is instead fed one frame event at a time (boundaries from
// a shadow FrameDecoder configured like the session's), and each event's output is
// checked exactly: one reply per request (plus console `O` packets), `-` per bad frame,
// nothing for acks and interrupts, the last reply again for a nak.
//
// The demo guest is built once; a wrapper counts state changes (writes, register and key
// stores) and the guest is rebuilt after an input that changed it, so every input runs
// against the same guest and crashes reproduce.
//
// Fuzz by hand:
//   CXX=clang++ cmake -S . -B build-fuzz -DS390B_FUZZ=ON && cmake --build build-fuzz --target fuzz_session
//   build-fuzz/fuzz/fuzz_session -max_total_time=120 /tmp/corpus tests/fuzz/corpus/fuzz_session
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backends/emulated/demo_guest.h"
#include "rsp/codec.h"
#include "gdbstub/request.h"
#include "gdbstub/session.h"

using namespace s390b;
using namespace s390b::rsp;

namespace {

namespace Flag {
constexpr std::uint8_t no_ack = 0x01;         // prologue: qSupported + QStartNoAckMode
constexpr std::uint8_t error_message = 0x02;  // prologue qSupported carries error-message+
constexpr std::uint8_t read_only = 0x04;
constexpr std::uint8_t small_packets = 0x08;  // PacketSize kSmallPacketSize: overflow is reachable
constexpr std::uint8_t runnable = 0x10;       // the backend has (fake) run control
constexpr std::uint8_t strict = 0x20;         // feed event by event and check each reply
constexpr std::uint8_t stop_at_once = 0x40;   // a resumed guest stops after the next event
constexpr std::uint8_t absolute_view = 0x80;  // initial view: absolute
}  // namespace Flag

constexpr std::size_t kHeader = 4;
constexpr std::size_t kSmallPacketSize = 0x200;
constexpr std::size_t kMaxDocument = 0x8000;  // target.xml and the threads document fit
constexpr std::string_view kGdb13Features =
    "multiprocess+;swbreak+;hwbreak+;qRelocInsn+;fork-events+;vfork-events+;exec-events+;"
    "vContSupported+;QThreadEvents+;no-resumed+;memory-tagging+;xmlRegisters=i386";

// Traps on a broken invariant, naming the line of the check (libFuzzer shows stderr).
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_session.cpp:%u: invariant violated\n", line);
  __builtin_trap();
}

// --- the backend: the demo guest, change tracking, optional run control --------------

class FuzzGuest final : public Backend, public RunControl, public StorageKeys {
 public:
  void rebuild() {
    inner_ = demo::make_guest();
    dirty_ = false;
  }
  bool dirty() const { return dirty_; }
  void set_runnable(bool r) { runnable_ = r; }
  void reset_run_state() {
    running_ = false;
    pending_.reset();
    changed_ = false;
  }
  // Whether anything that changes the guest reached it since reset_run_state(): a write
  // that is not check-only, an injection, a register or key store, a resume or step. A
  // read-only session must never let one through (backends/read_only_backend.h).
  bool changed() const { return changed_; }
  // The stop the fake has ready (a step, an interrupt), if any.
  std::optional<StopEvent> take_stop() { return std::exchange(pending_, std::nullopt); }
  bool guest_running() const { return running_; }

  std::string_view name() const override { return "fuzz-demo"; }
  unsigned cpu_count() const override { return inner_->cpu_count(); }
  std::uint32_t op_limit() const override { return inner_->op_limit(); }
  Facilities facilities() const override { return inner_->facilities(); }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override {
    if (op.kind == MemopKind::logical_write || op.kind == MemopKind::sida_write) dirty_ = true;
    note_change(op, op.kind == MemopKind::logical_write || op.kind == MemopKind::sida_write);
    return inner_->vcpu_memop(cpu, op);
  }
  MemopResult vm_memop(const Memop& op) override {
    if (op.kind != MemopKind::absolute_read) dirty_ = true;
    note_change(op, op.kind != MemopKind::absolute_read);
    return inner_->vm_memop(op);
  }
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_->cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) override {
    dirty_ = true;
    changed_ = true;
    return inner_->set_cpu_state(cpu, state);
  }
  IpteGuard ipte_lock() override { return inner_->ipte_lock(); }
  RunControl* run_control() override { return runnable_ ? this : nullptr; }
  StorageKeys* storage_keys() override { return this; }
  const MemoryMap* memory_map() const override { return inner_->memory_map(); }

  // StorageKeys
  tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const override {
    return inner_->get_key(absolute);
  }
  tl::expected<void, HostError> set_key(std::uint64_t absolute, StorageKey key) override {
    dirty_ = true;
    changed_ = true;
    return inner_->set_key(absolute, key);
  }

  // RunControl: resumes "run" until interrupted; a step stops at once.
  tl::expected<void, HostError> resume(const std::vector<unsigned>& cpus) override {
    for (unsigned cpu : cpus) check(cpu < cpu_count());
    changed_ = true;
    running_ = true;
    return {};
  }
  tl::expected<void, HostError> step(unsigned cpu) override {
    check(cpu < cpu_count());
    changed_ = true;
    running_ = true;
    pending_ = StopEvent{cpu, StopEvent::Reason::step, 0};
    return {};
  }
  tl::expected<void, HostError> interrupt() override {
    if (running_) pending_ = StopEvent{0, StopEvent::Reason::interrupted, 0};
    return {};
  }
  tl::expected<StopEvent, HostError> wait_for_stop() override {
    check(false);  // the transport's call; the fuzzer delivers stops itself
    return tl::unexpected(HostError::einval);
  }

 private:
  void note_change(const Memop& op, bool store) {
    if ((store && !(op.flags & memop_flag::check_only)) || (op.flags & memop_flag::inject_exception)) changed_ = true;
  }

  std::unique_ptr<EmulatedBackend> inner_ = demo::make_guest();
  bool dirty_ = false;
  bool changed_ = false;
  bool runnable_ = false;
  bool running_ = false;
  std::optional<StopEvent> pending_;
};

// --- output checks ----------------------------------------------------------------------

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

struct Output {
  std::size_t acks = 0;
  std::size_t naks = 0;
  std::vector<std::string> packets;  // unescaped payloads
};

// Splits the session's output, trapping on anything malformed: a byte that is not `+`,
// `-` or a frame; a body with a raw `$` or `*` or a lone `}`; a checksum that is not two
// lowercase digits matching the body.
Output parse_output(std::string_view out, std::size_t packet_size) {
  Output o;
  std::size_t i = 0;
  while (i < out.size()) {
    if (out[i] == '+' || out[i] == '-') {
      ++(out[i] == '+' ? o.acks : o.naks);
      ++i;
      continue;
    }
    check(out[i] == '$');
    const std::size_t hash = out.find('#', i + 1);
    check(hash != std::string_view::npos && hash + 2 < out.size());
    const std::string_view body = out.substr(i + 1, hash - i - 1);
    const int hi = hex_value(out[hash + 1]);
    const int lo = hex_value(out[hash + 2]);
    check(hi >= 0 && lo >= 0);
    check(static_cast<std::uint8_t>(hi << 4 | lo) == checksum(body));
    // Bounded by the negotiated PacketSize (memory data: at most PacketSize bytes, twice
    // that escaped) or by the size of a qXfer document; never by what the client asked.
    check(body.size() <= 2 * std::max(packet_size, kMaxDocument) + 16);
    std::string payload;
    for (std::size_t k = 0; k < body.size(); ++k) {
      check(body[k] != '$' && body[k] != '*');
      if (body[k] == '}') {
        check(k + 1 < body.size());
        payload.push_back(static_cast<char>(body[++k] ^ 0x20));
      } else {
        payload.push_back(body[k]);
      }
    }
    o.packets.push_back(std::move(payload));
    i = hash + 3;
  }
  return o;
}

bool is_console(const std::string& p) { return p.size() > 1 && p[0] == 'O' && p != "OK"; }

// `E` + two lowercase hex digits, `E.` + text (GDB's error-message+), or `Exx;` + the
// text in hex (LLDB's QEnableErrorStrings).
bool is_error(const std::string& p) {
  if (p.size() >= 2 && p[0] == 'E' && p[1] == '.') return true;
  if (p.size() < 3 || p[0] != 'E' || hex_value(p[1]) < 0 || hex_value(p[2]) < 0) return false;
  if (p.size() == 3) return true;
  if (p[3] != ';' || p.size() % 2 != 0) return false;
  return std::all_of(p.begin() + 4, p.end(), [](char c) { return hex_value(c) >= 0; });
}

// --- driving the session ------------------------------------------------------------------

struct Run {
  FuzzGuest& guest;
  Session& session;
  std::uint8_t flags;
  std::size_t packet_size;
  std::string last_reply_wire;  // what a nak must retransmit (strict mode)

  // After each event or chunk: deliver the fake's pending stop (or, with stop_at_once,
  // any stop) the way the transport would.
  void deliver_stops() {
    if (!session.running()) return;
    (void)session.take_resume_request();
    std::optional<StopEvent> stop = guest.take_stop();
    if (!stop && (flags & Flag::stop_at_once)) stop = StopEvent{1, StopEvent::Reason::breakpoint, 0x600000};
    if (!stop) return;
    guest.reset_run_state();
    const std::string out = session.on_stop(*stop);
    const Output o = parse_output(out, packet_size);
    check(o.packets.size() == 1 && o.acks == 0 && o.naks == 0);
    check(!session.running());
    last_reply_wire = out;
  }

  void feed_chunked(std::string_view stream, const std::uint8_t* lengths) {
    std::size_t at = 0;
    for (unsigned n = 0; at < stream.size() && !session.finished(); ++n) {
      const std::size_t len = std::min<std::size_t>(lengths[n % 3] + 1u, stream.size() - at);
      parse_output(session.on_bytes(stream.substr(at, len)), packet_size);
      at += len;
      deliver_stops();
    }
  }

  // One frame event at a time, each output checked against what the event requires.
  void feed_strict(std::string_view stream) {
    FrameDecoder shadow(packet_size);
    shadow.set_verify_checksum(!(flags & Flag::no_ack));
    // Whether the session sends `+`/`-`. Unknown after a qSupported in no-ack mode: the
    // session currently turns acks back on there (reported; the manual says acks never
    // come back), so accept either and learn which from the next event.
    std::optional<bool> acks = (flags & Flag::no_ack) == 0;
    // A frame whose `#` is followed by a non-hex byte ends AT that byte, which the decoder
    // leaves unconsumed: the session, fed only up to it, reports the event with the next
    // piece. Its output (`-`, or an error reply for an oversized frame in no-ack mode)
    // then leads the next piece's output.
    std::optional<FrameEventKind> deferred;
    std::string_view rest = stream;
    while (!rest.empty() && !session.finished()) {
      const char* begin = rest.data();
      const std::optional<FrameEvent> ev = shadow.next(rest);
      const std::string_view piece(begin, static_cast<std::size_t>(rest.data() - begin));
      const bool was_running = session.running();
      std::string out = session.on_bytes(piece);
      if (deferred) {
        const bool nak = !out.empty() && out[0] == '-';
        if (!acks) acks = nak;
        if (*acks) {
          check(nak);
          out.erase(0, 1);
        } else {
          // No-ack mode: an oversized frame or a broken trailer is answered with an error.
          check(!out.empty() && out[0] == '$');
          const std::size_t end = out.find('#') + 3;
          const Output e = parse_output(std::string_view(out).substr(0, end), packet_size);
          check(e.packets.size() == 1 && is_error(e.packets[0]));
          last_reply_wire = out.substr(0, end);
          out.erase(0, end);
        }
        deferred.reset();
      }
      const Output o = parse_output(out, packet_size);
      if (!ev) {  // an unfinished frame or noise run: nothing yet
        check(out.empty());
        break;
      }
      if ((ev->kind == FrameEventKind::BadChecksum || ev->kind == FrameEventKind::Overflow) &&
          (piece.back() == '#' || (piece.size() >= 2 && piece[piece.size() - 2] == '#'))) {
        check(out.empty());
        deferred = ev->kind;
        continue;
      }
      switch (ev->kind) {
        case FrameEventKind::Packet: {
          if (!acks) acks = o.acks == 1;
          check(o.naks == 0 && o.acks == (*acks ? 1u : 0u));
          if (*acks) check(out[0] == '+');
          const bool resumed = !was_running && session.running();
          if (ev->payload == "k" && !was_running) {
            check(o.packets.empty() && session.finished());
            break;
          }
          if (resumed) {
            check(o.packets.empty());
            break;
          }
          // Console output, then exactly one reply.
          check(!o.packets.empty());
          for (std::size_t k = 0; k + 1 < o.packets.size(); ++k) check(is_console(o.packets[k]));
          check(!is_console(o.packets.back()));
          if (was_running && !o.packets.back().empty()) check(is_error(o.packets.back()));  // busy
          last_reply_wire = out.substr(out.rfind('$'));
          if (ev->payload == "QStartNoAckMode" && o.packets.back() == "OK") {
            acks = false;
            shadow.set_verify_checksum(false);
          } else if (request_packet_name(ev->payload) == "qSupported" && !was_running && !*acks &&
                     !is_error(o.packets.back())) {
            acks.reset();
          }
          break;
        }
        case FrameEventKind::BadChecksum:
          if (!acks) acks = o.naks == 1;  // a broken trailer is reported even unverified
          if (!*acks) {  // no-ack mode: the client waits for a reply, it gets an error
            check(o.packets.size() == 1 && is_error(o.packets[0]) && o.naks == 0 && o.acks == 0);
            last_reply_wire = out;
          } else {
            check(o.packets.empty() && o.acks == 0 && o.naks == 1);
          }
          break;
        case FrameEventKind::Overflow:
          if (!acks) acks = o.naks == 1;
          if (!*acks) {
            check(o.packets.size() == 1 && is_error(o.packets[0]) && o.naks == 0);
            last_reply_wire = out;
          } else {
            check(o.packets.empty() && o.naks == 1);
          }
          break;
        case FrameEventKind::Nak:
          // Ack mode: the last reply again. No-ack mode: that, or (better) nothing.
          check(out == last_reply_wire || (acks != true && out.empty()));
          break;
        case FrameEventKind::Ack:
        case FrameEventKind::Interrupt:
        case FrameEventKind::Noise:
          check(out.empty());
          break;
      }
      if (ev->kind != FrameEventKind::Nak) deliver_stops();
    }
  }
};

std::string frame(std::string_view payload) {
  std::string out = "$";
  out += payload;
  out += '#';
  const std::uint8_t sum = checksum(payload);
  out += "0123456789abcdef"[sum >> 4];
  out += "0123456789abcdef"[sum & 0xf];
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FuzzGuest* guest = new FuzzGuest();  // built once (deliberately never destroyed)
  if (size < kHeader) return 0;
  const std::uint8_t flags = data[0];
  const std::string_view stream(reinterpret_cast<const char*>(data + kHeader), size - kHeader);

  if (guest->dirty()) guest->rebuild();
  guest->set_runnable((flags & Flag::runnable) != 0);
  guest->reset_run_state();

  SessionOptions options;
  options.read_only = (flags & Flag::read_only) != 0;
  options.packet_size = (flags & Flag::small_packets) ? kSmallPacketSize : kPacketSize;
  if (flags & Flag::absolute_view) options.initial_view = AddressSpace::of(AddressSpace::Kind::absolute);
  // The trace and error hooks run on every path too.
  std::size_t traced = 0;
  options.trace = [&traced](std::string_view line) { traced += line.size(); };
  options.on_protocol_error = [](std::string_view what, const std::deque<std::string>& recent) {
    check(!what.empty());
    check(recent.size() <= 64);
  };
  Session session(*guest, options);
  Run run{*guest, session, flags, options.packet_size, {}};

  // Prologue: negotiate the way GDB does, so the fuzzed bytes start in that state.
  if (flags & (Flag::no_ack | Flag::error_message)) {
    std::string q = "qSupported:";
    q += kGdb13Features;
    if (flags & Flag::error_message) q += ";error-message+";
    std::string prologue = frame(q);
    if (flags & Flag::no_ack) prologue += "+" + frame("QStartNoAckMode");
    const std::string out = session.on_bytes(prologue);
    const Output o = parse_output(out, options.packet_size);
    check(o.packets.size() == ((flags & Flag::no_ack) ? 2u : 1u));
    run.last_reply_wire = out.substr(out.rfind('$'));
  }

  if (flags & Flag::strict) {
    run.feed_strict(stream);
  } else {
    run.feed_chunked(stream, data + 1);
  }
  check(session.recent_packets().size() <= 64);
  if (options.read_only) check(!guest->changed());
  return 0;
}
