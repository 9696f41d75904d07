// The emulated backend's IPTE interlock under real threads (docs/architecture.md,
// "IPTE-lock discipline"; Linux arch/s390/kvm/gaccess.c, ipte_lock): guest threads
// invalidate and re-validate one page (IPTE + CSPG) and its segment (IDTE + CSPG) while
// reader threads do logical MEMOP reads and MemoryAccess reads through it. Every read must
// see the page wholly on its old frame, wholly on its new frame, or fail with a
// segment/page translation exception: never a mix of the two frames, never another code.
//
// Table entries are updated with plain byte stores, so under TSan a walk that overlapped
// a guest update would be reported as a data race: this also checks the lock's exclusion
// (scripts/test runs the "concurrency" suite under ThreadSanitizer).
//
// Bounded: S390B_STRESS_OPS operations per thread (default 2000), so the suite stays
// quick natively, under TSan and under qemu-user for the big-endian build.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <latch>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "access/memory_access.h"
#include "backends/emulated/emulated_backend.h"
#include "backends/emulated/guest_builder.h"
#include "translate/address.h"
#include "translate/byteorder.h"
#include "translate/space.h"

using namespace s390b;

namespace {

unsigned stress_ops() {
  if (const char* env = std::getenv("S390B_STRESS_OPS")) {
    const long v = std::strtol(env, nullptr, 10);
    if (v > 0 && v < 10'000'000) return static_cast<unsigned>(v);
  }
  return 2000;
}

// One virtual page P (between two stable neighbours) whose PTE flips between frames A
// and B, in a region-third address space that is the primary space of both CPUs and the
// home space too.
struct FlipGuest {
  static constexpr std::uint64_t storage_size = 4ull << 20;
  static constexpr std::uint64_t pool_start = 0x100000;
  static constexpr std::uint64_t pool_end = 0x200000;
  static constexpr std::uint64_t frame_a = 0x200000;  // 0xAA
  static constexpr std::uint64_t frame_b = 0x201000;  // 0xBB
  static constexpr std::uint64_t frame_c = 0x202000;  // 0xCC, P - 1
  static constexpr std::uint64_t frame_d = 0x203000;  // 0xDD, P + 1
  static constexpr std::uint64_t page_p = 0x10101000;  // segment 0x101, page 1
  static constexpr std::uint8_t byte_a = 0xaa, byte_b = 0xbb, byte_c = 0xcc, byte_d = 0xdd;

  std::unique_ptr<EmulatedBackend> backend;
  Asce asce;
  std::uint64_t pte = 0;      // absolute address of P's page-table entry
  std::uint64_t ste = 0;      // absolute address of the segment entry covering P-1..P+1
  std::uint64_t ste_valid = 0;

  FlipGuest() {
    Storage storage;
    REQUIRE(storage.add_anonymous(0, storage_size));
    GuestBuilder b(storage, pool_start, pool_end);
    auto space = b.new_space(TableType::region_third);
    REQUIRE(space);
    asce = *space;
    REQUIRE(b.map_page(asce, page_p - page_size, frame_c));
    REQUIRE(b.map_page(asce, page_p, frame_a));
    REQUIRE(b.map_page(asce, page_p + page_size, frame_d));
    auto pte_at = b.pte_address(asce, page_p);
    REQUIRE(pte_at);
    pte = *pte_at;
    // Region-third entry -> segment table -> the segment entry of P.
    const std::uint64_t rtte = b.load64(asce.origin() + std::uint64_t{VirtualAddress{page_p}.rtx()} * 8);
    REQUIRE((rtte & Region3Entry::i_bit) == 0);
    ste = (rtte & Region3Entry::origin_mask) + std::uint64_t{VirtualAddress{page_p}.sx()} * 8;
    ste_valid = b.load64(ste);
    REQUIRE((ste_valid & SegmentEntry::i_bit) == 0);
    REQUIRE((ste_valid & SegmentEntry::pto_mask) == (pte & ~std::uint64_t{0x7ff}));

    const std::vector<std::uint8_t> a(page_size, byte_a), bb(page_size, byte_b), c(page_size, byte_c),
        d(page_size, byte_d);
    REQUIRE(storage.write(frame_a, a));
    REQUIRE(storage.write(frame_b, bb));
    REQUIRE(storage.write(frame_c, c));
    REQUIRE(storage.write(frame_d, d));

    std::vector<CpuState> cpus(2);
    for (unsigned i = 0; i < 2; ++i) {
      CpuState& s = cpus[i];
      s.psw = Psw{Psw::dat_bit | Psw::ea_bit | Psw::ba_bit, 0x10000};  // 64-bit, primary space
      s.crs[1] = s.crs[7] = s.crs[13] = asce.raw;
      s.prefix = static_cast<std::uint32_t>(0x4000 + i * 0x2000);
      s.present.psw = s.present.crs = s.present.prefix = true;
    }
    backend = std::make_unique<EmulatedBackend>(std::move(storage), std::move(cpus));
  }
};

bool all_bytes(std::span<const std::uint8_t> bytes, std::uint8_t value) {
  return std::all_of(bytes.begin(), bytes.end(), [value](std::uint8_t x) { return x == value; });
}

std::string first_bytes(std::span<const std::uint8_t> bytes) {
  std::ostringstream o;
  o << std::hex;
  for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 8); ++i) o << unsigned{bytes[i]} << ' ';
  // Also show where the content changes, if it does.
  for (std::size_t i = 1; i < bytes.size(); ++i)
    if (bytes[i] != bytes[0]) {
      o << "... changes at +" << std::dec << i << " to 0x" << std::hex << unsigned{bytes[i]};
      break;
    }
  return o.str();
}

