// Writing a guest as makedumpfile's kdump-compressed format ("diskdump"), plain or
// flattened, from any Backend: what `makedumpfile -c/-l/-p/-z [-F] [-d 1]` writes from a
// /proc/vmcore, read by crash, drgn, libkdumpfile and the bridge's own reader (kdump.h).
// Public sources: makedumpfile's diskdump_mod.h (struct disk_dump_header, struct
// kdump_sub_header, page_desc_t, DUMP_DH_*), makedumpfile.c (write_kdump_header,
// write_kdump_pages_and_bitmap_cyclic), makedumpfile.h (the flattened format: struct
// makedumpfile_header, struct makedumpfile_data_header) and its README (-d: dump level
// bit 1 excludes pages filled with zeros).
//
// Layout (block_size 4096, header_version 6, every field big-endian as the s390x kernel
// would write it): block 0 the disk_dump_header (signature "KDUMP   "; utsname the
// kernel's own init_uts_ns when it can be read (kernel_utsname.h), else sysname "Linux",
// machine "s390x", release = VMCOREINFO's OSRELEASE or empty; status = the compression's
// flag); then sub_hdr_size blocks: the kdump_sub_header immediately
// followed by the ELF note blob of elf_writer.h (offset_note/size_note), whose VMCOREINFO
// descriptor offset_vmcoreinfo/size_vmcoreinfo also point at; then bitmap 1 (pages that
// exist: the backend's memory map rounded out to pages) and bitmap 2 (pages dumped);
// then the page descriptors, one per set bit of bitmap 2 in PFN order; then the data.
// max_mapnr (32 bits, truncated) and max_mapnr_64 are the end of the highest range in
// pages; start_pfn_64 = 0, end_pfn_64 = max_mapnr.
//
// Pages: each is compressed on its own (page_codec.h) and stored raw (flags 0, size
// block_size) when compressing does not make it smaller. Zero pages are one shared
// stored page that all their descriptors point at (as makedumpfile's pd_zero), or, with
// `exclude_zero`, left out of bitmap 2 (dump level 1): the reader then says "not in the
// dump". A page the source cannot deliver because it does not hold it (ENODATA: a kdump
// source that excluded it; an addressing exception: no storage behind part of a mapped
// page) is written as excluded too (bit 1 set, bit 2 clear) and counted, instead of
// failing the dump; any other read failure (EIO: a lost QEMU connection or a corrupt
// source page, ESTALE ...) fails it, since excluding everything after it would be a
// dump that silently holds nothing.
//
// Streaming with bounded memory. The descriptors precede the data, but a descriptor
// (offset, size) is known only once its page is compressed, and which pages are dumped
// (zero, unreadable) only once each is read. Rather than read the guest twice (slow,
// and a live guest may change between the passes), the descriptor area is reserved for
// every page that exists (bitmap 1, an upper bound of bitmap 2) and the data starts
// after it. Pages are read in order, compressed, appended to the data; their
// descriptors fill the area from its start (rank in bitmap 2 = slot), written in
// batches. Excluded pages leave unused slots at the end of the area: legal, since
// readers find a descriptor by its rank and the data by the descriptor's absolute
// offset. In a plain file the unused slots are a hole (sparse, zeros); in the flattened
// stream they are written as zero records, so the stream covers the whole file as
// makedumpfile's does. Bitmap 2 is written last. Memory held: the two bitmaps
// (max_mapnr / 8 bytes each: 32 MiB per TiB of guest), one piece of guest memory, one
// batch of descriptors and one buffer of data; no per-page state.
//
// Flattened (makedumpfile -F): the 4096-byte header ("makedumpfile", type 1, version
// 1), then records {i64 offset, i64 size} + bytes, each saying where its bytes belong in
// the plain file, then {-1, -1}. Written front to back with no seek: the records for the
// headers, then data and descriptor batches as they fill, then the unused slots and the
// bitmaps.
//
// The file is written under a temporary name and renamed when complete
// (output_file.h); an interruption or a failure leaves nothing. The source is only read.
//
// Split sets (makedumpfile --split; write_kdump_split): the same pass with N outputs
// open at once; each page goes to the data and descriptors of the part whose range holds
// it (pages come in PFN order, so a cursor, not a search); each part's descriptor area
// is reserved for the pages that exist in its range; the bitmaps, computed once, are
// written whole into every part at the end.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/backend.h"
#include "backends/dump/elf_writer.h"
#include "backends/dump/kernel_utsname.h"
#include "backends/dump/page_codec.h"
#include "backends/dump/vmcoreinfo.h"

