#include "backends/dump/s390_dump.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#if S390B_HAVE_ZLIB
#include <zlib.h>
#endif

#include "backends/dump/save_area.h"
#include "backends/emulated/file_mapping.h"
#include "translate/byteorder.h"

namespace s390b::dump {

namespace L = s390_layout;

namespace {

constexpr std::uint64_t page = s390_page_size;
// Bounds on what a header may claim, so that no arithmetic below can wrap: z/Architecture
// absolute addresses are 64-bit, but no machine has 2^62 bytes.
constexpr std::uint64_t max_mem_size = std::uint64_t{1} << 62;
constexpr std::uint32_t max_entry_size = 64u << 20;

std::string field_error(std::size_t offset, std::string_view what) {
  return fmt::format("s390 dump header at {:#x}: {}", offset, what);
}

std::uint64_t round_down(std::uint64_t v) { return v & ~(page - 1); }

void add_piece(std::vector<S390MemoryPiece>& out, S390MemoryPiece p) {
  if (p.size > 0) out.push_back(p);
}

}  // namespace

bool is_s390_dump(std::span<const std::uint8_t> head) {
  if (head.size() < 8) return false;
  const std::uint64_t magic = load_be64(head.data());
  return magic == s390_dump_magic || magic == s390_ext_dump_magic;
}

tl::expected<S390DumpHeader, std::string> parse_s390_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < L::header_size)
    return tl::unexpected(fmt::format("s390 dump: the file is {:#x} bytes, shorter than its {:#x}-byte header",
                                      bytes.size(), L::header_size));
  const std::uint8_t* h = bytes.data();
  const std::uint64_t magic = load_be64(h + L::magic);
  if (magic != s390_dump_magic && magic != s390_ext_dump_magic)
    return tl::unexpected(field_error(L::magic, fmt::format("magic {:#018x} (must be {:#018x} or {:#018x})", magic,
                                                            s390_dump_magic, s390_ext_dump_magic)));
  S390DumpHeader out;
  out.extended = magic == s390_ext_dump_magic;
  out.version = load_be32(h + L::version);
  if (out.version == 0) return tl::unexpected(field_error(L::version, "version 0 (the dumpers write 1 or later)"));
  if (const std::uint32_t v = load_be32(h + L::hdr_size); v != L::header_size)
    return tl::unexpected(field_error(L::hdr_size, fmt::format("hdr_size {:#x} (must be {:#x})", v, L::header_size)));
  out.dump_level = load_be32(h + L::dump_level);
  if (out.dump_level > s390_dump_level)
    return tl::unexpected(field_error(L::dump_level, fmt::format("dump_level {} (at most {})", out.dump_level, s390_dump_level)));
  if (const std::uint32_t v = load_be32(h + L::page_size); v != s390_page_size)
    return tl::unexpected(field_error(L::page_size, fmt::format("page_size {:#x} (must be {:#x})", v, s390_page_size)));
  out.mem_size = load_be64(h + L::mem_size);
  if (out.mem_size == 0 || out.mem_size % page != 0 || out.mem_size > max_mem_size)
    return tl::unexpected(field_error(
        L::mem_size, fmt::format("mem_size {:#x} (must be a non-zero multiple of {:#x}, at most {:#x})", out.mem_size, page,
                                 max_mem_size)));
  if (const std::uint64_t v = load_be64(h + L::mem_start); v != 0)
    return tl::unexpected(field_error(L::mem_start, fmt::format("mem_start {:#x} (must be 0)", v)));
  if (const std::uint64_t v = load_be64(h + L::mem_end); v != out.mem_size)
    return tl::unexpected(field_error(L::mem_end, fmt::format("mem_end {:#x} (must be mem_size {:#x})", v, out.mem_size)));
  out.num_pages = load_be32(h + L::num_pages);
  // A u32: mem_size / 4 KiB truncated to 32 bits for 16 TiB and more.
  if (const auto want = static_cast<std::uint32_t>(out.mem_size / page); out.num_pages != want)
    return tl::unexpected(field_error(
        L::num_pages, fmt::format("num_pages {:#x} (must be mem_size / {:#x} = {:#x})", out.num_pages, page, want)));
  out.tod = load_be64(h + L::tod);
  out.cpu_id = load_be64(h + L::cpu_id);
  if (const std::uint32_t v = load_be32(h + L::arch); v != s390_arch_64)
    return tl::unexpected(field_error(
        L::arch, fmt::format("arch {} (must be {}: 64-bit; 31-bit dumps are not supported)", v, s390_arch_64)));
  const std::uint8_t mvdump = h[L::mvdump];
  if (mvdump != 0)
    return tl::unexpected(field_error(
        L::mvdump, fmt::format("mvdump {:#x}: one volume of a multi-volume dump, not supported (zgetdump reads the "
                               "volumes together and can write them as one s390 or ELF file)", mvdump)));
  if (const std::uint32_t v = load_be32(h + L::volnr); v != 0)
    return tl::unexpected(field_error(L::volnr, fmt::format("volnr {} (must be 0 in a single-volume dump)", v)));
  out.build_arch = load_be32(h + L::build_arch);
  if (out.build_arch != 0 && out.build_arch != s390_arch_64)
    return tl::unexpected(field_error(L::build_arch, fmt::format("build_arch {} (must be 0 or {})", out.build_arch, s390_arch_64)));
  out.mem_size_real = load_be64(h + L::mem_size_real);
  const std::uint16_t cpu_cnt = load_be16(h + L::cpu_cnt);
  if (cpu_cnt > L::cpu_max)
    return tl::unexpected(field_error(L::cpu_cnt, fmt::format("cpu_cnt {} (at most {})", cpu_cnt, L::cpu_max)));
  out.real_cpu_cnt = load_be16(h + L::real_cpu_cnt);
  out.zlib_version_s390 = h[L::zlib_version_s390];
  out.zlib_entry_size = load_be32(h + L::zlib_entry_size);
  if (out.zlib_version_s390 != 0) {
    if (!out.extended || out.version != s390_ext_version_zlib)
      return tl::unexpected(field_error(
          L::zlib_version_s390, fmt::format("zlib_version_s390 {:#x} in a {} dump of version {} (compression needs s390_ext "
                                       "version {})", out.zlib_version_s390, out.extended ? "s390_ext" : "s390", out.version,
                                       s390_ext_version_zlib)));
    if (out.zlib_entry_size == 0 || out.zlib_entry_size % page != 0 || out.zlib_entry_size > max_entry_size)
      return tl::unexpected(field_error(
          L::zlib_entry_size, fmt::format("zlib_entry_size {:#x} (must be a non-zero multiple of {:#x}, at most {:#x})",
                                          out.zlib_entry_size, page, max_entry_size)));
  }
  // Classic dumps before version 5 carry no CPU list (zdump/df_s390.c).
  if (out.extended || out.version >= s390_version_with_cpus) {
    out.lc_vec.resize(cpu_cnt);
    for (unsigned i = 0; i < cpu_cnt; ++i) out.lc_vec[i] = load_be32(h + L::lc_vec + 4 * i);
  }
  return out;
}

