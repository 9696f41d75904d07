#include "translate/ipte_lock.h"

#include <cassert>

namespace s390b {

void IpteLock::acquire(Kind kind) {
  // The ticket is drawn before taking mutex_: std::mutex is not FIFO, and a thread that
  // has to win it against a stream of running host lockers just to draw a ticket can be
  // starved for 100k+ host acquisitions. Drawn atomically, arrival order is the ticket
  // order, and later hosts park on the condition variable instead of competing.
  const std::uint64_t ticket = next_ticket_.fetch_add(1);
  std::unique_lock lk(mutex_);
  // Wait for our turn, then for the lock to be compatible: host with host, guest alone.
  cv_.wait(lk, [&] {
    if (ticket != serving_) return false;
    return kind == Kind::host ? !guest_holder_ : (!guest_holder_ && host_holders_ == 0);
  });
  if (kind == Kind::host) {
    ++host_holders_;
  } else {
    guest_holder_ = true;
  }
  ++serving_;
  // The next waiter may be compatible with us (another host): let it try.
  cv_.notify_all();
}

void IpteLock::lock_host() { acquire(Kind::host); }
void IpteLock::lock_guest() { acquire(Kind::guest); }

void IpteLock::unlock_host() {
  std::lock_guard lk(mutex_);
  assert(host_holders_ > 0);
  --host_holders_;
  if (host_holders_ == 0) cv_.notify_all();
}

void IpteLock::unlock_guest() {
  std::lock_guard lk(mutex_);
  assert(guest_holder_);
  guest_holder_ = false;
  cv_.notify_all();
}

bool IpteLock::try_lock_guest() {
  std::lock_guard lk(mutex_);
  if (serving_ != next_ticket_.load() || guest_holder_ || host_holders_ != 0) return false;
  guest_holder_ = true;
  return true;
}

std::uint64_t IpteLock::control() const {
  std::lock_guard lk(mutex_);
  std::uint64_t word = 0;
  if (host_holders_ || guest_holder_) word |= k_bit;
  word |= (std::uint64_t{host_holders_} << kh_shift) & kh_mask;
  word |= guest_holder_ ? 1 : 0;
  return word;
}

unsigned IpteLock::host_holders() const {
  std::lock_guard lk(mutex_);
  return host_holders_;
}

bool IpteLock::guest_holds() const {
  std::lock_guard lk(mutex_);
  return guest_holder_;
}

}  // namespace s390b
