// Absolute guest storage for the emulated backend: a sorted set of backed ranges with
// explicit holes (an access to a hole is an addressing exception), and a storage key per
// 4 KiB frame.
//
// Providers: anonymous zeroed memory (tests, the demo guest); a mapped file
// (file_mapping.h), either private (dumps, QEMU RAM files read as a snapshot): MAP_PRIVATE
// over a read-only descriptor, so the kernel gives us the copy-on-write overlay and writes
// can never reach the file, or shared and writable (the RAM file of a running QEMU with
// share=on): writes through Storage land in the guest's RAM and the guest's stores show;
// sparse zero ranges (a dump segment's p_memsz beyond its p_filesz), which cost nothing
// until written: a write allocates 4 KiB overlay pages; and demand ranges, whose bytes a
// PageSource fetches a 4 KiB page at a time (a live guest reachable only through a slow
// channel, such as QEMU's gdbstub in physical-memory mode, or a kdump-compressed file). A
// fetched page stays cached until drop_cached_pages() (the guest ran), or, with
// set_cache_limit(), until it is the least recently used when the cache is full; a page
// a source cannot give (a dump's excluded page) fails the access with the source's
// PageError, recorded for take_page_error(); writes go through to the source first, then
// to the cached page if there is one. A page not cached is not fetched for a write: that
// would cost a round trip the write does not need.
//
// Cost: adding ranges in ascending order (what the loaders do) is O(1) each; a lookup is
// a binary search over the ranges; keys are sparse (frame_keys.h), and so are the overlay
// and the page cache (hash maps by page), so memory follows what is stored, written and
// fetched, never the size of the address space a file or a source claims.
//
// Thread safety: ranges are fixed after set-up. Byte access is not synchronised; callers
// serialise writers (the IPTE lock does for table updates, the session for debugger
// writes). cmpxchg is atomic with respect to other cmpxchg calls (not to a running guest
// storing into a shared file). Storage keys (and the reference/change bits every store
// sets) are read and written atomically. The overlay of zero ranges and the page cache of
// demand ranges each have their own lock. Sources are called by one thread at a time
// (Storage serialises the calls, so a PageSource need not be thread-safe, and must not
// call back into the Storage), and concurrent readers of one uncached page fetch it once.
// drop_cached_pages() frees the pages that read(), direct() and pointer() use, so it must
// not overlap any other access to the Storage: call it when the guest resumes, between
// requests.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/emulated/file_mapping.h"
#include "backends/memop.h"
#include "backends/emulated/frame_keys.h"
#include "translate/entries.h"
#include "translate/reader.h"

namespace s390b {

// Why a demand page could not be fetched or stored: the error and detail of the MEMOP
// that needed it (EmulatedBackend turns it into MemopResult::host(error, message)).
struct PageError {
  HostError error = HostError::eio;
  std::string message;  // "page at absolute 0x... is not in the dump (...)"; empty: nothing to add
};

// Fetches and stores guest absolute storage one 4 KiB page at a time for a demand range.
class PageSource {
 public:
  virtual ~PageSource() = default;
  // Fills `out` with the 4 KiB page at absolute `page` (page-aligned). False: unavailable.
  virtual bool fetch(std::uint64_t page, std::span<std::uint8_t> out) = 0;
  // Stores `data` at absolute `address` (never crosses a page). False: not stored.
  virtual bool store(std::uint64_t address, std::span<const std::uint8_t> data) = 0;
  // Why the last fetch or store that returned false failed. Default: EIO, no detail.
  virtual PageError last_error() const { return {}; }
  // Why the page at absolute `page` cannot be fetched, when the source knows without
  // fetching it (a dump whose bitmap excludes the page); nullopt: it may be fetched.
  // Check-only operations ask this instead of fetching, so that they fail where the
  // access would (MemoryAccess's search for the first failing page relies on that).
  virtual std::optional<PageError> absent(std::uint64_t /*page*/) { return std::nullopt; }
};

class Storage final : public AbsoluteReader {
 public:
  struct Range {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
  };

  Storage();
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Storage(Storage&&) noexcept;
  Storage& operator=(Storage&&) noexcept;

