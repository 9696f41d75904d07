// Opening dumps: dump::load_core on ELF cores with many PT_LOADs and with one huge sparse
// segment. Targets: 100 000 segments load in under a second, and the cost per segment
// stays flat as the count grows (the ratio to the 1 000-segment run of the same binary,
// measured in the same run, stays near 1: linear, not quadratic); a segment whose p_memsz
// is 2^46 bytes opens in under 100 ms and 64 MiB.
//
//   s390bridge_bench --benchmark_filter=Load
//
// The cores are written once per size to a temporary file (outside the timing): segments
// of 16 file bytes, one per 4 KiB of guest storage (so none merge), one CPU.
#include <benchmark/benchmark.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <stdexcept>
#include <string>

#include "backends/dump/load_core.h"
#include "tests/backends/core_builder.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

// A core file that lives as long as the benchmark binary.
class CoreFile {
 public:
  explicit CoreFile(const t::CoreSpec& spec) {
    path_ = std::filesystem::temp_directory_path() / ("s390b-bench-" + std::to_string(::getpid()) + "-" +
                                                       std::to_string(counter_++) + ".core");
    const auto core = t::build_core(spec);
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(core.bytes.data()), static_cast<std::streamsize>(core.bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + path_.string());
    size_ = core.bytes.size();
  }
  ~CoreFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::size_t size() const { return size_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
  std::size_t size_ = 0;
};

t::CoreSpec one_cpu() {
  t::CoreSpec spec;
  CpuState cpu = t::sample_cpu_state(0);
  cpu.prefix = 0;
  spec.cpus.push_back({.state = cpu});
  return spec;
}

const CoreFile& many_segments(std::size_t n) {
  static std::map<std::size_t, std::unique_ptr<CoreFile>> files;
  auto& f = files[n];
  if (!f) {
    t::CoreSpec spec = one_cpu();
    for (std::size_t i = 0; i < n; ++i)
      spec.segments.push_back({.guest_addr = i * 0x1000, .data = std::vector<std::uint8_t>(16, static_cast<std::uint8_t>(i))});
    spec.pn_xnum = n + 1 >= 0xffff;  // e_phnum holds 65534 headers at most: PN_XNUM beyond
    f = std::make_unique<CoreFile>(spec);
  }
  return *f;
}

void Load_segments(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const CoreFile& file = many_segments(n);
  for (auto _ : state) {
    auto loaded = dump::load_core(file.path().string());
    if (!loaded || loaded->segment_count != n) {
      state.SkipWithError("load failed");
      return;
    }
    benchmark::DoNotOptimize(loaded->backend.get());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * n));
  state.counters["file_MB"] = static_cast<double>(file.size()) / 1e6;
  state.counters["segments_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * n), benchmark::Counter::kIsRate);
}

// The baseline in the same run: the median of five loads of 1 000 and of 100 000 segments,
// and their cost per segment compared.
void Load_linearity(benchmark::State& state) {
  auto time_load = [](std::size_t n) {
    const CoreFile& file = many_segments(n);
    std::vector<double> runs;
    for (int i = 0; i < 5; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      auto loaded = dump::load_core(file.path().string());
      const auto t1 = std::chrono::steady_clock::now();
      if (!loaded || loaded->segment_count != n) throw std::runtime_error("load failed");
      runs.push_back(std::chrono::duration<double>(t1 - t0).count());
    }
    std::sort(runs.begin(), runs.end());
    return runs[runs.size() / 2];
  };
  double small = 0, large = 0;
  for (auto _ : state) {
    small = time_load(1000);
    large = time_load(100000);
  }
  state.counters["load_1k_ms"] = small * 1e3;
  state.counters["load_100k_ms"] = large * 1e3;
  // 1.0 means perfectly linear; a quadratic loader would show ~100.
  state.counters["per_segment_ratio_100k_vs_1k"] = (large / 100000) / (small / 1000);
}

long max_rss_kib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

void Load_sparse_2_46(benchmark::State& state) {
  static const CoreFile file = [] {
    t::CoreSpec spec = one_cpu();
    spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(0x10000, 1), .mem_size = std::uint64_t{1} << 46});
    return CoreFile(spec);
  }();
  const long rss_before = max_rss_kib();
  for (auto _ : state) {
    auto loaded = dump::load_core(file.path().string());
    if (!loaded) {
      state.SkipWithError(loaded.error().c_str());
      return;
    }
    benchmark::DoNotOptimize(loaded->backend.get());
  }
  state.counters["peak_rss_growth_MiB"] = static_cast<double>(max_rss_kib() - rss_before) / 1024.0;
}

}  // namespace

BENCHMARK(Load_segments)->Arg(1000)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(Load_linearity)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(Load_sparse_2_46)->Unit(benchmark::kMillisecond);
