// One client connection's protocol semantics. Pure: bytes in, bytes out, no I/O; the
// transport (server.h) owns the socket and feeds this. Nothing below knows RSP.
//
//   Session s(backend, options);
//   std::string out = s.on_bytes(received);   // acks, replies, console output
//   write(out);
//
// Rules kept here (GDB manual, Remote Protocol appendix; docs/architecture.md):
// * Exactly one reply per request on every path (checked in debug builds).
// * Protocol errors are never fatal: bad checksum -> `-`, malformed -> `Exx`, unknown ->
//   empty. Only the transport closing ends a session (`D`/`k` ask it to).
// * Negotiated state lives in one struct, reset by qSupported and by a new connection;
//   no-ack mode alone lasts to the end of the connection.
// * Memory packets go through the current vCPU's view (monitor view) and MemoryAccess:
//   chunked MEMOPs, short reads up to the first failing page, writes checked first.
// * What is advertised (qSupported, vCont?, monitor help) is derived from the backend's
//   capabilities.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/memory_access.h"
#include "backends/backend.h"
#include "backends/read_only_backend.h"
#include "rsp/codec.h"
#include "gdbstub/registers.h"
#include "gdbstub/reply.h"
#include "gdbstub/request.h"
#include "translate/space.h"

namespace s390b::rsp {

// The PacketSize we advertise: GDB reads PacketSize/2 bytes per m/x request.
inline constexpr std::size_t kPacketSize = 0x20000;

struct SessionOptions {
  bool read_only = false;
  AddressSpace initial_view = AddressSpace::of(AddressSpace::Kind::cpu);
  std::size_t packet_size = kPacketSize;
  // Called with each packet in and out ("<- ..." / "-> ...") when tracing is on.
  std::function<void(std::string_view)> trace;
  // Called on a protocol error (bad checksum, malformed or oversized packet) with the
  // recent packets, oldest first, so the error can be diagnosed from what led to it.
  std::function<void(std::string_view what, const std::deque<std::string>& recent)> on_protocol_error;
  // Events worth a line in the server's log (the guest's dump file changed under us).
  std::function<void(std::string_view)> log;
};

// The `Exx` code for a host error (EROFS -> read-only, EINVAL -> invalid...).
ErrorCode error_for(HostError e);

class Session {
 public:
  Session(Backend& backend, SessionOptions options);

  // Feeds bytes from the client; returns the bytes to send back.
  std::string on_bytes(std::string_view data);
  // Bytes to send when the backend reports that the running target stopped.
  std::string on_stop(const StopEvent& event);
  // Bytes to send when waiting for the stop failed (the target is gone, `why`): never a
  // made-up stop.
  std::string on_stop_failed(std::string_view why);
  // True once the client detached or killed: the transport should close.
  bool finished() const { return finished_; }
  // True while the target runs (the transport waits for a stop off the I/O thread).
  bool running() const { return running_; }
  // Complete packets with a good checksum received so far (the transport's handshake
  // deadline: a connection that never sends one is not a debugger).
  std::uint64_t packets_handled() const { return packets_handled_; }
  // Set when a resume was requested since the last call: the transport must start
  // waiting for the stop. Returns and clears the flag.
  bool take_resume_request();

  // The recent packets (for the error dump of --trace).
  const std::deque<std::string>& recent_packets() const { return recent_; }
  const std::vector<AddressSpace>& views() const { return views_; }

 private:
  struct Negotiated {
    ReplyContext reply;
  };

  void handle_event(const FrameEvent& event);
  void handle_packet(std::string_view payload);
  void reply(const Reply& r);
  void reply_error(ErrorCode code, std::string text);
  void send_console(std::string_view text);
  void send_payload(const std::string& payload);
  void note(std::string_view direction, std::string_view payload);
  void protocol_error(std::string_view what);

