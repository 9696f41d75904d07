// Guest storage and translation tables for translate/ tests (and backend tests): a sparse
// absolute storage that is an AbsoluteReader, and a builder that lays out DAT tables
// (region-first .. page) and access-register structures (DUCT, ASTE, access list, ALE,
// authority table) in it through explicit big-endian stores. Tests describe tables with
// these helpers instead of hand-written byte arrays.
//
// Layout conventions (Linux arch/s390/kvm/gaccess.c, arch/s390/include/asm/dat-bits.h):
// - A region or segment table with offset TF and length TL occupies the 4 KiB pages
//   TF..TL of its 16 KiB slot; only those pages are backed, so a walker that reads an
//   entry outside TF..TL sees an addressing exception rather than silently succeeding.
// - Fresh tables hold invalid entries of the right table type (I bit set), like Linux's
//   _REGION_ENTRY_EMPTY / _SEGMENT_ENTRY_EMPTY / _PAGE_INVALID.
// - Everything the builder writes is at absolute addresses. ART tables are read by the
//   walker at real addresses, so keep them (and DAT tables) away from real 0-8 KiB and
//   the prefix area unless a test is about prefixing; the default arenas are.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "translate/address.h"
#include "translate/byteorder.h"
#include "translate/dat.h"
#include "translate/entries.h"
#include "translate/reader.h"

namespace s390b::test {

inline constexpr std::uint64_t kib = 1024;
inline constexpr std::uint64_t mib = 1024 * kib;
inline constexpr std::uint64_t gib = 1024 * mib;

// Sparse absolute storage: a map of 4 KiB frames; every other address is a hole
// (an addressing exception to the walker). Reads from several threads are safe while no
// thread adds or removes frames; byte stores are plain (tests synchronise them, e.g. with
// the IPTE lock under test).
class SparseStorage final : public AbsoluteReader {
 public:
  using Frame = std::array<std::uint8_t, page_size>;

  // Backs every frame overlapping [address, address + size) with zeroes (existing frames
  // keep their contents).
  void back(std::uint64_t address, std::uint64_t size = page_size) {
    if (size == 0) return;
    const std::uint64_t first = address & page_mask;
    const std::uint64_t last = (address + (size - 1)) & page_mask;
    for (std::uint64_t f = first;; f += page_size) {
      auto& slot = frames_[f];
      if (!slot) slot = std::make_unique<Frame>(Frame{});
      if (f == last) break;
    }
  }
  // Turns every frame overlapping [address, address + size) into a hole.
  void unback(std::uint64_t address, std::uint64_t size = page_size) {
    if (size == 0) return;
    const std::uint64_t first = address & page_mask;
    const std::uint64_t last = (address + (size - 1)) & page_mask;
    for (std::uint64_t f = first;; f += page_size) {
      frames_.erase(f);
      if (f == last) break;
    }
  }

  bool contains(std::uint64_t address) const override { return find(address) != nullptr; }

  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override {
    if (address & 7) misaligned_reads_ = true;  // the AbsoluteReader contract says aligned
    const Frame* f = find(address);
    if (!f) return std::nullopt;
    return load_be64(f->data() + (address & ~page_mask & ~std::uint64_t{7}));
  }

  // Test-side access. Storing into a hole is a bug in the test: it throws.
  void store_u64(std::uint64_t address, std::uint64_t value) { store_be64(at(address, 8), value); }
  void store_u32(std::uint64_t address, std::uint32_t value) { store_be32(at(address, 4), value); }
  void store_u8(std::uint64_t address, std::uint8_t value) { *at(address, 1) = value; }
  std::uint64_t load_u64(std::uint64_t address) const { return load_be64(at(address, 8)); }
  std::uint32_t load_u32(std::uint64_t address) const { return load_be32(at(address, 4)); }
  std::uint8_t load_u8(std::uint64_t address) const { return *at(address, 1); }
  // Fills [address, address + size) with `byte` (backed frames only).
  void fill(std::uint64_t address, std::uint64_t size, std::uint8_t byte) {
    for (std::uint64_t a = address; a < address + size; ++a) *at(a, 1) = byte;
  }

