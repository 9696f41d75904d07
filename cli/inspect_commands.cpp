#include "cli/inspect_commands.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "access/cpu_report.h"
#include "access/json.h"
#include "access/memop_request.h"
#include "access/read_range.h"
#include "access/search.h"
#include "access/view.h"
#include "cli/source.h"

namespace s390b::cli {

namespace {

// Exit codes of the inspection commands (docs/json.md).
constexpr int exit_ok = 0;          // everything asked for
constexpr int exit_failed = 1;      // nothing: the first page faulted, or a host error
constexpr int exit_usage = 2;       // bad arguments or guest source; nothing was done
constexpr int exit_partial = 3;     // read: a prefix, then a fault

struct Common {
  GuestSource source;
  unsigned cpu = 0;
  std::string view = "cpu";
  std::string address;
};

void add_common(CLI::App& cmd, Common& c) {
  c.source.add_options(cmd);
  cmd.add_option("address", c.address, "guest address in the view (0x hex or decimal)")->required();
  cmd.add_option("--cpu", c.cpu, "vCPU whose registers select the spaces (default 0)");
  cmd.add_option("--view", c.view, fmt::format("address space: {} (default cpu)", view_grammar));
}

struct Opened {
  std::unique_ptr<Backend> backend;
  AddressSpace view;
  std::uint64_t address = 0;
};

// The guest, the view and the address, or a message (exit_usage).
tl::expected<Opened, std::string> open_common(const Common& c) {
  auto view = parse_view(c.view);
  if (!view) return tl::unexpected("--view: " + view.error());
  auto address = parse_number(c.address);
  if (!address) return tl::unexpected(fmt::format("bad address '{}' (0x hex or decimal, below 2^64)", c.address));
  auto backend = c.source.open();
  if (!backend) return tl::unexpected(backend.error());
  if (c.cpu >= (*backend)->cpu_count())
    return tl::unexpected(fmt::format("--cpu {} out of range (the guest has {})", c.cpu, (*backend)->cpu_count()));
  return Opened{std::move(*backend), *view, *address};
}

// hexdump -C style, with the guest address in the first column.
class HexDump {
 public:
  explicit HexDump(std::uint64_t address) : address_(address) {}
  bool operator()(std::span<const std::uint8_t> bytes) {
    for (std::uint8_t b : bytes) {
      line_[fill_++] = b;
      if (fill_ == line_.size()) flush();
    }
    return static_cast<bool>(std::cout);
  }
  void flush() {
    if (fill_ == 0) return;
    std::string hex, text;
    for (std::size_t i = 0; i < line_.size(); ++i) {
      if (i == 8) hex += ' ';
      hex += i < fill_ ? fmt::format("{:02x} ", line_[i]) : "   ";
      if (i < fill_) text += (line_[i] >= 0x20 && line_[i] < 0x7f) ? static_cast<char>(line_[i]) : '.';
    }
    std::cout << fmt::format("{:#018x}  {} |{}|\n", address_, hex, text);
    address_ += fill_;
    fill_ = 0;
  }