  // Adds `size` bytes of zeroed memory at absolute `start`. Ranges must not overlap.
  tl::expected<void, std::string> add_anonymous(std::uint64_t start, std::uint64_t size);
  // `size` bytes reading as zero at absolute `start`, costing nothing until written.
  tl::expected<void, std::string> add_zero(std::uint64_t start, std::uint64_t size);
  // `length` bytes of a mapped file from `file_offset` at absolute `start`. Writes follow
  // the mapping's mode: copy on write (the file is never modified) or, for a
  // shared_writable mapping, into the file. Many ranges may share one mapping.
  tl::expected<void, std::string> add_file(std::uint64_t start, std::shared_ptr<FileMapping> file,
                                           std::uint64_t file_offset, std::uint64_t length);
  // The same, mapping the file at `path` first (private_copy).
  tl::expected<void, std::string> add_file(std::uint64_t start, const std::string& path,
                                           std::uint64_t file_offset, std::uint64_t length);
  // `size` bytes at absolute `start` whose pages `source` fetches and stores. Both must be
  // multiples of 4 KiB: the source works in whole pages, and a page shared with another
  // range would have two owners. Many ranges may share one source.
  tl::expected<void, std::string> add_demand(std::uint64_t start, std::uint64_t size,
                                             std::shared_ptr<PageSource> source);
  // Forgets every fetched page, because the guest ran and may have changed them. Not
  // concurrently with any other access (see the thread-safety note above).
  void drop_cached_pages();
  // Bounds the page cache of demand ranges to `pages` pages (0, the default: unbounded),
  // evicting the least recently used page when a fetch would pass the bound. Choice: a
  // bounded cache never hands out pointers into demand pages (pointer() and direct()
  // return null there, reads copy under the cache lock), because a later fetch of the same
  // operation (the next fragment, the next table of a walk) could evict the page such a
  // pointer points into. Unbounded (a live guest through QEMU's gdbstub) pointers stay
  // valid until drop_cached_pages() as before. Call before any access.
  void set_cache_limit(std::size_t pages);
  std::size_t cache_limit() const;

  // Whether the sources of the demand pages in [address, address + length) know of a page
  // they cannot fetch (PageSource::absent), without fetching anything; false records the
  // page's error (take_page_error). Bytes outside demand ranges count as available: ask
  // contains_range() for those.
  bool check_available(std::uint64_t address, std::uint64_t length) const;
  // The first page error (failed fetch or store, absent page) since the last call, which
  // forgets it. EmulatedBackend takes it after every MEMOP to report why it failed.
  std::optional<PageError> take_page_error() const;

  // Whether a mapped file changed since it was mapped (file_mapping.h): every access must
  // then fail, because the bytes are no longer the file's. `files_changed` also asks fstat
  // (rate-limited); `files_faulted` is one atomic load per file, for after an access.
  bool files_changed() const;
  bool files_faulted() const;
  // "FILE changed under the server: ..." for the first changed file; nullopt if none.
  std::optional<std::string> change_description() const;

  // AbsoluteReader. Also where the 8 bytes span two adjacent ranges.
  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override;
  // Stores 8 big-endian bytes; false (nothing stored) if any byte is unbacked.
  bool write_u64(std::uint64_t address, std::uint64_t value);
  bool contains(std::uint64_t address) const override;
  const std::uint8_t* direct(std::uint64_t address, std::uint64_t length) const override {
    return pointer(address, length);
  }

  // Whether every byte of [address, address + length) is backed.
  bool contains_range(std::uint64_t address, std::uint64_t length) const;
  // Copies out/in; false (and nothing copied) if any byte is unbacked. Also false when a
  // demand page cannot be fetched (`out` then holds only the bytes before it) or its
  // source refuses a store (the pages before it are stored, and the failed page's cached
  // copy is left alone).
  bool read(std::uint64_t address, std::span<std::uint8_t> out) const;
  bool write(std::uint64_t address, std::span<const std::uint8_t> in);
  // Direct pointer to [address, address + length) when it lies within one range, else null
  // (even when two adjacent ranges back it: use read/write for that). In a zero range only
  // a page already written has bytes to point at. In a demand range the const overload
  // (direct()) points into the cached page, fetching it, when the bytes lie in one page,
  // and holds until drop_cached_pages(); the mutable one returns null there, because a
  // store through it would never reach the source.
  std::uint8_t* pointer(std::uint64_t address, std::uint64_t length);
  const std::uint8_t* pointer(std::uint64_t address, std::uint64_t length) const;

  // Atomically compares `expected` with storage at `address` and stores `desired` when
  // equal; otherwise copies the current value into `expected`. Returns whether it
  // exchanged; false with `expected` untouched when a byte is unbacked, the sizes differ,
  // or a demand page cannot be fetched or stored. The operand may span adjacent ranges.
  bool compare_exchange(std::uint64_t address, std::span<std::uint8_t> expected,
                        std::span<const std::uint8_t> desired);

