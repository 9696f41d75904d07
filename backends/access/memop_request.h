// One MEMOP described by user-level options, executed and reported: the logic behind both
// `s390bridge memop` (cli/) and `monitor memop` (gdbstub/), so the two cannot drift.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "backends/backend.h"

namespace s390b {

struct MemopRequest {
  unsigned cpu = 0;
  std::string op;       // read | write | abs-read | abs-write | cmpxchg
  std::string address;  // 0x hex or decimal
  std::string size;
  std::string data;     // hex
  std::string old;      // hex
  unsigned ar = 0;
  int key = -1;         // < 0: no key protection
  bool check_only = false;
  bool inject = false;
  bool json = false;
};

// Declares the memop options and positionals on `app` (shared by the CLI and monitor).
void add_memop_options(CLI::App& app, MemopRequest& request);

struct MemopOutcome {
  int exit_code = 0;  // 0 ok, 1 exception or host error, 2 bad request
  std::string text;   // one line (JSON with request.json), newline-terminated
};

MemopOutcome run_memop(Backend& backend, const MemopRequest& request);

// Parses 0x-prefixed hex or decimal; nullopt on garbage or overflow.
std::optional<std::uint64_t> parse_number(std::string_view text);
// Parses a hex byte string (even length, optional 0x prefix).
std::optional<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text);
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace s390b
