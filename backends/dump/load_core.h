// Opens a dump as an emulated guest, whatever its format, detected by content (never by
// file name): an ELF core (QEMU dump-guest-memory, /proc/vmcore, zgetdump; "\x7fELF"),
// makedumpfile's kdump-compressed format, plain ("KDUMP   ") or flattened
// ("makedumpfile"; kdump.h, byte_source.h), or an s390 stand-alone dump, classic or
// s390_ext (magic 0xa8190173618f23fd / ...fe; s390_dump.h: memory mapped like ELF, CPU
// registers from the store-status save areas, save_area.h). The rest of the code sees one
// LoadedCore.
//
// ELF: PT_LOAD segments become absolute storage mapped privately from the file (writes go
// to a copy-on-write overlay, the file is never modified). kdump: the memory bitmap 1 says
// exists becomes demand ranges whose pages are read and decompressed when first used,
// through a page cache bounded by LoadOptions::cache_pages (Storage::set_cache_limit), so
// opening costs the headers and RSS stays flat whatever the dump's size; writes go to an
// overlay of written pages. A page the dump does not hold fails with ENODATA and a detail
// naming it, unless LoadOptions::zero_excluded. A split kdump set (load_core_set) is one
// page source routing each page to the part whose PFN range holds it. Per-CPU notes become vCPUs in note order,
// and an optional QEMU dump-skeys file supplies storage keys.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/emulated/emulated_backend.h"

namespace s390b::dump {

struct LoadOptions {
  // kdump, s390: pages the dump does not hold (excluded, beyond an incomplete dump's end)
  // read as zeros instead of failing with ENODATA.
  bool zero_excluded = false;
  // kdump: decompressed pages kept (4096: 16 MiB).
  std::size_t cache_pages = 4096;
};

struct LoadedCore {
  std::unique_ptr<EmulatedBackend> backend;
  std::optional<std::string> vmcoreinfo;
  std::size_t segment_count = 0;  // PT_LOADs, or the kdump's runs of memory
  std::string format;             // "ELF core", "kdump-compressed v6, zlib, flattened"
  // Where each vCPU's registers came from, one per vCPU: "ELF notes (NT_PRSTATUS at
  // 0x...)", "kdump note blob", "store-status save area at absolute 0x...".
  std::vector<std::string> cpu_sources;
  // A split kdump set: its files in PFN order; empty for a single file.
  std::vector<std::string> files;
};

tl::expected<LoadedCore, std::string> load_core(const std::string& core_path,
                                                const std::optional<std::string>& skeys_path = std::nullopt,
                                                const LoadOptions& options = {});

// Several files: the parts of one split kdump set (makedumpfile --split), in any order,
// checked to belong together (kdump_set.h); not all parts need be given. One file is
// load_core().
tl::expected<LoadedCore, std::string> load_core_set(const std::vector<std::string>& core_paths,
                                                    const std::optional<std::string>& skeys_path = std::nullopt,
                                                    const LoadOptions& options = {});

}  // namespace s390b::dump