  std::size_t frame_count() const { return frames_.size(); }
  const std::map<std::uint64_t, std::unique_ptr<Frame>>& frames() const { return frames_; }
  bool saw_misaligned_read() const { return misaligned_reads_; }

 private:
  const Frame* find(std::uint64_t address) const {
    auto it = frames_.find(address & page_mask);
    return it == frames_.end() ? nullptr : it->second.get();
  }
  std::uint8_t* at(std::uint64_t address, unsigned size) {
    return const_cast<std::uint8_t*>(static_cast<const SparseStorage*>(this)->at(address, size));
  }
  const std::uint8_t* at(std::uint64_t address, unsigned size) const {
    if ((address & ~page_mask) + size > page_size)
      throw std::logic_error("test store crosses a page boundary");
    const Frame* f = find(address);
    if (!f) throw std::logic_error("test access to unbacked absolute address " + std::to_string(address));
    return f->data() + (address & ~page_mask);
  }

  std::map<std::uint64_t, std::unique_ptr<Frame>> frames_;
  mutable bool misaligned_reads_ = false;
};

// Wraps a reader and records every doubleword address read (for "which tables did the
// walker touch" assertions: prefixing of tables, no reads before an ASCE-type exception).
class RecordingReader final : public AbsoluteReader {
 public:
  explicit RecordingReader(const AbsoluteReader& inner) : inner_(inner) {}
  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override {
    reads_.push_back(address);
    return inner_.read_u64(address);
  }
  bool contains(std::uint64_t address) const override { return inner_.contains(address); }
  const std::vector<std::uint64_t>& reads() const { return reads_; }
  bool read(std::uint64_t address) const {
    return std::find(reads_.begin(), reads_.end(), address) != reads_.end();
  }
  void clear() { reads_.clear(); }

 private:
  const AbsoluteReader& inner_;
  mutable std::vector<std::uint64_t> reads_;
};

// A table the builder laid out. `tf`/`tl` count 512-entry (4 KiB) pages and only apply to
// region and segment tables.
struct Table {
  WalkLevel level = WalkLevel::page;
  std::uint64_t origin = 0;
  unsigned tf = 0;
  unsigned tl = 3;

  std::uint64_t entry_address(unsigned index) const { return origin + std::uint64_t{index} * 8; }
};

// The table type a region/segment table's entries carry in TT (and an ASCE in DT).
constexpr TableType table_type_of(WalkLevel level) {
  switch (level) {
    case WalkLevel::region_first: return TableType::region_first;
    case WalkLevel::region_second: return TableType::region_second;
    case WalkLevel::region_third: return TableType::region_third;
    default: return TableType::segment;
  }
}
constexpr WalkLevel level_of(TableType type) {
  switch (type) {
    case TableType::region_first: return WalkLevel::region_first;
    case TableType::region_second: return WalkLevel::region_second;
    case TableType::region_third: return WalkLevel::region_third;
    case TableType::segment: return WalkLevel::segment;
  }
  return WalkLevel::segment;
}
constexpr WalkLevel next_level(WalkLevel level) { return static_cast<WalkLevel>(static_cast<unsigned>(level) + 1); }

// The index of `va` into a table of `level` (RFX, RSX, RTX, SX, PX).
constexpr unsigned index_of(std::uint64_t va, WalkLevel level) {
  const VirtualAddress v{va};
  switch (level) {
    case WalkLevel::region_first: return v.rfx();
    case WalkLevel::region_second: return v.rsx();
    case WalkLevel::region_third: return v.rtx();
    case WalkLevel::segment: return v.sx();
    case WalkLevel::page: return v.px();
  }
  return 0;
}

// Field encoders (value masks from Linux arch/s390/include/asm/dat-bits.h).
constexpr std::uint64_t tt_bits(TableType t) { return std::uint64_t{static_cast<std::uint8_t>(t)} << 2; }
constexpr std::uint64_t tf_bits(unsigned tf) { return std::uint64_t{tf & 3} << 6; }
constexpr std::uint64_t tl_bits(unsigned tl) { return std::uint64_t{tl & 3}; }

// An empty (invalid) entry of a table at `level`.
constexpr std::uint64_t empty_entry(WalkLevel level) {
  switch (level) {
    case WalkLevel::region_first:
    case WalkLevel::region_second:
    case WalkLevel::region_third: return RegionEntry::i_bit | tt_bits(table_type_of(level));
    case WalkLevel::segment: return SegmentEntry::i_bit;
    case WalkLevel::page: return PageEntry::i_bit;
  }
  return 0;
}

// Access-list entry contents (layout from Linux arch/s390/kvm/gaccess.c). `aste` is the
// ASTE's real address.
struct AleSpec {
  bool invalid = false;
  bool fetch_only = false;
  bool private_entry = false;
  unsigned alesn = 0;
  unsigned aleax = 0;
  std::uint32_t aste = 0;
  std::uint32_t astesn = 0;
};

// ASN-second-table entry contents (first 24 bytes, layout from Linux
// arch/s390/kvm/gaccess.c). `ato` is the authority
// table's real address (ATO * 4), `atl` its length field (EAX / 16 <= ATL passes).
struct AsteSpec {
  Asce asce;
  bool invalid = false;
  std::uint32_t ald = 0;
  std::uint32_t astesn = 0;
  std::uint32_t ato = 0;
  unsigned atl = 0;
  unsigned ax = 0;
  bool base_space = false;
};

// An access list: (all + 1) * 8 entries of 16 bytes at a 128-byte aligned real origin.
struct AccessList {
  std::uint64_t origin = 0;
  unsigned all = 0;

