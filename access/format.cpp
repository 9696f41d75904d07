#include <fmt/format.h>

#include "access/memory_access.h"

namespace s390b {

namespace {

std::string describe_fault(const Fault& f) {
  std::string s = fmt::format("{} exception (PGM {:#04x})", pgm_name(f.code), static_cast<unsigned>(f.code));
  if (f.teid) s += fmt::format(", TEID {:#018x}", f.teid->raw());
  if (f.exc_access_id) s += fmt::format(", access id {}", *f.exc_access_id);
  return s;
}

std::string entry_bits(WalkLevel level, std::uint64_t e) {
  switch (level) {
    case WalkLevel::region_first:
    case WalkLevel::region_second: {
      const RegionEntry r{e};
      return fmt::format("origin={:#x} TT={} TF={} TL={}{}{}", r.origin(), static_cast<unsigned>(r.table_type()),
                         r.table_offset(), r.table_length(), r.invalid() ? " I" : "", r.protection() ? " P" : "");
    }
    case WalkLevel::region_third: {
      const Region3Entry r{e};
      if (r.format_control())
        return fmt::format("frame={:#x} FC=1 (2 GiB) TT={}{}{}{}", r.frame(), static_cast<unsigned>(r.table_type()),
                           r.invalid() ? " I" : "", r.protection() ? " P" : "", r.iep() ? " IEP" : "");
      return fmt::format("origin={:#x} TT={} TF={} TL={}{}{}{}", r.origin(), static_cast<unsigned>(r.table_type()),
                         r.table_offset(), r.table_length(), r.invalid() ? " I" : "", r.protection() ? " P" : "",
                         r.common_region() ? " CR" : "");
    }
    case WalkLevel::segment: {
      const SegmentEntry s{e};
      if (s.format_control())
        return fmt::format("frame={:#x} FC=1 (1 MiB) TT={}{}{}{}", s.frame(), static_cast<unsigned>(s.table_type()),
                           s.invalid() ? " I" : "", s.protection() ? " P" : "", s.iep() ? " IEP" : "");
      return fmt::format("page-table={:#x} TT={}{}{}{}", s.page_table_origin(), static_cast<unsigned>(s.table_type()),
                         s.invalid() ? " I" : "", s.protection() ? " P" : "", s.common_segment() ? " CS" : "");
    }
    case WalkLevel::page: {
      const PageEntry p{e};
      return fmt::format("frame={:#x}{}{}{}{}", p.frame(), p.invalid() ? " I" : "", p.protection() ? " P" : "",
                         p.iep() ? " IEP" : "", p.reserved_bit_set() ? " bit52!" : "");
    }
  }
  return {};
}

std::string designation_name(const Asce& a) {
  if (a.real_space()) return "real space";
  switch (a.designation()) {
    case TableType::region_first: return "region-first table";
    case TableType::region_second: return "region-second table";
    case TableType::region_third: return "region-third table";
    case TableType::segment: return "segment table";
  }
  return "?";
}

}  // namespace

std::string describe_failure(const MemopResult& r) {
  switch (r.status) {
    case MemopResult::Status::ok: return "ok";
    case MemopResult::Status::host_error:
      if (r.error == HostError::enolck)  // MemoryAccess on a backend without table walks
        return "host error ENOLCK: this backend cannot lock the guest's DAT tables (a KVM backend needs the "
               "VMM's vCPU gate); use the cpu or absolute view";
      if (r.error == HostError::erofs) return "host error EROFS: the server is read-only (--read-only)";
      if (r.error == HostError::estale)
        return "host error ESTALE: the file behind guest storage changed under the server; memory is no longer served";
      if (!r.detail.empty()) return fmt::format("host error {}: {}", host_error_name(r.error), r.detail);
      return fmt::format("host error {}", host_error_name(r.error));
    case MemopResult::Status::exception: return describe_fault(r.fault);
  }
  return "?";
}

std::string format_translation(const TranslationReport& rep) {
  std::string out = fmt::format("translate {:#018x} in view {}\n", rep.address, rep.space.describe());
  if (rep.error && *rep.error == HostError::enolck)
    return out + "  not available: this backend cannot lock the guest's DAT tables (a KVM backend needs the VMM's "
                 "vCPU gate)\n";
  if (rep.error) return out + fmt::format("  cannot read the vCPU state: {}\n", host_error_name(*rep.error));
  if (rep.used_art) {
    const ArtTrace& a = rep.art;
    out += fmt::format("  ALET {:#010x}: {} list, ALESN {}, ALEN {}\n", a.alet.raw,
                       a.list_from_primary_aste ? "primary-ASTE (CR5)" : "DUCT (CR2)", a.alet.alesn(), a.alet.alen());
    if (a.reached >= 1)
      out += fmt::format("  ALD   @{:#x} = {:#010x} (origin {:#x}, length {})\n", a.ald_address, a.ald.raw,
                         a.ald.origin(), a.ald.length());
    if (a.reached >= 2)
      out += fmt::format("  ALE   @{:#x} = {:08x} {:08x} {:08x} {:08x}{}{}{}\n", a.ale_address, a.ale.word[0],
                         a.ale.word[1], a.ale.word[2], a.ale.word[3], a.ale.invalid() ? " I" : "",
                         a.ale.fetch_only() ? " FO" : "", a.ale.private_entry() ? " P" : "");
    if (a.reached >= 3)
      out += fmt::format("  ASTE  @{:#x}: ASCE {:#018x}, ASTESN {}{}\n", a.aste_address, a.aste.asce, a.aste.astesn,
                         a.aste.invalid() ? " I" : "");
    if (!a.stop_reason.empty()) out += fmt::format("  ART stopped: {}\n", a.stop_reason);
  }
  if (rep.resolved) {
    const ResolvedSpace& r = *rep.resolved;
    switch (r.kind) {
      case ResolvedSpace::Kind::absolute: out += "  absolute address: no translation\n"; break;
      case ResolvedSpace::Kind::real: out += "  real address: prefixing only\n"; break;
      case ResolvedSpace::Kind::dat:
        out += fmt::format("  ASCE {:#018x}: {}, origin {:#x}, TL {}{}\n", r.asce.raw, designation_name(r.asce),
                           r.asce.origin(), r.asce.table_length(), r.asce.private_space() ? ", private" : "");
        break;
    }
    if (rep.effective != rep.address) out += fmt::format("  effective address {:#x}\n", rep.effective);
  }
  if (rep.walked) {
    for (unsigned i = 0; i < rep.walk.depth; ++i) {
      const WalkStep& s = rep.walk.steps[i];
      if (!s.entry_read) {
        out += fmt::format("  {:<13} table {:#x} index {:4} entry @{:#x}: outside storage\n", level_name(s.level),
                           s.table_origin, s.index, s.entry_address);
        continue;
      }
      out += fmt::format("  {:<13} table {:#x} index {:4} entry @{:#x} = {:#018x}  {}\n", level_name(s.level),
                         s.table_origin, s.index, s.entry_address, s.entry, entry_bits(s.level, s.entry));
    }
    if (!rep.walk.stop_reason.empty()) out += fmt::format("  walk stopped: {}\n", rep.walk.stop_reason);
  }
  if (rep.absolute) {
    out += fmt::format("  => absolute {:#018x}", *rep.absolute);
    if (rep.walked && rep.walk.frame_size) out += fmt::format(" ({} frame)", rep.walk.frame_size >= (1ull << 31) ? "2 GiB" : rep.walk.frame_size >= (1ull << 20) ? "1 MiB" : "4 KiB");
    out += "\n";
  }
  if (rep.fault) out += fmt::format("  => {}\n", describe_fault(*rep.fault));
  return out;
}

}  // namespace s390b
