#include "cli/dump_command.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "access/json.h"
#include "backends/dump/elf_writer.h"
#include "cli/source.h"

namespace s390b::cli {

namespace {

// Exit codes (docs/json.md), as the inspection commands use them.
constexpr int exit_ok = 0;      // the file is complete (a missing VMCOREINFO is a warning)
constexpr int exit_failed = 1;  // nothing written: a read, the output or an interruption failed it
constexpr int exit_usage = 2;   // bad arguments or guest source; nothing was done

// The formats of issue 11; only elf is written so far.
constexpr std::string_view written_formats[] = {"elf"};
constexpr std::string_view planned_formats[] = {"kdump-zlib", "kdump-lzo", "kdump-snappy", "kdump-zstd", "s390"};

struct DumpOptions {
  GuestSource source;
  std::string out;
  std::string format = "elf";
  bool json = false;
};

// SIGINT/SIGTERM/SIGHUP during the dump stop it cleanly: the temporary file is removed
// and a live guest resumed, instead of the process dying mid-write.
volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_signal(int) { interrupted = 1; }

class SignalScope {
 public:
  SignalScope() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (std::size_t i = 0; i < std::size(signals_); ++i) sigaction(signals_[i], &sa, &old_[i]);
  }
  ~SignalScope() {
    for (std::size_t i = 0; i < std::size(signals_); ++i) sigaction(signals_[i], &old_[i], nullptr);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;

 private:
  static constexpr int signals_[] = {SIGINT, SIGTERM, SIGHUP};
  struct sigaction old_[std::size(signals_)] {};
};

Json report_json(const DumpOptions& o, const dump::ElfWriteReport& r) {
  Json j;
  j["out"] = o.out;
  j["format"] = o.format;
  j["file_size"] = r.file_size;
  j["memory_bytes"] = hex_string(r.memory_bytes);
  Json segs = Json::array();
  for (const auto& s : r.segments) segs.push_back({{"start", hex_string(s.start)}, {"size", hex_string(s.size)}});
  j["segments"] = std::move(segs);
  j["cpus"] = r.cpus;
  Json v;
  v["found"] = r.vmcoreinfo.found.has_value();
  if (const auto& f = r.vmcoreinfo.found) {
    v["origin"] = f->origin == dump::VmcoreinfoOrigin::os_info ? "os_info" : "lowcore_note";
    v["address"] = hex_string(f->address);
    v["size"] = f->desc.size();
    if (auto rel = f->value("OSRELEASE")) v["osrelease"] = *rel;
  }
  v["rejected"] = r.vmcoreinfo.rejected;
  j["vmcoreinfo"] = std::move(v);
  return j;
}

int run_dump(const DumpOptions& o) {
  auto fail_usage = [](const std::string& m) {
    std::cerr << "s390bridge dump: " << m << "\n";
    return exit_usage;
  };
  if (std::find(std::begin(written_formats), std::end(written_formats), o.format) == std::end(written_formats)) {
    if (std::find(std::begin(planned_formats), std::end(planned_formats), o.format) != std::end(planned_formats))
      return fail_usage(fmt::format("--format {}: not written yet (only elf for now)", o.format));
    return fail_usage(fmt::format("--format {}: unknown (elf; kdump-zlib, kdump-lzo, kdump-snappy, kdump-zstd and s390 are planned)", o.format));
  }
  std::error_code ec;
  if (std::filesystem::is_directory(o.out, ec)) return fail_usage(fmt::format("--out {}: is a directory", o.out));
  // The source is never modified: the rename at the end would replace it.
  if (!o.source.core.empty() && std::filesystem::equivalent(o.source.core, o.out, ec))
    return fail_usage(fmt::format("--out {} is the source dump itself", o.out));
  if (!o.source.skeys.empty() && std::filesystem::equivalent(o.source.skeys, o.out, ec))
    return fail_usage(fmt::format("--out {} is the source's storage-key file", o.out));

  auto backend = o.source.open();
  if (!backend) return fail_usage(backend.error());

  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto last = std::chrono::steady_clock::now();
  bool shown = false;
  dump::ElfWriteOptions w;
  w.progress = [&](const dump::DumpProgress& p) {
    if (interrupted) return false;
    const auto now = std::chrono::steady_clock::now();
    if (tty && (now - last > std::chrono::milliseconds(200) || p.done == p.total)) {
      last = now;
      std::cerr << fmt::format("\rdump: {} of {} MiB ({}%) ", p.done >> 20, p.total >> 20,
                               p.total ? p.done * 100 / p.total : 100)
                << std::flush;
      shown = true;
    }
    return true;
  };
  interrupted = 0;
  tl::expected<dump::ElfWriteReport, dump::DumpError> r;
  {
    SignalScope signals;
    r = dump::write_elf_dump(**backend, o.out, w);
  }
  if (shown) std::cerr << "\r" << std::string(50, ' ') << "\r";
  if (!r) {
    std::cerr << fmt::format("s390bridge dump: {}; nothing written to {}\n", r.error().message, o.out);
    return exit_failed;
  }
  if (!r->vmcoreinfo.found) {
    std::cerr << "s390bridge dump: warning: no VMCOREINFO note written (kernel-dump tools such as drgn need it):\n";
    for (const auto& why : r->vmcoreinfo.rejected) std::cerr << "  " << why << "\n";
  }
  if (o.json) {
    std::cout << report_json(o, *r).dump() << "\n";
    return exit_ok;
  }
  std::string vmci = "no VMCOREINFO";
  if (const auto& f = r->vmcoreinfo.found)
    vmci = fmt::format("VMCOREINFO from {} at {:#x} ({} bytes{})", dump::vmcoreinfo_origin_name(f->origin), f->address,
                       f->desc.size(), f->value("OSRELEASE") ? ", OSRELEASE=" + *f->value("OSRELEASE") : "");
  const auto plural = [](std::size_t n, std::string_view word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); };
  std::cout << fmt::format("{}: ELF core, {} bytes: {}, {:#x} bytes of memory in {}, {}\n", o.out, r->file_size,
                           plural(r->cpus, "CPU"), r->memory_bytes, plural(r->segments.size(), "segment"), vmci);
  return exit_ok;
}

}  // namespace

void add_dump_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DumpOptions>();
  CLI::App* cmd = app.add_subcommand("dump", "write the guest to a dump file (ELF core with VMCOREINFO)");
  o->source.add_options(*cmd);
  cmd->add_option("--out", o->out, "the dump file to write (replaced only once complete)")->required();
  cmd->add_option("--format", o->format, "elf (QEMU's layout plus the guest's VMCOREINFO; the default)");
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer(
      "Example: s390bridge dump --core qemu.elf --out guest.elf   (QEMU's dump, with VMCOREINFO for drgn)\n"
      "Exit status: 0 written, 1 failed or interrupted (nothing left at --out), 2 bad arguments or guest source.");
  cmd->callback([o, &exit_code] { exit_code = run_dump(*o); });
}

}  // namespace s390b::cli
