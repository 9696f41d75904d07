// Reading guest absolute storage through any Backend, for the dump writers: absolute
// MEMOPs (the VM operation KVM_S390_MEMOP_ABSOLUTE_READ, Linux
// Documentation/virt/kvm/api.rst §4.89), split at the backend's op limit.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "backends/backend.h"

namespace s390b::dump {

// Reads `out.size()` bytes at absolute `address`. On failure `failed_at` (if given) is
// the absolute address of the chunk that failed.
MemopResult read_guest_absolute(Backend& backend, std::uint64_t address, std::span<std::uint8_t> out,
                                std::uint64_t* failed_at = nullptr);

// "addressing exception (PGM 0x05)", "host error EFAULT": one phrase for a failed read.
std::string describe_read_failure(const MemopResult& result);

}  // namespace s390b::dump
