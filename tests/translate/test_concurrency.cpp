// The IPTE-lock discipline under real threads (Linux arch/s390/kvm/gaccess.c, ipte_lock;
// docs/architecture.md, "IPTE-lock discipline"): guest IPTE-like invalidations against
// host walks, and a guest waiting behind a stream of host lockers. Bounded iteration
// counts: these also run under TSan and under qemu-user for the big-endian build.
//
// Table stores are plain (non-atomic) byte stores, so under TSan any walk that overlapped
// an invalidation would be reported as a data race: TSan checks the lock's exclusion too.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <latch>
#include <thread>
#include <vector>

#include "tests/translate/translate_support.h"
#include "translate/ipte_lock.h"

using namespace s390b;
using namespace s390b::test;

TEST_SUITE("concurrency") {
  TEST_CASE("IPTE: walks under the host guard see the old frame, the new frame or 0x11") {
    constexpr unsigned guests = 2;
    constexpr unsigned walkers = 2;
    constexpr unsigned ops = 2000;

    SparseStorage s;
    TableBuilder b(s);
    const Asce asce = TableBuilder::asce(b.region_table(TableType::region_first));  // five-level walks
    struct Page {
      std::uint64_t va;
      std::uint64_t frames[2];
      std::uint64_t pte;
    };
    std::array<Page, guests> pages{};
    for (unsigned i = 0; i < guests; ++i) {
      Page& p = pages[i];
      p.va = 0x0040000000000000 + i * 0x1000;  // same page table, adjacent PTEs
      p.frames[0] = b.data_frame();
      p.frames[1] = b.data_frame();
      p.pte = b.map_page(asce, p.va, p.frames[0]);
    }
    const std::uint64_t poison = b.data_frame();
    IpteLock lock;
    std::atomic<unsigned> bad{0};
    std::atomic<unsigned> seen_old_or_new{0};
    std::atomic<unsigned> seen_invalid{0};

    std::latch start(guests + walkers);  // maximise overlap: everybody starts together
    std::vector<std::thread> threads;
    for (unsigned g = 0; g < guests; ++g) {
      threads.emplace_back([&, g] {
        const Page& p = pages[g];
        start.arrive_and_wait();
        for (unsigned n = 0; n < ops; ++n) {
          // Each update passes through a transient state (a valid PTE to a poison frame)
          // with a yield in between, as a multi-step table update would: a walk that
          // overlapped a guest critical section would see the poison frame.
          {  // IPTE: invalidate
            IpteLock::GuestGuard guard(lock);
            s.store_u64(p.pte, poison);
            std::this_thread::yield();
            s.store_u64(p.pte, p.frames[n % 2] | PageEntry::i_bit);
          }
          std::this_thread::yield();  // let walkers queue between invalidation and re-validation
          {  // re-validate on the other frame
            IpteLock::GuestGuard guard(lock);
            s.store_u64(p.pte, poison);
            std::this_thread::yield();
            s.store_u64(p.pte, p.frames[(n + 1) % 2]);
          }
          std::this_thread::yield();
        }
      });
    }
    for (unsigned w = 0; w < walkers; ++w) {
      threads.emplace_back([&, w] {
        start.arrive_and_wait();
        for (unsigned n = 0; n < ops; ++n) {
          const Page& p = pages[(n + w) % guests];
          tl::expected<DatTranslation, DatFault> r;
          {
            IpteLock::HostGuard guard(lock);
            r = dat_translate(s, asce, p.va | 0x18, AccessMode::fetch, DatControls::all(), 0);
          }
          std::this_thread::yield();
          if (r && (r->absolute == (p.frames[0] | 0x18) || r->absolute == (p.frames[1] | 0x18))) {
            ++seen_old_or_new;
          } else if (!r && r.error().code == PgmCode::page_translation) {
            ++seen_invalid;
          } else {
            ++bad;
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(bad.load() == 0);
    CHECK(seen_old_or_new.load() + seen_invalid.load() == walkers * ops);
    CHECK(lock.control() == 0);
    MESSAGE("valid walks: " << seen_old_or_new.load() << ", invalid (0x11): " << seen_invalid.load());
  }

  TEST_CASE("IPTE lock fairness: a guest waiting behind a stream of host lockers gets the lock") {
    // Three host threads lock and unlock back to back, so KH rarely drops to 0. Once the
    // guest announces itself, the hosts get at most `cap` more acquisitions; a lock that let
    // hosts join while a guest waits would use them all up before the guest got in.
    constexpr unsigned hosts = 3;
    constexpr unsigned cap = 20000;
    IpteLock lock;
    std::atomic<bool> guest_waiting{false};
    std::atomic<bool> guest_done{false};
    std::atomic<unsigned> host_acquisitions{0};
    std::atomic<unsigned> after_wait{0};
    std::atomic<unsigned> hosts_finished{0};
    std::atomic<bool> got_it_while_stream_ran{false};
    std::atomic<unsigned> hosts_inside_with_guest{0};

    std::vector<std::thread> threads;
    for (unsigned h = 0; h < hosts; ++h) {
      threads.emplace_back([&] {
        while (!guest_done.load() && after_wait.load() < cap) {
          IpteLock::HostGuard guard(lock);
          ++host_acquisitions;
          if (guest_waiting.load()) ++after_wait;
          for (int spin = 0; spin < 20; ++spin) std::atomic_signal_fence(std::memory_order_seq_cst);
        }
        ++hosts_finished;
      });
    }
    threads.emplace_back([&] {
      while (host_acquisitions.load() < 100) std::this_thread::yield();  // the stream is running
      guest_waiting = true;
      IpteLock::GuestGuard guard(lock);
      got_it_while_stream_ran = hosts_finished.load() == 0;
      hosts_inside_with_guest = lock.host_holders();
      guest_done = true;
    });
    for (auto& t : threads) t.join();
    CHECK(got_it_while_stream_ran.load());
    CHECK(after_wait.load() < cap);
    CHECK(hosts_inside_with_guest.load() == 0);
    CHECK(lock.control() == 0);
    MESSAGE("host acquisitions: " << host_acquisitions.load() << ", after the guest queued: " << after_wait.load());
  }

  TEST_CASE("IPTE lock: concurrent try_lock_guest gives exclusive ownership") {
    IpteLock lock;
    std::atomic<int> inside{0};
    std::atomic<int> violations{0};
    std::atomic<unsigned> acquired{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        for (int n = 0; n < 2000; ++n) {
          if (!lock.try_lock_guest()) continue;
          if (inside.fetch_add(1) != 0) ++violations;
          ++acquired;
          inside.fetch_sub(1);
          lock.unlock_guest();
        }
      });
    }
    for (auto& t : threads) t.join();
    CHECK(violations.load() == 0);
    CHECK(acquired.load() > 0);
    CHECK(lock.control() == 0);
  }
}
