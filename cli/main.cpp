// s390bridge: a GDB remote-protocol server and inspection tool for s390x guests.
#include <CLI/CLI.hpp>

#include "cli/dump_command.h"
#include "cli/inspect_commands.h"
#include "cli/memop_command.h"
#include "cli/serve_command.h"

int main(int argc, char** argv) {
  CLI::App app{"s390bridge: GDB remote-protocol server and memory inspection for s390x guests"};
  app.set_version_flag("--version", std::string("s390bridge ") + S390B_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Guest sources: --demo (the built-in demo guest) or --core FILE (a dump: ELF core or kdump-compressed,\n"
      "plain or flattened) [--skeys FILE]. Run 's390bridge COMMAND --help' for a command's options and an example.\n"
      "JSON schemas and exit codes: docs/json.md. Exit status 2: bad arguments.");
  int exit_code = 0;
  s390b::cli::add_serve_command(app, exit_code);
  s390b::cli::add_memop_command(app, exit_code);
  s390b::cli::add_read_command(app, exit_code);
  s390b::cli::add_translate_command(app, exit_code);
  s390b::cli::add_regs_command(app, exit_code);
  s390b::cli::add_info_command(app, exit_code);
  s390b::cli::add_find_command(app, exit_code);
  s390b::cli::add_dump_command(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints the message (or the help); every usage error exits with 2, the code
    // every command documents for bad arguments (CLI11's own codes vary by error).
    const int cli_code = app.exit(e);
    return cli_code == 0 ? 0 : 2;
  }
  return exit_code;
}
