// Reading makedumpfile's kdump-compressed format ("diskdump"), plain or flattened
// (byte_source.h), as written by makedumpfile (-c, -l, -p, -z) and by QEMU's
// dump-guest-memory (kdump-zlib, kdump-lzo, kdump-snappy). Public sources:
// makedumpfile's diskdump_mod.h (struct disk_dump_header, struct kdump_sub_header,
// page_desc_t, the DUMP_DH_* flags) and README; QEMU dump/dump.c (create_header64,
// write_dump_bitmap, write_dump_pages).
//
// Layout, in blocks of `block_size` (the page size, 4 KiB on s390x): block 0 the
// disk_dump_header; then sub_hdr_size blocks of kdump_sub_header (its ELF note blob and
// VMCOREINFO usually follow it there); then bitmap_blocks blocks of bitmaps (bitmap 1:
// pages that exist, then bitmap 2: pages dumped; one bitmap serves as both when the blocks
// hold only one); then one 24-byte page descriptor per set bit of bitmap 2, in PFN
// order; then the page data. Every multi-byte field is in the dumped machine's byte order:
// big-endian for s390x, the only one accepted.
//
// Contract: the header, the sub-header, the notes and bitmap 1 (to list the memory that
// exists) are read at open; a page is read and decompressed only when asked for. Every
// offset and size is checked against the file size and against fixed bounds before use;
// an error names the offset and the field ("kdump header at 0x0: block_size 0 (must be a
// power of two 512..65536)"). Nothing is allocated by a size the file gives without a
// bound, and nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include <tl/expected.hpp>

#include "backends/cpu_state.h"
#include "backends/dump/byte_source.h"
#include "backends/emulated/storage.h"

namespace s390b::dump {

// diskdump_mod.h
inline constexpr std::string_view kdump_signature = "KDUMP   ";  // KDUMP_SIGNATURE, 8 bytes
namespace kdump_flag {
inline constexpr std::uint32_t compressed_zlib = 0x01;    // DUMP_DH_COMPRESSED_ZLIB
inline constexpr std::uint32_t compressed_lzo = 0x02;     // DUMP_DH_COMPRESSED_LZO
inline constexpr std::uint32_t compressed_snappy = 0x04;  // DUMP_DH_COMPRESSED_SNAPPY
inline constexpr std::uint32_t incomplete = 0x08;         // DUMP_DH_COMPRESSED_INCOMPLETE
inline constexpr std::uint32_t excluded_vmemmap = 0x10;   // DUMP_DH_EXCLUDED_VMEMMAP
inline constexpr std::uint32_t compressed_zstd = 0x20;    // DUMP_DH_COMPRESSED_ZSTD
inline constexpr std::uint32_t compression_mask = compressed_zlib | compressed_lzo | compressed_snappy | compressed_zstd;
}  // namespace kdump_flag

// Byte offsets of the fields (LP64 layout of diskdump_mod.h).
namespace kdump_layout {
inline constexpr std::size_t header_size = 464;
inline constexpr std::size_t header_version = 8;    // i32
inline constexpr std::size_t utsname = 12;          // 6 x char[65]
inline constexpr std::size_t utsname_field = 65;
inline constexpr std::size_t utsname_release = utsname + 2 * utsname_field;
inline constexpr std::size_t utsname_machine = utsname + 4 * utsname_field;
inline constexpr std::size_t utsname_size = 6 * utsname_field;
inline constexpr std::size_t timestamp = 408;       // struct timeval: i64 tv_sec, i64 tv_usec
inline constexpr std::size_t status = 424;          // u32
inline constexpr std::size_t block_size = 428;      // i32
inline constexpr std::size_t sub_hdr_size = 432;    // i32, in blocks
inline constexpr std::size_t bitmap_blocks = 436;   // u32
inline constexpr std::size_t max_mapnr = 440;       // u32 (see max_mapnr_64)
inline constexpr std::size_t nr_cpus = 460;         // i32

inline constexpr std::size_t sub_size = 104;        // kdump_sub_header up to version 6
inline constexpr std::size_t phys_base = 0;         // u64
inline constexpr std::size_t dump_level = 8;        // i32
inline constexpr std::size_t split = 12;            // i32, version >= 2
inline constexpr std::size_t start_pfn = 16;        // u64, version >= 2
inline constexpr std::size_t end_pfn = 24;          // u64
inline constexpr std::size_t offset_vmcoreinfo = 32;// i64, version >= 3
inline constexpr std::size_t size_vmcoreinfo = 40;  // u64
inline constexpr std::size_t offset_note = 48;      // i64, version >= 4
inline constexpr std::size_t size_note = 56;        // u64
inline constexpr std::size_t start_pfn_64 = 80;     // u64, version >= 6
inline constexpr std::size_t end_pfn_64 = 88;       // u64
inline constexpr std::size_t max_mapnr_64 = 96;     // u64

inline constexpr std::size_t page_desc_size = 24;   // page_desc_t: i64 offset, u32 size, u32 flags, u64 page_flags
}  // namespace kdump_layout

// Bounds on what the file may claim.
inline constexpr std::uint32_t kdump_min_block_size = 512;
inline constexpr std::uint32_t kdump_max_block_size = 65536;
inline constexpr std::uint64_t kdump_max_note_size = 64 << 20;
inline constexpr std::uint64_t kdump_max_vmcoreinfo_size = 1 << 20;
// 2^40 pages: 4 PiB of memory, far beyond any s390x machine; bounds the rank index's chunks.
inline constexpr std::uint64_t kdump_max_mapnr = std::uint64_t{1} << 40;
inline constexpr std::size_t kdump_max_ranges = std::size_t{1} << 20;     // runs of bitmap 1

// Whether `head` (the file's first bytes) starts with the plain format's signature.
bool is_kdump(std::span<const std::uint8_t> head);

struct KdumpInfo {
  int version = 0;
  bool flattened = false;
  std::uint32_t status = 0;
  std::uint32_t block_size = 0;
  std::uint32_t sub_hdr_size = 0;
  std::uint32_t bitmap_blocks = 0;
  std::uint64_t max_mapnr = 0;
  int nr_cpus = 0;
  int dump_level = 0;
  bool split = false;
  std::uint64_t start_pfn = 0;  // split dumps: this file holds [start_pfn, end_pfn)
  std::uint64_t end_pfn = 0;
  bool two_bitmaps = true;
  std::string machine;  // utsname.machine ("s390x"; QEMU writes "S390X")
  std::string release;  // utsname.release
  std::string utsname;  // the six utsname fields as stored (6 x 65 bytes, NULs kept)
  std::uint64_t timestamp_sec = 0, timestamp_usec = 0;  // struct timeval
  std::uint64_t note_size = 0;  // size_note (version >= 4)
  std::uint64_t file_size = 0;  // of the (reassembled) file

