// Writing a guest as a classic s390 stand-alone dump (the `s390` format s390_dump.h reads),
// laid out as zgetdump's s390 output writes it (s390-tools zdump/dfo_s390.c): a 4 KiB
// header (df_s390_hdr: version 5, hdr_size 0x1000, dump_level 4, page_size 4096,
// mem_size = mem_end = the end of the highest absolute storage range rounded up to 4 KiB,
// num_pages, TOD, arch 2, build_arch 2, mem_size_real, cpu_cnt, real_cpu_cnt, lc_vec),
// then absolute memory 0..mem_size, then the end marker "DUMP_END" with the TOD at the end.
//
// Registers: each CPU's registers go into the store-status save area of its prefix area
// *in the output* (absolute prefix + 0x1200..0x1400, save_area.h), overriding what memory
// held there, as the stand-alone dumper's store status does; the CKC is stored as
// CKC >> 8 (bits 56-63 are lost, as with a real store status). When the CPU has vector
// registers and its lowcore (at prefix + 0x11b0) designates a vector save area inside the
// dump, they go there too, as zgetdump does. A CPU whose prefix is unknown, 0, not 8 KiB
// aligned, shared with an earlier CPU or whose prefix area lies beyond mem_size is left
// out of lc_vec with a warning in the report (real_cpu_cnt still counts it).
//
// Memory gaps between ranges are written as zeros (the format has no holes); pages a range
// holds but that cannot be read (a kdump's excluded pages, an incomplete dump's tail) are
// written as zeros too and counted in the report. Memory is read with absolute MEMOPs a
// piece at a time and streamed: memory use is one piece. The file is written under a
// temporary name and renamed when complete (output_file.h).
//
// cpu_id is 0 (the Backend interface has no STIDP value); the TOD is the host's clock
// converted to the TOD epoch: (microseconds since 1970 << 12) + 0x7d91048bca000000
// (zdump/df_s390.c).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/backend.h"
#include "backends/dump/elf_writer.h"

namespace s390b::dump {

inline constexpr std::uint32_t s390_writer_version = 5;  // zgetdump dfo_s390: 5 with registers
inline constexpr std::uint64_t tod_unix_epoch = 0x7d91048bca000000ull;  // TOD at 1970-01-01 00:00 UTC

// TOD clock value for microseconds since the Unix epoch.
constexpr std::uint64_t tod_from_unix_us(std::uint64_t us) { return (us << 12) + tod_unix_epoch; }

struct S390WriteOptions {
  // Called after each piece of memory; returning false stops the dump (interrupted), and
  // nothing is left at the output path.
  std::function<bool(const DumpProgress&)> progress;
  std::size_t piece = 1 << 20;  // bytes read and written at a time
  // The header's TOD; nullopt: the host's clock now. The end marker gets the clock at the
  // end (never earlier than the header's).
  std::optional<std::uint64_t> tod;
};

struct S390WriteReport {
  std::uint64_t file_size = 0;
  std::uint64_t mem_size = 0;                 // header mem_size
  std::vector<MemoryMap::Range> segments;     // the source's ranges (merged)
  std::uint64_t gap_bytes = 0;                // written as zeros: no range holds them
  std::uint64_t unreadable_bytes = 0;         // written as zeros: a range holds them, reads failed
  std::vector<std::string> unreadable;        // the first few unreadable pages and why
  unsigned cpus = 0;                          // the source's (real_cpu_cnt)
  std::vector<std::uint32_t> lc_vec;          // CPUs written (cpu_cnt), their prefixes
  unsigned vector_areas = 0;                  // CPUs whose vector registers were written
  std::vector<std::string> warnings;          // "cpu 1: prefix 0: not in lc_vec ..."
  std::uint64_t tod = 0;
};

tl::expected<S390WriteReport, DumpError> write_s390_dump(Backend& backend, const std::string& path,
                                                          const S390WriteOptions& options = {});

}  // namespace s390b::dump
