// The one seam through which the KVM backend reaches the kernel: every ioctl it issues
// goes through a KvmIoctl. The real one calls ::ioctl; tests substitute a fake kernel
// that decodes the request numbers and structs (tests/backends/fake_kvm.h), so the
// backend's struct packing and result mapping run end to end on any build machine.
#pragma once

#include <cstdint>

namespace s390b {

class KvmIoctl {
 public:
  virtual ~KvmIoctl() = default;
  // Issues `request` on `fd`. `arg` is the struct pointer the request names, or, for
  // requests that take an integer (KVM_CHECK_EXTENSION), that integer cast to a pointer
  // (see as_ioctl_arg). Returns the ioctl's non-negative result, or -errno: a positive
  // result is data (a MEMOP's program-interruption code, a capability value), never an
  // error.
  virtual int ioctl(int fd, unsigned long request, void* arg) = 0;
};

// The integer argument of KVM_CHECK_EXTENSION and friends, as the third ioctl argument.
inline void* as_ioctl_arg(long value) { return reinterpret_cast<void*>(static_cast<std::intptr_t>(value)); }

// ::ioctl, with errno folded into the return value.
class SystemKvmIoctl final : public KvmIoctl {
 public:
  int ioctl(int fd, unsigned long request, void* arg) override;
};

// A process-wide SystemKvmIoctl (stateless), for embedders that need no other.
KvmIoctl& system_kvm_ioctl();

}  // namespace s390b
