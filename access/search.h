// Searching an address space for a byte pattern: the logic of `s390bridge find`.
//
// Only mapped memory is read. Through a DAT view the walker finds the mapped pages and a
// translation exception tells how much to skip: an invalid region-first entry (or one past
// the table's length) skips 2^53 bytes, region-second 2^42, region-third 2^31, segment
// 2^20, page 4 KiB, an address the ASCE cannot designate ends the search; so a 64-bit
// space is searched in time proportional to what is mapped, never by probing unmapped
// pages one by one. Real and absolute views search the backend's memory ranges.
//
// Tables are walked under the backend's IPTE lock, taken per batch of pages (so a live
// guest is never held for the whole search), and only where Backend::table_walks_allowed.
// A match may span two pages that are contiguous in the view, whatever their frames.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "access/memory_access.h"

namespace s390b {

struct SearchMatch {
  std::uint64_t address = 0;   // in the view
  std::uint64_t absolute = 0;  // of the first byte
};

struct SearchRequest {
  unsigned cpu = 0;
  AddressSpace view;
  std::vector<std::uint8_t> pattern;  // 1 .. max_pattern bytes
  std::uint64_t start = 0;            // [start, end] inclusive, so the top of the space fits
  std::uint64_t end = ~std::uint64_t{0};
  std::size_t max_matches = 1;
};

inline constexpr std::size_t max_pattern = 4096;

struct SearchProgress {
  std::uint64_t address = 0;  // where the search is
  std::uint64_t scanned = 0;  // mapped bytes read so far
};

struct SearchResult {
  std::vector<SearchMatch> matches;
  std::uint64_t scanned = 0;      // mapped bytes read
  std::uint64_t translations = 0; // walks (the cost of finding what is mapped)
  bool complete = true;           // false when stopped by max_matches or by the callback
  std::optional<HostError> error; // the search could not run (ENOLCK, no memory map...)
  std::optional<Fault> view_fault;  // the view itself failed (an ALET that does not translate)
  std::string message;            // for error and view_fault
};

// `progress` is called now and then; returning false stops the search.
SearchResult search(Backend& backend, const SearchRequest& request,
                    const std::function<bool(const SearchProgress&)>& progress = {});

}  // namespace s390b
