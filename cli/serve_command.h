// `s390bridge serve`: the GDB remote-protocol server over a guest.
#pragma once

#include <CLI/CLI.hpp>

namespace s390b::cli {

void add_serve_command(CLI::App& app, int& exit_code);

}  // namespace s390b::cli
