// The KVM backend: MEMOP semantics and registers of a live s390x KVM guest, through the
// real ioctls of the host kernel (Linux Documentation/virt/kvm/api.rst §4.89,
// arch/s390/kvm/kvm-s390.c). The semantics are the
// kernel's own: this class packs requests into the uapi structs and maps the results back,
// and adds no checks of its own except where a C++ span cannot be handed to the kernel.
//
// Embedding. KVM refuses vCPU ioctls from any process but the one that created the VM, so
// the bridge runs inside the VMM and opens nothing itself. The VMM passes its VM fd, each
// vCPU's fd and mmapped struct kvm_run, optionally a VcpuGate, and keeps all of them alive
// (and the fds open) for the backend's lifetime:
//
//   s390b::KvmBackendOptions options;
//   options.gate = &my_gate;  // the VMM's VcpuGate, or null
//   auto backend = s390b::KvmBackend::create(s390b::system_kvm_ioctl(), vm_fd,
//                                            {{vcpu_fd, run}}, options);
//   if (!backend) fail(backend.error().message);
//
// What the kernel does not say, and how this backend answers:
// - MEMOP returns only the program-interruption code, no TEID. A Fault carries a TEID and
//   access id only when the op asked for INJECT_EXCEPTION: the backend then reads the
//   pending program interruption back with KVM_S390_GET_IRQ_STATE (the lowcore cannot be
//   used: KVM delivers the interruption at the vCPU's next KVM_RUN).
// - cmpxchg reports "no exchange" only by rewriting the old value (Linux
//   arch/s390/kvm/kvm-s390.c, kvm_s390_vm_mem_op_cmpxchg): the backend compares it with
//   what it passed.
// - A Memop whose span is shorter than `size` is passed with a NULL buffer, so the kernel
//   answers exactly as for a bad user pointer (EFAULT at the point KVM copies) and never
//   reads or writes past the span.
//
// Timing rules inherited from KVM (the VMM must know them):
// - vCPU ioctls (logical MEMOP, registers) serialise with KVM_RUN on the vCPU mutex: on a
//   running vCPU they wait for its next exit. With a VcpuGate the backend pauses the vCPUs
//   around each of them, so they complete promptly; without one they wait.
// - The PSW, prefix, vector and guarded-storage registers live in kvm_run: set_cpu_state
//   writes them there (prefix, VRs and GSCB with their kvm_dirty_regs bit) and KVM loads
//   them at the vCPU's next KVM_RUN, so a logical MEMOP issued before that still
//   translates with the old PSW and prefix. GPRs, ARs, CRs, FPRs, timers take effect at
//   once (their ioctls write the SIE block). The backend only ORs bits into
//   kvm_dirty_regs; the VMM must not clear them before its next KVM_RUN.
//
// IPTE lock (docs/architecture.md, "IPTE-lock discipline"): ipte_lock() pauses every
// vCPU through the gate for the guard's lifetime (counted: nested and concurrent guards
// pause once). Without a gate it returns
// an empty guard and table_walks_allowed() is false: the access layer must then not walk
// guest tables itself but use the kernel's MEMOP, which takes KVM's IPTE lock internally.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/backend.h"
#include "backends/kvm/kvm_ioctl.h"
#include "backends/kvm/vcpu_gate.h"

namespace s390b {

namespace kvm {
struct Run;
}

// One vCPU as the VMM created it.
struct KvmVcpu {
  int fd = -1;
  void* run = nullptr;  // its mmapped struct kvm_run (KVM_GET_VCPU_MMAP_SIZE bytes at offset 0)
};

struct KvmBackendOptions {
  VcpuGate* gate = nullptr;  // not owned; null: no table walks of our own
  // The guest's facilities. nullopt: read the guest CPU model's facility list
  // (KVM_S390_VM_CPU_MODEL/PROCESSOR) and fall back to Facilities{} (all installed,
  // as on every machine KVM supports today) where the kernel has no CPU model interface.
  std::optional<Facilities> facilities;
  // The VMM's memslots, for MemoryMap (KVM cannot be asked). Empty: no MemoryMap.
  std::vector<MemoryMap::Range> memory;
};

struct KvmSetupError {
  enum class Reason : std::uint8_t {
    bad_argument,         // a negative fd or a null kvm_run
    memop_unsupported,    // KVM_CAP_S390_MEM_OP is 0 or the query failed
  };
  Reason reason{};
  int error = 0;  // the errno of a failed query, 0 if none
  std::string message;
};

class KvmBackend final : public Backend, public StorageKeys, public MemoryMap {
 public:
  static tl::expected<std::unique_ptr<KvmBackend>, KvmSetupError> create(KvmIoctl& sys, int vm_fd,
                                                                         std::vector<KvmVcpu> vcpus,
                                                                         KvmBackendOptions options = {});

