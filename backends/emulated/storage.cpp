#include "backends/emulated/storage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "translate/address.h"
#include "translate/byteorder.h"

namespace s390b {

namespace {

std::uint64_t host_page_size() {
  static const std::uint64_t size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return size;
}

std::shared_ptr<void> mapping_owner(void* base, std::size_t length) {
  return std::shared_ptr<void>(base, [length](void* p) { munmap(p, length); });
}

}  // namespace

tl::expected<void, std::string> Storage::insert(Backing backing) {
  if (backing.size == 0) return tl::unexpected(std::string("empty storage range"));
  if (backing.start + backing.size < backing.start)
    return tl::unexpected(fmt::format("storage range at {:#x} wraps the address space", backing.start));
  auto pos = std::lower_bound(ranges_.begin(), ranges_.end(), backing.start,
                              [](const Backing& b, std::uint64_t s) { return b.start < s; });
  if (pos != ranges_.end() && pos->start < backing.start + backing.size)
    return tl::unexpected(fmt::format("storage range {:#x}+{:#x} overlaps {:#x}", backing.start, backing.size, pos->start));
  if (pos != ranges_.begin()) {
    auto prev = std::prev(pos);
    if (prev->start + prev->size > backing.start)
      return tl::unexpected(fmt::format("storage range {:#x}+{:#x} overlaps {:#x}", backing.start, backing.size, prev->start));
  }
  // Keys belong to absolute 4 KiB frames, whatever the range's alignment.
  add_key_frames(backing.start >> 12, (backing.start + backing.size - 1) >> 12);
  ranges_.insert(pos, std::move(backing));
  return {};
}

void Storage::add_key_frames(std::uint64_t first, std::uint64_t last) {
  // Merge with every block that overlaps or adjoins [first, last]; keys already set keep
  // their values (set-up time only: ranges are fixed before any key is shared).
  KeyBlock merged{first, {}};
  std::uint64_t end = last + 1;
  std::vector<KeyBlock> kept;
  std::vector<KeyBlock> absorbed;
  for (auto& b : key_blocks_) {
    const std::uint64_t b_end = b.first_frame + b.keys.size();
    if (b_end < first || b.first_frame > end) {
      kept.push_back(std::move(b));
    } else {
      merged.first_frame = std::min(merged.first_frame, b.first_frame);
      end = std::max(end, b_end);
      absorbed.push_back(std::move(b));
    }
  }
  merged.keys.assign(end - merged.first_frame, 0);
  for (const auto& b : absorbed)
    std::copy(b.keys.begin(), b.keys.end(), merged.keys.begin() + static_cast<std::ptrdiff_t>(b.first_frame - merged.first_frame));
  auto pos = std::lower_bound(kept.begin(), kept.end(), merged.first_frame,
                              [](const KeyBlock& b, std::uint64_t f) { return b.first_frame < f; });
  kept.insert(pos, std::move(merged));
  key_blocks_ = std::move(kept);
}

std::uint8_t* Storage::key_byte(std::uint64_t address) const {
  const std::uint64_t frame = address >> 12;
  auto pos = std::upper_bound(key_blocks_.begin(), key_blocks_.end(), frame,
                              [](std::uint64_t f, const KeyBlock& b) { return f < b.first_frame; });
  if (pos == key_blocks_.begin()) return nullptr;
  --pos;
  if (frame - pos->first_frame >= pos->keys.size()) return nullptr;
  return const_cast<std::uint8_t*>(&pos->keys[frame - pos->first_frame]);
}

tl::expected<void, std::string> Storage::add_anonymous(std::uint64_t start, std::uint64_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return tl::unexpected(fmt::format("cannot allocate {:#x} bytes: {}", size, std::strerror(errno)));
  Backing b{start, size, static_cast<std::uint8_t*>(p), mapping_owner(p, size)};
  return insert(std::move(b));
}

tl::expected<void, std::string> Storage::add_file(std::uint64_t start, const std::string& path,
                                                  std::uint64_t file_offset, std::uint64_t length) {
  if (length == 0) return {};
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return tl::unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0 || file_offset > static_cast<std::uint64_t>(st.st_size) ||
      length > static_cast<std::uint64_t>(st.st_size) - file_offset) {
    ::close(fd);
    return tl::unexpected(fmt::format("{}: bytes {:#x}+{:#x} lie beyond the end of the file", path, file_offset, length));
  }
  // mmap needs a page-aligned file offset: map from the page below and skip the delta.
  const std::uint64_t delta = file_offset % host_page_size();
  const std::size_t map_length = static_cast<std::size_t>(length + delta);
  void* p = mmap(nullptr, map_length, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
                 static_cast<off_t>(file_offset - delta));
  const int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return tl::unexpected(fmt::format("{}: cannot map: {}", path, std::strerror(err)));
  Backing b{start, length, static_cast<std::uint8_t*>(p) + delta, mapping_owner(p, map_length)};
  return insert(std::move(b));
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
  return b->data + (address - b->start);
}

std::uint8_t* Storage::pointer(std::uint64_t address, std::uint64_t length) {
  return const_cast<std::uint8_t*>(std::as_const(*this).pointer(address, length));
}

std::optional<std::uint64_t> Storage::read_u64(std::uint64_t address) const {
  if (const std::uint8_t* p = pointer(address, 8)) return load_be64(p);
  std::uint8_t bytes[8];
  if (!read(address, bytes)) return std::nullopt;  // unbacked, or split across ranges
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
    std::memcpy(out.data() + done, b->data + off, n);
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
    std::memcpy(b->data + off, in.data() + done, n);
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
  read(address, now);  // backed, possibly across two ranges
  if (std::equal(now.begin(), now.end(), expected.begin())) {
    write(address, desired);
    return true;
  }
  std::copy(now.begin(), now.end(), expected.begin());
  return false;
}

// Key bytes are accessed atomically (relaxed): every successful store sets the frame's
// reference and change bits, and concurrent ops (cmpxchg from several threads) read the
// same key for their protection check.
StorageKey Storage::key(std::uint64_t address) const {
  if (!contains(address)) return StorageKey{};
  std::uint8_t* k = key_byte(address);
  return StorageKey{std::atomic_ref<std::uint8_t>(*k).load(std::memory_order_relaxed)};
}

bool Storage::set_key(std::uint64_t address, StorageKey key) {
  if (!contains(address)) return false;
  std::atomic_ref<std::uint8_t>(*key_byte(address)).store(key.raw, std::memory_order_relaxed);
  return true;
}

void Storage::mark_changed(std::uint64_t address) {
  if (!contains(address)) return;
  std::atomic_ref<std::uint8_t>(*key_byte(address))
      .fetch_or(StorageKey::r_bit | StorageKey::c_bit, std::memory_order_relaxed);
}

std::vector<Storage::Range> Storage::ranges() const {
  std::vector<Range> out;
  out.reserve(ranges_.size());
  for (const auto& b : ranges_) out.push_back({b.start, b.size});
  return out;
}

std::uint64_t Storage::end() const { return ranges_.empty() ? 0 : ranges_.back().start + ranges_.back().size; }

}  // namespace s390b
