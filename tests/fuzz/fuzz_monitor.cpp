// libFuzzer target for `monitor` commands (gdbstub/monitor.h): command lines through
// run_monitor_command against the built-in demo guest, and through parse_view.
//
// Input layout:
//   byte 0   flags (see Flag below): read-only server (the backend wrapped in
//            ReadOnlyBackend, as the session does), current vCPU, capabilities; bits 4-7
//            pick the initial view of every vCPU
//   rest     command lines, split at "\n" (at most kMaxLines of them), run in order on
//            one MonitorContext, so a `view` changes what later lines translate and read
//
// Checked on every line, beyond "no crash/UB" (ASan, UBSan):
//  - output is newline-terminated when non-empty (MonitorReply: "newline-terminated lines");
//  - a line whose first word is `help` (or with no word: an empty line is help too)
//    never errors and prints something; the empty line prints exactly what `help` does;
//  - only `view` changes the views, `view` alone and a failed `view V` change nothing, and
//    a successful `view [all] V` gives the current (every) vCPU exactly parse_view(V);
//  - read-only: nothing that may change the guest (a write or cmpxchg that is not
//    check-only, any --inject) reaches it (read_only_backend.h);
//  - a line that cannot have changed the guest (memop aside) gives the same reply again;
//  - parse_view, on the line itself and on a `view` line's argument: an error has a
//    message; a view it accepts round-trips, parse_view(v.describe()) == v (every form
//    describe() prints is one parse_view reads; tests/gdbstub/test_session_conversation_
//    monitor.cpp checks the same for one value of each form).
//
// Speed: the demo guest is built once and restored cheaply after an input that may have
// changed it (see FuzzGuest), so every input starts from the same guest and crashes
// reproduce.
//
// Fuzz by hand:
//   CC=clang CXX=clang++ cmake -S . -B build-fuzz -DS390B_FUZZ=ON -DS390B_BENCH=OFF
//   cmake --build build-fuzz --target fuzz_monitor
//   mkdir -p /tmp/monitor && build-fuzz/fuzz/fuzz_monitor -max_len=1024 /tmp/monitor tests/fuzz/corpus/fuzz_monitor
// (or scripts/fuzz fuzz_monitor, which merges what it finds into the committed seeds).
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "access/view.h"
#include "access/memory_access.h"
#include "backends/emulated/demo_guest.h"
#include "backends/read_only_backend.h"
#include "backends/translation_context.h"
#include "gdbstub/monitor.h"
#include "translate/address.h"
#include "translate/space.h"

using namespace s390b;
using namespace s390b::rsp;

namespace {

namespace Flag {
constexpr std::uint8_t read_only = 0x01;
constexpr std::uint8_t cpu1 = 0x02;           // the current vCPU (Hg) is 1, not 0
constexpr std::uint8_t no_keys = 0x04;        // the backend offers no StorageKeys
constexpr std::uint8_t no_table_walks = 0x08;  // table_walks_allowed() is false (KVM without the gate)
}  // namespace Flag

constexpr std::size_t kMaxLines = 8;
// The backend's op limit (KVM_CAP_S390_MEM_OP; the emulated backend has KVM's usual 64 KiB).
// 4 KiB keeps `memop read ADDR 65536` (128 KiB of hex, twice) from eating the fuzzer's
// time. A larger op fails with E2BIG as on KVM, though here before the flag checks (no
// property below depends on which of two errors an op gets).
constexpr std::uint32_t kOpLimit = 4096;

// Traps on a broken invariant, naming the line of the check (libFuzzer shows stderr).
void check(bool ok, unsigned line = __builtin_LINE()) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_monitor.cpp:%u: invariant violated\n", line);
  __builtin_trap();
}

// Whether a MEMOP may change the guest: a write or cmpxchg that is not check-only, or
// any operation with exception injection (which stores into the lowcore and loads a PSW).
bool may_change_guest(const Memop& op) {
  if (op.flags & memop_flag::inject_exception) return true;
  switch (op.kind) {
    case MemopKind::logical_read:
    case MemopKind::sida_read:
    case MemopKind::absolute_read: return false;
    case MemopKind::absolute_cmpxchg: return true;
    default: return !(op.flags & memop_flag::check_only);
  }
}

