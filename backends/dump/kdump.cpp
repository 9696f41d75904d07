#include "backends/dump/kdump.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

#include "backends/dump/elf_core.h"
#include "backends/dump/page_codec.h"
#include "translate/address.h"
#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

namespace L = kdump_layout;

constexpr std::uint64_t div_up(std::uint64_t a, std::uint64_t b) { return a / b + (a % b != 0); }

// Whether [off, off + len) lies within `size`, without overflow.
constexpr bool fits(std::uint64_t off, std::uint64_t len, std::uint64_t size) { return off <= size && len <= size - off; }

std::string c_string(const std::uint8_t* p, std::size_t max) {
  const auto* end = std::find(p, p + max, std::uint8_t{0});
  return std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
}

std::string printable(std::span<const std::uint8_t> bytes) {
  std::string out;
  for (std::uint8_t b : bytes) out += (b >= 0x20 && b < 0x7f) ? std::string(1, static_cast<char>(b)) : fmt::format("\\x{:02x}", b);
  return out;
}

std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[3]} << 24;
}

std::uint64_t popcount_bytes(std::span<const std::uint8_t> bytes) {
  std::uint64_t n = 0;
  std::size_t i = 0;
  for (; i + 8 <= bytes.size(); i += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes.data() + i, 8);  // byte order does not change a population count
    n += static_cast<std::uint64_t>(std::popcount(w));
  }
  for (; i < bytes.size(); ++i) n += static_cast<std::uint64_t>(std::popcount(bytes[i]));
  return n;
}

std::string_view flag_name(std::uint32_t flag) {
  switch (flag) {
    case kdump_flag::compressed_zlib: return "zlib";
    case kdump_flag::compressed_lzo: return "lzo";
    case kdump_flag::compressed_snappy: return "snappy";
    case kdump_flag::compressed_zstd: return "zstd";
    default: return "uncompressed";
  }
}

}  // namespace

bool is_kdump(std::span<const std::uint8_t> head) {
  return head.size() >= kdump_signature.size() &&
         std::equal(kdump_signature.begin(), kdump_signature.end(), head.begin());
}

std::string KdumpInfo::describe() const {
  std::vector<std::string> compressions;
  for (std::uint32_t f : {kdump_flag::compressed_zlib, kdump_flag::compressed_lzo, kdump_flag::compressed_snappy,
                          kdump_flag::compressed_zstd})
    if (status & f) compressions.emplace_back(flag_name(f));
  std::string out = fmt::format("kdump-compressed v{}, {}", version,
                                compressions.empty() ? std::string("uncompressed") : fmt::format("{}", fmt::join(compressions, "+")));
  if (flattened) out += ", flattened";
  if (status & kdump_flag::incomplete) out += ", incomplete";
  if (split) out += fmt::format(", split part (pfn {:#x}-{:#x})", start_pfn, end_pfn);
  return out;
}

tl::expected<std::unique_ptr<KdumpReader>, std::string> KdumpReader::open(std::shared_ptr<ByteSource> file,
                                                                          bool flattened) {
  std::unique_ptr<KdumpReader> r(new KdumpReader());
  r->file_ = std::move(file);
  r->info_.flattened = flattened;
  r->info_.file_size = r->file_->size();
  if (auto h = r->parse_header(); !h) return tl::unexpected(h.error());
  if (auto s = r->parse_sub_header(); !s) return tl::unexpected(s.error());
  if (auto m = r->scan_memory(); !m) return tl::unexpected(m.error());
  return r;
}

