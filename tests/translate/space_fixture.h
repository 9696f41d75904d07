// A vCPU context with four distinct address spaces for translate_address tests: primary
// (CR1), secondary (CR7), home (CR13) and an AR-mode space reached by ALET in AR 4 (DU
// list) or AR 6 (primary-space list), each mapping `va` to its own frame.
#pragma once

#include "tests/translate/translate_support.h"

namespace s390b::test {

struct SpaceFixture {
  static constexpr std::uint64_t prefix = 0x40000;
  static constexpr std::uint64_t va = 0x5000;
  static constexpr std::uint8_t ar_du = 4;
  static constexpr std::uint8_t ar_ps = 6;

  SparseStorage s;
  TableBuilder b{s};
  TranslationContext ctx;
  Asce primary, secondary, home, ar_space, ps_space;
  std::uint64_t fp = 0, fs = 0, fh = 0, fa = 0, fps = 0;
  AccessList du;
  AccessList ps;
  std::uint64_t aste = 0;

  SpaceFixture() {
    primary = TableBuilder::asce(b.region_table(TableType::region_third));
    secondary = TableBuilder::asce(b.region_table(TableType::segment));
    home = TableBuilder::asce(b.region_table(TableType::region_second));
    ar_space = TableBuilder::asce(b.region_table(TableType::region_first));
    ps_space = TableBuilder::asce(b.region_table(TableType::segment));
    fp = b.data_frame();
    fs = b.data_frame();
    fh = b.data_frame();
    fa = b.data_frame();
    fps = b.data_frame();
    b.map_page(primary, va, fp);
    b.map_page(secondary, va, fs);
    b.map_page(home, va, fh);
    b.map_page(ar_space, va, fa);
    b.map_page(ps_space, va, fps);

    aste = b.aste(AsteSpec{.asce = ar_space, .astesn = 42});
    const std::uint64_t aste_ps = b.aste(AsteSpec{.asce = ps_space, .astesn = 43});
    du = b.access_list(0);
    ps = b.access_list(0);
    b.set_ale(du, 3, AleSpec{.alesn = 7, .aste = static_cast<std::uint32_t>(aste), .astesn = 42});
    b.set_ale(ps, 5, AleSpec{.alesn = 8, .aste = static_cast<std::uint32_t>(aste_ps), .astesn = 43});

    ctx.psw.mask = Psw::dat_bit | psw::amode64;
    ctx.cr[1] = primary.raw;
    ctx.cr[7] = secondary.raw;
    ctx.cr[13] = home.raw;
    ctx.cr[2] = b.duct(du.ald());
    ctx.cr[5] = b.aste(AsteSpec{.asce = primary, .ald = ps.ald(), .astesn = 1});
    ctx.ar[ar_du] = make_alet(false, 7, 3).raw;
    ctx.ar[ar_ps] = make_alet(true, 8, 5).raw;
    ctx.prefix = prefix;
    s.back(0, 0x2000);
    s.back(prefix, 0x2000);
  }

  void set_asc(std::uint64_t as_bits) { ctx.psw.mask = (ctx.psw.mask & ~Psw::as_mask) | as_bits; }
  void set_amode(std::uint64_t amode) {
    ctx.psw.mask = (ctx.psw.mask & ~(Psw::ea_bit | Psw::ba_bit)) | amode;
  }

  tl::expected<std::uint64_t, Fault> tr(const AddressSpace& space, std::uint64_t address,
                                        AccessMode mode = AccessMode::fetch, std::uint8_t ar = 0) const {
    return translate_address(s, ctx, space, ar, address, mode);
  }
  std::string cpu(std::uint64_t address, AccessMode mode = AccessMode::fetch, std::uint8_t ar = 0) const {
    return show(tr(AddressSpace::of(AddressSpace::Kind::cpu), address, mode, ar));
  }
  std::string cpu_code(std::uint64_t address, AccessMode mode = AccessMode::fetch, std::uint8_t ar = 0) const {
    return code_of(tr(AddressSpace::of(AddressSpace::Kind::cpu), address, mode, ar));
  }
};

// The TEID KVM's trans_exc builds (Linux arch/s390/kvm/gaccess.c), spelled out
// independently of Teid's own helpers.
inline std::uint64_t expected_teid(std::uint64_t effective, AccessMode mode, unsigned as, std::uint64_t extra = 0) {
  return (effective & ~std::uint64_t{0xfff}) | (mode == AccessMode::store ? 0x400u : 0x800u) | as | extra;
}

}  // namespace s390b::test
