#include "translate/art.h"

#include "translate/address.h"

namespace s390b {

namespace {

constexpr std::uint64_t control_block_origin_mask = 0x7fffffc0;  // CR2/CR5 bits 33-57
constexpr std::uint64_t ald_offset = 16;  // DUALD in the DUCT, PALD in the ASTE
constexpr std::uint64_t real_space_limit = 0x7fffffff;  // ART tables live below 2 GiB
constexpr unsigned ale_size = 16;

// Reads ART tables at real addresses: prefixing applies, then absolute storage.
class RealReader {
 public:
  RealReader(const AbsoluteReader& reader, std::uint64_t prefix) : reader_(reader), prefix_(prefix) {}

  std::optional<std::uint64_t> u64(std::uint64_t real) const {
    return reader_.read_u64(real_to_absolute(real, prefix_));
  }
  std::optional<std::uint32_t> u32(std::uint64_t real) const {
    auto d = u64(real & ~std::uint64_t{7});
    if (!d) return std::nullopt;
    return static_cast<std::uint32_t>((real & 4) ? *d : *d >> 32);
  }
  std::optional<std::uint8_t> u8(std::uint64_t real) const {
    auto d = u64(real & ~std::uint64_t{7});
    if (!d) return std::nullopt;
    return static_cast<std::uint8_t>(*d >> (56 - 8 * (real & 7)));
  }

 private:
  const AbsoluteReader& reader_;
  std::uint64_t prefix_;
};

}  // namespace

tl::expected<Asce, ArtFault> translate_alet(const AbsoluteReader& reader, const ArtControls& controls,
                                            Alet alet, AccessMode mode, ArtTrace* trace) {
  ArtTrace scratch;
  ArtTrace& t = trace ? *trace : scratch;
  t = ArtTrace{};
  t.alet = alet;
  auto fail = [&t](PgmCode code, std::string_view why) {
    t.stop_reason = why;
    return tl::unexpected(ArtFault{code});
  };

  if (alet.raw == 0) return Asce{controls.cr1};
  if (alet.raw == 1) return Asce{controls.cr7};
  t.ran = true;
  if (alet.reserved_bits_set()) return fail(PgmCode::alet_specification, "ALET bits 0-6 are not zero");

  const RealReader real(reader, controls.prefix);
  t.list_from_primary_aste = alet.primary_list();
  const std::uint64_t block = (alet.primary_list() ? controls.cr5 : controls.cr2) & control_block_origin_mask;
  t.ald_address = block + ald_offset;
  auto ald_word = real.u32(t.ald_address);
  if (!ald_word) return fail(PgmCode::addressing, "access-list designation is outside storage");
  t.ald = Ald{*ald_word};
  t.reached = 1;
  if (alet.alen() / 8 > t.ald.length()) return fail(PgmCode::alen_translation, "ALEN beyond the access-list length");
  if (real_space_limit - t.ald.origin() < std::uint64_t{alet.alen()} * ale_size)
    return fail(PgmCode::addressing, "access-list entry beyond 2 GiB");

  t.ale_address = t.ald.origin() + std::uint64_t{alet.alen()} * ale_size;
  auto ale_hi = real.u64(t.ale_address);
  auto ale_lo = real.u64(t.ale_address + 8);
  if (!ale_hi || !ale_lo) return fail(PgmCode::addressing, "access-list entry is outside storage");
  t.ale = Ale{{static_cast<std::uint32_t>(*ale_hi >> 32), static_cast<std::uint32_t>(*ale_hi),
               static_cast<std::uint32_t>(*ale_lo >> 32), static_cast<std::uint32_t>(*ale_lo)}};
  t.reached = 2;
  if (t.ale.invalid()) return fail(PgmCode::alen_translation, "access-list entry invalid");
  if (t.ale.alesn() != alet.alesn()) return fail(PgmCode::ale_sequence, "ALE sequence number mismatch");

  t.aste_address = t.ale.aste_origin();
  auto a0 = real.u64(t.aste_address);
  auto a1 = a0 ? real.u64(t.aste_address + 8) : std::nullopt;
  auto a2 = a1 ? real.u64(t.aste_address + 16) : std::nullopt;
  if (!a2) return fail(PgmCode::addressing, "ASN-second-table entry is outside storage");
  t.aste = Aste{static_cast<std::uint32_t>(*a0 >> 32), static_cast<std::uint32_t>(*a0), *a1,
                static_cast<std::uint32_t>(*a2 >> 32), static_cast<std::uint32_t>(*a2)};
  t.reached = 3;
  if (t.aste.invalid()) return fail(PgmCode::aste_validity, "ASTE invalid");
  if (t.aste.astesn != t.ale.astesn()) return fail(PgmCode::aste_sequence, "ASTE sequence number mismatch");

  // A private entry is usable by its owner (ALEAX == EAX) or when the authority table
  // grants the EAX secondary authority.
  if (t.ale.private_entry() && t.ale.aleax() != controls.eax()) {
    const unsigned eax = controls.eax();
    if (eax / 16 > t.aste.authority_table_length())
      return fail(PgmCode::extended_authority, "EAX beyond the authority-table length");
    auto byte = real.u8(std::uint64_t{t.aste.authority_table_origin()} + eax / 4);
    if (!byte) return fail(PgmCode::addressing, "authority table is outside storage");
    const unsigned secondary_authority = 0x40u >> ((eax & 3) * 2);
    if (!(*byte & secondary_authority))
      return fail(PgmCode::extended_authority, "EAX lacks secondary authority for the private entry");
  }
  if (t.ale.fetch_only() && mode == AccessMode::store)
    return fail(PgmCode::protection, "store through a fetch-only access-list entry");
  return Asce{t.aste.asce};
}

}  // namespace s390b