tl::expected<void, std::string> KdumpReader::parse_header() {
  const std::uint64_t size = info_.file_size;
  std::uint8_t h[L::header_size];
  if (size < L::header_size || !file_->read(0, h))
    return tl::unexpected(fmt::format("kdump header at 0x0: the file has {:#x} bytes, the header needs {:#x}", size,
                                      L::header_size));
  if (!is_kdump(h))
    return tl::unexpected(fmt::format("kdump header at 0x0: signature \"{}\" (must be \"{}\")",
                                      printable(std::span(h, kdump_signature.size())), kdump_signature));
  info_.machine = c_string(h + L::utsname_machine, L::utsname_field);
  info_.release = c_string(h + L::utsname_release, L::utsname_field);
  const auto version = static_cast<std::int32_t>(load_be32(h + L::header_version));
  if (version < 1 || version > 6) {
    const auto le = static_cast<std::int32_t>(load_le32(h + L::header_version));
    if (le >= 1 && le <= 6)
      return tl::unexpected(fmt::format("kdump header at 0x0: header_version at {:#x} is little-endian ({}): not an "
                                        "s390x (big-endian) dump (machine \"{}\")",
                                        L::header_version, le, info_.machine));
    return tl::unexpected(
        fmt::format("kdump header at 0x0: header_version {} at {:#x} (must be 1..6)", version, L::header_version));
  }
  info_.version = version;
  info_.utsname.assign(reinterpret_cast<const char*>(h + L::utsname), L::utsname_size);
  info_.timestamp_sec = load_be64(h + L::timestamp);
  info_.timestamp_usec = load_be64(h + L::timestamp + 8);
  info_.status = load_be32(h + L::status);
  const auto block_size = static_cast<std::int32_t>(load_be32(h + L::block_size));
  if (block_size < static_cast<std::int32_t>(kdump_min_block_size) ||
      block_size > static_cast<std::int32_t>(kdump_max_block_size) || (block_size & (block_size - 1)) != 0)
    return tl::unexpected(fmt::format("kdump header at 0x0: block_size {} at {:#x} (must be a power of two {}..{})",
                                      block_size, L::block_size, kdump_min_block_size, kdump_max_block_size));
  if (static_cast<std::uint64_t>(block_size) != page_size)
    return tl::unexpected(fmt::format("kdump header at 0x0: block_size {} at {:#x}: s390x pages are {} bytes",
                                      block_size, L::block_size, page_size));
  info_.block_size = static_cast<std::uint32_t>(block_size);
  const auto sub = static_cast<std::int32_t>(load_be32(h + L::sub_hdr_size));
  if (sub < 1)
    return tl::unexpected(
        fmt::format("kdump header at 0x0: sub_hdr_size {} at {:#x} (must be at least 1 block)", sub, L::sub_hdr_size));
  info_.sub_hdr_size = static_cast<std::uint32_t>(sub);
  info_.bitmap_blocks = load_be32(h + L::bitmap_blocks);
  if (info_.bitmap_blocks == 0)
    return tl::unexpected(fmt::format("kdump header at 0x0: bitmap_blocks 0 at {:#x} (must be at least 1)", L::bitmap_blocks));
  // At most (1 + 2^31 + 2^32) * 2^16: no overflow.
  const std::uint64_t bs = info_.block_size;
  const std::uint64_t bitmaps_end = (1 + std::uint64_t{info_.sub_hdr_size} + info_.bitmap_blocks) * bs;
  if (bitmaps_end > size)
    return tl::unexpected(fmt::format("kdump header at 0x0: sub_hdr_size {} (at {:#x}) and bitmap_blocks {} (at {:#x}) "
                                      "put the end of the bitmaps at {:#x}, beyond the end of the file ({:#x})",
                                      info_.sub_hdr_size, L::sub_hdr_size, info_.bitmap_blocks, L::bitmap_blocks,
                                      bitmaps_end, size));
  info_.max_mapnr = load_be32(h + L::max_mapnr);
  info_.nr_cpus = static_cast<std::int32_t>(load_be32(h + L::nr_cpus));
  return {};
}

