#include "gdbstub/packet_table.h"

#include <array>
#include <utility>

#include "gdbstub/parsers.h"

namespace s390b::rsp {

namespace {

using namespace detail;
using enum MatchKind;
using BT = BreakpointType;

// One line per packet. The separator after a name is the one the manual specifies:
// `qRcmd,` and `qThreadExtraInfo,` use a comma, `vCont;`/`vKill;` a semicolon, most
// queries a colon (GDB manual, Remote Protocol appendix).
constexpr std::array kTable{
    // memory and registers
    PacketEntry{"m", Direct, "", parse_read_memory},
    PacketEntry{"x", Direct, "", parse_read_memory_binary},
    PacketEntry{"M", Direct, "", parse_write_memory},
    PacketEntry{"X", Direct, "", parse_write_memory_binary},
    // `g;thread:<tid>;` (LLDB's thread suffix): the parser gets `thread:<tid>;`.
    PacketEntry{"g", ExactOrSeparated, ";", parse_read_registers},
    PacketEntry{"G", Direct, "", parse_write_registers},
    PacketEntry{"p", Direct, "", parse_read_register},
    PacketEntry{"P", Direct, "", parse_write_register},
    // breakpoints: one entry per type, so Z5... (unknown type) matches nothing -> empty
    PacketEntry{"Z0", Separated, ",", parse_breakpoint<true, BT::Software>},
    PacketEntry{"Z1", Separated, ",", parse_breakpoint<true, BT::Hardware>},
    PacketEntry{"Z2", Separated, ",", parse_breakpoint<true, BT::WriteWatch>},
    PacketEntry{"Z3", Separated, ",", parse_breakpoint<true, BT::ReadWatch>},
    PacketEntry{"Z4", Separated, ",", parse_breakpoint<true, BT::AccessWatch>},
    PacketEntry{"z0", Separated, ",", parse_breakpoint<false, BT::Software>},
    PacketEntry{"z1", Separated, ",", parse_breakpoint<false, BT::Hardware>},
    PacketEntry{"z2", Separated, ",", parse_breakpoint<false, BT::WriteWatch>},
    PacketEntry{"z3", Separated, ",", parse_breakpoint<false, BT::ReadWatch>},
    PacketEntry{"z4", Separated, ",", parse_breakpoint<false, BT::AccessWatch>},
    // run control and threads
    PacketEntry{"?", Exact, "", parse_query_halt},
    PacketEntry{"H", Direct, "", parse_set_thread},
    PacketEntry{"T", Direct, "", parse_thread_alive},
    PacketEntry{"c", Direct, "", parse_continue},
    PacketEntry{"s", Direct, "", parse_step},
    PacketEntry{"C", Direct, "", parse_continue_signal},
    PacketEntry{"S", Direct, "", parse_step_signal},
    PacketEntry{"vCont", Separated, ";", parse_vcont},
    PacketEntry{"vCont?", Exact, "", parse_vcont_query},
    PacketEntry{"k", Exact, "", parse_kill},
    PacketEntry{"vKill", Separated, ";", parse_vkill},
    PacketEntry{"D", Direct, "", parse_detach},
    PacketEntry{"!", Exact, "", parse_extended_mode},
    // queries and settings
    PacketEntry{"qSupported", ExactOrSeparated, ":", parse_qsupported},
    PacketEntry{"QStartNoAckMode", Exact, "", parse_start_no_ack},
    // One entry for every object: the parser tells features:read from the rest.
    PacketEntry{"qXfer", Separated, ":", parse_qxfer},
    PacketEntry{"qfThreadInfo", Exact, "", parse_thread_info_first},
    PacketEntry{"qsThreadInfo", Exact, "", parse_thread_info_next},
    PacketEntry{"qC", Exact, "", parse_query_current_thread},
    PacketEntry{"qAttached", ExactOrSeparated, ":", parse_qattached},
    PacketEntry{"qThreadExtraInfo", Separated, ",", parse_thread_extra_info},
    PacketEntry{"qRcmd", Separated, ",", parse_qrcmd},
    PacketEntry{"qOffsets", Exact, "", parse_qoffsets},
    PacketEntry{"qSymbol", Separated, ":", parse_qsymbol},
    PacketEntry{"qTStatus", Exact, "", parse_qtstatus},
    PacketEntry{"vMustReplyEmpty", Exact, "", parse_must_reply_empty},
    PacketEntry{"QThreadEvents", Separated, ":", parse_thread_events},
    PacketEntry{"QNonStop", Separated, ":", parse_non_stop},
    PacketEntry{"QListThreadsInStopReply", Exact, "", parse_list_threads_in_stop_reply},
    PacketEntry{"QThreadSuffixSupported", Exact, "", parse_thread_suffix_supported},
    PacketEntry{"QEnableErrorStrings", Exact, "", parse_enable_error_strings},
    // qThreadStopInfo<tid>: the thread id follows the name directly (no separator).
    PacketEntry{"qThreadStopInfo", Direct, "", parse_thread_stop_info},
    PacketEntry{"qHostInfo", Exact, "", parse_host_info},
    PacketEntry{"qProcessInfo", Exact, "", parse_process_info},
};

bool accepts_exact(const PacketEntry& e) {
  return e.match == Exact || e.match == ExactOrSeparated || e.match == Direct;
}

bool accepts_continuation(const PacketEntry& e, char c) {
  switch (e.match) {
    case Exact: return false;
    case Direct: return true;
    case Separated:
    case ExactOrSeparated: return e.separators.find(c) != std::string_view::npos;
  }
  return false;
}

// Some payload `e` matches, for reporting.
std::string example_of(const PacketEntry& e) {
  std::string s(e.name);
  if (!accepts_exact(e) && !e.separators.empty()) s.push_back(e.separators.front());
  return s;
}

}  // namespace

std::span<const PacketEntry> packet_table() { return kTable; }

std::optional<PacketMatch> match_packet(std::span<const PacketEntry> table,
                                        std::string_view payload) {
  for (const PacketEntry& e : table) {
    if (!payload.starts_with(e.name)) continue;
    const std::string_view rest = payload.substr(e.name.size());
    if (rest.empty()) {
      if (accepts_exact(e)) return PacketMatch{&e, rest};
      continue;
    }
    if (e.match == Direct) return PacketMatch{&e, rest};
    if (accepts_continuation(e, rest.front())) return PacketMatch{&e, rest.substr(1)};
  }
  return std::nullopt;
}

std::vector<Shadowing> check_no_shadowing(std::span<const PacketEntry> table) {
  std::vector<Shadowing> found;
  for (std::size_t i = 0; i < table.size(); ++i) {
    for (std::size_t j = i + 1; j < table.size(); ++j) {
      const PacketEntry* a = &table[i];
      const PacketEntry* b = &table[j];
      if (a->name.size() > b->name.size()) std::swap(a, b);
      // Payloads of both must start with both names: disjoint unless one is a prefix.
      if (!b->name.starts_with(a->name)) continue;
      if (a->name.size() < b->name.size()) {
        // b's payloads continue a's name with this character.
        const char c = b->name[a->name.size()];
        if (accepts_continuation(*a, c)) found.push_back({a->name, b->name, example_of(*b)});
        continue;
      }
      // Same name: overlap on the bare name or on a common continuation.
      if (accepts_exact(*a) && accepts_exact(*b)) {
        found.push_back({a->name, b->name, std::string(a->name)});
        continue;
      }
      for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        if (accepts_continuation(*a, ch) && accepts_continuation(*b, ch)) {
          found.push_back({a->name, b->name, std::string(a->name) + ch});
          break;
        }
      }
    }
  }
  return found;
}

}  // namespace s390b::rsp
