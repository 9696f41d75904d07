// An AbsoluteReader over any Backend's absolute MEMOPs, so our walker reads guest tables
// the same way on KVM, emulated storage and dumps.
#pragma once

#include "backends/backend.h"
#include "translate/reader.h"

namespace s390b {

class BackendReader final : public AbsoluteReader {
 public:
  explicit BackendReader(Backend& backend) : backend_(backend) {}

  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override;
  bool contains(std::uint64_t address) const override;

 private:
  Backend& backend_;
};

}  // namespace s390b
