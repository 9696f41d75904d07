// libFuzzer target for the post-mortem input parsers: the s390x ELF core parser
// (backends/dump/elf_core.h) and the dump-skeys text parser (backends/dump/skeys.h). Every
// input goes through both; on success the results' documented invariants are checked and
// memory is read through read_absolute.
//
// Fuzz by hand (60 s):
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I. \
//     tests/fuzz/fuzz_elf_core.cpp backends/dump/{elf_core,s390_notes,skeys}.cpp -lfmt \
//     -o /tmp/fuzz_elf_core
//   /tmp/fuzz_elf_core -max_total_time=60 -max_len=16384 /tmp/corpus tests/fuzz/corpus/fuzz_elf_core
//
// Regenerate the seed corpus (built by tests/backends/core_builder.h):
//   clang++ -std=c++20 -DS390B_FUZZ_GEN_CORPUS -I. tests/fuzz/fuzz_elf_core.cpp \
//     backends/dump/{elf_core,s390_notes,skeys}.cpp -lfmt -o /tmp/gen_corpus
//   /tmp/gen_corpus tests/fuzz/corpus/fuzz_elf_core
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "backends/dump/elf_core.h"
#include "backends/dump/skeys.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

void fuzz_core(std::span<const std::uint8_t> file) {
  auto image = s390b::dump::parse_elf_core(file);
  if (!image) {
    check(!image.error().message.empty());
    return;
  }
  check(image->cpus.size() == image->cpu_notes.size());
  check(image->phdr_count > 0);
  const auto& segs = image->segments;
  std::array<std::uint8_t, 64> buf{};
  for (std::size_t i = 0; i < segs.size(); ++i) {
    check(segs[i].mem_size > 0 && segs[i].file_size <= segs[i].mem_size);
    check(segs[i].file_size == 0 || segs[i].file_offset + segs[i].file_size <= file.size());
    if (i > 0) check(segs[i - 1].guest_end() <= segs[i].guest_addr);
    check(image->find_segment(segs[i].guest_addr) == &segs[i]);
    check(image->find_segment(segs[i].guest_end() - 1) == &segs[i]);
    check(s390b::dump::read_absolute(file, *image, segs[i].guest_addr, buf) > 0);
    (void)s390b::dump::read_absolute(file, *image, segs[i].guest_end() - 8, buf);
  }
  for (const auto& note : image->notes) {
    check(note.desc_offset <= file.size() && note.desc_size <= file.size() - note.desc_offset);
    if (note.cpu) check(*note.cpu < image->cpus.size());
  }
}

void fuzz_skeys(std::string_view text) {
  auto table = s390b::dump::parse_skeys(text);
  if (!table) {
    check(table.error().line > 0 && !table.error().message.empty());
    return;
  }
  std::uint64_t frames = 0;
  for (const auto& run : table->runs()) {
    check(!run.keys.empty());
    check(table->find(run.first_frame) == run.keys.front());
    frames += run.keys.size();
  }
  check(frames == table->frame_count());
}

}  // namespace

#ifndef S390B_FUZZ_GEN_CORPUS

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  fuzz_core(bytes);
  fuzz_skeys(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

#else  // seed-corpus generator

#include <cstdio>
#include <string>

#include "tests/backends/core_builder.h"

namespace {

bool write_file(const std::string& path, const void* data, std::size_t size) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return false;
  const bool ok = std::fwrite(data, 1, size, f) == size;
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
  auto emit = [&](const char* name, const t::CoreSpec& spec) {
    const t::BuiltCore core = t::build_core(spec);
    check(s390b::dump::parse_elf_core(core.span()).has_value());
    fuzz_core(core.span());
    if (!write_file(dir + "/" + name, core.bytes.data(), core.bytes.size())) ++failures;
  };

  {  // QEMU dump-guest-memory: one CPU, one block at 0.
    t::CoreSpec spec;
    spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(512, 1)});
    spec.cpus.push_back({.state = t::sample_cpu_state(1)});
    emit("qemu_1cpu.core", spec);
  }
  {  // Kernel /proc/vmcore flavour: PRPSINFO, every name CORE, VMCOREINFO, zero tail.
    t::CoreSpec spec;
    spec.naming = t::NoteNaming::all_core;
    spec.prpsinfo = true;
    spec.vmcoreinfo = "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(lowcore_ptr)=1d0a8b0\n";
    spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(256, 2), .mem_size = 0x1000});
    spec.segments.push_back({.guest_addr = 0x2000, .data = t::core_test_bytes(256, 3), .vaddr = 0x3ffe0002000});
    spec.cpus.push_back({.state = t::sample_cpu_state(2), .notes = t::all_cpu_notes, .pv_cpu_data_size = 16});
    spec.cpus.push_back({.state = t::sample_cpu_state(3), .notes = t::all_cpu_notes, .pv_cpu_data_size = 16});
    emit("vmcore_2cpu.core", spec);
  }
  {  // Split note segments, an aliased kernel-image segment, an excluded block.
    t::CoreSpec spec;
    spec.note_segments = 3;
    spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(384, 4)});
    spec.segments.push_back({.guest_addr = 0x80, .data = std::vector<std::uint8_t>(spec.segments[0].data.begin() + 0x80,
                                                                                  spec.segments[0].data.begin() + 0x100)});
    spec.segments.push_back({.guest_addr = 0x10000, .mem_size = 0x1000, .excluded = true});
    spec.cpus.push_back({.state = t::sample_cpu_state(4)});
    emit("split_notes.core", spec);
  }
  {  // PN_XNUM, a CPU with only some notes.
    t::CoreSpec spec;
    spec.pn_xnum = true;
    spec.segments.push_back({.guest_addr = 0x1000, .data = t::core_test_bytes(128, 5)});
    spec.cpus.push_back({.state = t::sample_cpu_state(5),
                         .notes = t::note_prstatus | t::note_ctrs | t::note_prefix});
    emit("pn_xnum.core", spec);
  }
  {
    const std::string_view skeys =
        "page=000: key(0) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n"
        "page=001: key(6) => ACC=0, FP=0, REF=4, ch=2, reserved=0\n"
        "page=002: key(158) => ACC=9, FP=8, REF=4, ch=2, reserved=0\n"
        "page=100: key(16) => ACC=1, FP=0, REF=0, ch=0, reserved=0\n";
    check(s390b::dump::parse_skeys(skeys).has_value());
    fuzz_skeys(skeys);
    if (!write_file(dir + "/dump.skeys", skeys.data(), skeys.size())) ++failures;
  }
  return failures ? 1 : 0;
}

#endif