tl::expected<void, std::string> KdumpReader::parse_sub_header() {
  const std::uint64_t bs = info_.block_size;
  const std::uint64_t size = info_.file_size;
  std::uint8_t s[L::sub_size];
  if (!file_->read(bs, s)) return tl::unexpected(fmt::format("kdump sub-header at {:#x}: cannot be read", bs));
  auto where = [&](std::size_t field) { return bs + field; };
  info_.dump_level = static_cast<std::int32_t>(load_be32(s + L::dump_level));
  std::string mapnr_field = fmt::format("kdump header at 0x0: max_mapnr {:#x} at {:#x}", info_.max_mapnr, L::max_mapnr);
  if (info_.version >= 2) {
    info_.split = load_be32(s + L::split) != 0;
    info_.start_pfn = load_be64(s + L::start_pfn);
    info_.end_pfn = load_be64(s + L::end_pfn);
  }
  if (info_.version >= 6) {
    // The 32-bit fields are truncated on machines with more than 16 TiB (diskdump_mod.h).
    if (const std::uint64_t m = load_be64(s + L::max_mapnr_64); m != 0) {
      info_.max_mapnr = m;
      mapnr_field = fmt::format("kdump sub-header at {:#x}: max_mapnr_64 {:#x} at {:#x}", bs, m, where(L::max_mapnr_64));
    }
    if (info_.split) {
      info_.start_pfn = load_be64(s + L::start_pfn_64);
      info_.end_pfn = load_be64(s + L::end_pfn_64);
    }
  }
  if (info_.max_mapnr == 0 || info_.max_mapnr > kdump_max_mapnr)
    return tl::unexpected(fmt::format("{} (must be 1..{:#x})", mapnr_field, kdump_max_mapnr));
  if (info_.split && (info_.start_pfn > info_.end_pfn || info_.end_pfn > info_.max_mapnr))
    return tl::unexpected(fmt::format("kdump sub-header at {:#x}: split part start_pfn {:#x} .. end_pfn {:#x} (at {:#x}) "
                                      "is not within max_mapnr {:#x}",
                                      bs, info_.start_pfn, info_.end_pfn,
                                      where(info_.version >= 6 ? L::start_pfn_64 : L::start_pfn), info_.max_mapnr));

  // Bitmaps: both when the blocks hold two of max_mapnr bits, else the old single one.
  bitmap_bytes_ = div_up(info_.max_mapnr, 8);
  const std::uint64_t per_bitmap = div_up(bitmap_bytes_, bs);
  if (info_.bitmap_blocks >= 2 * per_bitmap) {
    info_.two_bitmaps = true;
  } else if (info_.bitmap_blocks >= per_bitmap) {
    info_.two_bitmaps = false;
  } else {
    return tl::unexpected(fmt::format("kdump header at 0x0: bitmap_blocks {} at {:#x} is too small for {} ({} blocks a bitmap)",
                                      info_.bitmap_blocks, L::bitmap_blocks, mapnr_field, per_bitmap));
  }
  bitmap1_ = (1 + std::uint64_t{info_.sub_hdr_size}) * bs;
  bitmap2_ = info_.two_bitmaps ? bitmap1_ + std::uint64_t{info_.bitmap_blocks} * bs / 2 : bitmap1_;
  descs_ = bitmap1_ + std::uint64_t{info_.bitmap_blocks} * bs;
  // At most 2^20 rank entries, whatever max_mapnr (chunks of 4 KiB up to 128 KiB).
  while (div_up(bitmap_bytes_, chunk_bytes_) > (std::uint64_t{1} << 20)) chunk_bytes_ *= 2;

  // VMCOREINFO (version 3) and the ELF notes (version 4): absolute file offsets.
  auto region = [&](std::size_t off_field, std::size_t size_field, std::string_view off_name, std::string_view size_name,
                    std::uint64_t max) -> tl::expected<std::optional<std::vector<std::uint8_t>>, std::string> {
    const auto off = static_cast<std::int64_t>(load_be64(s + off_field));
    const std::uint64_t len = load_be64(s + size_field);
    if (len == 0) return std::nullopt;
    if (len > max)
      return tl::unexpected(fmt::format("kdump sub-header at {:#x}: {} {:#x} at {:#x} (at most {:#x})", bs, size_name,
                                        len, where(size_field), max));
    if (off < 0 || !fits(static_cast<std::uint64_t>(off), len, size))
      return tl::unexpected(fmt::format("kdump sub-header at {:#x}: {} {:#x} (at {:#x}) + {} {:#x} runs past the end of "
                                        "the file ({:#x})",
                                        bs, off_name, off, where(off_field), size_name, len, size));
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(len));
    if (!file_->read(static_cast<std::uint64_t>(off), bytes))
      return tl::unexpected(fmt::format("kdump sub-header at {:#x}: {} {:#x}: cannot be read", bs, off_name, off));
    return bytes;
  };
  if (info_.version >= 3) {
    auto v = region(L::offset_vmcoreinfo, L::size_vmcoreinfo, "offset_vmcoreinfo", "size_vmcoreinfo",
                    kdump_max_vmcoreinfo_size);
    if (!v) return tl::unexpected(v.error());
    if (*v) {
      std::string text((*v)->begin(), (*v)->end());
      while (!text.empty() && text.back() == '\0') text.pop_back();
      vmcoreinfo_ = std::move(text);
    }
  }
  if (info_.version >= 4) {
    auto n = region(L::offset_note, L::size_note, "offset_note", "size_note", kdump_max_note_size);
    if (!n) return tl::unexpected(n.error());
    info_.note_size = *n ? (*n)->size() : 0;
    if (*n) {
      const auto base = load_be64(s + L::offset_note);
      auto notes = parse_note_blob(**n, base);
      if (!notes) return tl::unexpected(fmt::format("kdump notes (offset_note {:#x}): {}", base, notes.error().message));
      cpus_ = std::move(notes->cpus);
      if (!vmcoreinfo_) vmcoreinfo_ = std::move(notes->vmcoreinfo);
    }
  }
  return {};
}

