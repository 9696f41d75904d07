// Split kdump sets (makedumpfile --split): written by dump::write_kdump_split and read back
// through dump::load_core_set with the parts in any order (every byte, every register);
// one part alone, and a set with a part missing (its pages ENODATA, named); sets that do
// not belong together refused with the files named. The independent check of the reader:
// sets built by the test-side writer (kdump_builder.h) the way makedumpfile writes them,
// full bitmaps in every part. (libkdumpfile reads a bridge-written set of a real guest in
// tests/e2e/25-dump-convert.sh.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "backends/dump/kdump_writer.h"
#include "backends/dump/load_core.h"
#include "backends/dump/page_codec.h"
#include "backends/emulated/demo_guest.h"
#include "tests/backends/dump_compare.h"
#include "tests/backends/kdump_builder.h"
#include "tests/backends/temp_dir.h"
#include "translate/byteorder.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

constexpr std::uint64_t page = 4096;

bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::vector<std::string> strings(const std::vector<std::filesystem::path>& paths) {
  std::vector<std::string> out;
  for (const auto& p : paths) out.push_back(p.string());
  return out;
}

// The sub-header fields of a written part, at diskdump_mod.h's offsets (block 1).
struct SplitFields {
  std::uint32_t split;
  std::uint64_t start32, end32, start64, end64;
};
SplitFields split_fields(const std::vector<std::uint8_t>& plain) {
  const std::uint8_t* s = plain.data() + 4096;
  return {load_be32(s + 12), load_be64(s + 16), load_be64(s + 24), load_be64(s + 80), load_be64(s + 88)};
}

// Pages 0-19 of a 24-page machine: most dumped (some compressible), 4 and 13 excluded,
// 8-9 no memory; two CPUs, VMCOREINFO.
t::KdumpSpec split_spec() {
  t::KdumpSpec spec;
  spec.max_mapnr = 24;
  for (std::uint64_t pfn = 0; pfn < 20; ++pfn) {
    if (pfn == 8 || pfn == 9) continue;
    spec.pages[pfn] = {.data = t::kdump_page_bytes(unsigned(pfn) + 40, pfn % 3 == 0)};
  }
  spec.pages[4] = {.excluded = true};
  spec.pages[13] = {.excluded = true};
  spec.cpus.push_back({.state = t::sample_cpu_state(0)});
  spec.cpus.push_back({.state = t::sample_cpu_state(1)});
  spec.vmcoreinfo = "OSRELEASE=6.1.0-split\nPAGESIZE=4096\n";
  spec.compression = S390B_HAVE_ZSTD ? 0x20 : 0x1;
  return spec;
}

}  // namespace

