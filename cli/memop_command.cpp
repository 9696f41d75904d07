#include "cli/memop_command.h"

#include <iostream>
#include <memory>

#include "gdbstub/memop_options.h"
#include "cli/source.h"

namespace s390b::cli {

void add_memop_command(CLI::App& app, int& exit_code) {
  struct Options {
    GuestSource source;
    MemopArgs args;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("memop", "perform one MEMOP (KVM_S390_MEM_OP semantics) and print the result");
  opts->source.add_options(*cmd);
  add_memop_options(*cmd, opts->args);
  cmd->footer(
      "Example: s390bridge memop --demo read 0x10000000400 16 --json\n"
      "Exit status: 0 ok, 1 a program exception or host error (printed), 2 bad request or guest source.");
  cmd->callback([opts, cmd, &exit_code] {
    auto backend = opts->source.open();
    if (!backend) {
      std::cerr << "s390bridge memop: " << backend.error() << "\n";
      exit_code = 2;
      return;
    }
    auto request = memop_request(*cmd, opts->args);
    if (!request) {
      std::cerr << "memop: " << request.error() << "\n";
      exit_code = 2;
      return;
    }
    const MemopOutcome out = run_memop(**backend, *request);
    (out.exit_code == 2 ? std::cerr : std::cout) << out.text;
    if (auto why = (*backend)->unavailable_reason()) std::cerr << "s390bridge memop: " << *why << "\n";
    exit_code = out.exit_code;
  });
}

}  // namespace s390b::cli
