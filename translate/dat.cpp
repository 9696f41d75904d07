#include "translate/dat.h"

#include "translate/address.h"
#include "translate/byteorder.h"

namespace s390b {

namespace {

constexpr std::uint64_t frame_4k = std::uint64_t{1} << 12;
constexpr std::uint64_t frame_1m = std::uint64_t{1} << 20;
constexpr std::uint64_t frame_2g = std::uint64_t{1} << 31;
constexpr std::uint64_t region_third_frame_offset = frame_2g - 1;
constexpr std::uint64_t segment_frame_offset = frame_1m - 1;

// Walk state shared by the level handlers: keeps the trace and the stop reason together.
class Walk {
 public:
  Walk(const AbsoluteReader& reader, WalkTrace* trace) : reader_(reader), trace_(trace) {}

  // Reads the entry `index` of the table at `origin` (held at `host` when non-null);
  // addressing exception if unbacked.
  tl::expected<std::uint64_t, DatFault> entry(WalkLevel level, std::uint64_t origin, unsigned index,
                                              const std::uint8_t* host = nullptr) {
    const std::uint64_t address = origin + std::uint64_t{index} * 8;
    if (host && !trace_) return load_be64(host + std::size_t{index} * 8);
    auto value = reader_.read_u64(address);
    if (trace_) trace_->add({level, origin, index, address, value.value_or(0), value.has_value()});
    if (!value) return fail(PgmCode::addressing, "table entry is outside guest storage");
    return *value;
  }

  tl::unexpected<DatFault> fail(PgmCode code, std::string_view why,
                                ProtectionKind kind = ProtectionKind::dat) {
    if (trace_) trace_->stop_reason = why;
    return tl::unexpected(DatFault{code, kind});
  }

