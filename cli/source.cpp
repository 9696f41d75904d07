#include "cli/source.h"

#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "backends/dump/load_core.h"
#include "backends/emulated/demo_guest.h"
#include "backends/qemu/qemu_backend.h"
#include "cli/qmp.h"

namespace s390b::cli {

void GuestSource::add_options(CLI::App& app) {
  app.add_flag("--demo", demo, "use the built-in demo guest");
  app.add_option("--core", core,
                 "a dump: ELF core, kdump-compressed (plain or flattened) or s390 stand-alone (s390, s390_ext); more than "
                 "once: the parts of one split kdump set (makedumpfile --split), in any order")
      ->check(CLI::ExistingFile)
      ->allow_extra_args(false);
  app.add_flag("--zero-excluded", zero_excluded,
               "with --core: read pages a kdump or s390 dump does not hold (excluded by makedumpfile, beyond an incomplete dump's "
               "end) as zeros instead of failing");
  app.add_option("--skeys", skeys, "storage keys written by QEMU dump-skeys")->check(CLI::ExistingFile);
  app.add_option("--qemu", qemu,
                 "a live qemu-system-s390x: its gdbstub (-s is localhost:1234; -gdb unix:PATH is unix:PATH)");
  app.add_option("--qemu-mem", qemu_mem,
                 "the guest's RAM file (QEMU -object memory-backend-file,share=on,mem-path=FILE); without it, "
                 "memory goes through QEMU's physical-memory mode, slower")
      ->check(CLI::ExistingFile);
  app.add_option("--qmp", qmp,
                 "with --qemu: QEMU's QMP socket (PATH or HOST:PORT), to learn whether the guest was running, so "
                 "that only a running guest is resumed after the command");
}

tl::expected<std::unique_ptr<Backend>, std::string> GuestSource::open(SourceInfo* info) const {
  if (int(demo) + int(!core.empty()) + int(!qemu.empty()) > 1)
    return tl::unexpected(std::string("--demo, --core and --qemu exclude each other"));
  if (!qemu_mem.empty() && qemu.empty()) return tl::unexpected(std::string("--qemu-mem needs --qemu"));
  if (!qmp.empty() && qemu.empty()) return tl::unexpected(std::string("--qmp needs --qemu"));
  if (zero_excluded && core.empty()) return tl::unexpected(std::string("--zero-excluded needs --core"));
  if (!qemu.empty()) {
    // QEMU's gdbstub stops the guest when we attach and cannot say whether it ran before:
    // QMP can. Without it a guest is assumed to have been running.
    bool was_running = true;
    if (!qmp.empty()) {
      auto q = QmpClient::connect(qmp, std::chrono::seconds(10));
      if (!q) return tl::unexpected(q.error());
      auto r = (*q)->running();
      if (!r) return tl::unexpected(r.error());
      was_running = *r;
    }
    qemu::QemuOptions o;
    o.gdbstub = qemu;
    o.ram_file = qemu_mem;
    o.allow_kill = allow_kill;
    o.resume_on_close = resume_after && was_running;
    o.log = log;
    auto b = qemu::QemuBackend::attach(std::move(o));
    if (!b) return tl::unexpected(b.error());
    // Table walks need every vCPU stopped (the IPTE-lock discipline); QEMU's stub stopped
    // them when we connected. Say so: the guest pauses for as long as the command runs.
    if (resume_after && was_running)
      std::cerr << fmt::format("s390bridge: the guest at {} is stopped for this command and resumed after it\n", qemu);
    else if (resume_after)
      std::cerr << fmt::format("s390bridge: the guest at {} was paused (QMP); it stays paused\n", qemu);
    if (info) {
      const auto d = (*b)->describe();
      *info = SourceInfo{"qemu", qemu, {}, 0, "live QEMU (" + d.accelerator + "), memory through " + d.memory_path, 0, false, {}, std::nullopt};
    }
    return std::unique_ptr<Backend>(std::move(*b));
  }
  if (demo) {
    if (info) *info = SourceInfo{"demo", {}, {}, 0, "built-in demo guest", 0, false, {}, std::nullopt};
    return std::unique_ptr<Backend>(demo::make_guest());
  }
  if (core.empty()) return tl::unexpected(std::string("no guest: give --core FILE, --qemu HOST:PORT or --demo"));
  dump::LoadOptions load;
  load.zero_excluded = zero_excluded;
  auto loaded = dump::load_core_set(core, skeys.empty() ? std::nullopt : std::optional<std::string>(skeys), load);
  if (!loaded) return tl::unexpected(loaded.error());
  if (info) {
    const std::vector<std::string>& files = loaded->files.empty() ? core : loaded->files;
    std::uint64_t size = 0;
    for (const auto& f : files) {
      std::error_code ec;
      const auto n = std::filesystem::file_size(f, ec);
      size += ec ? 0 : n;
    }
    *info = SourceInfo{"core", files.front(), loaded->files, size, loaded->format, loaded->segment_count,
                       loaded->vmcoreinfo.has_value(), loaded->cpu_sources, loaded->vmcoreinfo};
  }
  return std::unique_ptr<Backend>(std::move(loaded->backend));
}

}  // namespace s390b::cli
