#include "backends/emulated/guest_builder.h"

#include <vector>

#include <fmt/format.h>

#include "translate/address.h"
#include "translate/byteorder.h"

namespace s390b {

namespace {

constexpr std::uint64_t region_table_entries = 2048;  // TL = 3: four 4 KiB pages
constexpr std::uint64_t region_table_size = region_table_entries * 8;
constexpr std::uint64_t page_table_entries = 256;
constexpr std::uint64_t page_table_size = page_table_entries * 8;
constexpr unsigned full_length = 3;
constexpr std::uint64_t ale_size = 16;
constexpr std::uint64_t aste_size = 64;

unsigned index_at(std::uint64_t va, TableType level) {
  const VirtualAddress v{va};
  switch (level) {
    case TableType::region_first: return v.rfx();
    case TableType::region_second: return v.rsx();
    case TableType::region_third: return v.rtx();
    case TableType::segment: return v.sx();
  }
  return 0;
}

std::uint64_t invalid_entry(TableType type) {
  return RegionEntry::i_bit | (std::uint64_t{static_cast<unsigned>(type)} << 2);
}

}  // namespace

GuestBuilder::GuestBuilder(Storage& storage, std::uint64_t pool_start, std::uint64_t pool_end)
    : storage_(storage), next_(pool_start), end_(pool_end) {}

tl::expected<std::uint64_t, std::string> GuestBuilder::allocate(std::uint64_t size, std::uint64_t alignment) {
  const std::uint64_t at = (next_ + alignment - 1) & ~(alignment - 1);
  if (at + size > end_ || !storage_.contains_range(at, size))
    return tl::unexpected(fmt::format("table pool exhausted at {:#x} (+{:#x})", at, size));
  storage_.write(at, std::vector<std::uint8_t>(size, 0));  // backed: checked above
  next_ = at + size;
  return at;
}

void GuestBuilder::store64(std::uint64_t absolute, std::uint64_t value) {
  storage_.write_u64(absolute, value);
}
void GuestBuilder::store32(std::uint64_t absolute, std::uint32_t value) {
  std::uint8_t bytes[4];
  store_be32(bytes, value);
  storage_.write(absolute, bytes);
}
std::uint64_t GuestBuilder::load64(std::uint64_t absolute) const { return storage_.read_u64(absolute).value_or(0); }

bool GuestBuilder::write_bytes(std::uint64_t absolute, std::span<const std::uint8_t> bytes) {
  return storage_.write(absolute, bytes);
}

bool GuestBuilder::write_string(std::uint64_t absolute, std::string_view text) {
  std::vector<std::uint8_t> bytes(text.begin(), text.end());
  bytes.push_back(0);
  return storage_.write(absolute, bytes);
}

tl::expected<std::uint64_t, std::string> GuestBuilder::new_table(TableType type) {
  auto at = allocate(region_table_size, page_size);
  if (!at) return at;
  for (std::uint64_t i = 0; i < region_table_entries; ++i) store64(*at + i * 8, invalid_entry(type));
  return at;
}

tl::expected<std::uint64_t, std::string> GuestBuilder::new_page_table() {
  auto at = allocate(page_table_size, page_table_size);
  if (!at) return at;
  for (std::uint64_t i = 0; i < page_table_entries; ++i) store64(*at + i * 8, PageEntry::i_bit);
  return at;
}

tl::expected<Asce, std::string> GuestBuilder::new_space(TableType top, bool private_space) {
  auto origin = new_table(top);
  if (!origin) return tl::unexpected(origin.error());
  std::uint64_t raw = *origin | (std::uint64_t{static_cast<unsigned>(top)} << 2) | full_length;
  if (private_space) raw |= Asce::p_bit;
  return Asce{raw};
}

tl::expected<std::uint64_t, std::string> GuestBuilder::entry_for(Asce asce, std::uint64_t va, TableType level) {
  TableType current = asce.designation();
  if (static_cast<unsigned>(level) > static_cast<unsigned>(current))
    return tl::unexpected(fmt::format("ASCE {:#x} has no {} level", asce.raw, static_cast<unsigned>(level)));
  std::uint64_t table = asce.origin();
  while (current != level) {
    const std::uint64_t entry_addr = table + std::uint64_t{index_at(va, current)} * 8;
    const TableType below = static_cast<TableType>(static_cast<unsigned>(current) - 1);
    std::uint64_t entry = load64(entry_addr);
    if (entry & RegionEntry::i_bit) {
      auto next = new_table(below);
      if (!next) return next;
      entry = *next | (std::uint64_t{static_cast<unsigned>(current)} << 2) | full_length;
      store64(entry_addr, entry);
    } else if (current == TableType::region_third && (entry & Region3Entry::fc_bit)) {
      return tl::unexpected(fmt::format("{:#x} lies in a 2 GiB frame", va));
    }
    table = entry & RegionEntry::origin_mask;
    current = below;
  }
  return table + std::uint64_t{index_at(va, level)} * 8;
}

tl::expected<void, std::string> GuestBuilder::map_page(Asce asce, std::uint64_t va, std::uint64_t frame, PageFlags flags) {
  auto ste_addr = entry_for(asce, va, TableType::segment);
  if (!ste_addr) return tl::unexpected(ste_addr.error());
  std::uint64_t ste = load64(*ste_addr);
  if (ste & SegmentEntry::i_bit) {
    auto pt = new_page_table();
    if (!pt) return tl::unexpected(pt.error());
    ste = *pt;  // TT = 0 (segment), valid
    store64(*ste_addr, ste);
  } else if (ste & SegmentEntry::fc_bit) {
    return tl::unexpected(fmt::format("{:#x} lies in a 1 MiB frame", va));
  }
  std::uint64_t pte = (frame & PageEntry::frame_mask);
  if (flags.protect) pte |= PageEntry::p_bit;
  if (flags.iep) pte |= PageEntry::iep_bit;
  store64((ste & SegmentEntry::pto_mask) + std::uint64_t{VirtualAddress{va}.px()} * 8, pte);
  return {};
}

tl::expected<void, std::string> GuestBuilder::map_range(Asce asce, std::uint64_t va, std::uint64_t frame,
                                                        std::uint64_t length, PageFlags flags) {
  for (std::uint64_t off = 0; off < length; off += page_size) {
    auto r = map_page(asce, va + off, frame + off, flags);
    if (!r) return r;
  }
  return {};
}

tl::expected<void, std::string> GuestBuilder::map_segment_frame(Asce asce, std::uint64_t va, std::uint64_t frame,
                                                                PageFlags flags) {
  auto ste_addr = entry_for(asce, va, TableType::segment);
  if (!ste_addr) return tl::unexpected(ste_addr.error());
  std::uint64_t ste = (frame & SegmentEntry::frame_mask) | SegmentEntry::fc_bit;
  if (flags.protect) ste |= SegmentEntry::p_bit;
  if (flags.iep) ste |= SegmentEntry::iep_bit;
  store64(*ste_addr, ste);
  return {};
}

tl::expected<void, std::string> GuestBuilder::map_region3_frame(Asce asce, std::uint64_t va, std::uint64_t frame,
                                                                PageFlags flags) {
  auto rtte_addr = entry_for(asce, va, TableType::region_third);
  if (!rtte_addr) return tl::unexpected(rtte_addr.error());
  std::uint64_t rtte = (frame & Region3Entry::frame_mask) | Region3Entry::fc_bit |
                       (std::uint64_t{static_cast<unsigned>(TableType::region_third)} << 2);
  if (flags.protect) rtte |= Region3Entry::p_bit;
  if (flags.iep) rtte |= Region3Entry::iep_bit;
  store64(*rtte_addr, rtte);
  return {};
}

tl::expected<std::uint64_t, std::string> GuestBuilder::pte_address(Asce asce, std::uint64_t va) {
  auto ste_addr = entry_for(asce, va, TableType::segment);
  if (!ste_addr) return ste_addr;
  const std::uint64_t ste = load64(*ste_addr);
  if (ste & (SegmentEntry::i_bit | SegmentEntry::fc_bit))
    return tl::unexpected(fmt::format("{:#x} has no page table", va));
  return (ste & SegmentEntry::pto_mask) + std::uint64_t{VirtualAddress{va}.px()} * 8;
}

tl::expected<GuestBuilder::AccessList, std::string> GuestBuilder::new_access_list(unsigned entries) {
  // ALL counts units of 8 entries: (ALL + 1) * 8 entries; the origin is 128-byte aligned.
  const unsigned units = (entries + 7) / 8;
  auto at = allocate(std::uint64_t{units} * 8 * ale_size, 128);
  if (!at) return tl::unexpected(at.error());
  for (unsigned i = 0; i < units * 8; ++i) store32(*at + i * ale_size, Ale::i_bit);
  return AccessList{*at, static_cast<std::uint32_t>(*at & Ald::origin_mask) | ((units - 1) & Ald::length_mask)};
}

tl::expected<std::uint64_t, std::string> GuestBuilder::new_aste(Asce asce, std::uint32_t astesn) {
  auto at = allocate(aste_size, aste_size);
  if (!at) return at;
  store64(*at + 8, asce.raw);
  store32(*at + 20, astesn);
  return at;
}

void GuestBuilder::set_ale(const AccessList& list, unsigned alen, const AleSpec& spec) {
  std::uint32_t w0 = (std::uint32_t{spec.alesn} << 16) | spec.aleax;
  if (spec.invalid) w0 |= Ale::i_bit;
  if (spec.fetch_only) w0 |= Ale::fo_bit;
  if (spec.private_entry) w0 |= Ale::p_bit;
  const std::uint64_t at = list.origin + std::uint64_t{alen} * ale_size;
  store32(at, w0);
  store32(at + 4, 0);
  store32(at + 8, static_cast<std::uint32_t>(spec.aste) & Ale::asteo_mask);
  store32(at + 12, spec.astesn);
}

tl::expected<std::uint64_t, std::string> GuestBuilder::new_duct(const AccessList& list) {
  auto at = allocate(64, 64);
  if (!at) return at;
  store32(*at + 16, list.ald);
  return at;
}

}  // namespace s390b