  // "kdump-compressed v6, zlib, flattened".
  std::string describe() const;
};

// One page's place in the file (page_desc_t, checked).
struct KdumpPageDesc {
  std::uint64_t offset = 0;
  std::uint32_t size = 0;
  std::uint32_t flags = 0;
  std::uint64_t desc_offset = 0;  // where the descriptor itself is
};

class KdumpReader {
 public:
  struct Range {
    std::uint64_t start = 0;  // absolute, page-aligned
    std::uint64_t size = 0;
  };

  // `file` is the plain file, or what open_flattened() made of a flattened one.
  static tl::expected<std::unique_ptr<KdumpReader>, std::string> open(std::shared_ptr<ByteSource> file,
                                                                      bool flattened);

  const KdumpInfo& info() const { return info_; }
  // One per NT_PRSTATUS of the note blob, in note order (empty before version 4).
  const std::vector<CpuState>& cpus() const { return cpus_; }
  // The sub-header's VMCOREINFO, else the note blob's; trailing NULs removed.
  const std::optional<std::string>& vmcoreinfo() const { return vmcoreinfo_; }
  // Absolute memory that exists (bitmap 1), ascending and disjoint.
  const std::vector<Range>& memory() const { return memory_; }

  // Where page `pfn` is, without reading it; ENODATA (excluded, beyond an incomplete
  // dump's end, in another file of a split dump) or EIO (corrupt) otherwise.
  // A split part holds the pages of [start_pfn, end_pfn) only; the others answer ENODATA
  // "in another file of a split dump (part covers pfns [a, b))".
  tl::expected<KdumpPageDesc, PageError> locate(std::uint64_t pfn);
  // Reads and decompresses page `pfn` into `out` (block_size bytes). ESTALE naming the
  // file once the file changed since it was opened (ByteSource::changed).
  tl::expected<void, PageError> read_page(std::uint64_t pfn, std::span<std::uint8_t> out);
  // Bit `pfn` of bitmap 2, whatever the part's range: a split part carries the whole
  // bitmap (makedumpfile writes the same bitmaps into every part); nullopt when it cannot
  // be read.
  std::optional<bool> dumped(std::uint64_t pfn);