tl::expected<void, std::string> KdumpReader::scan_memory() {
  // Runs of set bits of bitmap 1 (pages that exist) become the storage ranges.
  std::vector<std::uint8_t> buf(64 * 1024);
  std::uint64_t run_start = 0;
  bool in_run = false;
  auto close_run = [&](std::uint64_t end_pfn) -> bool {
    if (memory_.size() >= kdump_max_ranges) return false;
    memory_.push_back(Range{run_start * page_size, (end_pfn - run_start) * page_size});
    in_run = false;
    return true;
  };
  for (std::uint64_t done = 0; done < bitmap_bytes_;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), bitmap_bytes_ - done));
    if (!file_->read(bitmap1_ + done, std::span(buf.data(), n)))
      return tl::unexpected(fmt::format("kdump bitmap 1 at {:#x}: cannot read {:#x} bytes at {:#x}", bitmap1_, n,
                                        bitmap1_ + done));
    for (std::size_t i = 0; i < n; ++i) {
      const std::uint8_t b = buf[i];
      if ((b == 0xff && in_run) || (b == 0 && !in_run)) continue;
      for (unsigned bitno = 0; bitno < 8; ++bitno) {
        const std::uint64_t pfn = (done + i) * 8 + bitno;
        if (pfn >= info_.max_mapnr) break;
        const bool set = (b >> bitno) & 1;
        if (set && !in_run) {
          run_start = pfn;
          in_run = true;
        } else if (!set && in_run && !close_run(pfn)) {
          return tl::unexpected(fmt::format("kdump bitmap 1 at {:#x}: more than {} runs of memory", bitmap1_,
                                            kdump_max_ranges));
        }
      }
    }
    done += n;
  }
  if (in_run && !close_run(info_.max_mapnr))
    return tl::unexpected(fmt::format("kdump bitmap 1 at {:#x}: more than {} runs of memory", bitmap1_, kdump_max_ranges));
  return {};
}

bool KdumpReader::load_chunk(std::uint64_t index) {
  if (index == chunk_index_) return true;
  const std::uint64_t start = index * chunk_bytes_;
  if (start >= bitmap_bytes_) return false;
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_bytes_, bitmap_bytes_ - start));
  chunk_.assign(static_cast<std::size_t>(chunk_bytes_), 0);
  chunk_index_ = ~std::uint64_t{0};
  if (!file_->read(bitmap2_ + start, std::span(chunk_.data(), n))) return false;
  chunk_index_ = index;
  return true;
}

