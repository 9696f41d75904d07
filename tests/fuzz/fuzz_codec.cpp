// libFuzzer target for the pure RSP layer: frame decoder -> request parser -> reply
// encoder -> frame encoder -> frame decoder again.
//
// Input: data[0] is a split point; the rest is fed to the decoder in two chunks split
// there (so state carried across reads is exercised). The last byte selects negotiated
// reply flags. A small PacketSize makes overflow reachable. Every decoded packet is
// parsed; every request gets a reply built from its own fields (lengths clamped, as the
// session would), encoded, framed, and decoded back, which must round-trip exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

#include "rsp/codec.h"
#include "rsp/hex.h"
#include "gdbstub/reply.h"
#include "gdbstub/request.h"

using namespace s390b::rsp;

namespace {

constexpr std::size_t kFuzzPacketSize = 512;
constexpr std::uint64_t kMaxFakeRead = 64;
constexpr std::string_view kDocument =
    "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target>"
    "<architecture>s390:64-bit</architecture></target>";

void check(bool ok) {
  if (!ok) std::abort();
}

Bytes fake_bytes(std::uint64_t addr, std::uint64_t length) {
  Bytes out(static_cast<std::size_t>(length < kMaxFakeRead ? length : kMaxFakeRead));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(addr + i);
  return out;
}

Reply reply_for(const Request& req) {
  return std::visit(
      [](const auto& r) -> Reply {
        using T = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<T, ReadMemory>) {
          return MemoryData{MemoryEncoding::Hex, fake_bytes(r.addr, r.length)};
        } else if constexpr (std::is_same_v<T, ReadMemoryBinary>) {
          return MemoryData{MemoryEncoding::Binary, fake_bytes(r.addr, r.length)};
        } else if constexpr (std::is_same_v<T, ReadRegisters>) {
          return RegisterData{fake_bytes(0, 16), {true, false, true}};
        } else if constexpr (std::is_same_v<T, ReadRegister>) {
          return RegisterData{fake_bytes(r.regno, 8), {}};
        } else if constexpr (std::is_same_v<T, WriteMemory> || std::is_same_v<T, WriteMemoryBinary>) {
          return MemoryData{MemoryEncoding::Binary, r.data};  // echo the decoded data
        } else if constexpr (std::is_same_v<T, XferFeaturesRead>) {
          return XferWindow{kDocument, r.offset, r.length};
        } else if constexpr (std::is_same_v<T, XferRead>) {
          return XferWindow{r.object, r.offset, r.length};
        } else if constexpr (std::is_same_v<T, QuerySupported>) {
          return SupportedReply{r.features};
        } else if constexpr (std::is_same_v<T, MonitorCommand>) {
          for (const auto& p : console_output_packets(r.command, kFuzzPacketSize)) {
            check(p.size() <= kFuzzPacketSize);
          }
          return HexText{r.command};
        } else if constexpr (std::is_same_v<T, SetThread> || std::is_same_v<T, ThreadAlive> ||
                             std::is_same_v<T, ThreadExtraInfo>) {
          return ThreadList{{r.thread}};
        } else if constexpr (std::is_same_v<T, VCont>) {
          StopReply s;
          if (!r.actions.empty()) s.thread = r.actions.front().thread;
          s.reason = StopReason::SwBreak;
          return s;
        } else if constexpr (std::is_same_v<T, InsertBreakpoint> || std::is_same_v<T, RemoveBreakpoint>) {
          StopReply s;
          s.reason = StopReason::Watch;
          s.watch_address = r.addr;
          s.registers = {{r.kind, fake_bytes(r.addr, 8)}};
          return s;
        } else if constexpr (std::is_same_v<T, QuerySymbol>) {
          return ErrorReply{ErrorCode::NoEntry, r.name};
        } else if constexpr (std::is_same_v<T, Unknown>) {
          return EmptyReply{};
        } else {
          return OkReply{};
        }
      },
      req);
}

// Frames `payload`, decodes it again and requires the identical payload back.
void round_trip(std::string_view payload) {
  const std::string wire = encode_packet(payload);
  FrameDecoder dec(wire.size());
  auto events = dec.feed(wire);
  check(events.size() == 1 && events[0].kind == FrameEventKind::Packet);
  const auto raw = unescape_binary(events[0].payload);
  check(raw.has_value() && raw->size() == payload.size());
  check(std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size()) == payload);
}

void handle_packet(const std::string& payload, const ReplyContext& ctx, FrameDecoder& dec) {
  const ParseResult req = parse_request(payload);
  Reply reply = req ? reply_for(*req) : Reply{ErrorReply{error_code(req.error()), to_string(req.error())}};
  round_trip(encode_reply(reply, ctx));
  // What a session does on QStartNoAckMode: stop verifying checksums.
  if (req && std::holds_alternative<StartNoAckMode>(*req)) dec.set_verify_checksum(false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t split = data[0] < input.size() ? data[0] : input.size();
  const std::uint8_t flags = data[size - 1];

  ReplyContext ctx;
  ctx.error_message = (flags & 0x01) != 0;
  ctx.lldb_error_strings = (flags & 0x02) != 0;
  ctx.multiprocess = (flags & 0x04) != 0;
  ctx.swbreak = (flags & 0x08) != 0;
  ctx.hwbreak = (flags & 0x10) != 0;
  ctx.pid = flags;

  FrameDecoder dec(kFuzzPacketSize);
  for (std::string_view chunk : {input.substr(0, split), input.substr(split)}) {
    while (auto ev = dec.next(chunk)) {
      check(ev->payload.size() <= kFuzzPacketSize);
      if (ev->kind == FrameEventKind::Packet) handle_packet(ev->payload, ctx, dec);
    }
  }
  dec.finish();
  return 0;
}
