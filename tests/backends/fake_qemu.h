// A fake qemu-system-s390x gdbstub for QemuBackend's tests, on top of fake_gdbstub.h: it
// answers what QEMU 7.2's s390x stub answers (target/s390x/gdbstub.c, gdbstub/gdbstub.c)
// for the packets the backend sends, over a model of two vCPUs' registers and a byte
// vector of guest RAM:
//
//   qSupported     PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+
//   vCont?         vCont;c;C;s;S
//   qXfer:features:read   target.xml with xi:includes of s390x-core64.xml, s390-acr.xml,
//                  s390-fpr.xml, s390-vx.xml, s390-gs.xml, s390-cr.xml (+ s390-virt.xml)
//   qfThreadInfo   m01,02 then l;  Hg/Hc TID -> OK
//   g              the 18 core registers (pswm, pswa, r0-r15) of the Hg thread
//   p N / P N=..   one register, big-endian hex
//   m / M          absolute storage, only after Qqemu.PhyMemMode:1 (else E14)
//   qRcmd,HEX      "info memory_size_summary" -> O "base memory: N\n", OK; "info status";
//                  "dump-guest-memory ..." refused with an O line (no file written)
//   Z/z T,A,K      OK for the types in Config::z_types, "" for the others
//   vCont;c / c    no reply until the test calls stop() (or an interrupt)
//   vCont;s:T / s  the stop reply at once
//   0x03           T02thread:01; while running
//   D              OK, and the guest runs;  k: the connection closes (QEMU quits)
//   any packet while the guest runs: dropped, unacked; the guest stops (T02thread:01;), as
//                  QEMU's gdb_read_byte does in system mode
//
// Registers are numbered in document order from 0 (pswm) as QEMU numbers them; every
// register starts with a distinct value (initial_value()) so a misplaced one shows.
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tests/backends/fake_gdbstub.h"

namespace s390b::test {

struct FakeRegister {
  std::string name;
  unsigned bits = 64;
};

struct FakeFeature {
  std::string file;
  std::string feature;
  std::vector<FakeRegister> registers;
};

// QEMU 7.2's s390x register files (gdb-xml/s390*.xml), in the order it includes them.
inline std::vector<FakeFeature> qemu_s390x_features(bool with_virt) {
  auto numbered = [](std::vector<FakeRegister>& out, const std::string& prefix, unsigned first, unsigned last,
                     unsigned bits, const std::string& suffix = "") {
    for (unsigned i = first; i <= last; ++i) out.push_back({prefix + std::to_string(i) + suffix, bits});
  };
  std::vector<FakeFeature> f;
  FakeFeature core{"s390x-core64.xml", "org.gnu.gdb.s390.core", {{"pswm", 64}, {"pswa", 64}}};
  numbered(core.registers, "r", 0, 15, 64);
  f.push_back(core);
  FakeFeature acr{"s390-acr.xml", "org.gnu.gdb.s390.acr", {}};
  numbered(acr.registers, "acr", 0, 15, 32);
  f.push_back(acr);
  FakeFeature fpr{"s390-fpr.xml", "org.gnu.gdb.s390.fpr", {{"fpc", 32}}};
  numbered(fpr.registers, "f", 0, 15, 64);
  f.push_back(fpr);
  FakeFeature vx{"s390-vx.xml", "org.gnu.gdb.s390.vx", {}};
  numbered(vx.registers, "v", 0, 15, 64, "l");
  numbered(vx.registers, "v", 16, 31, 128);
  f.push_back(vx);
  f.push_back({"s390-gs.xml", "org.gnu.gdb.s390.gs", {{"gs_reserved", 64}, {"gsd", 64}, {"gssm", 64}, {"gsepla", 64}}});
  FakeFeature cr{"s390-cr.xml", "org.gnu.gdb.s390.cr", {}};
  numbered(cr.registers, "cr", 0, 15, 64);
  f.push_back(cr);
  if (with_virt)
    f.push_back({"s390-virt.xml", "org.gnu.gdb.s390.virt", {{"ckc", 64}, {"cputm", 64}, {"last_break", 64}, {"prefix", 64}}});
  return f;
}

inline std::string feature_document(const FakeFeature& f) {
  std::string doc = "<?xml version=\"1.0\"?>\n<!-- Copyright (C) 2010-2015 Free Software Foundation, Inc. -->\n"
                    "<!DOCTYPE feature SYSTEM \"gdb-feature.dtd\">\n";
  doc += fmt::format("<feature name=\"{}\">\n", f.feature);
  for (const FakeRegister& r : f.registers)
    doc += fmt::format("  <reg name=\"{}\" bitsize=\"{}\" type=\"{}\" group=\"general\"/>\n", r.name, r.bits,
                       r.bits == 128 ? "vec128" : r.bits == 32 ? "uint32" : "uint64");
  doc += "</feature>\n";
  return doc;
}

// As QEMU builds it (gdbstub.c, get_feature_xml): one line, an include per feature.
inline std::string target_document(const std::vector<FakeFeature>& features) {
  std::string doc = "<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\"><target>"
                    "<architecture>s390:64-bit</architecture>";
  for (const FakeFeature& f : features) doc += fmt::format("<xi:include href=\"{}\"/>", f.file);
  doc += "</target>";
  return doc;
}

class FakeQemu {
 public:
  static constexpr unsigned cpus = 2;
  static constexpr unsigned core_registers = 18;  // what `g` carries