TEST_SUITE("kdump split") {

TEST_CASE("kdump split: the demo guest as 2 and 3 parts, zlib and zstd, plain and flattened, read back in any order") {
  auto demo = demo::make_guest();
  constexpr std::uint64_t pages = demo::storage_size / page;
  for (const auto c : {dump::PageCompression::zlib, dump::PageCompression::zstd}) {
    if (!dump::supported(c)) continue;
    for (const bool flattened : {false, true}) {
      for (const std::size_t n : {std::size_t{2}, std::size_t{3}}) {
        CAPTURE(dump::compression_name(c));
        CAPTURE(flattened);
        CAPTURE(n);
        t::TempDir dir;
        std::vector<std::filesystem::path> paths;
        for (std::size_t k = 0; k < n; ++k) paths.push_back(dir.path / ("part" + std::to_string(k)));
        dump::KdumpWriteOptions o;
        o.compression = c;
        o.flattened = flattened;
        auto r = dump::write_kdump_split(*demo, strings(paths), o);
        REQUIRE_MESSAGE(r, r.error().message);
        REQUIRE(r->parts.size() == n);
        CHECK(t::entries(dir.path) == n);  // no temporary left
        // Contiguous, from 0 to max_mapnr, nearly equal counts of pages (all exist here).
        std::uint64_t dumped = 0, size = 0;
        for (std::size_t k = 0; k < n; ++k) {
          const auto& p = r->parts[k];
          CAPTURE(k);
          CHECK(p.path == paths[k].string());
          CHECK(p.start_pfn == (k == 0 ? 0 : r->parts[k - 1].end_pfn));
          CHECK(p.end_pfn - p.start_pfn >= pages / n);
          CHECK(p.end_pfn - p.start_pfn <= pages / n + 1);
          CHECK(p.file_size == std::filesystem::file_size(paths[k]));
          CHECK(p.pages_dumped == p.end_pfn - p.start_pfn);
          dumped += p.pages_dumped;
          size += p.file_size;
          // The sub-header as makedumpfile writes it: split, the 64-bit range and the old
          // fields (truncated to 32 bits: the same here).
          if (!flattened) {
            const SplitFields f = split_fields(t::file_bytes(paths[k]));
            CHECK(f.split == 1);
            CHECK(f.start64 == p.start_pfn);
            CHECK(f.end64 == p.end_pfn);
            CHECK(f.start32 == p.start_pfn);
            CHECK(f.end32 == p.end_pfn);
          }
        }
        CHECK(r->parts.back().end_pfn == pages);
        CHECK(dumped == r->pages_dumped);
        CHECK(size == r->file_size);

        // Given in reverse and rotated order: the same guest.
        std::vector<std::string> given = strings(paths);
        std::reverse(given.begin(), given.end());
        if (n == 3) std::rotate(given.begin(), given.begin() + 1, given.end());
        auto loaded = dump::load_core_set(given);
        REQUIRE_MESSAGE(loaded, loaded.error());
        CHECK(loaded->format == fmt::format("kdump-compressed v6, {}{}, split set of {} files",
                                            dump::compression_name(c), flattened ? ", flattened" : "", n));
        CHECK(loaded->files == strings(paths));  // in PFN order
        t::check_same_cpus(*demo, *loaded->backend);
        t::check_same_storage(*demo, *loaded->backend);
      }
    }
  }
}

TEST_CASE("kdump split: one part alone, and a set with a part missing") {
  auto demo = demo::make_guest();
  const auto c = dump::supported(dump::PageCompression::zstd) ? dump::PageCompression::zstd : dump::PageCompression::zlib;
  if (!dump::supported(c)) return;
  t::TempDir dir;
  const std::vector<std::filesystem::path> paths{dir.path / "a", dir.path / "b", dir.path / "c"};
  dump::KdumpWriteOptions o;
  o.compression = c;
  auto r = dump::write_kdump_split(*demo, strings(paths), o);
  REQUIRE_MESSAGE(r, r.error().message);
  const auto& mid = r->parts[1];
  std::vector<std::uint8_t> a(page), b(page);

  SUBCASE("the middle part alone: its pages, and the others' ENODATA naming its range") {
    auto loaded = dump::load_core(paths[1].string());
    REQUIRE_MESSAGE(loaded, loaded.error());
    CHECK(contains(loaded->format, fmt::format("split part (pfn {:#x}-{:#x})", mid.start_pfn, mid.end_pfn)));
    CHECK(loaded->files.empty());
    for (std::uint64_t pfn = 0; pfn < demo::storage_size / page; pfn += 7) {
      CAPTURE(pfn);
      const MemopResult got = t::absolute_read(*loaded->backend, pfn * page, b);
      if (pfn >= mid.start_pfn && pfn < mid.end_pfn) {
        REQUIRE(t::absolute_read(*demo, pfn * page, a).ok());
        REQUIRE_MESSAGE(got.ok(), got.detail);
        CHECK(a == b);
      } else {
        REQUIRE_FALSE(got.ok());
        CHECK(got.error == HostError::enodata);
        CHECK_MESSAGE(contains(got.detail, fmt::format("in another file of a split dump (part covers pfns [{:#x}, {:#x}))",
                                                       mid.start_pfn, mid.end_pfn)),
                      got.detail);
      }
    }
  }
  SUBCASE("the first and last parts: the middle's pages ENODATA, the part not given named") {
    auto loaded = dump::load_core_set({paths[2].string(), paths[0].string()});
    REQUIRE_MESSAGE(loaded, loaded.error());
    CHECK(contains(loaded->format, "split set of 2 files"));
    for (std::uint64_t pfn = 0; pfn < demo::storage_size / page; pfn += 5) {
      CAPTURE(pfn);
      const MemopResult got = t::absolute_read(*loaded->backend, pfn * page, b);
      if (pfn >= mid.start_pfn && pfn < mid.end_pfn) {
        REQUIRE_FALSE(got.ok());
        CHECK(got.error == HostError::enodata);
        CHECK_MESSAGE(contains(got.detail, fmt::format("part of the split set covering pfn {:#x} was not given", pfn)),
                      got.detail);
      } else {
        REQUIRE(t::absolute_read(*demo, pfn * page, a).ok());
        REQUIRE_MESSAGE(got.ok(), got.detail);
        CHECK(a == b);
      }
    }
    dump::LoadOptions zero;
    zero.zero_excluded = true;
    auto z = dump::load_core_set({paths[0].string(), paths[2].string()}, std::nullopt, zero);
    REQUIRE_MESSAGE(z, z.error());
    REQUIRE(t::absolute_read(*z->backend, mid.start_pfn * page, b).ok());
    CHECK(std::all_of(b.begin(), b.end(), [](std::uint8_t x) { return x == 0; }));
  }
}

TEST_CASE("kdump split: files that are not one split set are refused, the files named") {
  t::TempDir dir;
  t::KdumpSpec spec = split_spec();
  const auto parts = t::build_kdump_split(spec, {0, 8, 16});
  std::vector<std::string> p;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    p.push_back((dir.path / ("p" + std::to_string(k))).string());
    t::write_file(p.back(), parts[k].bytes);
  }
  auto fails = [](const std::vector<std::string>& files) {
    auto r = dump::load_core_set(files);
    REQUIRE_FALSE(r);
    return r.error();
  };
  SUBCASE("the same part twice: overlapping ranges") {
    const std::string e = fails({p[1], p[0], p[1]});
    CHECK_MESSAGE(contains(e, fmt::format("{} covers pfns [0x8, 0x10) and {} [0x8, 0x10): the ranges overlap", p[1], p[1])), e);
  }
  SUBCASE("overlapping ranges of two sets") {
    const auto other = t::build_kdump_split(spec, {0, 12});
    const std::string q = (dir.path / "q1").string();
    t::write_file(q, other[1].bytes);  // [12, 24)
    const std::string e = fails({p[0], p[1], q});
    CHECK_MESSAGE(contains(e, fmt::format("{} covers pfns [0x8, 0x10) and {} [0xc, 0x18): the ranges overlap", p[1], q)), e);
  }
  SUBCASE("a different max_mapnr") {
    t::KdumpSpec bigger = spec;
    bigger.max_mapnr = 32;
    const std::string q = (dir.path / "q").string();
    t::write_file(q, t::build_kdump_split(bigger, {0, 16, 24})[2].bytes);
    const std::string e = fails({p[0], q});
    CHECK_MESSAGE(contains(e, fmt::format("{}: max_mapnr 0x20 differs from {}'s 0x18 (not parts of one split set)", q, p[0])), e);
  }
  SUBCASE("a different header version") {
    t::KdumpSpec v5 = spec;
    v5.version = 5;
    const std::string q = (dir.path / "q").string();
    t::write_file(q, t::build_kdump_split(v5, {0, 8, 16})[1].bytes);
    const std::string e = fails({p[0], q});
    CHECK_MESSAGE(contains(e, fmt::format("{}: header_version 5 differs from {}'s 6", q, p[0])), e);
  }
  SUBCASE("a different timestamp") {
    std::vector<std::uint8_t> bytes = parts[1].bytes;
    store_be64(bytes.data() + 408, 1700000000);
    const std::string q = (dir.path / "q").string();
    t::write_file(q, bytes);
    const std::string e = fails({p[0], q});
    CHECK_MESSAGE(contains(e, fmt::format("{}: timestamp 1700000000.000000 differs from {}'s 0.000000", q, p[0])), e);
  }
  SUBCASE("a different note blob") {
    t::KdumpSpec one_cpu = spec;
    one_cpu.cpus.pop_back();
    const std::string q = (dir.path / "q").string();
    t::write_file(q, t::build_kdump_split(one_cpu, {0, 8, 16})[1].bytes);
    const std::string e = fails({p[0], q});
    CHECK_MESSAGE(contains(e, fmt::format("{}: size_note", q)), e);
  }
  SUBCASE("a whole (not split) kdump file mixed in") {
    const std::string q = (dir.path / "whole").string();
    t::write_file(q, t::build_kdump(spec).bytes);
    const std::string e = fails({p[0], q});
    CHECK_MESSAGE(contains(e, fmt::format("{}: not a part of a split dump", q)), e);
  }
  SUBCASE("an ELF core mixed in") {
    t::CoreSpec core;
    core.cpus = spec.cpus;
    core.segments.push_back({.guest_addr = 0, .data = std::vector<std::uint8_t>(page)});
    const std::string q = (dir.path / "elf").string();
    t::write_file(q, t::build_core(core).bytes);
    const std::string e = fails({q, p[0]});
    CHECK_MESSAGE(contains(e, fmt::format("{}: not a kdump-compressed file", q)), e);
  }
  SUBCASE("a missing file") {
    const std::string e = fails({p[0], (dir.path / "nope").string()});
    CHECK_MESSAGE(contains(e, "nope"), e);
  }
}

