// A live qemu-system-s390x guest, reached through QEMU's own gdbstub (`-s`, `-gdb
// tcp::N`, `-gdb unix:...`): the bridge is that stub's client, and GDB talks only to the
// bridge (docs/qemu.md).
//
// * Registers: QEMU's target.xml says which registers exist and their numbers (they
//   differ by QEMU version and accelerator); each vCPU's are fetched on first use after
//   a stop (`Hg`, `g`, and the `p`s, pipelined in one round trip) and written back with
//   `P`. A prefix QEMU does not expose (7.2 under TCG) comes from the CPU notes of a
//   one-page `dump-guest-memory` that QEMU writes next to us (same host only).
// * Absolute storage, two ways behind one Storage: the guest's RAM file mapped shared
//   (`-object memory-backend-file,share=on,...`), or QEMU's physical-memory mode
//   (`Qqemu.PhyMemMode:1`, then `m`/`M` on absolute addresses) with a page cache that is
//   dropped whenever the guest runs.
// * MEMOP semantics, translation, prefixing and protection: the emulated engine
//   (EmulatedBackend) over that storage and those registers, the same code every other
//   backend uses. Table walks happen only while every vCPU is stopped (IPTE-lock
//   discipline): QEMU's all-stop gdbstub stops them all at once, and ipte_lock() holds
//   off a resume until the walk ends.
// * Run control is passed through: c/s/vCont, Ctrl-C, Z0-Z4 as QEMU offers them; the
//   stop replies keep QEMU's thread, signal and watchpoint address.
// * The connection is kept for the backend's lifetime. If QEMU goes away every operation
//   fails with EIO and unavailable_reason() says why; the next debugger_attached()
//   reconnects (a restarted QEMU on the same endpoint) and maps the RAM file again.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <vector>

#include "backends/backend.h"
#include "backends/emulated/emulated_backend.h"
#include "backends/qemu/rsp_client.h"
#include "backends/qemu/target_description.h"

namespace s390b::qemu {

struct QemuOptions {
  std::string gdbstub;   // HOST:PORT or unix:PATH
  std::string ram_file;  // the shared RAM file; empty: QEMU's physical-memory mode
  bool allow_kill = false;  // `kill` from the debugger terminates QEMU
  // When the backend goes, let the guest run (QEMU's stub stopped it when we connected):
  // what a one-shot inspection wants. A server leaves it as its last debugger left it.
  bool resume_on_close = false;
  std::chrono::milliseconds timeout = RspClient::default_timeout;
  std::function<void(std::string_view)> log;
};

class QemuBackend final : public Backend, public RunControl, public Breakpoints, public MemoryMap,
                          public MonitorPassthrough, public StorageKeys {
 public:
  // Connects, reads the target description and the vCPU list, and sets up storage. The
  // guest is stopped afterwards (QEMU stops it when a client connects).
  static tl::expected<std::unique_ptr<QemuBackend>, std::string> attach(QemuOptions options);
  ~QemuBackend() override;

  // Backend
  std::string_view name() const override { return "qemu"; }
  unsigned cpu_count() const override;
  std::uint32_t op_limit() const override { return kvm_memop_max_size; }
  Facilities facilities() const override { return {}; }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override;
  MemopResult vm_memop(const Memop& op) override;
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override;
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) override;
  IpteGuard ipte_lock() override;
  bool table_walks_allowed() const override;
  std::optional<std::string> unavailable_reason() const override;
  RunControl* run_control() override { return this; }
  Breakpoints* breakpoints() override { return this; }
  const MemoryMap* memory_map() const override { return this; }
  MonitorPassthrough* monitor_passthrough() override { return this; }
  StorageKeys* storage_keys() override { return this; }

  // RunControl
  tl::expected<void, HostError> resume(const std::vector<unsigned>& cpus) override;
  tl::expected<void, HostError> step(unsigned cpu) override;
  tl::expected<void, HostError> interrupt() override;
  tl::expected<StopEvent, HostError> wait_for_stop() override;
  tl::expected<void, std::string> debugger_attached() override;
  tl::expected<void, HostError> detach() override;
  tl::expected<void, HostError> kill() override;
  std::string vcont_actions() const override;