  std::uint32_t ald() const { return static_cast<std::uint32_t>(origin) | (all & Ald::length_mask); }
  std::uint64_t ale_address(unsigned alen) const { return origin + std::uint64_t{alen} * 16; }
};

inline constexpr Alet make_alet(bool primary_list, unsigned alesn, unsigned alen) {
  return Alet{(primary_list ? Alet::p_bit : 0u) | ((alesn & 0xff) << 16) | (alen & 0xffff)};
}

class TableBuilder {
 public:
  // Default arenas: DAT/ART tables from 16 MiB, data frames from 256 MiB (both below 2 GiB,
  // both clear of real 0-8 KiB; tests keep the prefix below 16 MiB).
  static constexpr std::uint64_t default_table_arena = 16 * mib;
  static constexpr std::uint64_t default_data_arena = 256 * mib;

  explicit TableBuilder(SparseStorage& storage, std::uint64_t table_arena = default_table_arena,
                        std::uint64_t data_arena = default_data_arena)
      : s_(storage), next_table_(table_arena), next_data_(data_arena) {}

  SparseStorage& storage() { return s_; }

  // Reserves (does not back) `size` bytes of the table arena.
  std::uint64_t allocate(std::uint64_t size, std::uint64_t align = page_size) {
    next_table_ = (next_table_ + align - 1) & ~(align - 1);
    const std::uint64_t at = next_table_;
    next_table_ += size;
    return at;
  }
  // A fresh backed 4 KiB data frame (a distinct one each call).
  std::uint64_t data_frame() {
    const std::uint64_t f = next_data_;
    next_data_ += page_size;
    s_.back(f);
    return f;
  }

  // ---- DAT tables -------------------------------------------------------------------

  // A region table (`type` region_first/second/third) or segment table (`type` segment)
  // with all entries invalid; pages tf..tl of its 16 KiB slot are backed.
  Table region_table(TableType type, unsigned tf = 0, unsigned tl = 3) {
    return table_at(level_of(type), allocate(4 * page_size), tf, tl);
  }
  Table segment_table(unsigned tf = 0, unsigned tl = 3) { return region_table(TableType::segment, tf, tl); }
  // A page table: 256 invalid entries, 2 KiB aligned.
  Table page_table() { return table_at(WalkLevel::page, allocate(2 * kib, 2 * kib)); }

