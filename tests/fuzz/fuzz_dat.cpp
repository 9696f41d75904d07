// libFuzzer target for translate/: the DAT walker, access-register translation and the
// vCPU-level translate_address over storage made of fuzzer bytes.
//
// Input layout (big-endian fields, missing bytes read as zero):
//    0  u64 ASCE                    32  u32 CR2 (DUCT origin)     48  u32 prefix
//    8  u64 address A               36  u32 CR5 (primary ASTE)    52  u8  flags
//   16  u64 address B               40  u32 CR8 bits 32-63        53  u8  AR number / view
//   24  u64 CR0                     44  u32 ALET (AR content)     54  u16 hole mask
//   56.. storage: 16 frames (64 KiB at absolute 0) filled cyclically with these bytes
// flags: bit 0 store, bit 1 EDAT-1 facility, bit 2 EDAT-2 facility, bit 3 fold every
// address into the window (else addresses outside it are holes), bits 4-5 PSW AS,
// bit 6 PSW DAT, bit 7 PSW 64-bit (else 31-bit).
//
// Checked on every input: no crash/UB (ASan, UBSan), reads aligned and bounded (no walk can
// loop), results deterministic and equal with and without traces, fetch/store agree except
// for DAT protection, PGM codes limited to those ART and DAT can raise (KVM's
// ar_translation and guest_translate, Linux arch/s390/kvm/gaccess.c), successful
// translations land in storage, and every Fault carries exactly the TEID / access id
// KVM's trans_exc prescribes for its code.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "translate/art.h"
#include "translate/byteorder.h"
#include "translate/dat.h"
#include "translate/space.h"

using namespace s390b;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

constexpr std::size_t header_size = 56;
constexpr std::uint64_t window = 0x10000;

class FuzzStorage final : public AbsoluteReader {
 public:
  FuzzStorage(const std::uint8_t* data, std::size_t size, std::uint16_t holes, bool fold)
      : holes_(holes), fold_(fold) {
    // Cyclic fill by doubling copies (a byte-wise modulo loop costs more than the walks).
    if (size == 0) return;
    std::size_t filled = std::min(size, bytes_.size());
    std::memcpy(bytes_.data(), data, filled);
    while (filled < bytes_.size()) {
      const std::size_t n = std::min(filled, bytes_.size() - filled);
      std::memcpy(bytes_.data() + filled, bytes_.data(), n);
      filled += n;
    }
  }
  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override {
    check((address & 7) == 0);  // the reader contract: aligned doublewords
    ++reads_;
    const auto a = map(address);
    if (!a) return std::nullopt;
    return load_be64(bytes_.data() + *a);
  }
  bool contains(std::uint64_t address) const override { return map(address).has_value(); }
  unsigned reads() const { return reads_; }
  void reset_reads() const { reads_ = 0; }

 private:
  std::optional<std::size_t> map(std::uint64_t address) const {
    if (fold_) address &= window - 1;
    if (address >= window) return std::nullopt;
    if (holes_ & (1u << (address / 4096))) return std::nullopt;
    return static_cast<std::size_t>(address);
  }
  std::array<std::uint8_t, window> bytes_{};
  std::uint16_t holes_;
  bool fold_;
  mutable unsigned reads_ = 0;
};

struct Input {
  std::array<std::uint8_t, header_size> h{};
  explicit Input(const std::uint8_t* data, std::size_t size) {
    for (std::size_t i = 0; i < h.size() && i < size; ++i) h[i] = data[i];
  }
  std::uint64_t u64(std::size_t at) const { return load_be64(h.data() + at); }
  std::uint32_t u32(std::size_t at) const { return load_be32(h.data() + at); }
};

