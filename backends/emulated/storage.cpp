#include "backends/emulated/storage.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "translate/address.h"
#include "translate/byteorder.h"

namespace s390b {

namespace {

std::shared_ptr<void> mapping_owner(void* base, std::size_t length) {
  return std::shared_ptr<void>(base, [length](void* p) { munmap(p, length); });
}

}  // namespace

Storage::Storage()
    : keys_(std::make_unique<FrameKeys>()), overlay_(std::make_unique<Overlay>()), cache_(std::make_unique<PageCache>()) {}
Storage::~Storage() = default;
Storage::Storage(Storage&&) noexcept = default;
Storage& Storage::operator=(Storage&&) noexcept = default;

tl::expected<void, std::string> Storage::insert(Backing backing) {
  if (backing.size == 0) return tl::unexpected(std::string("empty storage range"));
  if (backing.start + backing.size < backing.start)
    return tl::unexpected(fmt::format("storage range at {:#x} wraps the address space", backing.start));
  // The loaders add ranges in ascending order: append without a search or a shift, so a
  // dump with 100 000 segments loads in linear time.
  if (ranges_.empty() || ranges_.back().start + ranges_.back().size <= backing.start) {
    ranges_.push_back(std::move(backing));
    return {};
  }
  auto pos = std::lower_bound(ranges_.begin(), ranges_.end(), backing.start,
                              [](const Backing& b, std::uint64_t s) { return b.start < s; });
  if (pos != ranges_.end() && pos->start - backing.start < backing.size)
    return tl::unexpected(fmt::format("storage range {:#x}+{:#x} overlaps {:#x}", backing.start, backing.size, pos->start));
  if (pos != ranges_.begin()) {
    auto prev = std::prev(pos);
    if (backing.start - prev->start < prev->size)
      return tl::unexpected(fmt::format("storage range {:#x}+{:#x} overlaps {:#x}", backing.start, backing.size, prev->start));
  }
  ranges_.insert(pos, std::move(backing));
  return {};
}

tl::expected<void, std::string> Storage::add_anonymous(std::uint64_t start, std::uint64_t size) {
  if (size == 0) return tl::unexpected(std::string("empty storage range"));
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return tl::unexpected(fmt::format("cannot allocate {:#x} bytes: {}", size, std::strerror(errno)));
  Backing b{start, size, static_cast<std::uint8_t*>(p), mapping_owner(p, size), nullptr};
  return insert(std::move(b));
}

tl::expected<void, std::string> Storage::add_zero(std::uint64_t start, std::uint64_t size) {
  return insert(Backing{start, size, nullptr, nullptr, nullptr});
}

tl::expected<void, std::string> Storage::add_file(std::uint64_t start, std::shared_ptr<FileMapping> file,
                                                  std::uint64_t file_offset, std::uint64_t length) {
  if (length == 0) return {};
  if (file_offset > file->size() || length > file->size() - file_offset)
    return tl::unexpected(fmt::format("{}: bytes {:#x}+{:#x} lie beyond the end of the file ({:#x} bytes)", file->path(),
                                      file_offset, length, file->size()));
  Backing b{start, length, file->data() + file_offset, file, nullptr};
  if (auto r = insert(std::move(b)); !r) return r;
  if (std::find(files_.begin(), files_.end(), file) == files_.end()) files_.push_back(std::move(file));
  return {};
}

tl::expected<void, std::string> Storage::add_file(std::uint64_t start, const std::string& path,
                                                  std::uint64_t file_offset, std::uint64_t length) {
  if (length == 0) return {};
  auto file = FileMapping::open(path);
  if (!file) return tl::unexpected(file.error());
  return add_file(start, std::move(*file), file_offset, length);
}

tl::expected<void, std::string> Storage::add_demand(std::uint64_t start, std::uint64_t size,
                                                    std::shared_ptr<PageSource> source) {
  if (!source) return tl::unexpected(std::string("demand range without a page source"));
  if ((start | size) & (page_size - 1))
    return tl::unexpected(fmt::format("demand range {:#x}+{:#x} is not made of whole 4 KiB pages", start, size));
  return insert(Backing{start, size, nullptr, nullptr, std::move(source)});
}

bool Storage::files_changed() const {
  return std::any_of(files_.begin(), files_.end(), [](const auto& f) { return f->changed(); });
}

bool Storage::files_faulted() const {
  return std::any_of(files_.begin(), files_.end(), [](const auto& f) { return f->faulted(); });
}

std::optional<std::string> Storage::change_description() const {
  for (const auto& f : files_)
    if (auto d = f->change_description()) return d;
  return std::nullopt;
}

const std::uint8_t* Storage::overlay_page(std::uint64_t page) const {
  std::shared_lock lk(overlay_->mutex);
  auto it = overlay_->pages.find(page);
  return it == overlay_->pages.end() ? nullptr : it->second.get();
}

std::uint8_t* Storage::overlay_page_for_write(std::uint64_t page) {
  std::unique_lock lk(overlay_->mutex);
  auto& slot = overlay_->pages[page];
  if (!slot) slot = std::make_unique<std::uint8_t[]>(page_size);  // value-initialised: zeros
  return slot.get();
}

std::uint64_t Storage::overlay_pages() const {
  std::shared_lock lk(overlay_->mutex);
  return overlay_->pages.size();
}

std::uint8_t* Storage::cached_page(std::uint64_t page) const {
  std::shared_lock lk(cache_->mutex);
  auto it = cache_->pages.find(page);
  return it == cache_->pages.end() ? nullptr : it->second.bytes.get();
}

bool Storage::cached_copy(std::uint64_t page, std::size_t offset, std::uint8_t* out, std::size_t n) const {
  // Exclusive: a hit moves the page to the front of the use order.
  std::unique_lock lk(cache_->mutex);
  auto it = cache_->pages.find(page);
  if (it == cache_->pages.end()) return false;
  cache_->lru.splice(cache_->lru.begin(), cache_->lru, it->second.used);
  std::memcpy(out, it->second.bytes.get() + offset, n);
  return true;
}

std::uint8_t* Storage::insert_cached(std::uint64_t page, std::unique_ptr<std::uint8_t[]> bytes) const {
  std::unique_lock lk(cache_->mutex);
  auto [it, inserted] = cache_->pages.try_emplace(page);
  if (!inserted) return it->second.bytes.get();
  it->second.bytes = std::move(bytes);
  if (cache_->limit != 0) {
    cache_->lru.push_front(page);
    it->second.used = cache_->lru.begin();
    while (cache_->pages.size() > cache_->limit) {
      cache_->pages.erase(cache_->lru.back());
      cache_->lru.pop_back();
    }
  }
  return it->second.bytes.get();
}

void Storage::record(PageError e) const {
  std::lock_guard lk(errors_->mutex);
  if (!errors_->first) errors_->first = std::move(e);
  errors_->any.store(true, std::memory_order_release);
}

std::optional<PageError> Storage::take_page_error() const {
  if (!errors_->any.load(std::memory_order_acquire)) return std::nullopt;
  std::lock_guard lk(errors_->mutex);
  errors_->any.store(false, std::memory_order_relaxed);
  return std::exchange(errors_->first, std::nullopt);
}

std::uint8_t* Storage::demand_page(const Backing& b, std::uint64_t page) const {
  if (std::uint8_t* p = cached_page(page)) return p;
  std::lock_guard source_lock(*source_mutex_);
  // Another reader may have fetched it while this one waited for the source.
  if (std::uint8_t* p = cached_page(page)) return p;
  auto bytes = std::make_unique_for_overwrite<std::uint8_t[]>(page_size);
  if (!b.source->fetch(page * page_size, std::span<std::uint8_t>(bytes.get(), page_size))) {
    record(b.source->last_error());
    return nullptr;
  }
  return insert_cached(page, std::move(bytes));
}

bool Storage::demand_read(const Backing& b, std::uint64_t address, std::uint8_t* out, std::size_t n) const {
  const std::uint64_t page = address / page_size;
  const std::size_t offset = address & (page_size - 1);
  if (cache_->limit == 0) {
    const std::uint8_t* p = demand_page(b, page);
    if (!p) return false;
    std::memcpy(out, p + offset, n);
    return true;
  }
  if (cached_copy(page, offset, out, n)) return true;
  std::lock_guard source_lock(*source_mutex_);
  if (cached_copy(page, offset, out, n)) return true;
  auto bytes = std::make_unique_for_overwrite<std::uint8_t[]>(page_size);
  if (!b.source->fetch(page * page_size, std::span<std::uint8_t>(bytes.get(), page_size))) {
    record(b.source->last_error());
    return false;
  }
  std::memcpy(out, bytes.get() + offset, n);
  insert_cached(page, std::move(bytes));
  return true;
}

bool Storage::check_available(std::uint64_t address, std::uint64_t length) const {
  while (length > 0) {
    const Backing* b = find(address);
    const std::uint64_t n = b ? std::min(length, b->size - (address - b->start))
                              : std::min(length, page_size - (address & (page_size - 1)));
    if (b && b->source) {
      for (std::uint64_t page = address / page_size; page <= (address + n - 1) / page_size; ++page) {
        if (cached_page(page)) continue;
        std::lock_guard source_lock(*source_mutex_);
        if (auto e = b->source->absent(page * page_size)) {
          record(std::move(*e));
          return false;
        }
      }
    }
    address += n;
    length -= n;
  }
  return true;
}

void Storage::set_cache_limit(std::size_t pages) {
  std::unique_lock lk(cache_->mutex);
  cache_->limit = pages;
}

std::size_t Storage::cache_limit() const {
  std::shared_lock lk(cache_->mutex);
  return cache_->limit;
}

void Storage::drop_cached_pages() {
  std::unique_lock lk(cache_->mutex);
  cache_->pages.clear();
  cache_->lru.clear();
}

std::uint64_t Storage::cached_pages() const {
  std::shared_lock lk(cache_->mutex);
  return cache_->pages.size();
}

bool Storage::read_piece(const Backing& b, std::uint64_t address, std::uint8_t* out, std::size_t n) const {
  if (b.data) {
    std::memcpy(out, b.data + (address - b.start), n);
    return true;
  }
  while (n > 0) {
    const std::size_t in_page = std::min<std::size_t>(n, page_size - (address & (page_size - 1)));
    if (b.source) {
      if (!demand_read(b, address, out, in_page)) return false;
    } else if (const std::uint8_t* page = overlay_page(address / page_size)) {
      std::memcpy(out, page + (address & (page_size - 1)), in_page);
    } else {
      std::memset(out, 0, in_page);
    }
    out += in_page;
    address += in_page;
    n -= in_page;
  }
  return true;
}

bool Storage::write_piece(Backing& b, std::uint64_t address, const std::uint8_t* in, std::size_t n) {
  if (b.data) {
    std::memcpy(b.data + (address - b.start), in, n);
    return true;
  }
  while (n > 0) {
    const std::size_t in_page = std::min<std::size_t>(n, page_size - (address & (page_size - 1)));
    const std::size_t offset = address & (page_size - 1);
    if (b.source) {
      // Through to the guest first, so the cache never holds a store the guest refused.
      // Under the source lock, so a reader fetching this page meanwhile gets it either
      // before the store (and the copy below patches it) or after.
      std::lock_guard source_lock(*source_mutex_);
      if (!b.source->store(address, std::span<const std::uint8_t>(in, in_page))) {
        record(b.source->last_error());
        return false;
      }
      // Under the cache lock: a bounded cache's readers copy out under it.
      std::unique_lock lk(cache_->mutex);
      if (auto it = cache_->pages.find(address / page_size); it != cache_->pages.end())
        std::memcpy(it->second.bytes.get() + offset, in, in_page);
    } else {
      std::memcpy(overlay_page_for_write(address / page_size) + offset, in, in_page);
    }
    in += in_page;
    address += in_page;
    n -= in_page;
  }
  return true;
}

const Storage::Backing* Storage::find(std::uint64_t address) const {
  auto pos = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                              [](std::uint64_t a, const Backing& b) { return a < b.start; });
  if (pos == ranges_.begin()) return nullptr;
  --pos;
  return address - pos->start < pos->size ? &*pos : nullptr;
}

