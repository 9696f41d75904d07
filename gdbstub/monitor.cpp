#include "gdbstub/monitor.h"

#include <functional>
#include <sstream>

#include <fmt/format.h>

#include "access/cpu_report.h"
#include "access/view.h"
#include "gdbstub/memop_options.h"
#include "translate/address.h"

namespace s390b::rsp {

namespace {

std::string join(const std::vector<std::string>& words, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < words.size(); ++i) {
    if (i > from) out += ' ';
    out += words[i];
  }
  return out;
}

MonitorReply fail(std::string text) { return {std::move(text) + "\n", true}; }

struct Command {
  std::string_view name;
  std::string_view synopsis;
  std::string_view summary;
  // Whether the backend supports it (capability-driven help and dispatch).
  std::function<bool(Backend&)> available;
  std::function<MonitorReply(MonitorContext&, const std::vector<std::string>&)> run;
};

MonitorReply cmd_view(MonitorContext& ctx, const std::vector<std::string>& w) {
  if (w.size() == 1) {
    std::string out;
    for (unsigned cpu = 0; cpu < ctx.views.size(); ++cpu)
      out += fmt::format("cpu {}: view {}{}\n", cpu, ctx.views[cpu].describe(), cpu == ctx.current_cpu ? "  (current)" : "");
    return {out, false};
  }
  const bool all = w[1] == "all";
  auto view = parse_view(join(w, all ? 2 : 1));
  if (!view) return fail(view.error());
  if (all) {
    for (auto& v : ctx.views) v = *view;
    return {fmt::format("every cpu: view {}\n", view->describe()), false};
  }
  ctx.views[ctx.current_cpu] = *view;
  return {fmt::format("cpu {}: view {}\n", ctx.current_cpu, view->describe()), false};
}

MonitorReply cmd_translate(MonitorContext& ctx, const std::vector<std::string>& w) {
  if (w.size() < 2 || w.size() > 3 || (w.size() == 3 && w[2] != "store" && w[2] != "fetch"))
    return fail("usage: translate ADDR [fetch|store]");
  auto addr = parse_number(w[1]);
  if (!addr) return fail(fmt::format("bad address '{}'", w[1]));
  const AccessMode mode = w.size() == 3 && w[2] == "store" ? AccessMode::store : AccessMode::fetch;
  const TranslationReport rep = ctx.memory.translate(ctx.current_cpu, ctx.views[ctx.current_cpu], *addr, mode);
  // A translation that ends in an exception is a successful report, not a failed command.
  return {format_translation(rep), rep.error.has_value()};
}

MonitorReply cmd_regs(MonitorContext& ctx, const std::vector<std::string>& w) {
  if (w.size() > 2) return fail("usage: regs [ADDR]");
  auto state = ctx.backend.cpu_state(ctx.current_cpu);
  if (!state) return fail(fmt::format("cannot read cpu {}: {}", ctx.current_cpu, host_error_name(state.error())));
  std::string out = fmt::format("cpu {}\n", ctx.current_cpu) + system_state_text(*state);
  out += fmt::format("  view {}\n", ctx.views[ctx.current_cpu].describe());
  if (w.size() == 2) {
    auto addr = parse_number(w[1]);
    if (!addr) return fail(fmt::format("bad address '{}'", w[1]));
    const TranslationReport rep = ctx.memory.translate(ctx.current_cpu, ctx.views[ctx.current_cpu], *addr, AccessMode::fetch);
    if (!rep.absolute) return {out + fmt::format("  {:#x}: not translatable in this view\n", *addr), true};
    StorageKeys* keys = ctx.backend.storage_keys();
    if (!keys) return {out + "  storage keys: the backend has none\n", true};
    auto key = keys->get_key(*rep.absolute);
    if (!key) return {out + fmt::format("  storage key: {}\n", host_error_name(key.error())), true};
    out += fmt::format("  {:#x} -> absolute {:#x}: storage key {}\n", *addr, *rep.absolute, key_text(*key));
  }
  return {out, false};
}

MonitorReply cmd_memop(MonitorContext& ctx, const std::vector<std::string>& w) {
  MemopArgs args;
  CLI::App app{"monitor memop"};
  add_memop_options(app, args);
  std::vector<std::string> words(w.rbegin(), w.rend() - 1);  // CLI11 takes arguments reversed
  try {
    app.parse(words);
  } catch (const CLI::CallForHelp&) {
    // CLI11 reports --help as an exception whose what() is meant for main(): print the help.
    return {app.help("monitor memop"), false};
  } catch (const CLI::ParseError& e) {
    return fail(fmt::format("memop: {}", e.what()));
  }
  auto req = memop_request(app, args);
  if (!req) return fail(fmt::format("memop: {}", req.error()));
  if (app.count("--cpu") == 0) req->cpu = ctx.current_cpu;
  // A read-only server's backend refuses writes and --inject itself (ReadOnlyBackend).
  const MemopOutcome out = run_memop(ctx.backend, *req);
  return {out.text, out.exit_code != 0};
}

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      {"help", "help", "list the monitor commands", [](Backend&) { return true; }, nullptr},
      {"view", "view [all] [cpu [ar N]|primary|secondary|home|ar N|alet X|asce X|real|absolute]",
       "show or set the address space memory packets use, for the vCPU of GDB's last register or memory "
       "access (GDB does not say when it only switches threads: `thread N` then `monitor view ...` may act on "
       "the previous one), or with `all` for every vCPU",
       [](Backend&) { return true; }, cmd_view},
      {"translate", "translate ADDR [fetch|store]", "walk ADDR through the current view and print every level",
       [](Backend&) { return true; }, cmd_translate},
      {"regs", "regs [ADDR]",
       "system registers GDB does not show (PSW decoded, prefix, timers, CR0/ASCEs); with ADDR, its storage key",
       [](Backend&) { return true; }, cmd_regs},
      {"memop", "memop OP ADDR [SIZE] [--data HEX] [--old HEX] [--ar N] [--key K] [--check-only] [--inject] [--cpu N] [--json]",
       "one raw MEMOP (read, write, abs-read, abs-write, cmpxchg) with KVM semantics",
       [](Backend&) { return true; }, cmd_memop},
  };
  return table;
}

