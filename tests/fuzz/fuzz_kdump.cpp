// libFuzzer target for the kdump-compressed reader (backends/dump/kdump.h) and the
// flattened-format index (backends/dump/byte_source.h): every input is opened as a plain
// kdump, or, with the "makedumpfile" signature, indexed as a flattened stream first; on
// success the documented invariants are checked and a bounded number of pages is located,
// read and decompressed, also through KdumpPages (the Storage page source).
//
// Regenerate the seed corpus (built by tests/backends/kdump_builder.h):
//   clang++ -std=c++20 -DS390B_FUZZ_GEN_CORPUS -DS390B_HAVE_{ZLIB,LZO,SNAPPY,ZSTD}=1 -I. tests/fuzz/fuzz_kdump.cpp
//     backends/dump/{kdump,byte_source,elf_core,s390_notes,page_codec}.cpp -lfmt -lz -llzo2 -lsnappy -lzstd \
//     -o /tmp/gen_kdump
//   /tmp/gen_kdump tests/fuzz/corpus/fuzz_kdump
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "backends/dump/byte_source.h"
#include "backends/dump/kdump.h"
#include "translate/address.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void fuzz_kdump(std::span<const std::uint8_t> file) {
  namespace d = s390b::dump;
  std::shared_ptr<d::ByteSource> source = d::memory_source(file);
  const bool flattened = d::is_flattened(file);
  if (flattened) {
    auto f = d::open_flattened(source);
    if (!f) {
      check(!f.error().empty());
      return;
    }
    // The whole reassembled file reads, holes as zeros (bounded: small inputs only).
    if ((*f)->size() <= (1u << 20)) {
      std::vector<std::uint8_t> all(static_cast<std::size_t>((*f)->size()));
      check((*f)->read(0, all));
    }
    source = *f;
  }
  auto reader = d::KdumpReader::open(source, flattened);
  if (!reader) {
    check(!reader.error().empty());
    return;
  }
  const auto& info = (*reader)->info();
  check(info.version >= 1 && info.version <= 6);
  check(info.block_size == s390b::page_size);
  check(info.max_mapnr >= 1 && info.max_mapnr <= d::kdump_max_mapnr);
  const auto memory = (*reader)->memory();
  check(memory.size() <= d::kdump_max_ranges);
  for (std::size_t i = 0; i < memory.size(); ++i) {
    check(memory[i].size > 0 && memory[i].start % s390b::page_size == 0 && memory[i].size % s390b::page_size == 0);
    if (i > 0) check(memory[i - 1].start + memory[i - 1].size <= memory[i].start);
  }
  std::vector<std::uint8_t> page(s390b::page_size);
  unsigned budget = 64;
  for (const auto& r : memory) {
    for (std::uint64_t a : {r.start, r.start + r.size - s390b::page_size}) {
      if (budget == 0) break;
      --budget;
      auto loc = (*reader)->locate(a / s390b::page_size);
      auto got = (*reader)->read_page(a / s390b::page_size, page);
      check(loc.has_value() || !got.has_value());
      if (!got) check(!got.error().message.empty());
    }
  }
  d::KdumpPages pages(std::move(*reader), false);
  for (const auto& r : memory) {
    if (budget == 0) break;
    --budget;
    (void)pages.absent(r.start);
    if (pages.fetch(r.start, page)) {
      const std::uint8_t patch[8] = {1, 2, 3, 4, 5, 6, 7, 8};
      check(pages.store(r.start + 8, patch));
      check(pages.fetch(r.start, page) && page[8] == 1 && page[15] == 8);
    }
  }
}

}  // namespace

#ifndef S390B_FUZZ_GEN_CORPUS

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_kdump(std::span<const std::uint8_t>(data, size));
  return 0;
}

#else  // seed-corpus generator

#include <cstdio>
#include <string>

#include "tests/backends/kdump_builder.h"

namespace {

bool write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  return std::fclose(f) == 0 && ok;
}

}  // namespace

int main(int argc, char** argv) {
  namespace t = s390b::test;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  int failures = 0;
  auto spec_with = [](int version, bool flattened) {
    t::KdumpSpec spec;
    spec.version = version;
    spec.flattened = flattened;
    spec.max_mapnr = 8;
    spec.pages[0] = {.data = t::kdump_page_bytes(0, true)};
    spec.pages[1] = {.excluded = true};
    spec.pages[2] = {.data = t::kdump_page_bytes(2, true)};
    spec.pages[5] = {.data = std::vector<std::uint8_t>(4096, 0x11)};
    spec.cpus.push_back({.state = t::sample_cpu_state(0), .notes = t::note_prstatus | t::note_prefix});
    spec.vmcoreinfo = "OSRELEASE=6.1.0\nPAGESIZE=4096\n";
    return spec;
  };
  auto emit = [&](const char* name, const t::KdumpSpec& spec) {
    const t::BuiltKdump built = t::build_kdump(spec);
    fuzz_kdump(built.bytes);
    if (!write_file(dir + "/" + name, built.bytes)) ++failures;
  };
  emit("v6_zlib.kdump", spec_with(6, false));
  emit("v6_zlib_flat.kdump", spec_with(6, true));
  {
    t::KdumpSpec spec = spec_with(1, false);
    spec.compress = false;  // raw pages
    emit("v1_raw.kdump", spec);
  }
  {
    t::KdumpSpec spec = spec_with(5, true);
    spec.written_pages = 1;
    emit("v5_incomplete_flat.kdump", spec);
  }
  for (const auto& [flag, name] : {std::pair{0x2u, "v6_lzo.kdump"}, {0x4u, "v6_snappy.kdump"}, {0x20u, "v6_zstd.kdump"}}) {
    t::KdumpSpec spec = spec_with(6, false);
    spec.compression = flag;
    emit(name, spec);
  }
  return failures ? 1 : 0;
}

#endif
