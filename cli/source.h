// Where a command's guest comes from: --demo, --core FILE [--core FILE ...] [--skeys FILE], or a live QEMU:
// --qemu HOST:PORT|unix:PATH [--qemu-mem RAMFILE].
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <tl/expected.hpp>

#include "backends/backend.h"

namespace s390b::cli {

// What `info` says about where the guest came from.
struct SourceInfo {
  std::string kind;  // "demo", "core" or "qemu"
  std::string file;  // a split kdump set: its first part (in PFN order)
  std::vector<std::string> files;  // a split kdump set: every part, in PFN order; else empty
  std::uint64_t file_size = 0;     // a split set: the sum of its parts
  std::string format;  // "ELF core", "kdump-compressed v6, zlib, flattened" ...
  std::size_t segments = 0;
  bool vmcoreinfo = false;
  // Where each vCPU's registers came from (dump::LoadedCore::cpu_sources); empty for the
  // demo guest and a live QEMU.
  std::vector<std::string> cpu_sources;
  // A dump's own VMCOREINFO (its note, or a kdump's sub-header), for the dump writers'
  // fallback when the guest's memory gives none.
  std::optional<std::string> vmcoreinfo_text;
};

struct GuestSource {
  bool demo = false;
  // One dump, or (--core more than once) the parts of one split kdump set, in any order.
  std::vector<std::string> core;
  std::string skeys;
  bool zero_excluded = false;  // --core kdump: pages the dump does not hold read as zeros
  std::string qemu;      // QEMU's gdbstub
  std::string qemu_mem;  // the guest's shared RAM file
  std::string qmp;       // QEMU's QMP socket: whether the guest ran before we attached
  // serve: the debugger's `kill` may terminate QEMU. Inspection commands: let the guest
  // run on when the command is done (QEMU's gdbstub stops it when the bridge connects).
  bool allow_kill = false;
  bool resume_after = true;
  std::function<void(std::string_view)> log;

  void add_options(CLI::App& app);
  // Opens the guest; a clear message when the options are incomplete or the file is bad.
  tl::expected<std::unique_ptr<Backend>, std::string> open(SourceInfo* info = nullptr) const;
};

}  // namespace s390b::cli