namespace {

// The end marker at `offset`: complete, or why not.
void check_end_marker(const ByteSource& file, std::uint64_t offset, S390DumpLayout& out) {
  std::uint8_t em[L::end_marker_size];
  if (offset > file.size() || file.size() - offset < sizeof em || !file.read(offset, em)) {
    out.complete = false;
    out.incomplete_reason = fmt::format("no end marker (the file ends at {:#x}, the marker belongs at {:#x})", file.size(), offset);
    return;
  }
  if (load_be64(em) != s390_end_marker_magic) {
    out.complete = false;
    out.incomplete_reason = fmt::format("no end marker at file offset {:#x} (found {:#018x}, not \"DUMP_END\")", offset, load_be64(em));
    return;
  }
  out.end_tod = load_be64(em + 8);
  if (*out.end_tod < out.header.tod) {
    out.complete = false;
    out.incomplete_reason = fmt::format("end marker at file offset {:#x}: TOD {:#x} is earlier than the header's {:#x}",
                                        offset, *out.end_tod, out.header.tod);
  }
}

void mark_missing(S390DumpLayout& out, std::uint64_t from, std::string reason) {
  add_piece(out.memory, {S390MemoryPiece::Kind::missing, from, out.header.mem_size - from});
  out.complete = false;
  out.incomplete_reason = std::move(reason);
}

tl::expected<void, std::string> scan_segments(const ByteSource& file, S390DumpLayout& out) {
  const std::uint64_t mem_size = out.header.mem_size;
  const std::uint64_t file_size = file.size();
  std::uint64_t off = L::header_size;
  std::uint64_t covered = 0;  // absolute end of the segments so far
  std::vector<std::uint8_t> hdr(L::segment_header_size);
  // Each segment holds at least a page of memory or ends the chain, so there are at most
  // mem_size / 4 KiB + 1 of them.
  for (std::uint64_t n = 0;; ++n) {
    if (n > mem_size / page)
      return tl::unexpected(fmt::format("s390_ext segment header at {:#x}: more segments than pages of memory", off));
    if (off > file_size || file_size - off < L::segment_header_size) {
      mark_missing(out, covered, fmt::format("ends at {:#x} (the file ends at {:#x}, before the segment header at {:#x})",
                                             covered, file_size, off));
      return {};
    }
    if (!file.read(off, hdr)) return tl::unexpected(fmt::format("s390_ext segment header at {:#x}: cannot be read", off));
    const std::uint64_t start = load_be64(hdr.data() + L::segment_start);
    const std::uint64_t len = load_be64(hdr.data() + L::segment_len);
    const bool stop = load_be64(hdr.data() + L::segment_stop_marker) != 0;
    const std::uint32_t blocks = load_be32(hdr.data() + L::segment_size_on_disk);
    auto bad = [&](std::size_t field, std::string what) {
      return tl::unexpected(fmt::format("s390_ext segment header at {:#x}: {}", off + field, what));
    };
    if (start % page != 0 || start < covered || start > mem_size)
      return bad(L::segment_start, fmt::format("start {:#x} (must be page-aligned, at least {:#x}, at most mem_size {:#x})",
                                               start, covered, mem_size));
    if (len % page != 0 || len > mem_size - start)
      return bad(L::segment_len, fmt::format("len {:#x} (must be a multiple of {:#x} within mem_size {:#x} from start {:#x})",
                                             len, page, mem_size, start));
    if (len == 0 && !stop) return bad(L::segment_len, "len 0 in a segment that does not end the chain");
    add_piece(out.memory, {S390MemoryPiece::Kind::zero, covered, start - covered});
    const std::uint64_t data = off + L::segment_header_size;
    ++out.segments;
    std::uint64_t next = 0;
    if (blocks == 0) {
      const std::uint64_t have = data <= file_size ? std::min(len, round_down(file_size - data)) : 0;
      add_piece(out.memory, {S390MemoryPiece::Kind::file, start, have, data});
      if (have < len) {
        mark_missing(out, start + have, fmt::format("ends at {:#x} (the segment at file offset {:#x} runs past the end of "
                                                    "the file, {:#x})", start + have, off, file_size));
        return {};
      }
      next = data + len;
    } else {
      if (out.header.zlib_version_s390 == 0)
        return bad(L::segment_size_on_disk, fmt::format("size_on_disk {:#x} in a dump whose header has no zlib_version_s390",
                                                        blocks));
      const std::uint32_t count = load_be32(hdr.data() + L::segment_entry_count);
      const std::uint64_t want = (len + out.header.zlib_entry_size - 1) / out.header.zlib_entry_size;
      if (count > L::max_segment_entries || count != want)
        return bad(L::segment_entry_count, fmt::format("entry_count {} (must be len / zlib_entry_size rounded up = {}, at "
                                                       "most {})", count, want, L::max_segment_entries));
      S390CompressedSegment seg{start, len, data, std::uint64_t{blocks} * L::ext_block_size, off, {}};
      for (std::uint32_t i = 0; i < count; ++i) {
        const std::uint32_t e = load_be32(hdr.data() + L::segment_entry_offset + 4 * i);
        if ((e & ~L::entry_uncompressed) * L::ext_block_size >= seg.data_size)
          return bad(L::segment_entry_offset + 4 * i,
                     fmt::format("entry_offset[{}] {:#x} (blocks; must lie within size_on_disk {:#x})", i, e, blocks));
        seg.entries.push_back(e);
      }
      out.compressed.push_back(std::move(seg));
      add_piece(out.memory, {S390MemoryPiece::Kind::compressed, start, len, 0, out.compressed.size() - 1});
      next = data + std::uint64_t{blocks} * L::ext_block_size;
      if (next > file_size) {
        // The chunks past the end fail when read (S390Pages); the chain ends here.
        mark_missing(out, start + len, fmt::format("the compressed segment at file offset {:#x} runs past the end of the "
                                                   "file ({:#x})", off, file_size));
        return {};
      }
    }
    covered = start + len;
    off = next;
    if (stop) break;
  }
  add_piece(out.memory, {S390MemoryPiece::Kind::zero, covered, mem_size - covered});
  check_end_marker(file, off, out);
  return {};
}

}  // namespace

