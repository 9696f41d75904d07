// Parsers for query and setting packets (q..., Q..., vMustReplyEmpty).
#include "gdbstub/parsers.h"

namespace s390b::rsp {

const Feature* QuerySupported::find(std::string_view name) const {
  for (const Feature& f : features) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool QuerySupported::supports(std::string_view name) const {
  const Feature* f = find(name);
  return f != nullptr && f->state == Feature::State::Supported;
}

namespace detail {

namespace {

ParseResult no_args(std::string_view args, Request value) {
  if (!args.empty()) return tl::unexpected(ParseError::TrailingData);
  return value;
}

tl::expected<bool, ParseError> flag(std::string_view args) {
  if (args == "0") return false;
  if (args == "1") return true;
  return tl::unexpected(args.empty() ? ParseError::MissingField : ParseError::BadValue);
}

Feature parse_feature(std::string_view item) {
  Feature f;
  // `=` first: a value may itself end in `+` or `-`.
  if (const auto eq = split_at(item, '=')) {
    f.name = std::string(eq->head);
    f.state = Feature::State::Value;
    f.value = std::string(eq->tail);
    return f;
  }
  switch (item.back()) {
    case '+': f.state = Feature::State::Supported; item.remove_suffix(1); break;
    case '-': f.state = Feature::State::Unsupported; item.remove_suffix(1); break;
    case '?': f.state = Feature::State::Query; item.remove_suffix(1); break;
    default: break;  // bare name: outside the grammar, tolerated as supported
  }
  f.name = std::string(item);
  return f;
}

}  // namespace

ParseResult parse_qsupported(std::string_view args) {
  // A failed qSupported would break the connection before it starts, so be lenient:
  // empty items and items without a name are skipped, unknown names are kept (the
  // session ignores what it does not know).
  QuerySupported req;
  while (!args.empty()) {
    const auto next = split_at(args, ';');
    const std::string_view item = next ? next->head : args;
    if (!item.empty()) {
      Feature f = parse_feature(item);
      if (!f.name.empty()) req.features.push_back(std::move(f));
    }
    if (!next) break;
    args = next->tail;
  }
  return req;
}

ParseResult parse_start_no_ack(std::string_view args) { return no_args(args, StartNoAckMode{}); }

ParseResult parse_qxfer(std::string_view args) {
  // object:operation:annex:offset,length. The annex is whatever lies between the
  // operation and the last `:`, since offset,length never contains one.
  const auto object = split_at(args, ':');
  if (!object) return tl::unexpected(ParseError::MissingField);
  const auto operation = split_at(object->tail, ':');
  if (!operation) return tl::unexpected(ParseError::MissingField);
  if (operation->head != "read") {
    // Writes and unknown operations: empty reply, as for any unknown packet.
    std::string name = "qXfer:";
    name.append(object->head).append(":").append(operation->head);
    return Unknown{std::move(name)};
  }
  const std::string_view rest = operation->tail;
  const auto last_colon = rest.rfind(':');
  if (last_colon == std::string_view::npos) return tl::unexpected(ParseError::MissingField);
  const std::string_view annex = rest.substr(0, last_colon);
  const auto window = split_at(rest.substr(last_colon + 1), ',');
  if (!window) return tl::unexpected(ParseError::MissingField);
  auto offset = number(window->head);
  if (!offset) return tl::unexpected(offset.error());
  auto length = number(window->tail);
  if (!length) return tl::unexpected(length.error());
  if (object->head == "features") return XferFeaturesRead{std::string(annex), *offset, *length};
  return XferRead{std::string(object->head), std::string(annex), *offset, *length};
}

ParseResult parse_thread_info_first(std::string_view args) { return no_args(args, ThreadInfoFirst{}); }
ParseResult parse_thread_info_next(std::string_view args) { return no_args(args, ThreadInfoNext{}); }
ParseResult parse_query_current_thread(std::string_view args) {
  return no_args(args, QueryCurrentThread{});
}

ParseResult parse_qattached(std::string_view args) {
  if (args.empty()) return QueryAttached{};
  auto pid = number(args);
  if (!pid) return tl::unexpected(pid.error());
  return QueryAttached{*pid};
}

ParseResult parse_thread_extra_info(std::string_view args) {
  auto thread = parse_thread_id(args);
  if (!thread) return tl::unexpected(thread.error());
  return ThreadExtraInfo{*thread};
}

ParseResult parse_qrcmd(std::string_view args) {
  auto command = hex_decode_text(args);
  if (!command) return tl::unexpected(ParseError::BadHexData);
  return MonitorCommand{std::move(*command)};
}

ParseResult parse_qoffsets(std::string_view args) { return no_args(args, QueryOffsets{}); }

ParseResult parse_qsymbol(std::string_view args) {
  // value:hexname (the table consumed `qSymbol:`); both empty for the initial `qSymbol::`.
  const auto parts = split_at(args, ':');
  if (!parts) return tl::unexpected(ParseError::MissingField);
  QuerySymbol req;
  if (!parts->head.empty()) {
    auto value = number(parts->head);
    if (!value) return tl::unexpected(value.error());
    req.value = *value;
  }
  auto name = hex_decode_text(parts->tail);
  if (!name) return tl::unexpected(ParseError::BadHexData);
  req.name = std::move(*name);
  return req;
}

ParseResult parse_qtstatus(std::string_view args) { return no_args(args, QueryTraceStatus{}); }
ParseResult parse_must_reply_empty(std::string_view args) { return no_args(args, MustReplyEmpty{}); }

ParseResult parse_thread_events(std::string_view args) {
  auto enable = flag(args);
  if (!enable) return tl::unexpected(enable.error());
  return SetThreadEvents{*enable};
}

ParseResult parse_non_stop(std::string_view args) {
  auto enable = flag(args);
  if (!enable) return tl::unexpected(enable.error());
  return SetNonStop{*enable};
}

ParseResult parse_list_threads_in_stop_reply(std::string_view args) {
  return no_args(args, ListThreadsInStopReply{});
}
ParseResult parse_thread_suffix_supported(std::string_view args) {
  return no_args(args, ThreadSuffixSupported{});
}
ParseResult parse_enable_error_strings(std::string_view args) { return no_args(args, EnableErrorStrings{}); }
ParseResult parse_thread_stop_info(std::string_view args) {
  auto thread = parse_thread_id(args);
  if (!thread) return tl::unexpected(thread.error());
  return ThreadStopInfo{*thread};
}
ParseResult parse_host_info(std::string_view args) { return no_args(args, HostInfo{}); }
ParseResult parse_process_info(std::string_view args) { return no_args(args, ProcessInfo{}); }

}  // namespace detail

}  // namespace s390b::rsp
