#include "backends/dump/vmcoreinfo.h"

#include <array>

#include <fmt/format.h>

#include "backends/dump/guest_read.h"
#include "backends/dump/s390_notes.h"
#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

constexpr std::uint64_t page_size = 4096;

// Reads a u64 pointer from the absolute lowcore, or says why it cannot.
tl::expected<std::uint64_t, std::string> lowcore_u64(Backend& backend, std::uint64_t offset) {
  std::array<std::uint8_t, 8> b{};
  const MemopResult r = read_guest_absolute(backend, offset, b);
  if (!r.ok()) return tl::unexpected(fmt::format("absolute {:#x} unreadable: {}", offset, describe_read_failure(r)));
  return load_be64(b.data());
}

tl::expected<std::vector<std::uint8_t>, std::string> read_bytes(Backend& backend, std::uint64_t address,
                                                                std::uint64_t size, std::string_view what) {
  if (size - 1 > ~address) return tl::unexpected(fmt::format("{} at {:#x}+{:#x} wraps", what, address, size));
  std::vector<std::uint8_t> out(static_cast<std::size_t>(size));
  std::uint64_t at = 0;
  const MemopResult r = read_guest_absolute(backend, address, out, &at);
  if (!r.ok()) return tl::unexpected(fmt::format("{} at {:#x} unreadable near {:#x}: {}", what, address, at, describe_read_failure(r)));
  return out;
}

tl::expected<Vmcoreinfo, std::string> from_os_info(Backend& backend) {
  auto ptr = lowcore_u64(backend, linux_lowcore::os_info);
  if (!ptr) return tl::unexpected(ptr.error());
  const std::uint64_t addr = *ptr;
  if (addr == 0) return tl::unexpected(std::string("the pointer is 0 (no os_info)"));
  // The kernel allocates it page-aligned and its own reader rejects anything else
  // (arch/s390/kernel/os_info.c, os_info_old_init).
  if (addr % page_size != 0) return tl::unexpected(fmt::format("{:#x} is not page-aligned", addr));
  auto page = read_bytes(backend, addr, os_info::size, "the os_info page");
  if (!page) return tl::unexpected(page.error());
  const std::uint8_t* p = page->data();
  const std::uint64_t magic = load_be64(p + os_info::magic_offset);
  if (magic != os_info::magic) return tl::unexpected(fmt::format("os_info at {:#x}: bad magic {:#018x}", addr, magic));
  const std::uint32_t csum = load_be32(p + os_info::csum_offset);
  const std::uint32_t want = cksm(std::span<const std::uint8_t>(*page).subspan(os_info::version_major_offset));
  if (csum != want)
    return tl::unexpected(fmt::format("os_info at {:#x}: checksum {:#010x}, the page sums to {:#010x}", addr, csum, want));
  const std::uint16_t major = load_be16(p + os_info::version_major_offset);
  if (major > os_info::version_major_max)
    return tl::unexpected(fmt::format("os_info at {:#x}: version {} is newer than {}", addr, major, os_info::version_major_max));
  const std::uint8_t* e = p + os_info::entry_offset + os_info::entry_size * os_info::entry_vmcoreinfo;
  const std::uint64_t text_addr = load_be64(e);
  const std::uint64_t size = load_be64(e + 8);
  const std::uint32_t text_csum = load_be32(e + 16);
  if (text_addr == 0) return tl::unexpected(fmt::format("os_info at {:#x}: entry 0 (VMCOREINFO) is empty", addr));
  if (size == 0 || size > vmcoreinfo_max_bytes)
    return tl::unexpected(fmt::format("os_info at {:#x}: entry 0 size {:#x} (want 1..{:#x})", addr, size, vmcoreinfo_max_bytes));
  auto text = read_bytes(backend, text_addr, size, "entry 0's data");
  if (!text) return tl::unexpected(fmt::format("os_info at {:#x}: {}", addr, text.error()));
  if (cksm(*text) != text_csum)
    return tl::unexpected(fmt::format("os_info at {:#x}: entry 0 checksum {:#010x}, its {:#x} bytes at {:#x} sum to {:#010x}",
                                      addr, text_csum, size, text_addr, cksm(*text)));
  if (auto why = vmcoreinfo_text_problem(*text); !why.empty())
    return tl::unexpected(fmt::format("os_info at {:#x}: entry 0 at {:#x}: {}", addr, text_addr, why));
  return Vmcoreinfo{VmcoreinfoOrigin::os_info, text_addr, std::move(*text)};
}

