// KvmBackend specifics, over the fake kernel (fake_kvm.h): construction from the
// capabilities, the exact bytes of the uapi structs it passes, the mapping of ioctl
// returns, INJECT's TEID from the pending interruption, registers and their KVM timing,
// the VcpuGate discipline, facilities, storage keys.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "access/memory_access.h"
#include "tests/backends/memop_fixture.h"
#include "translate/space.h"

namespace s390b::test {
namespace {

using Bytes = std::vector<std::uint8_t>;
using G = SelftestGuest;

std::uint64_t ptr(const void* p) { return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(p)); }

// Records the raw MemOp structs on their way to the fake kernel.
class RecordingIoctl final : public KvmIoctl {
 public:
  explicit RecordingIoctl(KvmIoctl& inner) : inner_(inner) {}
  int ioctl(int fd, unsigned long request, void* arg) override {
    if (request == kvm::mem_op_request) {
      kvm::MemOp m;
      std::memcpy(&m, arg, sizeof m);
      memops.push_back(m);
      std::memcpy(raw.data(), arg, raw.size());
    }
    return inner_.ioctl(fd, request, arg);
  }
  std::vector<kvm::MemOp> memops;
  std::array<std::uint8_t, 64> raw{};

 private:
  KvmIoctl& inner_;
};

class CountingGate final : public VcpuGate {
 public:
  void pause_all() override {
    CHECK_FALSE(paused.exchange(true));  // never nested
    ++pauses;
  }
  void resume_all() override {
    CHECK(paused.exchange(false));
    ++resumes;
  }
  std::atomic<bool> paused{false};
  std::atomic<unsigned> pauses{0};
  std::atomic<unsigned> resumes{0};
};

KvmBackendOptions gated(VcpuGate* gate) {
  KvmBackendOptions o;
  o.gate = gate;
  return o;
}

std::unique_ptr<KvmBackend> make_backend(KvmIoctl& sys, FakeKvm& fake, KvmBackendOptions options = {}) {
  auto b = KvmBackend::create(sys, FakeKvm::vm_fd, fake.vcpus(), std::move(options));
  REQUIRE(b.has_value());
  return std::move(*b);
}

}  // namespace

TEST_SUITE("kvm backend") {

TEST_CASE("kvm uapi: request numbers are the s390 ones") {
  CHECK(kvm::mem_op_request == 0x4040AEB1);
  CHECK(kvm::get_regs_request == 0x8080AE81);
  CHECK(kvm::set_sregs_request == 0x40C0AE84);
  CHECK(kvm::get_fpu_request == 0x8088AE8C);
  CHECK(kvm::get_one_reg_request == 0x4010AEAB);
  CHECK(kvm::get_irq_state_request == 0x4020AEB6);
  CHECK(kvm::get_skeys_request == 0x4040AEB2);
  CHECK(kvm::reg_gbea == 0x5030000000000009);
  CHECK(sizeof(kvm::Run) == 2368);
}

TEST_CASE("kvm backend: construction reads the MEMOP capabilities") {
  auto kernel = G::build().instantiate();
  SUBCASE("op limit and extensions as the kernel reports them") {
    FakeKvm fake(*kernel, {.mem_op_limit = 4096, .mem_op_extension = 3});
    auto b = make_backend(fake, fake);
    CHECK(b->op_limit() == 4096);
    CHECK(b->memop_extensions() == 3);
    CHECK(b->name() == "kvm");
    CHECK(b->cpu_count() == 1);
  }
  SUBCASE("no MEMOP: an error, not a backend") {
    FakeKvm fake(*kernel, {.mem_op_limit = 0});
    auto b = KvmBackend::create(fake, FakeKvm::vm_fd, fake.vcpus());
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().reason == KvmSetupError::Reason::memop_unsupported);
  }
  SUBCASE("a failing capability query: the errno is kept") {
    FakeKvm fake(*kernel);
    fake.fail_next(kvm::check_extension_request, EBADF);
    auto b = KvmBackend::create(fake, FakeKvm::vm_fd, fake.vcpus());
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().reason == KvmSetupError::Reason::memop_unsupported);
    CHECK(b.error().error == EBADF);
    CHECK_FALSE(b.error().message.empty());
  }
  SUBCASE("bad arguments") {
    FakeKvm fake(*kernel);
    CHECK_FALSE(KvmBackend::create(fake, -1, fake.vcpus()).has_value());
    auto vcpus = fake.vcpus();
    vcpus[0].run = nullptr;
    auto b = KvmBackend::create(fake, FakeKvm::vm_fd, vcpus);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().reason == KvmSetupError::Reason::bad_argument);
  }
}