// Collects what the threads saw; the first anomaly is kept for the report.
struct Tally {
  std::atomic<unsigned> on_a{0}, on_b{0}, segment_invalid{0}, page_invalid{0}, checked_ok{0}, bad{0};
  std::mutex mutex;
  std::string first_bad;

  void fail(const std::string& what) {
    if (bad.fetch_add(1) == 0) {
      std::lock_guard lk(mutex);
      first_bad = what;
    }
  }
  // P's 4096 bytes: all A or all B.
  void page(std::span<const std::uint8_t> p, const char* where) {
    if (all_bytes(p, FlipGuest::byte_a)) {
      ++on_a;
    } else if (all_bytes(p, FlipGuest::byte_b)) {
      ++on_b;
    } else {
      fail(std::string(where) + ": torn page P: " + first_bytes(p));
    }
  }
  // A translation exception; `teid_page` is the page whose translation must have failed
  // for that code (the first page of the access for 0x10, P for 0x11).
  void exception(const Fault& f, std::uint64_t seg_teid_page, const char* where) {
    if (f.code == PgmCode::segment_translation) {
      if (!f.teid || f.teid->address() != seg_teid_page) {
        fail(std::string(where) + ": 0x10 with a wrong TEID");
      } else {
        ++segment_invalid;
      }
    } else if (f.code == PgmCode::page_translation) {
      if (!f.teid || f.teid->address() != FlipGuest::page_p) {
        fail(std::string(where) + ": 0x11 with a wrong TEID");
      } else {
        ++page_invalid;
      }
    } else {
      std::ostringstream o;
      o << where << ": unexpected program-interruption code 0x" << std::hex << static_cast<unsigned>(f.code);
      fail(o.str());
    }
  }
  unsigned total() const {
    return on_a.load() + on_b.load() + segment_invalid.load() + page_invalid.load() + checked_ok.load() + bad.load();
  }
  void report(const std::string& name) {
    MESSAGE(name << ": P on A " << on_a.load() << ", on B " << on_b.load() << ", segment invalid (0x10) "
                 << segment_invalid.load() << ", page invalid (0x11) " << page_invalid.load()
                 << ", check-only ok " << checked_ok.load() << ", bad " << bad.load());
    CHECK_MESSAGE(bad.load() == 0, first_bad);
    CHECK(on_a.load() + on_b.load() > 0);
  }
};

// The guest side: IPTE + CSPG to the other frame, and every 8th round IDTE + CSPG on the
// segment entry. The PTE only ever holds A, A|I, B or B|I; the segment entry its valid
// value or that value with I. Each thread re-validates what it invalidated (if nobody
// did already), so the page ends valid.
void guest_thread(FlipGuest& g, unsigned id, unsigned ops, std::latch& start, std::atomic<unsigned>& flips) {
  start.arrive_and_wait();
  for (unsigned n = 0; n < ops; ++n) {
    if ((n + id) % 8 == 7) {
      g.backend->guest_idte(g.ste);
      std::this_thread::yield();
      g.backend->guest_cspg(g.ste, g.ste_valid | SegmentEntry::i_bit, g.ste_valid);
    } else {
      g.backend->guest_ipte(g.pte);
      std::this_thread::yield();
      if (g.backend->guest_cspg(g.pte, FlipGuest::frame_a | PageEntry::i_bit, FlipGuest::frame_b) ||
          g.backend->guest_cspg(g.pte, FlipGuest::frame_b | PageEntry::i_bit, FlipGuest::frame_a))
        ++flips;
    }
    std::this_thread::yield();
  }
}

