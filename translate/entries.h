// z/Architecture DAT and access-register structures as small value types over their raw
// words (Linux arch/s390/kvm/gaccess.c, arch/s390/include/asm/dat-bits.h). Built from
// explicit big-endian loads by the
// caller; never bit-field structs, whose layout depends on the host.
#pragma once

#include <cstdint>

namespace s390b {

// Designation / table type: 0 segment, 1 region-third, 2 region-second, 3 region-first.
enum class TableType : std::uint8_t { segment = 0, region_third = 1, region_second = 2, region_first = 3 };

// Address-space-control element (CR1, CR7, CR13, ASTE bytes 8-15).
struct Asce {
  static constexpr std::uint64_t origin_mask = ~std::uint64_t{0xfff};
  static constexpr std::uint64_t g_bit = 0x200;
  static constexpr std::uint64_t p_bit = 0x100;
  static constexpr std::uint64_t s_bit = 0x080;
  static constexpr std::uint64_t x_bit = 0x040;
  static constexpr std::uint64_t r_bit = 0x020;
  static constexpr std::uint64_t dt_mask = 0x00c;
  static constexpr std::uint64_t tl_mask = 0x003;

  std::uint64_t raw = 0;

  constexpr std::uint64_t origin() const { return raw & origin_mask; }
  constexpr bool subspace_group() const { return raw & g_bit; }
  constexpr bool private_space() const { return raw & p_bit; }
  constexpr bool storage_alteration_event() const { return raw & s_bit; }
  constexpr bool space_switch_event() const { return raw & x_bit; }
  constexpr bool real_space() const { return raw & r_bit; }
  constexpr TableType designation() const { return static_cast<TableType>((raw & dt_mask) >> 2); }
  constexpr unsigned table_length() const { return raw & tl_mask; }
  constexpr bool operator==(const Asce&) const = default;
};

// Region-first and region-second table entries (same layout, TT 3 or 2).
struct RegionEntry {
  static constexpr std::uint64_t origin_mask = ~std::uint64_t{0xfff};
  static constexpr std::uint64_t p_bit = 0x200;
  static constexpr std::uint64_t tf_mask = 0x0c0;
  static constexpr std::uint64_t i_bit = 0x020;
  static constexpr std::uint64_t tt_mask = 0x00c;
  static constexpr std::uint64_t tl_mask = 0x003;

  std::uint64_t raw = 0;

  constexpr std::uint64_t origin() const { return raw & origin_mask; }
  constexpr bool protection() const { return raw & p_bit; }
  constexpr unsigned table_offset() const { return (raw & tf_mask) >> 6; }
  constexpr bool invalid() const { return raw & i_bit; }
  constexpr TableType table_type() const { return static_cast<TableType>((raw & tt_mask) >> 2); }
  constexpr unsigned table_length() const { return raw & tl_mask; }
};

// Region-third table entry: a segment-table pointer (FC=0) or, with EDAT-2, a 2 GiB frame.
struct Region3Entry {
  static constexpr std::uint64_t origin_mask = ~std::uint64_t{0xfff};
  static constexpr std::uint64_t frame_mask = ~std::uint64_t{0x7fffffff};
  static constexpr std::uint64_t av_bit = 0x10000;
  static constexpr std::uint64_t acc_mask = 0xf000;
  static constexpr std::uint64_t f_bit = 0x800;
  static constexpr std::uint64_t fc_bit = 0x400;
  static constexpr std::uint64_t p_bit = 0x200;
  static constexpr std::uint64_t iep_bit = 0x100;
  static constexpr std::uint64_t tf_mask = 0x0c0;
  static constexpr std::uint64_t i_bit = 0x020;
  static constexpr std::uint64_t cr_bit = 0x010;
  static constexpr std::uint64_t tt_mask = 0x00c;
  static constexpr std::uint64_t tl_mask = 0x003;

  std::uint64_t raw = 0;

  constexpr std::uint64_t origin() const { return raw & origin_mask; }
  constexpr std::uint64_t frame() const { return raw & frame_mask; }
  constexpr bool format_control() const { return raw & fc_bit; }
  constexpr bool protection() const { return raw & p_bit; }
  constexpr bool iep() const { return raw & iep_bit; }
  constexpr bool access_valid() const { return raw & av_bit; }
  constexpr unsigned access_key() const { return (raw & acc_mask) >> 12; }
  constexpr bool fetch_protect() const { return raw & f_bit; }
  constexpr unsigned table_offset() const { return (raw & tf_mask) >> 6; }
  constexpr bool invalid() const { return raw & i_bit; }
  constexpr bool common_region() const { return raw & cr_bit; }
  constexpr TableType table_type() const { return static_cast<TableType>((raw & tt_mask) >> 2); }
  constexpr unsigned table_length() const { return raw & tl_mask; }
};

// Segment table entry: a page-table pointer (FC=0) or, with EDAT-1, a 1 MiB frame.
struct SegmentEntry {
  static constexpr std::uint64_t pto_mask = ~std::uint64_t{0x7ff};
  static constexpr std::uint64_t frame_mask = ~std::uint64_t{0xfffff};
  static constexpr std::uint64_t av_bit = 0x10000;
  static constexpr std::uint64_t acc_mask = 0xf000;
  static constexpr std::uint64_t f_bit = 0x800;
  static constexpr std::uint64_t fc_bit = 0x400;
  static constexpr std::uint64_t p_bit = 0x200;
  static constexpr std::uint64_t iep_bit = 0x100;
  static constexpr std::uint64_t i_bit = 0x020;
  static constexpr std::uint64_t cs_bit = 0x010;
  static constexpr std::uint64_t tt_mask = 0x00c;

