#include "backends/kvm/kvm_ioctl.h"

#include <sys/ioctl.h>

#include <cerrno>

namespace s390b {

int SystemKvmIoctl::ioctl(int fd, unsigned long request, void* arg) {
  const int r = ::ioctl(fd, request, arg);
  return r < 0 ? -errno : r;
}

KvmIoctl& system_kvm_ioctl() {
  static SystemKvmIoctl instance;
  return instance;
}

}  // namespace s390b
