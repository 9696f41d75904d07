// Guest storage of a live guest (backends/emulated/storage.h): demand ranges, whose pages
// a PageSource fetches once into a cache (until drop_cached_pages) and whose writes go
// through to the source first; and a RAM file mapped shared and writable, whose writes
// reach the file (while a private mapping of it still never does).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "backends/emulated/emulated_backend.h"
#include "backends/emulated/file_mapping.h"
#include "backends/emulated/storage.h"
#include "translate/byteorder.h"

#include "tests/backends/temp_dir.h"

using namespace s390b;

namespace {

std::vector<std::uint8_t> pattern(std::size_t n, unsigned seed) {
  std::vector<std::uint8_t> v(n);
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& b : v) {
    x = x * 1664525u + 1013904223u;
    b = static_cast<std::uint8_t>(x >> 24);
  }
  return v;
}

// The guest's absolute storage from `base`, reached a page at a time, counting round
// trips. Counters are atomic and protocol violations are counted, not asserted, so the
// source can be called from reader threads.
struct FakeSource final : PageSource {
  std::uint64_t base;
  std::vector<std::uint8_t> memory;
  std::atomic<unsigned> fetches{0}, stores{0}, violations{0};
  std::atomic<bool> refuse_fetch{false}, refuse_store{false};

  FakeSource(std::uint64_t at, std::vector<std::uint8_t> bytes) : base(at), memory(std::move(bytes)) {}

  bool fetch(std::uint64_t page, std::span<std::uint8_t> out) override {
    ++fetches;
    if (page % page_size != 0 || out.size() != page_size || page < base || page - base + page_size > memory.size())
      ++violations;
    if (refuse_fetch) return false;
    std::memcpy(out.data(), memory.data() + (page - base), page_size);
    return true;
  }
  bool store(std::uint64_t address, std::span<const std::uint8_t> data) override {
    ++stores;
    if (data.empty() || address / page_size != (address + data.size() - 1) / page_size || address < base ||
        address - base + data.size() > memory.size())
      ++violations;
    if (refuse_store) return false;
    std::memcpy(memory.data() + (address - base), data.data(), data.size());
    return true;
  }
  std::vector<std::uint8_t> bytes(std::uint64_t address, std::size_t n) const {
    return {memory.begin() + static_cast<std::ptrdiff_t>(address - base),
            memory.begin() + static_cast<std::ptrdiff_t>(address - base + n)};
  }
};

constexpr std::uint64_t demand_base = 0x100000;
constexpr std::uint64_t demand_pages = 16;

// 16 demand pages at 1 MiB, an anonymous page right after them.
struct DemandGuest {
  std::shared_ptr<FakeSource> source =
      std::make_shared<FakeSource>(demand_base, pattern(demand_pages * page_size, 1));
  Storage storage;
  DemandGuest() {
    REQUIRE(storage.add_demand(demand_base, demand_pages * page_size, source));
    REQUIRE(storage.add_anonymous(demand_base + demand_pages * page_size, page_size));
    REQUIRE(storage.write(demand_base + demand_pages * page_size, pattern(page_size, 2)));
  }
  ~DemandGuest() { CHECK(source->violations == 0); }
  std::vector<std::uint8_t> read(std::uint64_t address, std::size_t n) const {
    std::vector<std::uint8_t> out(n);
    REQUIRE(storage.read(address, out));
    return out;
  }
};

}  // namespace

TEST_CASE("demand storage: a page is fetched once, then read from the cache") {
  DemandGuest g;
  CHECK(g.storage.contains(demand_base));
  CHECK(g.storage.contains_range(demand_base, demand_pages * page_size + page_size));
  CHECK_FALSE(g.storage.contains(demand_base - 1));
  CHECK(g.source->fetches == 0);  // adding the range fetches nothing

  CHECK(g.read(demand_base + 0x2010, 8) == g.source->bytes(demand_base + 0x2010, 8));
  CHECK(g.source->fetches == 1);
  CHECK(g.storage.cached_pages() == 1);
  CHECK(g.read(demand_base + 0x2ff0, 16) == g.source->bytes(demand_base + 0x2ff0, 16));
  CHECK(g.storage.read_u64(demand_base + 0x2100) == load_be64(g.source->bytes(demand_base + 0x2100, 8).data()));
  CHECK(g.source->fetches == 1);
  CHECK(g.storage.overlay_pages() == 0);  // the zero ranges' overlay is another thing

  SUBCASE("keys work as in any other range") {
    CHECK(g.storage.set_key(demand_base + 0x2000, StorageKey{0x36}));
    CHECK(g.storage.key(demand_base + 0x2fff).raw == 0x36);
    g.storage.mark_changed(demand_base + 0x5000);
    CHECK(g.storage.key(demand_base + 0x5000).raw == (StorageKey::r_bit | StorageKey::c_bit));
    CHECK(g.source->fetches == 1);
  }
}