bool dat_code_possible(PgmCode c) {
  switch (c) {
    case PgmCode::protection:
    case PgmCode::addressing:
    case PgmCode::segment_translation:
    case PgmCode::page_translation:
    case PgmCode::translation_specification:
    case PgmCode::asce_type:
    case PgmCode::region_first_translation:
    case PgmCode::region_second_translation:
    case PgmCode::region_third_translation: return true;
    default: return false;
  }
}
bool art_code_possible(PgmCode c) {
  switch (c) {
    case PgmCode::protection:
    case PgmCode::addressing:
    case PgmCode::alet_specification:
    case PgmCode::alen_translation:
    case PgmCode::ale_sequence:
    case PgmCode::aste_validity:
    case PgmCode::aste_sequence:
    case PgmCode::extended_authority: return true;
    default: return false;
  }
}

// As KVM's trans_exc (Linux arch/s390/kvm/gaccess.c): which codes store a TEID and which
// an exception access id.
void check_fault_shape(const Fault& f) {
  bool teid = false;
  bool aid = false;
  switch (f.code) {
    case PgmCode::protection:
    case PgmCode::segment_translation:
    case PgmCode::page_translation:
    case PgmCode::asce_type:
    case PgmCode::region_first_translation:
    case PgmCode::region_second_translation:
    case PgmCode::region_third_translation: teid = aid = true; break;
    case PgmCode::alen_translation:
    case PgmCode::ale_sequence:
    case PgmCode::aste_validity:
    case PgmCode::aste_sequence:
    case PgmCode::extended_authority: aid = true; break;
    default: break;
  }
  check(f.teid.has_value() == teid);
  check(f.exc_access_id.has_value() == aid);
  if (f.teid) check((f.teid->raw() & 0x370) == 0);  // bits 54-55, 57-59 never set
}

bool same(const tl::expected<DatTranslation, DatFault>& a, const tl::expected<DatTranslation, DatFault>& b) {
  if (a.has_value() != b.has_value()) return false;
  if (!a) return a.error() == b.error();
  return a->absolute == b->absolute && a->frame_size == b->frame_size && a->dat_protected == b->dat_protected &&
         a->iep == b->iep;
}

void fuzz_dat(const FuzzStorage& storage, Asce asce, std::uint64_t address, DatControls controls,
              std::uint64_t prefix) {
  WalkTrace trace;
  storage.reset_reads();
  const auto fetch = dat_translate(storage, asce, address, AccessMode::fetch, controls, prefix, &trace);
  check(storage.reads() <= 5);
  check(trace.depth <= 5);
  check(trace.address == address && trace.asce == asce);
  const auto again = dat_translate(storage, asce, address, AccessMode::fetch, controls, prefix);
  check(same(fetch, again));
  const auto store = dat_translate(storage, asce, address, AccessMode::store, controls, prefix);
  if (fetch) {
    check(trace.stop_reason.empty());
    check(storage.contains(fetch->absolute));
    check(trace.absolute == fetch->absolute);
    check(fetch->frame_size == 4096 || fetch->frame_size == (1u << 20) || fetch->frame_size == (1ull << 31));
    // The offset within the frame survives translation (prefixing moves 8 KiB blocks).
    check((fetch->absolute & (fetch->frame_size - 1)) == (address & (fetch->frame_size - 1)));
    if (store) {
      check(store->absolute == fetch->absolute && !fetch->dat_protected);
    } else {
      check(store.error().code == PgmCode::protection && fetch->dat_protected);
    }
  } else {
    check(!trace.stop_reason.empty());
    check(dat_code_possible(fetch.error().code) && fetch.error().code != PgmCode::protection);
    // The same walk: only the final frame's 0x05 may turn into DAT protection for a store.
    check(!store);
    if (fetch.error().code != PgmCode::addressing) check(store.error() == fetch.error());
  }
  if (!controls.edat1) check(!fetch || fetch->frame_size == 4096);
  if (!controls.edat2) check(!fetch || fetch->frame_size != (1ull << 31));
}

