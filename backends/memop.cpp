#include "backends/memop.h"

namespace s390b {

std::string_view host_error_name(HostError e) {
  switch (e) {
    case HostError::eperm: return "EPERM";
    case HostError::eio: return "EIO";
    case HostError::eagain: return "EAGAIN";
    case HostError::enomem: return "ENOMEM";
    case HostError::efault: return "EFAULT";
    case HostError::ebusy: return "EBUSY";
    case HostError::enodev: return "ENODEV";
    case HostError::einval: return "EINVAL";
    case HostError::erofs: return "EROFS";
    case HostError::e2big: return "E2BIG";
    case HostError::enotsup: return "ENOTSUP";
    case HostError::enolck: return "ENOLCK";
    case HostError::estale: return "ESTALE";
    case HostError::enodata: return "ENODATA";
  }
  return "E?";
}

int MemopResult::kvm_return() const {
  switch (status) {
    case Status::ok: return 0;
    case Status::host_error: return -static_cast<int>(error);
    case Status::exception: return static_cast<int>(fault.code);
  }
  return 0;
}

}  // namespace s390b
