// Memory access through a debugger view, shared by gdbstub/ and cli/
// (docs/architecture.md, "Chunking" and "Address-space views"):
//  - requests longer than the backend's op limit are split;
//  - a read that faults returns the bytes before the first failing page, found with
//    check-only ops (binary search) so nothing that succeeded is read twice;
//  - a write is checked over the whole range first (check-only, store intent), so a
//    translation or protection failure writes nothing;
//  - the `cpu` view is the backend's own logical MEMOP; `absolute` is the VM's absolute
//    MEMOP; every other view is served by our walker plus absolute ops, under the
//    backend's IPTE lock for the walk and the access it authorises.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "backends/backend.h"
#include "translate/space.h"

namespace s390b {

struct ReadOutcome {
  std::size_t bytes = 0;   // bytes read before the first failure
  MemopResult status;      // ok when all bytes were read; else why the read stopped
};

// The result of `translate`: what the view selected and how the walk went.
struct TranslationReport {
  AddressSpace space;
  std::uint64_t address = 0;         // as given
  std::uint64_t effective = 0;       // after addressing-mode wrap
  std::optional<ResolvedSpace> resolved;
  ArtTrace art;                      // meaningful when an ALET was translated
  bool used_art = false;
  WalkTrace walk;                    // meaningful for DAT views
  bool walked = false;
  std::optional<std::uint64_t> absolute;
  std::optional<Fault> fault;
  std::optional<HostError> error;
};

class MemoryAccess {
 public:
  explicit MemoryAccess(Backend& backend) : backend_(backend) {}

  ReadOutcome read(unsigned cpu, const AddressSpace& space, std::uint64_t address, std::span<std::uint8_t> out);
  MemopResult write(unsigned cpu, const AddressSpace& space, std::uint64_t address, std::span<const std::uint8_t> data);
  TranslationReport translate(unsigned cpu, const AddressSpace& space, std::uint64_t address, AccessMode mode);

  Backend& backend() { return backend_; }

 private:
  // The cpu view (logical MEMOPs) and the absolute view (VM MEMOPs).
  ReadOutcome read_chunked(unsigned cpu, bool logical, std::uint8_t ar, std::uint64_t address,
                           std::span<std::uint8_t> out);
  ReadOutcome read_walked(unsigned cpu, const AddressSpace& space, std::uint64_t address, std::span<std::uint8_t> out);
  MemopResult write_walked(unsigned cpu, const AddressSpace& space, std::uint64_t address, std::span<const std::uint8_t> data);
  tl::expected<TranslationContext, HostError> context(unsigned cpu) const;

  Backend& backend_;
};

// A human-readable rendering of a TranslationReport (monitor translate, CLI translate).
std::string format_translation(const TranslationReport& report);
// One line describing a failed MEMOP: "page translation exception (0x11), TEID 0x...".
std::string describe_failure(const MemopResult& result);

}  // namespace s390b
