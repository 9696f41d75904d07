#include "backends/dump/kdump_writer.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#include <fmt/format.h>

#include "backends/dump/byte_source.h"
#include "backends/dump/elf_core.h"
#include "backends/dump/guest_read.h"
#include "backends/dump/kdump.h"
#include "backends/dump/kernel_utsname.h"
#include "backends/dump/output_file.h"
#include "backends/dump/s390_notes.h"
#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

namespace L = kdump_layout;

constexpr std::uint64_t bs = kdump_write_block_size;
// disk_dump_header (diskdump_mod.h): utsname.sysname is its first field, the timestamp
// a struct timeval (i64 tv_sec, i64 tv_usec) after the six utsname fields.
constexpr std::size_t utsname_sysname = L::utsname;
constexpr std::size_t timestamp_sec = 408;
constexpr std::size_t timestamp_usec = 416;
constexpr std::string_view sysname = "Linux";
constexpr std::string_view machine = "s390x";  // what the s390x kernel's uname says

// struct makedumpfile_header (makedumpfile.h): char signature[16], i64 type, i64 version.
constexpr std::size_t flat_type_offset = 16;
constexpr std::size_t flat_version_offset = 24;

constexpr std::size_t descs_per_batch = 4096;      // 96 KiB of descriptors per write
constexpr std::size_t data_buffer = 1 << 20;       // data written 1 MiB at a time
constexpr std::uint64_t zero_record = 1 << 20;     // unused descriptor slots, flattened

constexpr std::uint64_t div_up(std::uint64_t a, std::uint64_t b) { return a / b + (a % b != 0); }

DumpError output_error(std::string message) { return DumpError{DumpErrorKind::output, std::move(message)}; }

void set_bit(std::vector<std::uint8_t>& bitmap, std::uint64_t offset, std::uint64_t pfn) {
  // Bit n: byte n / 8, least significant bit first (makedumpfile's set_bit_on_1st_bitmap).
  bitmap[static_cast<std::size_t>(offset + pfn / 8)] |= static_cast<std::uint8_t>(1u << (pfn % 8));
}

void put_string(std::vector<std::uint8_t>& out, std::size_t at, std::string_view s, std::size_t field) {
  std::copy_n(s.begin(), std::min(s.size(), field - 1), out.begin() + static_cast<std::ptrdiff_t>(at));  // NUL-terminated
}

// The pages the memory map covers, as runs of PFNs: each range rounded out to whole
// pages, runs that touch merged. Ranges from dump_segments are sorted and disjoint.
struct PageRun {
  std::uint64_t first = 0;
  std::uint64_t count = 0;
};
std::vector<PageRun> page_runs(const std::vector<MemoryMap::Range>& segments) {
  std::vector<PageRun> runs;
  for (const auto& s : segments) {
    const std::uint64_t first = s.start / bs;
    const std::uint64_t end = div_up(s.start + s.size, bs);
    if (!runs.empty() && runs.back().first + runs.back().count >= first)
      runs.back().count = std::max(runs.back().count, end - runs.back().first);
    else
      runs.push_back({first, end - first});
  }
  return runs;
}

// Where bytes go: the plain file (positioned writes) or a flattened stream of records.
class Sink {
 public:
  Sink(OutputFile& out, bool flattened) : out_(out), flattened_(flattened) {}

  tl::expected<void, std::string> start() {
    if (!flattened_) return {};
    std::vector<std::uint8_t> h(flattened_header_size, 0);
    std::copy(flattened_signature.begin(), flattened_signature.end(), h.begin());
    store_be64(h.data() + flat_type_offset, static_cast<std::uint64_t>(flattened_type));
    store_be64(h.data() + flat_version_offset, static_cast<std::uint64_t>(flattened_version));
    return out_.write(h);
  }
  // `bytes` at `offset` of the plain file.
  tl::expected<void, std::string> put(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
    if (bytes.empty()) return {};
    if (!flattened_) return out_.write_at(offset, bytes);
    if (auto r = record_header(static_cast<std::int64_t>(offset), static_cast<std::int64_t>(bytes.size())); !r) return r;
    return out_.write(bytes);
  }
  tl::expected<void, std::string> finish() {
    if (!flattened_) return {};
    return record_header(flattened_end, flattened_end);
  }

