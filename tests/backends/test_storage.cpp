// Absolute storage of the emulated backend (backends/emulated/storage.h): anonymous ranges
// with holes, reads and writes across ranges, overlap rejection, files mapped privately
// (writes land in the copy-on-write overlay, the file on disk never changes, unaligned
// file offsets), storage keys per absolute 4 KiB frame, compare_exchange.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "access/memory_access.h"
#include "backends/emulated/emulated_backend.h"
#include "backends/emulated/guest_builder.h"
#include "backends/emulated/lowcore.h"
#include "backends/emulated/storage.h"
#include "translate/byteorder.h"

#include "tests/backends/temp_dir.h"

using namespace s390b;

namespace {

using TempDir = s390b::test::TempDir;

std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<std::uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// FNV-1a over the file's bytes, plus what stat says: the "hash before/after" of a file
// that must never change.
struct FileFingerprint {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileFingerprint&) const = default;
};
FileFingerprint fingerprint(const std::filesystem::path& p) {
  FileFingerprint f;
  for (std::uint8_t b : read_file(p)) {
    f.hash ^= b;
    f.hash *= 0x100000001b3ull;
  }
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  f.size = static_cast<std::uint64_t>(st.st_size);
  f.mtime_ns = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return f;
}

std::vector<std::uint8_t> read_back(const Storage& s, std::uint64_t address, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  REQUIRE(s.read(address, out));
  return out;
}

std::vector<std::uint8_t> slice(const std::vector<std::uint8_t>& v, std::size_t off, std::size_t n) {
  return std::vector<std::uint8_t>(v.begin() + static_cast<std::ptrdiff_t>(off),
                                   v.begin() + static_cast<std::ptrdiff_t>(off + n));
}

}  // namespace

