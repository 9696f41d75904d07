// Linux's KVM MEMOP selftest (tools/testing/selftests/kvm/s390/memop.c), case by case,
// against both backends: the EmulatedBackend
// directly and KvmBackend through the fake kernel. Where the selftest runs guest code
// (SSKE, memcpy, a PSW switch) the test sets the guest state directly on the emulated
// "kernel" or writes registers through the backend and lets the guest "run" (KVM_RUN on
// the fake). #5 needs a concurrently running guest doing CS: replaced by host threads
// doing cmpxchg against each other.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cerrno>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "tests/backends/memop_fixture.h"

namespace s390b::test {
namespace {

using Bytes = std::vector<std::uint8_t>;
using G = SelftestGuest;

constexpr std::uint32_t full = G::mem_size;  // t.size = min(KVM_CAP_S390_MEM_OP, 64 KiB)
constexpr int prot = static_cast<int>(PgmCode::protection);  // ERR_PROT_MOP expects exactly 4
constexpr auto invalid_op = static_cast<MemopKind>(0xffffffffu);  // op -1
constexpr std::uint64_t bad_gaddr = ~std::uint64_t{0xfff};

enum class Fd { vcpu, vm };

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<std::uint8_t>(rng());
  return b;
}

MemopResult mop(Backend& b, Fd fd, const Memop& op) { return fd == Fd::vcpu ? b.vcpu_memop(0, op) : b.vm_memop(op); }

MemopKind read_kind(Fd fd) { return fd == Fd::vcpu ? MemopKind::logical_read : MemopKind::absolute_read; }
MemopKind write_kind(Fd fd) { return fd == Fd::vcpu ? MemopKind::logical_write : MemopKind::absolute_write; }

// KEY(k) / NO_KEY.
Memop with_key(Memop op, std::optional<std::uint8_t> key) {
  if (key) {
    op.flags |= memop_flag::skey_protection;
    op.key = *key;
  }
  return op;
}

// CHECK_N_DO: the op with CHECK_ONLY, then for real; both must return `expected`
// (KVM's ioctl value: 0, the PGM code, or -errno).
void check_n_do(Backend& b, Fd fd, Memop op, int expected) {
  Memop check = op;
  check.flags |= memop_flag::check_only;
  CHECK(mop(b, fd, check).kvm_return() == expected);
  CHECK(mop(b, fd, op).kvm_return() == expected);
}

// The guest's memcpy(mem2, mem1, size).
template <class H>
void guest_copy(H& h, std::uint32_t size) {
  Bytes tmp(size);
  REQUIRE(h.guest().storage().read(G::mem1, tmp));
  REQUIRE(h.guest().storage().write(G::mem2, tmp));
}

template <class H>
void guest_keys(H& h, std::uint64_t absolute, std::uint64_t length, std::uint8_t key) {
  for (std::uint64_t a = absolute; a < absolute + length; a += page_size)
    REQUIRE(h.guest().set_key(a, StorageKey{key}));
}

// Sets CR0 bits (or the PSW) through the backend and lets the vCPU pick them up.
template <class H>
void set_cr0(H& h, std::uint64_t bits) {
  auto s = h.backend().cpu_state(0);
  REQUIRE(s);
  s->crs[0] |= bits;
  REQUIRE(h.backend().set_cpu_state(0, *s));
  h.run_guest();
}
template <class H>
void set_psw_mask(H& h, std::uint64_t mask) {
  auto s = h.backend().cpu_state(0);
  REQUIRE(s);
  s->psw.mask = mask;
  REQUIRE(h.backend().set_cpu_state(0, *s));
  h.run_guest();
}

// default_write_read: write mem1 (check+do), guest copies mem1 -> mem2, read mem2 (check+do).
template <class H>
void default_write_read(H& h, Fd fd, std::uint32_t size, std::optional<std::uint8_t> key, std::uint8_t ar = 0) {
  Bytes mem1 = random_bytes(full, size + 17u * key.value_or(99));
  Bytes mem2(full, 0xaa);
  check_n_do(h.backend(), fd, with_key(memop(write_kind(fd), G::mem1, mem1, size, 0, ar), key), 0);
  guest_copy(h, size);
  check_n_do(h.backend(), fd, with_key(memop(read_kind(fd), G::mem2, mem2, size, 0, ar), key), 0);
  CHECK(std::equal(mem1.begin(), mem1.begin() + size, mem2.begin()));
}

// default_read: write without a key, read with `key`.
template <class H>
void default_read(H& h, Fd fd, std::uint32_t size, std::uint8_t key) {
  Bytes mem1 = random_bytes(full, 1234u + key);
  Bytes mem2(full, 0xaa);
  check_n_do(h.backend(), fd, memop(write_kind(fd), G::mem1, mem1, size), 0);
  guest_copy(h, size);
  check_n_do(h.backend(), fd, with_key(memop(read_kind(fd), G::mem2, mem2, size), key), 0);
  CHECK(std::equal(mem1.begin(), mem1.begin() + size, mem2.begin()));
}

MemopResult cmpxchg(Backend& b, std::uint64_t gaddr, std::span<std::uint8_t> new_value, std::span<std::uint8_t> old,
                    std::uint32_t size, std::optional<std::uint8_t> key) {
  Memop op = with_key(memop(MemopKind::absolute_cmpxchg, gaddr, new_value, size), key);
  op.old = old;
  return b.vm_memop(op);
}

Bytes read_abs(Backend& b, std::uint64_t address, std::uint32_t size) {
  Bytes out(size);
  REQUIRE(b.vm_memop(memop(MemopKind::absolute_read, address, out, size)).ok());
  return out;
}

// test_errors_common for one fd.
void errors_common(Backend& b, Fd fd) {
  Bytes mem1 = random_bytes(full, 7);
  const MemopKind w = write_kind(fd);
  CHECK(mop(b, fd, memop(w, G::mem1, mem1, 0xffffffffu)).kvm_return() == -E2BIG);
  CHECK(mop(b, fd, memop(w, G::mem1, mem1, 0)).kvm_return() == -EINVAL);
  CHECK(mop(b, fd, memop(w, G::mem1, mem1, full, ~std::uint64_t{0})).kvm_return() == -EINVAL);
  CHECK(mop(b, fd, memop(w, bad_gaddr, mem1, full, memop_flag::check_only)).kvm_return() > 0);
  CHECK(mop(b, fd, memop(w, bad_gaddr, mem1, full)).kvm_return() > 0);
  CHECK(mop(b, fd, memop(w, G::mem1, {}, full)).kvm_return() == -EFAULT);  // buf NULL
  CHECK(mop(b, fd, with_key(memop(w, G::mem1, mem1, full), 17)).kvm_return() == -EINVAL);
}

}  // namespace

