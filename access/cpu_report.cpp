#include "access/cpu_report.h"

#include <fmt/format.h>

#include "translate/address.h"
#include "translate/art.h"

namespace s390b {

namespace {

constexpr std::string_view asc_names[] = {"primary", "access-register", "secondary", "home"};
constexpr std::string_view amode_names[] = {"24-bit", "31-bit", "64-bit"};

std::string_view on_off(bool b) { return b ? "on" : "off"; }

// The controls of CR0 that decide how storage is accessed.
struct Cr0Controls {
  bool low_address_protection, fetch_protection_override, storage_protection_override, edat, iep;
  static Cr0Controls of(std::uint64_t c0) {
    return {(c0 & cr0::low_address_protection) != 0, (c0 & cr0::fetch_protection_override) != 0,
            (c0 & cr0::storage_protection_override) != 0, (c0 & cr0::edat) != 0, (c0 & cr0::iep) != 0};
  }
};

ArtControls art_controls(const CpuState& s) { return {s.crs[1], s.crs[2], s.crs[5], s.crs[7], s.crs[8], s.prefix}; }

Json hex_array(const auto& values) {
  Json a = Json::array();
  for (auto v : values) a.push_back(hex_string(v));
  return a;
}

}  // namespace

std::string psw_text(const Psw& p) {
  return fmt::format("{:#018x} {:#018x}  DAT {}, {} space, key {}, {}, {}{}", p.mask, p.addr, on_off(p.dat()),
                     asc_names[static_cast<unsigned>(p.asc())], p.key(),
                     amode_names[static_cast<unsigned>(p.addressing_mode())],
                     p.problem_state() ? "problem state" : "supervisor state", p.wait() ? ", wait" : "");
}

std::string key_text(StorageKey k) {
  return fmt::format("{:#04x} (ACC {}, F {}, R {}, C {})", k.raw, k.access_key(), k.fetch_protected() ? 1 : 0,
                     k.referenced() ? 1 : 0, k.changed() ? 1 : 0);
}

std::string system_state_text(const CpuState& s) {
  std::string out = fmt::format("  PSW   {}\n", psw_text(s.psw));
  out += fmt::format("  prefix {:#x}   CPU timer {:#018x}   clock comparator {:#018x}\n", s.prefix, s.cputm, s.ckc);
  out += fmt::format("  TOD programmable register {:#010x}   breaking-event address {:#018x}\n", s.todpr, s.last_break);
  const Cr0Controls c = Cr0Controls::of(s.crs[0]);
  out += fmt::format("  CR0 {:#018x}: low-address protection {}, fetch-protection override {}, "
                     "storage-protection override {}, EDAT {}, IEP {}\n",
                     s.crs[0], on_off(c.low_address_protection), on_off(c.fetch_protection_override),
                     on_off(c.storage_protection_override), on_off(c.edat), on_off(c.iep));
  out += fmt::format("  primary ASCE (CR1) {:#018x}   secondary ASCE (CR7) {:#018x}   home ASCE (CR13) {:#018x}\n",
                     s.crs[1], s.crs[7], s.crs[13]);
  out += fmt::format("  DUCT (CR2) {:#x}   primary ASTE (CR5) {:#x}   EAX (CR8) {:#x}\n", s.crs[2], s.crs[5],
                     art_controls(s).eax());
  return out;
}

std::string cpu_state_text(unsigned cpu, const CpuState& s) {
  std::string out = fmt::format("cpu {}\n", cpu);
  // Four registers a line, "r0    0x0000000000000000".
  auto group = [&](std::string_view name, const auto& values, int digits) {
    for (std::size_t i = 0; i < values.size(); ++i) {
      out += fmt::format("  {:<5} {:#0{}x}", fmt::format("{}{}", name, i), values[i], digits + 2);
      if (i % 4 == 3 || i + 1 == values.size()) out += "\n";
    }
  };
  const CpuState::Present& p = s.present;
  if (p.gprs) group("r", s.gprs, 16);
  if (p.acrs) group("acr", s.acrs, 8);
  if (p.crs) group("cr", s.crs, 16);
  if (p.fprs) {
    std::array<std::uint64_t, 16> f{};
    for (unsigned i = 0; i < 16; ++i) f[i] = s.fpr(i);
    group("f", f, 16);
    out += fmt::format("  fpc   {:#010x}\n", s.fpc);
  }
  if (p.vrs)
    for (unsigned i = 0; i < 32; ++i)
      out += fmt::format("  v{:<4} {:#018x} {:016x}\n", i, s.vrs[i][0], s.vrs[i][1]);
  if (p.gs) out += fmt::format("  gs    {:#018x} {:#018x} {:#018x} {:#018x}\n", s.gs[0], s.gs[1], s.gs[2], s.gs[3]);
  return out + system_state_text(s);
}

Json cpu_state_json(unsigned cpu, const CpuState& s) {
  Json j;
  j["cpu"] = cpu;
  const Psw& psw = s.psw;
  j["psw"] = {{"mask", hex_string(psw.mask)},
              {"address", hex_string(psw.addr)},
              {"dat", psw.dat()},
              {"space", std::string(asc_names[static_cast<unsigned>(psw.asc())])},
              {"key", psw.key()},
              {"addressing", std::string(amode_names[static_cast<unsigned>(psw.addressing_mode())])},
              {"problem_state", psw.problem_state()},
              {"wait", psw.wait()},
              {"cc", psw.condition_code()}};
  const CpuState::Present& p = s.present;
  if (p.gprs) j["gprs"] = hex_array(s.gprs);
  if (p.acrs) j["acrs"] = hex_array(s.acrs);
  if (p.crs) j["crs"] = hex_array(s.crs);
  if (p.fprs) {
    std::array<std::uint64_t, 16> f{};
    for (unsigned i = 0; i < 16; ++i) f[i] = s.fpr(i);
    j["fprs"] = hex_array(f);
    j["fpc"] = hex_string(s.fpc);
  }
  if (p.vrs) {
    Json v = Json::array();
    for (const auto& r : s.vrs) v.push_back(fmt::format("{:#018x}{:016x}", r[0], r[1]));
    j["vrs"] = std::move(v);
  }
  if (p.prefix) j["prefix"] = hex_string(s.prefix);
  if (p.cputm) j["cpu_timer"] = hex_string(s.cputm);
  if (p.ckc) j["clock_comparator"] = hex_string(s.ckc);
  if (p.todpr) j["tod_programmable"] = hex_string(s.todpr);
  if (p.last_break) j["breaking_event_address"] = hex_string(s.last_break);
  if (p.gs) j["guarded_storage"] = hex_array(s.gs);
  if (p.crs) {
    const Cr0Controls c = Cr0Controls::of(s.crs[0]);
    j["cr0"] = {{"low_address_protection", c.low_address_protection},
                {"fetch_protection_override", c.fetch_protection_override},
                {"storage_protection_override", c.storage_protection_override},
                {"edat", c.edat},
                {"iep", c.iep}};
    j["asce"] = {{"primary", hex_string(s.crs[1])}, {"secondary", hex_string(s.crs[7])}, {"home", hex_string(s.crs[13])}};
    j["duct"] = hex_string(s.crs[2]);
    j["primary_aste"] = hex_string(s.crs[5]);
    j["eax"] = art_controls(s).eax();
  }
  return j;
}

}  // namespace s390b