TEST_CASE("demand storage: drop_cached_pages forgets the pages, the next read fetches the guest's new bytes") {
  DemandGuest g;
  const std::uint64_t a = demand_base + 0x4000;
  CHECK(g.read(a, 4) == g.source->bytes(a, 4));
  g.source->memory[0x4000] ^= 0xff;  // the guest ran and stored
  CHECK(g.read(a, 1) != g.source->bytes(a, 1));  // still the cached copy
  g.storage.drop_cached_pages();
  CHECK(g.storage.cached_pages() == 0);
  CHECK(g.read(a, 4) == g.source->bytes(a, 4));
  CHECK(g.source->fetches == 2);
}

TEST_CASE("demand storage: reads across pages, and across into an adjacent anonymous range") {
  DemandGuest g;
  const std::uint64_t tail = demand_base + demand_pages * page_size;

  SUBCASE("64 KiB, the memop limit, from mid-page: every page once") {
    const std::uint64_t a = demand_base + 0x800;
    const std::size_t n = 0x10000 - 0x800;
    CHECK(g.read(a, n) == g.source->bytes(a, n));
    CHECK(g.source->fetches == demand_pages);
    CHECK(g.storage.cached_pages() == demand_pages);
  }
  SUBCASE("the last demand page and the anonymous page after it") {
    auto got = g.read(tail - 0x100, 0x200);
    auto want = g.source->bytes(tail - 0x100, 0x100);
    const auto anon = pattern(page_size, 2);
    want.insert(want.end(), anon.begin(), anon.begin() + 0x100);
    CHECK(got == want);
    CHECK(g.source->fetches == 1);
  }
  SUBCASE("read_u64 across a page boundary and across the end of the range") {
    auto across = g.source->bytes(demand_base + 0x1ffc, 8);
    CHECK(g.storage.read_u64(demand_base + 0x1ffc) == load_be64(across.data()));
    CHECK(g.source->fetches == 2);
    std::array<std::uint8_t, 8> split{};
    const auto last = g.source->bytes(tail - 4, 4);
    const auto anon = pattern(4, 2);  // the first bytes of the anonymous page's pattern
    std::copy(last.begin(), last.end(), split.begin());
    std::copy(anon.begin(), anon.end(), split.begin() + 4);
    CHECK(g.storage.read_u64(tail - 4) == load_be64(split.data()));
  }
  SUBCASE("a read running past the storage copies nothing and fetches nothing") {
    std::vector<std::uint8_t> out(2 * page_size, 0xaa);
    CHECK_FALSE(g.storage.read(tail, out));
    CHECK(g.source->fetches == 0);
  }
}

TEST_CASE("demand storage: writes go through to the source, then to a cached page") {
  DemandGuest g;
  const auto ee = std::vector<std::uint8_t>(0x20, 0xee);

  SUBCASE("a cached page is patched, not refetched") {
    const std::uint64_t a = demand_base + 0x3100;
    (void)g.read(a, 1);
    REQUIRE(g.storage.write(a, ee));
    CHECK(g.source->stores == 1);
    CHECK(g.source->bytes(a, ee.size()) == ee);
    CHECK(g.read(a - 0x10, 0x40) == g.source->bytes(a - 0x10, 0x40));
    CHECK(g.source->fetches == 1);
  }
  SUBCASE("a page not cached is not fetched for a write") {
    const std::uint64_t a = demand_base + 0x6100;
    REQUIRE(g.storage.write(a, ee));
    CHECK(g.source->fetches == 0);
    CHECK(g.storage.cached_pages() == 0);
    CHECK(g.source->bytes(a, ee.size()) == ee);
    CHECK(g.read(a, ee.size()) == ee);
    CHECK(g.source->fetches == 1);
  }
  SUBCASE("a write across pages is one store per page, none crossing a page") {
    const std::uint64_t a = demand_base + 0x7ff0;
    (void)g.read(a + 0x10, 1);  // the second page cached, the first not
    REQUIRE(g.storage.write(a, ee));
    CHECK(g.source->stores == 2);
    CHECK(g.source->bytes(a, ee.size()) == ee);
    CHECK(g.read(a, ee.size()) == ee);
  }
  SUBCASE("write_u64, and a write into the anonymous range after the demand range") {
    const std::uint64_t tail = demand_base + demand_pages * page_size;
    REQUIRE(g.storage.write_u64(tail - 4, 0x0102030405060708));
    CHECK(g.source->bytes(tail - 4, 4) == std::vector<std::uint8_t>{1, 2, 3, 4});
    CHECK(g.storage.read_u64(tail - 4) == 0x0102030405060708u);
  }
}

