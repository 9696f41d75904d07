#include "gdbstub/registers.h"

#include <fmt/format.h>

#include "translate/address.h"
#include "translate/byteorder.h"

namespace s390b::rsp {

namespace {

constexpr std::string_view core_feature = "org.gnu.gdb.s390.core";
constexpr std::string_view acr_feature = "org.gnu.gdb.s390.acr";
constexpr std::string_view fpr_feature = "org.gnu.gdb.s390.fpr";
constexpr std::string_view vx_feature = "org.gnu.gdb.s390.vx";
constexpr std::string_view gs_feature = "org.gnu.gdb.s390.gs";
constexpr std::string_view cr_feature = "org.gnu.gdb.s390.cr";
constexpr std::string_view virt_feature = "org.gnu.gdb.s390.virt";

// The vector union GDB's s390 vx feature declares for v16-v31.
constexpr std::string_view vx_types = R"(    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>
)";

}  // namespace

void RegisterLayout::add(Kind kind, unsigned index, RegisterInfo info) {
  regs_.push_back(std::move(info));
  slots_.push_back({kind, index});
}

RegisterLayout RegisterLayout::for_state(const CpuState::Present& present) {
  RegisterLayout l;
  l.add(Kind::pswm, 0, {"pswm", 64, "uint64", "psw", core_feature});
  l.add(Kind::pswa, 0, {"pswa", 64, "uint64", "psw", core_feature});
  for (unsigned i = 0; i < 16; ++i) l.add(Kind::gpr, i, {fmt::format("r{}", i), 64, "uint64", "general", core_feature});
  for (unsigned i = 0; i < 16; ++i) l.add(Kind::acr, i, {fmt::format("acr{}", i), 32, "uint32", "access", acr_feature});
  l.add(Kind::fpc, 0, {"fpc", 32, "uint32", "float", fpr_feature});
  for (unsigned i = 0; i < 16; ++i) l.add(Kind::fpr, i, {fmt::format("f{}", i), 64, "ieee_double", "float", fpr_feature});
  for (unsigned i = 0; i < 16; ++i) l.add(Kind::vr_low, i, {fmt::format("v{}l", i), 64, "uint64", "", vx_feature});
  for (unsigned i = 16; i < 32; ++i) l.add(Kind::vr_full, i, {fmt::format("v{}", i), 128, "vec128", "", vx_feature});
  if (present.gs) {
    static constexpr std::string_view names[] = {"gs_reserved", "gsd", "gssm", "gsepla"};
    for (unsigned i = 0; i < 4; ++i)
      l.add(Kind::gs, i, {std::string(names[i]), 64, i == 3 ? "data_ptr" : "uint64", "system", gs_feature});
  }
  if (present.crs)
    for (unsigned i = 0; i < 16; ++i) l.add(Kind::cr, i, {fmt::format("cr{}", i), 64, "uint64", "control", cr_feature});
  if (present.prefix || present.ckc || present.cputm) {
    l.add(Kind::ckc, 0, {"ckc", 64, "uint64", "system", virt_feature});
    l.add(Kind::cputm, 0, {"cputm", 64, "uint64", "system", virt_feature});
    l.add(Kind::last_break, 0, {"last_break", 64, "code_ptr", "system", virt_feature});
    l.add(Kind::prefix, 0, {"prefix", 64, "data_ptr", "system", virt_feature});
  }

  // target.xml: one <feature> per group of consecutive registers; regnum makes the
  // numbering explicit.
  std::string xml = "<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n<target>\n"
                    "  <architecture>s390:64-bit</architecture>\n";
  std::string_view open;
  for (unsigned n = 0; n < l.regs_.size(); ++n) {
    const RegisterInfo& r = l.regs_[n];
    if (r.feature != open) {
      if (!open.empty()) xml += "  </feature>\n";
      xml += fmt::format("  <feature name=\"{}\">\n", r.feature);
      if (r.feature == vx_feature) xml += vx_types;
      open = r.feature;
    }
    xml += fmt::format("    <reg name=\"{}\" bitsize=\"{}\" type=\"{}\" regnum=\"{}\"", r.name, r.bits, r.type, n);
    if (!r.group.empty()) xml += fmt::format(" group=\"{}\"", r.group);
    xml += "/>\n";
  }
  xml += "  </feature>\n</target>\n";
  l.xml_ = std::move(xml);
  return l;
}