bool same_cpu_state(const CpuState& a, const CpuState& b) {
  return a.psw == b.psw && a.gprs == b.gprs && a.acrs == b.acrs && a.crs == b.crs && a.fpc == b.fpc &&
         a.vrs == b.vrs && a.prefix == b.prefix && a.cputm == b.cputm && a.ckc == b.ckc && a.todpr == b.todpr &&
         a.last_break == b.last_break && a.gs == b.gs;
}

// The demo guest behind a wrapper that counts the calls that may change it and puts back
// what they changed before the next input. Rebuilding the guest costs ~4 ms (its page
// tables, 64 MiB of storage) and scanning every frame's key ~2 ms, so the wrapper notes
// the frames a change can have reached instead: an absolute write's or cmpxchg's range as
// given, a logical write's pages translated the way the backend translates them before
// it stores (the same translate/ functions, on the state before the op), and always both
// lowcores, where exception injection stores (and loads a new PSW, so both vCPUs'
// registers are put back too). A full comparison with a pristine guest after the first
// restores and every 256th one proves the restore complete.
class FuzzGuest final : public Backend, public StorageKeys {
 public:
  void restore_if_changed() {
    if (changes_ == 0) return;
    changes_ = 0;
    ++restores_;
    for (unsigned cpu = 0; cpu < demo::cpu_count; ++cpu) {
      check(inner_->set_cpu_state(cpu, *pristine_->cpu_state(cpu)).has_value());
      for (std::uint64_t a = demo::prefix[cpu]; a < demo::prefix[cpu] + 2 * page_size; a += page_size)
        restore_frame(a / page_size);
    }
    for (std::uint64_t frame : touched_frames_) restore_frame(frame);
    touched_frames_.clear();
    if ((restores_ & (restores_ - 1)) == 0 || restores_ % 256 == 0) check_pristine();
  }
  void configure(std::uint8_t flags) {
    keys_ = (flags & Flag::no_keys) == 0;
    table_walks_ = (flags & Flag::no_table_walks) == 0;
  }
  // Calls since the last restore that may have changed the guest.
  unsigned changes() const { return changes_; }

  std::string_view name() const override { return "fuzz-demo"; }
  unsigned cpu_count() const override { return inner_->cpu_count(); }
  std::uint32_t op_limit() const override { return kOpLimit; }
  Facilities facilities() const override { return inner_->facilities(); }
  MemopResult vcpu_memop(unsigned cpu, const Memop& op) override {
    if (op.size > kOpLimit) return MemopResult::host(HostError::e2big);
    if (may_change_guest(op)) {
      ++changes_;
      if (op.kind == MemopKind::logical_write && !(op.flags & memop_flag::check_only)) note_logical_write(cpu, op);
    }
    return inner_->vcpu_memop(cpu, op);
  }
  MemopResult vm_memop(const Memop& op) override {
    if (op.size > kOpLimit) return MemopResult::host(HostError::e2big);
    if (may_change_guest(op)) {
      ++changes_;
      if (op.kind != MemopKind::absolute_read) note_range(op.gaddr, op.size);
    }
    return inner_->vm_memop(op);
  }
  tl::expected<CpuState, HostError> cpu_state(unsigned cpu) const override { return inner_->cpu_state(cpu); }
  tl::expected<void, HostError> set_cpu_state(unsigned cpu, const CpuState& state) override {
    ++changes_;
    return inner_->set_cpu_state(cpu, state);
  }
  IpteGuard ipte_lock() override { return inner_->ipte_lock(); }
  bool table_walks_allowed() const override { return table_walks_; }
  StorageKeys* storage_keys() override { return keys_ ? this : nullptr; }
  const MemoryMap* memory_map() const override { return inner_->memory_map(); }

