// Reading the s390 stand-alone dump format: the classic `s390` file (what the zipl DASD
// and SCSI dumpers and `zgetdump -f s390` produce) and `s390_ext` (the extended DASD
// format) as found in a file copy of the dump partition. Public sources: s390-tools
// include/dump/s390_dump.h (struct df_s390_hdr, struct df_s390_em, struct
// df_s390_dump_segm_hdr), zdump/df_s390.c, zdump/dfi_s390.c, zipl/boot/stage2dump.c.
//
// Classic layout: a 4 KiB header (df_s390_hdr, packed, big-endian), then mem_size bytes of
// absolute memory from address 0 (file offset = 0x1000 + absolute address), then a
// 16-byte end marker: "DUMP_END" and the TOD clock at the end of the dump, which must not
// be earlier than the header's TOD (df_s390.c, df_s390_em_verify).
//
// s390_ext layout: the same header, then a chain of segments, each a 4 KiB segment header
// (start, len, stop_marker, size_on_disk, entry_count, entry_offset[]) followed by its
// data, up to the segment whose stop_marker is set; the end marker follows. Data is len
// bytes of memory when size_on_disk is 0; otherwise (header version 2 with
// zlib_version_s390 set) size_on_disk blocks holding one zlib stream per
// zlib_entry_size (1 MiB) chunk of memory, chunk i at entry_offset[i] blocks from the
// start of the segment's data, stored raw when bit 31 of entry_offset[i] is set. Memory
// between and after segments reads as zeros. Assumption: the block size is 4 KiB. zgetdump
// asks the DASD for it (BLKSSZGET) and a file has no such ioctl; the dumper writes
// s390_ext only to ECKD/FBA DASD partitions formatted with 4 KiB blocks (the format
// zipl's dumper requires, dasdfmt -b 4096), so a file copy of such a partition has
// 4 KiB blocks.
//
// Contract: every header field is checked, with an error naming the offset and the field
// ("s390 dump header at 0x14: page_size 0x2000 (must be 0x1000)"). A dump that stops
// early (no end marker, a file shorter than its memory, a segment chain that ends before
// its stop marker) opens with the memory that is there and says so (S390DumpLayout::
// complete, incomplete_reason); the rest fails with ENODATA "not in the dump" through
// reads, or reads as zeros with LoadOptions::zero_excluded. Nothing is read whole: memory
// is the file mapped privately (FileMapping), compressed chunks are decompressed when a
// page of theirs is first read. Not supported: multi-volume dumps (mvdump set; zgetdump
// reads them from the DASD volumes), tape dumps, 31-bit dumps (arch 1).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "backends/cpu_state.h"
#include "backends/dump/byte_source.h"
#include "backends/emulated/storage.h"