// Runs `guests` guest threads for `ops` rounds each and `readers` reader threads that
// read at least `ops` times and go on while a guest still runs (at most 4 * ops), so the
// reads overlap the invalidations however the scheduler orders the threads. Returns the
// number of reads.
template <typename Reader>
unsigned run_stress(FlipGuest& g, unsigned guests, unsigned readers, unsigned ops, Reader reader) {
  std::latch start(guests + readers);
  std::atomic<unsigned> flips{0};
  std::atomic<unsigned> guests_running{guests};
  std::atomic<unsigned> reads{0};
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < guests; ++i)
    threads.emplace_back([&, i] {
      guest_thread(g, i, ops, start, flips);
      --guests_running;
    });
  for (unsigned r = 0; r < readers; ++r)
    threads.emplace_back([&, r] {
      start.arrive_and_wait();
      unsigned n = 0;
      for (; n < 4 * ops && (n < ops || guests_running.load() > 0); ++n) reader(r, n);
      reads += n;
    });
  for (auto& t : threads) t.join();
  MESSAGE("page flips: " << flips.load());
  CHECK(flips.load() > 0);
  CHECK(g.backend->lock().control() == 0);  // nobody left holding the IPTE lock

  // Afterwards the page is valid on one of its frames, the segment valid again.
  CHECK(g.backend->storage().read_u64(g.ste) == g.ste_valid);
  const auto pte = g.backend->storage().read_u64(g.pte);
  REQUIRE(pte);
  CHECK((*pte == FlipGuest::frame_a || *pte == FlipGuest::frame_b));
  std::vector<std::uint8_t> buf(page_size);
  Memop op;
  op.kind = MemopKind::logical_read;
  op.gaddr = FlipGuest::page_p;
  op.size = static_cast<std::uint32_t>(page_size);
  op.buf = buf;
  REQUIRE(g.backend->vcpu_memop(0, op).ok());
  CHECK(all_bytes(buf, *pte == FlipGuest::frame_a ? FlipGuest::byte_a : FlipGuest::byte_b));
  return reads.load();
}

}  // namespace

// The checker itself: a page half on A and half on B, a wrong code, a wrong TEID are
// all reported (so a quiet stress run means something).
TEST_CASE("stress checker: flags torn pages, other codes and wrong TEIDs") {
  Tally t;
  std::vector<std::uint8_t> page(page_size, FlipGuest::byte_a);
  t.page(page, "test");
  CHECK(t.on_a.load() == 1);
  std::fill(page.begin() + 2048, page.end(), FlipGuest::byte_b);
  t.page(page, "test");
  CHECK(t.bad.load() == 1);
  CHECK(t.first_bad.find("torn page P") != std::string::npos);
  CHECK(t.first_bad.find("changes at +2048") != std::string::npos);
  t.exception(make_fault(PgmCode::page_translation, {}, FlipGuest::page_p, AccessMode::fetch,
                         AddressSpaceId::primary, 0),
              FlipGuest::page_p - page_size, "test");
  CHECK(t.page_invalid.load() == 1);
  CHECK(t.bad.load() == 1);
  t.exception(Fault::plain(PgmCode::addressing), 0, "test");
  CHECK(t.bad.load() == 2);
  t.exception(make_fault(PgmCode::page_translation, {}, FlipGuest::page_p + page_size, AccessMode::fetch,
                         AddressSpaceId::primary, 0),
              0, "test");
  CHECK(t.bad.load() == 3);
  CHECK(t.total() == 5);
}

