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
#include <fmt/ranges.h>

#include "access/json.h"
#include "backends/dump/elf_writer.h"
#include "backends/dump/kdump_writer.h"
#include "backends/dump/s390_writer.h"
#include "backends/dump/page_codec.h"
#include "cli/source.h"
#include "translate/address.h"

namespace s390b::cli {

namespace {

// Exit codes (docs/json.md), as the inspection commands use them.
constexpr int exit_ok = 0;      // the file is complete (a missing VMCOREINFO is a warning)
constexpr int exit_failed = 1;  // nothing written: a read, the output or an interruption failed it
constexpr int exit_usage = 2;   // bad arguments or guest source; nothing was done

// The formats of issue 11: written ones, then those still to come.
constexpr std::string_view written_formats[] = {"elf", "kdump-zlib", "kdump-lzo", "kdump-snappy", "kdump-zstd", "s390"};

// makedumpfile's kdump-compressed format, one --format per page compression (the names
// QEMU's dump-guest-memory uses for the same choice).
struct KdumpFormat {
  std::string_view name;
  dump::PageCompression compression;
};
constexpr KdumpFormat kdump_formats[] = {{"kdump-zlib", dump::PageCompression::zlib},
                                         {"kdump-lzo", dump::PageCompression::lzo},
                                         {"kdump-snappy", dump::PageCompression::snappy},
                                         {"kdump-zstd", dump::PageCompression::zstd}};
const KdumpFormat* kdump_format(std::string_view name) {
  for (const auto& f : kdump_formats)
    if (f.name == name) return &f;
  return nullptr;
}

struct DumpOptions {
  GuestSource source;
  std::vector<std::string> out;  // more than one: a split kdump set (makedumpfile --split)
  std::string format = "elf";
  bool flattened = false;     // kdump only: makedumpfile -F
  bool exclude_zero = false;  // kdump only: makedumpfile -d 1
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

Json vmcoreinfo_json(const dump::VmcoreinfoSearch& search) {
  Json v;
  v["found"] = search.found.has_value();
  if (const auto& f = search.found) {
    v["origin"] = dump::vmcoreinfo_origin_key(f->origin);
    v["address"] = hex_string(f->address);
    v["size"] = f->desc.size();
    if (auto rel = f->value("OSRELEASE")) v["osrelease"] = *rel;
  }
  v["rejected"] = search.rejected;
  return v;
}

// The fields every format reports (docs/json.md).
Json common_json(const DumpOptions& o, std::uint64_t file_size, std::uint64_t memory_bytes,
                 const std::vector<MemoryMap::Range>& segments, unsigned cpus, const dump::VmcoreinfoSearch& vmci) {
  Json j;
  j["out"] = o.out.front();
  j["format"] = o.format;
  j["file_size"] = file_size;
  j["memory_bytes"] = hex_string(memory_bytes);
  Json segs = Json::array();
  for (const auto& s : segments) segs.push_back({{"start", hex_string(s.start)}, {"size", hex_string(s.size)}});
  j["segments"] = std::move(segs);
  j["cpus"] = cpus;
  j["vmcoreinfo"] = vmcoreinfo_json(vmci);
  return j;
}

Json report_json(const DumpOptions& o, const dump::ElfWriteReport& r) {
  Json j = common_json(o, r.file_size, r.memory_bytes, r.segments, r.cpus, r.vmcoreinfo);
  std::uint64_t pages = 0;
  for (const auto& s : r.segments) pages += (s.size + page_size - 1) / page_size;
  j["compression"] = "none";
  j["flattened"] = false;
  j["pages_dumped"] = pages;
  j["pages_excluded_zero"] = 0;
  j["pages_unreadable"] = 0;
  return j;
}

Json report_json(const DumpOptions& o, const dump::S390WriteReport& r) {
  std::uint64_t memory = 0;
  for (const auto& seg : r.segments) memory += seg.size;
  Json j = common_json(o, r.file_size, memory, r.segments, r.cpus, dump::VmcoreinfoSearch{});
  j.erase("vmcoreinfo");  // the format has no place for it
  j["compression"] = "none";
  j["flattened"] = false;
  j["mem_size"] = hex_string(r.mem_size);
  j["gap_bytes"] = hex_string(r.gap_bytes);
  j["unreadable_bytes"] = hex_string(r.unreadable_bytes);
  j["unreadable"] = r.unreadable;
  Json lc = Json::array();
  for (std::uint32_t prefix : r.lc_vec) lc.push_back(hex_string(prefix));
  j["lc_vec"] = std::move(lc);
  j["vector_areas"] = r.vector_areas;
  j["warnings"] = r.warnings;
  j["tod"] = hex_string(r.tod);
  return j;
}

Json report_json(const DumpOptions& o, const dump::KdumpWriteReport& r) {
  Json j = common_json(o, r.file_size, r.memory_bytes, r.segments, r.cpus, r.vmcoreinfo);
  j["compression"] = dump::compression_name(r.compression);
  j["flattened"] = r.flattened;
  j["pages_dumped"] = r.pages_dumped;
  j["pages_excluded_zero"] = r.pages_excluded_zero;
  j["pages_unreadable"] = r.pages_unreadable;
  j["pages_present"] = r.pages_present;
  j["pages_zero"] = r.pages_zero;
  j["pages_compressed"] = r.pages_compressed;
  if (r.pages_unreadable) j["first_unreadable"] = r.first_unreadable;
  if (!r.parts.empty()) {
    Json parts = Json::array();
    for (const auto& p : r.parts)
      parts.push_back({{"path", p.path}, {"start_pfn", hex_string(p.start_pfn)}, {"end_pfn", hex_string(p.end_pfn)},
                       {"file_size", p.file_size}, {"pages_dumped", p.pages_dumped}});
    j["parts"] = std::move(parts);
  }
  Json u;
  u["found"] = r.utsname.found.has_value();
  if (const auto& f = r.utsname.found) {
    u["release"] = f->release;
    u["version"] = f->version;
    u["machine"] = f->machine;
  } else {
    u["rejected"] = r.utsname.rejected;
  }
  j["utsname"] = std::move(u);
  return j;
}

std::string vmcoreinfo_text(const dump::VmcoreinfoSearch& search) {
  const auto& f = search.found;
  if (!f) return "no VMCOREINFO";
  return fmt::format("VMCOREINFO from {} at {:#x} ({} bytes{})", dump::vmcoreinfo_origin_name(f->origin), f->address,
                     f->desc.size(), f->value("OSRELEASE") ? ", OSRELEASE=" + *f->value("OSRELEASE") : "");
}

std::string plural(std::uint64_t n, std::string_view word) { return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s"); }

int run_dump(const DumpOptions& o) {
  auto fail_usage = [](const std::string& m) {
    std::cerr << "s390bridge dump: " << m << "\n";
    return exit_usage;
  };
  if (std::find(std::begin(written_formats), std::end(written_formats), o.format) == std::end(written_formats))
    return fail_usage(fmt::format("--format {}: unknown ({})", o.format, fmt::join(written_formats, ", ")));
  const KdumpFormat* kdump = kdump_format(o.format);
  if (!kdump && o.flattened) return fail_usage(fmt::format("--flattened: only for the kdump formats, not {}", o.format));
  if (!kdump && o.exclude_zero) return fail_usage(fmt::format("--exclude-zero: only for the kdump formats, not {}", o.format));
  if (kdump && !dump::supported(kdump->compression))
    return fail_usage(fmt::format("--format {}: {} is not supported in this build", o.format, dump::compression_name(kdump->compression)));
  if (o.out.size() > 1 && !kdump)
    return fail_usage(fmt::format("--out more than once (a split set): only for the kdump formats, not {}", o.format));
  if (o.out.size() > dump::kdump_max_split_parts)
    return fail_usage(fmt::format("--out {} times: a split set has at most {} files", o.out.size(), dump::kdump_max_split_parts));
  std::error_code ec;
  for (std::size_t i = 0; i < o.out.size(); ++i) {
    const std::string& out = o.out[i];
    if (std::filesystem::is_directory(out, ec)) return fail_usage(fmt::format("--out {}: is a directory", out));
    // The source is never modified: the rename at the end would replace it.
    for (const auto& core : o.source.core)
      if (std::filesystem::equivalent(core, out, ec)) return fail_usage(fmt::format("--out {} is the source dump itself", out));
    if (!o.source.skeys.empty() && std::filesystem::equivalent(o.source.skeys, out, ec))
      return fail_usage(fmt::format("--out {} is the source's storage-key file", out));
    for (std::size_t j = 0; j < i; ++j)
      if (o.out[j] == out || std::filesystem::equivalent(o.out[j], out, ec))
        return fail_usage(fmt::format("--out {} is given twice", out));
  }

  SourceInfo source_info;
  auto backend = o.source.open(&source_info);
  if (!backend) return fail_usage(backend.error());

  const bool tty = ::isatty(STDERR_FILENO) == 1;
  auto last = std::chrono::steady_clock::now();
  bool shown = false;
  auto progress = [&](const dump::DumpProgress& p) {
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
  auto warn_vmcoreinfo = [](const dump::VmcoreinfoSearch& v) {
    if (v.found) return;
    std::cerr << "s390bridge dump: warning: no VMCOREINFO note written (kernel-dump tools such as drgn need it):\n";
    for (const auto& why : v.rejected) std::cerr << "  " << why << "\n";
  };
  auto failed = [&](const dump::DumpError& e) {
    std::cerr << fmt::format("s390bridge dump: {}; nothing written to {}\n", e.message, fmt::join(o.out, ", "));
    return exit_failed;
  };
  interrupted = 0;

  if (kdump) {
    dump::KdumpWriteOptions w;
    w.source_vmcoreinfo = source_info.vmcoreinfo_text;
    w.compression = kdump->compression;
    w.flattened = o.flattened;
    w.exclude_zero = o.exclude_zero;
    w.progress = progress;
    tl::expected<dump::KdumpWriteReport, dump::DumpError> r;
    {
      SignalScope signals;
      r = o.out.size() > 1 ? dump::write_kdump_split(**backend, o.out, w) : dump::write_kdump_dump(**backend, o.out.front(), w);
    }
    if (shown) std::cerr << "\r" << std::string(50, ' ') << "\r";
    if (!r) return failed(r.error());
    warn_vmcoreinfo(r->vmcoreinfo);
    if (r->pages_unreadable)
      std::cerr << fmt::format("s390bridge dump: warning: {} the source could not deliver, written as excluded; the "
                               "first: {}\n",
                               plural(r->pages_unreadable, "page"), r->first_unreadable);
    if (o.json) {
      std::cout << report_json(o, *r).dump() << "\n";
      return exit_ok;
    }
    std::string excluded;
    if (o.exclude_zero) excluded += fmt::format(", {} excluded", plural(r->pages_excluded_zero, "zero page"));
    if (r->pages_unreadable) excluded += fmt::format(", {} unreadable excluded", plural(r->pages_unreadable, "page"));
    std::cout << fmt::format("{}: kdump-compressed v{}, {}{}, {} bytes: {}, {:#x} bytes of memory in {}, {} of {} "
                             "dumped ({} compressed, {} zero){}, {}\n",
                             r->parts.empty() ? o.out.front() : fmt::format("split set of {} files", r->parts.size()),
                             dump::kdump_write_header_version, dump::compression_name(r->compression),
                             r->flattened ? ", flattened" : "", r->file_size, plural(r->cpus, "CPU"), r->memory_bytes,
                             plural(r->segments.size(), "segment"), plural(r->pages_dumped, "page"), r->pages_present,
                             r->pages_compressed, r->pages_zero, excluded, vmcoreinfo_text(r->vmcoreinfo));
    for (const auto& p : r->parts)
      std::cout << fmt::format("  {}: pfns [{:#x}, {:#x}), {} bytes, {} dumped\n", p.path, p.start_pfn, p.end_pfn,
                               p.file_size, plural(p.pages_dumped, "page"));
    return exit_ok;
  }

  if (o.format == "s390") {
    dump::S390WriteOptions w;
    w.progress = progress;
    tl::expected<dump::S390WriteReport, dump::DumpError> r;
    {
      SignalScope signals;
      r = dump::write_s390_dump(**backend, o.out.front(), w);
    }
    if (shown) std::cerr << "\r" << std::string(50, ' ') << "\r";
    if (!r) return failed(r.error());
    for (const auto& warning : r->warnings) std::cerr << "s390bridge dump: warning: " << warning << "\n";
    if (r->unreadable_bytes)
      std::cerr << fmt::format("s390bridge dump: warning: {:#x} bytes the source could not deliver, written as zeros "
                               "(the format cannot mark them){}{}\n",
                               r->unreadable_bytes, r->unreadable.empty() ? "" : "; the first: ",
                               r->unreadable.empty() ? "" : r->unreadable.front());
    if (o.json) {
      std::cout << report_json(o, *r).dump() << "\n";
      return exit_ok;
    }
    std::cout << fmt::format("{}: s390 stand-alone dump, {} bytes: {:#x} bytes of memory, {} of {} in lc_vec, {} "
                             "vector save {}\n",
                             o.out.front(), r->file_size, r->mem_size, r->lc_vec.size(), plural(r->cpus, "CPU"), r->vector_areas,
                             r->vector_areas == 1 ? "area" : "areas");
    return exit_ok;
  }

  dump::ElfWriteOptions w;
  w.source_vmcoreinfo = source_info.vmcoreinfo_text;
  w.progress = progress;
  tl::expected<dump::ElfWriteReport, dump::DumpError> r;
  {
    SignalScope signals;
    r = dump::write_elf_dump(**backend, o.out.front(), w);
  }
  if (shown) std::cerr << "\r" << std::string(50, ' ') << "\r";
  if (!r) return failed(r.error());
  warn_vmcoreinfo(r->vmcoreinfo);
  if (o.json) {
    std::cout << report_json(o, *r).dump() << "\n";
    return exit_ok;
  }
  std::cout << fmt::format("{}: ELF core, {} bytes: {}, {:#x} bytes of memory in {}, {}\n", o.out.front(), r->file_size,
                           plural(r->cpus, "CPU"), r->memory_bytes, plural(r->segments.size(), "segment"),
                           vmcoreinfo_text(r->vmcoreinfo));
  return exit_ok;
}

}  // namespace

void add_dump_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<DumpOptions>();
  CLI::App* cmd = app.add_subcommand("dump", "write the guest to a dump file (ELF core with VMCOREINFO, or kdump-compressed)");
  o->source.add_options(*cmd);
  cmd->add_option("--out", o->out,
                  "the dump file to write (replaced only once complete); kdump formats: more than once, a split set "
                  "(makedumpfile --split), the pages divided evenly among the files")
      ->required()
      ->allow_extra_args(false);
  cmd->add_option("--format", o->format,
                  "elf (QEMU's layout plus the guest's VMCOREINFO; the default), or makedumpfile's kdump-compressed "
                  "format with pages compressed by zlib, lzo, snappy or zstd: kdump-zlib, kdump-lzo, kdump-snappy, "
                  "kdump-zstd; or s390, the stand-alone dump format zgetdump reads and writes (registers in each "
                  "CPU's store-status save area)");
  cmd->add_flag("--flattened", o->flattened,
                "kdump: makedumpfile's flattened format (makedumpfile -F; a stream of records, for pipes)");
  cmd->add_flag("--exclude-zero", o->exclude_zero,
                "kdump: leave pages filled with zeros out of the dump (makedumpfile -d 1; readers then say they are "
                "not in the dump, unless --zero-excluded)");
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer(
      "Example: s390bridge dump --core qemu.elf --out guest.elf   (QEMU's dump, with VMCOREINFO for drgn)\n"
      "         s390bridge dump --qemu :1234 --out guest.kdump --format kdump-zstd --exclude-zero\n"
      "         s390bridge dump --core qemu.elf --format kdump-zstd --out part1 --out part2 --out part3   (split set)\n"
      "Exit status: 0 written, 1 failed or interrupted (nothing left at --out), 2 bad arguments or guest source.");
  cmd->callback([o, &exit_code] { exit_code = run_dump(*o); });
}

}  // namespace s390b::cli