TEST_CASE("kdump split: sets built as makedumpfile writes them (full bitmaps in every part) read as the guest") {
  // The independent check of the reader: the builder writes each part from the format
  // description, not with the bridge's writer.
  for (const int version : {6, 5}) {  // notes (CPUs) need version 4; 5 has the 32-bit range only
    for (const bool flattened : {false, true}) {
      for (const std::vector<std::uint64_t>& starts :
           {std::vector<std::uint64_t>{0, 6}, std::vector<std::uint64_t>{0, 5, 14}, std::vector<std::uint64_t>{0, 3, 10, 17}}) {
        CAPTURE(version);
        CAPTURE(flattened);
        CAPTURE(starts.size());
        t::KdumpSpec spec = split_spec();
        spec.version = version;
        spec.flattened = flattened;
        const auto parts = t::build_kdump_split(spec, starts);
        t::TempDir dir;
        std::vector<std::string> paths;
        for (std::size_t k = 0; k < parts.size(); ++k) {
          paths.push_back((dir.path / ("part" + std::to_string(k))).string());
          t::write_file(paths.back(), parts[k].bytes);
        }
        std::vector<std::string> given = paths;
        std::reverse(given.begin(), given.end());
        auto loaded = dump::load_core_set(given);
        REQUIRE_MESSAGE(loaded, loaded.error());
        CHECK(loaded->files == paths);
        REQUIRE(loaded->backend->cpu_count() == 2);
        CHECK(loaded->backend->cpu_state(1)->gprs == t::sample_cpu_state(1).gprs);
        std::vector<std::uint8_t> b(page);
        for (std::uint64_t pfn = 0; pfn < spec.max_mapnr; ++pfn) {
          CAPTURE(pfn);
          const MemopResult got = t::absolute_read(*loaded->backend, pfn * page, b);
          const auto it = spec.pages.find(pfn);
          if (it == spec.pages.end()) {
            CHECK_FALSE(got.ok());  // no memory
          } else if (it->second.excluded) {
            REQUIRE_FALSE(got.ok());
            CHECK(got.error == HostError::enodata);
            CHECK_MESSAGE(contains(got.detail, "excluded by makedumpfile"), got.detail);
          } else {
            REQUIRE_MESSAGE(got.ok(), got.detail);
            CHECK(b == it->second.data);
          }
        }
      }
    }
  }
}