MonitorReply cmd_help(MonitorContext& ctx) {
  std::string out = "s390bridge monitor commands:\n";
  for (const Command& c : commands())
    if (c.available(ctx.backend)) out += fmt::format("  {}\n      {}\n", c.synopsis, c.summary);
  if (MonitorPassthrough* mp = ctx.backend.monitor_passthrough())
    out += fmt::format("  {} CMD\n      pass CMD to {}'s own monitor (e.g. '{} info status')\n", mp->monitor_word(),
                       ctx.backend.name(), mp->monitor_word());
  out += fmt::format("backend: {}, {} vCPU(s), op limit {} bytes, run control: {}\n", ctx.backend.name(),
                     ctx.backend.cpu_count(), ctx.backend.op_limit(),
                     ctx.backend.run_control() ? "yes" : "no (the target cannot run)");
  return {out, false};
}

}  // namespace

MonitorReply run_monitor_command(MonitorContext& ctx, std::string_view line) {
  const auto words = split_words(line);
  if (words.empty() || words[0] == "help") return cmd_help(ctx);
  if (MonitorPassthrough* mp = ctx.backend.monitor_passthrough(); mp && words[0] == mp->monitor_word()) {
    // The rest of the line as typed: the other monitor has its own quoting rules.
    std::string_view rest = line.substr(line.find(mp->monitor_word()) + mp->monitor_word().size());
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    if (rest.empty()) return fail(fmt::format("usage: monitor {} CMD (try '{} help')", mp->monitor_word(), mp->monitor_word()));
    auto out = mp->monitor_command(rest);
    if (!out) return fail(fmt::format("{}: {}", mp->monitor_word(), out.error()));
    return {*out, false};
  }
  for (const Command& c : commands()) {
    if (c.name != words[0] || !c.run) continue;
    if (!c.available(ctx.backend)) return fail(fmt::format("{}: not supported by the {} backend", c.name, ctx.backend.name()));
    return c.run(ctx, words);
  }
  return fail(fmt::format("unknown monitor command '{}'; try 'monitor help'", words[0]));
}

}  // namespace s390b::rsp
