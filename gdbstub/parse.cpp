// parse_request (table dispatch), thread ids and the field helpers every parser shares.
#include <algorithm>

#include "gdbstub/packet_table.h"
#include "gdbstub/parsers.h"
#include "gdbstub/request.h"

namespace s390b::rsp {

namespace {

// Unknown names are for traces and logs; cap them so a hostile name costs little.
constexpr std::size_t kMaxUnknownName = 64;

ParseError from_hex_error(HexError e) {
  switch (e) {
    case HexError::Empty: return ParseError::MissingField;
    case HexError::Overflow: return ParseError::NumberOverflow;
    case HexError::BadDigit:
    case HexError::OddLength:
    case HexError::BadEscape: break;
  }
  return ParseError::BadNumber;
}

// Multi-letter namespaces: a name runs to the first separator (`qCRC:...` -> `qCRC`).
bool has_long_names(char first) { return first == 'q' || first == 'Q' || first == 'v' || first == '_'; }

std::string unknown_name(std::string_view payload) {
  if (payload.empty()) return {};
  std::size_t n = 1;
  if (has_long_names(payload.front())) {
    n = std::min(payload.find_first_of(":;,"), payload.size());
  }
  return std::string(payload.substr(0, std::min(n, kMaxUnknownName)));
}

tl::expected<IdPart, ParseError> parse_id_part(std::string_view text) {
  if (text == "-1") return IdPart::all();
  auto v = detail::number(text);
  if (!v) return tl::unexpected(v.error() == ParseError::NumberOverflow ? ParseError::NumberOverflow
                                                                        : ParseError::BadThreadId);
  return IdPart::id(*v);
}

}  // namespace

const char* to_string(ParseError e) {
  switch (e) {
    case ParseError::MissingField: return "missing argument";
    case ParseError::BadNumber: return "invalid hex number";
    case ParseError::NumberOverflow: return "number too large";
    case ParseError::BadThreadId: return "invalid thread id";
    case ParseError::BadHexData: return "invalid hex data";
    case ParseError::BadBinaryData: return "invalid binary data";
    case ParseError::LengthMismatch: return "data length does not match";
    case ParseError::BadAction: return "invalid vCont action";
    case ParseError::BadValue: return "invalid value";
    case ParseError::TrailingData: return "unexpected trailing data";
  }
  return "parse error";
}

ErrorCode error_code(ParseError) { return ErrorCode::Invalid; }

tl::expected<ThreadId, ParseError> parse_thread_id(std::string_view text) {
  if (text.empty()) return tl::unexpected(ParseError::BadThreadId);
  if (text.front() != 'p') {
    auto tid = parse_id_part(text);
    if (!tid) return tl::unexpected(tid.error());
    return ThreadId::plain(*tid);
  }
  text.remove_prefix(1);
  ThreadId id;
  const auto dot = detail::split_at(text, '.');
  auto pid = parse_id_part(dot ? dot->head : text);
  if (!pid) return tl::unexpected(pid.error());
  id.pid = *pid;
  if (!dot) {
    id.tid = IdPart::all();  // `p<pid>` = every thread of that process
    return id;
  }
  auto tid = parse_id_part(dot->tail);
  if (!tid) return tl::unexpected(tid.error());
  id.tid = *tid;
  return id;
}

ParseResult parse_request(std::string_view payload) {
  const auto m = match_packet(packet_table(), payload);
  if (!m) return Unknown{unknown_name(payload)};
  return m->entry->parse(m->args);
}

std::string_view request_packet_name(std::string_view payload) {
  const auto m = match_packet(packet_table(), payload);
  return m ? m->entry->name : std::string_view{};
}

namespace detail {

tl::expected<std::uint64_t, ParseError> number(std::string_view field) {
  auto v = parse_hex_u64(field);
  if (!v) return tl::unexpected(from_hex_error(v.error()));
  return *v;
}

tl::expected<std::uint64_t, ParseError> number_lenient(std::string_view field) {
  auto v = parse_hex_u64_lenient(field);
  if (!v) return tl::unexpected(from_hex_error(v.error()));
  return *v;
}

tl::expected<std::uint8_t, ParseError> signal_number(std::string_view field) {
  constexpr std::uint64_t kMaxSignal = 0xff;
  auto v = number(field);
  if (!v) return tl::unexpected(v.error());
  if (*v > kMaxSignal) return tl::unexpected(ParseError::NumberOverflow);
  return static_cast<std::uint8_t>(*v);
}

std::optional<Split> split_at(std::string_view text, char sep) {
  const auto pos = text.find(sep);
  if (pos == std::string_view::npos) return std::nullopt;
  return Split{text.substr(0, pos), text.substr(pos + 1)};
}

}  // namespace detail

}  // namespace s390b::rsp
