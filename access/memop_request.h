// One MEMOP described by typed user-level values, executed and reported: the logic behind
// both `s390bridge memop` (cli/) and `monitor memop` (gdbstub/), so the two cannot
// drift. The options that fill a MemopRequest from words are in gdbstub/memop_options.h
// (CLI11 lives above this layer).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"

namespace s390b {

enum class MemopOp : std::uint8_t { read, write, abs_read, abs_write, cmpxchg };

// "read", "write", "abs-read", "abs-write", "cmpxchg".
std::optional<MemopOp> parse_memop_op(std::string_view text);
std::string_view memop_op_name(MemopOp op);

struct MemopRequest {
  unsigned cpu = 0;
  MemopOp op = MemopOp::read;
  std::uint64_t address = 0;
  std::optional<std::uint64_t> size;  // reads: required; writes: must match data
  std::vector<std::uint8_t> data;     // write, abs-write; the new value for cmpxchg
  std::vector<std::uint8_t> old;      // cmpxchg: the expected old value
  std::uint8_t ar = 0;                // the uapi field is a byte; KVM rejects > 15
  std::optional<std::uint8_t> key;    // storage-key protection with this access key
  bool check_only = false;
  bool inject = false;
  bool json = false;
};

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