  std::uint64_t raw = 0;

  constexpr std::uint64_t page_table_origin() const { return raw & pto_mask; }
  constexpr std::uint64_t frame() const { return raw & frame_mask; }
  constexpr bool format_control() const { return raw & fc_bit; }
  constexpr bool protection() const { return raw & p_bit; }
  constexpr bool iep() const { return raw & iep_bit; }
  constexpr bool access_valid() const { return raw & av_bit; }
  constexpr unsigned access_key() const { return (raw & acc_mask) >> 12; }
  constexpr bool fetch_protect() const { return raw & f_bit; }
  constexpr bool invalid() const { return raw & i_bit; }
  constexpr bool common_segment() const { return raw & cs_bit; }
  constexpr TableType table_type() const { return static_cast<TableType>((raw & tt_mask) >> 2); }
};

// Page table entry (4 KiB frame).
struct PageEntry {
  static constexpr std::uint64_t frame_mask = ~std::uint64_t{0xfff};
  static constexpr std::uint64_t z_bit = 0x800;  // bit 52, must be zero
  static constexpr std::uint64_t i_bit = 0x400;
  static constexpr std::uint64_t p_bit = 0x200;
  static constexpr std::uint64_t iep_bit = 0x100;

  std::uint64_t raw = 0;

  constexpr std::uint64_t frame() const { return raw & frame_mask; }
  constexpr bool reserved_bit_set() const { return raw & z_bit; }
  constexpr bool invalid() const { return raw & i_bit; }
  constexpr bool protection() const { return raw & p_bit; }
  constexpr bool iep() const { return raw & iep_bit; }
};

// Index fields of a 64-bit virtual address (RFX, RSX, RTX, SX, PX, BX).
struct VirtualAddress {
  std::uint64_t raw = 0;

  constexpr unsigned rfx() const { return raw >> 53; }
  constexpr unsigned rsx() const { return (raw >> 42) & 0x7ff; }
  constexpr unsigned rtx() const { return (raw >> 31) & 0x7ff; }
  constexpr unsigned sx() const { return (raw >> 20) & 0x7ff; }
  constexpr unsigned px() const { return (raw >> 12) & 0xff; }
  constexpr unsigned bx() const { return raw & 0xfff; }
  // Top two bits of each 11-bit index, compared with table offset/length fields.
  constexpr unsigned rfx01() const { return raw >> 62; }
  constexpr unsigned rsx01() const { return (raw >> 51) & 3; }
  constexpr unsigned rtx01() const { return (raw >> 40) & 3; }
  constexpr unsigned sx01() const { return (raw >> 29) & 3; }
};

// Access-list-entry token, the content of an access register.
struct Alet {
  static constexpr std::uint32_t reserved_mask = 0xfe000000;
  static constexpr std::uint32_t p_bit = 0x01000000;
  static constexpr std::uint32_t alesn_mask = 0x00ff0000;
  static constexpr std::uint32_t alen_mask = 0x0000ffff;

  std::uint32_t raw = 0;

  constexpr bool reserved_bits_set() const { return raw & reserved_mask; }
  constexpr bool primary_list() const { return raw & p_bit; }
  constexpr unsigned alesn() const { return (raw & alesn_mask) >> 16; }
  constexpr unsigned alen() const { return raw & alen_mask; }
};

// Access-list designation: the word at offset 16 of the DUCT or of the primary ASTE.
struct Ald {
  static constexpr std::uint32_t origin_mask = 0x7fffff80;  // already scaled (ALO * 128)
  static constexpr std::uint32_t length_mask = 0x0000007f;  // (ALL + 1) * 8 entries

  std::uint32_t raw = 0;

