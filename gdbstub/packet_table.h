// The declarative packet table: which payloads are which request, by full-name matching.
//
// Each entry names a packet and says what may follow the name:
//   Exact            the payload is exactly the name                       (`qC`, `vCont?`)
//   Separated        the name, then one of `separators`, then arguments     (`Z0` + `,`)
//   ExactOrSeparated either of the above                       (`qSupported`, `qAttached`)
//   Direct           the arguments follow the name directly  (`m1000,4`, `qThreadStopInfo2`)
// A payload matches at most one entry; check_no_shadowing() proves that for a table (two
// entries overlap only if one name is a prefix of the other and the character after the
// shorter name is something the shorter entry accepts). So dispatch never depends on the
// order of entries, unlike the "order is important" tables of other stubs (e.g. QEMU's
// gdbstub/gdbstub.c, GdbCmdParseEntry).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gdbstub/request.h"

namespace s390b::rsp {

enum class MatchKind : std::uint8_t { Exact, Separated, ExactOrSeparated, Direct };

// Receives the arguments: the text after the name and its separator (empty for an exact
// match; everything after the name for Direct entries).
using PacketParser = ParseResult (*)(std::string_view args);

struct PacketEntry {
  std::string_view name;
  MatchKind match = MatchKind::Exact;
  std::string_view separators;  // Separated / ExactOrSeparated only
  PacketParser parse = nullptr;
};

// The table parse_request uses.
std::span<const PacketEntry> packet_table();

struct PacketMatch {
  const PacketEntry* entry = nullptr;
  std::string_view args;
};

// The entry `payload` matches in `table` and its arguments, or nullopt. With a table that
// passes check_no_shadowing the first match is the only match.
std::optional<PacketMatch> match_packet(std::span<const PacketEntry> table,
                                        std::string_view payload);

struct Shadowing {
  std::string_view first;   // entry names that can match the same payload
  std::string_view second;
  std::string example;      // a payload both match
};

// Every pair of entries that can match the same payload; empty for a sound table.
std::vector<Shadowing> check_no_shadowing(std::span<const PacketEntry> table);

}  // namespace s390b::rsp
