// `s390bridge memop`: one MEMOP with KVM's exact semantics, printed for people or as JSON.
#pragma once

#include <CLI/CLI.hpp>

namespace s390b::cli {

void add_memop_command(CLI::App& app, int& exit_code);

}  // namespace s390b::cli