  std::string_view name() const override { return "kvm"; }
  unsigned cpu_count() const override { return static_cast<unsigned>(vcpus_.size()); }
  // KVM_CHECK_EXTENSION(KVM_CAP_S390_MEM_OP) on the VM fd (65536 on current kernels).
  std::uint32_t op_limit() const override { return op_limit_; }
  Facilities facilities() const override { return facilities_; }

  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override;
  // Absolute read/write need the EXTENSION_CAP_BASE bit, cmpxchg the CMPXCHG bit: without
  // them the kernel has no such op and the result is HostError::enotsup. Other kinds go
  // to the kernel (which answers EINVAL).
  MemopResult vm_memop(const Memop& op) override;

  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override;
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) override;

  IpteGuard ipte_lock() override;
  // Whether our own walker may read guest tables (a VcpuGate was given).
  bool table_walks_allowed() const override { return gate_ != nullptr; }

  StorageKeys* storage_keys() override { return this; }
  const MemoryMap* memory_map() const override { return memory_.empty() ? nullptr : this; }

  // StorageKeys, through KVM_S390_GET_SKEYS / SET_SKEYS on the VM fd. A guest that never
  // enabled storage keys reads as key 0 everywhere (KVM_S390_GET_SKEYS_NONE).
  tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const override;
  tl::expected<void, HostError> set_key(std::uint64_t absolute, StorageKey key) override;
  // MemoryMap
  std::vector<Range> ranges() const override { return memory_; }

  // KVM_CAP_S390_MEM_OP_EXTENSION as the kernel reported it (0 if unknown to it).
  std::uint32_t memop_extensions() const { return extensions_; }

 private:
  KvmBackend(KvmIoctl& sys, int vm_fd, std::vector<KvmVcpu> vcpus, KvmBackendOptions options);

  // Counted pause of all vCPUs through the gate (a no-op without one).
  class Pause {
   public:
    explicit Pause(const KvmBackend& backend) : backend_(backend) { backend_.pause(); }
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;
    ~Pause() { backend_.unpause(); }

   private:
    const KvmBackend& backend_;
  };
  void pause() const;
  void unpause() const;

  MemopResult issue(int fd, const Memop& op, std::optional<unsigned> cpu) const;
  std::optional<Fault> pending_program_fault(unsigned cpu, PgmCode code) const;
  kvm::Run& run(unsigned cpu) const;

  KvmIoctl& sys_;
  int vm_fd_;
  std::vector<KvmVcpu> vcpus_;
  VcpuGate* gate_;
  std::vector<Range> memory_;
  Facilities facilities_;
  std::uint32_t op_limit_ = 0;
  std::uint32_t extensions_ = 0;

  mutable std::mutex pause_mutex_;
  mutable unsigned pause_count_ = 0;
};

// The HostError for a negative ioctl return (-errno). Values the enum does not name keep
// their number (HostError's underlying type is the errno).
HostError host_error_from_errno(int error);

// The Fault KVM prepared for an injected program interruption, rebuilt from the
// kvm_s390_pgm_info it reports: which fields the code stores (Linux
// arch/s390/kvm/interrupt.c, __deliver_prog; arch/s390/kvm/gaccess.c, trans_exc), and
// the protection kind from TEID bits 56/60/61.
Fault fault_from_pgm_info(PgmCode code, std::uint64_t teid, std::uint8_t exc_access_id);

}  // namespace s390b