std::optional<bool> KdumpReader::bit(std::uint64_t pfn) {
  const std::uint64_t byte = pfn / 8;
  if (!load_chunk(byte / chunk_bytes_)) return std::nullopt;
  return (chunk_[static_cast<std::size_t>(byte % chunk_bytes_)] >> (pfn % 8)) & 1;
}

std::optional<std::uint64_t> KdumpReader::rank(std::uint64_t pfn) {
  const std::uint64_t byte = pfn / 8;
  const std::uint64_t index = byte / chunk_bytes_;
  // Extend the index up to the chunk, one chunk read each (at most the whole bitmap, once).
  while (ranks_.size() <= index) {
    const std::uint64_t k = ranks_.size() - 1;
    if (!load_chunk(k)) return std::nullopt;
    ranks_.push_back(ranks_.back() + popcount_bytes(chunk_));
  }
  if (!load_chunk(index)) return std::nullopt;
  const auto in_chunk = static_cast<std::size_t>(byte % chunk_bytes_);
  const std::uint8_t partial = chunk_[in_chunk] & static_cast<std::uint8_t>((1u << (pfn % 8)) - 1);
  return ranks_[static_cast<std::size_t>(index)] + popcount_bytes(std::span(chunk_.data(), in_chunk)) +
         static_cast<std::uint64_t>(std::popcount(partial));
}

std::optional<bool> KdumpReader::dumped(std::uint64_t pfn) {
  if (pfn >= info_.max_mapnr) return std::nullopt;
  return bit(pfn);
}

PageError KdumpReader::not_in_dump(std::uint64_t pfn, std::string_view why) {
  return PageError{HostError::enodata, fmt::format("page at absolute {:#x} is not in the dump ({})", pfn * page_size, why)};
}

PageError KdumpReader::corrupt(std::uint64_t pfn, std::string what) {
  return PageError{HostError::eio, fmt::format("page at absolute {:#x} cannot be read from the dump: {}", pfn * page_size, what)};
}

