// Throughput of 64 KiB logical reads through the emulated backend (vcpu_memop
// LOGICAL_READ, DAT on, 4 KiB pages, a region-third ASCE: 16 walks of three table levels
// per op), against a plain memcpy of the same 64 KiB of guest storage in the same run.
// Target: the MEMOP reaches >= 50% of memcpy's MB/s (Memop_ratio_vs_memcpy/contiguous:
// virtually contiguous pages in contiguous frames, as a kernel's direct map; /scattered
// shows the same op when no two pages are neighbours in storage). MemoryAccess::read through a walked
// view (home space: our walker + one absolute op per page) is measured for comparison,
// and the same MEMOP with DAT off shows what the table walks cost.
//
//   s390bridge_bench --benchmark_filter=Memop
//
// Memop/ratio_vs_memcpy times both copies in the same iterations, interleaved, and
// reports memcpy_MBps, memop_MBps and ratio (memop / memcpy) as counters.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

#include "access/memory_access.h"
#include "backends/emulated/emulated_backend.h"
#include "backends/emulated/guest_builder.h"
#include "translate/address.h"

using namespace s390b;

namespace {

constexpr std::uint64_t storage_size = 16ull << 20;
constexpr std::uint64_t pool_start = 0x100000, pool_end = 0x400000;
constexpr std::uint64_t data_abs = 0x800000;
constexpr std::uint64_t data_va = 0x3ff80000000;  // region-third index 0x7ff, segment 0
// The same 16 pages mapped in reverse order (page i -> data_abs + (15 - i) * 4 KiB): no two
// neighbours are contiguous, so every page is its own copy.
constexpr std::uint64_t scattered_va = 0x3ff80100000;
constexpr std::uint32_t op_bytes = 64 * 1024;

template <typename T>
T must(tl::expected<T, std::string> r) {
  if (!r) throw std::runtime_error(r.error());
  return std::move(*r);
}
void must(tl::expected<void, std::string> r) {
  if (!r) throw std::runtime_error(r.error());
}

// A guest whose 64 KiB at data_va (primary and home space) map page by page to absolute
// data_abs.
struct BenchGuest {
  std::unique_ptr<EmulatedBackend> backend;

