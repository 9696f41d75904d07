#include "translate/space.h"

#include <fmt/format.h>

#include "translate/address.h"

namespace s390b {

std::string AddressSpace::describe() const {
  switch (kind) {
    case Kind::cpu: return ar == 0 ? std::string("cpu") : fmt::format("cpu ar {}", ar);
    case Kind::primary: return "primary";
    case Kind::secondary: return "secondary";
    case Kind::home: return "home";
    case Kind::access_register: return fmt::format("ar {}", ar);
    case Kind::alet: return fmt::format("alet {:#x}", alet);
    case Kind::asce: return fmt::format("asce {:#018x}", asce_value.raw);
    case Kind::real: return "real";
    case Kind::absolute: return "absolute";
  }
  return "?";
}

Fault make_fault(PgmCode code, ProtectionKind kind, std::uint64_t address, AccessMode mode,
                 AddressSpaceId as, std::uint8_t access_id) {
  Fault f = Fault::plain(code);
  if (code == PgmCode::protection) {
    f.teid = Teid::for_protection(address, mode, as, kind);
    f.protection = kind;
  } else if (stores_teid(code)) {
    f.teid = Teid::for_address(address, mode, as);
  }
  if (stores_access_id(code)) f.exc_access_id = access_id;
  return f;
}

namespace {

AddressSpaceId as_of(Psw::Asc asc) { return static_cast<AddressSpaceId>(static_cast<unsigned>(asc)); }

// LAP applies when CR0 enables it, unless DAT is on and the ASCE is a private space.
bool lap_applies(const TranslationContext& ctx, bool dat, Asce asce) {
  if (!(ctx.cr[0] & cr0::low_address_protection)) return false;
  return !(dat && asce.private_space());
}

}  // namespace

tl::expected<ResolvedSpace, Fault> resolve_space(const AbsoluteReader& reader, const TranslationContext& ctx,
                                                 const AddressSpace& space, std::uint8_t ar,
                                                 std::uint64_t address, AccessMode mode, ArtTrace* art_trace) {
  ResolvedSpace r;
  // The CPU view wraps addresses as the PSW's addressing mode does (KVM's rule); an
  // explicit debugger view is addressed with all 64 bits, so a view never aliases.
  r.addressing = space.kind == AddressSpace::Kind::cpu ? ctx.psw.addressing_mode()
                                                       : Psw::AddressingMode::bits64;
  r.teid_as = as_of(ctx.psw.asc());
  r.access_id = ar;

  auto dat_space = [&](Asce asce, AddressSpaceId as) {
    r.kind = ResolvedSpace::Kind::dat;
    r.asce = asce;
    r.teid_as = as;
    r.low_address_protection = lap_applies(ctx, true, asce);
    return r;
  };
  auto via_alet = [&](Alet alet, std::uint8_t access_id) -> tl::expected<ResolvedSpace, Fault> {
    r.access_id = access_id;
    auto asce = translate_alet(reader, ctx.art_controls(), alet, mode, art_trace);
    if (!asce) {
      // KVM makes the address effective before ART (Linux arch/s390/kvm/gaccess.c,
      // access_guest_with_key), so the TEID of an
      // access-list-controlled protection names the effective page.
      const ProtectionKind kind = ProtectionKind::access_list;
      return tl::unexpected(make_fault(asce.error().code, kind, effective_address(address, r.addressing), mode,
                                       AddressSpaceId::access_register, access_id));
    }
    return dat_space(*asce, AddressSpaceId::access_register);
  };

  switch (space.kind) {
    case AddressSpace::Kind::cpu:
      if (!ctx.psw.dat()) {
        r.kind = ResolvedSpace::Kind::real;
        r.low_address_protection = lap_applies(ctx, false, {});
        return r;
      }
      switch (ctx.psw.asc()) {
        case Psw::Asc::primary: return dat_space(Asce{ctx.cr[1]}, AddressSpaceId::primary);
        case Psw::Asc::secondary: return dat_space(Asce{ctx.cr[7]}, AddressSpaceId::secondary);
        case Psw::Asc::home: return dat_space(Asce{ctx.cr[13]}, AddressSpaceId::home);
        case Psw::Asc::access_register:
          // AR 0 always designates the primary space, whatever it holds.
          if (ar == 0) return dat_space(Asce{ctx.cr[1]}, AddressSpaceId::access_register);
          return via_alet(Alet{ctx.ar[ar & 15]}, ar);
      }
      break;
    case AddressSpace::Kind::primary: return dat_space(Asce{ctx.cr[1]}, AddressSpaceId::primary);
    case AddressSpace::Kind::secondary: return dat_space(Asce{ctx.cr[7]}, AddressSpaceId::secondary);
    case AddressSpace::Kind::home: return dat_space(Asce{ctx.cr[13]}, AddressSpaceId::home);
    case AddressSpace::Kind::access_register:
      if (space.ar == 0) return dat_space(Asce{ctx.cr[1]}, AddressSpaceId::access_register);
      return via_alet(Alet{ctx.ar[space.ar & 15]}, space.ar);
    case AddressSpace::Kind::alet: return via_alet(Alet{space.alet}, ar);
    case AddressSpace::Kind::asce: return dat_space(space.asce_value, AddressSpaceId::primary);
    case AddressSpace::Kind::real:
      r.kind = ResolvedSpace::Kind::real;
      r.low_address_protection = lap_applies(ctx, false, {});
      return r;
    case AddressSpace::Kind::absolute:
      r.kind = ResolvedSpace::Kind::absolute;
      r.addressing = Psw::AddressingMode::bits64;
      return r;
  }
  return r;
}

tl::expected<std::uint64_t, Fault> translate_in_space(const AbsoluteReader& reader, const TranslationContext& ctx,
                                                      const ResolvedSpace& space, std::uint64_t address,
                                                      AccessMode mode, WalkTrace* trace, DatWalkCache* cache) {
  auto fault = [&](PgmCode code, ProtectionKind kind) {
    return tl::unexpected(make_fault(code, kind, address, mode, space.teid_as, space.access_id));
  };
  // LAP is checked on the effective address before translation, so it wins over any
  // translation exception for the fragment.
  if (mode == AccessMode::store && space.low_address_protection && is_low_address(address))
    return fault(PgmCode::protection, ProtectionKind::low_address);

  switch (space.kind) {
    case ResolvedSpace::Kind::absolute:
      if (!reader.contains(address)) return fault(PgmCode::addressing, {});
      return address;
    case ResolvedSpace::Kind::real: {
      const std::uint64_t abs = real_to_absolute(address, ctx.prefix);
      if (!reader.contains(abs)) return fault(PgmCode::addressing, {});
      return abs;
    }
    case ResolvedSpace::Kind::dat: {
      auto t = dat_translate(reader, space.asce, address, mode, ctx.dat_controls(), ctx.prefix, trace, cache);
      if (!t) return fault(t.error().code, t.error().protection);
      return t->absolute;
    }
  }
  return fault(PgmCode::addressing, {});
}

tl::expected<std::uint64_t, Fault> translate_address(const AbsoluteReader& reader, const TranslationContext& ctx,
                                                     const AddressSpace& space, std::uint8_t ar,
                                                     std::uint64_t address, AccessMode mode, WalkTrace* trace) {
  auto resolved = resolve_space(reader, ctx, space, ar, address, mode);
  if (!resolved) return tl::unexpected(resolved.error());
  return translate_in_space(reader, ctx, *resolved, effective_address(address, resolved->addressing), mode, trace);
}

}  // namespace s390b