 private:
  std::uint64_t address_;
  std::array<std::uint8_t, 16> line_{};
  std::size_t fill_ = 0;
};

struct ReadOptions {
  Common common;
  std::string length;
  std::string out;
  bool hex = false;
  bool raw = false;
  bool json = false;
};

int run_read(const ReadOptions& o) {
  auto fail_usage = [](const std::string& m) {
    std::cerr << "s390bridge read: " << m << "\n";
    return exit_usage;
  };
  if (int(o.hex) + int(o.raw) + int(o.json) + int(!o.out.empty()) > 1)
    return fail_usage("--out, --hex, --raw and --json exclude each other");
  auto length = parse_number(o.length);
  if (!length) return fail_usage(fmt::format("bad length '{}'", o.length));
  if (*length == 0) return fail_usage("LEN must be at least 1");
  auto opened = open_common(o.common);
  if (!opened) return fail_usage(opened.error());
  if (*length - 1 > ~opened->address)
    return fail_usage(fmt::format("{:#x}+{:#x} runs past the end of the address space (2^64)", opened->address, *length));

  std::ofstream file;
  if (!o.out.empty()) {
    file.open(o.out, std::ios::binary | std::ios::trunc);
    if (!file) return fail_usage(fmt::format("{}: cannot open for writing", o.out));
  }
  MemoryAccess memory(*opened->backend);
  HexDump dump(opened->address);
  std::string hex;  // --hex and --json collect hex text (2 bytes a byte)
  const ByteSink sink = [&](std::span<const std::uint8_t> bytes) -> bool {
    if (!o.out.empty()) return static_cast<bool>(file.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())));
    if (o.raw) return static_cast<bool>(std::cout.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size())));
    if (o.hex || o.json) {
      hex += to_hex(bytes);
      return true;
    }
    return dump(bytes);
  };
  const RangeReadResult r = read_range(memory, o.common.cpu, opened->view, opened->address, *length, sink);
  dump.flush();
  if (o.hex) std::cout << hex << "\n";
  const bool output_failed = r.status.ok() && !r.complete();
  if (o.json) {
    Json j;
    j["address"] = hex_string(opened->address);
    j["view"] = opened->view.describe();
    j["cpu"] = o.common.cpu;
    j["requested"] = r.requested;
    j["read"] = r.read;
    j["complete"] = r.complete();
    j["data"] = hex;
    if (!r.complete() && !output_failed) {
      j["stopped_at"] = hex_string(opened->address + r.read);
      j["error"] = failure_json(r.status);
    }
    std::cout << j.dump() << "\n";
  }
  if (output_failed) {
    std::cerr << "s390bridge read: writing the output failed after " << r.read << " bytes\n";
    return exit_failed;
  }
  if (!r.complete()) {
    std::cerr << fmt::format("s390bridge read: {} of {} bytes; stopped at {}\n", r.read, r.requested,
                             describe_stop(opened->address + r.read, r.status));
    if (auto why = opened->backend->unavailable_reason()) std::cerr << "s390bridge read: " << *why << "\n";
    return r.read == 0 ? exit_failed : exit_partial;
  }
  return exit_ok;
}

struct TranslateOptions {
  Common common;
  bool write = false;
  bool json = false;
};

int run_translate(const TranslateOptions& o) {
  auto opened = open_common(o.common);
  if (!opened) {
    std::cerr << "s390bridge translate: " << opened.error() << "\n";
    return exit_usage;
  }
  MemoryAccess memory(*opened->backend);
  const AccessMode mode = o.write ? AccessMode::store : AccessMode::fetch;
  const TranslationReport rep = memory.translate(o.common.cpu, opened->view, opened->address, mode);
  if (o.json) {
    std::cout << translation_json(rep, mode).dump() << "\n";
  } else {
    std::cout << format_translation(rep);
  }
  return rep.absolute ? exit_ok : exit_failed;
}

struct RegsOptions {
  GuestSource source;
  unsigned cpu = 0;
  bool all = false;
  bool json = false;
};

int run_regs(const RegsOptions& o, const CLI::App& cmd) {
  auto backend = o.source.open();
  if (!backend) {
    std::cerr << "s390bridge regs: " << backend.error() << "\n";
    return exit_usage;
  }
  const Backend& b = **backend;
  if (o.all && cmd.count("--cpu") > 0) {
    std::cerr << "s390bridge regs: --cpu and --all exclude each other\n";
    return exit_usage;
  }
  if (o.cpu >= b.cpu_count()) {
    std::cerr << fmt::format("s390bridge regs: --cpu {} out of range (the guest has {})\n", o.cpu, b.cpu_count());
    return exit_usage;
  }
  Json cpus = Json::array();
  int rc = exit_ok;
  for (unsigned cpu = o.all ? 0 : o.cpu; cpu < (o.all ? b.cpu_count() : o.cpu + 1); ++cpu) {
    auto state = b.cpu_state(cpu);
    if (!state) {
      std::cerr << fmt::format("s390bridge regs: cpu {}: {}\n", cpu, host_error_name(state.error()));
      rc = exit_failed;
      continue;
    }
    if (o.json) {
      cpus.push_back(cpu_state_json(cpu, *state));
    } else {
      std::cout << cpu_state_text(cpu, *state);
    }
  }
  if (o.json) std::cout << Json{{"cpus", std::move(cpus)}}.dump() << "\n";
  return rc;
}

struct InfoOptions {
  GuestSource source;
  bool json = false;
};