  BenchGuest() {
    Storage storage;
    must(storage.add_anonymous(0, storage_size));
    GuestBuilder b(storage, pool_start, pool_end);
    const Asce asce = must(b.new_space(TableType::region_third));
    must(b.map_range(asce, data_va, data_abs, op_bytes));
    for (std::uint64_t i = 0; i < op_bytes / page_size; ++i)
      must(b.map_range(asce, scattered_va + i * page_size, data_abs + (op_bytes / page_size - 1 - i) * page_size, page_size));
    std::uint8_t* p = storage.pointer(data_abs, op_bytes);
    for (std::uint32_t i = 0; i < op_bytes; ++i) p[i] = static_cast<std::uint8_t>(i * 7 + 3);
    CpuState cpu;
    cpu.psw = Psw{Psw::dat_bit | Psw::ea_bit | Psw::ba_bit, 0x10000};  // primary, 64-bit
    cpu.crs[1] = cpu.crs[7] = cpu.crs[13] = asce.raw;
    cpu.prefix = 0x2000;
    cpu.present.psw = cpu.present.crs = cpu.present.prefix = true;
    CpuState real = cpu;  // cpu 1: DAT off, for the cost of a MEMOP without table walks
    real.psw.mask = Psw::ea_bit | Psw::ba_bit;
    backend = std::make_unique<EmulatedBackend>(std::move(storage), std::vector<CpuState>{cpu, real});
  }
  const std::uint8_t* source() { return backend->storage().pointer(data_abs, op_bytes); }
  MemopResult memop_read(std::span<std::uint8_t> out, bool dat = true, bool scattered = false) {
    Memop op;
    op.kind = MemopKind::logical_read;
    op.gaddr = !dat ? data_abs : scattered ? scattered_va : data_va;
    op.size = op_bytes;
    op.buf = out;
    return backend->vcpu_memop(dat ? 0 : 1, op);
  }
};

BenchGuest& guest() {
  static BenchGuest g;
  return g;
}

void check_equal(BenchGuest& g, const std::vector<std::uint8_t>& out, benchmark::State& state,
                 bool scattered = false) {
  constexpr std::uint64_t pages = op_bytes / page_size;
  for (std::uint64_t i = 0; i < pages; ++i) {
    const std::uint64_t source_page = scattered ? pages - 1 - i : i;
    if (std::memcmp(out.data() + i * page_size, g.source() + source_page * page_size, page_size) != 0) {
      state.SkipWithError("the read returned wrong bytes");
      return;
    }
  }
}

void Memop_memcpy_64k(benchmark::State& state) {
  BenchGuest& g = guest();
  std::vector<std::uint8_t> out(op_bytes);
  for (auto _ : state) {
    std::memcpy(out.data(), g.source(), op_bytes);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  check_equal(g, out, state);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * op_bytes);
}
BENCHMARK(Memop_memcpy_64k);

void Memop_logical_read_64k(benchmark::State& state, bool dat, bool scattered) {
  BenchGuest& g = guest();
  std::vector<std::uint8_t> out(op_bytes);
  for (auto _ : state) {
    const MemopResult r = g.memop_read(out, dat, scattered);
    if (!r.ok()) {
      state.SkipWithError("vcpu_memop failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  check_equal(g, out, state, scattered);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * op_bytes);
}
BENCHMARK_CAPTURE(Memop_logical_read_64k, dat_region_third, true, false);
// Pages in reverse frame order: one copy per page instead of one for the whole op.
BENCHMARK_CAPTURE(Memop_logical_read_64k, dat_scattered, true, true);
// The same op with DAT off (real = absolute here): what the per-page walks cost.
BENCHMARK_CAPTURE(Memop_logical_read_64k, dat_off, false, false);

void Memop_access_read_64k(benchmark::State& state, AddressSpace::Kind kind) {
  BenchGuest& g = guest();
  MemoryAccess access(*g.backend);
  std::vector<std::uint8_t> out(op_bytes);
  for (auto _ : state) {
    const ReadOutcome r = access.read(0, AddressSpace::of(kind), data_va, out);
    if (!r.status.ok()) {
      state.SkipWithError("MemoryAccess::read failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  check_equal(g, out, state);
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * op_bytes);
}
BENCHMARK_CAPTURE(Memop_access_read_64k, home_walked, AddressSpace::Kind::home);
BENCHMARK_CAPTURE(Memop_access_read_64k, cpu, AddressSpace::Kind::cpu);

// Both copies in the same iterations, interleaved, each timed on its own.
void Memop_ratio_vs_memcpy(benchmark::State& state, bool scattered) {
  using clock = std::chrono::steady_clock;
  BenchGuest& g = guest();
  std::vector<std::uint8_t> a(op_bytes), b(op_bytes);
  clock::duration memcpy_time{}, memop_time{};
  for (auto _ : state) {
    const auto t0 = clock::now();
    std::memcpy(a.data(), g.source(), op_bytes);
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
    const auto t1 = clock::now();
    const MemopResult r = g.memop_read(b, true, scattered);
    benchmark::DoNotOptimize(b.data());
    benchmark::ClobberMemory();
    const auto t2 = clock::now();
    if (!r.ok()) {
      state.SkipWithError("vcpu_memop failed");
      break;
    }
    memcpy_time += t1 - t0;
    memop_time += t2 - t1;
  }
  check_equal(g, b, state, scattered);
  const double n = static_cast<double>(state.iterations());
  const double mb = n * op_bytes / 1e6;
  const double memcpy_s = std::chrono::duration<double>(memcpy_time).count();
  const double memop_s = std::chrono::duration<double>(memop_time).count();
  if (memcpy_s > 0 && memop_s > 0) {
    state.counters["memcpy_MBps"] = mb / memcpy_s;
    state.counters["memop_MBps"] = mb / memop_s;
    state.counters["ratio"] = memcpy_s / memop_s;  // memop MB/s over memcpy MB/s
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * op_bytes * 2);
}
BENCHMARK_CAPTURE(Memop_ratio_vs_memcpy, contiguous, false);
BENCHMARK_CAPTURE(Memop_ratio_vs_memcpy, scattered, true);

}  // namespace