namespace s390b::dump {

inline constexpr std::uint64_t s390_dump_magic = 0xa8190173618f23fdull;      // DF_S390_MAGIC
inline constexpr std::uint64_t s390_ext_dump_magic = 0xa8190173618f23feull;  // DF_S390_MAGIC_EXT
inline constexpr std::uint64_t s390_end_marker_magic = 0x44554d505f454e44ull;  // "DUMP_END"

// Offsets of struct df_s390_hdr and friends (s390-tools include/dump/s390_dump.h).
namespace s390_layout {
inline constexpr std::uint64_t header_size = 0x1000;  // DF_S390_HDR_SIZE
inline constexpr std::size_t magic = 0x000;           // u64
inline constexpr std::size_t version = 0x008;         // u32
inline constexpr std::size_t hdr_size = 0x00c;        // u32
inline constexpr std::size_t dump_level = 0x010;      // u32
inline constexpr std::size_t page_size = 0x014;       // u32
inline constexpr std::size_t mem_size = 0x018;        // u64
inline constexpr std::size_t mem_start = 0x020;       // u64
inline constexpr std::size_t mem_end = 0x028;         // u64
inline constexpr std::size_t num_pages = 0x030;       // u32
inline constexpr std::size_t tod = 0x038;             // u64
inline constexpr std::size_t cpu_id = 0x040;          // u64
inline constexpr std::size_t arch = 0x048;            // u32
inline constexpr std::size_t volnr = 0x04c;           // u32
inline constexpr std::size_t build_arch = 0x050;      // u32
inline constexpr std::size_t mem_size_real = 0x054;   // u64 (unaligned: the struct is packed)
inline constexpr std::size_t mvdump = 0x05c;          // u8
inline constexpr std::size_t cpu_cnt = 0x05d;         // u16
inline constexpr std::size_t real_cpu_cnt = 0x05f;    // u16
inline constexpr std::size_t zlib_version_s390 = 0x061;    // u8 zlib_version_s390
inline constexpr std::size_t zlib_entry_size = 0x062; // u32
inline constexpr std::size_t lc_vec = 0x800;          // u32[512]
inline constexpr unsigned cpu_max = 512;              // DF_S390_CPU_MAX

inline constexpr std::uint64_t end_marker_size = 16;  // DF_S390_EM_SIZE: "DUMP_END", u64 TOD

// struct df_s390_dump_segm_hdr, one 4 KiB page before each s390_ext segment's data.
inline constexpr std::uint64_t segment_header_size = 0x1000;
inline constexpr std::size_t segment_start = 0x00;         // u64 absolute address
inline constexpr std::size_t segment_len = 0x08;           // u64 bytes of memory
inline constexpr std::size_t segment_stop_marker = 0x10;   // u64, non-zero on the last segment
inline constexpr std::size_t segment_size_on_disk = 0x18;  // u32 blocks; 0 = not compressed
inline constexpr std::size_t segment_entry_count = 0x30;   // u32
inline constexpr std::size_t segment_entry_offset = 0x34;  // u32[entry_count]
inline constexpr std::uint32_t max_segment_entries = 1011; // DUMP_SEGM_ZLIB_MAXENTS
inline constexpr std::uint32_t entry_uncompressed = 0x80000000;  // DUMP_SEGM_ENTRY_UNCOMPRESSED
inline constexpr std::uint64_t ext_block_size = 4096;      // see the file comment
}  // namespace s390_layout

inline constexpr std::uint32_t s390_page_size = 4096;
inline constexpr std::uint32_t s390_dump_level = 4;   // what the dumpers and zgetdump write
inline constexpr std::uint32_t s390_arch_64 = 2;      // DF_S390_ARCH_64 (1: 31-bit)
// Header version from which lc_vec holds the CPUs' prefixes (df_s390.c: older classic
// dumps have no CPU list); zgetdump's s390 output writes 5 when it has registers.
inline constexpr std::uint32_t s390_version_with_cpus = 5;
inline constexpr std::uint32_t s390_ext_version_zlib = 2;

// Whether the file's first 8 bytes are the classic or the extended magic.
bool is_s390_dump(std::span<const std::uint8_t> head);

struct S390DumpHeader {
  bool extended = false;  // s390_ext magic
  std::uint32_t version = 0;
  std::uint32_t dump_level = 0;
  std::uint64_t mem_size = 0;
  std::uint32_t num_pages = 0;
  std::uint64_t tod = 0;
  std::uint64_t cpu_id = 0;
  std::uint32_t build_arch = 0;
  std::uint64_t mem_size_real = 0;
  std::uint16_t real_cpu_cnt = 0;
  std::uint8_t zlib_version_s390 = 0;
  std::uint32_t zlib_entry_size = 0;
  std::vector<std::uint32_t> lc_vec;  // cpu_cnt prefixes (none before version 5, classic)
};

// Parses and checks the 4 KiB header (`bytes` holds at least s390_layout::header_size).
tl::expected<S390DumpHeader, std::string> parse_s390_header(std::span<const std::uint8_t> bytes);

// One run of absolute memory and where its bytes are.
struct S390MemoryPiece {
  enum class Kind : std::uint8_t {
    file,        // bytes at file_offset
    zero,        // between or after s390_ext segments
    compressed,  // compressed s390_ext segment `segment`
    missing,     // past the end of an incomplete dump
  };
  Kind kind = Kind::file;
  std::uint64_t start = 0;
  std::uint64_t size = 0;
  std::uint64_t file_offset = 0;  // file
  std::size_t segment = 0;        // compressed: index into S390DumpLayout::compressed
};

struct S390CompressedSegment {
  std::uint64_t start = 0;        // absolute
  std::uint64_t len = 0;          // bytes of memory
  std::uint64_t data_offset = 0;  // file offset of the segment's data
  std::uint64_t data_size = 0;    // size_on_disk blocks, in bytes
  std::uint64_t header_offset = 0;
  std::vector<std::uint32_t> entries;  // entry_offset[]
};

struct S390DumpLayout {
  S390DumpHeader header;
  std::vector<S390MemoryPiece> memory;  // ascending, page-aligned, covering [0, mem_size)
  std::vector<S390CompressedSegment> compressed;
  std::size_t segments = 0;  // s390_ext segments read (classic: 1)
  bool complete = true;
  std::string incomplete_reason;  // "ends at 0x...", "no end marker at file offset 0x..."
  std::optional<std::uint64_t> end_tod;  // the end marker's TOD, when there is one
};

// Reads the header and (s390_ext) the segment chain of `file` and says where each byte of
// memory is. Errors name the file offset and the field.
tl::expected<S390DumpLayout, std::string> scan_s390_dump(const ByteSource& file);

// Serves the compressed segments and the missing tail of a layout to Storage one page at
// a time: a compressed chunk is decompressed when first needed (the last one is kept);
// missing pages fail with ENODATA; written pages are kept in an overlay, as for kdump.
class S390Pages final : public PageSource {
 public:
  S390Pages(std::shared_ptr<ByteSource> file, const S390DumpLayout& layout);

