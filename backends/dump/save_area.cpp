#include "backends/dump/save_area.h"

#include <fmt/format.h>

#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

// Offsets inside the 512 bytes read from prefix + save_area::start.
constexpr std::size_t at(std::uint64_t lowcore_offset) { return static_cast<std::size_t>(lowcore_offset - save_area::start); }

}  // namespace

std::uint64_t vector_area_origin(std::uint64_t mcesad) {
  const std::uint64_t origin = mcesad & ~save_area::mcesad_length_code;
  if (origin == 0 || origin % save_area::vector_area_alignment != 0) return 0;
  return origin;
}

CpuState cpu_from_save_area(const AbsoluteReadFn& read, std::uint32_t prefix) {
  CpuState cpu;
  cpu.prefix = prefix;
  cpu.present.prefix = true;
  std::array<std::uint8_t, save_area::size> sa{};
  if (!read(std::uint64_t{prefix} + save_area::start, sa)) return cpu;
  const std::uint8_t* p = sa.data();
  for (unsigned i = 0; i < 16; ++i) {
    cpu.set_fpr(i, load_be64(p + at(save_area::fprs) + 8 * i));
    cpu.gprs[i] = load_be64(p + at(save_area::gprs) + 8 * i);
    cpu.acrs[i] = load_be32(p + at(save_area::acrs) + 4 * i);
    cpu.crs[i] = load_be64(p + at(save_area::crs) + 8 * i);
  }
  cpu.psw.mask = load_be64(p + at(save_area::psw));
  cpu.psw.addr = load_be64(p + at(save_area::psw) + 8);
  cpu.fpc = load_be32(p + at(save_area::fpc));
  cpu.todpr = load_be32(p + at(save_area::todpr));
  cpu.cputm = load_be64(p + at(save_area::cputm));
  cpu.ckc = ckc_from_save_area(load_be64(p + at(save_area::ckc)));
  cpu.present.gprs = cpu.present.psw = cpu.present.acrs = cpu.present.crs = cpu.present.fprs = true;
  cpu.present.cputm = cpu.present.ckc = cpu.present.todpr = true;

  std::array<std::uint8_t, 8> mcesad{};
  if (!read(std::uint64_t{prefix} + save_area::vector_save_area_addr, mcesad)) return cpu;
  const std::uint64_t origin = vector_area_origin(load_be64(mcesad.data()));
  if (origin == 0) return cpu;
  std::array<std::uint8_t, save_area::vector_area_size> vx{};
  if (!read(origin, vx)) return cpu;
  for (unsigned n = 0; n < 32; ++n) {
    // V0-V15's left halves are the FPRs, which store status wrote last; keep those.
    if (n >= 16) cpu.vrs[n][0] = load_be64(vx.data() + 16 * n);
    cpu.vrs[n][1] = load_be64(vx.data() + 16 * n + 8);
  }
  cpu.present.vrs = true;
  return cpu;
}

std::array<std::uint8_t, save_area::size> encode_save_area(const CpuState& cpu) {
  std::array<std::uint8_t, save_area::size> sa{};
  std::uint8_t* p = sa.data();
  const auto& has = cpu.present;
  for (unsigned i = 0; i < 16; ++i) {
    if (has.fprs) store_be64(p + at(save_area::fprs) + 8 * i, cpu.fpr(i));
    if (has.gprs) store_be64(p + at(save_area::gprs) + 8 * i, cpu.gprs[i]);
    if (has.acrs) store_be32(p + at(save_area::acrs) + 4 * i, cpu.acrs[i]);
    if (has.crs) store_be64(p + at(save_area::crs) + 8 * i, cpu.crs[i]);
  }
  if (has.psw) {
    store_be64(p + at(save_area::psw), cpu.psw.mask);
    store_be64(p + at(save_area::psw) + 8, cpu.psw.addr);
  }
  store_be32(p + at(save_area::prefix), cpu.prefix);
  if (has.fprs) store_be32(p + at(save_area::fpc), cpu.fpc);
  if (has.todpr) store_be32(p + at(save_area::todpr), cpu.todpr);
  if (has.cputm) store_be64(p + at(save_area::cputm), cpu.cputm);
  if (has.ckc) store_be64(p + at(save_area::ckc), ckc_to_save_area(cpu.ckc));
  return sa;
}

std::array<std::uint8_t, save_area::vector_area_size> encode_vector_area(const CpuState& cpu) {
  std::array<std::uint8_t, save_area::vector_area_size> vx{};
  for (unsigned n = 0; n < 32; ++n) {
    store_be64(vx.data() + 16 * n, cpu.vrs[n][0]);
    store_be64(vx.data() + 16 * n + 8, cpu.vrs[n][1]);
  }
  return vx;
}

std::string save_area_source(std::uint32_t prefix) {
  return fmt::format("store-status save area at absolute {:#x}", std::uint64_t{prefix} + save_area::start);
}

}  // namespace s390b::dump
