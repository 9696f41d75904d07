// s390bridge-kvm-embed: the smallest s390x KVM launcher that embeds the bridge.
//
//   s390bridge-kvm-embed [GUEST.bin [LOAD_ADDRESS]]
//
// It creates a VM with one memslot at absolute 0 and one vCPU, loads a flat guest binary
// (or a built-in one: a marker string and a `j .` spin loop) at LOAD_ADDRESS (default
// 0x10000), starts it in 64-bit mode with DAT off, runs the vCPU on its own thread, and
// then does what a debugger front end will do through the bridge: a KvmBackend over the
// launcher's own fds, a MEMOP read of guest memory, the vCPU's PSW.
//
// Why the bridge lives inside the VMM: KVM refuses vCPU ioctls from any process but the
// VM's creator, so gdb cannot attach to a KVM guest from outside. README.md says what has
// and has not been run on real hardware.
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "backends/kvm/kvm_backend.h"

namespace {

constexpr std::uint64_t guest_memory_size = std::uint64_t{16} << 20;  // one memslot at absolute 0
// s390 KVM wants a memslot's host address and size 1 MiB aligned (segment size).
constexpr std::uint64_t memslot_alignment = std::uint64_t{1} << 20;
constexpr std::uint64_t default_load_address = 0x10000;
// PSW mask: EA + BA (64-bit addressing), DAT off, every interruption class masked.
constexpr std::uint64_t psw_mask_64bit = 0x0000000180000000;
constexpr int expected_api_version = 12;  // KVM_GET_API_VERSION since Linux 2.6.22
// The built-in guest: a marker at +0x100 and, at the entry point, BRC 15,0 (`j .`).
constexpr std::uint8_t spin_loop[] = {0xa7, 0xf4, 0x00, 0x00};
constexpr std::uint64_t marker_offset = 0x100;
constexpr char marker[] = "s390bridge kvm-embed guest";
// KVM_EXIT_S390_SIEIC intercept code of a disabled-wait PSW (the guest stopped itself).
constexpr unsigned icpt_disabled_wait = 0x1c;

[[noreturn]] void die(const std::string& what) {
  fmt::print(stderr, "s390bridge-kvm-embed: {}: {}\n", what, std::strerror(errno));
  std::exit(1);
}

// Keeps the vCPU thread out of KVM_RUN on request: the VcpuGate the bridge needs for its
// own table walks (backends/kvm/vcpu_gate.h states the contract).
class RunGate final : public s390b::VcpuGate {
 public:
  explicit RunGate(kvm_run* run) : run_(run) {}
  void set_thread(pthread_t thread) { thread_ = thread; }

  void pause_all() override {
    std::unique_lock lk(mutex_);
    paused_ = true;
    kick();
    cv_.wait(lk, [&] { return !in_run_; });
  }
  void resume_all() override {
    std::lock_guard lk(mutex_);
    paused_ = false;
    run_->immediate_exit = 0;
    cv_.notify_all();
  }
  void stop() {
    std::lock_guard lk(mutex_);
    stopping_ = true;
    kick();
    cv_.notify_all();
  }

  // vCPU thread: whether to enter KVM_RUN (waits while paused), and that it left it.
  bool enter() {
    std::unique_lock lk(mutex_);
    cv_.wait(lk, [&] { return !paused_ || stopping_; });
    if (stopping_) return false;
    in_run_ = true;
    return true;
  }
  void leave() {
    std::lock_guard lk(mutex_);
    in_run_ = false;
    cv_.notify_all();
  }

 private:
  // A KVM_RUN about to start sees immediate_exit and returns -EINTR at once; one in
  // progress is interrupted by the signal (its handler does nothing, no SA_RESTART).
  void kick() {
    run_->immediate_exit = 1;
    if (in_run_) pthread_kill(thread_, SIGUSR1);
  }

  kvm_run* run_;
  pthread_t thread_{};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool paused_ = false;
  bool in_run_ = false;
  bool stopping_ = false;
};

void vcpu_loop(int vcpu_fd, kvm_run* run, RunGate& gate) {
  while (gate.enter()) {
    const int r = ioctl(vcpu_fd, KVM_RUN, 0);
    const int error = errno;
    gate.leave();
    if (r < 0) {
      if (error == EINTR || error == EAGAIN) continue;  // paused, stopping, or a signal
      fmt::print(stderr, "vCPU 0: KVM_RUN: {}\n", std::strerror(error));
      return;
    }
    if (run->exit_reason == KVM_EXIT_S390_SIEIC) {
      // This launcher emulates no instruction: any intercept ends the vCPU thread.
      fmt::print("vCPU 0: intercept code {:#x} (ipa {:#06x}, ipb {:#010x}){}; vCPU stopped\n",
                 run->s390_sieic.icptcode, run->s390_sieic.ipa, run->s390_sieic.ipb,
                 run->s390_sieic.icptcode == icpt_disabled_wait ? ", disabled wait" : "");
      return;
    }
    fmt::print("vCPU 0: exit reason {}; vCPU stopped\n", run->exit_reason);
    return;
  }
}

std::vector<std::uint8_t> guest_image(int argc, char** argv) {
  if (argc < 2) {
    std::vector<std::uint8_t> image(marker_offset + sizeof marker, 0);
    std::copy(std::begin(spin_loop), std::end(spin_loop), image.begin());
    std::copy(std::begin(marker), std::end(marker), image.begin() + marker_offset);
    return image;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) die(fmt::format("cannot open {}", argv[1]));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void print_hex(std::string_view what, std::uint64_t address, const std::vector<std::uint8_t>& bytes) {
  std::string text;
  for (auto b : bytes) text += fmt::format("{:02x}", b);
  fmt::print("{} at {:#x}: {}\n", what, address, text);
}

}  // namespace

int main(int argc, char** argv) {
  const std::uint64_t load = argc > 2 ? std::strtoull(argv[2], nullptr, 0) : default_load_address;
  const std::vector<std::uint8_t> image = guest_image(argc, argv);
  if (load >= guest_memory_size || image.size() > guest_memory_size - load) {
    fmt::print(stderr, "s390bridge-kvm-embed: the guest does not fit below {:#x}\n", guest_memory_size);
    return 2;
  }

  // ---- The VMM: VM, memory, vCPU -------------------------------------------------------
  const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != expected_api_version) die("unexpected KVM API version");
  const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");

