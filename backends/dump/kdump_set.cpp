#include "backends/dump/kdump_set.h"

#include <algorithm>

#include <fmt/format.h>

namespace s390b::dump {

tl::expected<std::vector<KdumpSetPart>, std::string> check_kdump_set(std::vector<KdumpSetPart> parts) {
  if (parts.empty()) return tl::unexpected(std::string("a split set needs at least one file"));
  for (const auto& p : parts)
    if (!p.reader->info().split)
      return tl::unexpected(fmt::format("{}: not a part of a split dump (its kdump sub-header's split is 0); give the "
                                        "parts of one makedumpfile --split set, or one file alone",
                                        p.path));
  const KdumpSetPart& ref = parts.front();
  const KdumpInfo& a = ref.reader->info();
  for (const auto& p : parts) {
    const KdumpInfo& b = p.reader->info();
    auto differ = [&](std::string_view field, const auto& mine, const auto& theirs) {
      return tl::unexpected(fmt::format("{}: {} {} differs from {}'s {} (not parts of one split set)", p.path, field,
                                        mine, ref.path, theirs));
    };
    if (b.block_size != a.block_size) return differ("block_size", b.block_size, a.block_size);
    if (b.max_mapnr != a.max_mapnr)
      return differ("max_mapnr", fmt::format("{:#x}", b.max_mapnr), fmt::format("{:#x}", a.max_mapnr));
    if (b.version != a.version) return differ("header_version", b.version, a.version);
    if (b.utsname != a.utsname) return differ("utsname (release)", fmt::format("\"{}\"", b.release), fmt::format("\"{}\"", a.release));
    if (b.timestamp_sec != a.timestamp_sec || b.timestamp_usec != a.timestamp_usec)
      return differ("timestamp", fmt::format("{}.{:06}", b.timestamp_sec, b.timestamp_usec),
                    fmt::format("{}.{:06}", a.timestamp_sec, a.timestamp_usec));
    if (b.note_size != a.note_size)
      return differ("size_note", fmt::format("{:#x}", b.note_size), fmt::format("{:#x}", a.note_size));
  }
  std::stable_sort(parts.begin(), parts.end(), [](const KdumpSetPart& x, const KdumpSetPart& y) {
    return x.reader->info().start_pfn < y.reader->info().start_pfn;
  });
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const KdumpInfo& prev = parts[i - 1].reader->info();
    const KdumpInfo& cur = parts[i].reader->info();
    if (cur.start_pfn < prev.end_pfn)
      return tl::unexpected(fmt::format("{} covers pfns [{:#x}, {:#x}) and {} [{:#x}, {:#x}): the ranges overlap (the "
                                        "same file twice, or parts of different split sets)",
                                        parts[i - 1].path, prev.start_pfn, prev.end_pfn, parts[i].path, cur.start_pfn,
                                        cur.end_pfn));
  }
  return parts;
}

std::string describe_kdump_set(const std::vector<KdumpSetPart>& sorted) {
  KdumpInfo info = sorted.front().reader->info();
  info.split = false;  // the set, not one part
  info.flattened = std::all_of(sorted.begin(), sorted.end(), [](const KdumpSetPart& p) { return p.reader->info().flattened; });
  return fmt::format("{}, split set of {} files", info.describe(), sorted.size());
}

}  // namespace s390b::dump
