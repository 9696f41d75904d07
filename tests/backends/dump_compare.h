// Comparing a guest with what a dump of it reads back as (the dump writers' tests):
// every register group its source has, the merged storage ranges and every byte.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include <doctest/doctest.h>

#include "backends/backend.h"
#include "backends/dump/elf_writer.h"

namespace s390b::test {

// One absolute read of `out.size()` bytes (at most the backend's op limit).
inline MemopResult absolute_read(Backend& b, std::uint64_t addr, std::span<std::uint8_t> out) {
  Memop op;
  op.kind = MemopKind::absolute_read;
  op.gaddr = addr;
  op.size = static_cast<std::uint32_t>(out.size());
  op.buf = out;
  return b.vm_memop(op);
}

inline std::vector<std::uint8_t> read_abs(Backend& b, std::uint64_t addr, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t done = 0; done < n;) {
    const std::size_t k = std::min<std::size_t>(b.op_limit(), n - done);
    Memop op;
    op.kind = MemopKind::absolute_read;
    op.gaddr = addr + done;
    op.size = static_cast<std::uint32_t>(k);
    op.buf = std::span(out).subspan(done, k);
    REQUIRE(b.vm_memop(op).ok());
    done += k;
  }
  return out;
}

// Every register group the source has, and the same `present` flags.
inline void check_same_cpus(const Backend& a, const Backend& b) {
  REQUIRE(a.cpu_count() == b.cpu_count());
  for (unsigned cpu = 0; cpu < a.cpu_count(); ++cpu) {
    CAPTURE(cpu);
    const CpuState x = *a.cpu_state(cpu);
    const CpuState y = *b.cpu_state(cpu);
    const auto& p = x.present;
    CHECK(y.present.psw == p.psw);
    CHECK(y.present.gprs == p.gprs);
    CHECK(y.present.acrs == p.acrs);
    CHECK(y.present.crs == p.crs);
    CHECK(y.present.fprs == p.fprs);
    CHECK(y.present.vrs == p.vrs);
    CHECK(y.present.prefix == p.prefix);
    CHECK(y.present.cputm == p.cputm);
    CHECK(y.present.ckc == p.ckc);
    CHECK(y.present.todpr == p.todpr);
    CHECK(y.present.last_break == p.last_break);
    CHECK(y.present.gs == p.gs);
    CHECK(y.psw.mask == x.psw.mask);
    CHECK(y.psw.addr == x.psw.addr);
    CHECK(y.gprs == x.gprs);
    CHECK(y.acrs == x.acrs);
    if (p.crs) CHECK(y.crs == x.crs);
    if (p.fprs) {
      CHECK(y.fpc == x.fpc);
      for (unsigned i = 0; i < 16; ++i) CHECK(y.fpr(i) == x.fpr(i));
    }
    if (p.vrs) CHECK(y.vrs == x.vrs);
    if (p.prefix) CHECK(y.prefix == x.prefix);
    if (p.cputm) CHECK(y.cputm == x.cputm);
    if (p.ckc) CHECK(y.ckc == x.ckc);
    if (p.todpr) CHECK(y.todpr == x.todpr);
    if (p.last_break) CHECK(y.last_break == x.last_break);
    if (p.gs) CHECK(y.gs == x.gs);
  }
}

// The same storage ranges (merged) and every byte equal.
inline void check_same_storage(Backend& a, Backend& b) {
  const auto ra = dump::dump_segments(*a.memory_map());
  const auto rb = dump::dump_segments(*b.memory_map());
  REQUIRE(ra.size() == rb.size());
  for (std::size_t i = 0; i < ra.size(); ++i) {
    CHECK(ra[i].start == rb[i].start);
    REQUIRE(ra[i].size == rb[i].size);
    constexpr std::size_t piece = 4 << 20;
    for (std::uint64_t off = 0; off < ra[i].size; off += piece) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(piece, ra[i].size - off));
      const bool same = read_abs(a, ra[i].start + off, n) == read_abs(b, ra[i].start + off, n);
      CAPTURE(ra[i].start + off);
      REQUIRE(same);
    }
  }
}

}  // namespace s390b::test
