#include "access/read_range.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace s390b {

RangeReadResult read_range(MemoryAccess& memory, unsigned cpu, const AddressSpace& view, std::uint64_t address,
                           std::uint64_t length, const ByteSink& sink, std::size_t piece) {
  RangeReadResult r;
  r.requested = length;
  std::vector<std::uint8_t> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(piece, length)));
  while (r.read < length) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), length - r.read));
    const ReadOutcome o = memory.read(cpu, view, address + r.read, std::span(buffer).first(n));
    if (o.bytes > 0 && !sink(std::span<const std::uint8_t>(buffer).first(o.bytes))) {
      r.status = MemopResult::success();
      return r;
    }
    r.read += o.bytes;
    if (o.bytes < n) {
      r.status = o.status;
      return r;
    }
  }
  r.status = MemopResult::success();
  return r;
}

std::string describe_stop(std::uint64_t at, const MemopResult& status) {
  std::string out = fmt::format("{:#x}: {}", at, describe_failure(status));
  if (status.is_exception() && status.fault.teid) {
    static constexpr std::string_view spaces[] = {"primary", "access-register", "secondary", "home"};
    const Teid t = *status.fault.teid;
    out += fmt::format(" (address {:#x}, {}, {} space)", t.address(),
                       t.fsi_is_store() ? "store" : t.fsi_is_fetch() ? "fetch" : "fetch or store",
                       spaces[static_cast<unsigned>(t.as())]);
  }
  return out;
}

}  // namespace s390b
