// The memop options as a person types them, declared once with CLI11 for both
// `s390bridge memop` (cli/) and `monitor memop` (gdbstub/monitor.cpp), and turned into the
// typed access/ request. CLI11 stays above access/: this file is the only bridge.
#pragma once

#include <string>

#include <CLI/CLI.hpp>
#include <tl/expected.hpp>

#include "access/memop_request.h"

namespace s390b {

// What the options hold before conversion: words, and numbers CLI11 checked.
struct MemopArgs {
  std::string op;       // read | write | abs-read | abs-write | cmpxchg
  std::string address;  // 0x hex or decimal
  std::string size;
  std::string data;     // hex
  std::string old;      // hex
  unsigned cpu = 0;
  unsigned ar = 0;      // 0-255 (the uapi byte)
  unsigned key = 0;     // 0-255, meaningful when --key was given
  bool check_only = false;
  bool inject = false;
  bool json = false;
};

// Declares the memop positionals and options on `app`.
void add_memop_options(CLI::App& app, MemopArgs& args);

// The typed request, after `app` parsed into `args`; the error says which word is wrong.
tl::expected<MemopRequest, std::string> memop_request(const CLI::App& app, const MemopArgs& args);

}  // namespace s390b