int run_info(const InfoOptions& o) {
  SourceInfo source;
  auto backend = o.source.open(&source);
  if (!backend) {
    std::cerr << "s390bridge info: " << backend.error() << "\n";
    return exit_usage;
  }
  Backend& b = **backend;
  Json j;
  Json src{{"kind", source.kind}, {"format", source.format}};
  if (source.kind == "qemu") {
    src["gdbstub"] = source.file;
  } else if (!source.file.empty()) {
    src["file"] = source.file;
    if (!source.files.empty()) src["files"] = source.files;
    src["size"] = source.file_size;
    src["segments"] = source.segments;
    src["vmcoreinfo"] = source.vmcoreinfo;
  }
  j["source"] = std::move(src);
  j["backend"] = {{"name", std::string(b.name())},
                  {"op_limit", b.op_limit()},
                  {"run_control", b.run_control() != nullptr},
                  {"breakpoints", b.breakpoints() != nullptr},
                  {"storage_keys", b.storage_keys() != nullptr},
                  {"table_walks", b.table_walks_allowed()}};
  const Facilities f = b.facilities();
  j["facilities"] = {{"edat1", f.edat1}, {"edat2", f.edat2}, {"iep", f.iep}};
  Json memory = Json::array();
  std::uint64_t total = 0;
  if (const MemoryMap* map = b.memory_map()) {
    for (const auto& r : map->ranges()) {
      memory.push_back({{"start", hex_string(r.start)}, {"size", hex_string(r.size)}});
      total += r.size;
    }
  }
  j["memory"] = std::move(memory);
  j["memory_bytes"] = hex_string(total);
  Json cpus = Json::array();
  for (unsigned cpu = 0; cpu < b.cpu_count(); ++cpu) {
    auto state = b.cpu_state(cpu);
    if (!state) {
      cpus.push_back({{"cpu", cpu}, {"error", std::string(host_error_name(state.error()))}});
      continue;
    }
    Json c = cpu_state_json(cpu, *state);
    const CpuState::Present& p = state->present;
    Json missing = Json::array();
    for (auto [name, has] : {std::pair{"gprs", p.gprs}, {"psw", p.psw}, {"acrs", p.acrs}, {"crs", p.crs},
                             {"fprs", p.fprs}, {"vrs", p.vrs}, {"prefix", p.prefix}, {"cpu_timer", p.cputm},
                             {"clock_comparator", p.ckc}, {"tod_programmable", p.todpr},
                             {"breaking_event_address", p.last_break}, {"guarded_storage", p.gs}})
      if (!has) missing.push_back(name);
    Json brief{{"cpu", cpu}, {"psw", c["psw"]}};
    for (const char* key : {"prefix", "asce"})
      if (c.contains(key)) brief[key] = c[key];
    brief["missing"] = std::move(missing);
    if (cpu < source.cpu_sources.size()) brief["registers_from"] = source.cpu_sources[cpu];
    cpus.push_back(std::move(brief));
  }
  j["cpus"] = std::move(cpus);
  if (o.json) {
    std::cout << j.dump() << "\n";
    return exit_ok;
  }
  std::cout << fmt::format("source: {}{}\n", source.format,
                           source.file.empty()      ? ""
                           : source.kind == "qemu" ? fmt::format(" at {}", source.file)
                                                   : fmt::format(" {} ({} bytes, {} segments{})", source.file,
                                                                   source.file_size, source.segments,
                                                                   source.vmcoreinfo ? ", VMCOREINFO" : ""));
  std::cout << fmt::format("backend: {}, op limit {} bytes, run control {}, storage keys {}, table walks {}\n", b.name(),
                           b.op_limit(), b.run_control() ? "yes" : "no", b.storage_keys() ? "yes" : "no",
                           b.table_walks_allowed() ? "yes" : "no");
  std::cout << fmt::format("facilities: EDAT-1 {}, EDAT-2 {}, IEP {}\n", f.edat1 ? "yes" : "no", f.edat2 ? "yes" : "no",
                           f.iep ? "yes" : "no");
  std::cout << fmt::format("absolute memory: {:#x} bytes in {} ranges\n", total, j["memory"].size());
  for (const auto& r : j["memory"]) std::cout << fmt::format("  {} + {}\n", r["start"].get<std::string>(), r["size"].get<std::string>());
  for (unsigned cpu = 0; cpu < b.cpu_count(); ++cpu) {
    auto state = b.cpu_state(cpu);
    if (!state) continue;
    std::cout << fmt::format("cpu {}\n", cpu);
    if (cpu < source.cpu_sources.size()) std::cout << fmt::format("  registers from: {}\n", source.cpu_sources[cpu]);
    std::cout << system_state_text(*state);
    const auto& missing = j["cpus"][cpu]["missing"];
    if (!missing.empty()) std::cout << "  not in the source: " << fmt::format("{}", fmt::join(missing.get<std::vector<std::string>>(), ", ")) << "\n";
  }
  return exit_ok;
}