TEST_CASE("kdump split: the builder's set with a part missing: excluded pages stay excluded, dumped ones name the gap") {
  t::KdumpSpec spec = split_spec();
  const auto parts = t::build_kdump_split(spec, {0, 5, 14});
  t::TempDir dir;
  std::vector<std::string> paths;
  for (std::size_t k = 0; k < parts.size(); ++k) {
    paths.push_back((dir.path / ("part" + std::to_string(k))).string());
    t::write_file(paths.back(), parts[k].bytes);
  }
  auto loaded = dump::load_core_set({paths[0], paths[2]});
  REQUIRE_MESSAGE(loaded, loaded.error());
  std::vector<std::uint8_t> b(page);
  const MemopResult excluded = t::absolute_read(*loaded->backend, 13 * page, b);  // in the gap, bitmap 2 clear
  REQUIRE_FALSE(excluded.ok());
  CHECK_MESSAGE(contains(excluded.detail, "excluded by makedumpfile"), excluded.detail);
  const MemopResult missing = t::absolute_read(*loaded->backend, 6 * page, b);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error == HostError::enodata);
  CHECK_MESSAGE(contains(missing.detail, "the part of the split set covering pfn 0x6 was not given"), missing.detail);
  REQUIRE(t::absolute_read(*loaded->backend, 15 * page, b).ok());
  CHECK(b == spec.pages[15].data);
}

TEST_CASE("kdump split: an interrupted or refused split dump leaves none of the files") {
  auto demo = demo::make_guest();
  t::TempDir dir;
  const std::vector<std::string> paths{(dir.path / "a").string(), (dir.path / "b").string()};
  dump::KdumpWriteOptions o;
  o.compression = dump::PageCompression::zlib;
  if (!dump::supported(o.compression)) return;
  unsigned calls = 0;
  o.progress = [&](const dump::DumpProgress&) { return ++calls < 3; };
  auto r = dump::write_kdump_split(*demo, paths, o);
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == dump::DumpErrorKind::interrupted);
  CHECK(t::entries(dir.path) == 0);
  auto one = dump::write_kdump_split(*demo, {paths[0]}, {});
  REQUIRE_FALSE(one);
  CHECK(t::entries(dir.path) == 0);
  // A part that cannot be created: nothing is left of the others either.
  auto bad = dump::write_kdump_split(*demo, {paths[0], (dir.path / "no" / "such").string()}, {});
  REQUIRE_FALSE(bad);
  CHECK(t::entries(dir.path) == 0);
}

}  // TEST_SUITE