  // The errors read_page() gives: ENODATA "page at absolute 0x... is not in the dump
  // (why)", EIO "page at absolute 0x... cannot be read from the dump: what".
  static PageError not_in_dump(std::uint64_t pfn, std::string_view why);
  static PageError corrupt(std::uint64_t pfn, std::string what);

 private:
  KdumpReader() = default;
  tl::expected<void, PageError> read_page_data(std::uint64_t pfn, std::span<std::uint8_t> out);
  tl::expected<void, std::string> parse_header();
  tl::expected<void, std::string> parse_sub_header();
  tl::expected<void, std::string> scan_memory();
  // Bit `pfn` of bitmap 2; nullopt when it cannot be read.
  std::optional<bool> bit(std::uint64_t pfn);
  // Set bits of bitmap 2 before `pfn`; nullopt when the bitmap cannot be read.
  std::optional<std::uint64_t> rank(std::uint64_t pfn);
  // The bitmap-2 chunk `index` (chunk_bytes_ bytes) in chunk_; false when unreadable.
  bool load_chunk(std::uint64_t index);

  std::shared_ptr<ByteSource> file_;
  KdumpInfo info_;
  std::vector<CpuState> cpus_;
  std::optional<std::string> vmcoreinfo_;
  std::vector<Range> memory_;
  std::uint64_t bitmap1_ = 0;      // file offsets of the bitmaps
  std::uint64_t bitmap2_ = 0;
  std::uint64_t bitmap_bytes_ = 0; // bytes of one bitmap that max_mapnr needs
  std::uint64_t descs_ = 0;        // file offset of the first page descriptor
  // Rank index over bitmap 2: ranks_[k] is the number of set bits in chunks [0, k),
  // extended lazily as far as a lookup needs; chunks are sized so that it has at most
  // 2^20 entries whatever max_mapnr.
  std::uint64_t chunk_bytes_ = 4096;
  std::vector<std::uint64_t> ranks_{0};
  std::vector<std::uint8_t> chunk_;
  std::uint64_t chunk_index_ = ~std::uint64_t{0};
  std::vector<std::uint8_t> compressed_;
  std::optional<std::uint64_t> split_base_;  // rank(start_pfn) of a split part, 0 otherwise
};

// A kdump's pages as a demand source for Storage: one page read and decompressed per
// fetch. Writes go to an overlay of written pages kept here (the file is never modified,
// and the Storage cache may evict). With `zero_excluded`, pages the dump does not hold read
// as zeros (crash's --zero_excluded) instead of failing with ENODATA.
//
// A split set (makedumpfile --split) is one source over several parts: each page goes to
// the part whose [start_pfn, end_pfn) holds it, found by binary search on start_pfn (no
// per-page state). A page in no part's range (a part not given) that bitmap 2 says was
// dumped answers ENODATA "the part of the split set covering pfn 0x... was not given".
class KdumpPages final : public PageSource {
 public:
  KdumpPages(std::unique_ptr<KdumpReader> reader, bool zero_excluded);
  // `parts`: at least one, sorted by start_pfn, ranges disjoint (kdump_set.h checks that).
  KdumpPages(std::vector<std::unique_ptr<KdumpReader>> parts, bool zero_excluded);

  bool fetch(std::uint64_t page, std::span<std::uint8_t> out) override;
  bool store(std::uint64_t address, std::span<const std::uint8_t> data) override;
  PageError last_error() const override { return error_; }
  std::optional<PageError> absent(std::uint64_t page) override;

  const KdumpReader& reader() const { return *parts_.front(); }

 private:
  bool failed(PageError e) {
    error_ = std::move(e);
    return false;
  }
  // The reader that holds `pfn` (the only one for a single file), or why none does.
  tl::expected<KdumpReader*, PageError> part(std::uint64_t pfn);

  std::vector<std::unique_ptr<KdumpReader>> parts_;
  bool zero_excluded_;
  PageError error_;
  std::unordered_map<std::uint64_t, std::unique_ptr<std::uint8_t[]>> written_;  // by absolute page
};

}  // namespace s390b::dump