TEST_SUITE("concurrency") {
  TEST_CASE("emulated backend: IPTE/IDTE + CSPG against logical MEMOP reads, never a torn page") {
    constexpr unsigned guests = 4, readers = 4;
    const unsigned ops = stress_ops();
    FlipGuest g;
    Tally tally;
    constexpr std::uint64_t p = FlipGuest::page_p;

    const unsigned reads = run_stress(g, guests, readers, ops, [&](unsigned r, unsigned n) {
      const unsigned cpu = r % 2;
      std::vector<std::uint8_t> buf(3 * page_size, 0x5a);
      Memop op;
      op.kind = MemopKind::logical_read;
      if (n % 8 == 5) {
        // Check-only (always under the lock): ok, or one of the two translation codes.
        op.gaddr = p - page_size;
        op.size = static_cast<std::uint32_t>(3 * page_size);
        op.flags = memop_flag::check_only;
        const MemopResult res = g.backend->vcpu_memop(cpu, op);
        if (res.is_exception()) {
          tally.exception(res.fault, p - page_size, "check-only");
        } else if (res.ok()) {
          ++tally.checked_ok;
        } else {
          tally.fail("check-only: host error");
        }
        return;
      }
      const bool spanning = n % 2 == 0;
      op.gaddr = spanning ? p - page_size : p;
      op.size = static_cast<std::uint32_t>(spanning ? 3 * page_size : page_size);
      op.buf = std::span<std::uint8_t>(buf).first(op.size);
      const MemopResult res = g.backend->vcpu_memop(cpu, op);
      if (res.ok()) {
        if (spanning) {
          if (!all_bytes(std::span<const std::uint8_t>(buf).first(page_size), FlipGuest::byte_c) ||
              !all_bytes(std::span<const std::uint8_t>(buf).subspan(2 * page_size, page_size), FlipGuest::byte_d))
            tally.fail("3-page read: neighbour pages wrong");
          tally.page(std::span<const std::uint8_t>(buf).subspan(page_size, page_size), "3-page read");
        } else {
          tally.page(std::span<const std::uint8_t>(buf).first(page_size), "1-page read");
        }
      } else if (res.is_exception()) {
        tally.exception(res.fault, op.gaddr, spanning ? "3-page read" : "1-page read");
        // A failed read hands back nothing.
        if (!all_bytes(std::span<const std::uint8_t>(buf).first(op.size), 0x5a))
          tally.fail("a failed logical read modified the buffer");
      } else {
        tally.fail(std::string("host error ") + std::string(host_error_name(res.error)));
      }
    });
    CHECK(tally.total() == reads);
    CHECK(reads >= readers * ops);
    tally.report("logical MEMOP");
  }

  TEST_CASE("emulated backend: IPTE/IDTE + CSPG against MemoryAccess reads (cpu, home and asce views)") {
    constexpr unsigned guests = 4, readers = 4;
    const unsigned ops = std::max(1u, stress_ops() / 2);
    FlipGuest g;
    Tally tally;
    constexpr std::uint64_t p = FlipGuest::page_p;
    const AddressSpace views[] = {AddressSpace::of(AddressSpace::Kind::cpu), AddressSpace::of(AddressSpace::Kind::home),
                                  AddressSpace::with_asce(g.asce)};

    const unsigned reads = run_stress(g, guests, readers, ops, [&](unsigned r, unsigned n) {
      MemoryAccess access(*g.backend);
      const AddressSpace& view = views[(r + n) % 3];
      std::vector<std::uint8_t> buf(3 * page_size, 0x5a);
      const ReadOutcome out = access.read(r % 2, view, p - page_size, buf);
      // The bytes returned stop at a page boundary; what they hold of P is uniform.
      if (out.bytes % page_size != 0 || out.bytes > buf.size()) {
        tally.fail("MemoryAccess: short read not at a page boundary");
        return;
      }
      if (out.bytes >= page_size && !all_bytes(std::span<const std::uint8_t>(buf).first(page_size), FlipGuest::byte_c))
        tally.fail("MemoryAccess: page P-1 wrong");
      if (out.bytes == 3 * page_size &&
          !all_bytes(std::span<const std::uint8_t>(buf).subspan(2 * page_size), FlipGuest::byte_d))
        tally.fail("MemoryAccess: page P+1 wrong");
      if (out.status.ok()) {
        if (out.bytes != 3 * page_size) tally.fail("MemoryAccess: ok but short");
        tally.page(std::span<const std::uint8_t>(buf).subspan(page_size, page_size), "MemoryAccess");
      } else if (out.status.is_exception()) {
        if (out.bytes >= 2 * page_size) {
          // The cpu view finds the good prefix with separate ops: P may have been valid
          // again by then, and what it read of P is still one frame.
          tally.page(std::span<const std::uint8_t>(buf).subspan(page_size, page_size), "MemoryAccess prefix");
        } else {
          tally.exception(out.status.fault, p - page_size, "MemoryAccess");
        }
      } else {
        tally.fail("MemoryAccess: host error");
      }
    });
    CHECK(tally.total() == reads);
    CHECK(reads >= readers * ops);
    tally.report("MemoryAccess");
  }
}