tl::expected<KdumpPageDesc, PageError> KdumpReader::locate(std::uint64_t pfn) {
  const bool incomplete = info_.status & kdump_flag::incomplete;
  if (pfn >= info_.max_mapnr) return tl::unexpected(corrupt(pfn, fmt::format("beyond max_mapnr {:#x}", info_.max_mapnr)));
  if (info_.split && (pfn < info_.start_pfn || pfn >= info_.end_pfn))
    return tl::unexpected(not_in_dump(pfn, fmt::format("it is in another file of a split dump (part covers pfns [{:#x}, "
                                                       "{:#x}))", info_.start_pfn, info_.end_pfn)));
  const auto dumped = bit(pfn);
  if (!dumped) return tl::unexpected(corrupt(pfn, fmt::format("bitmap 2 at {:#x} cannot be read", bitmap2_)));
  if (!*dumped) return tl::unexpected(not_in_dump(pfn, "excluded by makedumpfile"));
  // A split part numbers its descriptors from start_pfn (computed once).
  if (!split_base_) split_base_ = info_.split ? rank(info_.start_pfn) : std::optional<std::uint64_t>(0);
  const auto first = split_base_;
  const auto before = rank(pfn);
  if (!before || !first) return tl::unexpected(corrupt(pfn, fmt::format("bitmap 2 at {:#x} cannot be read", bitmap2_)));
  const std::uint64_t at = descs_ + (*before - *first) * L::page_desc_size;  // < 2^40 * 24 + file size
  std::uint8_t d[L::page_desc_size];
  if (!fits(at, L::page_desc_size, info_.file_size) || !file_->read(at, d)) {
    if (incomplete) return tl::unexpected(not_in_dump(pfn, "the dump is incomplete: it ends before this page"));
    return tl::unexpected(corrupt(pfn, fmt::format("its page descriptor at {:#x} lies beyond the end of the file ({:#x})",
                                                   at, info_.file_size)));
  }
  KdumpPageDesc desc;
  desc.desc_offset = at;
  const auto offset = static_cast<std::int64_t>(load_be64(d));
  desc.size = load_be32(d + 8);
  desc.flags = load_be32(d + 12);
  // makedumpfile leaves the descriptors of pages it never wrote zero (diskdump_mod.h:
  // "offset 0: not written").
  if (offset == 0)
    return tl::unexpected(not_in_dump(pfn, fmt::format("the dump is incomplete: its page descriptor at {:#x} was never "
                                                       "written", at)));
  if (offset < 0)
    return tl::unexpected(corrupt(pfn, fmt::format("page descriptor at {:#x}: offset {} is negative", at, offset)));
  desc.offset = static_cast<std::uint64_t>(offset);
  if (desc.size == 0 || desc.size > info_.block_size)
    return tl::unexpected(corrupt(pfn, fmt::format("page descriptor at {:#x}: size {:#x} at {:#x} (must be 1..block_size "
                                                   "{:#x})", at, desc.size, at + 8, info_.block_size)));
  if ((desc.flags & ~kdump_flag::compression_mask) != 0 || std::popcount(desc.flags) > 1)
    return tl::unexpected(corrupt(pfn, fmt::format("page descriptor at {:#x}: flags {:#x} at {:#x} (one of zlib 0x1, "
                                                   "lzo 0x2, snappy 0x4, zstd 0x20, or 0)", at, desc.flags, at + 12)));
  if (desc.flags == 0 && desc.size != info_.block_size)
    return tl::unexpected(corrupt(pfn, fmt::format("page descriptor at {:#x}: uncompressed page of size {:#x} (must be "
                                                   "block_size {:#x})", at, desc.size, info_.block_size)));
  if (!fits(desc.offset, desc.size, info_.file_size)) {
    if (incomplete) return tl::unexpected(not_in_dump(pfn, "the dump is incomplete: it ends before this page's data"));
    return tl::unexpected(corrupt(pfn, fmt::format("page data at {:#x}+{:#x} (page descriptor at {:#x}) runs past the end "
                                                   "of the file ({:#x})", desc.offset, desc.size, at, info_.file_size)));
  }
  return desc;
}

tl::expected<void, PageError> KdumpReader::read_page(std::uint64_t pfn, std::span<std::uint8_t> out) {
  auto r = read_page_data(pfn, out);
  // A file written under the server would give pages of two different dumps (or a short
  // read, taken for corruption): once it changed, every page fails with ESTALE instead,
  // as the ELF path's file mapping does.
  if (auto change = file_->changed()) return tl::unexpected(PageError{HostError::estale, *change});
  return r;
}

tl::expected<void, PageError> KdumpReader::read_page_data(std::uint64_t pfn, std::span<std::uint8_t> out) {
  auto desc = locate(pfn);
  if (!desc) return tl::unexpected(desc.error());
  if (out.size() != info_.block_size) return tl::unexpected(corrupt(pfn, "the caller's buffer is not one page"));
  if (desc->flags == 0) {
    if (!file_->read(desc->offset, out))
      return tl::unexpected(corrupt(pfn, fmt::format("page data at {:#x} cannot be read", desc->offset)));
    return {};
  }
  compressed_.resize(desc->size);  // at most block_size
  if (!file_->read(desc->offset, compressed_))
    return tl::unexpected(corrupt(pfn, fmt::format("page data at {:#x} cannot be read", desc->offset)));
  const PageCompression c = desc->flags == kdump_flag::compressed_zlib     ? PageCompression::zlib
                           : desc->flags == kdump_flag::compressed_lzo    ? PageCompression::lzo
                           : desc->flags == kdump_flag::compressed_snappy ? PageCompression::snappy
                                                                          : PageCompression::zstd;
  if (!supported(c))
    return tl::unexpected(PageError{HostError::enotsup,
                                    fmt::format("page at absolute {:#x} is compressed with {}: not supported in this build",
                                                pfn * page_size, compression_name(c))});
  if (auto r = decompress_page(c, compressed_, out); !r)
    return tl::unexpected(corrupt(pfn, fmt::format("{} data at {:#x}+{:#x} (page descriptor at {:#x}) does not decompress "
                                                   "to one page: {}", compression_name(c), desc->offset, desc->size,
                                                   desc->desc_offset, r.error())));
  return {};
}

