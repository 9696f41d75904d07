// Builds DAT and access-register tables in emulated storage: the demo guest uses it, and
// so can tests and tools that need a guest with real tables. Tables are allocated from
// a pool of absolute storage; every entry is written with explicit big-endian stores.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include <tl/expected.hpp>

#include "backends/emulated/storage.h"
#include "translate/entries.h"

namespace s390b {

// Protection bits of a mapping built by GuestBuilder.
struct PageFlags {
  bool protect = false;  // DAT protection
  bool iep = false;
};

class GuestBuilder {
 public:
  // Tables come from absolute [pool_start, pool_end), which must be backed.
  GuestBuilder(Storage& storage, std::uint64_t pool_start, std::uint64_t pool_end);

  // Zeroed storage from the pool.
  tl::expected<std::uint64_t, std::string> allocate(std::uint64_t size, std::uint64_t alignment);

  // A new address space whose top table is of type `top` (full length, all invalid).
  tl::expected<Asce, std::string> new_space(TableType top, bool private_space = false);

  // Maps the 4 KiB page at `va` to real frame `frame`, creating missing tables.
  tl::expected<void, std::string> map_page(Asce asce, std::uint64_t va, std::uint64_t frame, PageFlags flags = {});
  // Maps `length` bytes at `va` to consecutive real frames from `frame` (4 KiB pages).
  tl::expected<void, std::string> map_range(Asce asce, std::uint64_t va, std::uint64_t frame, std::uint64_t length,
                                            PageFlags flags = {});
  // An EDAT-1 1 MiB frame (segment entry with FC=1) and an EDAT-2 2 GiB frame
  // (region-third entry with FC=1). Both frames are absolute.
  tl::expected<void, std::string> map_segment_frame(Asce asce, std::uint64_t va, std::uint64_t frame, PageFlags flags = {});
  tl::expected<void, std::string> map_region3_frame(Asce asce, std::uint64_t va, std::uint64_t frame, PageFlags flags = {});
  // Absolute address of the page-table entry for `va` (tables must exist).
  tl::expected<std::uint64_t, std::string> pte_address(Asce asce, std::uint64_t va);

  // Access lists: an access list of `entries` entries (ALD value returned), ALEs and ASTEs.
  struct AccessList {
    std::uint64_t origin = 0;
    std::uint32_t ald = 0;
  };
  tl::expected<AccessList, std::string> new_access_list(unsigned entries);
  // An ASTE designating `asce`, with sequence number `astesn`.
  tl::expected<std::uint64_t, std::string> new_aste(Asce asce, std::uint32_t astesn);
  struct AleSpec {
    bool invalid = false;
    bool fetch_only = false;
    bool private_entry = false;
    std::uint8_t alesn = 0;
    std::uint16_t aleax = 0;
    std::uint64_t aste = 0;
    std::uint32_t astesn = 0;
  };
  void set_ale(const AccessList& list, unsigned alen, const AleSpec& spec);
  // A control block (DUCT or ASTE-like) whose word at offset 16 is the ALD; returns its origin.
  tl::expected<std::uint64_t, std::string> new_duct(const AccessList& list);

  void store64(std::uint64_t absolute, std::uint64_t value);
  void store32(std::uint64_t absolute, std::uint32_t value);
  std::uint64_t load64(std::uint64_t absolute) const;
  bool write_bytes(std::uint64_t absolute, std::span<const std::uint8_t> bytes);
  bool write_string(std::uint64_t absolute, std::string_view text);  // NUL-terminated

 private:
  tl::expected<std::uint64_t, std::string> new_table(TableType type);
  tl::expected<std::uint64_t, std::string> new_page_table();
  // Walks to the entry for `va` at `level` (0 = R1 .. 3 = segment), creating tables above it.
  tl::expected<std::uint64_t, std::string> entry_for(Asce asce, std::uint64_t va, TableType level);

  Storage& storage_;
  std::uint64_t next_;
  std::uint64_t end_;
};

}  // namespace s390b