 private:
  tl::expected<void, std::string> record_header(std::int64_t offset, std::int64_t size) {
    std::uint8_t h[flattened_record_header];
    store_be64(h, static_cast<std::uint64_t>(offset));
    store_be64(h + 8, static_cast<std::uint64_t>(size));
    return out_.write(h);
  }
  OutputFile& out_;
  bool flattened_;
};

// Block 0 and the sub-header blocks.
struct HeaderInputs {
  const KdumpWriteOptions* options = nullptr;
  const DumpPreamble* pre = nullptr;
  const KernelUtsname* utsname = nullptr;  // the kernel's, when recovered
  std::uint64_t max_mapnr = 0;
  std::uint32_t sub_hdr_size = 0;
  std::uint32_t bitmap_blocks = 0;
  std::uint64_t vmcoreinfo_offset = 0, vmcoreinfo_size = 0;  // in the file, 0 when none
};

std::vector<std::uint8_t> header_blocks(const HeaderInputs& in) {
  std::vector<std::uint8_t> h((1 + std::uint64_t{in.sub_hdr_size}) * bs, 0);
  std::copy(kdump_signature.begin(), kdump_signature.end(), h.begin());
  store_be32(h.data() + L::header_version, static_cast<std::uint32_t>(kdump_write_header_version));
  if (const KernelUtsname* u = in.utsname) {
    // The kernel's own, field by field, as makedumpfile writes it.
    const std::string* fields[] = {&u->sysname, &u->nodename, &u->release, &u->version, &u->machine, &u->domainname};
    for (std::size_t i = 0; i < std::size(fields); ++i)
      put_string(h, L::utsname + i * L::utsname_field, *fields[i], L::utsname_field);
  } else {
    put_string(h, utsname_sysname, sysname, L::utsname_field);
    if (const auto& v = in.pre->vmcoreinfo.found)
      if (auto release = v->value("OSRELEASE")) put_string(h, L::utsname_release, *release, L::utsname_field);
    put_string(h, L::utsname_machine, machine, L::utsname_field);
  }
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto sec = std::chrono::duration_cast<std::chrono::seconds>(now);
  store_be64(h.data() + timestamp_sec, static_cast<std::uint64_t>(sec.count()));
  store_be64(h.data() + timestamp_usec,
             static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - sec).count()));
  store_be32(h.data() + L::status, kdump_flag_of(in.options->compression));
  store_be32(h.data() + L::block_size, static_cast<std::uint32_t>(bs));
  store_be32(h.data() + L::sub_hdr_size, in.sub_hdr_size);
  store_be32(h.data() + L::bitmap_blocks, in.bitmap_blocks);
  // Truncated to 32 bits; readers of version 6 take max_mapnr_64 (diskdump_mod.h).
  store_be32(h.data() + L::max_mapnr, static_cast<std::uint32_t>(in.max_mapnr));
  store_be32(h.data() + L::nr_cpus, in.pre->cpus);

  std::uint8_t* s = h.data() + bs;
  store_be64(s + L::phys_base, 0);  // s390x has no relocated kernel base in physical memory
  store_be32(s + L::dump_level, static_cast<std::uint32_t>(in.options->exclude_zero ? kdump_dump_level_exclude_zero : 0));
  store_be64(s + L::offset_vmcoreinfo, in.vmcoreinfo_offset);
  store_be64(s + L::size_vmcoreinfo, in.vmcoreinfo_size);
  store_be64(s + L::offset_note, bs + L::sub_size);
  store_be64(s + L::size_note, in.pre->notes.size());
  store_be64(s + L::start_pfn_64, 0);
  store_be64(s + L::end_pfn_64, in.max_mapnr);
  store_be64(s + L::max_mapnr_64, in.max_mapnr);
  std::copy(in.pre->notes.begin(), in.pre->notes.end(), h.begin() + static_cast<std::ptrdiff_t>(bs + L::sub_size));
  return h;
}