tl::expected<S390DumpLayout, std::string> scan_s390_dump(const ByteSource& file) {
  std::vector<std::uint8_t> head(L::header_size);
  if (file.size() < L::header_size || !file.read(0, head))
    return tl::unexpected(fmt::format("s390 dump: the file is {:#x} bytes, shorter than its {:#x}-byte header", file.size(),
                                      L::header_size));
  auto header = parse_s390_header(head);
  if (!header) return tl::unexpected(header.error());
  S390DumpLayout out;
  out.header = std::move(*header);
  if (out.header.extended) {
    if (auto r = scan_segments(file, out); !r) return tl::unexpected(r.error());
    return out;
  }
  out.segments = 1;
  const std::uint64_t mem_size = out.header.mem_size;
  const std::uint64_t have = std::min(mem_size, round_down(file.size() - L::header_size));
  add_piece(out.memory, {S390MemoryPiece::Kind::file, 0, have, L::header_size});
  if (have < mem_size) {
    mark_missing(out, have, fmt::format("ends at {:#x} (the file is {:#x} bytes, mem_size {:#x} needs {:#x} and the end marker)",
                                        have, file.size(), mem_size, L::header_size + mem_size + L::end_marker_size));
    return out;
  }
  check_end_marker(file, L::header_size + mem_size, out);
  return out;
}