  struct Config {
    bool virt = true;  // the s390-virt.xml registers (prefix) are offered
    std::size_t ram_size = std::size_t{1} << 20;
    std::string unix_path;                    // else loopback TCP
    std::set<int> z_types = {0, 1, 2, 4};     // Z types offered (KVM: no read watchpoints)
    bool greet = true;                        // the unasked T02 QEMU sends on connect
  };

  explicit FakeQemu(Config config) : config_(std::move(config)), ram_(config_.ram_size) {
    features_ = qemu_s390x_features(config_.virt);
    documents_["target.xml"] = target_document(features_);
    for (const FakeFeature& f : features_) {
      documents_[f.file] = feature_document(f);
      for (const FakeRegister& r : f.registers) registers_.push_back(r);
    }
    for (unsigned cpu = 0; cpu < cpus; ++cpu) {
      values_[cpu].resize(registers_.size());
      for (unsigned n = 0; n < registers_.size(); ++n) {
        const std::uint64_t v = initial_value(cpu, n);
        values_[cpu][n] = registers_[n].bits == 128 ? be(v, 8) + be(~v, 8) : be(v, registers_[n].bits / 8);
      }
    }
    FakeGdbStub::Options o;
    o.unix_path = config_.unix_path;
    if (config_.greet) o.greeting = {"T02thread:01;"};
    o.handler = [this](const std::string& p) { return handle(p); };
    o.on_interrupt = [this] { return interrupt(); };
    o.intercept = [this](const std::string&) -> std::optional<Replies> {
      auto stop = interrupt();
      if (stop.empty()) return std::nullopt;
      return stop;
    };
    stub_ = std::make_unique<FakeGdbStub>(std::move(o));
  }