namespace {
std::vector<std::unique_ptr<KdumpReader>> one(std::unique_ptr<KdumpReader> reader) {
  std::vector<std::unique_ptr<KdumpReader>> v;
  v.push_back(std::move(reader));
  return v;
}
}  // namespace

KdumpPages::KdumpPages(std::unique_ptr<KdumpReader> reader, bool zero_excluded)
    : KdumpPages(one(std::move(reader)), zero_excluded) {}

KdumpPages::KdumpPages(std::vector<std::unique_ptr<KdumpReader>> parts, bool zero_excluded)
    : parts_(std::move(parts)), zero_excluded_(zero_excluded) {}

tl::expected<KdumpReader*, PageError> KdumpPages::part(std::uint64_t pfn) {
  // A single file answers for itself, a lone split part included ("in another file").
  if (parts_.size() == 1) return parts_.front().get();
  auto it = std::upper_bound(parts_.begin(), parts_.end(), pfn,
                             [](std::uint64_t p, const auto& r) { return p < r->info().start_pfn; });
  if (it != parts_.begin() && pfn < (*std::prev(it))->info().end_pfn) return std::prev(it)->get();
  // In a gap: every part carries the whole bitmap 2, which says whether the missing part
  // would have held the page.
  KdumpReader& near = it == parts_.begin() ? *parts_.front() : **std::prev(it);
  const auto dumped = near.dumped(pfn);
  if (!dumped)
    return tl::unexpected(KdumpReader::corrupt(pfn, fmt::format("bitmap 2 does not cover it (max_mapnr {:#x}) or cannot be read",
                                                                near.info().max_mapnr)));
  if (!*dumped) return tl::unexpected(KdumpReader::not_in_dump(pfn, "excluded by makedumpfile"));
  return tl::unexpected(KdumpReader::not_in_dump(pfn, fmt::format("the part of the split set covering pfn {:#x} was not "
                                                                  "given", pfn)));
}

bool KdumpPages::fetch(std::uint64_t page, std::span<std::uint8_t> out) {
  if (auto it = written_.find(page / page_size); it != written_.end()) {
    std::copy_n(it->second.get(), page_size, out.begin());
    return true;
  }
  auto p = part(page / page_size);
  auto r = p ? (*p)->read_page(page / page_size, out) : tl::expected<void, PageError>(tl::unexpected(p.error()));
  if (r) return true;
  if (zero_excluded_ && r.error().error == HostError::enodata) {
    std::fill(out.begin(), out.end(), std::uint8_t{0});
    return true;
  }
  return failed(std::move(r.error()));
}

std::optional<PageError> KdumpPages::absent(std::uint64_t page) {
  if (zero_excluded_ || written_.contains(page / page_size)) return std::nullopt;
  auto p = part(page / page_size);
  if (!p) return p.error().error == HostError::enodata ? std::optional<PageError>(p.error()) : std::nullopt;
  auto d = (*p)->locate(page / page_size);
  if (!d && d.error().error == HostError::enodata) return d.error();
  return std::nullopt;  // a corrupt page fails when it is fetched
}

bool KdumpPages::store(std::uint64_t address, std::span<const std::uint8_t> data) {
  const std::uint64_t page = address / page_size;
  auto it = written_.find(page);
  if (it == written_.end()) {
    auto bytes = std::make_unique_for_overwrite<std::uint8_t[]>(page_size);
    if (!fetch(page * page_size, std::span(bytes.get(), page_size))) return false;  // nothing to write over
    it = written_.emplace(page, std::move(bytes)).first;
  }
  std::copy(data.begin(), data.end(), it->second.get() + (address & (page_size - 1)));
  return true;
}

}  // namespace s390b::dump