tl::expected<Vmcoreinfo, std::string> from_lowcore_note(Backend& backend) {
  auto ptr = lowcore_u64(backend, linux_lowcore::vmcore_info);
  if (!ptr) return tl::unexpected(ptr.error());
  const std::uint64_t addr = *ptr;
  if (addr == 0) return tl::unexpected(std::string("the pointer is 0"));
  // Early in boot the field holds the KASLR offset, marked as an odd value (crash's
  // s390x.c reads it so); a note is 4-byte aligned (Elf64_Nhdr).
  if (addr % 4 != 0) return tl::unexpected(fmt::format("{:#x} is not a note address (odd: an early-boot KASLR offset?)", addr));
  auto head = read_bytes(backend, addr, vmcoreinfo_note_header, "the note header");
  if (!head) return tl::unexpected(head.error());
  const std::uint32_t namesz = load_be32(head->data());
  const std::uint32_t descsz = load_be32(head->data() + 4);
  const std::uint32_t type = load_be32(head->data() + 8);
  const std::string_view name(reinterpret_cast<const char*>(head->data() + 12), vmcoreinfo_note_name.size() + 1);
  if (namesz != vmcoreinfo_note_name.size() + 1 || name.substr(0, vmcoreinfo_note_name.size()) != vmcoreinfo_note_name ||
      name.back() != '\0')
    return tl::unexpected(fmt::format("no VMCOREINFO note at {:#x} (n_namesz {}, name not \"VMCOREINFO\")", addr, namesz));
  if (type != vmcoreinfo_note_type)
    return tl::unexpected(fmt::format("the note at {:#x} has n_type {:#x}, not 0", addr, type));
  if (descsz == 0 || descsz > vmcoreinfo_max_bytes)
    return tl::unexpected(fmt::format("the note at {:#x} has n_descsz {:#x} (want 1..{:#x})", addr, descsz, vmcoreinfo_max_bytes));
  auto desc = read_bytes(backend, addr + vmcoreinfo_note_header, descsz, "the note's text");
  if (!desc) return tl::unexpected(desc.error());
  if (auto why = vmcoreinfo_text_problem(*desc); !why.empty())
    return tl::unexpected(fmt::format("the note at {:#x}: {}", addr, why));
  return Vmcoreinfo{VmcoreinfoOrigin::lowcore_note, addr, std::move(*desc)};
}

}  // namespace

std::uint32_t cksm(std::span<const std::uint8_t> bytes, std::uint32_t initial) {
  std::uint64_t sum = initial;
  std::size_t i = 0;
  auto add = [&sum](std::uint32_t word) {
    sum += word;
    sum = (sum & 0xffffffffu) + (sum >> 32);  // end-around carry
  };
  for (; i + 4 <= bytes.size(); i += 4) add(load_be32(bytes.data() + i));
  if (i < bytes.size()) {
    std::array<std::uint8_t, 4> last{};
    for (std::size_t k = 0; i + k < bytes.size(); ++k) last[k] = bytes[i + k];
    add(load_be32(last.data()));
  }
  return static_cast<std::uint32_t>(sum);
}

std::string_view vmcoreinfo_origin_name(VmcoreinfoOrigin origin) {
  switch (origin) {
    case VmcoreinfoOrigin::os_info: return "os_info entry 0";
    case VmcoreinfoOrigin::lowcore_note: return "lowcore 0xe0c note";
    case VmcoreinfoOrigin::source_dump: break;
  }
  return "the source dump";
}

std::string_view vmcoreinfo_origin_key(VmcoreinfoOrigin origin) {
  switch (origin) {
    case VmcoreinfoOrigin::os_info: return "os_info";
    case VmcoreinfoOrigin::lowcore_note: return "lowcore_note";
    case VmcoreinfoOrigin::source_dump: break;
  }
  return "source_dump";
}

std::string_view Vmcoreinfo::text() const {
  std::string_view t(reinterpret_cast<const char*>(desc.data()), desc.size());
  while (!t.empty() && t.back() == '\0') t.remove_suffix(1);
  return t;
}

std::optional<std::string> Vmcoreinfo::value(std::string_view key) const {
  const std::string_view t = text();
  for (std::size_t at = 0; at < t.size();) {
    std::size_t end = t.find('\n', at);
    if (end == std::string_view::npos) end = t.size();
    const std::string_view line = t.substr(at, end - at);
    if (line.size() > key.size() && line.substr(0, key.size()) == key && line[key.size()] == '=')
      return std::string(line.substr(key.size() + 1));
    at = end + 1;
  }
  return std::nullopt;
}

std::string vmcoreinfo_text_problem(std::span<const std::uint8_t> desc) {
  std::size_t end = desc.size();
  while (end > 0 && desc[end - 1] == 0) --end;
  if (end == 0) return "the text is empty";
  for (std::size_t i = 0; i < end; ++i) {
    const std::uint8_t c = desc[i];
    if (c != '\n' && (c < 0x20 || c > 0x7e)) return fmt::format("byte {:#04x} at +{:#x} is not text", c, i);
  }
  // The kernel writes OSRELEASE first (kernel/crash_core.c, crash_save_vmcoreinfo_init).
  static constexpr std::string_view first = "OSRELEASE=";
  const std::string_view t(reinterpret_cast<const char*>(desc.data()), end);
  if (t.find(first) == std::string_view::npos) return "no OSRELEASE= line";
  return {};
}

VmcoreinfoSearch recover_vmcoreinfo(Backend& backend) {
  VmcoreinfoSearch s;
  auto a = from_os_info(backend);
  if (a) {
    s.found = std::move(*a);
    return s;
  }
  s.rejected.push_back(fmt::format("os_info (lowcore {:#x}): {}", linux_lowcore::os_info, a.error()));
  auto b = from_lowcore_note(backend);
  if (b) {
    s.found = std::move(*b);
    return s;
  }
  s.rejected.push_back(fmt::format("vmcore_info (lowcore {:#x}): {}", linux_lowcore::vmcore_info, b.error()));
  return s;
}

}  // namespace s390b::dump