  // Distinct per vCPU and register: 0xC0RR.... with the register number in it.
  static std::uint64_t initial_value(unsigned cpu, unsigned regno) {
    return (std::uint64_t{0xc0 + cpu} << 56) | (std::uint64_t{regno} << 40) | (0x1234'5678ull + regno);
  }

  FakeGdbStub& stub() { return *stub_; }
  const std::string& endpoint() const { return stub_->endpoint(); }
  unsigned register_count() const { return static_cast<unsigned>(registers_.size()); }

  unsigned number(const std::string& name) const {
    for (unsigned n = 0; n < registers_.size(); ++n)
      if (registers_[n].name == name) return n;
    FAIL("no register ", name);
    return 0;
  }
  // The low 64 bits of a register of up to 64 bits, or the high half of a 128-bit one.
  std::uint64_t reg(unsigned cpu, const std::string& name) const {
    std::lock_guard lk(mutex_);
    return from_be(values_[cpu][number(name)].substr(0, 8));
  }
  std::uint64_t reg_low(unsigned cpu, const std::string& name) const {
    std::lock_guard lk(mutex_);
    return from_be(values_[cpu][number(name)].substr(8, 8));
  }
  void set_reg(unsigned cpu, const std::string& name, std::uint64_t value, std::uint64_t low = 0) {
    std::lock_guard lk(mutex_);
    const unsigned n = number(name);
    values_[cpu][n] = registers_[n].bits == 128 ? be(value, 8) + be(low, 8) : be(value, registers_[n].bits / 8);
  }

  void poke(std::uint64_t address, std::string_view bytes) {
    std::lock_guard lk(mutex_);
    REQUIRE(address + bytes.size() <= ram_.size());
    std::copy(bytes.begin(), bytes.end(), ram_.begin() + static_cast<std::ptrdiff_t>(address));
  }
  std::string peek(std::uint64_t address, std::size_t length) const {
    std::lock_guard lk(mutex_);
    REQUIRE(address + length <= ram_.size());
    return std::string(ram_.begin() + static_cast<std::ptrdiff_t>(address),
                       ram_.begin() + static_cast<std::ptrdiff_t>(address + length));
  }

  // Waits until the guest was resumed (c/vCont;c/D): a stop reply sent now follows it.
  bool wait_running(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    std::unique_lock lk(mutex_);
    return cv_.wait_for(lk, timeout, [this] { return running_; });
  }
  // The running guest stops: QEMU sends `reply` (T05thread:02;watch:1000; ...).
  void stop(const std::string& reply) {
    {
      std::lock_guard lk(mutex_);
      running_ = false;
    }
    stub_->send_packet(reply);
  }
  bool running() const {
    std::lock_guard lk(mutex_);
    return running_;
  }
  std::vector<std::string> monitor_commands() const {
    std::lock_guard lk(mutex_);
    return monitor_commands_;
  }

 private:
  using Replies = FakeGdbStub::Replies;

  static std::string be(std::uint64_t v, unsigned bytes) {
    std::string out;
    for (unsigned i = bytes; i-- > 0;) out += static_cast<char>(v >> (8 * i));
    return out;
  }
  static std::uint64_t from_be(std::string_view bytes) {
    std::uint64_t v = 0;
    for (char c : bytes) v = (v << 8) | static_cast<std::uint8_t>(c);
    return v;
  }
  static std::optional<std::uint64_t> hex_number(std::string_view s) {
    if (s.empty()) return std::nullopt;
    std::uint64_t v = 0;
    for (char c : s) {
      const int d = fake_hex_value(c);
      if (d < 0) return std::nullopt;
      v = v << 4 | static_cast<unsigned>(d);
    }
    return v;
  }
  static std::string thread_of(unsigned cpu) { return fmt::format("{:02x}", cpu + 1); }
  std::optional<unsigned> cpu_of(std::string_view tid) const {
    if (tid == "0" || tid == "-1") return 0u;
    auto v = hex_number(tid);
    if (!v || *v == 0 || *v > cpus) return std::nullopt;
    return static_cast<unsigned>(*v - 1);
  }

  Replies interrupt() {
    std::lock_guard lk(mutex_);
    if (!running_) return {};
    running_ = false;
    return {"T02thread:01;"};
  }

  void set_running() {
    {
      std::lock_guard lk(mutex_);
      running_ = true;
    }
    cv_.notify_all();
  }

  Replies handle(const std::string& p) {
    if (p.starts_with("qSupported")) return {"PacketSize=1000;qXfer:features:read+;vContSupported+;multiprocess+"};
    if (p == "vCont?") return {"vCont;c;C;s;S"};
    if (p.starts_with("qXfer:features:read:")) return {xfer(p.substr(20))};
    if (p == "qfThreadInfo") return {"m01,02"};
    if (p == "qsThreadInfo") return {"l"};
    if (p == "?") return {"T05thread:01;"};
    if (p.starts_with("Hg") || p.starts_with("Hc")) {
      auto cpu = cpu_of(std::string_view(p).substr(2));
      if (!cpu) return {"E22"};
      std::lock_guard lk(mutex_);
      (p[1] == 'g' ? g_cpu_ : c_cpu_) = *cpu;
      return {"OK"};
    }
    if (p == "g") {
      std::lock_guard lk(mutex_);
      std::string out;
      for (unsigned n = 0; n < core_registers; ++n) out += fake_hex(values_[g_cpu_][n]);
      return {out};
    }
    if (p.starts_with("p")) {
      auto n = hex_number(std::string_view(p).substr(1));
      std::lock_guard lk(mutex_);
      if (!n || *n >= registers_.size()) return {"E14"};
      return {fake_hex(values_[g_cpu_][*n])};
    }
    if (p.starts_with("P")) {
      const auto eq = p.find('=');
      auto n = hex_number(std::string_view(p).substr(1, eq == std::string::npos ? 0 : eq - 1));
      auto bytes = eq == std::string::npos ? std::nullopt : fake_unhex(std::string_view(p).substr(eq + 1));
      std::lock_guard lk(mutex_);
      if (!n || *n >= registers_.size() || !bytes || bytes->size() != registers_[*n].bits / 8) return {"E14"};
      values_[g_cpu_][*n] = *bytes;
      return {"OK"};
    }
    if (p.starts_with("Qqemu.PhyMemMode:")) {
      std::lock_guard lk(mutex_);
      physical_ = p.ends_with(":1");
      return {"OK"};
    }
    if (p.starts_with("m") || p.starts_with("M")) return {memory(p)};
    if (p.starts_with("qRcmd,")) return monitor(p.substr(6));
    if (p.starts_with("Z") || p.starts_with("z")) {
      const int type = p.size() > 1 ? p[1] - '0' : -1;
      return {config_.z_types.count(type) ? "OK" : ""};
    }
    if (p == "c" || p == "vCont;c" || p.starts_with("c") || p == "D") {
      set_running();
      if (p == "D") return {"OK"};
      return {};
    }
    if (p.starts_with("vCont;s:") || p == "s") {
      std::lock_guard lk(mutex_);
      return {"T05thread:" + (p == "s" ? thread_of(c_cpu_) : p.substr(8)) + ";"};
    }
    if (p == "k") {
      stub_->close_connection();
      return {};
    }
    return {""};
  }

  std::string xfer(std::string_view rest) {
    const auto colon = rest.find(':');
    const auto comma = rest.find(',');
    if (colon == std::string_view::npos || comma == std::string_view::npos) return "E00";
    auto doc = documents_.find(std::string(rest.substr(0, colon)));
    auto offset = hex_number(rest.substr(colon + 1, comma - colon - 1));
    auto length = hex_number(rest.substr(comma + 1));
    if (doc == documents_.end() || !offset || !length || *offset > doc->second.size()) return "E00";
    const std::string piece = doc->second.substr(*offset, *length);
    return (*offset + piece.size() >= doc->second.size() ? "l" : "m") + piece;
  }

  std::string memory(const std::string& p) {
    const auto comma = p.find(',');
    const auto colon = p.find(':');
    if (comma == std::string::npos) return "E22";
    auto address = hex_number(std::string_view(p).substr(1, comma - 1));
    auto length = hex_number(std::string_view(p).substr(comma + 1, colon == std::string::npos ? std::string::npos
                                                                                            : colon - comma - 1));
    std::lock_guard lk(mutex_);
    if (!physical_) return "E14";  // the test wants absolute addresses: logical reads are a bug
    if (!address || !length || *address + *length > ram_.size()) return "E14";
    const auto at = ram_.begin() + static_cast<std::ptrdiff_t>(*address);
    if (p[0] == 'm') return fake_hex(std::string(at, at + static_cast<std::ptrdiff_t>(*length)));
    auto bytes = colon == std::string::npos ? std::nullopt : fake_unhex(std::string_view(p).substr(colon + 1));
    if (!bytes || bytes->size() != *length) return "E22";
    std::copy(bytes->begin(), bytes->end(), at);
    return "OK";
  }

  Replies monitor(std::string_view hex) {
    auto command = fake_unhex(hex);
    if (!command) return {"E01"};
    {
      std::lock_guard lk(mutex_);
      monitor_commands_.push_back(*command);
    }
    if (*command == "info memory_size_summary")
      return {console_packet(fmt::format("base memory: {}\n", config_.ram_size)), "OK"};
    if (*command == "info status") return {console_packet(running() ? "VM status: running\n" : "VM status: paused\n"), "OK"};
    if (command->starts_with("dump-guest-memory"))
      return {console_packet("Error: dump-guest-memory is refused by this fake\n"), "OK"};
    return {console_packet(fmt::format("unknown command: '{}'\n", *command)), "OK"};
  }

  Config config_;
  std::vector<FakeFeature> features_;
  std::map<std::string, std::string> documents_;
  std::vector<FakeRegister> registers_;

  mutable std::mutex mutex_;  // everything below
  std::condition_variable cv_;
  std::vector<std::uint8_t> ram_;
  std::vector<std::string> values_[cpus];  // big-endian bytes per register number
  unsigned g_cpu_ = 0, c_cpu_ = 0;
  bool physical_ = false;
  bool running_ = false;
  std::vector<std::string> monitor_commands_;

  std::unique_ptr<FakeGdbStub> stub_;  // last: its thread stops before the state goes
};

}  // namespace s390b::test
