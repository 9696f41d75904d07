// Requests as values: what a client packet asks for, parsed from the raw payload that
// FrameDecoder delivers (see codec.h). One small struct per packet kind, all in the
// `Request` variant. Parsing is pure and never touches a backend; the session interprets.
//
//   auto req = parse_request(event.payload);
//   if (!req) reply Error{error_code(req.error())};       // malformed: `Exx`, keep going
//   else std::visit(handler, *req);
//
// Rules the parser follows (GDB manual, Remote Protocol appendix):
// * Names match fully, then a separator or end (packet_table.h): `qC` is not `qCRC`.
//   Anything no table entry matches is `Unknown` (the session replies empty), which
//   includes unknown q/Q/v names and unknown Z types (Z5...). A parse error is only
//   reported for a *recognised* packet with malformed arguments.
// * Numbers are hex, at most 64 bits; a longer one is NumberOverflow, never a wrap.
//   Lengths are reported as u64 as sent; checking addr + length for wrap-around and
//   clamping lengths to PacketSize is the session's job.
// * M and X: the data must be exactly `length` bytes (LengthMismatch otherwise). X data
//   is un-escaped here; no other packet carries binary data we accept.
// * Thread ids: `tid`, `-1` (all), `0` (any), and the multiprocess form `p<pid>.<tid>`
//   (`p<pid>` alone means all threads of pid), parsed whatever was negotiated.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <tl/expected.hpp>

#include "gdbstub/codes.h"
#include "rsp/hex.h"

namespace s390b::rsp {

enum class ParseError : std::uint8_t {
  MissingField,    // a required argument or separator is absent
  BadNumber,       // a field that must be a hex number is not one
  NumberOverflow,  // a hex number exceeds 64 bits (or a signal exceeds 8 bits)
  BadThreadId,     // not `tid`, `-1`, `0`, `p<pid>` or `p<pid>.<tid>`
  BadHexData,      // hex data with an odd length or a non-hex digit
  BadBinaryData,   // binary data ending with a lone `}` escape
  LengthMismatch,  // M/X: the data is not exactly `length` bytes
  BadAction,       // vCont: unknown action letter
  BadValue,        // a field outside its allowed set (e.g. QNonStop:2, Hx)
  TrailingData,    // characters after the last argument
};

const char* to_string(ParseError e);
// The `Exx` code for a malformed request: always EINVAL; the variety lives in to_string
// for `E.text` replies and the trace.
ErrorCode error_code(ParseError e);

// One component of a thread id.
struct IdPart {
  enum class Kind : std::uint8_t { Any, All, Id };  // `0`, `-1`, a positive number
  Kind kind = Kind::Any;
  std::uint64_t value = 0;  // the number when kind == Id (never 0)

  static constexpr IdPart any() { return {Kind::Any, 0}; }
  static constexpr IdPart all() { return {Kind::All, 0}; }
  static constexpr IdPart id(std::uint64_t v) { return v == 0 ? any() : IdPart{Kind::Id, v}; }
  bool operator==(const IdPart&) const = default;
};

struct ThreadId {
  std::optional<IdPart> pid;  // present only in the multiprocess form
  IdPart tid;

