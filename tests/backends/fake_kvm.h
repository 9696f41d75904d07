// A fake s390x KVM kernel for tests, behind the KvmIoctl seam, built on the EmulatedBackend.
//
// It is driven by raw ioctls exactly as KvmBackend issues them: it decodes each request
// number (type 0xAE, number, direction, struct size — a size that does not match the s390
// struct is -ENOTTY, as the kernel would not know the request), reads the mirror struct
// from the argument pointer, follows `buf`/`old_addr`/`addr` pointers, runs the operation
// on the emulated backend, writes results back and returns 0, the positive PGM code or
// -errno as KVM does (Linux arch/s390/kvm/kvm-s390.c). So the KVM backend's struct packing,
// flag mapping and result mapping run end to end on a machine without s390x KVM.
//
// The kernel state lives in the EmulatedBackend (the "SIE block"); each vCPU also has a
// kvm_run, which the fake fills the way KVM does at an exit from KVM_RUN (store) and reads
// at an entry (psw always; prefix, CRs, GPRs, ARs, VRs, GSCB when their kvm_dirty_regs bit
// is set). KVM_RUN runs no guest code here: it is entry immediately followed by exit.
//
// Simplification (documented, deliberate): an INJECT_EXCEPTION memop is delivered by the
// emulated backend at once, as if the guest had run just far enough to take the
// interruption; the fake also keeps it pending for KVM_S390_GET_IRQ_STATE until the next
// KVM_RUN, as KVM does, and stores the new PSW into kvm_run.
//
// Test controls: the capability answers, whether the CPU-model attribute exists, a
// one-shot forced error per request, and per-request call counts. Thread-safe for
// concurrent memops (the emulated backend's cmpxchg is atomic).
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "backends/emulated/emulated_backend.h"
#include "backends/kvm/kvm_backend.h"
#include "backends/kvm/kvm_ioctl.h"
#include "backends/kvm/kvm_uapi.h"

namespace s390b::test {

class FakeKvm final : public KvmIoctl {
 public:
  struct Options {
    int mem_op_limit = 65536;     // KVM_CHECK_EXTENSION(KVM_CAP_S390_MEM_OP)
    int mem_op_extension = 3;     // KVM_CHECK_EXTENSION(KVM_CAP_S390_MEM_OP_EXTENSION)
    bool cpu_model = true;        // answer KVM_S390_VM_CPU_MODEL/PROCESSOR (else -ENXIO)
    bool vector_registers = true; // kvm_valid_regs has VRS (else FPRS)
  };

  static constexpr int vm_fd = 100;
  static constexpr int first_vcpu_fd = 200;
  static constexpr unsigned long run_request = 0xAE80;  // KVM_RUN = _IO(KVMIO, 0x80)

  explicit FakeKvm(EmulatedBackend& kernel) : FakeKvm(kernel, Options{}) {}
  FakeKvm(EmulatedBackend& kernel, Options options);

  int ioctl(int fd, unsigned long request, void* arg) override;

  // The vCPUs as a VMM would hand them to KvmBackend::create.
  std::vector<KvmVcpu> vcpus();
  kvm::Run& run_area(unsigned cpu) { return *runs_.at(cpu); }
  EmulatedBackend& kernel() { return kernel_; }

  // KVM_RUN on vCPU `cpu`, through ioctl() like a VMM's run loop.
  int run(unsigned cpu) { return ioctl(first_vcpu_fd + static_cast<int>(cpu), run_request, nullptr); }

  // The next ioctl with `request` fails with -error and does nothing else.
  void fail_next(unsigned long request, int error);
  std::size_t calls(unsigned long request) const;
  std::size_t total_calls() const;
  void reset_calls();
  bool program_interrupt_pending(unsigned cpu) const;

 private:
  int vm_ioctl(unsigned long request, void* arg);
  int vcpu_ioctl(unsigned cpu, unsigned long request, void* arg);
  int mem_op(std::optional<unsigned> cpu, void* arg);
  int one_reg(unsigned cpu, unsigned long request, void* arg);
  int irq_state(unsigned cpu, void* arg);
  int skeys(unsigned long request, void* arg);
  int device_attr(void* arg);
  void store_regs(unsigned cpu);  // exit: kernel state -> kvm_run
  void load_regs(unsigned cpu);   // entry: kvm_run -> kernel state

  EmulatedBackend& kernel_;
  Options options_;
  std::vector<std::unique_ptr<kvm::Run>> runs_;
  mutable std::mutex mutex_;  // guards everything below
  std::vector<std::optional<kvm::PgmInfo>> pending_;
  std::map<unsigned long, std::size_t> calls_;
  std::map<unsigned long, int> fail_;
};

}  // namespace s390b::test