std::size_t RegisterLayout::total_bytes() const {
  std::size_t n = 0;
  for (const auto& r : regs_) n += r.bits / 8;
  return n;
}

int RegisterLayout::find(std::string_view name) const {
  for (unsigned i = 0; i < regs_.size(); ++i)
    if (regs_[i].name == name) return static_cast<int>(i);
  return -1;
}

void RegisterLayout::read(const CpuState& s, unsigned regnum, std::vector<std::uint8_t>& out) const {
  const Slot slot = slots_[regnum];
  std::uint8_t b[16];
  auto put64 = [&](std::uint64_t v) {
    store_be64(b, v);
    out.insert(out.end(), b, b + 8);
  };
  auto put32 = [&](std::uint32_t v) {
    store_be32(b, v);
    out.insert(out.end(), b, b + 4);
  };
  switch (slot.kind) {
    case Kind::pswm: put64(s.psw.mask); break;
    case Kind::pswa: put64(s.psw.addr); break;
    case Kind::gpr: put64(s.gprs[slot.index]); break;
    case Kind::acr: put32(s.acrs[slot.index]); break;
    case Kind::fpc: put32(s.fpc); break;
    case Kind::fpr: put64(s.vrs[slot.index][0]); break;
    case Kind::vr_low: put64(s.vrs[slot.index][1]); break;
    case Kind::vr_full:
      put64(s.vrs[slot.index][0]);
      put64(s.vrs[slot.index][1]);
      break;
    case Kind::gs: put64(s.gs[slot.index]); break;
    case Kind::cr: put64(s.crs[slot.index]); break;
    case Kind::ckc: put64(s.ckc); break;
    case Kind::cputm: put64(s.cputm); break;
    case Kind::last_break: put64(s.last_break); break;
    case Kind::prefix: put64(s.prefix); break;
  }
}

bool RegisterLayout::write(CpuState& s, unsigned regnum, std::span<const std::uint8_t> v) const {
  if (regnum >= regs_.size() || v.size() != bytes(regnum)) return false;
  const Slot slot = slots_[regnum];
  const std::uint8_t* p = v.data();
  switch (slot.kind) {
    case Kind::pswm: s.psw.mask = load_be64(p); break;
    case Kind::pswa: s.psw.addr = load_be64(p); break;
    case Kind::gpr: s.gprs[slot.index] = load_be64(p); break;
    case Kind::acr: s.acrs[slot.index] = load_be32(p); break;
    case Kind::fpc: s.fpc = load_be32(p); break;
    case Kind::fpr: s.vrs[slot.index][0] = load_be64(p); break;
    case Kind::vr_low: s.vrs[slot.index][1] = load_be64(p); break;
    case Kind::vr_full:
      s.vrs[slot.index][0] = load_be64(p);
      s.vrs[slot.index][1] = load_be64(p + 8);
      break;
    case Kind::gs: s.gs[slot.index] = load_be64(p); break;
    case Kind::cr: s.crs[slot.index] = load_be64(p); break;
    case Kind::ckc: s.ckc = load_be64(p); break;
    case Kind::cputm: s.cputm = load_be64(p); break;
    case Kind::last_break: s.last_break = load_be64(p); break;
    case Kind::prefix:
      // The prefix register holds an 8 KiB-aligned 31-bit address.
      s.prefix = static_cast<std::uint32_t>(load_be64(p) & prefix_mask);
      break;
  }
  return true;
}

std::vector<std::uint8_t> RegisterLayout::read_all(const CpuState& state) const {
  std::vector<std::uint8_t> out;
  out.reserve(total_bytes());
  for (unsigned n = 0; n < regs_.size(); ++n) read(state, n, out);
  return out;
}

bool RegisterLayout::write_all(CpuState& state, std::span<const std::uint8_t> values) const {
  if (values.size() != total_bytes()) return false;
  std::size_t off = 0;
  for (unsigned n = 0; n < regs_.size(); ++n) {
    write(state, n, values.subspan(off, bytes(n)));
    off += bytes(n);
  }
  return true;
}

}  // namespace s390b::rsp
