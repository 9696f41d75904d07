// How translate/ reads guest tables: absolute doublewords, or an addressing exception.
// The same walker serves KVM (via absolute MEMOPs), emulated storage and dumps.
#pragma once

#include <cstdint>
#include <optional>

namespace s390b {

class AbsoluteReader {
 public:
  virtual ~AbsoluteReader() = default;

  // The big-endian doubleword at absolute `address` (8-byte aligned), or nullopt when
  // that address is not backed by guest storage (an addressing exception to the caller).
  virtual std::optional<std::uint64_t> read_u64(std::uint64_t address) const = 0;

  // Whether absolute `address` is backed by guest storage (the final-frame check).
  virtual bool contains(std::uint64_t address) const = 0;

  // Optional: a host pointer to [address, address + length) when the reader holds those
  // bytes in memory as one piece and they stay put (emulated storage); else null. Lets a
  // walk cache read the next page-table entry without a call per entry.
  virtual const std::uint8_t* direct(std::uint64_t /*address*/, std::uint64_t /*length*/) const { return nullptr; }
};

}  // namespace s390b