TEST_CASE("demand storage: a failed fetch fails the access and caches nothing") {
  DemandGuest g;
  g.source->refuse_fetch = true;
  const std::uint64_t a = demand_base + 0x5008;
  std::array<std::uint8_t, 8> out{};
  CHECK_FALSE(g.storage.read(a, out));
  CHECK(g.source->fetches == 1);
  CHECK_FALSE(g.storage.read_u64(a).has_value());
  CHECK(g.source->fetches == 2);  // one round trip per attempt, not two
  CHECK(std::as_const(g.storage).pointer(a, 8) == nullptr);
  CHECK(g.storage.direct(a, 8) == nullptr);
  std::array<std::uint8_t, 8> expected{1, 2, 3, 4, 5, 6, 7, 8};
  const std::array<std::uint8_t, 8> desired{};
  CHECK_FALSE(g.storage.compare_exchange(a, expected, desired));
  CHECK(expected == std::array<std::uint8_t, 8>{1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(g.source->stores == 0);
  CHECK(g.storage.cached_pages() == 0);

  g.source->refuse_fetch = false;  // the channel is back
  CHECK(g.read(a, 8) == g.source->bytes(a, 8));
  CHECK(g.storage.cached_pages() == 1);
}

TEST_CASE("demand storage: a refused store fails the write and leaves the cache alone") {
  DemandGuest g;
  const std::uint64_t a = demand_base + 0x9000;
  const auto before = g.read(a, page_size);
  g.source->refuse_store = true;
  CHECK_FALSE(g.storage.write(a + 0x10, std::vector<std::uint8_t>(0x10, 0x77)));
  CHECK_FALSE(g.storage.write_u64(a + 0x40, 1));
  CHECK(g.read(a, page_size) == before);
  CHECK(g.source->bytes(a, page_size) == before);
  CHECK(g.source->fetches == 1);
}

TEST_CASE("demand storage: compare_exchange fetches, compares and stores through the source") {
  DemandGuest g;
  const std::uint64_t a = demand_base + 0xa010;
  std::array<std::uint8_t, 8> expected{};
  const auto now = g.source->bytes(a, 8);
  std::copy(now.begin(), now.end(), expected.begin());
  const std::array<std::uint8_t, 8> desired{9, 8, 7, 6, 5, 4, 3, 2};

  SUBCASE("equal: stored in the guest and in the cache") {
    CHECK(g.storage.compare_exchange(a, expected, desired));
    CHECK(g.source->bytes(a, 8) == std::vector<std::uint8_t>(desired.begin(), desired.end()));
    CHECK(g.storage.read_u64(a) == load_be64(desired.data()));
    CHECK(g.source->fetches == 1);
    CHECK(g.source->stores == 1);
  }
  SUBCASE("different: nothing stored, the current value handed back") {
    std::array<std::uint8_t, 8> stale = expected;
    stale[7] ^= 1;
    CHECK_FALSE(g.storage.compare_exchange(a, stale, desired));
    CHECK(stale == expected);
    CHECK(g.source->stores == 0);
  }
  SUBCASE("equal but the store is refused: not exchanged, nothing changed") {
    g.source->refuse_store = true;
    CHECK_FALSE(g.storage.compare_exchange(a, expected, desired));
    CHECK(g.source->bytes(a, 8) == now);
    CHECK(g.read(a, 8) == now);
  }
}

TEST_CASE("demand storage: pointers only within one page, and only for reading") {
  DemandGuest g;
  const Storage& reader = g.storage;
  const std::uint64_t a = demand_base + 0xb800;
  const std::uint8_t* p = reader.pointer(a, 0x800);
  REQUIRE(p != nullptr);
  CHECK(g.source->fetches == 1);
  CHECK(std::vector<std::uint8_t>(p, p + 0x800) == g.source->bytes(a, 0x800));
  CHECK(g.storage.direct(a, 0x800) == p);  // the cached page, not a copy
  CHECK(reader.pointer(a - 0x800, page_size) == p - 0x800);
  CHECK(reader.pointer(a, 0x801) == nullptr);  // into the next page
  CHECK(reader.pointer(demand_base + demand_pages * page_size - 4, 8) == nullptr);  // into the next range
  // A store through a mutable pointer would never reach the guest.
  CHECK(g.storage.pointer(a, 8) == nullptr);
  CHECK(g.source->fetches == 1);
}

TEST_CASE("demand storage: ranges are whole pages, never overlap, and append in order") {
  Storage s;
  auto source = std::make_shared<FakeSource>(0, std::vector<std::uint8_t>(0x10000));
  CHECK_FALSE(s.add_demand(0x800, 0x1000, source).has_value());
  CHECK_FALSE(s.add_demand(0x1000, 0x800, source).has_value());
  CHECK_FALSE(s.add_demand(0x1000, 0, source).has_value());
  CHECK_FALSE(s.add_demand(0x1000, 0x1000, nullptr).has_value());
  REQUIRE(s.add_anonymous(0x0, 0x2000));
  CHECK_FALSE(s.add_demand(0x1000, 0x2000, source).has_value());
  REQUIRE(s.add_demand(0x2000, 0x2000, source));  // adjacent, and one source for two ranges
  REQUIRE(s.add_demand(0x8000, 0x1000, source));
  REQUIRE(s.add_zero(0x4000, 0x1000));  // out of order, into the gap
  const auto ranges = s.ranges();
  REQUIRE(ranges.size() == 4);
  CHECK(ranges[1].start == 0x2000);
  CHECK(ranges[3].start == 0x8000);
  CHECK(s.end() == 0x9000);
  CHECK(source->fetches == 0);
}

// The memop engine works on a demand range unchanged: logical accesses (DAT off, so
// addresses are absolute) of the largest size read and write through the source, because
// no mutable pointer into the cache is ever handed to it.
TEST_CASE("demand storage: the emulated backend's memops read and write through the source") {
  auto source = std::make_shared<FakeSource>(demand_base, pattern(demand_pages * page_size, 3));
  Storage s;
  REQUIRE(s.add_anonymous(0, demand_base));
  REQUIRE(s.add_demand(demand_base, demand_pages * page_size, source));
  EmulatedBackend backend(std::move(s), std::vector<CpuState>(1));

  std::vector<std::uint8_t> buf(kvm_memop_max_size);
  Memop op;
  op.kind = MemopKind::logical_read;
  op.gaddr = demand_base;
  op.size = kvm_memop_max_size;
  op.buf = buf;
  REQUIRE(backend.vcpu_memop(0, op).ok());
  CHECK(buf == source->memory);
  CHECK(source->fetches == demand_pages);

  const auto data = pattern(0x2000, 4);
  std::vector<std::uint8_t> in = data;
  op.kind = MemopKind::logical_write;
  op.gaddr = demand_base + 0x3800;
  op.size = static_cast<std::uint32_t>(in.size());
  op.buf = in;
  REQUIRE(backend.vcpu_memop(0, op).ok());
  CHECK(source->bytes(demand_base + 0x3800, data.size()) == data);
  CHECK(source->stores == 3);

  std::vector<std::uint8_t> back(data.size());
  op.kind = MemopKind::absolute_read;
  op.buf = back;
  REQUIRE(backend.vm_memop(op).ok());
  CHECK(back == data);
  CHECK(source->fetches == demand_pages);  // the cache was patched, not refetched
  CHECK(source->violations == 0);
}

TEST_CASE("shared file mapping: writes through Storage reach the file, the guest's stores show") {
  test::TempDir dir;
  const auto path = dir.path / "guest-ram";
  const auto content = pattern(4 * page_size, 5);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(content.data()), static_cast<std::streamsize>(content.size()));
    REQUIRE(out.good());
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  auto file_bytes = [&](off_t offset, std::size_t n) {
    std::vector<std::uint8_t> v(n);
    REQUIRE(::pread(fd, v.data(), n, offset) == static_cast<ssize_t>(n));
    return v;
  };

  SUBCASE("shared_writable") {
    // fstat on every check: the stores below must not count as the file changing.
    auto mapping = FileMapping::open(path.string(), std::chrono::milliseconds(0), FileMapping::Mode::shared_writable);
    REQUIRE(mapping.has_value());
    CHECK((*mapping)->mode() == FileMapping::Mode::shared_writable);
    Storage s;
    REQUIRE(s.add_file(0x10000, *mapping, 0, content.size()));

    const std::vector<std::uint8_t> ee(0x1800, 0xee);
    REQUIRE(s.write(0x10800, ee));
    CHECK(file_bytes(0x800, ee.size()) == ee);
    s.pointer(0x13000, 16)[3] = 0x42;
    CHECK(file_bytes(0x3003, 1) == std::vector<std::uint8_t>{0x42});
    std::array<std::uint8_t, 8> expected{};
    std::copy_n(content.begin() + 0x10, 8, expected.begin());
    const std::array<std::uint8_t, 8> desired{1, 2, 3, 4, 5, 6, 7, 8};
    CHECK(s.compare_exchange(0x10010, expected, desired));
    CHECK(file_bytes(0x10, 8) == std::vector<std::uint8_t>(desired.begin(), desired.end()));

    // The guest (another process with the same file mapped) stores; we see it.
    const std::array<std::uint8_t, 4> guest{0xde, 0xad, 0xbe, 0xef};
    REQUIRE(::pwrite(fd, guest.data(), guest.size(), 0x2000) == 4);
    CHECK((s.read_u64(0x12000).value_or(0) >> 32) == 0xdeadbeef);
    CHECK_FALSE(s.files_changed());

    // Its size still counts: a file that shrank is no longer the guest's RAM.
    REQUIRE(::ftruncate(fd, static_cast<off_t>(page_size)) == 0);
    CHECK(s.files_changed());
  }
  SUBCASE("private_copy still never changes the file") {
    auto mapping = FileMapping::open(path.string(), std::chrono::milliseconds(0));
    REQUIRE(mapping.has_value());
    CHECK((*mapping)->mode() == FileMapping::Mode::private_copy);
    Storage s;
    REQUIRE(s.add_file(0x10000, *mapping, 0, content.size()));
    REQUIRE(s.write(0x10800, std::vector<std::uint8_t>(0x1800, 0xee)));
    s.pointer(0x13000, 16)[3] = 0x42;
    CHECK(file_bytes(0, content.size()) == content);
    CHECK_FALSE(s.files_changed());
  }
  ::close(fd);
}

TEST_CASE("shared file mapping: a file we may not write is refused, naming it") {
  if (::geteuid() == 0) return;  // root may write anything
  test::TempDir dir;
  const auto path = dir.path / "read-only-ram";
  { std::ofstream(path, std::ios::binary) << std::string(page_size, 'x'); }
  std::filesystem::permissions(path, std::filesystem::perms::owner_read);
  auto shared = FileMapping::open(path.string(), FileMapping::default_recheck, FileMapping::Mode::shared_writable);
  REQUIRE_FALSE(shared.has_value());
  CHECK(shared.error().find(path.string()) != std::string::npos);
  CHECK(FileMapping::open(path.string()).has_value());  // a snapshot of it is fine
}

TEST_SUITE("concurrency") {
  // Readers race for the same uncached pages: each page is fetched once, and the source
  // is never called by two threads at once. The cache is dropped between rounds, with no
  // reader running (the contract of drop_cached_pages).
  TEST_CASE("demand storage: concurrent readers fetch each page once, one source call at a time") {
    struct SerialCheck final : PageSource {
      FakeSource inner{demand_base, pattern(demand_pages * page_size, 6)};
      std::atomic<int> inside{0};
      std::atomic<unsigned> overlaps{0};
      bool fetch(std::uint64_t page, std::span<std::uint8_t> out) override {
        if (inside.fetch_add(1) != 0) ++overlaps;
        std::this_thread::yield();  // widen the window a second caller would need
        const bool ok = inner.fetch(page, out);
        inside.fetch_sub(1);
        return ok;
      }
      bool store(std::uint64_t address, std::span<const std::uint8_t> data) override { return inner.store(address, data); }
    };
    auto source = std::make_shared<SerialCheck>();
    Storage s;
    REQUIRE(s.add_demand(demand_base, demand_pages * page_size, source));
    constexpr unsigned threads_n = 4, rounds = 20;
    std::atomic<unsigned> wrong{0};
    for (unsigned round = 0; round < rounds; ++round) {
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < threads_n; ++t) {
        threads.emplace_back([&, t] {
          std::vector<std::uint8_t> out(page_size);
          for (std::uint64_t i = 0; i < demand_pages; ++i) {
            const std::uint64_t page = (i + t) % demand_pages;  // different orders, same pages
            const std::uint64_t a = demand_base + page * page_size;
            if (!s.read(a, out) || out != source->inner.bytes(a, page_size)) ++wrong;
            const std::uint8_t* p = s.direct(a + 0x100, 8);
            if (!p || load_be64(p) != load_be64(source->inner.bytes(a + 0x100, 8).data())) ++wrong;
          }
        });
      }
      for (auto& th : threads) th.join();
      CHECK(s.cached_pages() == demand_pages);
      s.drop_cached_pages();
    }
    CHECK(wrong == 0);
    CHECK(source->overlaps == 0);
    CHECK(source->inner.fetches == rounds * demand_pages);
    CHECK(source->inner.violations == 0);
  }
}
