// The Backend interface (docs/architecture.md, "Layers"): MEMOP semantics, per-vCPU
// registers, the IPTE lock, and optional capabilities that answer null when absent. The
// layers above never special-case a backend: advertisement (qSupported, vCont?, monitor
// help) is derived from which capabilities answer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "backends/cpu_state.h"
#include "backends/memop.h"
#include "translate/dat.h"

namespace s390b {

// Holds the backend's IPTE lock (host side) while alive. Move-only.
class IpteGuard {
 public:
  IpteGuard() = default;
  explicit IpteGuard(std::function<void()> release) : release_(std::move(release)) {}
  IpteGuard(IpteGuard&& other) noexcept : release_(std::move(other.release_)) { other.release_ = nullptr; }
  IpteGuard& operator=(IpteGuard&& other) noexcept {
    if (this != &other) {
      reset();
      release_ = std::move(other.release_);
      other.release_ = nullptr;
    }
    return *this;
  }
  IpteGuard(const IpteGuard&) = delete;
  IpteGuard& operator=(const IpteGuard&) = delete;
  ~IpteGuard() { reset(); }

  void reset() {
    if (release_) {
      auto r = std::move(release_);
      release_ = nullptr;
      r();
    }
  }

 private:
  std::function<void()> release_;
};

// Why a vCPU stopped.
struct StopEvent {
  enum class Reason : std::uint8_t { interrupted, breakpoint, watchpoint, step, exited, halted };
  enum class Watch : std::uint8_t { write, read, access };
  enum class Breakpoint : std::uint8_t { software, hardware };
  unsigned cpu = 0;
  Reason reason = Reason::interrupted;
  std::uint64_t address = 0;  // watchpoint address
  Watch watch = Watch::write;
  Breakpoint breakpoint = Breakpoint::software;
  // The signal to report as the target reported it (GDB numbering); 0: the one the reason
  // implies (SIGINT for interrupted, SIGTRAP otherwise). For `exited`, the exit status.
  int signal = 0;
};

// Optional: the guest can be stopped, resumed and stepped.
class RunControl {
 public:
  virtual ~RunControl() = default;
  virtual tl::expected<void, HostError> resume(const std::vector<unsigned>& cpus) = 0;
  virtual tl::expected<void, HostError> step(unsigned cpu) = 0;
  virtual tl::expected<void, HostError> interrupt() = 0;  // stop every vCPU
  // Blocks until a vCPU stops (call off the I/O thread). An error is not a stop: the
  // target is gone (unavailable_reason() says why).
  virtual tl::expected<StopEvent, HostError> wait_for_stop() = 0;

  // A debugger connected: make sure the target is reachable and stopped (all-stop: a
  // debugger starts with every vCPU stopped). The error says why it cannot be.
  virtual tl::expected<void, std::string> debugger_attached() { return {}; }
  // The debugger detached: remove its breakpoints and leave the guest running.
  virtual tl::expected<void, HostError> detach() { return {}; }
  // The debugger asked to kill the target. Backends refuse (EPERM) unless the user allowed
  // it; the session then ends and the guest is left as it is.
  virtual tl::expected<void, HostError> kill() { return tl::unexpected(HostError::eperm); }
  // The vCont actions to advertise (vCont? reply without the "vCont" prefix).
  virtual std::string vcont_actions() const { return ";c;C;s;S"; }
};

// Optional: the hypervisor's own monitor, passed through (`monitor qemu CMD` sends CMD to
// QEMU's human monitor through its gdbstub), so nothing its monitor offered is lost.
class MonitorPassthrough {
 public:
  virtual ~MonitorPassthrough() = default;
  // The word that selects it in `monitor WORD CMD` ("qemu").
  virtual std::string_view monitor_word() const = 0;
  // The command's output, or why it could not be run.
  virtual tl::expected<std::string, std::string> monitor_command(std::string_view command) = 0;
};

// Optional: breakpoints and watchpoints (GDB Z0-Z4).
class Breakpoints {
 public:
  enum class Type : std::uint8_t { software = 0, hardware = 1, write_watch = 2, read_watch = 3, access_watch = 4 };
  virtual ~Breakpoints() = default;
  virtual bool supports(Type type) const = 0;
  virtual tl::expected<void, HostError> insert(Type type, std::uint64_t address, std::uint64_t kind) = 0;
  virtual tl::expected<void, HostError> remove(Type type, std::uint64_t address, std::uint64_t kind) = 0;
};

// Optional: storage keys of absolute 4 KiB frames.
class StorageKeys {
 public:
  virtual ~StorageKeys() = default;
  virtual tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const = 0;
  virtual tl::expected<void, HostError> set_key(std::uint64_t absolute, StorageKey key) = 0;
};

// Optional: the layout of absolute storage.
class MemoryMap {
 public:
  struct Range {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
  };
  virtual ~MemoryMap() = default;
  virtual std::vector<Range> ranges() const = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  virtual unsigned cpu_count() const = 0;
  // The largest size one MEMOP accepts (KVM_CAP_S390_MEM_OP).
  virtual std::uint32_t op_limit() const = 0;
  // Installed facilities that translation depends on (EDAT-1/-2, IEP).
  virtual Facilities facilities() const = 0;

  // A logical (vCPU) operation: logical read/write or SIDA. Anything else is EINVAL.
  virtual MemopResult vcpu_memop(unsigned cpu, const Memop& op) = 0;
  // A VM operation: absolute read/write/cmpxchg. Anything else is EINVAL.
  virtual MemopResult vm_memop(const Memop& op) = 0;

  virtual tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const = 0;
  virtual tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) = 0;

  // Takes the IPTE lock for a walk of guest DAT or ART tables and the access it
  // authorises (docs/architecture.md, "IPTE-lock discipline").
  virtual IpteGuard ipte_lock() = 0;
  // Whether ipte_lock() really keeps the guest from changing its DAT tables, so that our
  // own walker may read them (the views other than `cpu` and `absolute`, `monitor
  // translate`). False for a KVM backend without the VMM's vCPU gate: the access layer
  // then refuses those instead of walking tables unlocked.
  virtual bool table_walks_allowed() const { return true; }
  // Why memory operations fail with ESTALE, once they do: the file behind guest storage
  // changed under us ("guest.elf changed under the server: its size is now ..."). Every
  // memory operation fails from then on; registers and the rest keep working.
  virtual std::optional<std::string> unavailable_reason() const { return std::nullopt; }
  // True for ReadOnlyBackend (read_only_backend.h), which refuses every change with EROFS.
  // Only for what never reaches the backend: a zero-length write is refused, not "OK".
  virtual bool read_only() const { return false; }

  virtual RunControl* run_control() { return nullptr; }
  virtual Breakpoints* breakpoints() { return nullptr; }
  virtual StorageKeys* storage_keys() { return nullptr; }
  virtual const MemoryMap* memory_map() const { return nullptr; }
  virtual MonitorPassthrough* monitor_passthrough() { return nullptr; }
};

}  // namespace s390b
