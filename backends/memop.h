// The MEMOP contract every backend implements: the semantics of Linux's KVM_S390_MEM_OP
// (Linux Documentation/virt/kvm/api.rst §4.89, arch/s390/kvm/kvm-s390.c). Requests
// mirror the uapi struct; results are values:
// success, a host error with the errno KVM would return, or a guest program exception.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "translate/pgm.h"

namespace s390b {

// KVM_S390_MEMOP_* operation codes (uapi values).
enum class MemopKind : std::uint32_t {
  logical_read = 0,
  logical_write = 1,
  sida_read = 2,
  sida_write = 3,
  absolute_read = 4,
  absolute_write = 5,
  absolute_cmpxchg = 6,
};

// KVM_S390_MEMOP_F_* flag bits.
namespace memop_flag {
constexpr std::uint64_t check_only = 1ULL << 0;
constexpr std::uint64_t inject_exception = 1ULL << 1;
constexpr std::uint64_t skey_protection = 1ULL << 2;
}  // namespace memop_flag

// The largest op KVM accepts (KVM_CAP_S390_MEM_OP) and the cmpxchg size limit.
constexpr std::uint32_t kvm_memop_max_size = 65536;
constexpr std::uint32_t cmpxchg_max_size = 16;
constexpr unsigned access_register_count = 16;
constexpr unsigned access_key_max = 15;

// The errno values KVM returns, by name (the numeric value is Linux's).
enum class HostError : int {
  eperm = 1,
  eio = 5,
  eagain = 11,
  enomem = 12,
  efault = 14,
  ebusy = 16,
  enodev = 19,
  einval = 22,
  erofs = 30,
  enolck = 37,  // ours: no IPTE lock to walk guest tables under (Backend::table_walks_allowed)
  e2big = 7,
  enotsup = 95,
  estale = 116,  // ours: the file behind guest storage changed (Backend::unavailable_reason)
  enodata = 61,  // ours: the backend's storage does not hold the page (a dump that excluded it);
                 // MemopResult::detail says which page and why
};
std::string_view host_error_name(HostError e);

struct Memop {
  MemopKind kind = MemopKind::logical_read;
  std::uint64_t gaddr = 0;
  std::uint64_t flags = 0;
  std::uint32_t size = 0;
  std::uint8_t ar = 0;
  std::uint8_t key = 0;
  std::uint32_t sida_offset = 0;  // SIDA ops only (shares the ar/key union in the uapi)
  // Data out for reads, data in for writes, the new value for cmpxchg. Must hold `size`
  // bytes unless check-only (KVM: -EFAULT otherwise).
  std::span<std::uint8_t> buf;
  // cmpxchg only: the expected old value; replaced by what memory held on a mismatch.
  std::span<std::uint8_t> old;
};

struct MemopResult {
  enum class Status : std::uint8_t { ok, host_error, exception };
  Status status = Status::ok;
  HostError error{};
  Fault fault;           // for exceptions: code, and TEID/access id where KVM prepares them
  bool exchanged = true; // cmpxchg: false when the old value did not match
  // Host errors only, where the backend can say more than the errno: "page at absolute
  // 0x... is not in the dump (excluded by makedumpfile)". Usually empty.
  std::string detail;

  static MemopResult success() { return {}; }
  static MemopResult host(HostError e, std::string why = {}) {
    MemopResult r;
    r.status = Status::host_error;
    r.error = e;
    r.exchanged = false;
    r.detail = std::move(why);
    return r;
  }
  static MemopResult exception(Fault f) {
    MemopResult r;
    r.status = Status::exception;
    r.fault = f;
    r.exchanged = false;
    return r;
  }

  bool ok() const { return status == Status::ok; }
  bool is_exception() const { return status == Status::exception; }
  // KVM's ioctl return value: 0, the positive program-interruption code, or -errno.
  int kvm_return() const;
};

}  // namespace s390b
