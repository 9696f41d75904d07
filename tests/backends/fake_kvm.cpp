#include "tests/backends/fake_kvm.h"

#include <asm/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

namespace s390b::test {

namespace {

// The s390 KVM requests the fake knows, by number: direction, struct size, which fd.
struct KnownRequest {
  unsigned nr;
  unsigned dir;
  std::size_t size;
  bool on_vm;
  bool on_vcpu;
};

constexpr KnownRequest known_requests[] = {
    {0x03, _IOC_NONE, 0, true, false},                         // KVM_CHECK_EXTENSION
    {0x80, _IOC_NONE, 0, false, true},                         // KVM_RUN
    {0x81, _IOC_READ, sizeof(kvm::Regs), false, true},         // KVM_GET_REGS
    {0x82, _IOC_WRITE, sizeof(kvm::Regs), false, true},        // KVM_SET_REGS
    {0x83, _IOC_READ, sizeof(kvm::Sregs), false, true},        // KVM_GET_SREGS
    {0x84, _IOC_WRITE, sizeof(kvm::Sregs), false, true},       // KVM_SET_SREGS
    {0x8c, _IOC_READ, sizeof(kvm::Fpu), false, true},          // KVM_GET_FPU
    {0x8d, _IOC_WRITE, sizeof(kvm::Fpu), false, true},         // KVM_SET_FPU
    {0xab, _IOC_WRITE, sizeof(kvm::OneReg), false, true},      // KVM_GET_ONE_REG
    {0xac, _IOC_WRITE, sizeof(kvm::OneReg), false, true},      // KVM_SET_ONE_REG
    {0xb1, _IOC_WRITE, sizeof(kvm::MemOp), true, true},        // KVM_S390_MEM_OP
    {0xb2, _IOC_WRITE, sizeof(kvm::Skeys), true, false},       // KVM_S390_GET_SKEYS
    {0xb3, _IOC_WRITE, sizeof(kvm::Skeys), true, false},       // KVM_S390_SET_SKEYS
    {0xb6, _IOC_WRITE, sizeof(kvm::IrqState), false, true},    // KVM_S390_GET_IRQ_STATE
    {0xe2, _IOC_WRITE, sizeof(kvm::DeviceAttr), true, false},  // KVM_GET_DEVICE_ATTR
};

constexpr std::uint64_t skeys_max = 1048576;  // KVM_S390_SKEYS_MAX

template <typename T>
T read_arg(const void* arg) {
  T value;
  std::memcpy(&value, arg, sizeof value);
  return value;
}

template <typename T>
void write_arg(void* arg, const T& value) {
  std::memcpy(arg, &value, sizeof value);
}

template <typename T = std::uint8_t>
T* user(std::uint64_t address) {
  return reinterpret_cast<T*>(static_cast<std::uintptr_t>(address));
}

}  // namespace

FakeKvm::FakeKvm(EmulatedBackend& kernel, Options options)
    : kernel_(kernel), options_(options), pending_(kernel.cpu_count()) {
  for (unsigned i = 0; i < kernel_.cpu_count(); ++i) {
    runs_.push_back(std::make_unique<kvm::Run>());
    std::memset(runs_.back().get(), 0, sizeof(kvm::Run));
    store_regs(i);
  }
}

std::vector<KvmVcpu> FakeKvm::vcpus() {
  std::vector<KvmVcpu> out;
  for (unsigned i = 0; i < runs_.size(); ++i) out.push_back({first_vcpu_fd + static_cast<int>(i), runs_[i].get()});
  return out;
}

void FakeKvm::fail_next(unsigned long request, int error) {
  std::lock_guard lk(mutex_);
  fail_[request] = error;
}

std::size_t FakeKvm::calls(unsigned long request) const {
  std::lock_guard lk(mutex_);
  auto it = calls_.find(request);
  return it == calls_.end() ? 0 : it->second;
}

std::size_t FakeKvm::total_calls() const {
  std::lock_guard lk(mutex_);
  std::size_t n = 0;
  for (const auto& [request, count] : calls_) n += count;
  return n;
}

void FakeKvm::reset_calls() {
  std::lock_guard lk(mutex_);
  calls_.clear();
}

bool FakeKvm::program_interrupt_pending(unsigned cpu) const {
  std::lock_guard lk(mutex_);
  return pending_.at(cpu).has_value();
}

int FakeKvm::ioctl(int fd, unsigned long request, void* arg) {
  {
    std::lock_guard lk(mutex_);
    ++calls_[request];
    if (auto it = fail_.find(request); it != fail_.end()) {
      const int error = it->second;
      fail_.erase(it);
      return -error;
    }
  }
  const bool is_vm = fd == vm_fd;
  const bool is_vcpu = fd >= first_vcpu_fd && fd < first_vcpu_fd + static_cast<int>(runs_.size());
  if (!is_vm && !is_vcpu) return -EBADF;

  // Decode the request number the way the kernel's dispatch effectively does: a known
  // number with another size or direction is a different (unknown) request.
  if (_IOC_TYPE(request) != kvm::kvmio) return -ENOTTY;
  const auto* known = std::find_if(std::begin(known_requests), std::end(known_requests),
                                   [&](const KnownRequest& k) { return k.nr == _IOC_NR(request); });
  if (known == std::end(known_requests) || known->dir != _IOC_DIR(request) || known->size != _IOC_SIZE(request))
    return -ENOTTY;
  if (is_vm ? !known->on_vm : !known->on_vcpu) return -ENOTTY;
  if (known->size != 0 && arg == nullptr) return -EFAULT;
  return is_vm ? vm_ioctl(request, arg) : vcpu_ioctl(static_cast<unsigned>(fd - first_vcpu_fd), request, arg);
}

int FakeKvm::vm_ioctl(unsigned long request, void* arg) {
  switch (request) {
    case kvm::check_extension_request: {
      const auto cap = reinterpret_cast<std::intptr_t>(arg);
      if (cap == kvm::cap_s390_mem_op) return options_.mem_op_limit;
      if (cap == kvm::cap_s390_mem_op_extension) return options_.mem_op_extension;
      return 0;
    }
    case kvm::mem_op_request:
      // Kernels before the extension (v5.18) have no VM-fd MEMOP at all.
      if (!(options_.mem_op_extension & kvm::mem_op_extension_base)) return -ENOTTY;
      return mem_op(std::nullopt, arg);
    case kvm::get_skeys_request:
    case kvm::set_skeys_request: return skeys(request, arg);
    case kvm::get_device_attr_request: return device_attr(arg);
    default: return -ENOTTY;
  }
}

int FakeKvm::vcpu_ioctl(unsigned cpu, unsigned long request, void* arg) {
  auto state = kernel_.cpu_state(cpu);
  if (!state) return -static_cast<int>(state.error());
  kvm::Run& run = *runs_[cpu];
  auto commit = [&]() { return kernel_.set_cpu_state(cpu, *state) ? 0 : -EINVAL; };
  switch (request) {
    case FakeKvm::run_request:
      load_regs(cpu);
      {
        std::lock_guard lk(mutex_);
        pending_[cpu].reset();  // delivered at entry
      }
      store_regs(cpu);
      return 0;
    case kvm::mem_op_request: return mem_op(cpu, arg);
    case kvm::get_regs_request: {
      kvm::Regs regs{};
      std::copy(state->gprs.begin(), state->gprs.end(), std::begin(regs.gprs));
      write_arg(arg, regs);
      return 0;
    }
    case kvm::set_regs_request: {
      const auto regs = read_arg<kvm::Regs>(arg);
      std::copy(std::begin(regs.gprs), std::end(regs.gprs), state->gprs.begin());
      std::copy(std::begin(regs.gprs), std::end(regs.gprs), std::begin(run.s.regs.gprs));  // live in kvm_run
      return commit();
    }
    case kvm::get_sregs_request: {
      kvm::Sregs sregs{};
      std::copy(state->acrs.begin(), state->acrs.end(), std::begin(sregs.acrs));
      std::copy(state->crs.begin(), state->crs.end(), std::begin(sregs.crs));
      write_arg(arg, sregs);
      return 0;
    }
    case kvm::set_sregs_request: {
      const auto sregs = read_arg<kvm::Sregs>(arg);
      std::copy(std::begin(sregs.acrs), std::end(sregs.acrs), state->acrs.begin());
      std::copy(std::begin(sregs.crs), std::end(sregs.crs), state->crs.begin());
      std::copy(std::begin(sregs.acrs), std::end(sregs.acrs), std::begin(run.s.regs.acrs));
      return commit();
    }
    case kvm::get_fpu_request: {
      kvm::Fpu fpu{};
      fpu.fpc = state->fpc;
      for (unsigned i = 0; i < 16; ++i) fpu.fprs[i] = state->fpr(i);
      write_arg(arg, fpu);
      return 0;
    }
    case kvm::set_fpu_request: {
      const auto fpu = read_arg<kvm::Fpu>(arg);
      state->fpc = fpu.fpc;
      for (unsigned i = 0; i < 16; ++i) {
        state->set_fpr(i, fpu.fprs[i]);
        run.s.regs.vrs[i][0] = fpu.fprs[i];  // KVM converts into kvm_run's VRs
      }
      run.s.regs.fpc = fpu.fpc;
      return commit();
    }
    case kvm::get_one_reg_request:
    case kvm::set_one_reg_request: return one_reg(cpu, request, arg);
    case kvm::get_irq_state_request: return irq_state(cpu, arg);
    default: return -ENOTTY;
  }
}

int FakeKvm::mem_op(std::optional<unsigned> cpu, void* arg) {
  const auto m = read_arg<kvm::MemOp>(arg);
  Memop op;
  op.kind = static_cast<MemopKind>(m.op);
  op.gaddr = m.gaddr;
  op.flags = m.flags;
  op.size = m.size;
  const bool sida = op.kind == MemopKind::sida_read || op.kind == MemopKind::sida_write;
  if (sida) {
    op.sida_offset = m.extra.sida_offset;
  } else {
    op.ar = m.extra.access.ar;
    op.key = m.extra.access.key;
  }
  // A NULL user pointer is the one bad buffer this fake can recognise; any other is
  // trusted to hold `size` bytes, as the kernel's copy_{from,to}_user would find out.
  if (m.buf != 0) op.buf = std::span<std::uint8_t>(user(m.buf), m.size);
  if (op.kind == MemopKind::absolute_cmpxchg && m.extra.access.old_addr != 0)
    op.old = std::span<std::uint8_t>(user(m.extra.access.old_addr), m.size);
  // Kernels without the extension know no key flag: an unknown flag bit.
  if (!(options_.mem_op_extension & kvm::mem_op_extension_base) && (op.flags & memop_flag::skey_protection))
    return -EINVAL;
  // Op 6 exists only with the CMPXCHG extension bit.
  if (!cpu && op.kind == MemopKind::absolute_cmpxchg && !(options_.mem_op_extension & kvm::mem_op_extension_cmpxchg))
    return -EINVAL;

  if (!cpu) return kernel_.vm_memop(op).kvm_return();

  const MemopResult r = kernel_.vcpu_memop(*cpu, op);
  const bool logical = op.kind == MemopKind::logical_read || op.kind == MemopKind::logical_write;
  if (r.is_exception() && logical && (op.flags & memop_flag::inject_exception)) {
    kvm::PgmInfo pgm{};
    pgm.code = static_cast<std::uint16_t>(r.fault.code);
    pgm.trans_exc_code = r.fault.teid ? r.fault.teid->raw() : 0;
    pgm.exc_access_id = r.fault.exc_access_id.value_or(0);
    {
      std::lock_guard lk(mutex_);
      pending_[*cpu] = pgm;
    }
    // The emulated backend delivered it already: show the PSW it loaded.
    if (auto s = kernel_.cpu_state(*cpu)) {
      runs_[*cpu]->psw_mask = s->psw.mask;
      runs_[*cpu]->psw_addr = s->psw.addr;
    }
  }
  return r.kvm_return();
}

int FakeKvm::one_reg(unsigned cpu, unsigned long request, void* arg) {
  const auto reg = read_arg<kvm::OneReg>(arg);
  auto state = kernel_.cpu_state(cpu);
  if (!state) return -EINVAL;
  const bool get = request == kvm::get_one_reg_request;
  auto access64 = [&](std::uint64_t& field) {
    if (get) std::memcpy(user(reg.addr), &field, sizeof field);
    else std::memcpy(&field, user(reg.addr), sizeof field);
  };
  switch (reg.id) {
    case kvm::reg_todpr:
      if (get) std::memcpy(user(reg.addr), &state->todpr, sizeof state->todpr);
      else std::memcpy(&state->todpr, user(reg.addr), sizeof state->todpr);
      break;
    case kvm::reg_cpu_timer: access64(state->cputm); break;
    case kvm::reg_clock_comp: access64(state->ckc); break;
    case kvm::reg_gbea: access64(state->last_break); break;
    default: return -EINVAL;
  }
  if (!get && !kernel_.set_cpu_state(cpu, *state)) return -EINVAL;
  return 0;
}

int FakeKvm::irq_state(unsigned cpu, void* arg) {
  const auto st = read_arg<kvm::IrqState>(arg);
  if (st.len == 0) return -EINVAL;
  std::optional<kvm::PgmInfo> pending;
  {
    std::lock_guard lk(mutex_);
    pending = pending_[cpu];
  }
  if (!pending) return 0;
  if (st.len < sizeof(kvm::Irq)) return -ENOBUFS;
  kvm::Irq irq{};
  irq.type = kvm::irq_program;
  irq.u.pgm = *pending;
  std::memcpy(user(st.buf), &irq, sizeof irq);
  return static_cast<int>(sizeof irq);
}

int FakeKvm::skeys(unsigned long request, void* arg) {
  const auto req = read_arg<kvm::Skeys>(arg);
  if (req.flags != 0 || req.count < 1 || req.count > skeys_max) return -EINVAL;
  std::uint8_t* keys = user(req.skeydata_addr);
  if (keys == nullptr) return -EFAULT;
  for (std::uint64_t i = 0; i < req.count; ++i) {
    const std::uint64_t absolute = (req.start_gfn + i) << 12;
    if (request == kvm::get_skeys_request) {
      auto key = kernel_.get_key(absolute);
      if (!key) return -EFAULT;
      keys[i] = key->raw;
    } else {
      if (keys[i] & 0x01) return -EINVAL;  // bit 7 of a key byte is reserved
      if (!kernel_.set_key(absolute, StorageKey{keys[i]})) return -EFAULT;
    }
  }
  return 0;
}

int FakeKvm::device_attr(void* arg) {
  const auto attr = read_arg<kvm::DeviceAttr>(arg);
  if (!options_.cpu_model || attr.group != kvm::vm_attr_cpu_model || attr.attr != kvm::cpu_model_processor)
    return -ENXIO;
  kvm::CpuProcessor processor{};
  const Facilities f = kernel_.facilities();
  if (f.edat1) kvm::set_facility_bit(processor.fac_list, kvm::facility_edat1);
  if (f.edat2) kvm::set_facility_bit(processor.fac_list, kvm::facility_edat2);
  if (f.iep) kvm::set_facility_bit(processor.fac_list, kvm::facility_iep);
  std::memcpy(user(attr.addr), &processor, sizeof processor);
  return 0;
}

void FakeKvm::store_regs(unsigned cpu) {
  auto state = kernel_.cpu_state(cpu);
  if (!state) return;
  kvm::Run& run = *runs_[cpu];
  kvm::SyncRegs& s = run.s.regs;
  run.psw_mask = state->psw.mask;
  run.psw_addr = state->psw.addr;
  s.prefix = state->prefix;
  std::copy(state->gprs.begin(), state->gprs.end(), std::begin(s.gprs));
  std::copy(state->acrs.begin(), state->acrs.end(), std::begin(s.acrs));
  std::copy(state->crs.begin(), state->crs.end(), std::begin(s.crs));
  s.todpr = state->todpr;
  s.cputm = state->cputm;
  s.ckc = state->ckc;
  s.gbea = state->last_break;
  s.fpc = state->fpc;
  std::uint64_t valid = kvm::sync::prefix | kvm::sync::gprs | kvm::sync::acrs | kvm::sync::crs | kvm::sync::arch0 |
                        kvm::sync::pfault;
  if (options_.vector_registers) {
    for (unsigned i = 0; i < 32; ++i) {
      s.vrs[i][0] = state->vrs[i][0];
      s.vrs[i][1] = state->vrs[i][1];
    }
    valid |= kvm::sync::vrs;
  } else {
    // Without the vector facility the union holds fprs[16]: the first 16 doublewords.
    for (unsigned i = 0; i < 16; ++i) s.vrs[i / 2][i % 2] = state->fpr(i);
    valid |= kvm::sync::fprs;
  }
  run.kvm_valid_regs = valid;
}

void FakeKvm::load_regs(unsigned cpu) {
  auto state = kernel_.cpu_state(cpu);
  if (!state) return;
  const kvm::Run& run = *runs_[cpu];
  const kvm::SyncRegs& s = run.s.regs;
  const std::uint64_t dirty = run.kvm_dirty_regs;
  state->psw = Psw{run.psw_mask, run.psw_addr};
  if (dirty & kvm::sync::prefix) state->prefix = static_cast<std::uint32_t>(s.prefix);
  if (dirty & kvm::sync::gprs) std::copy(std::begin(s.gprs), std::end(s.gprs), state->gprs.begin());
  if (dirty & kvm::sync::acrs) std::copy(std::begin(s.acrs), std::end(s.acrs), state->acrs.begin());
  if (dirty & kvm::sync::crs) std::copy(std::begin(s.crs), std::end(s.crs), state->crs.begin());
  if ((dirty & kvm::sync::vrs) && options_.vector_registers) {
    for (unsigned i = 0; i < 32; ++i) state->vrs[i] = {s.vrs[i][0], s.vrs[i][1]};
    state->fpc = s.fpc;
  }
  if (dirty & kvm::sync::gscb) std::copy(std::begin(s.gscb), std::end(s.gscb), state->gs.begin());
  kernel_.set_cpu_state(cpu, *state);
}

}  // namespace s390b::test