TEST_CASE("storage: anonymous ranges with holes") {
  Storage s;
  // Added out of order: ranges() comes back sorted.
  REQUIRE(s.add_anonymous(0x10000, 0x1000));
  REQUIRE(s.add_anonymous(0x0, 0x2000));
  REQUIRE(s.add_anonymous(0x3000, 0x2000));
  const auto ranges = s.ranges();
  REQUIRE(ranges.size() == 3);
  CHECK(ranges[0].start == 0x0);
  CHECK(ranges[0].size == 0x2000);
  CHECK(ranges[1].start == 0x3000);
  CHECK(ranges[2].start == 0x10000);
  CHECK(s.end() == 0x11000);

  SUBCASE("contains: the edges of every hole") {
    CHECK(s.contains(0x0));
    CHECK(s.contains(0x1fff));
    CHECK_FALSE(s.contains(0x2000));
    CHECK_FALSE(s.contains(0x2fff));
    CHECK(s.contains(0x3000));
    CHECK(s.contains(0x4fff));
    CHECK_FALSE(s.contains(0x5000));
    CHECK_FALSE(s.contains(0xffff));
    CHECK(s.contains(0x10fff));
    CHECK_FALSE(s.contains(0x11000));
    CHECK_FALSE(s.contains(~std::uint64_t{0}));
    CHECK(s.contains_range(0x1000, 0x1000));
    CHECK_FALSE(s.contains_range(0x1000, 0x1001));
    CHECK_FALSE(s.contains_range(0x2000, 1));
    CHECK_FALSE(s.contains_range(0x1fff, 0x1002));  // runs through the hole into the next range
    CHECK_FALSE(s.contains_range(0xfffffffffffff000, 0x2000));
  }

  SUBCASE("fresh storage reads as zeros, keys as 0") {
    CHECK(read_back(s, 0x3000, 0x2000) == std::vector<std::uint8_t>(0x2000, 0));
    CHECK(s.key(0x3000).raw == 0);
    CHECK(s.read_u64(0x10ff8) == std::optional<std::uint64_t>(0));
  }

  SUBCASE("an access that touches the hole copies nothing") {
    const auto data = pattern(0x20, 1);
    REQUIRE(s.write(0x1ff0, std::span<const std::uint8_t>(data).first(0x10)));
    std::vector<std::uint8_t> out(0x20, 0x77);
    CHECK_FALSE(s.read(0x1ff0, out));  // 16 bytes backed, 16 in the hole
    CHECK(out == std::vector<std::uint8_t>(0x20, 0x77));
    CHECK_FALSE(s.write(0x1ff0, std::vector<std::uint8_t>(0x20, 0xee)));
    CHECK(read_back(s, 0x1ff0, 0x10) == slice(data, 0, 0x10));  // the backed half is unchanged
    CHECK_FALSE(s.write(0x2800, std::vector<std::uint8_t>(1, 1)));
    CHECK_FALSE(s.read(0x2800, std::span<std::uint8_t>(out).first(1)));
  }

  SUBCASE("pointer and read_u64 stop at the end of a range") {
    CHECK(s.pointer(0x1ff8, 8) != nullptr);
    CHECK(s.pointer(0x1ff8, 9) == nullptr);
    CHECK(s.pointer(0x2000, 1) == nullptr);
    const std::vector<std::uint8_t> be{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
    REQUIRE(s.write(0x1ff8, be));
    CHECK(s.read_u64(0x1ff8) == std::optional<std::uint64_t>(0x0123456789abcdefull));  // big-endian
    CHECK_FALSE(s.read_u64(0x1ffc).has_value());
    CHECK_FALSE(s.read_u64(0x2000).has_value());
  }

  SUBCASE("keys of holes") {
    CHECK_FALSE(s.set_key(0x2000, StorageKey{0x30}));
    CHECK(s.key(0x2000).raw == 0);
    CHECK(s.set_key(0x3000, StorageKey{0x30}));
    CHECK(s.key(0x3000).raw == 0x30);
  }
}

TEST_CASE("storage: reads and writes run across adjacent ranges") {
  Storage s;
  REQUIRE(s.add_anonymous(0x1000, 0x1000));
  REQUIRE(s.add_anonymous(0x2000, 0x3000));
  REQUIRE(s.add_anonymous(0x5000, 0x800));  // ends mid-frame
  CHECK(s.contains_range(0x1000, 0x4800));
  CHECK_FALSE(s.contains_range(0x1000, 0x4801));
  const auto data = pattern(0x4000, 2);
  REQUIRE(s.write(0x1400, data));
  CHECK(read_back(s, 0x1400, data.size()) == data);
  // Each range holds its part.
  CHECK(read_back(s, 0x1400, 0xc00) == slice(data, 0, 0xc00));
  CHECK(read_back(s, 0x2000, 0x3000) == slice(data, 0xc00, 0x3000));
  CHECK(read_back(s, 0x5000, 0x400) == slice(data, 0x3c00, 0x400));
  CHECK(s.pointer(0x1ffc, 8) == nullptr);  // a direct pointer covers one range only
}

TEST_CASE("storage: overlapping ranges are rejected, adjacent ones accepted") {
  Storage s;
  REQUIRE(s.add_anonymous(0x10000, 0x10000));
  auto rejected = [&](std::uint64_t start, std::uint64_t size) {
    auto r = s.add_anonymous(start, size);
    REQUIRE_FALSE(r.has_value());
    INFO(r.error());
    CHECK(r.error().find("overlaps") != std::string::npos);
    CHECK(r.error().find("0x10000") != std::string::npos);  // names the range it hit
  };
  rejected(0x10000, 0x10000);  // identical
  rejected(0x8000, 0x9000);    // overlaps the start
  rejected(0x1f000, 0x2000);   // overlaps the end
  rejected(0x0, 0x100000);     // contains it
  rejected(0x14000, 0x1000);   // inside it
  rejected(0x1ffff, 1);        // its last byte
  REQUIRE(s.ranges().size() == 1);

  CHECK(s.add_anonymous(0x0, 0x10000));      // adjacent below
  CHECK(s.add_anonymous(0x20000, 0x10000));  // adjacent above
  CHECK(s.ranges().size() == 3);
  // A range between two others that touches both is fine; one byte more is not.
  Storage t;
  REQUIRE(t.add_anonymous(0x0, 0x1000));
  REQUIRE(t.add_anonymous(0x3000, 0x1000));
  CHECK_FALSE(t.add_anonymous(0x1000, 0x2001).has_value());
  CHECK_FALSE(t.add_anonymous(0xfff, 0x2000).has_value());
  CHECK(t.add_anonymous(0x1000, 0x2000).has_value());

  auto empty = s.add_anonymous(0x100000, 0);
  CHECK_FALSE(empty.has_value());
  auto wraps = s.add_anonymous(0xfffffffffffff000, 0x2000);
  REQUIRE_FALSE(wraps.has_value());
  CHECK(wraps.error().find("wraps") != std::string::npos);
  CHECK(s.ranges().size() == 3);
}

TEST_CASE("storage: a mapped file is copy-on-write, the file on disk never changes") {
  TempDir dir;
  const auto file = dir.path / "ram.bin";
  const auto content = pattern(3 * 4096 + 100, 3);
  write_file(file, content);
  const FileFingerprint before = fingerprint(file);

  {
    Storage s;
    REQUIRE(s.add_file(0x100000, file.string(), 0, content.size()));
    REQUIRE(s.add_anonymous(0x0, 0x1000));
    CHECK(s.contains_range(0x100000, content.size()));
    CHECK_FALSE(s.contains(0x100000 + content.size()));
    CHECK(read_back(s, 0x100000, content.size()) == content);

    // Writes of every kind: write(), a direct pointer, compare_exchange, a key change.
    const std::vector<std::uint8_t> ee(0x1800, 0xee);
    REQUIRE(s.write(0x100800, ee));
    s.pointer(0x103000, 16)[3] = 0x42;
    std::array<std::uint8_t, 8> expected{};
    std::copy_n(content.begin() + 0x10, 8, expected.begin());
    const std::array<std::uint8_t, 8> desired{1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(s.compare_exchange(0x100010, expected, desired));
    CHECK(s.set_key(0x101000, StorageKey{0x56}));
    s.mark_changed(0x102000);

    // The guest sees its writes...
    auto now = read_back(s, 0x100000, content.size());
    auto want = content;
    std::fill_n(want.begin() + 0x800, 0x1800, 0xee);
    want[0x3003] = 0x42;
    std::copy(desired.begin(), desired.end(), want.begin() + 0x10);
    CHECK(now == want);

    // ...the file does not, and neither does a second mapping of it.
    CHECK(fingerprint(file) == before);
    CHECK(read_file(file) == content);
    Storage other;
    REQUIRE(other.add_file(0, file.string(), 0, content.size()));
    CHECK(read_back(other, 0, content.size()) == content);
  }
  // Nor after the mapping is gone (nothing is written back on unmap).
  CHECK(fingerprint(file) == before);
  CHECK(read_file(file) == content);
}

TEST_CASE("storage: a read-only file can be mapped and written (in the overlay)") {
  TempDir dir;
  const auto file = dir.path / "ro.bin";
  const auto content = pattern(8192, 4);
  write_file(file, content);
  std::filesystem::permissions(file, std::filesystem::perms::owner_read);
  const FileFingerprint before = fingerprint(file);
  Storage s;
  REQUIRE(s.add_file(0, file.string(), 0, content.size()));
  REQUIRE(s.write(0x100, std::vector<std::uint8_t>(0x100, 0)));
  CHECK(read_back(s, 0x100, 0x100) == std::vector<std::uint8_t>(0x100, 0));
  CHECK(fingerprint(file) == before);
  std::filesystem::permissions(file, std::filesystem::perms::owner_all);
}

TEST_CASE("storage: files mapped from unaligned offsets") {
  TempDir dir;
  const auto file = dir.path / "core.bin";
  const auto content = pattern(0x6000 + 0x321, 5);
  write_file(file, content);
  const FileFingerprint before = fingerprint(file);

  struct Case {
    std::uint64_t offset, length, start;
  };
  for (const Case c : {Case{0x123, 0x2000, 0x0}, Case{0x1001, 0x1fff, 0x10000}, Case{0x1000, 0x3000, 0x20000},
                       Case{0xfff, 0x1, 0x30000}, Case{0x5321, 0x1000, 0x40000},  // ends exactly at EOF
                       Case{0x7, content.size() - 0x7, 0x800007}}) {              // unaligned guest start too
    CAPTURE(c.offset);
    CAPTURE(c.length);
    Storage s;
    REQUIRE(s.add_file(c.start, file.string(), c.offset, c.length));
    CHECK(s.contains_range(c.start, c.length));
    CHECK_FALSE(s.contains(c.start + c.length));
    CHECK(read_back(s, c.start, c.length) == slice(content, c.offset, c.length));
    std::vector<std::uint8_t> junk(c.length, 0x99);
    REQUIRE(s.write(c.start, junk));
    CHECK(read_back(s, c.start, c.length) == junk);
  }
  CHECK(fingerprint(file) == before);

  SUBCASE("bytes beyond the end of the file are refused, naming the file") {
    Storage s;
    auto past = s.add_file(0, file.string(), 0x5322, 0x1000);
    REQUIRE_FALSE(past.has_value());
    CHECK(past.error().find(file.string()) != std::string::npos);
    CHECK(past.error().find("beyond the end") != std::string::npos);
    CHECK_FALSE(s.add_file(0, file.string(), content.size() + 1, 1).has_value());
    CHECK_FALSE(s.add_file(0, file.string(), 0, content.size() + 1).has_value());
    CHECK_FALSE(s.add_file(0, file.string(), 0x10, ~std::uint64_t{0} - 4).has_value());  // offset+length wraps
    CHECK(s.ranges().empty());
  }
  SUBCASE("a missing file is named in the error") {
    Storage s;
    auto missing = s.add_file(0, (dir.path / "nope").string(), 0, 16);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().find("nope") != std::string::npos);
  }
  SUBCASE("length 0 maps nothing") {
    Storage s;
    CHECK(s.add_file(0, file.string(), 0x10, 0).has_value());
    CHECK(s.ranges().empty());
  }
  SUBCASE("a file range overlapping another is refused") {
    Storage s;
    REQUIRE(s.add_anonymous(0x1000, 0x1000));
    CHECK_FALSE(s.add_file(0x0, file.string(), 0x123, 0x1001).has_value());
    CHECK(s.add_file(0x0, file.string(), 0x123, 0x1000).has_value());
  }
}

TEST_CASE("storage: keys belong to absolute 4 KiB frames") {
  Storage s;
  REQUIRE(s.add_anonymous(0x1800, 0x2000));  // part of frame 1, frame 2, part of frame 3
  CHECK(s.set_key(0x1800, StorageKey{0x30}));
  CHECK(s.key(0x1800).raw == 0x30);
  CHECK(s.key(0x1fff).raw == 0x30);
  CHECK(s.key(0x2000).raw == 0);
  CHECK(s.set_key(0x2abc, StorageKey{0x50}));  // any address in the frame sets the frame's key
  CHECK(s.key(0x2000).raw == 0x50);
  CHECK(s.key(0x2fff).raw == 0x50);
  CHECK(s.key(0x3000).raw == 0);
  CHECK(s.set_key(0x37ff, StorageKey{0x18}));
  CHECK(s.key(0x3000).raw == 0x18);
  CHECK_FALSE(s.set_key(0x3800, StorageKey{0x10}));  // beyond the range
  CHECK_FALSE(s.set_key(0x17ff, StorageKey{0x10}));

  s.mark_changed(0x2010);  // reference and change bits of that frame only
  CHECK(s.key(0x2000).raw == 0x56);
  CHECK(s.key(0x1800).raw == 0x30);
  CHECK(s.key(0x3000).raw == 0x18);
  s.mark_changed(0x100000);  // unbacked: nothing happens
  CHECK(s.key(0x100000).raw == 0);
}

// A frame covered by two ranges (a PT_LOAD whose p_filesz is not a multiple of 4 KiB and
// whose p_memsz tail becomes a second, anonymous range; two segments meeting mid-frame)
// still has one storage key: the header says "keys belong to absolute 4 KiB frames,
// whatever the range's alignment".
TEST_CASE("storage: a frame split between two ranges has one key") {
  Storage s;
  REQUIRE(s.add_anonymous(0x1000, 0x800));
  REQUIRE(s.add_anonymous(0x1800, 0x1800));
  REQUIRE(s.set_key(0x1000, StorageKey{0x70}));
  CHECK(s.key(0x1fff).raw == 0x70);
  REQUIRE(s.set_key(0x1c00, StorageKey{0x40}));
  CHECK(s.key(0x1000).raw == 0x40);
  s.mark_changed(0x1900);
  CHECK(s.key(0x1100).changed());
}

TEST_CASE("storage: compare_exchange") {
  Storage s;
  REQUIRE(s.add_anonymous(0, 0x2000));
  const auto initial = pattern(16, 6);
  REQUIRE(s.write(0x100, initial));

  SUBCASE("equal: stores the new value, leaves `expected` alone") {
    std::vector<std::uint8_t> expected(initial.begin(), initial.begin() + 8);
    const std::vector<std::uint8_t> desired(8, 0xab);
    CHECK(s.compare_exchange(0x100, expected, desired));
    CHECK(expected == slice(initial, 0, 8));
    CHECK(read_back(s, 0x100, 8) == desired);
    CHECK(read_back(s, 0x108, 8) == slice(initial, 8, 8));  // nothing beyond the operand
  }
  SUBCASE("different: stores nothing, hands back what memory holds") {
    std::vector<std::uint8_t> expected(16, 0);
    const std::vector<std::uint8_t> desired(16, 0xab);
    CHECK_FALSE(s.compare_exchange(0x100, expected, desired));
    CHECK(expected == initial);
    CHECK(read_back(s, 0x100, 16) == initial);
  }
  SUBCASE("a difference in the last byte counts") {
    std::vector<std::uint8_t> expected = initial;
    expected[15] ^= 1;
    CHECK_FALSE(s.compare_exchange(0x100, expected, std::vector<std::uint8_t>(16, 0)));
    CHECK(expected == initial);
  }
  SUBCASE("every size from 1 to 16") {
    for (std::size_t n = 1; n <= 16; ++n) {
      CAPTURE(n);
      std::vector<std::uint8_t> cur(n);
      REQUIRE(s.read(0x800, cur));
      std::vector<std::uint8_t> desired(n, static_cast<std::uint8_t>(n));
      CHECK(s.compare_exchange(0x800, cur, desired));
      CHECK(read_back(s, 0x800, n) == desired);
    }
  }
  SUBCASE("mismatched operand sizes and unbacked addresses change nothing") {
    std::vector<std::uint8_t> expected(initial.begin(), initial.begin() + 8);
    CHECK_FALSE(s.compare_exchange(0x100, expected, std::vector<std::uint8_t>(4, 0)));
    CHECK(read_back(s, 0x100, 16) == initial);
    CHECK(expected == slice(initial, 0, 8));
    std::vector<std::uint8_t> e2(8, 0);
    CHECK_FALSE(s.compare_exchange(0x1ffc, e2, std::vector<std::uint8_t>(8, 1)));  // runs off the range
    CHECK(e2 == std::vector<std::uint8_t>(8, 0));
  }
}

TEST_CASE("storage: ranges and pointers survive moving the Storage into a backend") {
  Storage s;
  REQUIRE(s.add_anonymous(0x0, 0x3000));
  const std::uint8_t* before = s.pointer(0x1000, 0x1000);
  REQUIRE(s.write(0x1000, pattern(0x1000, 7)));
  REQUIRE(s.set_key(0x2000, StorageKey{0x20}));
  EmulatedBackend backend(std::move(s), std::vector<CpuState>(1));
  CHECK(backend.storage().pointer(0x1000, 0x1000) == before);
  CHECK(read_back(backend.storage(), 0x1000, 0x1000) == pattern(0x1000, 7));
  CHECK(backend.get_key(0x2000) == tl::expected<StorageKey, HostError>(StorageKey{0x20}));
  CHECK(backend.get_key(0x3000) == tl::expected<StorageKey, HostError>(tl::unexpected(HostError::efault)));
  const auto ranges = backend.ranges();
  REQUIRE(ranges.size() == 1);
  CHECK(ranges[0].size == 0x3000);
}

// The ABSOLUTE_CMPXCHG memop on storage made of two ranges that meet inside the
// operand (16-byte aligned, backed on both sides): the operand is backed, so it must
// exchange (not report "not exchanged" because no single pointer covers it).
TEST_CASE("emulated cmpxchg: an operand split between two adjacent ranges") {
  Storage s;
  REQUIRE(s.add_anonymous(0x0, 0x1008));
  REQUIRE(s.add_anonymous(0x1008, 0xff8));
  EmulatedBackend backend(std::move(s), std::vector<CpuState>(1));
  std::vector<std::uint8_t> old(16, 0), desired(16, 0x5a);
  Memop op;
  op.kind = MemopKind::absolute_cmpxchg;
  op.gaddr = 0x1000;
  op.size = 16;
  op.buf = desired;
  op.old = old;
  const MemopResult r = backend.vm_memop(op);
  REQUIRE(r.ok());
  CHECK(r.exchanged);
  std::vector<std::uint8_t> now(16);
  REQUIRE(backend.storage().read(0x1000, now));
  CHECK(now == desired);
}

// A DAT-table entry (8 bytes, 8-aligned) whose bytes lie in two adjacent ranges is
// backed memory: read_u64() - what the walker reads tables with - must return it.
TEST_CASE("storage: read_u64 across two adjacent ranges") {
  Storage s;
  REQUIRE(s.add_anonymous(0x0, 0x1004));
  REQUIRE(s.add_anonymous(0x1004, 0xffc));
  const std::vector<std::uint8_t> be{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  REQUIRE(s.write(0x1000, be));
  CHECK(s.contains(0x1000));
  CHECK(s.read_u64(0x1000).value_or(0) == 0x0123456789abcdefull);
}

namespace {

// A guest whose storage ends in the middle of a page: va 0x10000000 maps absolute
// 0x200000.. page by page (contiguous frames); the fourth frame, 0x203000, is backed only
// up to 0x203800. cpu 0: DAT on, home space = primary = that ASCE.
std::unique_ptr<EmulatedBackend> short_storage_guest(std::uint64_t storage_end) {
  Storage s;
  REQUIRE(s.add_anonymous(0, storage_end));
  GuestBuilder b(s, 0x100000, 0x180000);
  const Asce asce = b.new_space(TableType::region_third).value();
  REQUIRE(b.map_range(asce, 0x10000000, 0x200000, 0x4000));
  for (std::uint64_t a = 0x200000; a < storage_end; a += 0x100) {
    const std::uint8_t tag[] = {static_cast<std::uint8_t>(a >> 8)};  // each 256 bytes: its own tag
    REQUIRE(s.write(a, tag));
  }
  CpuState cpu;
  cpu.psw = Psw{Psw::dat_bit | Psw::ea_bit | Psw::ba_bit, 0};
  cpu.crs[1] = cpu.crs[13] = asce.raw;
  cpu.prefix = 0x2000;
  cpu.present.psw = cpu.present.crs = cpu.present.prefix = true;
  return std::make_unique<EmulatedBackend>(std::move(s), std::vector<CpuState>{cpu});
}

}  // namespace

// A walked view reads contiguous frames with one absolute op; when that op fails (the
// last frame is only half backed) the pages before it still come back, as page-by-page
// reads would give them.
TEST_CASE("walked view: a merged read that fails keeps the readable prefix") {
  auto g = short_storage_guest(0x203800);
  MemoryAccess access(*g);
  std::vector<std::uint8_t> out(0x4000);
  const ReadOutcome r = access.read(0, AddressSpace::of(AddressSpace::Kind::home), 0x10000000, out);
  CHECK(r.bytes == 0x3000);
  CHECK_FALSE(r.status.ok());
  CHECK(out[0] == 0x00);
  CHECK(out[0x2f00] == 0x2f);
  // Fully backed: one op, all of it.
  auto full = short_storage_guest(0x204000);
  MemoryAccess full_access(*full);
  const ReadOutcome f = full_access.read(0, AddressSpace::of(AddressSpace::Kind::home), 0x10000000, out);
  CHECK(f.bytes == 0x4000);
  CHECK(f.status.ok());
  CHECK(out[0x3f00] == 0x3f);
}

// Exception delivery writes lowcore fields even when two storage ranges back the lowcore.
TEST_CASE("emulated inject: a lowcore split between two ranges") {
  Storage s;
  REQUIRE(s.add_anonymous(0, 0x2080));  // the prefix area 0x2000.. ends here ...
  REQUIRE(s.add_anonymous(0x2080, 0x10000 - 0x2080));  // ... and continues here
  CpuState cpu;
  cpu.psw = Psw{Psw::ea_bit | Psw::ba_bit, 0x1234};
  cpu.prefix = 0x2000;
  cpu.present.psw = cpu.present.prefix = true;
  EmulatedBackend b(std::move(s), std::vector<CpuState>{cpu});
  std::vector<std::uint8_t> buf(8);
  Memop op;
  op.kind = MemopKind::logical_read;
  op.gaddr = 0x20000;  // beyond storage: addressing exception
  op.size = 8;
  op.buf = buf;
  op.flags = memop_flag::inject_exception;
  const MemopResult r = b.vcpu_memop(0, op);
  REQUIRE(r.status == MemopResult::Status::exception);
  std::vector<std::uint8_t> code(2), old_psw(16);
  REQUIRE(b.storage().read(0x2000 + lowcore::pgm_code, code));
  CHECK(load_be16(code.data()) == static_cast<std::uint16_t>(PgmCode::addressing));
  REQUIRE(b.storage().read(0x2000 + lowcore::program_old_psw, old_psw));
  CHECK(load_be64(old_psw.data() + 8) == 0x1234);
}

// A guest IPTE on a page-table entry whose 8 bytes lie in two ranges still invalidates it.
TEST_CASE("emulated guest IPTE: an entry split between two ranges") {
  Storage s;
  REQUIRE(s.add_anonymous(0, 0x1004));
  REQUIRE(s.add_anonymous(0x1004, 0x1000));
  REQUIRE(s.write_u64(0x1000, 0x5000));
  EmulatedBackend b(std::move(s), std::vector<CpuState>(1));
  CHECK(b.guest_ipte(0x1000));
  CHECK(b.storage().read_u64(0x1000).value() == (0x5000 | PageEntry::i_bit));
  CHECK(b.guest_cspg(0x1000, 0x5000 | PageEntry::i_bit, 0x6000));
  CHECK(b.storage().read_u64(0x1000).value() == 0x6000);
}

TEST_SUITE("concurrency") {
  TEST_CASE("storage: compare_exchange is atomic against other compare_exchange calls") {
    Storage s;
    REQUIRE(s.add_anonymous(0, 0x1000));
    constexpr unsigned threads_n = 4, increments = 1000;
    std::atomic<unsigned> retries{0};
    std::vector<std::thread> threads;
    for (unsigned t = 0; t < threads_n; ++t) {
      threads.emplace_back([&] {
        std::array<std::uint8_t, 8> cur{};  // a guess; the first failure loads the real value
        for (unsigned i = 0; i < increments; ++i) {
          for (;;) {
            std::array<std::uint8_t, 8> next{};
            store_be64(next.data(), load_be64(cur.data()) + 1);
            if (s.compare_exchange(0x100, cur, next)) {
              cur = next;
              break;
            }
            ++retries;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    std::array<std::uint8_t, 8> probe{};
    s.compare_exchange(0x100, probe, probe);  // loads the value under the same mutex
    CHECK(load_be64(probe.data()) == threads_n * increments);
    MESSAGE("compare_exchange retries: " << retries.load());
  }
}