// The page data, appended in order and written a buffer at a time.
class DataStream {
 public:
  DataStream(Sink& sink, std::uint64_t start) : sink_(sink), next_(start), flushed_(start) { buf_.reserve(data_buffer); }
  std::uint64_t next() const { return next_; }
  tl::expected<void, std::string> append(std::span<const std::uint8_t> bytes) {
    if (buf_.size() + bytes.size() > data_buffer)
      if (auto r = flush(); !r) return r;
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
    next_ += bytes.size();
    return {};
  }
  tl::expected<void, std::string> flush() {
    auto r = sink_.put(flushed_, buf_);
    flushed_ = next_;
    buf_.clear();
    return r;
  }

 private:
  Sink& sink_;
  std::uint64_t next_;
  std::uint64_t flushed_;
  std::vector<std::uint8_t> buf_;
};

// The descriptor area, filled from its first slot and written a batch at a time.
class DescTable {
 public:
  DescTable(Sink& sink, std::uint64_t start) : sink_(sink), start_(start) { buf_.reserve(descs_per_batch * L::page_desc_size); }
  std::uint64_t count() const { return count_; }
  tl::expected<void, std::string> add(std::uint64_t offset, std::uint32_t size, std::uint32_t flags) {
    const std::size_t at = buf_.size();
    buf_.resize(at + L::page_desc_size, 0);  // page_flags (the last 8 bytes) unused: 0
    store_be64(buf_.data() + at, offset);
    store_be32(buf_.data() + at + 8, size);
    store_be32(buf_.data() + at + 12, flags);
    ++count_;
    if (buf_.size() == descs_per_batch * L::page_desc_size) return flush();
    return {};
  }
  tl::expected<void, std::string> flush() {
    auto r = sink_.put(start_ + flushed_ * L::page_desc_size, buf_);
    flushed_ = count_;
    buf_.clear();
    return r;
  }

 private:
  Sink& sink_;
  std::uint64_t start_;
  std::uint64_t count_ = 0;
  std::uint64_t flushed_ = 0;
  std::vector<std::uint8_t> buf_;
};

// A stored page's place in its file. The shared zero page (makedumpfile's pd_zero) is
// stored once per file, where its first zero page is met.
struct StoredPage {
  std::uint64_t offset;
  std::uint32_t size;
  std::uint32_t flags;
};

// One output file: the whole dump, or one part of a split set holding [start_pfn, end_pfn).
struct Part {
  std::string path;
  std::uint64_t start_pfn = 0, end_pfn = 0;
  std::uint64_t present = 0;  // pages of bitmap 1 in the range: the descriptor slots reserved
  std::uint64_t data_offset = 0;
  std::unique_ptr<OutputFile> file;
  std::unique_ptr<Sink> sink;
  std::unique_ptr<DataStream> data;
  std::unique_ptr<DescTable> descs;
  std::optional<StoredPage> zero_page;
  std::uint64_t pages_dumped = 0;
};

// Where each of `n` parts starts: part k at the pfn of present page floor(k * P / n)
// (P pages present, counted in PFN order), so that the parts hold nearly equal counts;
// part 0 at 0. A part past the last page starts at max_mapnr (it is empty).
std::vector<std::uint64_t> split_starts(const std::vector<PageRun>& runs, std::uint64_t present, std::size_t n,
                                        std::uint64_t max_mapnr) {
  std::vector<std::uint64_t> starts{0};
  for (std::size_t k = 1; k < n; ++k) {
    std::uint64_t want = present * k / n;  // present <= 2^40, n <= kdump_max_split_parts: no overflow
    std::uint64_t at = max_mapnr;
    for (const auto& r : runs) {
      if (want < r.count) {
        at = r.first + want;
        break;
      }
      want -= r.count;
    }
    starts.push_back(at);
  }
  return starts;
}

// Pages of `runs` within [first, end).
std::uint64_t present_in(const std::vector<PageRun>& runs, std::uint64_t first, std::uint64_t end) {
  std::uint64_t n = 0;
  for (const auto& r : runs) {
    const std::uint64_t a = std::max(first, r.first), b = std::min(end, r.first + r.count);
    if (a < b) n += b - a;
  }
  return n;
}

