// KvmBackend's register access: KVM_GET/SET_REGS, _SREGS, _FPU and _ONE_REG on the vCPU
// fd, and the PSW, prefix, vector and guarded-storage registers in the vCPU's kvm_run
// (Linux arch/s390/include/uapi/asm/kvm.h). Timing rules: kvm_backend.h.
#include <algorithm>

#include "backends/kvm/kvm_backend.h"
#include "backends/kvm/kvm_uapi.h"

namespace s390b {

namespace {

template <typename T>
int one_reg(KvmIoctl& sys, int fd, unsigned long request, std::uint64_t id, T* value) {
  kvm::OneReg reg{id, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(value))};
  return sys.ioctl(fd, request, &reg);
}

}  // namespace

tl::expected<CpuState, HostError> KvmBackend::cpu_state(unsigned cpu) const {
  if (cpu >= vcpus_.size()) return tl::unexpected(HostError::einval);
  const Pause paused(*this);
  const int fd = vcpus_[cpu].fd;
  CpuState s;

  kvm::Regs regs{};
  if (int r = sys_.ioctl(fd, kvm::get_regs_request, &regs); r < 0) return tl::unexpected(host_error_from_errno(-r));
  std::copy(std::begin(regs.gprs), std::end(regs.gprs), s.gprs.begin());
  s.present.gprs = true;

  kvm::Sregs sregs{};
  if (int r = sys_.ioctl(fd, kvm::get_sregs_request, &sregs); r < 0) return tl::unexpected(host_error_from_errno(-r));
  std::copy(std::begin(sregs.acrs), std::end(sregs.acrs), s.acrs.begin());
  std::copy(std::begin(sregs.crs), std::end(sregs.crs), s.crs.begin());
  s.present.acrs = s.present.crs = true;

  const kvm::Run& r = run(cpu);
  // Vector registers exist only in kvm_run (valid on machines with the vector facility).
  if (r.kvm_valid_regs & kvm::sync::vrs) {
    for (unsigned i = 0; i < 32; ++i) s.vrs[i] = {r.s.regs.vrs[i][0], r.s.regs.vrs[i][1]};
    s.present.vrs = true;
  }
  kvm::Fpu fpu{};
  if (int rc = sys_.ioctl(fd, kvm::get_fpu_request, &fpu); rc < 0) return tl::unexpected(host_error_from_errno(-rc));
  s.fpc = fpu.fpc;
  for (unsigned i = 0; i < 16; ++i) s.set_fpr(i, fpu.fprs[i]);
  s.present.fprs = true;

  // The timers: optional, a protected vCPU refuses ONE_REG (-EINVAL).
  s.present.todpr = one_reg(sys_, fd, kvm::get_one_reg_request, kvm::reg_todpr, &s.todpr) >= 0;
  s.present.cputm = one_reg(sys_, fd, kvm::get_one_reg_request, kvm::reg_cpu_timer, &s.cputm) >= 0;
  s.present.ckc = one_reg(sys_, fd, kvm::get_one_reg_request, kvm::reg_clock_comp, &s.ckc) >= 0;
  s.present.last_break = one_reg(sys_, fd, kvm::get_one_reg_request, kvm::reg_gbea, &s.last_break) >= 0;

  // KVM stores the PSW into kvm_run on every exit from KVM_RUN.
  s.psw = Psw{r.psw_mask, r.psw_addr};
  s.present.psw = true;
  if (r.kvm_valid_regs & kvm::sync::prefix) {
    s.prefix = static_cast<std::uint32_t>(r.s.regs.prefix);
    s.present.prefix = true;
  }
  if (r.kvm_valid_regs & kvm::sync::gscb) {
    std::copy(std::begin(r.s.regs.gscb), std::end(r.s.regs.gscb), s.gs.begin());
    s.present.gs = true;
  }
  return s;
}