  constexpr std::uint32_t origin() const { return raw & origin_mask; }
  constexpr unsigned length() const { return raw & length_mask; }
};

// Access-list entry (16 bytes, four big-endian words).
struct Ale {
  static constexpr std::uint32_t i_bit = 0x80000000;
  static constexpr std::uint32_t fo_bit = 0x02000000;
  static constexpr std::uint32_t p_bit = 0x01000000;
  static constexpr std::uint32_t alesn_mask = 0x00ff0000;
  static constexpr std::uint32_t aleax_mask = 0x0000ffff;
  static constexpr std::uint32_t asteo_mask = 0x7fffffc0;  // already scaled (ASTEO * 64)

  std::uint32_t word[4] = {};

  constexpr bool invalid() const { return word[0] & i_bit; }
  constexpr bool fetch_only() const { return word[0] & fo_bit; }
  constexpr bool private_entry() const { return word[0] & p_bit; }
  constexpr unsigned alesn() const { return (word[0] & alesn_mask) >> 16; }
  constexpr unsigned aleax() const { return word[0] & aleax_mask; }
  constexpr std::uint32_t aste_origin() const { return word[2] & asteo_mask; }
  constexpr std::uint32_t astesn() const { return word[3]; }
};

// ASN-second-table entry (the first 24 of its 64 bytes matter for ART).
struct Aste {
  static constexpr std::uint32_t i_bit = 0x80000000;
  static constexpr std::uint32_t ato_mask = 0x7ffffffc;  // already scaled (ATO * 4)
  static constexpr std::uint32_t b_bit = 0x00000001;
  static constexpr std::uint32_t atl_mask = 0x0000fff0;
  static constexpr std::uint32_t ca_bit = 0x2;
  static constexpr std::uint32_t ra_bit = 0x1;

  std::uint32_t word0 = 0;
  std::uint32_t word1 = 0;
  std::uint64_t asce = 0;
  std::uint32_t ald = 0;
  std::uint32_t astesn = 0;

  constexpr bool invalid() const { return word0 & i_bit; }
  constexpr std::uint32_t authority_table_origin() const { return word0 & ato_mask; }
  constexpr bool base_space() const { return word0 & b_bit; }
  constexpr unsigned ax() const { return word1 >> 16; }
  constexpr unsigned authority_table_length() const { return (word1 & atl_mask) >> 4; }
};

// Program-status word (the 128-bit z/Architecture form, as mask and address).
struct Psw {
  static constexpr std::uint64_t per_bit = 0x4000000000000000;
  static constexpr std::uint64_t dat_bit = 0x0400000000000000;
  static constexpr std::uint64_t io_bit = 0x0200000000000000;
  static constexpr std::uint64_t ext_bit = 0x0100000000000000;
  static constexpr std::uint64_t key_mask = 0x00f0000000000000;
  static constexpr std::uint64_t mcheck_bit = 0x0004000000000000;
  static constexpr std::uint64_t wait_bit = 0x0002000000000000;
  static constexpr std::uint64_t problem_bit = 0x0001000000000000;
  static constexpr std::uint64_t as_mask = 0x0000c00000000000;
  static constexpr std::uint64_t cc_mask = 0x0000300000000000;
  static constexpr std::uint64_t ea_bit = 0x0000000100000000;
  static constexpr std::uint64_t ba_bit = 0x0000000080000000;

  enum class Asc : std::uint8_t { primary = 0, access_register = 1, secondary = 2, home = 3 };
  enum class AddressingMode : std::uint8_t { bits24, bits31, bits64 };

  std::uint64_t mask = 0;
  std::uint64_t addr = 0;

  constexpr bool dat() const { return mask & dat_bit; }
  constexpr bool wait() const { return mask & wait_bit; }
  constexpr bool problem_state() const { return mask & problem_bit; }
  constexpr unsigned key() const { return (mask & key_mask) >> 52; }
  constexpr unsigned condition_code() const { return (mask & cc_mask) >> 44; }
  constexpr Asc asc() const { return static_cast<Asc>((mask & as_mask) >> 46); }
  constexpr AddressingMode addressing_mode() const {
    if (mask & ea_bit) return AddressingMode::bits64;  // EA=1 (BA must be 1 too)
    return (mask & ba_bit) ? AddressingMode::bits31 : AddressingMode::bits24;
  }
  constexpr bool operator==(const Psw&) const = default;
};

// Storage-key byte of one 4 KiB frame: ACC (bits 0-3), F, R, C.
struct StorageKey {
  static constexpr std::uint8_t acc_mask = 0xf0;
  static constexpr std::uint8_t f_bit = 0x08;
  static constexpr std::uint8_t r_bit = 0x04;
  static constexpr std::uint8_t c_bit = 0x02;

  std::uint8_t raw = 0;

  constexpr unsigned access_key() const { return (raw & acc_mask) >> 4; }
  constexpr bool fetch_protected() const { return raw & f_bit; }
  constexpr bool referenced() const { return raw & r_bit; }
  constexpr bool changed() const { return raw & c_bit; }
  constexpr bool operator==(const StorageKey&) const = default;
};

}  // namespace s390b
