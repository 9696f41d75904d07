// s390bridge: a GDB remote-protocol server and inspection tool for s390x guests.
#include <CLI/CLI.hpp>

#include "cli/memop_command.h"
#include "cli/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"s390bridge: GDB remote-protocol server and memory inspection for s390x guests"};
  app.require_subcommand(1);
  int exit_code = 0;
  s390b::cli::add_serve_command(app, exit_code);
  s390b::cli::add_memop_command(app, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
