// Opens an ELF core (QEMU dump-guest-memory layout) as an emulated guest: PT_LOAD
// segments become absolute storage mapped privately from the file (writes go to a
// copy-on-write overlay, the file is never modified), per-CPU notes become vCPUs in note
// order, and an optional QEMU dump-skeys file supplies storage keys.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "backends/emulated/emulated_backend.h"

namespace s390b::dump {

struct LoadedCore {
  std::unique_ptr<EmulatedBackend> backend;
  std::optional<std::string> vmcoreinfo;
  std::size_t segment_count = 0;
};

tl::expected<LoadedCore, std::string> load_core(const std::string& core_path,
                                                const std::optional<std::string>& skeys_path = std::nullopt);

}  // namespace s390b::dump