  // Handlers, one per request kind (session_*.cpp).
  void handle(const ReadMemory& r);
  void handle(const ReadMemoryBinary& r);
  void handle(const WriteMemory& r);
  void handle(const WriteMemoryBinary& r);
  void handle(const ReadRegisters& r);
  void handle(const WriteRegisters& r);
  void handle(const ReadRegister& r);
  void handle(const WriteRegister& r);
  void handle(const InsertBreakpoint& r);
  void handle(const RemoveBreakpoint& r);
  void handle(const SetThread& r);
  void handle(const ThreadAlive& r);
  void handle(const QueryHalt& r);
  void handle(const Continue& r);
  void handle(const Step& r);
  void handle(const ContinueWithSignal& r);
  void handle(const StepWithSignal& r);
  void handle(const VCont& r);
  void handle(const VContQuery& r);
  void handle(const Kill& r);
  void handle(const VKill& r);
  void handle(const Detach& r);
  void handle(const ExtendedMode& r);
  void handle(const QuerySupported& r);
  void handle(const StartNoAckMode& r);
  void handle(const XferFeaturesRead& r);
  void handle(const XferRead& r);
  void handle(const ThreadInfoFirst& r);
  void handle(const ThreadInfoNext& r);
  void handle(const QueryCurrentThread& r);
  void handle(const QueryAttached& r);
  void handle(const ThreadExtraInfo& r);
  void handle(const MonitorCommand& r);
  void handle(const QueryOffsets& r);
  void handle(const QuerySymbol& r);
  void handle(const QueryTraceStatus& r);
  void handle(const MustReplyEmpty& r);
  void handle(const SetThreadEvents& r);
  void handle(const SetNonStop& r);
  void handle(const ListThreadsInStopReply& r);
  void handle(const ThreadSuffixSupported& r);
  void handle(const EnableErrorStrings& r);
  void handle(const ThreadStopInfo& r);
  void handle(const HostInfo& r);
  void handle(const ProcessInfo& r);
  void handle(const Unknown& r);

  // Helpers.
  void read_memory(std::uint64_t addr, std::uint64_t length, MemoryEncoding encoding);
  void write_memory(std::uint64_t addr, const Bytes& data);
  std::optional<unsigned> resolve_thread(const ThreadId& id) const;  // -> vCPU index
  // The vCPU a register packet acts on: its thread suffix, else Hg's. Replies the error
  // itself and returns nullopt for an unknown thread.
  std::optional<unsigned> register_cpu(const std::optional<ThreadId>& suffix);
  ThreadId thread_of(unsigned cpu) const;
  StopReply stop_reply(unsigned cpu, GdbSignal signal, StopReason reason) const;
  // The last stop as it was reported (`?`, qThreadStopInfo).
  StopReply last_stop_reply(unsigned cpu) const;
  void resume(const std::vector<unsigned>& cpus, std::optional<unsigned> step_cpu);
  void kill_target();
  std::string thread_description(unsigned cpu) const;
  std::string threads_document() const;
  void fail_memop(const MemopResult& result, std::string_view what);

  // Read-only: the session talks only to this wrapper, which refuses every change (one
  // place decides what read-only means; read_only_backend.h).
  std::unique_ptr<ReadOnlyBackend> read_only_;
  Backend& backend_;
  MemoryAccess memory_;
  SessionOptions options_;
  RegisterLayout layout_;
  FrameDecoder decoder_;
  Negotiated negotiated_;
  // Not part of Negotiated: acks cannot be turned back on within a connection (a later
  // qSupported leaves the client still expecting none).
  bool no_ack_ = false;
  std::vector<AddressSpace> views_;
  unsigned general_cpu_ = 0;   // Hg
  unsigned continue_cpu_ = 0;  // Hc
  unsigned stopped_cpu_ = 0;   // the vCPU of the last stop (listed first)
  // How the last stop was reported; before any, a plain SIGTRAP (the target was found
  // stopped).
  struct LastStop {
    GdbSignal signal = GdbSignal::Trap;
    StopReason reason = StopReason::None;
    std::uint64_t watch_address = 0;
  };
  LastStop last_stop_;
  bool running_ = false;
  bool resume_requested_ = false;
  bool interrupt_pending_ = false;  // a 0x03 received while stopped, for the next resume
  bool finished_ = false;
  std::uint64_t packets_handled_ = 0;
  bool stale_logged_ = false;    // the "file changed" log line was written
  bool resent_in_piece_ = false;  // a `-` of the current on_bytes input was answered
  std::string out_;
  std::string last_packet_;     // for retransmission on `-`
  int replies_ = 0;             // replies sent for the request being handled
  std::string threads_xml_;     // kept alive while a qXfer:threads window is encoded
  std::deque<std::string> recent_;
};

}  // namespace s390b::rsp
