#include "gdbstub/reply.h"

#include <algorithm>
#include <type_traits>

namespace s390b::rsp {

namespace {

constexpr std::string_view kOk = "OK";
constexpr char kErrorPrefix = 'E';
constexpr std::string_view kErrorTextPrefix = "E.";
constexpr char kLldbErrorTextSeparator = ';';
constexpr char kBinaryReadPrefix = 'b';  // distinguishes an empty `x` read from "unsupported"
constexpr char kXferMore = 'm';
constexpr char kXferLast = 'l';
constexpr char kThreadListMore = 'm';
constexpr char kThreadListEnd = 'l';
constexpr char kConsolePrefix = 'O';
constexpr char kStopSignalOnly = 'S';   // `S AA`
constexpr char kStopWithInfo = 'T';     // `T AA n:r;...`
constexpr char kExited = 'W';           // `W AA`
constexpr char kTerminated = 'X';       // `X AA`
constexpr std::string_view kCurrentThreadPrefix = "QC";
constexpr std::string_view kThreadKey = "thread";
constexpr std::string_view kCoreKey = "core";
constexpr std::string_view kProcessKey = "process";
constexpr char kMultiprocessPrefix = 'p';
constexpr std::string_view kAllIds = "-1";
constexpr std::string_view kUnavailableByte = "xx";
constexpr char kPrintableFirst = ' ';
constexpr char kPrintableLast = '~';
constexpr char kReplacement = '?';

// E.text is not unescaped by GDB, so keep it to printable ASCII without the framing and
// escape characters.
std::string sanitize_error_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const bool printable = c >= kPrintableFirst && c <= kPrintableLast;
    out.push_back(printable && !needs_escape(static_cast<std::uint8_t>(c)) ? c : kReplacement);
  }
  return out;
}

void append_id_part(std::string& out, IdPart part) {
  switch (part.kind) {
    case IdPart::Kind::Any: out.push_back('0'); return;
    case IdPart::Kind::All: out.append(kAllIds); return;
    case IdPart::Kind::Id: format_hex_append(out, part.value); return;
  }
}

void append_thread_id(std::string& out, const ThreadId& id, const ReplyContext& ctx) {
  if (ctx.multiprocess) {
    out.push_back(kMultiprocessPrefix);
    append_id_part(out, id.pid.value_or(IdPart::id(ctx.pid)));
    out.push_back('.');
  }
  append_id_part(out, id.tid);
}

std::string encode_error(const ErrorReply& e, const ReplyContext& ctx) {
  if (!e.text.empty() && ctx.error_message) {
    std::string out(kErrorTextPrefix);
    out += sanitize_error_text(e.text);
    return out;
  }
  std::string out = error_payload(e.code);
  if (!e.text.empty() && ctx.lldb_error_strings) {
    out.push_back(kLldbErrorTextSeparator);
    out += hex_encode(std::string_view(e.text));
  }
  return out;
}

std::string encode_memory(const MemoryData& m) {
  std::string out;
  if (m.encoding == MemoryEncoding::Binary) {
    out.reserve(1 + m.bytes.size());
    out.push_back(kBinaryReadPrefix);
    out.append(m.bytes.begin(), m.bytes.end());
    return out;
  }
  if (m.bytes.empty()) return std::string(kOk);
  hex_append(out, m.bytes);
  return out;
}

std::string encode_registers(const RegisterData& r) {
  std::string out;
  out.reserve(2 * r.bytes.size());
  for (std::size_t i = 0; i < r.bytes.size(); ++i) {
    if (i < r.available.size() && !r.available[i]) {
      out.append(kUnavailableByte);
    } else {
      format_hex_byte_append(out, r.bytes[i]);
    }
  }
  return out;
}

std::string encode_xfer(const XferWindow& w, const ReplyContext& ctx) {
  const std::uint64_t size = w.document.size();
  if (w.offset > size) return encode_error(ErrorReply{ErrorCode::Invalid, "offset past end"}, ctx);
  const std::uint64_t count = std::min(w.length, size - w.offset);
  const std::uint64_t end = w.offset + count;  // <= size, no overflow
  std::string out;
  out.reserve(1 + count);
  out.push_back(end == size ? kXferLast : kXferMore);
  out.append(w.document.substr(w.offset, count));
  return out;
}

const char* reason_name(StopReason r) {
  switch (r) {
    case StopReason::None: return "";
    case StopReason::SwBreak: return "swbreak";
    case StopReason::HwBreak: return "hwbreak";
    case StopReason::Watch: return "watch";
    case StopReason::ReadWatch: return "rwatch";
    case StopReason::AccessWatch: return "awatch";
  }
  return "";
}