TEST_CASE("kvm backend: the kvm_s390_mem_op bytes it passes") {
  auto kernel = G::build().instantiate();
  FakeKvm fake(*kernel);
  RecordingIoctl rec(fake);
  auto b = make_backend(rec, fake);
  Bytes buf(64, 0x11);

  SUBCASE("logical: every field, union arm {ar, key}") {
    Memop op = memop(MemopKind::logical_read, 0x123456789a, buf, 32,
                     memop_flag::check_only | memop_flag::skey_protection, 3, 9);
    b->vcpu_memop(0, op);
    REQUIRE(rec.memops.size() == 1);
    const kvm::MemOp& m = rec.memops[0];
    CHECK(m.gaddr == 0x123456789a);
    CHECK(m.flags == (memop_flag::check_only | memop_flag::skey_protection));
    CHECK(m.size == 32);
    CHECK(m.op == 0);
    CHECK(m.buf == ptr(buf.data()));
    CHECK(rec.raw[32] == 3);  // ar
    CHECK(rec.raw[33] == 9);  // key
    for (unsigned i = 34; i < 64; ++i) CHECK(rec.raw[i] == 0);
  }
  SUBCASE("SIDA: union arm sida_offset") {
    Memop op = memop(MemopKind::sida_write, 0, buf, 8, 0, 7, 7);
    op.sida_offset = 0x1c0;
    b->vcpu_memop(0, op);
    REQUIRE(rec.memops.size() == 1);
    CHECK(rec.memops[0].op == 3);
    CHECK(rec.memops[0].extra.sida_offset == 0x1c0);
  }
  SUBCASE("cmpxchg: old_addr") {
    Bytes old(8, 0);
    Memop op = memop(MemopKind::absolute_cmpxchg, G::mem1, buf, 8, memop_flag::skey_protection, 0, 4);
    op.old = old;
    b->vm_memop(op);
    REQUIRE(rec.memops.size() == 1);
    CHECK(rec.memops[0].op == 6);
    CHECK(rec.memops[0].extra.access.old_addr == ptr(old.data()));
    CHECK(rec.memops[0].extra.access.key == 4);
  }
  SUBCASE("short spans go as NULL: the kernel's EFAULT, never an overrun") {
    Bytes old(4, 0);
    Memop op = memop(MemopKind::absolute_cmpxchg, G::mem1, std::span(buf).first(4), 8);
    op.old = old;
    CHECK(b->vm_memop(op).kvm_return() == -EFAULT);
    REQUIRE(rec.memops.size() == 1);
    CHECK(rec.memops[0].buf == 0);
    CHECK(rec.memops[0].extra.access.old_addr == 0);
    // A read whose translation fails reports the exception first, as KVM does.
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, ~std::uint64_t{0xfff}, {}, 8)).is_exception());
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, {}, 8)).kvm_return() == -EFAULT);
  }
  SUBCASE("invalid kinds and flags reach the kernel unchanged") {
    b->vcpu_memop(0, memop(static_cast<MemopKind>(0xffffffffu), 0, buf, 8, ~std::uint64_t{0}));
    REQUIRE(rec.memops.size() == 1);
    CHECK(rec.memops[0].op == 0xffffffffu);
    CHECK(rec.memops[0].flags == ~std::uint64_t{0});
  }
}