  // Breakpoints
  bool supports(Type type) const override;
  tl::expected<void, HostError> insert(Type type, std::uint64_t address, std::uint64_t kind) override;
  tl::expected<void, HostError> remove(Type type, std::uint64_t address, std::uint64_t kind) override;

  // MemoryMap
  std::vector<Range> ranges() const override;

  // StorageKeys: read from QEMU's `dump-skeys` (through its monitor, into a private
  // temporary file: same host only) once per stop, when first needed. QEMU's monitor has
  // no command that sets a key: set_key answers ENOTSUP.
  tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const override;
  tl::expected<void, HostError> set_key(std::uint64_t absolute, StorageKey key) override;

  // MonitorPassthrough
  std::string_view monitor_word() const override { return "qemu"; }
  tl::expected<std::string, std::string> monitor_command(std::string_view command) override;

  // For the CLI: a running guest (left running by a debugger's detach, or resumed over
  // QMP) is stopped for an inspection and resumed afterwards.
  struct PauseResult {
    bool paused = false;  // the guest was running and is now stopped by us
  };
  tl::expected<PauseResult, std::string> pause_if_running();
  tl::expected<void, std::string> resume_after_pause();

  // What `info` reports.
  struct Description {
    std::string endpoint;
    std::string memory_path;  // "shared RAM file PATH" or "QEMU physical-memory mode"
    std::string accelerator;  // "kvm" when QEMU describes the KVM-only registers, else "tcg"
    std::string prefix_source;  // "gdbstub register" or "CPU notes of a one-page dump"
    std::uint64_t ram_size = 0;
    unsigned registers = 0;
    bool no_ack = false;
  };
  Description describe() const;

 private:
  struct Connection;
  explicit QemuBackend(QemuOptions options);

  tl::expected<void, std::string> connect_locked();
  tl::expected<void, std::string> attach_locked(Connection& c, const Endpoint& endpoint);
  tl::expected<void, std::string> setup_storage_locked(Connection& c);
  tl::expected<CpuState, HostError> fetch_cpu_locked(unsigned cpu) const;
  tl::expected<void, HostError> set_cpu_state_locked(unsigned cpu, const CpuState& state);
  Description describe_locked() const;
  tl::expected<void, std::string> fetch_dump_registers_locked() const;
  tl::expected<void, HostError> fetch_keys_locked() const;
  // Runs a monitor command that writes a file (dump-guest-memory, dump-skeys) into a
  // private temporary directory and hands the path to `use` before removing it.
  tl::expected<void, std::string> with_monitor_file(const std::string& command_format,
                                                    const std::function<tl::expected<void, std::string>(const std::string&)>& use) const;
  tl::expected<std::string, std::string> request_locked(std::string_view payload, std::string* console = nullptr) const;
  void lost_locked(std::string why) const;
  void went_running_locked();
  bool page_source_failed_locked();
  enum class Run : std::uint8_t;
  tl::expected<void, HostError> continue_locked(Run then);
  tl::expected<void, HostError> ready_locked() const;  // connected and stopped
  std::string thread_id(unsigned cpu) const;
  tl::expected<StopEvent, std::string> parse_stop_locked(std::string_view reply);

  QemuOptions options_;
  mutable std::mutex mutex_;  // the connection, the run state and every cache below
  std::unique_ptr<Connection> conn_;
  mutable std::optional<std::string> lost_;  // why the connection is gone
  enum class Run : std::uint8_t { stopped, running, detached };
  Run run_ = Run::stopped;
  bool stepping_ = false;
  // Breakpoints GDB inserted (type, address, kind): removed on detach; a stop at one of
  // their addresses is reported as a breakpoint of that kind.
  std::set<std::tuple<int, std::uint64_t, std::uint64_t>> inserted_;
  // Held shared by ipte_lock() (a table walk), exclusively by resume/step.
  mutable std::shared_mutex walk_mutex_;
};

}  // namespace s390b::qemu
