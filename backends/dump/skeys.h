// Storage keys from the text file that QEMU's `dump-skeys FILE` command (HMP and QMP) writes.
//
// Format (checked against QEMU's hw/s390x/s390-skeys.c, write_keys()): one line per
// 4 KiB guest frame, frames in ascending order,
// guest memory blocks one after another:
//
//   page=<frame, lower-case hex, at least 3 digits>: key(<key byte, decimal>) => ACC=<upper-
//   case hex digit>, FP=<key & 0x08>, REF=<key & 0x04>, ch=<key & 0x02>, reserved=<key & 0x01>\n
//
// e.g. "page=01f: key(86) => ACC=5, FP=0, REF=4, ch=2, reserved=0". FP/REF/ch/reserved
// print the masked bit, not 0/1 (FP=8, REF=4, ch=2); this parser also accepts 1 for a set
// bit. key(N) is authoritative; the other fields must agree with it. `page` is the guest
// frame number (absolute address / 4096). QEMU writes nothing else (no header), and no
// file at all when the guest never enabled storage keys.
//
// Accepted beyond that: "\r\n" line ends, blank lines, a last line without "\n",
// hex digits of either case, a frame number of any width. Rejected with the line
// number: anything else on a line, a key over 255, fields contradicting key(N), a frame
// at or above 2^52, frames not strictly ascending.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "translate/entries.h"

namespace s390b::dump {

inline constexpr std::uint64_t skey_frame_size = 4096;
// Frames at or above this would not have an address below 2^64.
inline constexpr std::uint64_t skey_frame_limit = std::uint64_t{1} << 52;

struct SkeysError {
  std::size_t line = 0;  // 1-based line number
  std::string message;   // "line 3: ..."
};

// Storage keys by 4 KiB frame number, stored as runs of consecutive frames (a dump is
// one run per guest memory block), so lookups are a binary search plus an index.
class StorageKeyTable {
 public:
  struct Run {
    std::uint64_t first_frame = 0;
    std::vector<StorageKey> keys;  // keys[i] belongs to frame first_frame + i
    std::uint64_t end_frame() const { return first_frame + keys.size(); }
  };

  // The key of `frame`, or nullopt when the dump did not list it.
  std::optional<StorageKey> find(std::uint64_t frame) const;
  // Appends `key` for `frame`; false (and nothing changes) unless `frame` is above every
  // frame already held and below skey_frame_limit.
  bool append(std::uint64_t frame, StorageKey key);

  const std::vector<Run>& runs() const { return runs_; }
  std::uint64_t frame_count() const { return frame_count_; }
  bool empty() const { return runs_.empty(); }

 private:
  std::vector<Run> runs_;
  std::uint64_t frame_count_ = 0;
};

tl::expected<StorageKeyTable, SkeysError> parse_skeys(std::string_view text);

}  // namespace s390b::dump
