#include "backends/dump/s390_writer.h"

#include <algorithm>
#include <chrono>
#include <set>

#include <fmt/format.h>

#include "backends/dump/guest_read.h"
#include "backends/dump/output_file.h"
#include "backends/dump/s390_dump.h"
#include "backends/dump/save_area.h"
#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

namespace L = s390_layout;
constexpr std::uint64_t page = s390_page_size;
constexpr std::size_t max_unreadable_listed = 8;
// The prefix register holds bits 1-18 of a 31-bit value: the prefix area is 8 KiB aligned
// (PoP, chapter 3, "Prefixing").
constexpr std::uint64_t prefix_alignment = save_area::lowcore_size;

std::uint64_t host_tod() {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch());
  return tod_from_unix_us(static_cast<std::uint64_t>(std::max<std::int64_t>(us.count(), 0)));
}

DumpError output_error(std::string message) { return DumpError{DumpErrorKind::output, std::move(message)}; }

// Bytes the output holds at `address` instead of memory's.
struct Overlay {
  std::uint64_t address = 0;
  std::vector<std::uint8_t> bytes;
};

std::vector<std::uint8_t> header_bytes(const S390WriteReport& r) {
  std::vector<std::uint8_t> h(L::header_size, 0);
  std::uint8_t* p = h.data();
  store_be64(p + L::magic, s390_dump_magic);
  store_be32(p + L::version, s390_writer_version);
  store_be32(p + L::hdr_size, static_cast<std::uint32_t>(L::header_size));
  store_be32(p + L::dump_level, s390_dump_level);
  store_be32(p + L::page_size, s390_page_size);
  store_be64(p + L::mem_size, r.mem_size);
  store_be64(p + L::mem_start, 0);
  store_be64(p + L::mem_end, r.mem_size);
  store_be32(p + L::num_pages, static_cast<std::uint32_t>(r.mem_size / page));
  store_be64(p + L::tod, r.tod);
  store_be64(p + L::cpu_id, 0);
  store_be32(p + L::arch, s390_arch_64);
  store_be32(p + L::build_arch, s390_arch_64);
  store_be64(p + L::mem_size_real, r.mem_size);
  store_be16(p + L::cpu_cnt, static_cast<std::uint16_t>(r.lc_vec.size()));
  store_be16(p + L::real_cpu_cnt, static_cast<std::uint16_t>(std::min<unsigned>(r.cpus, 0xffff)));
  for (std::size_t i = 0; i < r.lc_vec.size(); ++i) store_be32(p + L::lc_vec + 4 * i, r.lc_vec[i]);
  return h;
}

// Reads [address, address + out.size()) of a range that the memory map says is backed,
// page by page where the whole fails; unreadable pages stay zero and are counted.
void read_range(Backend& backend, std::uint64_t address, std::span<std::uint8_t> out, S390WriteReport& report) {
  if (read_guest_absolute(backend, address, out).ok()) return;
  for (std::size_t done = 0; done < out.size();) {
    const std::uint64_t a = address + done;
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(page - a % page, out.size() - done));
    const auto part = out.subspan(done, n);
    const MemopResult r = read_guest_absolute(backend, a, part);
    if (!r.ok()) {
      std::fill(part.begin(), part.end(), std::uint8_t{0});
      report.unreadable_bytes += n;
      if (report.unreadable.size() < max_unreadable_listed) {
        std::string why = r.detail.empty() ? describe_read_failure(r) : r.detail;
        report.unreadable.push_back(fmt::format("absolute {:#x}+{:#x}: {}", a, n, why));
      }
    }
    done += n;
  }
}