TEST_SUITE("memop selftest") {

TEST_CASE_TEMPLATE("#1 simple copy", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Bytes mem1 = random_bytes(full, 1);
  Bytes mem2(full, 0xaa);
  check_n_do(h.backend(), Fd::vcpu, memop(MemopKind::logical_write, G::mem1, mem1, full), 0);
  guest_copy(h, full);
  check_n_do(h.backend(), Fd::vcpu, memop(MemopKind::logical_read, G::mem2, mem2, full), 0);
  CHECK(mem1 == mem2);
}

TEST_CASE_TEMPLATE("#2 generic error checks", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Backend& b = h.backend();
  errors_common(b, Fd::vcpu);
  errors_common(b, Fd::vm);
  Bytes mem1 = random_bytes(full, 2);
  // Bad operation, on both fds.
  CHECK(b.vcpu_memop(0, memop(invalid_op, G::mem1, mem1, full)).kvm_return() == -EINVAL);
  CHECK(b.vm_memop(memop(invalid_op, 0, mem1, page_size)).kvm_return() == -EINVAL);
  // Bad access register, in AR mode.
  set_psw_mask(h, psw_dat_primary_64 | psw_as_access_register);
  CHECK(b.vcpu_memop(0, memop(MemopKind::logical_write, G::mem1, mem1, full, 0, 17)).kvm_return() == -EINVAL);
  set_psw_mask(h, psw_dat_primary_64);
  // SIDA ops are rejected for a non-protected vCPU.
  Memop sida = memop(MemopKind::sida_read, 0, mem1, 8);
  sida.sida_offset = 0x1c0;
  CHECK(b.vcpu_memop(0, sida).kvm_return() == -EINVAL);
  sida.kind = MemopKind::sida_write;
  CHECK(b.vcpu_memop(0, sida).kvm_return() == -EINVAL);
}

TEST_CASE_TEMPLATE("#3 copy with storage keys", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  guest_keys(h, G::mem1, full, 0x90);
  guest_keys(h, G::mem2, full, 0x90);
  default_write_read(h, Fd::vm, full, std::nullopt);
  for (std::uint32_t size : {full, 1u}) {
    CAPTURE(size);
    default_write_read(h, Fd::vcpu, size, 0);
    default_write_read(h, Fd::vcpu, size, 9);
    default_write_read(h, Fd::vm, size, 0);
    default_write_read(h, Fd::vm, size, 9);
  }
  // Mismatching key on read, but no fetch protection.
  default_read(h, Fd::vcpu, full, 2);
  default_read(h, Fd::vm, full, 2);
}

TEST_CASE_TEMPLATE("#4 cmpxchg with storage keys", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Backend& b = h.backend();
  guest_keys(h, G::mem1, full, 0x90);
  guest_keys(h, G::mem2, full, 0x90);
  std::uint32_t seed = 40;
  for (std::optional<std::uint8_t> key : {std::optional<std::uint8_t>{}, std::optional<std::uint8_t>{0},
                                          std::optional<std::uint8_t>{9}}) {
    for (std::uint32_t size = 1; size <= 16; size *= 2) {
      for (std::uint32_t offset = 0; offset < 16; offset += size) {
        CAPTURE(size);
        CAPTURE(offset);
        Bytes mem = random_bytes(16, ++seed);
        REQUIRE(b.vcpu_memop(0, memop(MemopKind::logical_write, G::mem1, mem, 16)).ok());
        // Matching old value: exchanged, memory takes the new value, old untouched.
        Bytes new_value = random_bytes(16, ++seed);
        Bytes old(mem.begin() + offset, mem.begin() + offset + size);
        const Bytes old_passed = old;
        MemopResult r = cmpxchg(b, G::mem1 + offset, new_value, old, size, key);
        CHECK(r.ok());
        CHECK(r.exchanged);
        CHECK(old == old_passed);
        std::copy_n(new_value.begin(), size, mem.begin() + offset);
        CHECK(read_abs(b, G::mem1, 16) == mem);
        // Mismatching old value: no exchange, memory unchanged, old = memory's value.
        Bytes old2(mem.begin() + offset, mem.begin() + offset + size);
        old2[0]++;
        new_value[0]++;
        r = cmpxchg(b, G::mem1 + offset, new_value, old2, size, key);
        CHECK(r.ok());
        CHECK_FALSE(r.exchanged);
        CHECK(read_abs(b, G::mem1, 16) == mem);
        CHECK(std::equal(old2.begin(), old2.end(), mem.begin() + offset));
      }
    }
  }
}

}  // TEST_SUITE("memop selftest")