  // Lays out a table of `level` at absolute `origin` (tests about table placement).
  Table table_at(WalkLevel level, std::uint64_t origin, unsigned tf = 0, unsigned tl = 3) {
    Table t{level, origin, tf, tl};
    if (level == WalkLevel::page) {
      s_.back(origin, 2 * kib);
      for (unsigned i = 0; i < 256; ++i) s_.store_u64(t.entry_address(i), empty_entry(level));
      return t;
    }
    for (unsigned page = tf; page <= tl && page < 4; ++page) {
      s_.back(origin + page * page_size);
      for (unsigned i = page * 512; i < (page + 1) * 512; ++i) s_.store_u64(t.entry_address(i), empty_entry(level));
    }
    return t;
  }

  // The ASCE designating `top` (DT from its type, TL from its length) plus `extra_bits`
  // (Asce::p_bit, ...).
  static Asce asce(const Table& top, std::uint64_t extra_bits = 0) {
    return Asce{top.origin | tt_bits(table_type_of(top.level)) | tl_bits(top.tl) | extra_bits};
  }
  static Asce real_space_asce(std::uint64_t extra_bits = 0) { return Asce{Asce::r_bit | extra_bits}; }

  // Makes entry `index` of `parent` a valid pointer to `child` (TF/TL of the child where the
  // format has them), plus `extra_bits` (e.g. RegionEntry::p_bit, SegmentEntry::cs_bit).
  void link(const Table& parent, unsigned index, const Table& child, std::uint64_t extra_bits = 0) {
    s_.store_u64(parent.entry_address(index), pointer_entry(parent.level, child) | extra_bits);
  }
  // A valid page-table entry for a 4 KiB real frame.
  void set_page(const Table& pt, unsigned index, std::uint64_t frame, std::uint64_t extra_bits = 0) {
    s_.store_u64(pt.entry_address(index), (frame & PageEntry::frame_mask) | extra_bits);
  }
  // A valid segment-table entry with FC=1 for a 1 MiB absolute frame (EDAT-1).
  void set_segment_frame(const Table& st, unsigned index, std::uint64_t frame, std::uint64_t extra_bits = 0) {
    s_.store_u64(st.entry_address(index),
                 (frame & SegmentEntry::frame_mask) | SegmentEntry::fc_bit | tt_bits(TableType::segment) | extra_bits);
  }
  // A valid region-third entry with FC=1 for a 2 GiB absolute frame (EDAT-2).
  void set_region3_frame(const Table& r3t, unsigned index, std::uint64_t frame, std::uint64_t extra_bits = 0) {
    s_.store_u64(r3t.entry_address(index), (frame & Region3Entry::frame_mask) | Region3Entry::fc_bit |
                                               tt_bits(TableType::region_third) | extra_bits);
  }

  // Raw entries, for malformed cases.
  void set_raw(std::uint64_t address, std::uint64_t value) { s_.store_u64(address, value); }
  std::uint64_t raw(std::uint64_t address) const { return s_.load_u64(address); }
  void set_bits(std::uint64_t address, std::uint64_t bits) { set_raw(address, raw(address) | bits); }
  void clear_bits(std::uint64_t address, std::uint64_t bits) { set_raw(address, raw(address) & ~bits); }

  // Maps the 4 KiB page of `va` to real `frame` through `asce`, creating full-size tables
  // (TF 0, TL 3) wherever the path is still invalid. `pte_bits`: PageEntry::p_bit etc.
  // Returns the page-table entry's address.
  std::uint64_t map_page(Asce asce, std::uint64_t va, std::uint64_t frame, std::uint64_t pte_bits = 0) {
    const Table pt = descend(asce, va, WalkLevel::page);
    set_page(pt, index_of(va, WalkLevel::page), frame, pte_bits);
    return pt.entry_address(index_of(va, WalkLevel::page));
  }
  // Maps the 1 MiB segment of `va` to absolute `frame` with an FC=1 segment entry.
  std::uint64_t map_segment_1m(Asce asce, std::uint64_t va, std::uint64_t frame, std::uint64_t ste_bits = 0) {
    const Table st = descend(asce, va, WalkLevel::segment);
    set_segment_frame(st, index_of(va, WalkLevel::segment), frame, ste_bits);
    return st.entry_address(index_of(va, WalkLevel::segment));
  }
  // Maps the 2 GiB region of `va` to absolute `frame` with an FC=1 region-third entry.
  std::uint64_t map_region3_2g(Asce asce, std::uint64_t va, std::uint64_t frame, std::uint64_t rtte_bits = 0) {
    const Table r3 = descend(asce, va, WalkLevel::region_third);
    set_region3_frame(r3, index_of(va, WalkLevel::region_third), frame, rtte_bits);
    return r3.entry_address(index_of(va, WalkLevel::region_third));
  }

