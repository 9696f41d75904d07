// IpteLock (Linux arch/s390/kvm/gaccess.c, ipte_lock): host holders counted in KH, one
// exclusive guest
// holder in KG, K set while anyone holds; try_lock_guest; the ipte-control word values.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "translate/ipte_lock.h"

using namespace s390b;

namespace {
constexpr std::uint64_t k = 0x8000000000000000;
constexpr std::uint64_t kh(unsigned n) { return std::uint64_t{n} << 32; }  // bits 1-31
constexpr std::uint64_t kg(unsigned n) { return n; }                       // bits 32-63
}  // namespace

TEST_CASE("IpteLock: control-word layout constants") {
  CHECK(IpteLock::k_bit == k);
  CHECK(IpteLock::kh_mask == 0x7fffffff00000000);
  CHECK(IpteLock::kg_mask == 0x00000000ffffffff);
  CHECK((IpteLock::k_bit & IpteLock::kh_mask) == 0);
  CHECK((IpteLock::kh_mask & IpteLock::kg_mask) == 0);
}

TEST_CASE("IpteLock: host holders are counted in KH with K set") {
  IpteLock lock;
  CHECK(lock.control() == 0);
  lock.lock_host();
  CHECK(lock.control() == (k | kh(1)));
  lock.lock_host();
  lock.lock_host();
  CHECK(lock.control() == (k | kh(3)));
  CHECK(lock.host_holders() == 3);
  CHECK_FALSE(lock.guest_holds());
  lock.unlock_host();
  CHECK(lock.control() == (k | kh(2)));
  lock.unlock_host();
  lock.unlock_host();
  CHECK(lock.control() == 0);  // K cleared with the last holder
}

TEST_CASE("IpteLock: the guest holds exclusively (KG = 1, K set)") {
  IpteLock lock;
  lock.lock_guest();
  CHECK(lock.control() == (k | kg(1)));
  CHECK(lock.guest_holds());
  CHECK(lock.host_holders() == 0);
  CHECK_FALSE(lock.try_lock_guest());  // a second guest holder is refused
  lock.unlock_guest();
  CHECK(lock.control() == 0);
}

TEST_CASE("IpteLock: try_lock_guest fails while hosts hold, succeeds when free") {
  IpteLock lock;
  lock.lock_host();
  CHECK_FALSE(lock.try_lock_guest());
  CHECK(lock.control() == (k | kh(1)));  // the failed attempt left no trace
  lock.unlock_host();
  REQUIRE(lock.try_lock_guest());
  CHECK(lock.control() == (k | kg(1)));
  lock.unlock_guest();
  CHECK(lock.control() == 0);
}

TEST_CASE("IpteLock: guards release on scope exit and HostGuard moves") {
  IpteLock lock;
  {
    auto g = lock.host();
    CHECK(lock.control() == (k | kh(1)));
    IpteLock::HostGuard moved(std::move(g));
    CHECK(lock.control() == (k | kh(1)));
  }
  CHECK(lock.control() == 0);
  {
    IpteLock::GuestGuard g(lock);
    CHECK(lock.control() == (k | kg(1)));
  }
  CHECK(lock.control() == 0);
}

TEST_CASE("IpteLock: a host locker waits for the guest holder; the guest waits for hosts") {
  IpteLock lock;
  std::atomic<bool> guest_inside{false};
  std::atomic<bool> host_saw_guest{false};
  lock.lock_guest();
  guest_inside = true;
  std::thread host([&] {
    IpteLock::HostGuard g(lock);
    host_saw_guest = guest_inside.load();
  });
  // Give the host a chance to block (correctness does not depend on it running yet).
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK(lock.host_holders() == 0);
  guest_inside = false;
  lock.unlock_guest();
  host.join();
  CHECK_FALSE(host_saw_guest.load());
  CHECK(lock.control() == 0);

  std::atomic<bool> host_inside{true};
  std::atomic<bool> guest_saw_host{false};
  lock.lock_host();
  std::thread guest([&] {
    IpteLock::GuestGuard g(lock);
    guest_saw_host = host_inside.load();
  });
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  CHECK_FALSE(lock.guest_holds());
  host_inside = false;
  lock.unlock_host();
  guest.join();
  CHECK_FALSE(guest_saw_host.load());
  CHECK(lock.control() == 0);
}