  void* raw = mmap(nullptr, guest_memory_size + memslot_alignment, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (raw == MAP_FAILED) die("mmap guest memory");
  auto* memory = reinterpret_cast<std::uint8_t*>(
      (reinterpret_cast<std::uintptr_t>(raw) + memslot_alignment - 1) & ~(memslot_alignment - 1));
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = guest_memory_size;
  region.userspace_addr = reinterpret_cast<std::uintptr_t>(memory);
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

  const int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  const int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < static_cast<int>(sizeof(kvm_run))) die("KVM_GET_VCPU_MMAP_SIZE");
  auto* run = static_cast<kvm_run*>(mmap(nullptr, static_cast<std::size_t>(run_size), PROT_READ | PROT_WRITE,
                                         MAP_SHARED, vcpu, 0));
  if (run == MAP_FAILED) die("mmap kvm_run");

  std::copy(image.begin(), image.end(), memory + load);
  kvm_s390_psw psw{psw_mask_64bit, load};
  if (ioctl(vcpu, KVM_S390_SET_INITIAL_PSW, &psw) < 0) die("KVM_S390_SET_INITIAL_PSW");

  // SIGUSR1 kicks the vCPU thread out of KVM_RUN; no SA_RESTART, so KVM_RUN returns EINTR.
  struct sigaction kick {};
  kick.sa_handler = [](int) {};
  sigemptyset(&kick.sa_mask);
  if (sigaction(SIGUSR1, &kick, nullptr) < 0) die("sigaction");

  RunGate gate(run);
  std::thread vcpu_thread(vcpu_loop, vcpu, run, std::ref(gate));
  gate.set_thread(vcpu_thread.native_handle());
  fmt::print("guest of {} bytes loaded at {:#x}, vCPU 0 running\n", image.size(), load);

  // ---- The bridge -----------------------------------------------------------------------
  s390b::KvmBackendOptions options;
  options.gate = &gate;
  options.memory = {{0, guest_memory_size}};
  auto created = s390b::KvmBackend::create(s390b::system_kvm_ioctl(), vm, {{vcpu, run}}, options);
  if (!created) {
    fmt::print(stderr, "s390bridge-kvm-embed: {}\n", created.error().message);
    gate.stop();
    vcpu_thread.join();
    return 1;
  }
  s390b::KvmBackend& backend = **created;
  const s390b::Facilities f = backend.facilities();
  fmt::print("bridge: MEMOP limit {} bytes, extensions {:#x}, EDAT-1 {} EDAT-2 {} IEP {}\n", backend.op_limit(),
             backend.memop_extensions(), f.edat1, f.edat2, f.iep);

  // An absolute read on the VM fd (no pause needed) ...
  std::vector<std::uint8_t> bytes(32);
  s390b::Memop op;
  op.kind = s390b::MemopKind::absolute_read;
  op.gaddr = load + marker_offset;
  op.size = static_cast<std::uint32_t>(bytes.size());
  op.buf = bytes;
  s390b::MemopResult r = backend.vm_memop(op);
  if (r.ok()) print_hex("absolute MEMOP read", op.gaddr, bytes);
  else fmt::print("absolute MEMOP read at {:#x}: KVM returned {}\n", op.gaddr, r.kvm_return());

  // ... and a logical read on the vCPU fd, with the vCPU paused through the gate.
  op.kind = s390b::MemopKind::logical_read;
  op.gaddr = load;
  op.size = 16;
  bytes.assign(16, 0);
  op.buf = bytes;
  r = backend.vcpu_memop(0, op);
  if (r.ok()) print_hex("logical MEMOP read (DAT off: real)", op.gaddr, bytes);
  else fmt::print("logical MEMOP read at {:#x}: KVM returned {}\n", op.gaddr, r.kvm_return());

  if (auto state = backend.cpu_state(0)) fmt::print("vCPU 0 PSW {:016x} {:016x}\n", state->psw.mask, state->psw.addr);

  // ---- Where the debugger goes ----------------------------------------------------------
  // Once gdbstub/ has its server, start it here on its own thread over `backend`, e.g.
  //   std::thread stub([&] { s390b::gdbstub::serve(backend, listen_address); });
  // and keep the process alive until the debugger detaches. Until then the example stops
  // after the demonstration above.

  gate.stop();
  vcpu_thread.join();
  return 0;
}