void fuzz_art(const FuzzStorage& storage, const ArtControls& controls, Alet alet) {
  for (AccessMode mode : {AccessMode::fetch, AccessMode::store}) {
    ArtTrace trace;
    storage.reset_reads();
    const auto r = translate_alet(storage, controls, alet, mode, &trace);
    check(storage.reads() <= 8);
    const auto again = translate_alet(storage, controls, alet, mode);
    check(r.has_value() == again.has_value());
    if (r) {
      check(*r == *again);
      check(trace.stop_reason.empty());
      if (alet.raw == 0) check(r->raw == controls.cr1);
      if (alet.raw == 1) check(r->raw == controls.cr7);
    } else {
      check(r.error() == again.error());
      check(!trace.stop_reason.empty());
      check(art_code_possible(r.error().code));
      if (r.error().code == PgmCode::protection) check(mode == AccessMode::store);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Input in(data, size);
  const std::uint8_t flags = in.h[52];
  const std::uint8_t selector = in.h[53];
  const std::uint16_t holes = load_be16(in.h.data() + 54);
  const std::uint8_t* body = size > header_size ? data + header_size : nullptr;
  const FuzzStorage storage(body, size > header_size ? size - header_size : 0, holes, flags & 0x08);

  const Asce asce{in.u64(0)};
  const std::uint64_t cr0 = in.u64(24);
  const Facilities facilities{(flags & 0x02) != 0, (flags & 0x04) != 0, true};
  const DatControls controls = DatControls::from(cr0, facilities);
  const std::uint64_t prefix = in.u32(48);
  const AccessMode mode = (flags & 0x01) ? AccessMode::store : AccessMode::fetch;

  for (std::uint64_t address : {in.u64(8), in.u64(16)}) fuzz_dat(storage, asce, address, controls, prefix);

  ArtControls art;
  art.cr1 = asce.raw;
  art.cr2 = in.u32(32);
  art.cr5 = in.u32(36);
  art.cr7 = asce.raw ^ 0x1000;
  art.cr8 = in.u32(40);
  art.prefix = prefix;
  const Alet alet{in.u32(44)};
  fuzz_art(storage, art, alet);

  // The vCPU level: every view, with the fuzzed ASCE in each control register.
  TranslationContext ctx;
  ctx.psw.mask = (static_cast<std::uint64_t>((flags >> 4) & 3) << 46) | ((flags & 0x40) ? Psw::dat_bit : 0) |
                 ((flags & 0x80) ? (Psw::ea_bit | Psw::ba_bit) : Psw::ba_bit);
  ctx.cr[0] = cr0;
  ctx.cr[1] = asce.raw;
  ctx.cr[2] = art.cr2;
  ctx.cr[5] = art.cr5;
  ctx.cr[7] = art.cr7;
  ctx.cr[8] = art.cr8;
  ctx.cr[13] = asce.raw ^ 0x20;  // home: the same tables, real-space bit flipped
  ctx.ar.fill(alet.raw);
  ctx.ar[0] = 0xffffffff;  // AR 0 must never be looked at
  ctx.prefix = prefix;
  ctx.facilities = facilities;
  const std::uint8_t ar = selector & 15;
  const AddressSpace views[] = {AddressSpace::of(AddressSpace::Kind::cpu),
                                AddressSpace::of(AddressSpace::Kind::primary),
                                AddressSpace::of(AddressSpace::Kind::secondary),
                                AddressSpace::of(AddressSpace::Kind::home),
                                AddressSpace::access_reg(static_cast<std::uint8_t>(selector >> 4)),
                                AddressSpace::with_alet(alet.raw),
                                AddressSpace::with_asce(asce),
                                AddressSpace::of(AddressSpace::Kind::real),
                                AddressSpace::of(AddressSpace::Kind::absolute)};
  for (const AddressSpace& view : views) {
    WalkTrace trace;
    const auto r = translate_address(storage, ctx, view, ar, in.u64(8), mode, &trace);
    const auto again = translate_address(storage, ctx, view, ar, in.u64(8), mode);
    check(r.has_value() == again.has_value());
    if (r) {
      check(*r == *again);
      check(storage.contains(*r));
    } else {
      check(r.error() == again.error());
      check(dat_code_possible(r.error().code) || art_code_possible(r.error().code));
      check_fault_shape(r.error());
      if (r.error().code == PgmCode::protection) check(mode == AccessMode::store);
      if (r.error().teid) check(r.error().teid->fsi_is_store() == (mode == AccessMode::store));
    }
  }
  return 0;
}