// Which CPUs go into lc_vec, and the save areas (and vector areas) they put into memory.
tl::expected<std::vector<Overlay>, DumpError> plan_cpus(Backend& backend, S390WriteReport& report) {
  std::vector<Overlay> overlays;
  std::set<std::uint32_t> seen;
  for (unsigned cpu = 0; cpu < backend.cpu_count(); ++cpu) {
    auto state = backend.cpu_state(cpu);
    if (!state)
      return tl::unexpected(DumpError{DumpErrorKind::registers,
                                      fmt::format("cpu {}: registers unreadable: {}", cpu, host_error_name(state.error()))});
    const CpuState& s = *state;
    auto skip = [&](std::string why) {
      report.warnings.push_back(fmt::format("cpu {}: {}: not in lc_vec, its registers are not in the dump", cpu, why));
    };
    if (!s.present.prefix) {
      skip("prefix unknown");
      continue;
    }
    if (s.prefix == 0) {
      skip("prefix 0 (its save area would be absolute 0x1200, which belongs to no CPU's prefix area)");
      continue;
    }
    if (s.prefix % prefix_alignment != 0) {
      skip(fmt::format("prefix {:#x} is not {:#x}-aligned", s.prefix, prefix_alignment));
      continue;
    }
    if (std::uint64_t{s.prefix} + save_area::lowcore_size > report.mem_size) {
      skip(fmt::format("prefix {:#x}: the prefix area lies beyond the dumped memory (mem_size {:#x})", s.prefix, report.mem_size));
      continue;
    }
    if (!seen.insert(s.prefix).second) {
      skip(fmt::format("prefix {:#x} is also an earlier CPU's", s.prefix));
      continue;
    }
    if (report.lc_vec.size() == L::cpu_max) {
      skip(fmt::format("more than {} CPUs (lc_vec is full)", L::cpu_max));
      continue;
    }
    report.lc_vec.push_back(s.prefix);
    const auto sa = encode_save_area(s);
    overlays.push_back({std::uint64_t{s.prefix} + save_area::start, {sa.begin(), sa.end()}});
    if (!(s.present.gprs && s.present.psw && s.present.crs && s.present.acrs && s.present.fprs))
      report.warnings.push_back(fmt::format("cpu {}: some register groups are unknown; zeros in its save area", cpu));
    if (!s.present.vrs) continue;
    std::uint8_t mcesad[8] = {};
    if (!read_guest_absolute(backend, std::uint64_t{s.prefix} + save_area::vector_save_area_addr, mcesad).ok()) continue;
    const std::uint64_t origin = vector_area_origin(load_be64(mcesad));
    if (origin == 0 || origin > report.mem_size || report.mem_size - origin < save_area::vector_area_size) {
      report.warnings.push_back(fmt::format(
          "cpu {}: vector registers not written: its lowcore designates no vector save area inside the dump "
          "(absolute {:#x}: {:#x})", cpu, std::uint64_t{s.prefix} + save_area::vector_save_area_addr, load_be64(mcesad)));
      continue;
    }
    const auto vx = encode_vector_area(s);
    overlays.push_back({origin, {vx.begin(), vx.end()}});
    ++report.vector_areas;
  }
  return overlays;
}

void apply_overlays(const std::vector<Overlay>& overlays, std::uint64_t address, std::span<std::uint8_t> piece) {
  for (const Overlay& o : overlays) {
    const std::uint64_t from = std::max(address, o.address);
    const std::uint64_t to = std::min(address + piece.size(), o.address + o.bytes.size());
    if (from >= to) continue;
    std::copy_n(o.bytes.begin() + static_cast<std::ptrdiff_t>(from - o.address), to - from,
                piece.begin() + static_cast<std::ptrdiff_t>(from - address));
  }
}

}  // namespace

tl::expected<S390WriteReport, DumpError> write_s390_dump(Backend& backend, const std::string& path,
                                                          const S390WriteOptions& options) {
  const MemoryMap* map = backend.memory_map();
  if (!map)
    return tl::unexpected(DumpError{DumpErrorKind::no_memory_map,
                                    fmt::format("the {} backend does not say where guest storage is", backend.name())});
  S390WriteReport report;
  report.segments = dump_segments(*map);
  if (report.segments.empty())
    return tl::unexpected(DumpError{DumpErrorKind::no_memory_map, "the source has no absolute storage to dump"});
  const auto& last = report.segments.back();
  report.mem_size = (last.start + last.size + page - 1) & ~(page - 1);
  report.cpus = backend.cpu_count();
  report.tod = options.tod.value_or(host_tod());
  auto overlays = plan_cpus(backend, report);
  if (!overlays) return tl::unexpected(overlays.error());

  auto file = OutputFile::create(path);
  if (!file) return tl::unexpected(output_error(file.error()));
  OutputFile& out = **file;
  if (auto r = out.write(header_bytes(report)); !r) return tl::unexpected(output_error(r.error()));

  DumpProgress progress{0, report.mem_size};
  std::vector<std::uint8_t> buffer(static_cast<std::size_t>(
      std::min<std::uint64_t>(std::max<std::size_t>(options.piece, page), report.mem_size)));
  auto seg = report.segments.begin();
  for (std::uint64_t address = 0; address < report.mem_size;) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), report.mem_size - address));
    const std::span<std::uint8_t> piece = std::span(buffer).first(n);
    std::fill(piece.begin(), piece.end(), std::uint8_t{0});
    std::uint64_t covered = 0;
    while (seg != report.segments.end() && seg->start + seg->size <= address) ++seg;
    for (auto s = seg; s != report.segments.end() && s->start < address + n; ++s) {
      const std::uint64_t from = std::max(address, s->start);
      const std::uint64_t to = std::min(address + n, s->start + s->size);
      read_range(backend, from, piece.subspan(from - address, to - from), report);
      covered += to - from;
    }
    report.gap_bytes += n - covered;
    apply_overlays(*overlays, address, piece);
    if (auto w = out.write(piece); !w) return tl::unexpected(output_error(w.error()));
    address += n;
    progress.done += n;
    if (options.progress && !options.progress(progress))
      return tl::unexpected(DumpError{DumpErrorKind::interrupted,
                                      fmt::format("interrupted after {:#x} of {:#x} bytes", progress.done, progress.total)});
  }
  std::uint8_t em[L::end_marker_size];
  store_be64(em, s390_end_marker_magic);
  store_be64(em + 8, options.tod ? report.tod : std::max(report.tod, host_tod()));
  if (auto w = out.write(em); !w) return tl::unexpected(output_error(w.error()));
  report.file_size = out.size();
  if (auto r = out.commit(); !r) return tl::unexpected(output_error(r.error()));
  return report;
}

}  // namespace s390b::dump