S390Pages::S390Pages(std::shared_ptr<ByteSource> file, const S390DumpLayout& layout)
    : file_(std::move(file)), segments_(layout.compressed), entry_size_(layout.header.zlib_entry_size),
      missing_reason_(layout.incomplete_reason) {
  for (const auto& p : layout.memory)
    if (p.kind == S390MemoryPiece::Kind::compressed || p.kind == S390MemoryPiece::Kind::missing) pieces_.push_back(p);
}

const S390MemoryPiece* S390Pages::find(std::uint64_t address) const {
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), address,
                             [](std::uint64_t a, const S390MemoryPiece& p) { return a < p.start; });
  if (it == pieces_.begin()) return nullptr;
  --it;
  return address - it->start < it->size ? &*it : nullptr;
}

std::optional<PageError> S390Pages::absent(std::uint64_t address) {
  if (written_.contains(address / page)) return std::nullopt;
  const S390MemoryPiece* p = find(address);
  if (p && p->kind == S390MemoryPiece::Kind::missing)
    return PageError{HostError::enodata, fmt::format("page at absolute {:#x} is not in the dump (incomplete s390 dump: {})",
                                                     address, missing_reason_)};
  if (p && p->kind == S390MemoryPiece::Kind::compressed && p->segment < segments_.size()) {
    // A chunk of a segment cut off by the end of the file (known without reading it).
    const S390CompressedSegment& seg = segments_[p->segment];
    const std::uint32_t entry = seg.entries[static_cast<std::size_t>((address - seg.start) / entry_size_)];
    const std::uint64_t at = seg.data_offset + (entry & ~L::entry_uncompressed) * L::ext_block_size;
    if (at >= file_->size())
      return PageError{HostError::enodata, fmt::format("page at absolute {:#x} is not in the dump: its chunk (data at {:#x}) "
                                                       "lies past the end of the file ({:#x})", address, at, file_->size())};
  }
  return std::nullopt;
}