  // Storage key of the absolute frame holding `address` (0 for unbacked addresses). A frame
  // backed by two ranges (a dump segment ending mid-frame, its zero tail after it) has one
  // key.
  StorageKey key(std::uint64_t address) const;
  bool set_key(std::uint64_t address, StorageKey key);
  // Sets the reference and change bits of the frame, as a hardware store does.
  void mark_changed(std::uint64_t address);

  std::vector<Range> ranges() const;
  std::uint64_t end() const;  // one past the highest backed byte
  // Overlay pages allocated in zero ranges, pages cached for demand ranges, and key leaves
  // (tests: "costs nothing", "fetched once").
  std::uint64_t overlay_pages() const;
  std::uint64_t cached_pages() const;
  std::uint64_t key_leaves() const { return keys_->leaves(); }

 private:
  struct Backing {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    std::uint8_t* data = nullptr;  // null: a zero or demand range
    std::shared_ptr<void> owner;   // unmaps on destruction
    // Non-null: a demand range (bytes in cache_ once fetched). Null with data null: a zero
    // range (bytes in overlay_ once written).
    std::shared_ptr<PageSource> source;
  };
  // 4 KiB pages by absolute page number: the written pages of zero ranges.
  struct Overlay {
    mutable std::shared_mutex mutex;
    std::unordered_map<std::uint64_t, std::unique_ptr<std::uint8_t[]>> pages;  // by absolute page
  };
  // The fetched pages of demand ranges; with a limit, also their order of use.
  struct PageCache {
    struct Entry {
      std::unique_ptr<std::uint8_t[]> bytes;
      std::list<std::uint64_t>::iterator used;  // position in `lru` (bounded only)
    };
    mutable std::shared_mutex mutex;
    std::unordered_map<std::uint64_t, Entry> pages;  // by absolute page
    std::list<std::uint64_t> lru;                    // most recently used first (bounded only)
    std::size_t limit = 0;                           // 0: unbounded
  };
  struct PageErrors {
    std::mutex mutex;
    std::optional<PageError> first;
    std::atomic<bool> any{false};  // lets take_page_error() skip the lock on every MEMOP
  };

  const Backing* find(std::uint64_t address) const;
  Backing* find(std::uint64_t address);
  tl::expected<void, std::string> insert(Backing backing);
  // Copies between a piece of one backing and `buffer`; false: a demand page failed.
  bool read_piece(const Backing& b, std::uint64_t address, std::uint8_t* out, std::size_t n) const;
  bool write_piece(Backing& b, std::uint64_t address, const std::uint8_t* in, std::size_t n);
  const std::uint8_t* overlay_page(std::uint64_t page) const;
  std::uint8_t* overlay_page_for_write(std::uint64_t page);
  // The cached copy of demand page `page`, fetched from `b`'s source if need be; null when
  // the fetch fails.
  std::uint8_t* demand_page(const Backing& b, std::uint64_t page) const;
  std::uint8_t* cached_page(std::uint64_t page) const;
  // Copies `n` bytes at absolute `address` (within one page) of a demand range out,
  // fetching the page if need be; false: the fetch failed (the error is recorded).
  bool demand_read(const Backing& b, std::uint64_t address, std::uint8_t* out, std::size_t n) const;
  // Bounded cache: copies from a cached page, marking it used; false: not cached.
  bool cached_copy(std::uint64_t page, std::size_t offset, std::uint8_t* out, std::size_t n) const;
  std::uint8_t* insert_cached(std::uint64_t page, std::unique_ptr<std::uint8_t[]> bytes) const;
  void record(PageError e) const;

  std::vector<Backing> ranges_;  // sorted by start, disjoint
  std::vector<std::shared_ptr<FileMapping>> files_;  // every mapping a range uses, once
  std::unique_ptr<FrameKeys> keys_;
  std::unique_ptr<Overlay> overlay_;
  std::unique_ptr<PageCache> cache_;
  std::unique_ptr<PageErrors> errors_ = std::make_unique<PageErrors>();
  std::unique_ptr<std::mutex> source_mutex_ = std::make_unique<std::mutex>();  // one source call at a time
  std::unique_ptr<std::mutex> cmpxchg_mutex_ = std::make_unique<std::mutex>();
};

}  // namespace s390b