  tl::expected<StorageKey, HostError> get_key(std::uint64_t absolute) const override {
    return inner_->get_key(absolute);
  }
  tl::expected<void, HostError> set_key(std::uint64_t absolute, StorageKey key) override {
    ++changes_;
    note_range(absolute, 1);
    return inner_->set_key(absolute, key);
  }

 private:
  static constexpr std::uint64_t page_size = 4096;
  static constexpr std::uint64_t frames = demo::storage_size / page_size;

  // Frames of [address, address + size) inside storage (outside, nothing can be stored).
  void note_range(std::uint64_t address, std::uint64_t size) {
    if (size == 0 || address >= demo::storage_size) return;
    const std::uint64_t last = std::min(demo::storage_size - 1, address + std::min(size - 1, ~address));
    for (std::uint64_t f = address / page_size; f <= last / page_size; ++f) touched_frames_.push_back(f);
  }
  // As EmulatedBackend::logical does before its first store: effective address, then each
  // page fragment translated in the cpu's space with the op's AR (a failure stops it).
  void note_logical_write(unsigned cpu, const Memop& op) {
    if (cpu >= demo::cpu_count || op.ar >= access_register_count || op.size > kOpLimit) return;  // EINVAL, E2BIG
    const TranslationContext ctx = translation_context(*inner_->cpu_state(cpu), inner_->facilities());
    const Psw::AddressingMode mode = ctx.psw.addressing_mode();
    std::uint64_t addr = op.gaddr;
    for (std::uint64_t done = 0; done < op.size;) {
      addr = effective_address(addr, mode);
      const std::uint64_t len = std::min(page_size - (addr & (page_size - 1)), op.size - done);
      const auto abs = translate_address(inner_->storage(), ctx, AddressSpace::of(AddressSpace::Kind::cpu), op.ar,
                                         addr, AccessMode::store);
      if (!abs) return;
      note_range(*abs, len);
      addr += len;
      done += len;
    }
  }
  void restore_frame(std::uint64_t frame) {
    const std::uint64_t a = frame * page_size;
    std::uint8_t* to = inner_->storage().pointer(a, page_size);
    const std::uint8_t* from = std::as_const(*pristine_).storage().pointer(a, page_size);
    check(to != nullptr && from != nullptr);
    std::memcpy(to, from, page_size);
    check(inner_->storage().set_key(a, pristine_->storage().key(a)));
  }
  // Traps, naming what differs, unless the guest is the pristine one again.
  void check_pristine() const {
    const Storage& s = std::as_const(*inner_).storage();
    const Storage& p = std::as_const(*pristine_).storage();
    for (std::uint64_t f = 0; f < frames; ++f) {
      const std::uint64_t a = f * page_size;
      if (std::memcmp(s.pointer(a, page_size), p.pointer(a, page_size), page_size) != 0 || s.key(a) != p.key(a)) {
        std::fprintf(stderr, "fuzz_monitor: the restore missed a change in frame %#llx\n",
                     static_cast<unsigned long long>(f));
        check(false);
      }
    }
    for (unsigned cpu = 0; cpu < demo::cpu_count; ++cpu)
      check(same_cpu_state(*inner_->cpu_state(cpu), *pristine_->cpu_state(cpu)));
  }

  std::unique_ptr<EmulatedBackend> inner_ = demo::make_guest();
  const std::unique_ptr<EmulatedBackend> pristine_ = demo::make_guest();
  std::vector<std::uint64_t> touched_frames_;
  unsigned changes_ = 0;
  unsigned restores_ = 0;
  bool keys_ = true;
  bool table_walks_ = true;
};

// Words as the monitor splits them (operator>> in the "C" locale: isspace separates).
std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const std::size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string join(const std::vector<std::string_view>& words, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < words.size(); ++i) {
    if (i > from) out += ' ';
    out += words[i];
  }
  return out;
}