Storage::Backing* Storage::find(std::uint64_t address) {
  return const_cast<Backing*>(std::as_const(*this).find(address));
}

bool Storage::contains(std::uint64_t address) const { return find(address) != nullptr; }

bool Storage::contains_range(std::uint64_t address, std::uint64_t length) const {
  while (length > 0) {
    const Backing* b = find(address);
    if (!b) return false;
    const std::uint64_t avail = b->size - (address - b->start);
    if (avail >= length) return true;
    address += avail;
    length -= avail;
  }
  return true;
}

const std::uint8_t* Storage::pointer(std::uint64_t address, std::uint64_t length) const {
  const Backing* b = find(address);
  if (!b || b->size - (address - b->start) < length) return nullptr;
  if (b->data) return b->data + (address - b->start);
  // A zero or demand range: bytes only within one page, and in a zero range only once it
  // was written.
  if ((address & (page_size - 1)) + length > page_size) return nullptr;
  // A bounded cache may evict the page while the pointer is in use (set_cache_limit).
  if (b->source && cache_limit() != 0) return nullptr;
  const std::uint8_t* page = b->source ? demand_page(*b, address / page_size) : overlay_page(address / page_size);
  return page ? page + (address & (page_size - 1)) : nullptr;
}

std::uint8_t* Storage::pointer(std::uint64_t address, std::uint64_t length) {
  const Backing* b = find(address);
  if (b && b->source) return nullptr;  // a store through it would bypass the source
  return const_cast<std::uint8_t*>(std::as_const(*this).pointer(address, length));
}

