// `--read-only`, decided in one place: a Backend that forwards to another and refuses, with
// EROFS, everything that would change the guest.
//
// Refused: logical, absolute and SIDA writes and compare-and-swap (a check-only write is
// allowed: it changes nothing); any operation with exception injection, read or not,
// because injecting a fault rewrites the vCPU's PSW and stores into its lowcore; register
// writes; storage-key changes; resuming or stepping the guest; breakpoints and
// watchpoints (none are offered, so GDB falls back to memory writes, which are refused).
// Allowed: every read, translation, check-only operation, stopping a running guest and
// waiting for it to stop.
//
// The session wraps its backend in this when read-only, so every packet and monitor
// command, today's and tomorrow's, goes through these refusals; a new way to change the
// guest has to be a Backend method, and a Backend method that changes the guest has to be
// refused here (tests/gdbstub/test_session_read_only.cpp walks all of them).
#pragma once

#include "backends/backend.h"

namespace s390b {

class ReadOnlyBackend final : public Backend {
 public:
  explicit ReadOnlyBackend(Backend& inner);

  // What a refusal says, for replies and messages.
  static constexpr std::string_view refusal = "the server is read-only (--read-only)";

  std::string_view name() const override { return inner_.name(); }
  unsigned cpu_count() const override { return inner_.cpu_count(); }
  std::uint32_t op_limit() const override { return inner_.op_limit(); }
  Facilities facilities() const override { return inner_.facilities(); }

  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override;
  MemopResult vm_memop(const Memop& op) override;

  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_.cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned, const CpuState&) override {
    return tl::unexpected(HostError::erofs);
  }

  IpteGuard ipte_lock() override { return inner_.ipte_lock(); }
  bool table_walks_allowed() const override { return inner_.table_walks_allowed(); }
  std::optional<std::string> unavailable_reason() const override { return inner_.unavailable_reason(); }
  bool read_only() const override { return true; }

  RunControl* run_control() override { return inner_.run_control() ? &run_ : nullptr; }
  Breakpoints* breakpoints() override { return nullptr; }
  StorageKeys* storage_keys() override { return inner_.storage_keys() ? &keys_ : nullptr; }
  const MemoryMap* memory_map() const override { return inner_.memory_map(); }
  // The hypervisor's monitor can change anything (reset, memory writes): not offered.
  MonitorPassthrough* monitor_passthrough() override { return nullptr; }

 private:
  // Stopping is allowed, starting is not.
  class Run final : public RunControl {
   public:
    explicit Run(Backend& inner) : inner_(inner) {}
    tl::expected<void, HostError> resume(const std::vector<unsigned>&) override { return tl::unexpected(HostError::erofs); }
    tl::expected<void, HostError> step(unsigned) override { return tl::unexpected(HostError::erofs); }
    tl::expected<void, HostError> interrupt() override { return inner_.run_control()->interrupt(); }
    tl::expected<StopEvent, HostError> wait_for_stop() override { return inner_.run_control()->wait_for_stop(); }
    // Attaching stops the guest and detaching lets it go on as before: the debugger
    // leaves it as it found it. Killing is a change.
    tl::expected<void, std::string> debugger_attached() override { return inner_.run_control()->debugger_attached(); }
    tl::expected<void, HostError> detach() override { return inner_.run_control()->detach(); }
    tl::expected<void, HostError> kill() override { return tl::unexpected(HostError::erofs); }
    std::string vcont_actions() const override { return inner_.run_control()->vcont_actions(); }

   private:
    Backend& inner_;
  };
  class Keys final : public StorageKeys {
   public:
    explicit Keys(Backend& inner) : inner_(inner) {}
    tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const override {
      return inner_.storage_keys()->get_key(absolute);
    }
    tl::expected<void, HostError> set_key(std::uint64_t, StorageKey) override { return tl::unexpected(HostError::erofs); }

   private:
    Backend& inner_;
  };

  Backend& inner_;
  Run run_;
  Keys keys_;
};

}  // namespace s390b
