// Internal: the per-packet parsers the packet table points at, and the field helpers they
// share. Not part of the session-facing API (use parse_request from request.h).
#pragma once

#include <optional>
#include <string_view>

#include "gdbstub/request.h"

namespace s390b::rsp::detail {

// --- field helpers (parse.cpp) ------------------------------------------------------

// A hex number field: BadNumber / NumberOverflow / MissingField (empty).
tl::expected<std::uint64_t, ParseError> number(std::string_view field);
// The same, accepting an optional 0x prefix.
tl::expected<std::uint64_t, ParseError> number_lenient(std::string_view field);
// A signal number: hex, at most 0xff.
tl::expected<std::uint8_t, ParseError> signal_number(std::string_view field);

// Splits `text` at the first `sep`: {before, after}; nullopt if `sep` is absent.
struct Split {
  std::string_view head;
  std::string_view tail;
};
std::optional<Split> split_at(std::string_view text, char sep);

// --- parse_memory.cpp ---------------------------------------------------------------
ParseResult parse_read_memory(std::string_view args);          // m
ParseResult parse_read_memory_binary(std::string_view args);   // x
ParseResult parse_write_memory(std::string_view args);         // M
ParseResult parse_write_memory_binary(std::string_view args);  // X
ParseResult parse_read_registers(std::string_view args);       // g
ParseResult parse_write_registers(std::string_view args);      // G
ParseResult parse_read_register(std::string_view args);        // p
ParseResult parse_write_register(std::string_view args);       // P
ParseResult parse_breakpoint(bool insert, BreakpointType type, std::string_view args);
// The table needs one plain function per Z/z entry: the type is in the packet name.
template <bool Insert, BreakpointType Type>
ParseResult parse_breakpoint(std::string_view args) {
  return parse_breakpoint(Insert, Type, args);
}

// --- parse_run.cpp ------------------------------------------------------------------
ParseResult parse_set_thread(std::string_view args);           // H
ParseResult parse_thread_alive(std::string_view args);         // T
ParseResult parse_query_halt(std::string_view args);           // ?
ParseResult parse_continue(std::string_view args);             // c
ParseResult parse_step(std::string_view args);                 // s
ParseResult parse_continue_signal(std::string_view args);      // C
ParseResult parse_step_signal(std::string_view args);          // S
ParseResult parse_vcont(std::string_view args);                // vCont;
ParseResult parse_vcont_query(std::string_view args);          // vCont?
ParseResult parse_kill(std::string_view args);                 // k
ParseResult parse_vkill(std::string_view args);                // vKill;
ParseResult parse_detach(std::string_view args);               // D
ParseResult parse_extended_mode(std::string_view args);        // !

// --- parse_query.cpp ----------------------------------------------------------------
ParseResult parse_qsupported(std::string_view args);
ParseResult parse_start_no_ack(std::string_view args);
ParseResult parse_qxfer(std::string_view args);
ParseResult parse_thread_info_first(std::string_view args);
ParseResult parse_thread_info_next(std::string_view args);
ParseResult parse_query_current_thread(std::string_view args);
ParseResult parse_qattached(std::string_view args);
ParseResult parse_thread_extra_info(std::string_view args);
ParseResult parse_qrcmd(std::string_view args);
ParseResult parse_qoffsets(std::string_view args);
ParseResult parse_qsymbol(std::string_view args);
ParseResult parse_qtstatus(std::string_view args);
ParseResult parse_must_reply_empty(std::string_view args);
ParseResult parse_thread_events(std::string_view args);
ParseResult parse_non_stop(std::string_view args);
ParseResult parse_list_threads_in_stop_reply(std::string_view args);
ParseResult parse_thread_suffix_supported(std::string_view args);
ParseResult parse_enable_error_strings(std::string_view args);
ParseResult parse_thread_stop_info(std::string_view args);
ParseResult parse_host_info(std::string_view args);
ParseResult parse_process_info(std::string_view args);

}  // namespace s390b::rsp::detail