TEST_CASE("kvm backend: ioctl returns become MemopResults") {
  auto kernel = G::build().instantiate();
  FakeKvm fake(*kernel);
  auto b = make_backend(fake, fake);
  Bytes buf(16);

  SUBCASE("positive: the PGM code, and no TEID (MEMOP returns none)") {
    const MemopResult r = b->vcpu_memop(0, memop(MemopKind::logical_read, ~std::uint64_t{0xfff}, buf, 16));
    REQUIRE(r.is_exception());
    CHECK(r.fault.code == PgmCode::region_first_translation);
    CHECK_FALSE(r.fault.teid.has_value());
    CHECK(fake.calls(kvm::get_irq_state_request) == 0);
  }
  SUBCASE("negative: the errno as HostError") {
    fake.fail_next(kvm::mem_op_request, ENOMEM);
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, buf, 16)).error == HostError::enomem);
    fake.fail_next(kvm::mem_op_request, EAGAIN);
    const MemopResult r = b->vm_memop(memop(MemopKind::absolute_read, G::mem1, buf, 16));
    CHECK(r.status == MemopResult::Status::host_error);
    CHECK(r.error == HostError::eagain);
    CHECK(host_error_from_errno(ENOTTY) == static_cast<HostError>(ENOTTY));
  }
  SUBCASE("cmpxchg: exchange detected from the old value") {
    Bytes mem(8);
    REQUIRE(b->vm_memop(memop(MemopKind::absolute_read, G::mem1, mem, 8)).ok());
    Bytes new_value(8, 0x42);
    Bytes wrong = mem;
    wrong[7] ^= 1;
    Memop op = memop(MemopKind::absolute_cmpxchg, G::mem1, new_value, 8);
    op.old = wrong;
    MemopResult r = b->vm_memop(op);
    CHECK(r.ok());
    CHECK_FALSE(r.exchanged);
    CHECK(wrong == mem);  // memory's value came back
    r = b->vm_memop(op);  // now it matches
    CHECK(r.ok());
    CHECK(r.exchanged);
    CHECK(wrong == mem);  // untouched on success
  }
}

TEST_CASE("kvm backend: INJECT_EXCEPTION reads the TEID back from the pending interruption") {
  GuestImage image = G::build();
  image.set_program_new_psw(image.cpu.psw);  // delivery keeps the guest's modes
  auto kernel = image.instantiate();
  auto reference = image.instantiate();
  FakeKvm fake(*kernel);
  auto b = make_backend(fake, fake);
  Bytes buf(16);
  const Memop op = memop(MemopKind::logical_write, ~std::uint64_t{0xfff}, buf, 16, memop_flag::inject_exception, 5);
  const MemopResult r = b->vcpu_memop(0, op);
  const MemopResult expected = reference->vcpu_memop(0, op);
  REQUIRE(r.is_exception());
  CHECK(fake.calls(kvm::get_irq_state_request) == 1);
  CHECK(r.fault == expected.fault);
  REQUIRE(r.fault.teid.has_value());
  CHECK(r.fault.teid->fsi_is_store());
  CHECK(r.fault.exc_access_id == std::optional<std::uint8_t>{5});
  CHECK(fake.program_interrupt_pending(0));
  REQUIRE(fake.run(0) == 0);  // delivered at the next KVM_RUN
  CHECK_FALSE(fake.program_interrupt_pending(0));

  SUBCASE("a full interrupt buffer is retried larger") {
    fake.fail_next(kvm::get_irq_state_request, ENOBUFS);
    fake.reset_calls();
    const MemopResult again = b->vcpu_memop(0, op);
    CHECK(fake.calls(kvm::get_irq_state_request) == 2);
    CHECK(again.fault.teid.has_value());
  }
}

TEST_CASE("kvm: fault_from_pgm_info rebuilds what make_fault would report") {
  const AddressSpaceId as = AddressSpaceId::access_register;
  for (ProtectionKind kind : {ProtectionKind::low_address, ProtectionKind::key_controlled, ProtectionKind::access_list,
                              ProtectionKind::dat, ProtectionKind::iep, ProtectionKind::termination}) {
    const Fault f = make_fault(PgmCode::protection, kind, 0x5000, AccessMode::store, as, 3);
    CHECK(fault_from_pgm_info(PgmCode::protection, f.teid->raw(), 3) == f);
  }
  for (PgmCode code : {PgmCode::page_translation, PgmCode::asce_type, PgmCode::aste_sequence, PgmCode::addressing,
                       PgmCode::alet_specification, PgmCode::translation_specification}) {
    const Fault f = make_fault(code, {}, 0x7000, AccessMode::fetch, as, 2);
    CHECK(fault_from_pgm_info(code, f.teid ? f.teid->raw() : 0, f.exc_access_id.value_or(0)) == f);
  }
}

