#include "backends/dump/kernel_utsname.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "backends/dump/guest_read.h"
#include "translate/byteorder.h"
#include "translate/dat.h"

namespace s390b::dump {

namespace {

// VMCOREINFO keys (Linux kernel/crash_core.c: VMCOREINFO_SYMBOL prints "%lx",
// VMCOREINFO_OFFSET "%lu").
constexpr std::string_view init_uts_ns_key = "SYMBOL(init_uts_ns)";
constexpr std::string_view name_offset_key = "OFFSET(uts_namespace.name)";
constexpr unsigned home_asce_cr = 13;  // CR13: the home-space ASCE, the kernel's on Linux
constexpr std::string_view linux_sysname = "Linux";  // UTS_SYSNAME

std::optional<std::uint64_t> parse(const std::optional<std::string>& text, int base) {
  if (!text || text->empty()) return std::nullopt;
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v, base);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return v;
}

// Guest tables read through the backend's absolute MEMOPs (as access/backend_reader.h
// does above this layer, which dump/ may not include).
class GuestTables final : public AbsoluteReader {
 public:
  explicit GuestTables(Backend& backend) : backend_(backend) {}
  std::optional<std::uint64_t> read_u64(std::uint64_t address) const override {
    std::array<std::uint8_t, 8> bytes{};
    if (!read_guest_absolute(backend_, address, bytes).ok()) return std::nullopt;
    return load_be64(bytes.data());
  }
  bool contains(std::uint64_t address) const override {
    std::array<std::uint8_t, 1> byte{};
    return read_guest_absolute(backend_, address, byte).ok();
  }

 private:
  Backend& backend_;
};

}  // namespace

UtsnameSearch recover_utsname(Backend& backend, const Vmcoreinfo& vmcoreinfo) {
  UtsnameSearch out;
  auto reject = [&](std::string why) {
    out.rejected = std::move(why);
    return out;
  };
  const auto symbol = parse(vmcoreinfo.value(init_uts_ns_key), 16);
  const auto offset = parse(vmcoreinfo.value(name_offset_key), 10);
  if (!symbol || !offset) return reject(fmt::format("VMCOREINFO has no {} or {}", init_uts_ns_key, name_offset_key));
  if (backend.cpu_count() == 0) return reject("no CPU to take the kernel's ASCE from");
  const auto cpu = backend.cpu_state(0);
  if (!cpu || !cpu->present.crs) return reject("CPU 0 has no control registers (the kernel's ASCE is in CR13)");
  const Asce asce{cpu->crs[home_asce_cr]};
  const DatControls controls = DatControls::from(cpu->crs[0], backend.facilities());
  const std::uint64_t prefix = cpu->present.prefix ? cpu->prefix : 0;

  // The six fields, page by page (they may cross a page boundary).
  const std::uint64_t va = *symbol + *offset;
  std::vector<std::uint8_t> bytes(utsname_field_size * utsname_fields);
  GuestTables tables(backend);
  for (std::size_t done = 0; done < bytes.size();) {
    const std::uint64_t at = va + done;
    auto t = dat_translate(tables, asce, at, AccessMode::fetch, controls, prefix);
    if (!t)
      return reject(fmt::format("init_uts_ns.name at {:#x}: translation through CR13 {:#x} fails ({})", at, asce.raw,
                                pgm_name(t.error().code)));
    const std::size_t n = std::min<std::size_t>(bytes.size() - done, page_size - (at & (page_size - 1)));
    if (!read_guest_absolute(backend, t->absolute, std::span(bytes).subspan(done, n)).ok())
      return reject(fmt::format("init_uts_ns.name at {:#x} (absolute {:#x}) cannot be read", at, t->absolute));
    done += n;
  }
  std::array<std::string, utsname_fields> f;
  for (unsigned i = 0; i < utsname_fields; ++i) {
    const auto* p = bytes.data() + i * utsname_field_size;
    const auto* end = std::find(p, p + utsname_field_size, std::uint8_t{0});
    if (end == p + utsname_field_size || !std::all_of(p, end, [](std::uint8_t c) { return c >= 0x20 && c < 0x7f; }))
      return reject(fmt::format("init_uts_ns.name at {:#x}: field {} is not a printable string", va, i));
    f[i].assign(p, end);
  }
  KernelUtsname u{f[0], f[1], f[2], f[3], f[4], f[5]};
  if (u.sysname != linux_sysname) return reject(fmt::format("init_uts_ns.name at {:#x}: sysname \"{}\"", va, u.sysname));
  if (u.release != vmcoreinfo.value("OSRELEASE"))
    return reject(fmt::format("init_uts_ns.name at {:#x}: release \"{}\" is not VMCOREINFO's OSRELEASE", va, u.release));
  out.found = std::move(u);
  return out;
}

}  // namespace s390b::dump
