// Absolute guest storage for the emulated backend: a sorted set of backed ranges with
// explicit holes (an access to a hole is an addressing exception), and a storage key per
// 4 KiB frame.
//
// Providers: anonymous zeroed memory (tests, the demo guest) and a file mapped privately
// (dumps, QEMU RAM files): the mapping is MAP_PRIVATE over a read-only descriptor, so
// the kernel gives us the copy-on-write overlay and writes can never reach the file.
//
// Thread safety: ranges are fixed after set-up. Byte access is not synchronised; callers
// serialise writers (the IPTE lock does for table updates, the session for debugger
// writes). cmpxchg is atomic with respect to other cmpxchg calls. Storage keys (and the
// reference/change bits every store sets) are read and written atomically.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "translate/entries.h"
#include "translate/reader.h"

namespace s390b {

class Storage final : public AbsoluteReader {
 public:
  struct Range {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
  };

  Storage() = default;
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  Storage(Storage&&) noexcept = default;
  Storage& operator=(Storage&&) noexcept = default;

  // Adds `size` bytes of zeroed memory at absolute `start`. Ranges must not overlap.
  tl::expected<void, std::string> add_anonymous(std::uint64_t start, std::uint64_t size);
  // Maps `length` bytes of the file at `path` from `file_offset` at absolute `start`,
  // privately (copy on write). The file is opened read-only and never modified.
  tl::expected<void, std::string> add_file(std::uint64_t start, const std::string& path,
                                           std::uint64_t file_offset, std::uint64_t length);

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
  // Copies out/in; false (and nothing copied) if any byte is unbacked.
  bool read(std::uint64_t address, std::span<std::uint8_t> out) const;
  bool write(std::uint64_t address, std::span<const std::uint8_t> in);
  // Direct pointer to [address, address + length) when it lies within one range, else null
  // (even when two adjacent ranges back it: use read/write for that).
  std::uint8_t* pointer(std::uint64_t address, std::uint64_t length);
  const std::uint8_t* pointer(std::uint64_t address, std::uint64_t length) const;

  // Atomically compares `expected` with storage at `address` and stores `desired` when
  // equal; otherwise copies the current value into `expected`. Returns whether it
  // exchanged; false with `expected` untouched when a byte is unbacked or the sizes differ.
  // The operand may span adjacent ranges.
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

 private:
  struct Backing {
    std::uint64_t start = 0;
    std::uint64_t size = 0;
    std::uint8_t* data = nullptr;
    std::shared_ptr<void> owner;  // unmaps on destruction
  };
  // Keys of the frames [first_frame, first_frame + keys.size()): every frame any range
  // touches, merged across ranges that share or adjoin frames.
  struct KeyBlock {
    std::uint64_t first_frame = 0;
    std::vector<std::uint8_t> keys;
  };

  const Backing* find(std::uint64_t address) const;
  Backing* find(std::uint64_t address);
  std::uint8_t* key_byte(std::uint64_t address) const;  // null when no range touches the frame
  tl::expected<void, std::string> insert(Backing backing);
  void add_key_frames(std::uint64_t first, std::uint64_t last);

  std::vector<Backing> ranges_;       // sorted by start, disjoint
  std::vector<KeyBlock> key_blocks_;  // sorted by first_frame, disjoint, not adjacent
  std::unique_ptr<std::mutex> cmpxchg_mutex_ = std::make_unique<std::mutex>();
};

}  // namespace s390b