TEST_CASE("kvm backend: registers and when they take effect") {
  GuestImage image = G::build();
  CpuState& c = image.cpu;
  for (unsigned i = 0; i < 16; ++i) {
    c.gprs[i] = 0x1000 + i;
    c.acrs[i] = 0x20 + i;
    c.set_fpr(i, 0x3000 + i);
  }
  c.crs[0] = 0xe0;
  for (unsigned i = 0; i < 32; ++i) c.vrs[i][1] = 0x4000 + i;
  c.fpc = 0x08000000;
  c.todpr = 0x1234;
  c.cputm = 0x55;
  c.ckc = 0x66;
  c.last_break = 0x77;
  c.prefix = 0x2000;
  auto kernel = image.instantiate();

  SUBCASE("cpu_state: every group, from the ioctls and kvm_run") {
    FakeKvm fake(*kernel);
    auto b = make_backend(fake, fake);
    fake.reset_calls();
    auto s = b->cpu_state(0);
    REQUIRE(s);
    CHECK(s->gprs == c.gprs);
    CHECK(s->acrs == c.acrs);
    CHECK(s->crs == c.crs);
    CHECK(s->vrs == c.vrs);
    CHECK(s->fpc == c.fpc);
    CHECK(s->psw == c.psw);
    CHECK(s->prefix == c.prefix);
    CHECK(s->todpr == c.todpr);
    CHECK(s->cputm == c.cputm);
    CHECK(s->ckc == c.ckc);
    CHECK(s->last_break == c.last_break);
    CHECK((s->present.gprs && s->present.acrs && s->present.crs && s->present.fprs && s->present.vrs));
    CHECK((s->present.psw && s->present.prefix && s->present.todpr && s->present.last_break));
    CHECK_FALSE(s->present.gs);
    CHECK(fake.calls(kvm::get_regs_request) == 1);
    CHECK(fake.calls(kvm::get_sregs_request) == 1);
    CHECK(fake.calls(kvm::get_fpu_request) == 1);
    CHECK(fake.calls(kvm::get_one_reg_request) == 4);
  }
  SUBCASE("set_cpu_state: SIE-block registers at once, kvm_run ones at the next KVM_RUN") {
    FakeKvm fake(*kernel);
    auto b = make_backend(fake, fake);
    CpuState n = *b->cpu_state(0);
    n.gprs[3] = 0xabc;
    n.crs[0] |= cr0::storage_protection_override;
    n.psw.addr = 0x8888;
    n.prefix = 0x4000;
    n.vrs[5][1] = 0x9999;
    n.ckc = 0x1111;
    REQUIRE(b->set_cpu_state(0, n));
    auto now = kernel->cpu_state(0);
    CHECK(now->gprs[3] == 0xabc);
    CHECK(now->crs[0] == n.crs[0]);
    CHECK(now->ckc == 0x1111);
    CHECK(now->psw.addr == c.psw.addr);  // not yet: kvm_run is read at entry
    CHECK(now->prefix == c.prefix);
    CHECK(b->cpu_state(0)->psw.addr == 0x8888);  // but kvm_run shows it
    CHECK((fake.run_area(0).kvm_dirty_regs & (kvm::sync::prefix | kvm::sync::vrs)) ==
          (kvm::sync::prefix | kvm::sync::vrs));
    REQUIRE(fake.run(0) == 0);
    now = kernel->cpu_state(0);
    CHECK(now->psw.addr == 0x8888);
    CHECK(now->prefix == 0x4000);
    CHECK(now->vrs[5][1] == 0x9999);
  }
  SUBCASE("a partial state keeps the other half of KVM_SET_SREGS") {
    FakeKvm fake(*kernel);
    auto b = make_backend(fake, fake);
    CpuState n;
    n.acrs[2] = 0xdead;
    n.present.acrs = true;
    REQUIRE(b->set_cpu_state(0, n));
    auto now = kernel->cpu_state(0);
    CHECK(now->acrs[2] == 0xdead);
    CHECK(now->crs == c.crs);
    CHECK(now->gprs == c.gprs);
  }
  SUBCASE("without the vector facility: FPRs only, VRs refused") {
    FakeKvm fake(*kernel, {.vector_registers = false});
    auto b = make_backend(fake, fake);
    auto s = b->cpu_state(0);
    REQUIRE(s);
    CHECK_FALSE(s->present.vrs);
    CHECK(s->fpr(7) == 0x3007);
    CHECK(b->set_cpu_state(0, *s));
    s->present.vrs = true;
    CHECK(b->set_cpu_state(0, *s).error() == HostError::enotsup);
  }
  SUBCASE("errors pass through; a bad vCPU is EINVAL") {
    FakeKvm fake(*kernel);
    auto b = make_backend(fake, fake);
    fake.fail_next(kvm::get_sregs_request, EBUSY);
    CHECK(b->cpu_state(0).error() == HostError::ebusy);
    CHECK(b->cpu_state(1).error() == HostError::einval);
    CHECK(b->vcpu_memop(1, Memop{}).error == HostError::einval);
  }
}