struct FindOptions {
  Common common;  // common.address holds the pattern here (find has no address)
  std::string pattern;
  std::string range;
  bool string = false;
  bool hex = false;
  std::string u64;
  bool all = false;
  std::size_t limit = 1000;
  bool json = false;
};

// "A-B" (inclusive end), either side 0x hex or decimal.
tl::expected<std::pair<std::uint64_t, std::uint64_t>, std::string> parse_range(const std::string& text) {
  const auto dash = text.find('-');
  if (dash == std::string::npos) return tl::unexpected(fmt::format("--range '{}': want A-B", text));
  auto a = parse_number(text.substr(0, dash));
  auto b = parse_number(text.substr(dash + 1));
  if (!a || !b || *a > *b) return tl::unexpected(fmt::format("--range '{}': want A-B with A <= B, below 2^64", text));
  return std::pair{*a, *b};
}

int run_find(const FindOptions& o, const CLI::App& cmd) {
  auto fail_usage = [](const std::string& m) {
    std::cerr << "s390bridge find: " << m << "\n";
    return exit_usage;
  };
  const bool has_u64 = cmd.count("--u64") > 0;
  if (int(o.string) + int(o.hex) + int(has_u64) > 1) return fail_usage("--string, --hex and --u64 exclude each other");
  if (has_u64 == !o.pattern.empty()) return fail_usage("give a PATTERN or --u64 V (one of them)");
  SearchRequest req;
  if (has_u64) {
    auto v = parse_number(o.u64);
    if (!v) return fail_usage(fmt::format("--u64 '{}': not a number below 2^64", o.u64));
    for (int i = 7; i >= 0; --i) req.pattern.push_back(static_cast<std::uint8_t>(*v >> (8 * i)));  // big-endian
  } else if (o.hex) {
    auto bytes = parse_hex_bytes(o.pattern);
    if (!bytes || bytes->empty()) return fail_usage(fmt::format("--hex '{}': want an even number of hex digits", o.pattern));
    req.pattern = std::move(*bytes);
  } else {
    req.pattern.assign(o.pattern.begin(), o.pattern.end());
  }
  if (req.pattern.size() > max_pattern) return fail_usage(fmt::format("the pattern is longer than {} bytes", max_pattern));
  if (!o.range.empty()) {
    auto r = parse_range(o.range);
    if (!r) return fail_usage(r.error());
    req.start = r->first;
    req.end = r->second;
    if (req.end - req.start + 1 < req.pattern.size() && req.end - req.start != ~std::uint64_t{0})
      return fail_usage("the pattern is longer than the range");
  }
  auto view = parse_view(o.common.view);
  if (!view) return fail_usage("--view: " + view.error());
  auto backend = o.common.source.open();
  if (!backend) return fail_usage(backend.error());
  if (o.common.cpu >= (*backend)->cpu_count())
    return fail_usage(fmt::format("--cpu {} out of range (the guest has {})", o.common.cpu, (*backend)->cpu_count()));
  req.cpu = o.common.cpu;
  req.view = *view;
  req.max_matches = o.all ? std::max<std::size_t>(o.limit, 1) : 1;

  // A progress line on a terminal, once the search takes longer than a moment.
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  const auto started = std::chrono::steady_clock::now();
  bool shown = false;
  auto progress = [&](const SearchProgress& p) {
    if (tty && std::chrono::steady_clock::now() - started > std::chrono::seconds(1)) {
      std::cerr << fmt::format("\rsearching {:#018x}, {} MiB scanned ", p.address, p.scanned >> 20) << std::flush;
      shown = true;
    }
    return true;
  };
  const SearchResult r = search(**backend, req, progress);
  if (shown) std::cerr << "\r" << std::string(60, ' ') << "\r";
  if (r.error || r.view_fault) {
    std::cerr << "s390bridge find: " << r.message << "\n";
    return exit_failed;
  }
  if (o.json) {
    Json j;
    j["view"] = req.view.describe();
    j["cpu"] = req.cpu;
    j["pattern"] = to_hex(req.pattern);
    j["range"] = {{"start", hex_string(req.start)}, {"end", hex_string(req.end)}};
    Json m = Json::array();
    for (const SearchMatch& x : r.matches) m.push_back({{"address", hex_string(x.address)}, {"absolute", hex_string(x.absolute)}});
    j["matches"] = std::move(m);
    j["scanned_bytes"] = r.scanned;
    j["complete"] = r.complete;
    std::cout << j.dump() << "\n";
  } else {
    for (const SearchMatch& x : r.matches) std::cout << fmt::format("{:#018x}  absolute {:#018x}\n", x.address, x.absolute);
    if (o.all && !r.complete)
      std::cerr << fmt::format("s390bridge find: stopped after {} matches (--limit)\n", r.matches.size());
  }
  return r.matches.empty() ? exit_failed : exit_ok;
}

}  // namespace