std::optional<std::uint64_t> Storage::read_u64(std::uint64_t address) const {
  // Memory directly: the DAT walker's hot path. Through read() otherwise, so a demand page
  // that cannot be fetched is asked for once, not once by pointer() and again by read().
  const Backing* b = find(address);
  if (b && b->data && b->size - (address - b->start) >= 8) return load_be64(b->data + (address - b->start));
  std::uint8_t bytes[8];
  if (!read(address, bytes)) return std::nullopt;  // unbacked, split across ranges, or not fetched
  return load_be64(bytes);
}

bool Storage::write_u64(std::uint64_t address, std::uint64_t value) {
  std::uint8_t bytes[8];
  store_be64(bytes, value);
  return write(address, bytes);
}

bool Storage::read(std::uint64_t address, std::span<std::uint8_t> out) const {
  if (!contains_range(address, out.size())) return false;
  std::size_t done = 0;
  while (done < out.size()) {
    const Backing* b = find(address + done);
    const std::uint64_t off = address + done - b->start;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(b->size - off, out.size() - done));
    if (!read_piece(*b, address + done, out.data() + done, n)) return false;
    done += n;
  }
  return true;
}

bool Storage::write(std::uint64_t address, std::span<const std::uint8_t> in) {
  if (!contains_range(address, in.size())) return false;
  std::size_t done = 0;
  while (done < in.size()) {
    Backing* b = find(address + done);
    const std::uint64_t off = address + done - b->start;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(b->size - off, in.size() - done));
    if (!write_piece(*b, address + done, in.data() + done, n)) return false;
    done += n;
  }
  return true;
}

