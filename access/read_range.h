// Reading any length of guest memory through a view, streamed: the logic of
// `s390bridge read` (and of anything else that copies a large range). The range is read
// in pieces of at most `piece` bytes (each chunked at the backend's op limit by
// MemoryAccess); every byte read is handed to the sink in order, and the read stops at the
// first failing page, whose address and reason are reported. Memory stays bounded by
// `piece`, whatever the length.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "access/memory_access.h"

namespace s390b {

struct RangeReadResult {
  std::uint64_t requested = 0;
  std::uint64_t read = 0;  // bytes delivered to the sink, from the start
  MemopResult status;      // ok when complete; else why the read stopped at `address + read`
  bool complete() const { return read == requested; }
};

// The sink returns false to stop (e.g. the output failed); the read then ends early with
// status ok and read < requested.
using ByteSink = std::function<bool(std::span<const std::uint8_t>)>;

inline constexpr std::size_t default_read_piece = 1 << 20;

// Requires length > 0 and address + length <= 2^64 (the caller says so to the user).
RangeReadResult read_range(MemoryAccess& memory, unsigned cpu, const AddressSpace& view, std::uint64_t address,
                           std::uint64_t length, const ByteSink& sink, std::size_t piece = default_read_piece);

// One line on why a read stopped where it did: "0x...: page translation exception (PGM
// 0x11), TEID 0x... (address 0x..., fetch, home space)".
std::string describe_stop(std::uint64_t at, const MemopResult& status);

}  // namespace s390b