namespace s390b::dump {

inline constexpr std::uint32_t kdump_write_block_size = 4096;  // the s390x page size
inline constexpr int kdump_write_header_version = 6;           // makedumpfile's current one
// makedumpfile's dump level bit for "pages filled with zeros" (README, -d).
inline constexpr int kdump_dump_level_exclude_zero = 1;
// Files of a split set written at once (each holds an open file and ~1.1 MiB of buffers).
inline constexpr std::size_t kdump_max_split_parts = 256;

struct KdumpWriteOptions {
  PageCompression compression = PageCompression::zlib;
  bool flattened = false;
  bool exclude_zero = false;  // leave zero pages out of bitmap 2 (dump level 1)
  // As ElfWriteOptions: called after each piece; false stops the dump, nothing is left.
  std::function<bool(const DumpProgress&)> progress;
  std::size_t piece = 1 << 20;  // bytes read at a time (rounded down to whole pages)
  bool vmcoreinfo = true;       // look for the guest's VMCOREINFO
  // The source dump's own VMCOREINFO text, written when the guest's memory gives none.
  std::optional<std::string> source_vmcoreinfo;
};

// One file of a split set.
struct KdumpPartReport {
  std::string path;
  std::uint64_t start_pfn = 0, end_pfn = 0;  // the part holds the pages of [start_pfn, end_pfn)
  std::uint64_t file_size = 0;
  std::uint64_t pages_dumped = 0;
};

struct KdumpWriteReport {
  std::uint64_t file_size = 0;  // the file as written (the stream, when flattened); a split set: the sum
  std::uint64_t memory_bytes = 0;
  std::vector<MemoryMap::Range> segments;  // the memory map, merged (dump_segments)
  unsigned cpus = 0;
  std::uint64_t notes_size = 0;
  VmcoreinfoSearch vmcoreinfo;
  UtsnameSearch utsname;  // the header's utsname: the kernel's, else only sysname, release, machine
  PageCompression compression = PageCompression::zlib;
  bool flattened = false;
  std::uint64_t max_mapnr = 0;
  std::uint64_t pages_present = 0;        // bitmap 1
  std::uint64_t pages_dumped = 0;         // bitmap 2 (zero pages included unless excluded)
  std::uint64_t pages_zero = 0;           // dumped zero pages (the one shared stored page)
  std::uint64_t pages_compressed = 0;     // dumped pages whose data is compressed (the rest raw)
  std::uint64_t pages_excluded_zero = 0;  // exclude_zero
  std::uint64_t pages_unreadable = 0;     // the source does not hold them: excluded
  std::string first_unreadable;           // why the first of those could not be read
  std::vector<KdumpPartReport> parts;     // a split set, in PFN order; empty for one file
};

tl::expected<KdumpWriteReport, DumpError> write_kdump_dump(Backend& backend, const std::string& path,
                                                            const KdumpWriteOptions& options = {});

// A split set (makedumpfile --split) of paths.size() >= 2 files, in the same single pass.
// The pages that exist (bitmap 1) are divided into nearly equal counts: part k holds
// [start_k, end_k), start_0 = 0, end_{N-1} = max_mapnr, contiguous. Each part is a
// complete kdump file: the same header (one timestamp), the same note blob, both full
// bitmaps, and in its sub-header split = 1, start_pfn_64/end_pfn_64 and the old
// start_pfn/end_pfn truncated to 32 bits (as makedumpfile writes them); its descriptors
// cover the set bits of bitmap 2 in its range only, from the start of its descriptor
// area (readers index them from rank(start_pfn)). Flattened: each part its own stream.
// Every file is synced, then all are renamed: a failure or an interruption leaves none.
tl::expected<KdumpWriteReport, DumpError> write_kdump_split(Backend& backend, const std::vector<std::string>& paths,
                                                             const KdumpWriteOptions& options = {});

}  // namespace s390b::dump
