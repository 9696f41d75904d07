// QemuBackend test support: a fake QEMU (fake_qemu.h) on a unix socket in a scratch
// directory, the backend attached to it, and MEMOP helpers. A "restarted QEMU" is a new
// fake on the same socket path (start_fake()). Every wait for a stop has a deadline
// (get()): on a timeout the fake's connection is closed, which ends the wait, so a case
// fails instead of hanging.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backends/qemu/qemu_backend.h"
#include "tests/backends/fake_qemu.h"
#include "tests/backends/temp_dir.h"

namespace s390b::test {

using namespace std::chrono_literals;
using qemu::QemuBackend;
using qemu::QemuOptions;

constexpr auto kWait = 2000ms;
constexpr std::uint64_t kRam = std::uint64_t{1} << 20;
constexpr std::uint64_t kPsw64 = Psw::ea_bit | Psw::ba_bit;  // 64-bit addressing, DAT off
constexpr std::uint32_t kPrefix0 = 0x4000, kPrefix1 = 0x6000;
constexpr std::uint64_t kPswa1 = 0x20000;  // where cpu 1 "stands"

// A scratch directory, a fake QEMU listening in it, and the backend attached to it.
struct QemuFixture {
  TempDir dir{"s390b-qemu"};
  std::string socket = (dir.path / "gdb.sock").string();
  std::unique_ptr<FakeQemu> fake;
  std::unique_ptr<QemuBackend> backend;
  std::mutex log_mutex;
  std::vector<std::string> log_lines;

  explicit QemuFixture(FakeQemu::Config config = {}, std::string ram_file = {}) {
    start_fake(std::move(config));
    auto b = QemuBackend::attach(options(std::move(ram_file)));
    INFO((b ? std::string() : b.error()));
    REQUIRE(b);
    backend = std::move(*b);
  }

  QemuOptions options(std::string ram_file = {}) {
    QemuOptions o;
    o.gdbstub = "unix:" + socket;
    o.ram_file = std::move(ram_file);
    o.timeout = kWait;
    o.log = [this](std::string_view line) {
      std::lock_guard lk(log_mutex);
      log_lines.emplace_back(line);
    };
    return o;
  }

  // A (new) fake QEMU on the socket path, with the guest state every case starts from.
  void start_fake(FakeQemu::Config config = {}) {
    fake.reset();
    config.unix_path = socket;
    fake = std::make_unique<FakeQemu>(std::move(config));
    fake->set_reg(0, "pswm", kPsw64);
    fake->set_reg(0, "pswa", 0x10000);
    fake->set_reg(1, "pswm", kPsw64);
    fake->set_reg(1, "pswa", kPswa1);
    for (unsigned cpu = 0; cpu < FakeQemu::cpus; ++cpu) fake->set_reg(cpu, "cr0", 0);  // no low-address protection
    if (fake->register_count() > 103) {
      fake->set_reg(0, "prefix", kPrefix0);
      fake->set_reg(1, "prefix", kPrefix1);
    }
  }

  // wait_for_stop() on another thread, with a deadline: on a timeout the fake's connection
  // is closed, which ends the wait, so the case fails instead of hanging.
  std::future<tl::expected<StopEvent, HostError>> wait_async() {
    return std::async(std::launch::async, [this] { return backend->wait_for_stop(); });
  }
  tl::expected<StopEvent, HostError> get(std::future<tl::expected<StopEvent, HostError>>& f) {
    if (f.wait_for(kWait) != std::future_status::ready) {
      fake->stub().close_connection();
      FAIL_CHECK("no stop within the deadline");
    }
    return f.get();
  }
  // Resumes every vCPU, lets the fake stop with `reply`, and returns the stop event.
  tl::expected<StopEvent, HostError> run_until(const std::string& reply) {
    REQUIRE(backend->resume({0, 1}));
    REQUIRE(fake->wait_running());
    auto f = wait_async();
    fake->stop(reply);
    return get(f);
  }

  std::size_t count(std::string_view prefix) const { return fake->stub().received_starting(prefix).size(); }
};

inline std::string read_absolute(Backend& b, std::uint64_t address, std::size_t length, MemopResult* result = nullptr) {
  std::string out(length, '\0');
  Memop op;
  op.kind = MemopKind::absolute_read;
  op.gaddr = address;
  op.size = static_cast<std::uint32_t>(length);
  op.buf = std::span(reinterpret_cast<std::uint8_t*>(out.data()), out.size());
  const MemopResult r = b.vm_memop(op);
  if (result) *result = r;
  return r.ok() ? out : std::string();
}

inline MemopResult write_memop(Backend& b, MemopKind kind, unsigned cpu, std::uint64_t address, std::string data) {
  Memop op;
  op.kind = kind;
  op.gaddr = address;
  op.size = static_cast<std::uint32_t>(data.size());
  op.buf = std::span(reinterpret_cast<std::uint8_t*>(data.data()), data.size());
  return kind == MemopKind::absolute_write ? b.vm_memop(op) : b.vcpu_memop(cpu, op);
}

inline std::string read_logical(Backend& b, unsigned cpu, std::uint64_t address, std::size_t length,
                         MemopResult* result = nullptr) {
  std::string out(length, '\0');
  Memop op;
  op.kind = MemopKind::logical_read;
  op.gaddr = address;
  op.size = static_cast<std::uint32_t>(length);
  op.buf = std::span(reinterpret_cast<std::uint8_t*>(out.data()), out.size());
  const MemopResult r = b.vcpu_memop(cpu, op);
  if (result) *result = r;
  return r.ok() ? out : std::string();
}

inline bool contains(std::string_view text, std::string_view what) { return text.find(what) != std::string_view::npos; }
}  // namespace s390b::test