TEST_CASE("kvm backend: absolute ops need the MEMOP extension bits") {
  auto kernel = G::build().instantiate();
  Bytes buf(8), old(8);
  Memop cmpxchg = memop(MemopKind::absolute_cmpxchg, G::mem1, buf, 8);
  cmpxchg.old = old;
  SUBCASE("none (before v5.18)") {
    FakeKvm fake(*kernel, {.mem_op_extension = 0});
    auto b = make_backend(fake, fake);
    CHECK(b->vm_memop(memop(MemopKind::absolute_read, G::mem1, buf, 8)).error == HostError::enotsup);
    CHECK(b->vm_memop(cmpxchg).error == HostError::enotsup);
    CHECK(fake.calls(kvm::mem_op_request) == 0);
    // Logical ops work; keys are an unknown flag to such a kernel.
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, buf, 8)).ok());
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, buf, 8, memop_flag::skey_protection)).error ==
          HostError::einval);
  }
  SUBCASE("BASE only (v5.18 to about v6.2)") {
    FakeKvm fake(*kernel, {.mem_op_extension = 1});
    auto b = make_backend(fake, fake);
    CHECK(b->vm_memop(memop(MemopKind::absolute_read, G::mem1, buf, 8)).ok());
    CHECK(b->vm_memop(cmpxchg).error == HostError::enotsup);
  }
}

// Without the VMM's gate nothing keeps the guest from changing its tables during a walk of
// our own: the access layer refuses the walked views (and monitor translate) with ENOLCK;
// the cpu and absolute views go through the kernel's MEMOPs and still work.
TEST_CASE("kvm backend: walked views need the gate") {
  auto kernel = G::build().instantiate();
  FakeKvm fake(*kernel);
  Bytes buf(8);
  auto b = make_backend(fake, fake);
  MemoryAccess access(*b);
  for (auto kind : {AddressSpace::Kind::primary, AddressSpace::Kind::home, AddressSpace::Kind::real}) {
    const ReadOutcome r = access.read(0, AddressSpace::of(kind), G::mem1, buf);
    CHECK(r.bytes == 0);
    CHECK(r.status.status == MemopResult::Status::host_error);
    CHECK(r.status.error == HostError::enolck);
    CHECK(describe_failure(r.status).find("vCPU gate") != std::string::npos);
    CHECK(access.write(0, AddressSpace::of(kind), G::mem1, buf).error == HostError::enolck);
  }
  const TranslationReport rep = access.translate(0, AddressSpace::of(AddressSpace::Kind::home), G::mem1,
                                                 AccessMode::fetch);
  CHECK(format_translation(rep).find("vCPU gate") != std::string::npos);
  CHECK(access.read(0, AddressSpace::of(AddressSpace::Kind::cpu), G::mem1, buf).status.ok());
  CHECK(access.read(0, AddressSpace::of(AddressSpace::Kind::absolute), 0, buf).status.ok());

  CountingGate gate;
  auto gated_backend = make_backend(fake, fake, gated(&gate));
  MemoryAccess gated_access(*gated_backend);
  const unsigned before = gate.pauses;
  const ReadOutcome r = gated_access.read(0, AddressSpace::of(AddressSpace::Kind::real), 0, buf);
  CHECK(r.status.ok());
  CHECK(gate.pauses > before);  // the walk ran with the vCPUs held out of KVM_RUN
  CHECK_FALSE(gate.paused);
}

