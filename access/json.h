// JSON renderings of what access/ computes, for `--json` (schemas: docs/json.md). One
// rule everywhere: addresses, table entries and other 64-bit values are "0x..." strings
// (JSON numbers lose precision past 2^53); counts, lengths, indexes and codes are numbers.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "access/memory_access.h"

namespace s390b {

using Json = nlohmann::ordered_json;

std::string hex_string(std::uint64_t value);  // "0x1f"

// {"result": "ok"} | {"result": "exception", "pgm": 17, "name": "...", "teid": "0x...",
//  "teid_address": "0x...", "access": "fetch", "space": "home", "access_id": 3} |
// {"result": "error", "errno": "ESTALE", "message": "..."}
Json failure_json(const MemopResult& result);

// The walk of `monitor translate` / `s390bridge translate`, level by level.
Json translation_json(const TranslationReport& report, AccessMode mode);

}  // namespace s390b