bool S390Pages::fetch(std::uint64_t address, std::span<std::uint8_t> out) {
  if (auto it = written_.find(address / page); it != written_.end()) {
    std::copy_n(it->second.get(), page, out.begin());
    return true;
  }
  if (auto a = absent(address)) return failed(std::move(*a));
  return fetch_compressed(address, out);
}

bool S390Pages::fetch_compressed(std::uint64_t address, std::span<std::uint8_t> out) {
  const S390MemoryPiece* p = find(address);
  if (!p || p->kind != S390MemoryPiece::Kind::compressed || p->segment >= segments_.size())
    return failed({HostError::eio, fmt::format("page at absolute {:#x}: no s390_ext segment holds it", address)});
  const S390CompressedSegment& seg = segments_[p->segment];
  const std::uint64_t rel = address - seg.start;
  const std::size_t index = static_cast<std::size_t>(rel / entry_size_);
  const std::uint64_t in_chunk = rel % entry_size_;
  const std::uint32_t entry = seg.entries[index];
  const std::uint64_t at = seg.data_offset + (entry & ~L::entry_uncompressed) * L::ext_block_size;
  auto where = [&] {
    return fmt::format("chunk {} of the s390_ext segment at file offset {:#x} (data at {:#x})", index, seg.header_offset, at);
  };
  if (at >= file_->size())
    return failed({HostError::enodata, fmt::format("page at absolute {:#x} is not in the dump: {} lies past the end of the "
                                                   "file ({:#x})", address, where(), file_->size())});
  if (entry & L::entry_uncompressed) {
    if (!file_->read(at + in_chunk, out))
      return failed({HostError::enodata, fmt::format("page at absolute {:#x} is not in the dump: {} is cut off by the end "
                                                     "of the file", address, where())});
    return true;
  }
  if (chunk_key_ != std::pair{p->segment, index}) {
#if S390B_HAVE_ZLIB
    const std::uint64_t chunk_len = std::min<std::uint64_t>(entry_size_, seg.len - index * std::uint64_t{entry_size_});
    // The compressed bytes run at most to the end of the segment's data (or the file), and
    // are never longer than zlib's bound for the chunk (the dumper stores a chunk raw when
    // compressing does not pay).
    const std::uint64_t limit = std::min(seg.data_offset + seg.data_size, file_->size());
    compressed_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(limit - at, compressBound(static_cast<uLong>(chunk_len)))));
    if (!file_->read(at, compressed_))
      return failed({HostError::eio, fmt::format("page at absolute {:#x}: {} cannot be read", address, where())});
    chunk_.resize(static_cast<std::size_t>(chunk_len));
    chunk_key_.reset();
    uLongf got = static_cast<uLongf>(chunk_.size());
    const int rc = uncompress(chunk_.data(), &got, compressed_.data(), static_cast<uLong>(compressed_.size()));
    if (rc != Z_OK || got != chunk_.size())
      return failed({HostError::eio, fmt::format("page at absolute {:#x}: {} does not decompress to {:#x} bytes (zlib {}, "
                                                 "{:#x} bytes)", address, where(), chunk_len, rc, got)});
    chunk_key_ = std::pair{p->segment, index};
#else
    return failed({HostError::enotsup, fmt::format("page at absolute {:#x} is compressed with zlib ({}): not supported in "
                                                   "this build", address, where())});
#endif
  }
  std::copy_n(chunk_.begin() + static_cast<std::ptrdiff_t>(in_chunk), page, out.begin());
  return true;
}

bool S390Pages::store(std::uint64_t address, std::span<const std::uint8_t> data) {
  const std::uint64_t n = address / page;
  auto it = written_.find(n);
  if (it == written_.end()) {
    auto bytes = std::make_unique_for_overwrite<std::uint8_t[]>(page);
    if (!fetch(n * page, std::span(bytes.get(), page))) return false;  // nothing to write over
    it = written_.emplace(n, std::move(bytes)).first;
  }
  std::copy(data.begin(), data.end(), it->second.get() + (address & (page - 1)));
  return true;
}