 private:
  const AbsoluteReader& reader_;
  WalkTrace* trace_;
};

}  // namespace

std::string_view level_name(WalkLevel level) {
  switch (level) {
    case WalkLevel::region_first: return "region-first";
    case WalkLevel::region_second: return "region-second";
    case WalkLevel::region_third: return "region-third";
    case WalkLevel::segment: return "segment";
    case WalkLevel::page: return "page";
  }
  return "?";
}

tl::expected<DatTranslation, DatFault> dat_translate(const AbsoluteReader& reader, Asce asce,
                                                     std::uint64_t address, AccessMode mode,
                                                     DatControls controls, std::uint64_t prefix,
                                                     WalkTrace* trace, DatWalkCache* cache) {
  Walk walk(reader, trace);
  const VirtualAddress va{address};
  if (trace) {
    *trace = WalkTrace{};
    trace->asce = asce;
    trace->address = address;
  }

  DatTranslation out;
  std::uint64_t real = 0;
  bool absolute_frame = false;  // EDAT large frames are absolute: no prefixing

  // The last level of a 4 KiB-page walk, shared by full walks and cache hits.
  auto page_level = [&](std::uint64_t page_table_origin, const std::uint8_t* host) -> tl::expected<void, DatFault> {
    // Page tables are 2 KiB aligned, 256 entries, no length check.
    auto p = walk.entry(WalkLevel::page, page_table_origin, va.px(), host);
    if (!p) return tl::unexpected(p.error());
    const PageEntry pte{*p};
    if (pte.invalid()) return walk.fail(PgmCode::page_translation, "page entry invalid");
    if (pte.reserved_bit_set()) return walk.fail(PgmCode::translation_specification, "page entry bit 52 is set");
    out.dat_protected |= pte.protection();
    out.iep = pte.iep();
    out.frame_size = frame_4k;
    real = pte.frame() | va.bx();
    return {};
  };
  auto remember = [&](unsigned shift, bool large, std::uint64_t origin) {
    if (!cache) return;
    // A page table is 256 entries of 8 bytes.
    const std::uint8_t* table = large ? nullptr : reader.direct(origin, 256 * 8);
    *cache = DatWalkCache{true, asce.raw, controls, shift, address >> shift, large, origin, table, out.dat_protected,
                          out.iep};
  };

  if (cache && !trace && !asce.real_space() && cache->hit(asce, controls, address)) {
    out.dat_protected = cache->upper_protected;
    if (cache->large_frame) {
      out.iep = cache->upper_iep;
      out.frame_size = std::uint64_t{1} << cache->shift;
      real = cache->origin | (address & (out.frame_size - 1));
      absolute_frame = true;
    } else if (auto r = page_level(cache->origin, cache->table); !r) {
      return tl::unexpected(r.error());
    }
  } else if (asce.real_space()) {
    if (trace) trace->real_space = true;
    real = address;
    out.frame_size = frame_4k;
  } else {
    std::uint64_t origin = asce.origin();
    // The designation type decides the first table; higher index bits must be zero
    // (ASCE-type exception) and the first index must lie within the ASCE's table length.
    TableType level = asce.designation();
    switch (level) {
      case TableType::region_first:
        if (va.rfx01() > asce.table_length())
          return walk.fail(PgmCode::region_first_translation, "RFX outside the ASCE table length");
        break;
      case TableType::region_second:
        if (va.rfx() != 0) return walk.fail(PgmCode::asce_type, "address needs a region-first table");
        if (va.rsx01() > asce.table_length())
          return walk.fail(PgmCode::region_second_translation, "RSX outside the ASCE table length");
        break;
      case TableType::region_third:
        if (va.rfx() != 0 || va.rsx() != 0)
          return walk.fail(PgmCode::asce_type, "address needs a region-first or -second table");
        if (va.rtx01() > asce.table_length())
          return walk.fail(PgmCode::region_third_translation, "RTX outside the ASCE table length");
        break;
      case TableType::segment:
        if (va.rfx() != 0 || va.rsx() != 0 || va.rtx() != 0)
          return walk.fail(PgmCode::asce_type, "address needs region tables");
        if (va.sx01() > asce.table_length())
          return walk.fail(PgmCode::segment_translation, "SX outside the ASCE table length");
        break;
    }

    bool walked_to_frame = false;
    if (level == TableType::region_first) {
      auto e = walk.entry(WalkLevel::region_first, origin, va.rfx());
      if (!e) return tl::unexpected(e.error());
      const RegionEntry rfte{*e};
      if (rfte.invalid()) return walk.fail(PgmCode::region_first_translation, "region-first entry invalid");
      if (rfte.table_type() != TableType::region_first)
        return walk.fail(PgmCode::translation_specification, "region-first entry has the wrong table type");
      if (va.rsx01() < rfte.table_offset() || va.rsx01() > rfte.table_length())
        return walk.fail(PgmCode::region_second_translation, "RSX outside the region-second table offset/length");
      if (controls.edat1) out.dat_protected |= rfte.protection();
      origin = rfte.origin();
      level = TableType::region_second;
    }
    if (level == TableType::region_second) {
      auto e = walk.entry(WalkLevel::region_second, origin, va.rsx());
      if (!e) return tl::unexpected(e.error());
      const RegionEntry rste{*e};
      if (rste.invalid()) return walk.fail(PgmCode::region_second_translation, "region-second entry invalid");
      if (rste.table_type() != TableType::region_second)
        return walk.fail(PgmCode::translation_specification, "region-second entry has the wrong table type");
      if (va.rtx01() < rste.table_offset() || va.rtx01() > rste.table_length())
        return walk.fail(PgmCode::region_third_translation, "RTX outside the region-third table offset/length");
      if (controls.edat1) out.dat_protected |= rste.protection();
      origin = rste.origin();
      level = TableType::region_third;
    }
    if (level == TableType::region_third) {
      auto e = walk.entry(WalkLevel::region_third, origin, va.rtx());
      if (!e) return tl::unexpected(e.error());
      const Region3Entry rtte{*e};
      if (rtte.invalid()) return walk.fail(PgmCode::region_third_translation, "region-third entry invalid");
      if (rtte.table_type() != TableType::region_third)
        return walk.fail(PgmCode::translation_specification, "region-third entry has the wrong table type");
      if (rtte.common_region() && asce.private_space() && controls.edat2)
        return walk.fail(PgmCode::translation_specification, "common-region bit in a private space");
      if (rtte.format_control() && controls.edat2) {
        out.dat_protected |= rtte.protection();
        out.iep = rtte.iep();
        out.frame_size = frame_2g;
        real = rtte.frame() | (address & region_third_frame_offset);
        absolute_frame = true;
        walked_to_frame = true;
        remember(31, true, rtte.frame());
      } else {
        if (va.sx01() < rtte.table_offset() || va.sx01() > rtte.table_length())
          return walk.fail(PgmCode::segment_translation, "SX outside the segment table offset/length");
        if (controls.edat1) out.dat_protected |= rtte.protection();
        origin = rtte.origin();
        level = TableType::segment;
      }
    }
    if (!walked_to_frame) {
      auto e = walk.entry(WalkLevel::segment, origin, va.sx());
      if (!e) return tl::unexpected(e.error());
      const SegmentEntry ste{*e};
      if (ste.invalid()) return walk.fail(PgmCode::segment_translation, "segment entry invalid");
      if (ste.table_type() != TableType::segment)
        return walk.fail(PgmCode::translation_specification, "segment entry has the wrong table type");
      if (ste.common_segment() && asce.private_space())
        return walk.fail(PgmCode::translation_specification, "common-segment bit in a private space");
      out.dat_protected |= ste.protection();
      if (ste.format_control() && controls.edat1) {
        out.iep = ste.iep();
        out.frame_size = frame_1m;
        real = ste.frame() | (address & segment_frame_offset);
        absolute_frame = true;
        remember(20, true, ste.frame());
      } else {
        remember(20, false, ste.page_table_origin());  // before the page level adds its P bit
        if (auto r = page_level(ste.page_table_origin(), nullptr); !r) return tl::unexpected(r.error());
      }
    }
  }

  out.absolute = absolute_frame ? real : real_to_absolute(real, prefix);
  if (!controls.iep) out.iep = false;
  // Final checks in KVM's order: DAT protection beats addressing of the frame.
  if (mode == AccessMode::store && out.dat_protected)
    return walk.fail(PgmCode::protection, "store into a DAT-protected page", ProtectionKind::dat);
  if (!reader.contains(out.absolute))
    return walk.fail(PgmCode::addressing, "frame is outside guest storage");
  if (trace) {
    trace->frame_size = out.frame_size;
    trace->absolute = out.absolute;
  }
  return out;
}

}  // namespace s390b
