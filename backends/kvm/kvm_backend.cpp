#include "backends/kvm/kvm_backend.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "backends/kvm/kvm_uapi.h"

namespace s390b {

// The backend passes MemopKind and the flag word through unchanged: they are the uapi values.
static_assert(static_cast<std::uint32_t>(MemopKind::logical_read) == kvm::op_logical_read);
static_assert(static_cast<std::uint32_t>(MemopKind::logical_write) == kvm::op_logical_write);
static_assert(static_cast<std::uint32_t>(MemopKind::sida_read) == kvm::op_sida_read);
static_assert(static_cast<std::uint32_t>(MemopKind::sida_write) == kvm::op_sida_write);
static_assert(static_cast<std::uint32_t>(MemopKind::absolute_read) == kvm::op_absolute_read);
static_assert(static_cast<std::uint32_t>(MemopKind::absolute_write) == kvm::op_absolute_write);
static_assert(static_cast<std::uint32_t>(MemopKind::absolute_cmpxchg) == kvm::op_absolute_cmpxchg);
static_assert(memop_flag::check_only == kvm::flag_check_only && memop_flag::inject_exception == kvm::flag_inject_exception &&
              memop_flag::skey_protection == kvm::flag_skey_protection);
static_assert(kvm_memop_max_size == 65536 && cmpxchg_max_size == 16);

namespace {

std::uint64_t user_pointer(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

bool is_logical(MemopKind kind) { return kind == MemopKind::logical_read || kind == MemopKind::logical_write; }
bool is_sida(MemopKind kind) { return kind == MemopKind::sida_read || kind == MemopKind::sida_write; }

// The guest CPU model's facility list, or nullopt where the kernel has none to give.
std::optional<Facilities> query_facilities(KvmIoctl& sys, int vm_fd) {
  auto processor = std::make_unique<kvm::CpuProcessor>();
  kvm::DeviceAttr attr{};
  attr.group = kvm::vm_attr_cpu_model;
  attr.attr = kvm::cpu_model_processor;
  attr.addr = user_pointer(processor.get());
  if (sys.ioctl(vm_fd, kvm::get_device_attr_request, &attr) < 0) return std::nullopt;
  Facilities f;
  f.edat1 = kvm::facility_bit(processor->fac_list, kvm::facility_edat1);
  f.edat2 = kvm::facility_bit(processor->fac_list, kvm::facility_edat2);
  f.iep = kvm::facility_bit(processor->fac_list, kvm::facility_iep);
  return f;
}

// PGM code bits that can accompany the interruption code proper (PER event 0x80); the
// codes a MEMOP raises are all below them.
constexpr std::uint16_t pgm_code_mask = 0x7f;

// Pending interrupts are few (one per local type plus emergency signals per vCPU); grow
// the buffer on ENOBUFS up to this many entries.
constexpr std::size_t irq_buffer_initial = 32;
constexpr std::size_t irq_buffer_max = 4096;

}  // namespace

HostError host_error_from_errno(int error) { return static_cast<HostError>(error); }

Fault fault_from_pgm_info(PgmCode code, std::uint64_t teid_raw, std::uint8_t exc_access_id) {
  // The same table our walker fills faults from (translate/pgm.h): the kernel stores the
  // TEID and the access id only for these codes; anything else is the code alone.
  Fault f = Fault::plain(code);
  if (stores_teid(code)) f.teid = Teid{teid_raw};
  if (stores_access_id(code)) f.exc_access_id = exc_access_id;
  if (code == PgmCode::protection) f.protection = protection_kind_of(Teid{teid_raw});
  return f;
}

tl::expected<std::unique_ptr<KvmBackend>, KvmSetupError> KvmBackend::create(KvmIoctl& sys, int vm_fd,
                                                                            std::vector<KvmVcpu> vcpus,
                                                                            KvmBackendOptions options) {
  using Reason = KvmSetupError::Reason;
  if (vm_fd < 0) return tl::unexpected(KvmSetupError{Reason::bad_argument, 0, "the VM fd is not open"});
  for (std::size_t i = 0; i < vcpus.size(); ++i) {
    if (vcpus[i].fd < 0 || vcpus[i].run == nullptr)
      return tl::unexpected(KvmSetupError{Reason::bad_argument, 0,
                                          fmt::format("vCPU {} needs an open fd and its mmapped kvm_run", i)});
  }
  const int limit = sys.ioctl(vm_fd, kvm::check_extension_request, as_ioctl_arg(kvm::cap_s390_mem_op));
  if (limit < 0)
    return tl::unexpected(KvmSetupError{Reason::memop_unsupported, -limit,
                                        fmt::format("KVM_CHECK_EXTENSION(KVM_CAP_S390_MEM_OP) failed: {}",
                                                    host_error_name(host_error_from_errno(-limit)))});
  if (limit == 0)
    return tl::unexpected(KvmSetupError{Reason::memop_unsupported, 0, "this kernel has no KVM_S390_MEM_OP"});
  // Zero (a kernel before v5.18) or an error: neither absolute ops nor keys.
  const int ext = sys.ioctl(vm_fd, kvm::check_extension_request, as_ioctl_arg(kvm::cap_s390_mem_op_extension));

  Facilities facilities = options.facilities ? *options.facilities : query_facilities(sys, vm_fd).value_or(Facilities{});
  options.facilities = facilities;
  std::unique_ptr<KvmBackend> backend(new KvmBackend(sys, vm_fd, std::move(vcpus), std::move(options)));
  backend->op_limit_ = static_cast<std::uint32_t>(limit);
  backend->extensions_ = ext > 0 ? static_cast<std::uint32_t>(ext) : 0;
  return backend;
}

KvmBackend::KvmBackend(KvmIoctl& sys, int vm_fd, std::vector<KvmVcpu> vcpus, KvmBackendOptions options)
    : sys_(sys),
      vm_fd_(vm_fd),
      vcpus_(std::move(vcpus)),
      gate_(options.gate),
      memory_(std::move(options.memory)),
      facilities_(options.facilities.value_or(Facilities{})) {}

kvm::Run& KvmBackend::run(unsigned cpu) const { return *static_cast<kvm::Run*>(vcpus_[cpu].run); }

void KvmBackend::pause() const {
  std::lock_guard lk(pause_mutex_);
  // Later arrivals wait on the mutex until the first pause has taken effect.
  if (pause_count_++ == 0 && gate_) gate_->pause_all();
}

void KvmBackend::unpause() const {
  std::lock_guard lk(pause_mutex_);
  if (--pause_count_ == 0 && gate_) gate_->resume_all();
}

IpteGuard KvmBackend::ipte_lock() {
  if (!gate_) return IpteGuard{};
  pause();
  return IpteGuard([this] { unpause(); });
}

MemopResult KvmBackend::vcpu_memop(unsigned cpu, const Memop& op) {
  if (cpu >= vcpus_.size()) return MemopResult::host(HostError::einval);
  const Pause paused(*this);
  return issue(vcpus_[cpu].fd, op, cpu);
}

MemopResult KvmBackend::vm_memop(const Memop& op) {
  switch (op.kind) {
    case MemopKind::absolute_read:
    case MemopKind::absolute_write:
      if (!(extensions_ & kvm::mem_op_extension_base)) return MemopResult::host(HostError::enotsup);
      break;
    case MemopKind::absolute_cmpxchg:
      if (!(extensions_ & kvm::mem_op_extension_cmpxchg)) return MemopResult::host(HostError::enotsup);
      break;
    default: break;  // the kernel says EINVAL
  }
  // VM ioctls do not take a vCPU mutex: no pause needed.
  return issue(vm_fd_, op, std::nullopt);
}

MemopResult KvmBackend::issue(int fd, const Memop& op, std::optional<unsigned> cpu) const {
  kvm::MemOp m{};  // reserved and padding bytes zero
  m.gaddr = op.gaddr;
  m.flags = op.flags;
  m.size = op.size;
  m.op = static_cast<std::uint32_t>(op.kind);
  // A span too short for `size` goes to the kernel as NULL: it then fails with EFAULT
  // exactly where it would touch a bad user buffer, and never past our span.
  m.buf = op.buf.size() >= op.size ? user_pointer(op.buf.data()) : 0;

  const bool cmpxchg = op.kind == MemopKind::absolute_cmpxchg;
  std::array<std::uint8_t, cmpxchg_max_size> old_before{};
  const std::size_t old_len = std::min<std::size_t>(op.size, cmpxchg_max_size);
  const bool old_ok = op.old.size() >= op.size;
  if (is_sida(op.kind)) {
    m.extra.sida_offset = op.sida_offset;
  } else {
    m.extra.access.ar = op.ar;
    m.extra.access.key = op.key;
    if (cmpxchg && old_ok) {
      m.extra.access.old_addr = user_pointer(op.old.data());
      std::copy_n(op.old.begin(), old_len, old_before.begin());
    }
  }

  const int r = sys_.ioctl(fd, kvm::mem_op_request, &m);
  if (r < 0) return MemopResult::host(host_error_from_errno(-r));
  if (r > 0) {
    const auto code = static_cast<PgmCode>(r);
    Fault fault = Fault::plain(code);
    if (cpu && is_logical(op.kind) && (op.flags & memop_flag::inject_exception)) {
      if (auto pending = pending_program_fault(*cpu, code)) fault = *pending;
    }
    return MemopResult::exception(fault);
  }
  MemopResult result = MemopResult::success();
  // KVM's only signal of a mismatch: it rewrote the old value with memory's (Linux
  // arch/s390/kvm/kvm-s390.c, kvm_s390_vm_mem_op_cmpxchg).
  if (cmpxchg) result.exchanged = std::equal(old_before.begin(), old_before.begin() + old_len, op.old.begin());
  return result;
}

std::optional<Fault> KvmBackend::pending_program_fault(unsigned cpu, PgmCode code) const {
  std::vector<kvm::Irq> irqs(irq_buffer_initial);
  for (;;) {
    kvm::IrqState state{};
    state.buf = user_pointer(irqs.data());
    state.len = static_cast<std::uint32_t>(irqs.size() * sizeof(kvm::Irq));
    const int r = sys_.ioctl(vcpus_[cpu].fd, kvm::get_irq_state_request, &state);
    if (r == -ENOBUFS && irqs.size() < irq_buffer_max) {
      irqs.resize(irqs.size() * 4);
      continue;
    }
    if (r < 0) return std::nullopt;
    const std::size_t n = std::min(irqs.size(), static_cast<std::size_t>(r) / sizeof(kvm::Irq));
    for (std::size_t i = 0; i < n; ++i) {
      const kvm::Irq& irq = irqs[i];
      if (irq.type == kvm::irq_program && (irq.u.pgm.code & pgm_code_mask) == static_cast<std::uint16_t>(code))
        return fault_from_pgm_info(code, irq.u.pgm.trans_exc_code, irq.u.pgm.exc_access_id);
    }
    return std::nullopt;
  }
}

tl::expected<StorageKey, HostError> KvmBackend::get_key(std::uint64_t absolute) const {
  std::uint8_t key = 0;
  kvm::Skeys req{};
  req.start_gfn = absolute >> 12;
  req.count = 1;
  req.skeydata_addr = user_pointer(&key);
  const int r = sys_.ioctl(vm_fd_, kvm::get_skeys_request, &req);
  if (r < 0) return tl::unexpected(host_error_from_errno(-r));
  if (r == kvm::skeys_none) return StorageKey{};
  return StorageKey{key};
}

tl::expected<void, HostError> KvmBackend::set_key(std::uint64_t absolute, StorageKey key) {
  std::uint8_t byte = key.raw;
  kvm::Skeys req{};
  req.start_gfn = absolute >> 12;
  req.count = 1;
  req.skeydata_addr = user_pointer(&byte);
  const int r = sys_.ioctl(vm_fd_, kvm::set_skeys_request, &req);
  if (r < 0) return tl::unexpected(host_error_from_errno(-r));
  return {};
}

}  // namespace s390b
