#include "backends/dump/kdump_writer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
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

}  // namespace

tl::expected<KdumpWriteReport, DumpError> write_kdump_dump(Backend& backend, const std::string& path,
                                                            const KdumpWriteOptions& options) {
  if (options.compression == PageCompression::none || !supported(options.compression))
    return tl::unexpected(DumpError{DumpErrorKind::unsupported,
                                    fmt::format("kdump pages compressed with {}: not supported in this build",
                                                compression_name(options.compression))});
  auto pre = prepare_dump(backend, options.vmcoreinfo);
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
  const std::uint64_t data_offset = descs_offset + report.pages_present * L::page_desc_size;  // every slot reserved

  std::vector<std::uint8_t> bitmaps(static_cast<std::size_t>(std::uint64_t{hi.bitmap_blocks} * bs), 0);
  for (const auto& r : runs)
    for (std::uint64_t pfn = r.first; pfn < r.first + r.count; ++pfn) set_bit(bitmaps, 0, pfn);

  auto file = OutputFile::create(path);
  if (!file) return tl::unexpected(output_error(file.error()));
  OutputFile& out = **file;
  Sink sink(out, options.flattened);
  if (auto r = sink.start(); !r) return tl::unexpected(output_error(r.error()));
  if (auto r = sink.put(0, header_blocks(hi)); !r) return tl::unexpected(output_error(r.error()));

  DataStream data(sink, data_offset);
  DescTable descs(sink, descs_offset);
  PageCompressor compressor(options.compression);
  std::vector<std::uint8_t> compressed;
  // The shared zero page (makedumpfile's pd_zero): stored once, where the first is met.
  struct StoredPage {
    std::uint64_t offset;
    std::uint32_t size;
    std::uint32_t flags;
  };
  std::optional<StoredPage> zero_page;

  // One page read: dumped (bit 2 set, descriptor, data), or excluded.
  auto store_page = [&](std::uint64_t pfn, std::span<const std::uint8_t> page) -> tl::expected<void, std::string> {
    const bool zero = std::all_of(page.begin(), page.end(), [](std::uint8_t b) { return b == 0; });
    if (zero && options.exclude_zero) {
      ++report.pages_excluded_zero;
      return {};
    }
    set_bit(bitmaps, bitmap2_offset, pfn);
    ++report.pages_dumped;
    if (zero) ++report.pages_zero;
    if (!zero || !zero_page) {
      std::span<const std::uint8_t> stored = page;
      std::uint32_t flags = 0;
      if (compressor.compress(page, compressed)) {
        stored = compressed;
        flags = kdump_flag_of(options.compression);
      }
      const StoredPage at{data.next(), static_cast<std::uint32_t>(stored.size()), flags};
      if (auto r = data.append(stored); !r) return r;
      if (!zero) {
        if (flags) ++report.pages_compressed;
        return descs.add(at.offset, at.size, at.flags);
      }
      zero_page = at;
    }
    if (zero_page->flags) ++report.pages_compressed;
    return descs.add(zero_page->offset, zero_page->size, zero_page->flags);
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
  if (auto r = data.flush(); !r) return tl::unexpected(output_error(r.error()));
  if (auto r = descs.flush(); !r) return tl::unexpected(output_error(r.error()));
  if (options.flattened) {
    // The unused descriptor slots as zeros: the stream then describes every byte of the
    // file (readers of flattened files may expect no large holes).
    static const std::vector<std::uint8_t> zeros(static_cast<std::size_t>(zero_record), 0);
    for (std::uint64_t at = descs_offset + descs.count() * L::page_desc_size; at < data_offset;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(zero_record, data_offset - at));
      if (auto r = sink.put(at, std::span(zeros).first(n)); !r) return tl::unexpected(output_error(r.error()));
      at += n;
    }
  }
  if (auto r = sink.put(bitmap_offset, bitmaps); !r) return tl::unexpected(output_error(r.error()));
  if (auto r = sink.finish(); !r) return tl::unexpected(output_error(r.error()));
  report.vmcoreinfo = std::move(pre->vmcoreinfo);
  report.file_size = out.size();
  if (auto r = out.commit(); !r) return tl::unexpected(output_error(r.error()));
  return report;
}

}  // namespace s390b::dump
