// Where a command's guest comes from: --demo or --core FILE [--skeys FILE].
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <tl/expected.hpp>

#include "backends/backend.h"

namespace s390b::cli {

struct GuestSource {
  bool demo = false;
  std::string core;
  std::string skeys;

  void add_options(CLI::App& app);
  // Opens the guest; a clear message when the options are incomplete or the file is bad.
  tl::expected<std::unique_ptr<Backend>, std::string> open() const;
};

}  // namespace s390b::cli
