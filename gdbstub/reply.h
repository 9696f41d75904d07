// Replies as values, and the one encoder that turns them into payload strings.
//
//   std::string payload = encode_reply(MemoryData{MemoryEncoding::Binary, bytes}, ctx);
//   std::string wire = encode_packet(payload);   // codec.h: escapes and frames
//
// Payloads returned here are LOGICAL: binary parts (`x` data, qXfer windows) are not yet
// escaped; encode_packet escapes `$ # } *` for the whole payload. Every other reply is
// hex or plain ASCII without those four bytes, so escaping leaves it unchanged.
//
// What the encoder decides, so handlers do not (GDB manual, Remote Protocol appendix):
// * `Exx` is always exactly two lowercase hex digits. Text is attached only in the form
//   the client negotiated: `E.text` after GDB's `error-message+`, `Exx;hex` after LLDB's
//   QEnableErrorStrings; otherwise the text is dropped.
// * Memory: hex for `m`, `b` + binary for `x`. A successful read is never the empty packet
//   (that means "unsupported"): an empty `x` read is `b`, an empty `m` read is `OK` (the
//   answer to a zero-length `m`, as LLDB's server gives). A read of nonzero length that
//   got zero bytes must be an ErrorReply, decided by the session.
// * qXfer: `m<data>` if more follows, `l<data>` when the window reaches the end (no extra
//   round trip for a final empty `l`), `l` at the end, `Exx` for an offset past the end.
// * Stop replies: `S AA` when nothing else is known, otherwise `T AA` with expedited
//   registers, `thread:`, `core:` and at most one stop reason; `swbreak:`/`hwbreak:` only
//   if negotiated (GDB then works the reason out itself).
// * Thread ids use `p<pid>.<tid>` only when multiprocess was negotiated by both sides.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gdbstub/codes.h"
#include "rsp/hex.h"
#include "gdbstub/request.h"

namespace s390b::rsp {

// The negotiated state the encoder needs: an input, owned by the session's one
// negotiated-state struct (reset on qSupported and reconnect).
struct ReplyContext {
  bool error_message = false;       // GDB sent `error-message+`: `E.text` allowed
  bool lldb_error_strings = false;  // LLDB sent QEnableErrorStrings: `Exx;hex(text)`
  bool multiprocess = false;        // both sides said `multiprocess+`
  std::uint64_t pid = 1;            // pid for the multiprocess form when a ThreadId has none
  bool swbreak = false;             // GDB sent `swbreak+` and we advertised it
  bool hwbreak = false;             // GDB sent `hwbreak+` and we advertised it
};

struct OkReply {};     // "OK"
struct EmptyReply {};  // "": unsupported / unknown packet (also vMustReplyEmpty, qTStatus)

struct ErrorReply {
  ErrorCode code = ErrorCode::Invalid;
  std::string text;  // optional human-readable detail; sent only if negotiated
};

enum class MemoryEncoding : std::uint8_t {
  Hex,     // reply to `m`: two hex digits per byte
  Binary,  // reply to `x`: `b` + binary (escaped by encode_packet)
};
struct MemoryData {  // the bytes read, possibly fewer than requested (a prefix)
  MemoryEncoding encoding = MemoryEncoding::Hex;
  Bytes bytes;
};

// Reply to `g` / `p`: hex, with `xx` for each byte of a register the target cannot supply.
struct RegisterData {
  Bytes bytes;
  std::vector<bool> available;  // per byte; empty means every byte is available
};

// Reply to qXfer:<object>:read: the window [offset, offset + length) of `document`.
// `document` is viewed, not copied: it must outlive the encode_reply call.
struct XferWindow {
  std::string_view document;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

enum class StopReason : std::uint8_t {
  None,
  SwBreak,      // `swbreak:`; the reported PC must be the breakpoint address
  HwBreak,      // `hwbreak:`
  Watch,        // `watch:addr`  (write watchpoint)
  ReadWatch,    // `rwatch:addr`
  AccessWatch,  // `awatch:addr`
};
struct ExpeditedRegister {  // `n:value` in a T reply, saving the client a `g`
  std::uint64_t regno = 0;
  Bytes value;  // target byte order (big-endian on s390x)
};
struct StopReply {
  GdbSignal signal = GdbSignal::Trap;
  std::optional<ThreadId> thread;
  StopReason reason = StopReason::None;
  std::uint64_t watch_address = 0;  // Watch, ReadWatch, AccessWatch
  std::optional<std::uint64_t> core;
  std::vector<ExpeditedRegister> registers;
};
struct ExitedReply {  // `W AA`: the target exited (a VM: guest shutdown)
  std::uint8_t status = 0;
};
struct TerminatedReply {  // `X AA`: killed by a signal
  GdbSignal signal = GdbSignal::Kill;
};

// One `O` packet: console output, hex-encoded. For long text use console_output_packets.
struct ConsoleOutput {
  std::string text;
};
// qfThreadInfo/qsThreadInfo: `m<id>,<id>...`, or `l` when `threads` is empty.
struct ThreadList {
  std::vector<ThreadId> threads;
};
struct CurrentThread {  // qC: `QC<id>`
  ThreadId thread;
};
// Text sent hex-encoded: qRcmd output, qThreadExtraInfo.
struct HexText {
  std::string text;
};
// qSupported reply: `name+;name-;name=value...` (Query state is encoded as `name?`).
struct SupportedReply {
  std::vector<Feature> features;
};
// A preformatted ASCII payload (qAttached "1", vCont? "vCont;c;C;s;S", qHostInfo...).
// It must not contain `$ # } *`: encode_packet would escape them, which only binary-aware
// packets undo.
struct TextReply {
  std::string text;
};

using Reply = std::variant<OkReply, EmptyReply, ErrorReply, MemoryData, RegisterData,
                           XferWindow, StopReply, ExitedReply, TerminatedReply, ConsoleOutput,
                           ThreadList, CurrentThread, HexText, SupportedReply, TextReply>;

// The logical payload of a reply (escape and frame it with encode_packet).
std::string encode_reply(const Reply& reply, const ReplyContext& ctx);

// `Exx` alone.
std::string error_payload(ErrorCode code);

// A thread id as the negotiated form writes it: `tid` or `p<pid>.<tid>`; `0` any, `-1` all.
std::string format_thread_id(const ThreadId& id, const ReplyContext& ctx);

// `O` packet payloads for `text`, each at most `max_payload` bytes (>= 3, i.e. one char).
std::vector<std::string> console_output_packets(std::string_view text, std::size_t max_payload);

}  // namespace s390b::rsp
