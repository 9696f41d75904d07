// libFuzzer target for the s390 stand-alone dump reader (backends/dump/s390_dump.h): every
// input is scanned as a classic or s390_ext dump; on success the layout's documented
// invariants are checked (pieces ascending, page-aligned, covering [0, mem_size) exactly),
// a bounded number of pages is fetched through S390Pages (compressed chunks, missing
// pages) and the CPUs of lc_vec are read from their save areas (save_area.h).
//
// Fuzz by hand (60 s):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -DS390B_HAVE_ZLIB=1 -I. \
//     tests/fuzz/fuzz_s390_dump.cpp backends/dump/{s390_dump,save_area,byte_source}.cpp \
//     backends/emulated/*.cpp backends/*.cpp translate/*.cpp -lfmt -lz -o /tmp/fuzz_s390_dump
//   /tmp/fuzz_s390_dump -max_total_time=60 -max_len=65536 /tmp/corpus tests/fuzz/corpus/fuzz_s390_dump
// (or build the target `fuzz_s390_dump` in the fuzz build of scripts/test).
//
// Seeds (tests/fuzz/corpus/fuzz_s390_dump): classic.s390, a 16 KiB classic dump with one
// CPU at prefix 0x2000 and its save area; ext_gap.s390, an s390_ext dump of two segments
// with a gap between them; both written by tests/e2e/lib/s390dump.py's `seed` command.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "backends/dump/byte_source.h"
#include "backends/dump/s390_dump.h"
#include "backends/dump/save_area.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void fuzz_s390(std::span<const std::uint8_t> file) {
  namespace d = s390b::dump;
  using Kind = d::S390MemoryPiece::Kind;
  std::shared_ptr<d::ByteSource> source = d::memory_source(file);
  auto layout = d::scan_s390_dump(*source);
  if (!layout) {
    check(!layout.error().empty());
    return;
  }
  const auto& h = layout->header;
  check(h.mem_size > 0 && h.mem_size % d::s390_page_size == 0);
  check(h.lc_vec.size() <= d::s390_layout::cpu_max);
  check(layout->complete == layout->incomplete_reason.empty());
  std::uint64_t next = 0;
  for (const auto& p : layout->memory) {
    check(p.size > 0 && p.start == next && p.start % d::s390_page_size == 0 && p.size % d::s390_page_size == 0);
    if (p.kind == Kind::file) check(p.file_offset <= file.size() && p.size <= file.size() - p.file_offset);
    if (p.kind == Kind::compressed) check(p.segment < layout->compressed.size());
    next = p.start + p.size;
  }
  check(next == h.mem_size);

  d::S390Pages pages(source, *layout);
  std::vector<std::uint8_t> page(d::s390_page_size);
  unsigned budget = 32;
  for (const auto& p : layout->memory) {
    if (p.kind != Kind::compressed && p.kind != Kind::missing) continue;
    for (std::uint64_t a : {p.start, p.start + p.size - d::s390_page_size}) {
      if (budget == 0) break;
      --budget;
      const auto absent = pages.absent(a);
      const bool got = pages.fetch(a, page);
      check(!(absent && got));
      if (!got) check(!pages.last_error().message.empty());
      if (got) {
        const std::uint8_t patch[4] = {9, 8, 7, 6};
        check(pages.store(a + 16, patch));
        check(pages.fetch(a, page) && page[16] == 9 && page[19] == 6);
      }
    }
  }

  // Registers from the file pieces only (the rest reads as unavailable).
  const d::AbsoluteReadFn read = [&](std::uint64_t address, std::span<std::uint8_t> out) {
    for (const auto& p : layout->memory) {
      if (p.kind != Kind::file || address < p.start || address - p.start >= p.size) continue;
      if (out.size() > p.size - (address - p.start)) return false;
      return source->read(p.file_offset + (address - p.start), out);
    }
    return false;
  };
  for (std::uint32_t prefix : h.lc_vec) {
    const s390b::CpuState cpu = d::cpu_from_save_area(read, prefix);
    check(cpu.present.prefix && cpu.prefix == prefix);
    check(!cpu.present.vrs || cpu.present.fprs);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_s390(std::span<const std::uint8_t>(data, size));
  return 0;
}