std::string encode_stop(const StopReply& s, const ReplyContext& ctx) {
  // swbreak/hwbreak only if negotiated; without them GDB infers the reason itself.
  const bool reason = (s.reason == StopReason::SwBreak && ctx.swbreak) ||
                      (s.reason == StopReason::HwBreak && ctx.hwbreak) ||
                      s.reason == StopReason::Watch || s.reason == StopReason::ReadWatch ||
                      s.reason == StopReason::AccessWatch;
  std::string out;
  const auto signal = static_cast<std::uint8_t>(s.signal);
  if (!s.thread && !s.core && s.registers.empty() && !reason) {
    out.push_back(kStopSignalOnly);
    format_hex_byte_append(out, signal);
    return out;
  }
  out.push_back(kStopWithInfo);
  format_hex_byte_append(out, signal);
  for (const ExpeditedRegister& r : s.registers) {
    format_hex_append(out, r.regno);
    out.push_back(':');
    hex_append(out, r.value);
    out.push_back(';');
  }
  if (s.thread) {
    out.append(kThreadKey).push_back(':');
    append_thread_id(out, *s.thread, ctx);
    out.push_back(';');
  }
  if (s.core) {
    out.append(kCoreKey).push_back(':');
    format_hex_append(out, *s.core);
    out.push_back(';');
  }
  if (reason) {
    out.append(reason_name(s.reason));
    out.push_back(':');
    if (s.reason != StopReason::SwBreak && s.reason != StopReason::HwBreak) {
      format_hex_append(out, s.watch_address);
    }
    out.push_back(';');
  }
  return out;
}

std::string encode_exited(const ExitedReply& e, const ReplyContext& ctx) {
  std::string out(1, kExited);
  format_hex_byte_append(out, e.status);
  if (ctx.multiprocess) {
    out.push_back(';');
    out.append(kProcessKey).push_back(':');
    format_hex_append(out, ctx.pid);
  }
  return out;
}

std::string encode_thread_list(const ThreadList& l, const ReplyContext& ctx) {
  if (l.threads.empty()) return std::string(1, kThreadListEnd);
  std::string out(1, kThreadListMore);
  for (std::size_t i = 0; i < l.threads.size(); ++i) {
    if (i != 0) out.push_back(',');
    append_thread_id(out, l.threads[i], ctx);
  }
  return out;
}

std::string encode_supported(const SupportedReply& r) {
  std::string out;
  for (const Feature& f : r.features) {
    if (!out.empty()) out.push_back(';');
    out += f.name;
    switch (f.state) {
      case Feature::State::Supported: out.push_back('+'); break;
      case Feature::State::Unsupported: out.push_back('-'); break;
      case Feature::State::Query: out.push_back('?'); break;
      case Feature::State::Value: out.push_back('='); out += f.value; break;
    }
  }
  return out;
}

}  // namespace

std::string error_payload(ErrorCode code) {
  std::string out(1, kErrorPrefix);
  format_hex_byte_append(out, static_cast<std::uint8_t>(code));
  return out;
}

std::string format_thread_id(const ThreadId& id, const ReplyContext& ctx) {
  std::string out;
  append_thread_id(out, id, ctx);
  return out;
}

std::vector<std::string> console_output_packets(std::string_view text, std::size_t max_payload) {
  // `O` + two hex digits per character; at least one character per packet.
  const std::size_t per_packet = std::max<std::size_t>(1, (max_payload > 0 ? max_payload - 1 : 0) / 2);
  std::vector<std::string> packets;
  for (std::size_t pos = 0; pos < text.size(); pos += per_packet) {
    std::string p(1, kConsolePrefix);
    p += hex_encode(text.substr(pos, per_packet));
    packets.push_back(std::move(p));
  }
  return packets;
}

std::string encode_reply(const Reply& reply, const ReplyContext& ctx) {
  return std::visit(
      [&ctx](const auto& r) -> std::string {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, OkReply>) {
          return std::string(kOk);
        } else if constexpr (std::is_same_v<T, EmptyReply>) {
          return {};
        } else if constexpr (std::is_same_v<T, ErrorReply>) {
          return encode_error(r, ctx);
        } else if constexpr (std::is_same_v<T, MemoryData>) {
          return encode_memory(r);
        } else if constexpr (std::is_same_v<T, RegisterData>) {
          return encode_registers(r);
        } else if constexpr (std::is_same_v<T, XferWindow>) {
          return encode_xfer(r, ctx);
        } else if constexpr (std::is_same_v<T, StopReply>) {
          return encode_stop(r, ctx);
        } else if constexpr (std::is_same_v<T, ExitedReply>) {
          return encode_exited(r, ctx);
        } else if constexpr (std::is_same_v<T, TerminatedReply>) {
          std::string out(1, kTerminated);
          format_hex_byte_append(out, static_cast<std::uint8_t>(r.signal));
          return out;
        } else if constexpr (std::is_same_v<T, ConsoleOutput>) {
          return std::string(1, kConsolePrefix) + hex_encode(std::string_view(r.text));
        } else if constexpr (std::is_same_v<T, ThreadList>) {
          return encode_thread_list(r, ctx);
        } else if constexpr (std::is_same_v<T, CurrentThread>) {
          return std::string(kCurrentThreadPrefix) + format_thread_id(r.thread, ctx);
        } else if constexpr (std::is_same_v<T, HexText>) {
          return hex_encode(std::string_view(r.text));
        } else if constexpr (std::is_same_v<T, SupportedReply>) {
          return encode_supported(r);
        } else {
          static_assert(std::is_same_v<T, TextReply>);
          return r.text;
        }
      },
      reply);
}

}  // namespace s390b::rsp
