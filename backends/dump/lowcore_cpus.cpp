#include "backends/dump/lowcore_cpus.h"

#include <array>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

constexpr std::uint64_t lowcore_alignment = 0x2000;  // the prefix register: 8 KiB units
constexpr std::uint64_t prefix_limit = std::uint64_t{1} << 31;

// The value of the VMCOREINFO line "KEY=value" (the first), as a number in `base`.
std::optional<std::uint64_t> number(std::string_view text, std::string_view key, int base) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    at = end + 1;
    if (line.size() <= key.size() || !line.starts_with(key) || line[key.size()] != '=') continue;
    const std::string_view v = line.substr(key.size() + 1);
    std::uint64_t out = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
    if (ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

}  // namespace

tl::expected<LowcoreCpus, std::string> cpus_from_lowcores(const AbsoluteReadFn& read, std::string_view vmcoreinfo) {
  // vmcoreinfo_append_str("SYMBOL(%s)=%lx"), ("LENGTH(%s)=%lu") (include/linux/crash_core.h).
  const auto symbol = number(vmcoreinfo, "SYMBOL(lowcore_ptr)", 16);
  const auto length = number(vmcoreinfo, "LENGTH(lowcore_ptr)", 10);
  if (!symbol || !length) return tl::unexpected(std::string("VMCOREINFO has no SYMBOL(lowcore_ptr) and LENGTH(lowcore_ptr)"));
  if (*length == 0 || *length > max_lowcore_ptrs)
    return tl::unexpected(fmt::format("VMCOREINFO: LENGTH(lowcore_ptr)={} (must be 1..{})", *length, max_lowcore_ptrs));
  const auto identity_base = number(vmcoreinfo, "IDENTITYBASE", 16).value_or(0);
  const auto kernel_offset = number(vmcoreinfo, "KERNELOFFSET", 16);
  const auto kernel_off_phys = number(vmcoreinfo, "KERNELOFFPHYS", 16);
  const auto absolute = [&](std::uint64_t va) {
    if (!kernel_off_phys || !kernel_offset) return va;  // virtual = absolute (before Linux 6.10)
    return va < *kernel_offset ? va - identity_base : va - *kernel_offset + *kernel_off_phys;
  };

  const std::uint64_t array = absolute(*symbol);
  LowcoreCpus out;
  for (std::uint64_t i = 0; i < *length; ++i) {
    std::array<std::uint8_t, 8> word{};
    if (!read(array + i * 8, word))
      return tl::unexpected(fmt::format("lowcore_ptr[{}] at absolute {:#x} (SYMBOL(lowcore_ptr)={:#x}) is not in the dump", i,
                                        array + i * 8, *symbol));
    const std::uint64_t va = load_be64(word.data());
    if (va == 0) continue;  // no such CPU
    const std::uint64_t prefix = absolute(va);
    if (prefix % lowcore_alignment != 0 || prefix >= prefix_limit || prefix == 0) {
      out.skipped.push_back(fmt::format("lowcore_ptr[{}] = {:#x}: absolute {:#x} is no prefix (8 KiB-aligned, 0 < p < 2^31)",
                                        i, va, prefix));
      continue;
    }
    CpuState cpu = cpu_from_save_area(read, static_cast<std::uint32_t>(prefix));
    if (!cpu.present.gprs) {
      out.skipped.push_back(fmt::format("lowcore_ptr[{}] = {:#x}: the save area at absolute {:#x} is not in the dump", i, va,
                                        prefix + save_area::start));
      continue;
    }
    out.sources.push_back(fmt::format("{} (lowcore_ptr[{}] of VMCOREINFO)", save_area_source(static_cast<std::uint32_t>(prefix)), i));
    out.cpus.push_back(cpu);
  }
  if (out.cpus.empty())
    return tl::unexpected(fmt::format("no CPU in lowcore_ptr[0..{}) at absolute {:#x}{}", *length, array,
                                      out.skipped.empty() ? "" : ": " + out.skipped.front()));
  return out;
}

}  // namespace s390b::dump
