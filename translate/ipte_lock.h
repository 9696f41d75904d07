// The IPTE lock with the semantics of the SCA ipte-control word (Linux
// arch/s390/kvm/gaccess.c, ipte_lock and union ipte_control in
// arch/s390/include/asm/kvm_host.h): any number of host holders at once (counted in
// KH), or one guest IPTE/IDTE/CSP holder (KG) that excludes the host. K is set while
// anyone holds it.
//
// Fairness: waiters are served in arrival order (a ticket queue), so a stream of host
// walkers cannot starve a guest invalidation and vice versa. A host locker arriving while
// host holders are active and nobody waits joins them at once (host holders share).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace s390b {

class IpteLock {
 public:
  // The ipte-control doubleword layout.
  static constexpr std::uint64_t k_bit = 0x8000000000000000;
  static constexpr std::uint64_t kh_mask = 0x7fffffff00000000;
  static constexpr unsigned kh_shift = 32;
  static constexpr std::uint64_t kg_mask = 0x00000000ffffffff;

  void lock_host();
  void unlock_host();
  void lock_guest();
  void unlock_guest();
  bool try_lock_guest();  // fails at once if anyone holds or waits

  // The current ipte-control word (for inspection and tests).
  std::uint64_t control() const;
  unsigned host_holders() const;
  bool guest_holds() const;

  // Scoped guards.
  class HostGuard {
   public:
    explicit HostGuard(IpteLock& lock) : lock_(&lock) { lock_->lock_host(); }
    HostGuard(HostGuard&& other) noexcept : lock_(other.lock_) { other.lock_ = nullptr; }
    HostGuard& operator=(HostGuard&&) = delete;
    HostGuard(const HostGuard&) = delete;
    ~HostGuard() { if (lock_) lock_->unlock_host(); }
   private:
    IpteLock* lock_;
  };
  class GuestGuard {
   public:
    explicit GuestGuard(IpteLock& lock) : lock_(&lock) { lock_->lock_guest(); }
    GuestGuard(const GuestGuard&) = delete;
    GuestGuard& operator=(const GuestGuard&) = delete;
    ~GuestGuard() { lock_->unlock_guest(); }
   private:
    IpteLock* lock_;
  };

  HostGuard host() { return HostGuard(*this); }

 private:
  enum class Kind { host, guest };
  void acquire(Kind kind);

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<std::uint64_t> next_ticket_{0};  // drawn by each arriving locker, outside mutex_
  std::uint64_t serving_ = 0;       // the ticket allowed to try next
  unsigned host_holders_ = 0;
  bool guest_holder_ = false;
};

}  // namespace s390b
