// Where a command's guest comes from: --demo or --core FILE [--skeys FILE].
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <tl/expected.hpp>

#include "backends/backend.h"

namespace s390b::cli {

// What `info` says about where the guest came from.
struct SourceInfo {
  std::string kind;  // "demo" or "core"
  std::string file;
  std::uint64_t file_size = 0;
  std::string format;  // "ELF core" ...
  std::size_t segments = 0;
  bool vmcoreinfo = false;
};

struct GuestSource {
  bool demo = false;
  std::string core;
  std::string skeys;

  void add_options(CLI::App& app);
  // Opens the guest; a clear message when the options are incomplete or the file is bad.
  tl::expected<std::unique_ptr<Backend>, std::string> open(SourceInfo* info = nullptr) const;
};

}  // namespace s390b::cli
