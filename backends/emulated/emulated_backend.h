// The emulated backend: KVM_S390_MEM_OP semantics computed in software over absolute
// Storage, per-vCPU CpuState, storage keys and an IpteLock (Linux arch/s390/kvm/kvm-s390.c
// and arch/s390/kvm/gaccess.c).
// Also the guest side of the IPTE interlock (IPTE, IDTE, CSP) for stress tests and the
// demo guest. It has no CPU: it cannot run, so it offers no run control.
#pragma once

#include <mutex>
#include <vector>

#include "backends/backend.h"
#include "backends/emulated/storage.h"
#include "translate/ipte_lock.h"

namespace s390b {

class EmulatedBackend final : public Backend, public StorageKeys, public MemoryMap {
 public:
  EmulatedBackend(Storage storage, std::vector<CpuState> cpus, Facilities facilities = {});

  std::string_view name() const override { return "emulated"; }
  unsigned cpu_count() const override { return static_cast<unsigned>(cpus_.size()); }
  std::uint32_t op_limit() const override { return kvm_memop_max_size; }
  Facilities facilities() const override { return facilities_; }

  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override;
  MemopResult vm_memop(const Memop& op) override;

  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override;
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) override;

  IpteGuard ipte_lock() override;
  std::optional<std::string> unavailable_reason() const override { return storage_.change_description(); }

  StorageKeys* storage_keys() override { return this; }
  const MemoryMap* memory_map() const override { return this; }

  // StorageKeys
  tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const override;
  tl::expected<void, HostError> set_key(std::uint64_t absolute, StorageKey key) override;
  // MemoryMap
  std::vector<Range> ranges() const override;

  // Guest-side invalidation, each holding the IPTE lock exclusively as the CPU's
  // interlocked update does.
  // IPTE: set the invalid bit of the page-table entry at absolute `pte_address`.
  bool guest_ipte(std::uint64_t pte_address);
  // IDTE: set the invalid bit of the region or segment entry at `entry_address`.
  bool guest_idte(std::uint64_t entry_address);
  // CSPG: compare the doubleword at `address` with `expected` and store `desired` when
  // equal (then purge TLBs, of which the emulated guest has none). Returns whether it swapped.
  bool guest_cspg(std::uint64_t address, std::uint64_t expected, std::uint64_t desired);

  Storage& storage() { return storage_; }
  const Storage& storage() const { return storage_; }
  IpteLock& lock() { return ipte_; }

 private:
  MemopResult vcpu_dispatch(unsigned cpu, const Memop& op);
  MemopResult vm_dispatch(const Memop& op);
  MemopResult logical(unsigned cpu, const Memop& op);
  MemopResult sida(const Memop& op);
  MemopResult absolute(const Memop& op);
  MemopResult cmpxchg(const Memop& op);
  void inject(unsigned cpu, const Fault& fault);
  bool set_entry_bits(std::uint64_t address, std::uint64_t bits);

  Storage storage_;
  std::vector<CpuState> cpus_;
  Facilities facilities_;
  IpteLock ipte_;
  mutable std::mutex cpu_mutex_;
};

}  // namespace s390b