  static constexpr ThreadId plain(IdPart t) { return {std::nullopt, t}; }
  bool operator==(const ThreadId&) const = default;
};

tl::expected<ThreadId, ParseError> parse_thread_id(std::string_view text);

// --- memory (parse_memory.cpp) ------------------------------------------------------

struct ReadMemory {  // m addr,length
  std::uint64_t addr = 0;
  std::uint64_t length = 0;
  bool operator==(const ReadMemory&) const = default;
};
struct ReadMemoryBinary {  // x addr,length (GDB 16+; `0x` prefixes tolerated for LLDB)
  std::uint64_t addr = 0;
  std::uint64_t length = 0;
  bool operator==(const ReadMemoryBinary&) const = default;
};
struct WriteMemory {  // M addr,length:hex
  std::uint64_t addr = 0;
  Bytes data;
  bool operator==(const WriteMemory&) const = default;
};
struct WriteMemoryBinary {  // X addr,length:binary (X addr,0: is GDB's support probe)
  std::uint64_t addr = 0;
  Bytes data;
  bool operator==(const WriteMemoryBinary&) const = default;
};

// --- registers (parse_memory.cpp) ---------------------------------------------------

// Register packets may end in LLDB's thread suffix `;thread:<tid>;` (after the client
// saw QThreadSuffixSupported answered OK): the thread they act on instead of Hg's.
struct ReadRegisters {  // g[;thread:tid;]
  std::optional<ThreadId> thread;
  bool operator==(const ReadRegisters&) const = default;
};
struct WriteRegisters {  // G hex[;thread:tid;]
  Bytes data;
  std::optional<ThreadId> thread;
  bool operator==(const WriteRegisters&) const = default;
};
struct ReadRegister {  // p n[;thread:tid;]
  std::uint64_t regno = 0;
  std::optional<ThreadId> thread;
  bool operator==(const ReadRegister&) const = default;
};
struct WriteRegister {  // P n=hex[;thread:tid;]
  std::uint64_t regno = 0;
  Bytes data;
  std::optional<ThreadId> thread;
  bool operator==(const WriteRegister&) const = default;
};

// --- breakpoints (parse_memory.cpp) -------------------------------------------------

enum class BreakpointType : std::uint8_t {
  Software = 0,     // Z0: kind = instruction length (2 on s390)
  Hardware = 1,     // Z1
  WriteWatch = 2,   // Z2: kind = length in bytes
  ReadWatch = 3,    // Z3
  AccessWatch = 4,  // Z4
};
struct Breakpoint {
  BreakpointType type = BreakpointType::Software;
  std::uint64_t addr = 0;
  std::uint64_t kind = 0;
  // Anything after `;` (conditions `X len,expr`, `cmds:`), kept raw: it only arrives if
  // ConditionalBreakpoints/BreakpointCommands were advertised, but is tolerated anyway.
  std::string conditions;
  bool operator==(const Breakpoint&) const = default;
};
struct InsertBreakpoint : Breakpoint {};  // Z0..Z4 type,addr,kind[;...]
struct RemoveBreakpoint : Breakpoint {};  // z0..z4

// --- run control and threads (parse_run.cpp) ----------------------------------------

enum class ThreadOp : std::uint8_t {
  General,   // Hg: thread for g/G/p/P/m/M
  Continue,  // Hc: thread for legacy c/s
};
struct SetThread {  // Hg<tid> / Hc<tid>
  ThreadOp op = ThreadOp::General;
  ThreadId thread;
  bool operator==(const SetThread&) const = default;
};
struct ThreadAlive {  // T<tid>
  ThreadId thread;
  bool operator==(const ThreadAlive&) const = default;
};
struct QueryHalt {  // ?
  bool operator==(const QueryHalt&) const = default;
};
struct Continue {  // c [addr]
  std::optional<std::uint64_t> addr;
  bool operator==(const Continue&) const = default;
};
struct Step {  // s [addr]
  std::optional<std::uint64_t> addr;
  bool operator==(const Step&) const = default;
};
struct ContinueWithSignal {  // C sig[;addr]
  std::uint8_t signal = 0;  // GDB signal number (codes.h GdbSignal)
  std::optional<std::uint64_t> addr;
  bool operator==(const ContinueWithSignal&) const = default;
};
struct StepWithSignal {  // S sig[;addr]
  std::uint8_t signal = 0;
  std::optional<std::uint64_t> addr;
  bool operator==(const StepWithSignal&) const = default;
};

struct VContAction {
  enum class Kind : std::uint8_t {
    Continue,        // c
    ContinueSignal,  // C sig
    Step,            // s
    StepSignal,      // S sig
    Stop,            // t (non-stop only)
    RangeStep,       // r start,end
  };
  Kind kind = Kind::Continue;
  std::uint8_t signal = 0;           // ContinueSignal, StepSignal
  std::uint64_t range_start = 0;     // RangeStep: step while pc in [start, end)
  std::uint64_t range_end = 0;
  std::optional<ThreadId> thread;    // absent: the default action for other threads
  bool operator==(const VContAction&) const = default;
};
struct VCont {  // vCont;action[:tid];... (for each thread the leftmost matching action wins)
  std::vector<VContAction> actions;
  bool operator==(const VCont&) const = default;
};
struct VContQuery {  // vCont?
  bool operator==(const VContQuery&) const = default;
};
struct Kill {  // k (no reply required)
  bool operator==(const Kill&) const = default;
};
struct VKill {  // vKill;pid
  std::uint64_t pid = 0;
  bool operator==(const VKill&) const = default;
};
struct Detach {  // D or D;pid
  std::optional<std::uint64_t> pid;
  bool operator==(const Detach&) const = default;
};
struct ExtendedMode {  // !
  bool operator==(const ExtendedMode&) const = default;
};

// --- queries and settings (parse_query.cpp) -----------------------------------------

struct Feature {  // one element of qSupported
  enum class State : std::uint8_t {
    Supported,    // name+  (a bare name, outside the grammar, is tolerated as this)
    Unsupported,  // name-
    Query,        // name?
    Value,        // name=value
  };
  std::string name;
  State state = State::Supported;
  std::string value;  // for State::Value
  bool operator==(const Feature&) const = default;
};
struct QuerySupported {  // qSupported[:feature;feature...]; resets negotiated state
  std::vector<Feature> features;
  const Feature* find(std::string_view name) const;
  // True if the client sent `name+`.
  bool supports(std::string_view name) const;
  bool operator==(const QuerySupported&) const = default;
};
struct StartNoAckMode {  // QStartNoAckMode
  bool operator==(const StartNoAckMode&) const = default;
};
struct XferFeaturesRead {  // qXfer:features:read:annex:offset,length
  std::string annex;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool operator==(const XferFeaturesRead&) const = default;
};
// qXfer:object:read:annex:offset,length for any other object, so the session can answer
// the ones it knows and refuse (empty reply) the rest. Non-read operations of any object
// parse as Unknown (empty reply), as the manual requires for unknown operations.
struct XferRead {
  std::string object;
  std::string annex;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  bool operator==(const XferRead&) const = default;
};
struct ThreadInfoFirst {  // qfThreadInfo
  bool operator==(const ThreadInfoFirst&) const = default;
};
struct ThreadInfoNext {  // qsThreadInfo
  bool operator==(const ThreadInfoNext&) const = default;
};
struct QueryCurrentThread {  // qC
  bool operator==(const QueryCurrentThread&) const = default;
};
struct QueryAttached {  // qAttached[:pid]
  std::optional<std::uint64_t> pid;
  bool operator==(const QueryAttached&) const = default;
};
struct ThreadExtraInfo {  // qThreadExtraInfo,tid
  ThreadId thread;
  bool operator==(const ThreadExtraInfo&) const = default;
};
struct MonitorCommand {  // qRcmd,hex  (`monitor ...`), command decoded from hex
  std::string command;
  bool operator==(const MonitorCommand&) const = default;
};
struct QueryOffsets {  // qOffsets
  bool operator==(const QueryOffsets&) const = default;
};
// qSymbol::            -> value and name absent: "the client is ready to look up symbols"
// qSymbol:value:hexname -> the client's answer to our qSymbol:hexname request; value is
//                          absent when the client does not know the symbol.
struct QuerySymbol {
  std::optional<std::uint64_t> value;
  std::string name;  // decoded from hex; empty for the initial qSymbol::
  bool operator==(const QuerySymbol&) const = default;
};
struct QueryTraceStatus {  // qTStatus
  bool operator==(const QueryTraceStatus&) const = default;
};
struct MustReplyEmpty {  // vMustReplyEmpty: reply empty, exactly like an unknown packet
  bool operator==(const MustReplyEmpty&) const = default;
};
struct SetThreadEvents {  // QThreadEvents:0|1
  bool enable = false;
  bool operator==(const SetThreadEvents&) const = default;
};
struct SetNonStop {  // QNonStop:0|1
  bool enable = false;
  bool operator==(const SetNonStop&) const = default;
};
struct ListThreadsInStopReply {  // QListThreadsInStopReply (LLDB)
  bool operator==(const ListThreadsInStopReply&) const = default;
};
struct ThreadSuffixSupported {  // QThreadSuffixSupported (LLDB)
  bool operator==(const ThreadSuffixSupported&) const = default;
};
struct EnableErrorStrings {  // QEnableErrorStrings (LLDB): error replies may carry text
  bool operator==(const EnableErrorStrings&) const = default;
};
struct ThreadStopInfo {  // qThreadStopInfo<tid> (LLDB): the stop reply for one thread
  ThreadId thread;
  bool operator==(const ThreadStopInfo&) const = default;
};
struct HostInfo {  // qHostInfo (LLDB)
  bool operator==(const HostInfo&) const = default;
};
struct ProcessInfo {  // qProcessInfo (LLDB)
  bool operator==(const ProcessInfo&) const = default;
};

// Anything the table does not know. The session must reply with the empty packet.
struct Unknown {
  std::string name;  // q/Q/v/_ packets: up to the first `:`, `;` or `,`; others: the letter
  bool operator==(const Unknown&) const = default;
};

using Request = std::variant<
    ReadMemory, ReadMemoryBinary, WriteMemory, WriteMemoryBinary,
    ReadRegisters, WriteRegisters, ReadRegister, WriteRegister,
    InsertBreakpoint, RemoveBreakpoint,
    SetThread, ThreadAlive, QueryHalt, Continue, Step, ContinueWithSignal, StepWithSignal,
    VCont, VContQuery, Kill, VKill, Detach, ExtendedMode,
    QuerySupported, StartNoAckMode, XferFeaturesRead, XferRead,
    ThreadInfoFirst, ThreadInfoNext, QueryCurrentThread, QueryAttached, ThreadExtraInfo,
    MonitorCommand, QueryOffsets, QuerySymbol, QueryTraceStatus, MustReplyEmpty,
    SetThreadEvents, SetNonStop, ListThreadsInStopReply, ThreadSuffixSupported, EnableErrorStrings,
    ThreadStopInfo, HostInfo, ProcessInfo, Unknown>;

using ParseResult = tl::expected<Request, ParseError>;

// Parses one raw packet payload (as FrameDecoder delivers it, escapes still in place).
ParseResult parse_request(std::string_view payload);

// Name of the table entry that matched (e.g. "qSupported", "m", "Z0"), or "" when the
// payload is Unknown. For the packet trace.
std::string_view request_packet_name(std::string_view payload);

}  // namespace s390b::rsp