  // The address of the entry at `level` that translates `va`, following the tables the
  // builder laid out. Throws when a higher level is not a valid table pointer.
  std::uint64_t entry_address(Asce asce, std::uint64_t va, WalkLevel level) const {
    WalkLevel l = level_of(asce.designation());
    std::uint64_t origin = asce.origin();
    for (;;) {
      const std::uint64_t address = origin + std::uint64_t{index_of(va, l)} * 8;
      if (l == level) return address;
      const std::uint64_t e = s_.load_u64(address);
      if (!is_pointer(l, e)) throw std::logic_error("entry_address: path is not a table pointer");
      origin = l == WalkLevel::segment ? SegmentEntry{e}.page_table_origin() : (e & RegionEntry::origin_mask);
      l = next_level(l);
    }
  }

  // ---- Access-register translation structures (all at real = absolute addresses) ------

  // A 64-byte dispatchable-unit control table holding `ald` at offset 16 (CR2 value).
  std::uint64_t duct(std::uint32_t ald, std::optional<std::uint64_t> at = std::nullopt) {
    const std::uint64_t origin = at ? *at : allocate(64, 64);
    s_.back(origin, 64);
    s_.store_u32(origin + 16, ald);
    return origin;
  }
  // A 64-byte ASTE (CR5 value when used as the primary ASTE; ALE.ASTEO target).
  std::uint64_t aste(const AsteSpec& spec, std::optional<std::uint64_t> at = std::nullopt) {
    const std::uint64_t origin = at ? *at : allocate(64, 64);
    s_.back(origin, 64);
    write_aste(origin, spec);
    return origin;
  }
  void write_aste(std::uint64_t origin, const AsteSpec& spec) {
    const std::uint32_t w0 = (spec.invalid ? Aste::i_bit : 0u) | (spec.ato & Aste::ato_mask) |
                             (spec.base_space ? Aste::b_bit : 0u);
    const std::uint32_t w1 = ((spec.ax & 0xffff) << 16) | ((spec.atl << 4) & Aste::atl_mask);
    s_.store_u32(origin + 0, w0);
    s_.store_u32(origin + 4, w1);
    s_.store_u64(origin + 8, spec.asce.raw);
    s_.store_u32(origin + 16, spec.ald);
    s_.store_u32(origin + 20, spec.astesn);
  }
  // An access list with (all + 1) * 8 invalid entries at a 128-byte aligned origin.
  AccessList access_list(unsigned all, std::optional<std::uint64_t> at = std::nullopt) {
    const std::uint64_t size = (std::uint64_t{all} + 1) * 8 * 16;
    const AccessList list{at ? *at : allocate(size, 128), all};
    s_.back(list.origin, size);
    for (unsigned alen = 0; alen < (all + 1) * 8; ++alen) set_ale(list, alen, AleSpec{.invalid = true});
    return list;
  }
  void set_ale(const AccessList& list, unsigned alen, const AleSpec& spec) { write_ale(list.ale_address(alen), spec); }
  void write_ale(std::uint64_t address, const AleSpec& spec) {
    const std::uint32_t w0 = (spec.invalid ? Ale::i_bit : 0u) | (spec.fetch_only ? Ale::fo_bit : 0u) |
                             (spec.private_entry ? Ale::p_bit : 0u) | ((spec.alesn & 0xff) << 16) |
                             (spec.aleax & 0xffff);
    s_.store_u32(address + 0, w0);
    s_.store_u32(address + 4, 0);
    s_.store_u32(address + 8, spec.aste & Ale::asteo_mask);
    s_.store_u32(address + 12, spec.astesn);
  }
  // An authority table with room for EAX 0 .. (atl + 1) * 16 - 1, all authority bits clear.
  // Returns its real address (the ASTE's ATO * 4).
  std::uint64_t authority_table(unsigned atl, std::optional<std::uint64_t> at = std::nullopt) {
    const std::uint64_t size = (std::uint64_t{atl} + 1) * 4;
    const std::uint64_t origin = at ? *at : allocate(size, 4);
    s_.back(origin, size);
    s_.fill(origin, size, 0);
    return origin;
  }
  // Sets the primary (P) and secondary (S) authority bits of `eax`: two bits per EAX,
  // P = 0x80 >> 2k, S = 0x40 >> 2k for k = eax & 3 within byte eax / 4.
  void grant(std::uint64_t authority_table_origin, unsigned eax, bool primary, bool secondary) {
    const std::uint64_t address = authority_table_origin + eax / 4;
    const unsigned shift = (eax & 3) * 2;
    std::uint8_t byte = s_.load_u8(address);
    byte = static_cast<std::uint8_t>(byte & ~((0xc0u) >> shift));
    if (primary) byte = static_cast<std::uint8_t>(byte | (0x80u >> shift));
    if (secondary) byte = static_cast<std::uint8_t>(byte | (0x40u >> shift));
    s_.store_u8(address, byte);
  }

