// Parsers for run-control and thread packets: H T ? c s C S vCont vCont? k vKill D !.
#include "gdbstub/parsers.h"

namespace s390b::rsp::detail {

namespace {

ParseResult no_args(std::string_view args, Request value) {
  if (!args.empty()) return tl::unexpected(ParseError::TrailingData);
  return value;
}

tl::expected<std::optional<std::uint64_t>, ParseError> optional_addr(std::string_view args) {
  if (args.empty()) return std::optional<std::uint64_t>{};
  auto addr = number(args);
  if (!addr) return tl::unexpected(addr.error());
  return std::optional<std::uint64_t>{*addr};
}

// `sig[;addr]` of C and S.
struct SignalAddr {
  std::uint8_t signal;
  std::optional<std::uint64_t> addr;
};
tl::expected<SignalAddr, ParseError> signal_addr(std::string_view args) {
  const auto parts = split_at(args, ';');
  auto sig = signal_number(parts ? parts->head : args);
  if (!sig) return tl::unexpected(sig.error());
  if (!parts) return SignalAddr{*sig, std::nullopt};
  auto addr = number(parts->tail);  // `;` promises an address
  if (!addr) return tl::unexpected(addr.error());
  return SignalAddr{*sig, *addr};
}

// One vCont action: `c`, `Csig`, `s`, `Ssig`, `t`, `rstart,end`, each optionally `:tid`.
tl::expected<VContAction, ParseError> vcont_action(std::string_view text) {
  if (text.empty()) return tl::unexpected(ParseError::MissingField);
  VContAction action;
  std::string_view body = text.substr(1);
  if (const auto tid = split_at(body, ':')) {
    body = tid->head;
    auto thread = parse_thread_id(tid->tail);
    if (!thread) return tl::unexpected(thread.error());
    action.thread = *thread;
  }
  using K = VContAction::Kind;
  switch (text.front()) {
    case 'c': action.kind = K::Continue; break;
    case 's': action.kind = K::Step; break;
    case 't': action.kind = K::Stop; break;
    case 'C':
    case 'S': {
      action.kind = text.front() == 'C' ? K::ContinueSignal : K::StepSignal;
      auto sig = signal_number(body);
      if (!sig) return tl::unexpected(sig.error());
      action.signal = *sig;
      return action;
    }
    case 'r': {
      action.kind = K::RangeStep;
      const auto range = split_at(body, ',');
      if (!range) return tl::unexpected(ParseError::MissingField);
      auto start = number(range->head);
      if (!start) return tl::unexpected(start.error());
      auto end = number(range->tail);
      if (!end) return tl::unexpected(end.error());
      action.range_start = *start;
      action.range_end = *end;
      return action;
    }
    default: return tl::unexpected(ParseError::BadAction);
  }
  if (!body.empty()) return tl::unexpected(ParseError::TrailingData);
  return action;
}

}  // namespace

ParseResult parse_set_thread(std::string_view args) {
  if (args.empty()) return tl::unexpected(ParseError::MissingField);
  SetThread req;
  switch (args.front()) {
    case 'g': req.op = ThreadOp::General; break;
    case 'c': req.op = ThreadOp::Continue; break;
    default: return tl::unexpected(ParseError::BadValue);
  }
  auto thread = parse_thread_id(args.substr(1));
  if (!thread) return tl::unexpected(thread.error());
  req.thread = *thread;
  return req;
}

ParseResult parse_thread_alive(std::string_view args) {
  auto thread = parse_thread_id(args);
  if (!thread) return tl::unexpected(thread.error());
  return ThreadAlive{*thread};
}

ParseResult parse_query_halt(std::string_view args) { return no_args(args, QueryHalt{}); }

ParseResult parse_continue(std::string_view args) {
  auto addr = optional_addr(args);
  if (!addr) return tl::unexpected(addr.error());
  return Continue{*addr};
}

ParseResult parse_step(std::string_view args) {
  auto addr = optional_addr(args);
  if (!addr) return tl::unexpected(addr.error());
  return Step{*addr};
}

ParseResult parse_continue_signal(std::string_view args) {
  auto sa = signal_addr(args);
  if (!sa) return tl::unexpected(sa.error());
  return ContinueWithSignal{sa->signal, sa->addr};
}

ParseResult parse_step_signal(std::string_view args) {
  auto sa = signal_addr(args);
  if (!sa) return tl::unexpected(sa.error());
  return StepWithSignal{sa->signal, sa->addr};
}

ParseResult parse_vcont(std::string_view args) {
  // The table consumed the first `;`; the rest is `action[;action...]`. The action count
  // is bounded by the payload size, itself bounded by PacketSize.
  VCont req;
  while (true) {
    const auto next = split_at(args, ';');
    auto action = vcont_action(next ? next->head : args);
    if (!action) return tl::unexpected(action.error());
    req.actions.push_back(*action);
    if (!next) break;
    args = next->tail;
  }
  return req;
}

ParseResult parse_vcont_query(std::string_view args) { return no_args(args, VContQuery{}); }

ParseResult parse_kill(std::string_view args) { return no_args(args, Kill{}); }

ParseResult parse_vkill(std::string_view args) {
  auto pid = number(args);
  if (!pid) return tl::unexpected(pid.error());
  return VKill{*pid};
}

ParseResult parse_detach(std::string_view args) {
  if (args.empty()) return Detach{};
  if (args.front() != ';') return tl::unexpected(ParseError::TrailingData);
  auto pid = number(args.substr(1));  // multiprocess form `D;pid`
  if (!pid) return tl::unexpected(pid.error());
  return Detach{*pid};
}

ParseResult parse_extended_mode(std::string_view args) { return no_args(args, ExtendedMode{}); }

}  // namespace s390b::rsp::detail