// A page the writer may leave out rather than fail on: the source says it does not hold
// it (ENODATA), or no storage is behind (part of) it (addressing exception).
bool excludable(const MemopResult& r) {
  if (r.is_exception()) return r.fault.code == PgmCode::addressing;
  return r.error == HostError::enodata;
}

std::string read_failure(Backend& backend, std::uint64_t address, const MemopResult& r) {
  std::string message = fmt::format("absolute {:#x}: {}", address, describe_read_failure(r));
  if (!r.detail.empty()) message += fmt::format(" ({})", r.detail);
  if (auto why = backend.unavailable_reason()) message += "; " + *why;
  return message;
}

// The whole file (one path) or a split set (several), in one pass over the guest.
tl::expected<KdumpWriteReport, DumpError> write_kdump(Backend& backend, const std::vector<std::string>& paths,
                                                       const KdumpWriteOptions& options) {
  const bool split = paths.size() > 1;
  if (options.compression == PageCompression::none || !supported(options.compression))
    return tl::unexpected(DumpError{DumpErrorKind::unsupported,
                                    fmt::format("kdump pages compressed with {}: not supported in this build",
                                                compression_name(options.compression))});
  auto pre = prepare_dump(backend, options.vmcoreinfo, options.source_vmcoreinfo);
  if (!pre) return tl::unexpected(pre.error());
  KdumpWriteReport report;
  report.segments = pre->segments;
  report.memory_bytes = pre->memory_bytes;
  report.cpus = pre->cpus;
  report.notes_size = pre->notes.size();
  report.compression = options.compression;
  report.flattened = options.flattened;

  const std::vector<PageRun> runs = page_runs(pre->segments);
  const std::uint64_t max_mapnr = runs.empty() ? 1 : runs.back().first + runs.back().count;  // a reader needs >= 1
  if (max_mapnr > kdump_max_mapnr)
    return tl::unexpected(DumpError{DumpErrorKind::no_memory_map,
                                    fmt::format("the memory map ends at page {:#x}, beyond what a kdump file may describe ({:#x})",
                                                max_mapnr, kdump_max_mapnr)});
  report.max_mapnr = max_mapnr;
  for (const auto& r : runs) report.pages_present += r.count;

  // Where everything goes (diskdump_mod.h; makedumpfile.c write_kdump_header).
  HeaderInputs hi;
  hi.options = &options;
  hi.pre = &*pre;
  hi.max_mapnr = max_mapnr;
  if (pre->vmcoreinfo.found) {
    report.utsname = recover_utsname(backend, *pre->vmcoreinfo.found);
    if (report.utsname.found) hi.utsname = &*report.utsname.found;
  } else {
    report.utsname.rejected = "no VMCOREINFO";
  }
  const std::uint64_t notes_offset = bs + L::sub_size;
  hi.sub_hdr_size = static_cast<std::uint32_t>(div_up(L::sub_size + pre->notes.size(), bs));
  const std::uint64_t bitmap_bytes = div_up(max_mapnr, 8);
  const std::uint64_t bitmap_blocks_each = div_up(bitmap_bytes, bs);
  hi.bitmap_blocks = static_cast<std::uint32_t>(2 * bitmap_blocks_each);
  if (pre->vmcoreinfo.found) {
    // The note blob's VMCOREINFO descriptor, found by parsing what was built.
    auto parsed = parse_note_blob(pre->notes, notes_offset);
    if (!parsed) return tl::unexpected(DumpError{DumpErrorKind::registers, "the note blob: " + parsed.error().message});
    for (const auto& n : parsed->notes)
      if (n.name == vmcoreinfo_note_name && n.type == vmcoreinfo_note_type) {
        hi.vmcoreinfo_offset = n.desc_offset;
        hi.vmcoreinfo_size = n.desc_size;
      }
  }
  const std::uint64_t bitmap_offset = (1 + std::uint64_t{hi.sub_hdr_size}) * bs;
  const std::uint64_t bitmap2_offset = bitmap_blocks_each * bs;  // within `bitmaps`
  const std::uint64_t descs_offset = bitmap_offset + std::uint64_t{hi.bitmap_blocks} * bs;

  std::vector<std::uint8_t> bitmaps(static_cast<std::size_t>(std::uint64_t{hi.bitmap_blocks} * bs), 0);
  for (const auto& r : runs)
    for (std::uint64_t pfn = r.first; pfn < r.first + r.count; ++pfn) set_bit(bitmaps, 0, pfn);

  // One header for every part (one timestamp), patched per part with its range.
  const std::vector<std::uint8_t> header = header_blocks(hi);
  const std::vector<std::uint64_t> starts = split_starts(runs, report.pages_present, paths.size(), max_mapnr);
  std::vector<Part> parts(paths.size());
  for (std::size_t k = 0; k < parts.size(); ++k) {
    Part& p = parts[k];
    p.path = paths[k];
    p.start_pfn = starts[k];
    p.end_pfn = k + 1 < parts.size() ? starts[k + 1] : max_mapnr;
    p.present = present_in(runs, p.start_pfn, p.end_pfn);
    p.data_offset = descs_offset + p.present * L::page_desc_size;  // every slot of the range reserved
    auto file = OutputFile::create(p.path);
    if (!file) return tl::unexpected(output_error(file.error()));
    p.file = std::move(*file);
    p.sink = std::make_unique<Sink>(*p.file, options.flattened);
    p.data = std::make_unique<DataStream>(*p.sink, p.data_offset);
    p.descs = std::make_unique<DescTable>(*p.sink, descs_offset);
    std::vector<std::uint8_t> h = header;
    if (split) {
      // makedumpfile.c write_kdump_header: split = 1, the old fields truncated to
      // unsigned int ("may be overflow ... over 16 TB"), the _64 ones whole.
      std::uint8_t* sub = h.data() + bs;
      store_be32(sub + L::split, 1);
      store_be64(sub + L::start_pfn, static_cast<std::uint32_t>(p.start_pfn));
      store_be64(sub + L::end_pfn, static_cast<std::uint32_t>(p.end_pfn));
      store_be64(sub + L::start_pfn_64, p.start_pfn);
      store_be64(sub + L::end_pfn_64, p.end_pfn);
    }
    if (auto r = p.sink->start(); !r) return tl::unexpected(output_error(r.error()));
    if (auto r = p.sink->put(0, h); !r) return tl::unexpected(output_error(r.error()));
  }

  PageCompressor compressor(options.compression);
  std::vector<std::uint8_t> compressed;
  std::size_t current = 0;  // the part of the page being stored: pages come in PFN order

  // One page read: dumped (bit 2 set, descriptor, data in its part), or excluded.
  auto store_page = [&](std::uint64_t pfn, std::span<const std::uint8_t> page) -> tl::expected<void, std::string> {
    const bool zero = std::all_of(page.begin(), page.end(), [](std::uint8_t b) { return b == 0; });
    if (zero && options.exclude_zero) {
      ++report.pages_excluded_zero;
      return {};
    }
    while (pfn >= parts[current].end_pfn) ++current;  // the last part ends at max_mapnr
    Part& part = parts[current];
    set_bit(bitmaps, bitmap2_offset, pfn);
    ++report.pages_dumped;
    ++part.pages_dumped;
    if (zero) ++report.pages_zero;
    if (!zero || !part.zero_page) {
      std::span<const std::uint8_t> stored = page;
      std::uint32_t flags = 0;
      if (compressor.compress(page, compressed)) {
        stored = compressed;
        flags = kdump_flag_of(options.compression);
      }
      const StoredPage at{part.data->next(), static_cast<std::uint32_t>(stored.size()), flags};
      if (auto r = part.data->append(stored); !r) return r;
      if (!zero) {
        if (flags) ++report.pages_compressed;
        return part.descs->add(at.offset, at.size, at.flags);
      }
      part.zero_page = at;
    }
    if (part.zero_page->flags) ++report.pages_compressed;
    return part.descs->add(part.zero_page->offset, part.zero_page->size, part.zero_page->flags);
  };

  DumpProgress progress{0, report.pages_present * bs};
  const std::uint64_t piece_pages = std::max<std::uint64_t>(options.piece / bs, 1);
  std::vector<std::uint8_t> buffer(static_cast<std::size_t>(std::min(piece_pages, std::max<std::uint64_t>(report.pages_present, 1)) * bs));
  for (const auto& run : runs) {
    for (std::uint64_t done = 0; done < run.count;) {
      const std::uint64_t n = std::min<std::uint64_t>(buffer.size() / bs, run.count - done);
      const std::uint64_t first = run.first + done;
      const std::span<std::uint8_t> piece = std::span(buffer).first(static_cast<std::size_t>(n * bs));
      // Pages below the chunk that failed (if one did) were read; the rest page by page,
      // so that a page the source lacks costs only itself.
      std::uint64_t failed_at = ~std::uint64_t{0};
      const bool whole = read_guest_absolute(backend, first * bs, piece, &failed_at).ok();
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::span<std::uint8_t> page = piece.subspan(static_cast<std::size_t>(i * bs), bs);
        if (!whole && (first + i + 1) * bs > failed_at) {
          const MemopResult r = read_guest_absolute(backend, (first + i) * bs, page);
          if (!r.ok()) {
            if (!excludable(r))
              return tl::unexpected(DumpError{DumpErrorKind::memory, read_failure(backend, (first + i) * bs, r)});
            if (report.pages_unreadable++ == 0) report.first_unreadable = read_failure(backend, (first + i) * bs, r);
            continue;
          }
        }
        if (auto r = store_page(first + i, page); !r) return tl::unexpected(output_error(r.error()));
      }
      done += n;
      progress.done += n * bs;
      if (options.progress && !options.progress(progress))
        return tl::unexpected(DumpError{DumpErrorKind::interrupted,
                                        fmt::format("interrupted after {:#x} of {:#x} bytes", progress.done, progress.total)});
    }
  }
  for (Part& p : parts) {
    if (auto r = p.data->flush(); !r) return tl::unexpected(output_error(r.error()));
    if (auto r = p.descs->flush(); !r) return tl::unexpected(output_error(r.error()));
    if (options.flattened) {
      // The unused descriptor slots as zeros: the stream then describes every byte of the
      // file (readers of flattened files may expect no large holes).
      static const std::vector<std::uint8_t> zeros(static_cast<std::size_t>(zero_record), 0);
      for (std::uint64_t at = descs_offset + p.descs->count() * L::page_desc_size; at < p.data_offset;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zero_record, p.data_offset - at));
        if (auto r = p.sink->put(at, std::span(zeros).first(n)); !r) return tl::unexpected(output_error(r.error()));
        at += n;
      }
    }
    // The full bitmaps in every part (makedumpfile writes them so; readers index a
    // part's descriptors by ranks in them).
    if (auto r = p.sink->put(bitmap_offset, bitmaps); !r) return tl::unexpected(output_error(r.error()));
    if (auto r = p.sink->finish(); !r) return tl::unexpected(output_error(r.error()));
    if (auto r = p.file->sync(); !r) return tl::unexpected(output_error(r.error()));
  }
  report.vmcoreinfo = std::move(pre->vmcoreinfo);
  for (Part& p : parts) {
    report.file_size += p.file->size();
    if (split) report.parts.push_back({p.path, p.start_pfn, p.end_pfn, p.file->size(), p.pages_dumped});
  }
  // Every file is complete and synced: only the renames remain. Should one fail, the
  // parts already renamed are removed, so that no partial set is left.
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (auto r = parts[k].file->commit(); !r) {
      for (std::size_t j = 0; j < k; ++j) ::unlink(parts[j].path.c_str());
      return tl::unexpected(output_error(r.error()));
    }
  }
  return report;
}

}  // namespace

tl::expected<KdumpWriteReport, DumpError> write_kdump_dump(Backend& backend, const std::string& path,
                                                            const KdumpWriteOptions& options) {
  return write_kdump(backend, std::vector<std::string>{path}, options);
}

tl::expected<KdumpWriteReport, DumpError> write_kdump_split(Backend& backend, const std::vector<std::string>& paths,
                                                             const KdumpWriteOptions& options) {
  if (paths.size() < 2 || paths.size() > kdump_max_split_parts)
    return tl::unexpected(DumpError{DumpErrorKind::output, fmt::format("a split kdump set has 2..{} files, not {}",
                                                                       kdump_max_split_parts, paths.size())});
  return write_kdump(backend, paths, options);
}

}  // namespace s390b::dump