TEST_CASE("kvm backend: the IPTE lock is a pause of every vCPU through the gate") {
  auto kernel = G::build().instantiate();
  FakeKvm fake(*kernel);
  Bytes buf(8);
  SUBCASE("no gate: an empty guard, and no table walks of our own") {
    auto b = make_backend(fake, fake);
    CHECK_FALSE(b->table_walks_allowed());
    IpteGuard g = b->ipte_lock();
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, buf, 8)).ok());
  }
  SUBCASE("with a gate: counted pauses, never nested") {
    CountingGate gate;
    auto b = make_backend(fake, fake, gated(&gate));
    CHECK(b->table_walks_allowed());
    {
      IpteGuard outer = b->ipte_lock();
      CHECK(gate.paused);
      IpteGuard inner = b->ipte_lock();
      CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, buf, 8)).ok());
      CHECK(b->cpu_state(0).has_value());
      inner.reset();
      CHECK(gate.paused);
    }
    CHECK_FALSE(gate.paused);
    CHECK(gate.pauses == 1);
    CHECK(gate.resumes == 1);
    // A vCPU ioctl alone pauses around itself; a VM ioctl does not.
    CHECK(b->vcpu_memop(0, memop(MemopKind::logical_read, G::mem1, buf, 8)).ok());
    CHECK(gate.pauses == 2);
    CHECK(b->vm_memop(memop(MemopKind::absolute_read, G::mem1, buf, 8)).ok());
    CHECK(gate.pauses == 2);
    CHECK(gate.resumes == 2);
  }
  SUBCASE("with a gate, from several threads") {
    CountingGate gate;
    auto b = make_backend(fake, fake, gated(&gate));
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 50; ++i) {
          IpteGuard g = b->ipte_lock();
        }
      });
    for (auto& t : threads) t.join();
    CHECK_FALSE(gate.paused);
    CHECK(gate.pauses == gate.resumes);
    CHECK(gate.pauses >= 1);
  }
}

TEST_CASE("kvm backend: facilities from the guest CPU model") {
  GuestImage image = G::build();
  image.facilities = Facilities{true, false, false};
  auto kernel = image.instantiate();
  SUBCASE("queried") {
    FakeKvm fake(*kernel);
    auto b = make_backend(fake, fake);
    CHECK(b->facilities().edat1);
    CHECK_FALSE(b->facilities().edat2);
    CHECK_FALSE(b->facilities().iep);
  }
  SUBCASE("no CPU-model interface: the defaults") {
    FakeKvm fake(*kernel, {.cpu_model = false});
    auto b = make_backend(fake, fake);
    CHECK(b->facilities().edat2);
    CHECK(b->facilities().iep);
  }
  SUBCASE("given by the embedder: not queried") {
    FakeKvm fake(*kernel);
    KvmBackendOptions options;
    options.facilities = Facilities{false, false, true};
    auto b = make_backend(fake, fake, options);
    CHECK(fake.calls(kvm::get_device_attr_request) == 0);
    CHECK_FALSE(b->facilities().edat1);
    CHECK(b->facilities().iep);
  }
}

TEST_CASE("kvm backend: storage keys and the memory map") {
  auto kernel = G::build().instantiate();
  FakeKvm fake(*kernel);
  KvmBackendOptions options;
  options.memory = {{0, guest_storage_size}};
  auto b = make_backend(fake, fake, options);
  REQUIRE(b->storage_keys() != nullptr);
  CHECK(b->set_key(G::mem2, StorageKey{0x98}));
  CHECK(kernel->get_key(G::mem2)->raw == 0x98);
  CHECK(b->get_key(G::mem2)->raw == 0x98);
  CHECK(b->get_key(guest_storage_size).error() == HostError::efault);
  CHECK(b->set_key(G::mem2, StorageKey{0x91}).error() == HostError::einval);  // reserved bit
  REQUIRE(b->memory_map() != nullptr);
  CHECK(b->memory_map()->ranges().size() == 1);

  FakeKvm fake2(*kernel);
  CHECK(make_backend(fake2, fake2)->memory_map() == nullptr);
}

}  // TEST_SUITE("kvm backend")

}  // namespace s390b::test