// parse_view's promises: an error says something; an accepted view round-trips through
// describe(). Returns the parsed view for the caller's own checks.
tl::expected<AddressSpace, std::string> checked_parse_view(std::string_view text) {
  auto v = parse_view(text);
  if (!v) {
    check(!v.error().empty());
    return v;
  }
  const std::string described = v->describe();
  check(!described.empty());
  const auto again = parse_view(described);
  check(again.has_value() && *again == *v);
  check(again->describe() == described);
  return v;
}

AddressSpace initial_view(unsigned selector) {
  using Kind = AddressSpace::Kind;
  switch (selector % 9) {
    case 1: return AddressSpace::of(Kind::primary);
    case 2: return AddressSpace::of(Kind::secondary);
    case 3: return AddressSpace::of(Kind::home);
    case 4: return AddressSpace::access_reg(2);
    case 5: return AddressSpace::with_alet(demo::alet_kernel_fetch_only);
    case 6: return AddressSpace::with_asce(Asce{0x1007});
    case 7: return AddressSpace::of(Kind::real);
    case 8: return AddressSpace::of(Kind::absolute);
    default: return AddressSpace::of(Kind::cpu);
  }
}

void run_line(MonitorContext& ctx, FuzzGuest& guest, bool read_only, std::string_view line,
              const MonitorReply& help) {
  const auto words = words_of(line);
  const bool is_help = words.empty() || words[0] == "help";
  const bool is_view = !words.empty() && words[0] == "view";
  const std::vector<AddressSpace> views_before = ctx.views;
  const unsigned changes_before = guest.changes();

  const MonitorReply r = run_monitor_command(ctx, line);

  check(r.output.empty() || r.output.back() == '\n');
  if (is_help) {
    check(!r.error && !r.output.empty());
    if (words.empty()) check(r.output == help.output);
  }
  // Read-only: nothing that may change the guest got through to it.
  if (read_only) check(guest.changes() == 0);

  // The views: only `view` changes them, and then to what parse_view says.
  if (is_view && words.size() > 1) {
    const bool all = words[1] == "all";
    const auto view = checked_parse_view(join(words, all ? 2 : 1));
    if (!r.error) {
      check(view.has_value());
      for (std::size_t cpu = 0; cpu < ctx.views.size(); ++cpu) {
        const bool set = all || cpu == ctx.current_cpu;
        check(ctx.views[cpu] == (set ? *view : views_before[cpu]));
      }
    }
  }
  if (!is_view || r.error || words.size() == 1) check(ctx.views == views_before);
  if (is_view && words.size() == 1) check(!r.error);

  // A line that cannot have changed the guest says the same thing again. (Not checked for
  // memop, whose CLI11 parser costs ~0.1 ms a call here: it would halve the speed.)
  if (guest.changes() == changes_before && (words.empty() || words[0] != "memop")) {
    const std::vector<AddressSpace> views_after = ctx.views;
    const MonitorReply again = run_monitor_command(ctx, line);
    check(again.output == r.output && again.error == r.error);
    check(ctx.views == views_after && guest.changes() == changes_before);
  }

  (void)checked_parse_view(line);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FuzzGuest* guest = new FuzzGuest();  // built once (deliberately never destroyed)
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  guest->restore_if_changed();
  guest->configure(flags);
  // A read-only server hands the monitor its backend wrapped, as the session does.
  const bool read_only = (flags & Flag::read_only) != 0;
  ReadOnlyBackend guarded(*guest);
  Backend& backend = read_only ? static_cast<Backend&>(guarded) : *guest;
  MemoryAccess memory(backend);
  std::vector<AddressSpace> views(guest->cpu_count(), initial_view(flags >> 4));
  MonitorContext ctx{backend, memory, views, (flags & Flag::cpu1) ? 1u : 0u};

  const MonitorReply help = run_monitor_command(ctx, "help");
  check(!help.error && !help.output.empty() && help.output.back() == '\n');

  for (std::size_t n = 0; n < kMaxLines && !text.empty(); ++n) {
    const std::size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    run_line(ctx, *guest, read_only, line, help);
  }
  return 0;
}
