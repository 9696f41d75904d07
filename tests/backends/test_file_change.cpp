// Guest storage mapped from files that change, and dumps that claim more than they hold:
// a dump that shrinks or is rewritten under the server gives clear errors and no signal
// (backends/emulated/file_mapping.h); non-regular files are refused before they are
// opened; sparse p_memsz tails and storage keys cost nothing until written; loading is
// linear in the number of segments.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "backends/dump/load_core.h"
#include "backends/emulated/demo_guest.h"
#include "gdbstub/session.h"
#include "tests/backends/dump_compare.h"
#include "tests/backends/core_builder.h"
#include "tests/backends/temp_dir.h"
#include "tests/gdbstub/session_harness.h"

using namespace s390b;
namespace t = s390b::test;

namespace {

void write_file(const std::filesystem::path& p, std::span<const std::uint8_t> bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

using s390b::test::absolute_read;

bool is_stale(const MemopResult& r) { return r.status == MemopResult::Status::host_error && r.error == HostError::estale; }

// A core of `pages` pages of patterned data at absolute 0, one CPU whose prefix is 0.
t::BuiltCore small_core(std::size_t pages) {
  t::CoreSpec spec;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(pages * 4096, 7)});
  CpuState cpu = t::sample_cpu_state(0);
  cpu.prefix = 0;
  spec.cpus.push_back({.state = cpu});
  return t::build_core(spec);
}

std::uint64_t max_rss_kib() {
  struct rusage ru {};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<std::uint64_t>(ru.ru_maxrss);
}

}  // namespace

TEST_CASE("file change: a dump that shrinks under the backend gives ESTALE, not SIGBUS") {
  t::TempDir dir;
  const auto path = dir.path / "tr.core";
  const t::BuiltCore core = small_core(16);
  write_file(path, core.bytes);
  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  Backend& b = *loaded->backend;
  std::vector<std::uint8_t> buf(16);
  REQUIRE(absolute_read(b, 0x200, buf).ok());
  CHECK_FALSE(b.unavailable_reason());

  // QEMU re-dumping to the same path opens it with O_TRUNC: the mapped pages vanish.
  REQUIRE(::truncate(path.c_str(), 1000) == 0);
  const MemopResult r = absolute_read(b, 0x8000, buf);  // a page past the new end
  CHECK(is_stale(r));
  const auto why = b.unavailable_reason();
  REQUIRE(why);
  CHECK(why->find(path.string()) != std::string::npos);
  CHECK(why->find("changed under the server") != std::string::npos);
  // Every later access fails too, also those that would not fault; registers still answer.
  CHECK(is_stale(absolute_read(b, 0x200, buf)));
  CHECK(b.cpu_state(0).has_value());
}

TEST_CASE("file change: a session keeps serving, tells the client and logs once") {
  t::TempDir dir;
  const auto path = dir.path / "tr.core";
  write_file(path, small_core(16).bytes);
  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  std::vector<std::string> log;
  rsp::SessionOptions o;
  o.log = [&log](std::string_view line) { log.emplace_back(line); };
  rsp::test::Conversation c(*loaded->backend, o);
  c.negotiate(";error-message+");
  REQUIRE(c.request_with_output("qRcmd," + rsp::test::hex("view absolute")).reply == "OK");
  CHECK_FALSE(rsp::test::is_error(c.request("m200,10")));
  REQUIRE(::truncate(path.c_str(), 1000) == 0);
  for (const char* p : {"m8000,10", "m200,10", "x8000,10"}) {
    CAPTURE(p);
    const std::string r = c.request(p);
    CHECK(r.starts_with("E."));
    CHECK(r.find("changed under the server") != std::string::npos);
  }
  REQUIRE(log.size() == 1);
  CHECK(log[0].find(path.string()) != std::string::npos);
  CHECK_FALSE(rsp::test::is_error(c.request("g")));  // the session goes on
  CHECK(c.request("qC") == "QC1");
}