namespace {

// The mapped file as a ByteSource (the scan and the compressed chunks read through it),
// keeping the mapping alive; a changed file reads as nothing.
class MappingSource final : public ByteSource {
 public:
  explicit MappingSource(std::shared_ptr<FileMapping> file) : file_(std::move(file)) {}
  std::uint64_t size() const override { return file_->size(); }
  bool read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    const auto bytes = file_->bytes();
    if (offset > bytes.size() || out.size() > bytes.size() - offset || file_->changed()) return false;
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    return !file_->faulted();
  }

 private:
  std::shared_ptr<FileMapping> file_;
};

std::string describe(const S390DumpLayout& layout, std::size_t cpus) {
  std::string kind = layout.header.extended ? "s390_ext" : "s390";
  if (!layout.compressed.empty()) kind += ", zlib";
  return fmt::format("s390 stand-alone dump ({}), {} CPU{}, {}", kind, cpus, cpus == 1 ? "" : "s",
                     layout.complete ? std::string("complete") : "incomplete: " + layout.incomplete_reason);
}

}  // namespace

tl::expected<S390Dump, std::string> open_s390_dump(const std::string& path, bool zero_missing) {
  auto mapping = FileMapping::open(path);
  if (!mapping) return tl::unexpected(mapping.error());
  auto file = std::make_shared<MappingSource>(*mapping);
  auto layout = scan_s390_dump(*file);
  if ((*mapping)->changed()) return tl::unexpected(*(*mapping)->change_description());
  if (!layout) return tl::unexpected(fmt::format("{}: {}", path, layout.error()));
  if (layout->header.lc_vec.empty())
    return tl::unexpected(fmt::format(
        "{}: no CPUs: {}", path,
        layout->header.extended || layout->header.version >= s390_version_with_cpus
            ? fmt::format("cpu_cnt (header at {:#x}) is 0", L::cpu_cnt)
            : fmt::format("header version {} (before {}) has no CPU list (lc_vec)", layout->header.version,
                          s390_version_with_cpus)));

  S390Dump out;
  out.segments = layout->segments;
  std::shared_ptr<S390Pages> pages;
  for (const S390MemoryPiece& p : layout->memory) {
    tl::expected<void, std::string> r;
    switch (p.kind) {
      case S390MemoryPiece::Kind::file: r = out.storage.add_file(p.start, *mapping, p.file_offset, p.size); break;
      case S390MemoryPiece::Kind::zero: r = out.storage.add_zero(p.start, p.size); break;
      case S390MemoryPiece::Kind::missing:
        if (zero_missing) {
          r = out.storage.add_zero(p.start, p.size);
          break;
        }
        [[fallthrough]];
      case S390MemoryPiece::Kind::compressed:
        if (!pages) pages = std::make_shared<S390Pages>(file, *layout);
        r = out.storage.add_demand(p.start, p.size, pages);
        break;
    }
    if (!r) return tl::unexpected(fmt::format("{}: memory {:#x}+{:#x}: {}", path, p.start, p.size, r.error()));
  }
  const AbsoluteReadFn read = [&](std::uint64_t address, std::span<std::uint8_t> bytes) {
    return out.storage.read(address, bytes);
  };
  for (const std::uint32_t prefix : layout->header.lc_vec) {
    CpuState cpu = cpu_from_save_area(read, prefix);
    (void)out.storage.take_page_error();  // a save area outside the dump is not an error
    if (cpu.present.gprs)
      out.cpu_sources.push_back(save_area_source(prefix) +
                                (cpu.present.vrs ? " (vector registers from the lowcore's vector save area)" : ""));
    else
      out.cpu_sources.push_back(fmt::format("prefix {:#x} only (lc_vec): its save area at absolute {:#x} is not in the dump",
                                            prefix, std::uint64_t{prefix} + save_area::start));
    out.cpus.push_back(cpu);
  }
  if ((*mapping)->changed()) return tl::unexpected(*(*mapping)->change_description());
  out.format = describe(*layout, out.cpus.size());
  return out;
}

}  // namespace s390b::dump
