// How the KVM backend keeps the vCPUs out of KVM_RUN (docs/architecture.md, "IPTE-lock
// discipline").
//
// KVM's own IPTE lock lives in the SCA and is not reachable from user space. The guest's
// IPTE/IDTE/CSP can only change DAT tables while a vCPU executes, so the bridge's walker
// may read guest tables exactly while no vCPU is inside KVM_RUN. Only the VMM that runs
// the vCPU threads can guarantee that: it implements VcpuGate and hands it to the backend.
//
// Contract for implementers:
// - pause_all() returns only once no vCPU of the VM is inside KVM_RUN, and keeps every
//   vCPU out of KVM_RUN until resume_all(). Kick running vCPUs out as the VMM usually
//   does (set kvm_run->immediate_exit and signal the vCPU thread, KVM_RUN returns -EINTR).
// - resume_all() lets them run again (those that were stopped for other reasons, e.g. by
//   the debugger, stay stopped).
// - The backend never nests the calls: it counts its holders, calls pause_all() when the
//   first arrives and resume_all() when the last leaves, from whichever thread that is.
// - Never called from a vCPU thread by the backend itself; the VMM must not call into
//   the backend from a vCPU thread while another thread may be pausing.
#pragma once

namespace s390b {

class VcpuGate {
 public:
  virtual ~VcpuGate() = default;
  virtual void pause_all() = 0;
  virtual void resume_all() = 0;
};

}  // namespace s390b