tl::expected<void, HostError> KvmBackend::set_cpu_state(unsigned cpu, const CpuState& state) {
  if (cpu >= vcpus_.size()) return tl::unexpected(HostError::einval);
  const Pause paused(*this);
  const int fd = vcpus_[cpu].fd;
  kvm::Run& r = run(cpu);
  // Refuse what this vCPU cannot hold before changing anything.
  if (state.present.vrs && !(r.kvm_valid_regs & kvm::sync::vrs)) return tl::unexpected(HostError::enotsup);
  if (state.present.gs && !(r.kvm_valid_regs & kvm::sync::gscb)) return tl::unexpected(HostError::enotsup);
  auto check = [](int rc) -> tl::expected<void, HostError> {
    if (rc < 0) return tl::unexpected(host_error_from_errno(-rc));
    return {};
  };

  if (state.present.gprs) {
    kvm::Regs regs{};
    std::copy(state.gprs.begin(), state.gprs.end(), std::begin(regs.gprs));
    if (auto e = check(sys_.ioctl(fd, kvm::set_regs_request, &regs)); !e) return e;
  }
  if (state.present.acrs || state.present.crs) {
    kvm::Sregs sregs{};
    // ARs and CRs travel together: keep the half the caller did not provide.
    if (!(state.present.acrs && state.present.crs)) {
      if (auto e = check(sys_.ioctl(fd, kvm::get_sregs_request, &sregs)); !e) return e;
    }
    if (state.present.acrs) std::copy(state.acrs.begin(), state.acrs.end(), std::begin(sregs.acrs));
    if (state.present.crs) std::copy(state.crs.begin(), state.crs.end(), std::begin(sregs.crs));
    if (auto e = check(sys_.ioctl(fd, kvm::set_sregs_request, &sregs)); !e) return e;
  }
  if (state.present.fprs || state.present.vrs) {
    // FPRs are the high halves of VRs 0-15; SET_FPU writes them into kvm_run's VRs too,
    // so the full VRs are stored after it.
    kvm::Fpu fpu{};
    fpu.fpc = state.fpc;
    for (unsigned i = 0; i < 16; ++i) fpu.fprs[i] = state.fpr(i);
    if (auto e = check(sys_.ioctl(fd, kvm::set_fpu_request, &fpu)); !e) return e;
  }
  if (state.present.todpr) {
    std::uint32_t v = state.todpr;
    if (auto e = check(one_reg(sys_, fd, kvm::set_one_reg_request, kvm::reg_todpr, &v)); !e) return e;
  }
  if (state.present.cputm) {
    std::uint64_t v = state.cputm;
    if (auto e = check(one_reg(sys_, fd, kvm::set_one_reg_request, kvm::reg_cpu_timer, &v)); !e) return e;
  }
  if (state.present.ckc) {
    std::uint64_t v = state.ckc;
    if (auto e = check(one_reg(sys_, fd, kvm::set_one_reg_request, kvm::reg_clock_comp, &v)); !e) return e;
  }
  if (state.present.last_break) {
    std::uint64_t v = state.last_break;
    if (auto e = check(one_reg(sys_, fd, kvm::set_one_reg_request, kvm::reg_gbea, &v)); !e) return e;
  }

  // kvm_run: loaded by KVM at the next KVM_RUN.
  if (state.present.psw) {
    r.psw_mask = state.psw.mask;
    r.psw_addr = state.psw.addr;
  }
  if (state.present.prefix) {
    r.s.regs.prefix = state.prefix;
    r.kvm_dirty_regs |= kvm::sync::prefix;
  }
  if (state.present.vrs) {
    for (unsigned i = 0; i < 32; ++i) {
      r.s.regs.vrs[i][0] = state.vrs[i][0];
      r.s.regs.vrs[i][1] = state.vrs[i][1];
    }
    r.s.regs.fpc = state.fpc;
    r.kvm_dirty_regs |= kvm::sync::vrs;
  }
  if (state.present.gs) {
    std::copy(state.gs.begin(), state.gs.end(), std::begin(r.s.regs.gscb));
    r.kvm_dirty_regs |= kvm::sync::gscb;
  }
  return {};
}

}  // namespace s390b
