// Positioned reads of a dump file without mapping it: the file itself (pread, so reading
// a 2 GiB dump lazily costs no resident memory beyond what is being decoded), bytes in
// memory (tests, fuzzing), or makedumpfile's flattened format seen as the file it
// describes (makedumpfile `-F`, and what QEMU's dump-guest-memory writes for kdump-*):
// a 4 KiB header with the signature "makedumpfile", then records {i64 offset, i64 size}
// (big-endian) each followed by `size` bytes that belong at `offset` of the real file,
// ended by {-1, -1} (makedumpfile's makedumpfile.h, MAKEDUMPFILE_SIGNATURE,
// struct makedumpfile_header / makedumpfile_data_header; its README, "-F" and "-R").
//
// The flattened index is built once at open: one read of each record header (buffered),
// at most `max_flattened_records` records, sorted by offset (O(n log n)); a later record
// wins where two overlap, as it would when the stream is written out. Bytes no record
// covers read as zeros, as in the reassembled file.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace s390b::dump {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Bytes in the (logical) file.
  virtual std::uint64_t size() const = 0;
  // Fills `out` with the bytes at `offset`; false when they are not all in the file (or
  // the file shrank since it was opened).
  virtual bool read(std::uint64_t offset, std::span<std::uint8_t> out) const = 0;
  // Whether the file is no longer what was opened (its size or modification time moved:
  // written in place, truncated, appended to), and how: "FILE changed under the server:
  // size 0x... -> 0x...". A file replaced by rename is not a change: the open file is
  // still the old one. Costs one fstat; nullopt for bytes in memory.
  virtual std::optional<std::string> changed() const { return std::nullopt; }
};

// The file at `path`, read with pread. A FIFO or directory is refused.
tl::expected<std::shared_ptr<ByteSource>, std::string> open_file_source(const std::string& path);
// `bytes`, not copied: the caller keeps them alive.
std::shared_ptr<ByteSource> memory_source(std::span<const std::uint8_t> bytes);

inline constexpr std::string_view flattened_signature = "makedumpfile";  // in a 16-byte field
inline constexpr std::uint64_t flattened_header_size = 4096;
inline constexpr std::int64_t flattened_type = 1;     // TYPE_FLAT_HEADER
inline constexpr std::int64_t flattened_version = 1;  // VERSION_FLAT_HEADER
inline constexpr std::int64_t flattened_end = -1;     // END_FLAG_FLAT_HEADER
inline constexpr std::uint64_t flattened_record_header = 16;
inline constexpr std::uint64_t max_flattened_hole = 1 << 20;  // see open_flattened
inline constexpr std::size_t max_flattened_records = std::size_t{1} << 24;  // 384 MiB of index at most

// Whether `head` (the file's first bytes) starts with the flattened signature.
bool is_flattened(std::span<const std::uint8_t> head);

struct FlattenedStats {
  std::uint64_t records = 0;
  bool end_marker = false;  // the stream ended with {-1, -1} (else: the file ended)
};

// The file `raw` describes in the flattened format. The records must cover at least half
// of the file they describe, less max_flattened_hole (real streams cover nearly all of it:
// this bounds the zeros a reader may have to walk through). Errors name the raw file offset and
// the field ("flattened record at 0x1010: size 0x... runs past the end of the file").
tl::expected<std::shared_ptr<ByteSource>, std::string> open_flattened(std::shared_ptr<ByteSource> raw,
                                                                       FlattenedStats* stats = nullptr);

}  // namespace s390b::dump