TEST_CASE("file change: a file rewritten in place at the same size is noticed") {
  t::TempDir dir;
  const auto path = dir.path / "ram.bin";
  const auto bytes = t::core_test_bytes(4 * 4096, 3);
  write_file(path, bytes);
  auto file = FileMapping::open(path.string(), std::chrono::milliseconds(0));  // fstat on every check
  REQUIRE(file);
  Storage s;
  REQUIRE(s.add_file(0, *file, 0, bytes.size()));
  CHECK_FALSE(s.files_changed());
  // Same size, other bytes, a later modification time (set explicitly: the clock's
  // granularity might otherwise give the same stamp).
  write_file(path, t::core_test_bytes(4 * 4096, 4));
  struct timespec times[2] = {{0, UTIME_OMIT}, {1, 0}};
  REQUIRE(utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
  CHECK(s.files_changed());
  const auto why = s.change_description();
  REQUIRE(why);
  CHECK(why->find("rewritten") != std::string::npos);

  EmulatedBackend b(std::move(s), {CpuState{}});
  std::vector<std::uint8_t> buf(8);
  CHECK(is_stale(absolute_read(b, 0, buf)));
}

TEST_CASE("file change: what is not a regular file is refused before it is opened") {
  t::TempDir dir;
  SUBCASE("a FIFO (an open for reading would block until a writer came)") {
    const auto fifo = dir.path / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto r = dump::load_core(fifo.string());
    REQUIRE_FALSE(r);
    CHECK(r.error().find("FIFO") != std::string::npos);
    CHECK(r.error().find(fifo.string()) != std::string::npos);
    auto k = dump::load_core((dir.path / "missing").string(), fifo.string());
    CHECK_FALSE(k);
  }
  SUBCASE("a character device") {
    auto r = dump::load_core("/dev/zero");
    REQUIRE_FALSE(r);
    CHECK(r.error().find("character device") != std::string::npos);
  }
  SUBCASE("a directory") {
    auto r = dump::load_core(dir.path.string());
    REQUIRE_FALSE(r);
    CHECK(r.error().find("directory") != std::string::npos);
  }
  SUBCASE("an empty file is a file with nothing in it") {
    const auto empty = dir.path / "empty";
    write_file(empty, {});
    auto r = dump::load_core(empty.string());
    REQUIRE_FALSE(r);
    CHECK(r.error().find(empty.string()) != std::string::npos);
  }
  SUBCASE("a FIFO as the storage-key file") {
    const auto core = dir.path / "ok.core";
    write_file(core, small_core(1).bytes);
    const auto fifo = dir.path / "keys";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto r = dump::load_core(core.string(), fifo.string());
    REQUIRE_FALSE(r);
    CHECK(r.error().find("FIFO") != std::string::npos);
  }
}

TEST_CASE("sparse dumps: a 2^46-byte p_memsz costs nothing until written") {
  t::TempDir dir;
  const auto path = dir.path / "sparse.core";
  t::CoreSpec spec;
  constexpr std::uint64_t huge = std::uint64_t{1} << 46;
  spec.segments.push_back({.guest_addr = 0, .data = t::core_test_bytes(0x10000, 9), .mem_size = huge});
  CpuState cpu = t::sample_cpu_state(0);
  cpu.prefix = 0;
  spec.cpus.push_back({.state = cpu});
  write_file(path, t::build_core(spec).bytes);

  const std::uint64_t rss_before = max_rss_kib();
  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  EmulatedBackend& b = *loaded->backend;
  CHECK(b.storage().key_leaves() == 0);
  CHECK(b.storage().overlay_pages() == 0);
  CHECK(max_rss_kib() - rss_before < 64 * 1024);  // the bound: 64 MiB
  REQUIRE(b.ranges().back().start + b.ranges().back().size == huge);

  // The tail reads as zeros anywhere, its keys as 0; a write allocates one page and one
  // key leaf, and reads back.
  std::vector<std::uint8_t> buf(16, 0xff);
  REQUIRE(absolute_read(b, huge - 16, buf).ok());
  CHECK(buf == std::vector<std::uint8_t>(16, 0));
  CHECK(b.get_key(huge / 2)->raw == 0);
  std::vector<std::uint8_t> data{1, 2, 3, 4};
  Memop w;
  w.kind = MemopKind::absolute_write;
  w.gaddr = huge / 2 + 4094;  // across two pages of the tail
  w.size = 4;
  w.buf = data;
  REQUIRE(b.vm_memop(w).ok());
  CHECK(b.storage().overlay_pages() == 2);
  std::vector<std::uint8_t> back(4);
  REQUIRE(absolute_read(b, huge / 2 + 4094, back).ok());
  CHECK(back == data);
  CHECK(b.get_key(huge / 2)->changed());  // the store set R and C
  CHECK(b.storage().key_leaves() == 1);
  // The file part is still the file's.
  REQUIRE(absolute_read(b, 0x100, back).ok());
  CHECK(std::equal(back.begin(), back.end(), spec.segments[0].data.begin() + 0x100));
}

TEST_CASE("many segments: 20 000 one-page PT_LOADs load, each where it belongs") {
  t::TempDir dir;
  const auto path = dir.path / "many.core";
  t::CoreSpec spec;
  constexpr unsigned n = 20000;
  // Every other page, so no two segments touch: 20 000 ranges, not one.
  for (unsigned i = 0; i < n; ++i) {
    std::vector<std::uint8_t> page(4096, static_cast<std::uint8_t>(i));
    page[0] = static_cast<std::uint8_t>(i >> 8);
    spec.segments.push_back({.guest_addr = std::uint64_t{i} * 0x2000, .data = std::move(page)});
  }
  CpuState cpu = t::sample_cpu_state(0);
  cpu.prefix = 0;
  spec.cpus.push_back({.state = cpu});
  write_file(path, t::build_core(spec).bytes);
  spec.segments.clear();

  auto loaded = dump::load_core(path.string());
  REQUIRE(loaded);
  EmulatedBackend& b = *loaded->backend;
  CHECK(loaded->segment_count == n);
  CHECK(b.ranges().size() == n);
  std::vector<std::uint8_t> two(2);
  for (unsigned i = 0; i < n; i += 997) {
    CAPTURE(i);
    REQUIRE(absolute_read(b, std::uint64_t{i} * 0x2000, two).ok());
    CHECK(two[0] == static_cast<std::uint8_t>(i >> 8));
    CHECK(two[1] == static_cast<std::uint8_t>(i));
    CHECK(absolute_read(b, std::uint64_t{i} * 0x2000 + 0x1000, two).fault.code == PgmCode::addressing);
  }
}

TEST_CASE("frame keys: sparse, per frame, atomic bits") {
  FrameKeys k;
  CHECK(k.get(0) == 0);
  CHECK(k.get((std::uint64_t{1} << 52) - 1) == 0);
  CHECK(k.leaves() == 0);
  k.set(5, 0x30);
  k.set_bits(5, 0x06);
  k.set((std::uint64_t{1} << 52) - 1, 0x90);
  CHECK(k.get(5) == 0x36);
  CHECK(k.get(4) == 0);
  CHECK(k.get(6) == 0);
  CHECK(k.get((std::uint64_t{1} << 52) - 1) == 0x90);
  CHECK(k.leaves() == 2);
  k.set(4095, 1);  // same leaf as frame 5
  CHECK(k.leaves() == 2);
  k.set(4096, 1);  // the next leaf
  CHECK(k.leaves() == 3);
}
