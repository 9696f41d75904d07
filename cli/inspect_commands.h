// `s390bridge read`, `translate`, `regs` and `info`: scripted inspection of any guest
// source, through any view. Parsing and printing only; the logic is access/read_range.h,
// access/memory_access.h and access/json.h. Exit codes: docs/json.md.
#pragma once

#include <CLI/CLI.hpp>

namespace s390b::cli {

void add_read_command(CLI::App& app, int& exit_code);
void add_translate_command(CLI::App& app, int& exit_code);
void add_regs_command(CLI::App& app, int& exit_code);
void add_info_command(CLI::App& app, int& exit_code);
void add_find_command(CLI::App& app, int& exit_code);

}  // namespace s390b::cli