void add_read_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<ReadOptions>();
  CLI::App* cmd = app.add_subcommand("read", "read guest memory through a view (any length; stops at the first failing page)");
  add_common(*cmd, o->common);
  cmd->add_option("length", o->length, "bytes to read (0x hex or decimal)")->required();
  cmd->add_option("--out", o->out, "write the bytes to FILE");
  cmd->add_flag("--hex", o->hex, "print the bytes as one line of hex");
  cmd->add_flag("--raw", o->raw, "write the bytes to stdout as they are (for pipes)");
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer(
      "Example: s390bridge read --core guest.elf --view home 0x10000000400 64\n"
      "Exit status: 0 complete, 3 partial (a prefix, then a fault: stderr says where and why),\n"
      "1 nothing read, 2 bad arguments or guest source.");
  cmd->callback([o, &exit_code] { exit_code = run_read(*o); });
}

void add_translate_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<TranslateOptions>();
  CLI::App* cmd = app.add_subcommand("translate", "walk an address through a view's tables and print every level");
  add_common(*cmd, o->common);
  cmd->add_flag("--write", o->write, "translate for a store (DAT and low-address protection apply)");
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer(
      "Example: s390bridge translate --demo --view home 0x20000000000\n"
      "Exit status: 0 translated, 1 an exception (printed) or a host error, 2 bad arguments.");
  cmd->callback([o, &exit_code] { exit_code = run_translate(*o); });
}

void add_regs_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<RegsOptions>();
  CLI::App* cmd = app.add_subcommand("regs", "print a vCPU's registers and its decoded system state");
  o->source.add_options(*cmd);
  cmd->add_option("--cpu", o->cpu, "the vCPU (default 0)");
  cmd->add_flag("--all", o->all, "every vCPU");
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer("Example: s390bridge regs --core guest.elf --all --json\n"
              "Exit status: 0 ok, 1 a vCPU's registers could not be read, 2 bad arguments or guest source.");
  cmd->callback([o, cmd, &exit_code] { exit_code = run_regs(*o, *cmd); });
}

void add_info_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* cmd = app.add_subcommand("info", "describe a guest source: format, vCPUs, memory, what the backend can do");
  o->source.add_options(*cmd);
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer("Example: s390bridge info --core guest.elf --json\nExit status: 0 ok, 2 bad arguments or guest source.");
  cmd->callback([o, &exit_code] { exit_code = run_info(*o); });
}

void add_find_command(CLI::App& app, int& exit_code) {
  auto o = std::make_shared<FindOptions>();
  CLI::App* cmd = app.add_subcommand("find", "search an address space for bytes (mapped pages only)");
  o->common.source.add_options(*cmd);
  cmd->add_option("pattern", o->pattern, "what to find: text (default) or, with --hex, hex bytes");
  cmd->add_option("--cpu", o->common.cpu, "vCPU whose registers select the spaces (default 0)");
  cmd->add_option("--view", o->common.view, fmt::format("address space: {} (default cpu)", view_grammar));
  cmd->add_option("--range", o->range, "search only [A, B] (inclusive), e.g. 0x0-0x3ffffffffff");
  cmd->add_flag("--string", o->string, "PATTERN is text (the default)");
  cmd->add_flag("--hex", o->hex, "PATTERN is hex bytes");
  cmd->add_option("--u64", o->u64, "find this 64-bit value, big-endian as the guest stores it");
  cmd->add_flag("--all", o->all, "every match (up to --limit), not just the first");
  cmd->add_option("--limit", o->limit, "most matches --all reports (default 1000)")->check(CLI::Range(1, 100000000));
  cmd->add_flag("--json", o->json, "print one JSON object (docs/json.md)");
  cmd->footer("Example: s390bridge find --core guest.elf --view home 'Linux version' --all\n"
              "Exit status: 0 found, 1 not found (or the search could not run), 2 bad arguments.");
  cmd->callback([o, cmd, &exit_code] { exit_code = run_find(*o, *cmd); });
}

}  // namespace s390b::cli

