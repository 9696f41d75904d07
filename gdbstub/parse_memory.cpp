// Parsers for memory, register and breakpoint packets: m x M X g G p P Z z.
#include "gdbstub/parsers.h"

namespace s390b::rsp::detail {

namespace {

struct AddrLen {
  std::uint64_t addr;
  std::uint64_t length;
};

// `addr,length` with nothing after it.
template <auto Number>
tl::expected<AddrLen, ParseError> addr_len(std::string_view args) {
  const auto parts = split_at(args, ',');
  if (!parts) return tl::unexpected(ParseError::MissingField);
  auto addr = Number(parts->head);
  if (!addr) return tl::unexpected(addr.error());
  auto len = Number(parts->tail);
  if (!len) return tl::unexpected(len.error());
  return AddrLen{*addr, *len};
}

// `addr,length:data` -> {addr, length} and the raw data. Address and length never contain
// `:`, so the first `:` ends the header even when binary data contains more of them.
struct Write {
  AddrLen header;
  std::string_view data;
};
tl::expected<Write, ParseError> write_header(std::string_view args) {
  const auto parts = split_at(args, ':');
  if (!parts) return tl::unexpected(ParseError::MissingField);
  auto header = addr_len<number>(parts->head);
  if (!header) return tl::unexpected(header.error());
  return Write{*header, parts->tail};
}

tl::expected<Bytes, ParseError> hex_data(std::string_view hex) {
  auto data = hex_decode(hex);
  if (!data) return tl::unexpected(ParseError::BadHexData);
  return std::move(*data);
}

}  // namespace

ParseResult parse_read_memory(std::string_view args) {
  auto al = addr_len<number>(args);
  if (!al) return tl::unexpected(al.error());
  return ReadMemory{al->addr, al->length};
}

ParseResult parse_read_memory_binary(std::string_view args) {
  // LLDB's form may carry 0x prefixes (lldb/docs/resources/lldbgdbremote.md); accept them.
  auto al = addr_len<number_lenient>(args);
  if (!al) return tl::unexpected(al.error());
  return ReadMemoryBinary{al->addr, al->length};
}

ParseResult parse_write_memory(std::string_view args) {
  auto w = write_header(args);
  if (!w) return tl::unexpected(w.error());
  // Compare sizes before decoding: a huge length with little data allocates nothing.
  if (w->data.size() % 2 != 0) return tl::unexpected(ParseError::BadHexData);
  if (w->data.size() / 2 != w->header.length) return tl::unexpected(ParseError::LengthMismatch);
  auto data = hex_data(w->data);
  if (!data) return tl::unexpected(data.error());
  return WriteMemory{w->header.addr, std::move(*data)};
}

ParseResult parse_write_memory_binary(std::string_view args) {
  auto w = write_header(args);
  if (!w) return tl::unexpected(w.error());
  const auto size = unescaped_size(w->data);
  if (!size) return tl::unexpected(ParseError::BadBinaryData);
  // `length` counts decoded bytes.
  if (*size != w->header.length) return tl::unexpected(ParseError::LengthMismatch);
  auto data = unescape_binary(w->data);
  if (!data) return tl::unexpected(ParseError::BadBinaryData);
  return WriteMemoryBinary{w->header.addr, std::move(*data)};
}

// Splits LLDB's `;thread:<tid>;` off the end of `args`.
tl::expected<std::optional<ThreadId>, ParseError> take_thread_suffix(std::string_view& args) {
  constexpr std::string_view key = ";thread:";
  const std::size_t at = args.rfind(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view id = args.substr(at + key.size());
  if (!id.ends_with(';')) return tl::unexpected(ParseError::BadThreadId);
  id.remove_suffix(1);
  auto thread = parse_thread_id(id);
  if (!thread) return tl::unexpected(thread.error());
  args = args.substr(0, at);
  return *thread;
}

ParseResult parse_read_registers(std::string_view args) {
  if (args.empty()) return ReadRegisters{};
  // The table consumed the suffix's leading `;`: put the whole suffix back together.
  const std::string suffix = ";" + std::string(args);
  std::string_view rest = suffix;
  auto thread = take_thread_suffix(rest);
  if (!thread) return tl::unexpected(thread.error());
  if (!*thread || !rest.empty()) return tl::unexpected(ParseError::BadThreadId);
  return ReadRegisters{*thread};
}

ParseResult parse_write_registers(std::string_view args) {
  auto thread = take_thread_suffix(args);
  if (!thread) return tl::unexpected(thread.error());
  auto data = hex_data(args);
  if (!data) return tl::unexpected(data.error());
  return WriteRegisters{std::move(*data), *thread};
}

ParseResult parse_read_register(std::string_view args) {
  auto thread = take_thread_suffix(args);
  if (!thread) return tl::unexpected(thread.error());
  auto regno = number(args);
  if (!regno) return tl::unexpected(regno.error());
  return ReadRegister{*regno, *thread};
}

ParseResult parse_write_register(std::string_view args) {
  auto thread = take_thread_suffix(args);
  if (!thread) return tl::unexpected(thread.error());
  const auto parts = split_at(args, '=');
  if (!parts) return tl::unexpected(ParseError::MissingField);
  auto regno = number(parts->head);
  if (!regno) return tl::unexpected(regno.error());
  if (parts->tail.empty()) return tl::unexpected(ParseError::MissingField);
  auto data = hex_data(parts->tail);
  if (!data) return tl::unexpected(data.error());
  return WriteRegister{*regno, std::move(*data), *thread};
}

ParseResult parse_breakpoint(bool insert, BreakpointType type, std::string_view args) {
  // addr,kind[;cond_list][;cmds:...]: everything after the first `;` is kept raw.
  Breakpoint bp;
  bp.type = type;
  std::string_view head = args;
  if (const auto cond = split_at(args, ';')) {
    head = cond->head;
    bp.conditions = std::string(cond->tail);
  }
  auto al = addr_len<number>(head);
  if (!al) return tl::unexpected(al.error());
  bp.addr = al->addr;
  bp.kind = al->length;
  if (insert) return InsertBreakpoint{bp};
  return RemoveBreakpoint{bp};
}

}  // namespace s390b::rsp::detail