// #5 in the concurrency suite (scripts/test runs it under TSan). The selftest's guest CS
// loop becomes host threads: each takes a 16-byte lock at mem1 by cmpxchg, bumps a
// counter with plain absolute read + write while holding it, releases it by cmpxchg, and
// outside the lock permutes the bits of a 16-byte block of mem2 with cmpxchg of random
// size. No lost update (counter) and no torn update (popcount of the block).
TEST_SUITE("concurrency") {

TEST_CASE_TEMPLATE("memop selftest #5 concurrent cmpxchg with storage keys", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Backend& b = h.backend();
  guest_keys(h, G::mem1, page_size, 0x10);
  guest_keys(h, G::mem2, page_size, 0x10);
  constexpr std::uint8_t key = 1;
  constexpr std::uint64_t lock = G::mem1;
  constexpr std::uint64_t counter = G::mem1 + 64;
  constexpr std::uint64_t block = G::mem2;
  constexpr unsigned threads = 4;
  constexpr unsigned iterations = 150;

  Bytes initial = random_bytes(16, 5);
  REQUIRE(b.vm_memop(memop(MemopKind::absolute_write, block, initial, 16)).ok());
  auto popcount = [](const Bytes& v) {
    int n = 0;
    for (auto x : v) n += std::popcount(x);
    return n;
  };
  std::atomic<bool> failed{false};

  auto worker = [&](unsigned id) {
    std::mt19937 rng(100 + id);
    for (unsigned it = 0; it < iterations && !failed; ++it) {
      // Take the lock: 16 zero bytes -> 16 bytes of the thread's id.
      Bytes owner(16, static_cast<std::uint8_t>(id + 1));
      for (;;) {
        Bytes old(16, 0);
        MemopResult r = cmpxchg(b, lock, owner, old, 16, key);
        if (!r.ok()) { failed = true; return; }
        if (r.exchanged) break;
        if (failed) return;  // the holder gave up: do not spin forever
        std::this_thread::yield();
      }
      Bytes c(8);
      if (!b.vm_memop(with_key(memop(MemopKind::absolute_read, counter, c, 8), key)).ok()) failed = true;
      std::uint64_t v = load_be64(c.data()) + 1;
      store_be64(c.data(), v);
      if (!b.vm_memop(with_key(memop(MemopKind::absolute_write, counter, c, 8), key)).ok()) failed = true;
      Bytes zero(16, 0);
      Bytes held = owner;
      MemopResult r = cmpxchg(b, lock, zero, held, 16, key);
      if (!r.ok() || !r.exchanged) failed = true;

      // Permute the bits of a random aligned piece of the block: rotate it by one bit.
      const std::uint32_t size = 1u << (rng() % 5);
      const std::uint32_t offset = (rng() % 16) & ~(size - 1);
      Bytes cur(size, 0);
      for (;;) {
        Bytes next(size);
        for (std::uint32_t i = 0; i < size; ++i)
          next[i] = static_cast<std::uint8_t>((cur[i] << 1) | (cur[(i + 1) % size] >> 7));
        MemopResult x = cmpxchg(b, block + offset, next, cur, size, key);  // on mismatch cur = memory
        if (!x.ok()) { failed = true; return; }
        if (x.exchanged) break;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back(worker, i);
  for (auto& t : pool) t.join();

  REQUIRE_FALSE(failed);
  CHECK(load_be64(read_abs(b, counter, 8).data()) == threads * iterations);
  CHECK(read_abs(b, lock, 16) == Bytes(16, 0));
  CHECK(popcount(read_abs(b, block, 16)) == popcount(initial));
}

}  // TEST_SUITE("concurrency")

TEST_SUITE("memop selftest") {

TEST_CASE_TEMPLATE("#6 copy with key storage protection override", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  guest_keys(h, G::mem1, full, 0x98);
  guest_keys(h, G::mem2, full, 0x98);
  set_cr0(h, cr0::storage_protection_override);
  default_write_read(h, Fd::vcpu, full, 2);
}

TEST_CASE_TEMPLATE("#7 copy with key fetch protection", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  guest_keys(h, G::mem1, full, 0x98);
  guest_keys(h, G::mem2, full, 0x98);
  default_write_read(h, Fd::vcpu, full, 9);
  default_write_read(h, Fd::vm, full, 9);
}

TEST_CASE_TEMPLATE("#8 copy with key fetch protection override", H, EmulatedHarness, KvmHarness) {
  H h(G::build(/*map_last_page=*/true));
  Backend& b = h.backend();
  guest_keys(h, 0, page_size, 0x18);                      // the frame of virtual page 0
  guest_keys(h, G::last_page_frame, page_size, 0x00);     // the frame of the last page
  set_cr0(h, cr0::fetch_protection_override);

  Bytes mem1 = random_bytes(page_size + 2048, 8);
  Bytes mem2(page_size + 2048, 0xaa);
  REQUIRE(b.vcpu_memop(0, memop(MemopKind::logical_write, 0, mem1, 2048)).ok());
  check_n_do(b, Fd::vcpu, with_key(memop(MemopKind::logical_read, 0, mem2, 2048), 2), 0);
  CHECK(std::equal(mem1.begin(), mem1.begin() + 2048, mem2.begin()));

  // 4096 + 2048 bytes from the last page: the tail wraps to virtual 0.
  std::fill(mem2.begin(), mem2.end(), 0xaa);
  REQUIRE(b.vcpu_memop(0, memop(MemopKind::logical_write, G::last_page, mem1, page_size + 2048)).ok());
  check_n_do(b, Fd::vcpu, with_key(memop(MemopKind::logical_read, G::last_page, mem2, page_size + 2048), 2), 0);
  CHECK(mem1 == mem2);
  CHECK(read_abs(b, G::last_page_frame, 16) == Bytes(mem1.begin(), mem1.begin() + 16));
}

TEST_CASE_TEMPLATE("#9 copy with access register mode", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  set_psw_mask(h, psw_dat_primary_64 | psw_as_access_register);
  auto s = h.backend().cpu_state(0);
  REQUIRE(s);
  REQUIRE(s->acrs[1] == 0);  // ALET 0: primary space
  default_write_read(h, Fd::vcpu, full, std::nullopt, /*ar=*/1);
}

TEST_CASE_TEMPLATE("#10 error checks with key", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Backend& b = h.backend();
  guest_keys(h, G::mem1, page_size, 0x18);
  guest_keys(h, G::mem1 + page_size, full - page_size, 0x98);
  Bytes mem1 = random_bytes(full, 10);
  Bytes mem2(full, 0xaa);
  check_n_do(b, Fd::vcpu, with_key(memop(MemopKind::logical_write, G::mem1, mem1, full), 2), prot);
  check_n_do(b, Fd::vcpu, with_key(memop(MemopKind::logical_read, G::mem1, mem2, full), 2), prot);
  check_n_do(b, Fd::vm, with_key(memop(MemopKind::absolute_write, G::mem1, mem1, full), 2), prot);
  check_n_do(b, Fd::vm, with_key(memop(MemopKind::absolute_read, G::mem1, mem2, full), 2), prot);
  CHECK(mem2 == Bytes(full, 0xaa));  // a failed read never reaches the buffer
}

TEST_CASE_TEMPLATE("#11 error checks for cmpxchg with key", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  guest_keys(h, G::mem2, full, 0x98);
  for (std::uint32_t size = 1; size <= 16; size *= 2) {
    CAPTURE(size);
    Bytes new_value(16, 1);
    Bytes old(16, 0x55);
    MemopResult r = cmpxchg(h.backend(), G::mem2, new_value, old, size, 2);
    CHECK(r.kvm_return() == prot);
    CHECK(std::all_of(old.begin(), old.begin() + size, [](auto x) { return x == 0; }));  // zeroed on exception
  }
}

TEST_CASE_TEMPLATE("#12 error checks for cmpxchg", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Backend& b = h.backend();
  Bytes new_value(32, 0);
  Bytes old(32, 0);
  for (std::uint32_t size = 0; size < 32; ++size) {
    if (std::has_single_bit(size) && size <= 16) continue;
    CAPTURE(size);
    CHECK(cmpxchg(b, G::mem1, new_value, old, size, std::nullopt).kvm_return() == -EINVAL);
  }
  for (std::uint32_t size = 1; size <= 16; ++size) {
    CAPTURE(size);
    CHECK(cmpxchg(b, bad_gaddr, new_value, old, size, std::nullopt).kvm_return() > 0);
  }
  for (std::uint32_t size = 2; size <= 16; ++size) {
    CAPTURE(size);
    CHECK(cmpxchg(b, G::mem1 + 1, new_value, old, size, std::nullopt).kvm_return() == -EINVAL);
  }
}

TEST_CASE_TEMPLATE("#13 termination", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  Backend& b = h.backend();
  guest_keys(h, G::mem1, page_size, 0x18);
  guest_keys(h, G::mem1 + page_size, full - page_size, 0x98);
  // Program-new PSW = the current PSW, so delivery keeps the guest where it is.
  auto s = b.cpu_state(0);
  REQUIRE(s);
  std::uint8_t psw[16];
  store_be64(psw, s->psw.mask);
  store_be64(psw + 8, s->psw.addr);
  REQUIRE(h.guest().storage().write(s->prefix + lowcore::program_new_psw, psw));

  Bytes mem1 = random_bytes(full, 13);
  const MemopResult r = b.vcpu_memop(
      0, with_key(memop(MemopKind::logical_write, G::mem1, mem1, full, memop_flag::inject_exception), 1));
  CHECK(r.kvm_return() == prot);
  REQUIRE(r.fault.teid.has_value());
  CHECK(r.fault.protection == ProtectionKind::termination);
  h.run_guest();
  const Bytes teid_bytes = read_abs(b, s->prefix + lowcore::trans_exc_code, 8);
  const std::uint64_t teid = load_be64(teid_bytes.data());
  CHECK((teid & (Teid::bit56 | Teid::bit60 | Teid::bit61)) == 0);
  CHECK(teid == r.fault.teid->raw());
  CHECK(Teid{teid}.address() == G::mem1 + page_size);  // the first page that failed
  // Termination: the first page was stored, the rest not.
  CHECK(read_abs(b, G::mem1, 16) == Bytes(mem1.begin(), mem1.begin() + 16));
  CHECK(read_abs(b, G::mem1 + page_size, 16) != Bytes(mem1.begin() + page_size, mem1.begin() + page_size + 16));
}

TEST_CASE_TEMPLATE("#14 error checks with key storage protection override", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  guest_keys(h, G::mem1, full, 0x98);
  guest_keys(h, G::mem2, full, 0x98);
  set_cr0(h, cr0::storage_protection_override);
  Bytes mem1 = random_bytes(full, 14);
  Bytes mem2(full, 0xaa);
  // SPO never applies to VM (absolute) ops.
  check_n_do(h.backend(), Fd::vm, with_key(memop(MemopKind::absolute_write, G::mem1, mem1, full), 2), prot);
  check_n_do(h.backend(), Fd::vm, with_key(memop(MemopKind::absolute_read, G::mem2, mem2, full), 2), prot);
}

TEST_CASE_TEMPLATE("#15 error checks without key fetch prot override", H, EmulatedHarness, KvmHarness) {
  H h(G::build());
  guest_keys(h, 0, page_size, 0x18);
  Bytes mem2(2048, 0xaa);
  check_n_do(h.backend(), Fd::vcpu, with_key(memop(MemopKind::logical_read, 0, mem2, 2048), 2), prot);
}

TEST_CASE_TEMPLATE("#16 error checks with key fetch prot override", H, EmulatedHarness, KvmHarness) {
  H h(G::build(/*map_last_page=*/true));
  Backend& b = h.backend();
  guest_keys(h, 0, page_size, 0x18);
  guest_keys(h, G::last_page_frame, page_size, 0x00);
  set_cr0(h, cr0::fetch_protection_override);
  Bytes mem2(page_size + 2048 + 1, 0xaa);
  // One byte past the override window.
  check_n_do(b, Fd::vcpu, with_key(memop(MemopKind::logical_read, 0, mem2, 2049), 2), prot);
  check_n_do(b, Fd::vcpu, with_key(memop(MemopKind::logical_read, G::last_page, mem2, page_size + 2048 + 1), 2), prot);
  // The override is a vCPU concept: never for VM ops (page 0 is absolute 0 here).
  check_n_do(b, Fd::vm, with_key(memop(MemopKind::absolute_read, 0, mem2, 2048), 2), prot);
  const std::uint64_t gpa_of_page_0 = 0;  // virtual 0 -> real 0 -> absolute 0 (prefix 0)
  check_n_do(b, Fd::vm, with_key(memop(MemopKind::absolute_read, gpa_of_page_0, mem2, 2048), 2), prot);
}

}  // TEST_SUITE("memop selftest")

}  // namespace s390b::test