 private:
  static bool is_pointer(WalkLevel level, std::uint64_t e) {
    switch (level) {
      case WalkLevel::region_first:
      case WalkLevel::region_second: return !(e & RegionEntry::i_bit);
      case WalkLevel::region_third: return !(e & Region3Entry::i_bit) && !(e & Region3Entry::fc_bit);
      case WalkLevel::segment: return !(e & SegmentEntry::i_bit) && !(e & SegmentEntry::fc_bit);
      case WalkLevel::page: return false;
    }
    return false;
  }
  static std::uint64_t pointer_entry(WalkLevel parent, const Table& child) {
    switch (parent) {
      case WalkLevel::region_first:
      case WalkLevel::region_second:
      case WalkLevel::region_third:
        return (child.origin & RegionEntry::origin_mask) | tf_bits(child.tf) | tl_bits(child.tl) |
               tt_bits(table_type_of(parent));
      case WalkLevel::segment: return (child.origin & SegmentEntry::pto_mask) | tt_bits(TableType::segment);
      case WalkLevel::page: break;
    }
    throw std::logic_error("a page table entry does not point at a table");
  }

  // Follows (creating where invalid) the path of `va` from the ASCE's table down to the
  // table of `target` level and returns that table.
  Table descend(Asce asce, std::uint64_t va, WalkLevel target) {
    WalkLevel l = level_of(asce.designation());
    if (static_cast<unsigned>(l) > static_cast<unsigned>(target))
      throw std::logic_error("ASCE designates a table below the requested level");
    Table t{l, asce.origin(), 0, asce.table_length()};
    while (t.level != target) {
      const unsigned index = index_of(va, t.level);
      const std::uint64_t address = t.entry_address(index);
      if (!s_.contains(address)) throw std::logic_error("va lies outside the table's offset/length");
      const std::uint64_t e = s_.load_u64(address);
      const WalkLevel below = next_level(t.level);
      Table child;
      if (is_pointer(t.level, e)) {
        const std::uint64_t origin =
            t.level == WalkLevel::segment ? SegmentEntry{e}.page_table_origin() : (e & RegionEntry::origin_mask);
        child = Table{below, origin, RegionEntry{e}.table_offset(), RegionEntry{e}.table_length()};
      } else if (e & RegionEntry::i_bit) {  // same bit for every region/segment entry
        child = below == WalkLevel::page ? page_table() : region_table(table_type_of(below));
        link(t, index, child);
      } else {
        throw std::logic_error("va already mapped by a large frame");
      }
      t = child;
    }
    return t;
  }

  SparseStorage& s_;
  std::uint64_t next_table_;
  std::uint64_t next_data_;
};

}  // namespace s390b::test
