// Memory and register packets.
#include <algorithm>

#include <fmt/format.h>

#include "gdbstub/session.h"

namespace s390b::rsp {

ErrorCode error_for(HostError e) {
  switch (e) {
    case HostError::einval: return ErrorCode::Invalid;
    case HostError::e2big: return ErrorCode::Invalid;
    case HostError::enomem: return ErrorCode::NoMemory;
    case HostError::ebusy: return ErrorCode::Busy;
    case HostError::erofs: return ErrorCode::ReadOnly;
    case HostError::enolck: return ErrorCode::NotImplemented;  // the view needs table walks
    default: return ErrorCode::Io;
  }
}

namespace {

// The ErrorCode for a failed MEMOP.
ErrorCode error_for(const MemopResult& r) {
  switch (r.status) {
    case MemopResult::Status::ok: return ErrorCode::Io;
    case MemopResult::Status::exception:
      return r.fault.code == PgmCode::protection ? ErrorCode::Access : ErrorCode::Fault;
    case MemopResult::Status::host_error: return rsp::error_for(r.error);
  }
  return ErrorCode::Io;
}

}  // namespace

void Session::fail_memop(const MemopResult& result, std::string_view what) {
  if (result.status == MemopResult::Status::host_error && result.error == HostError::estale) {
    // The file behind guest storage changed: say what happened, once in the log.
    const std::string why = backend_.unavailable_reason().value_or("the file behind guest storage changed");
    if (!stale_logged_ && options_.log) options_.log(why + "; memory is no longer served, registers are");
    stale_logged_ = true;
    reply_error(ErrorCode::Io, fmt::format("{}: {}", what, why));
    return;
  }
  reply_error(error_for(result), fmt::format("{}: {} (view {})", what, describe_failure(result),
                                             views_[general_cpu_].describe()));
}

void Session::read_memory(std::uint64_t addr, std::uint64_t length, MemoryEncoding encoding) {
  if (length == 0) {
    reply(MemoryData{encoding, {}});
    return;
  }
  if (length - 1 > ~addr) {  // the last byte is past 2^64 - 1; ending at 2^64 is fine
    reply_error(ErrorCode::Range, fmt::format("{:#x}+{:#x} wraps around the address space", addr, length));
    return;
  }
  // A reply may not be longer than PacketSize on the wire: GDB asks for PacketSize/2 at
  // most; anything longer gets a short (prefix) reply, which GDB handles. Hex takes two
  // characters a byte; binary takes one after the `b`, two for a byte that must be
  // escaped, so a binary reply is cut where its escaped form would pass PacketSize.
  const std::uint64_t max = encoding == MemoryEncoding::Hex ? options_.packet_size / 2 : options_.packet_size - 1;
  Bytes bytes(static_cast<std::size_t>(std::min(length, max)));
  const ReadOutcome r = memory_.read(general_cpu_, views_[general_cpu_], addr, bytes);
  if (r.bytes == 0) {
    fail_memop(r.status, fmt::format("cannot read {:#x}", addr));
    return;
  }
  bytes.resize(r.bytes);
  if (encoding == MemoryEncoding::Binary) bytes.resize(escaped_prefix_fitting(bytes, options_.packet_size - 1));
  reply(MemoryData{encoding, std::move(bytes)});
}

void Session::write_memory(std::uint64_t addr, const Bytes& data) {
  if (data.empty()) {
    // Also X's support probe `X addr,0:`: GDB takes any non-empty reply as "X works", an
    // error included, so read-only can refuse it like every other write.
    if (backend_.read_only()) {
      reply_error(ErrorCode::ReadOnly, std::string(ReadOnlyBackend::refusal));
    } else {
      reply(OkReply{});
    }
    return;
  }
  if (data.size() - 1 > ~addr) {
    reply_error(ErrorCode::Range, fmt::format("{:#x}+{:#x} wraps around the address space", addr, data.size()));
    return;
  }
  const MemopResult r = memory_.write(general_cpu_, views_[general_cpu_], addr, data);
  if (!r.ok()) {
    fail_memop(r, fmt::format("cannot write {:#x}", addr));
    return;
  }
  reply(OkReply{});
}

void Session::handle(const ReadMemory& r) { read_memory(r.addr, r.length, MemoryEncoding::Hex); }
void Session::handle(const ReadMemoryBinary& r) { read_memory(r.addr, r.length, MemoryEncoding::Binary); }
void Session::handle(const WriteMemory& r) { write_memory(r.addr, r.data); }
void Session::handle(const WriteMemoryBinary& r) { write_memory(r.addr, r.data); }

std::optional<unsigned> Session::register_cpu(const std::optional<ThreadId>& suffix) {
  if (!suffix) return general_cpu_;
  auto cpu = resolve_thread(*suffix);
  if (!cpu) reply_error(ErrorCode::NoEntry, "no such thread");
  return cpu;
}

void Session::handle(const ReadRegisters& r) {
  const auto cpu = register_cpu(r.thread);
  if (!cpu) return;
  auto st = backend_.cpu_state(*cpu);
  if (!st) {
    reply_error(ErrorCode::Io, fmt::format("cannot read the registers of cpu {}", *cpu));
    return;
  }
  const auto bytes = layout_.read_all(*st);
  reply(RegisterData{Bytes(bytes.begin(), bytes.end()), {}});
}

void Session::handle(const WriteRegisters& r) {
  const auto cpu = register_cpu(r.thread);
  if (!cpu) return;
  auto st = backend_.cpu_state(*cpu);
  if (!st) {
    reply_error(ErrorCode::Io, fmt::format("cannot read the registers of cpu {}", *cpu));
    return;
  }
  if (!layout_.write_all(*st, r.data)) {
    reply_error(ErrorCode::Invalid, fmt::format("G carries {} bytes, the registers take {}", r.data.size(), layout_.total_bytes()));
    return;
  }
  if (auto w = backend_.set_cpu_state(*cpu, *st); !w) {
    reply_error(error_for(w.error()), fmt::format("cannot write the registers: {}", describe_failure(MemopResult::host(w.error()))));
    return;
  }
  reply(OkReply{});
}

void Session::handle(const ReadRegister& r) {
  if (r.regno >= layout_.count()) {
    reply_error(ErrorCode::Invalid, fmt::format("no register {:#x}", r.regno));
    return;
  }
  const auto cpu = register_cpu(r.thread);
  if (!cpu) return;
  auto st = backend_.cpu_state(*cpu);
  if (!st) {
    reply_error(ErrorCode::Io, fmt::format("cannot read the registers of cpu {}", *cpu));
    return;
  }
  std::vector<std::uint8_t> v;
  layout_.read(*st, static_cast<unsigned>(r.regno), v);
  reply(RegisterData{Bytes(v.begin(), v.end()), {}});
}

void Session::handle(const WriteRegister& r) {
  if (r.regno >= layout_.count()) {
    reply_error(ErrorCode::Invalid, fmt::format("no register {:#x}", r.regno));
    return;
  }
  const auto cpu = register_cpu(r.thread);
  if (!cpu) return;
  auto st = backend_.cpu_state(*cpu);
  if (!st) {
    reply_error(ErrorCode::Io, fmt::format("cannot read the registers of cpu {}", *cpu));
    return;
  }
  const auto regno = static_cast<unsigned>(r.regno);
  if (!layout_.write(*st, regno, r.data)) {
    reply_error(ErrorCode::Invalid, fmt::format("register {} takes {} bytes, not {}", layout_.info(regno).name,
                                                layout_.bytes(regno), r.data.size()));
    return;
  }
  if (auto w = backend_.set_cpu_state(*cpu, *st); !w) {
    reply_error(error_for(w.error()),
                fmt::format("cannot write {}: {}", layout_.info(regno).name, describe_failure(MemopResult::host(w.error()))));
    return;
  }
  reply(OkReply{});
}

void Session::handle(const InsertBreakpoint& r) {
  Breakpoints* bp = backend_.breakpoints();
  const auto type = static_cast<Breakpoints::Type>(r.type);
  if (!bp || !bp->supports(type)) {
    reply(EmptyReply{});  // unsupported type: GDB falls back (software) or reports it
    return;
  }
  if (auto res = bp->insert(type, r.addr, r.kind); !res) {
    if (res.error() == HostError::enotsup) {
      reply(EmptyReply{});  // the target does not offer this type (QEMU under KVM: rwatch)
      return;
    }
    reply_error(ErrorCode::Io, fmt::format("cannot insert the breakpoint: {}", host_error_name(res.error())));
    return;
  }
  reply(OkReply{});
}

void Session::handle(const RemoveBreakpoint& r) {
  Breakpoints* bp = backend_.breakpoints();
  const auto type = static_cast<Breakpoints::Type>(r.type);
  if (!bp || !bp->supports(type)) {
    reply(EmptyReply{});
    return;
  }
  if (auto res = bp->remove(type, r.addr, r.kind); !res) {
    if (res.error() == HostError::enotsup) {
      reply(EmptyReply{});
      return;
    }
    reply_error(ErrorCode::Io, fmt::format("cannot remove the breakpoint: {}", host_error_name(res.error())));
    return;
  }
  reply(OkReply{});
}

}  // namespace s390b::rsp