bool Storage::compare_exchange(std::uint64_t address, std::span<std::uint8_t> expected,
                               std::span<const std::uint8_t> desired) {
  std::lock_guard lk(*cmpxchg_mutex_);
  if (desired.size() != expected.size() || expected.size() > 16 || !contains_range(address, expected.size()))
    return false;
  std::uint8_t current[16];
  const std::span<std::uint8_t> now(current, expected.size());
  // Backed, possibly across two ranges; a demand page may still fail to fetch or store.
  if (!read(address, now)) return false;
  if (std::equal(now.begin(), now.end(), expected.begin())) return write(address, desired);
  std::copy(now.begin(), now.end(), expected.begin());
  return false;
}

// Keys live in FrameKeys, indexed by absolute frame, so a frame backed by two ranges has
// one key and frames nobody set cost nothing.
StorageKey Storage::key(std::uint64_t address) const {
  if (!contains(address)) return StorageKey{};
  return StorageKey{keys_->get(address / page_size)};
}

bool Storage::set_key(std::uint64_t address, StorageKey key) {
  if (!contains(address)) return false;
  keys_->set(address / page_size, key.raw);
  return true;
}

void Storage::mark_changed(std::uint64_t address) {
  if (!contains(address)) return;
  keys_->set_bits(address / page_size, StorageKey::r_bit | StorageKey::c_bit);
}

std::vector<Storage::Range> Storage::ranges() const {
  std::vector<Range> out;
  out.reserve(ranges_.size());
  for (const auto& b : ranges_) out.push_back({b.start, b.size});
  return out;
}

std::uint64_t Storage::end() const { return ranges_.empty() ? 0 : ranges_.back().start + ranges_.back().size; }

}  // namespace s390b
