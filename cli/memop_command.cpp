#include "cli/memop_command.h"

#include <iostream>
#include <memory>

#include "backends/access/memop_request.h"
#include "cli/source.h"

namespace s390b::cli {

void add_memop_command(CLI::App& app, int& exit_code) {
  struct Options {
    GuestSource source;
    MemopRequest request;
  };
  auto opts = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("memop", "perform one MEMOP (KVM_S390_MEM_OP semantics) and print the result");
  opts->source.add_options(*cmd);
  add_memop_options(*cmd, opts->request);
  cmd->callback([opts, &exit_code] {
    auto backend = opts->source.open();
    if (!backend) {
      std::cerr << "s390bridge memop: " << backend.error() << "\n";
      exit_code = 2;
      return;
    }
    const MemopOutcome out = run_memop(**backend, opts->request);
    (out.exit_code == 2 ? std::cerr : std::cout) << out.text;
    if (auto why = (*backend)->unavailable_reason()) std::cerr << "s390bridge memop: " << *why << "\n";
    exit_code = out.exit_code;
  });
}

}  // namespace s390b::cli