  bool fetch(std::uint64_t page, std::span<std::uint8_t> out) override;
  bool store(std::uint64_t address, std::span<const std::uint8_t> data) override;
  PageError last_error() const override { return error_; }
  std::optional<PageError> absent(std::uint64_t page) override;

 private:
  bool failed(PageError e) {
    error_ = std::move(e);
    return false;
  }
  bool fetch_compressed(std::uint64_t page, std::span<std::uint8_t> out);
  const S390MemoryPiece* find(std::uint64_t page) const;

  std::shared_ptr<ByteSource> file_;
  std::vector<S390MemoryPiece> pieces_;  // compressed and missing only
  std::vector<S390CompressedSegment> segments_;
  std::uint32_t entry_size_ = 0;
  std::string missing_reason_;
  PageError error_;
  // The last decompressed chunk: segment index, chunk index, bytes.
  std::optional<std::pair<std::size_t, std::size_t>> chunk_key_;
  std::vector<std::uint8_t> chunk_;
  std::vector<std::uint8_t> compressed_;
  std::unordered_map<std::uint64_t, std::unique_ptr<std::uint8_t[]>> written_;  // by page number
};

// An opened s390 dump: storage (not yet with storage keys), CPUs from the save areas of
// lc_vec's prefixes, and what `info` says about them.
struct S390Dump {
  Storage storage;
  std::vector<CpuState> cpus;
  std::vector<std::string> cpu_sources;
  std::string format;  // "s390 stand-alone dump (s390), 4 CPUs, complete"
  std::size_t segments = 0;
};

// `zero_missing`: pages an incomplete dump lacks read as zeros (LoadOptions::zero_excluded).
tl::expected<S390Dump, std::string> open_s390_dump(const std::string& path, bool zero_missing);

}  // namespace s390b::dump
