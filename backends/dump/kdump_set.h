// The parts of a split kdump set (makedumpfile --split), checked to belong together.
//
// A split set is N files, each a complete kdump file (kdump.h): the same
// disk_dump_header, the same note blob, the same two full bitmaps (makedumpfile computes
// them once and writes them into every part), and a kdump_sub_header with split = 1 and
// start_pfn_64/end_pfn_64 (version 6; before, the start_pfn/end_pfn at sub-header
// offsets 16/24) naming the PFN range [start, end) whose pages that file holds.
// Public sources: makedumpfile's diskdump_mod.h and makedumpfile.c
// (writeout_multiple_dumpfiles); libkdumpfile's src/kdumpfile/diskdump.c reads a set the
// same way (each part's page map from its own range only).
//
// Contract: every file opens as a kdump (plain or flattened), has split set, and agrees
// with the others on block_size, max_mapnr, header_version, utsname, timestamp and the
// note blob's size; the ranges are disjoint. Parts may be missing (gaps between the
// ranges): KdumpPages answers their dumped pages with ENODATA. Every error names the
// file(s) ("b.kdump: max_mapnr 0x20000 differs from a.kdump's 0x10000").
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "backends/dump/kdump.h"

namespace s390b::dump {

struct KdumpSetPart {
  std::string path;
  std::unique_ptr<KdumpReader> reader;
};

// The parts sorted by start_pfn, or why they are not one split set.
tl::expected<std::vector<KdumpSetPart>, std::string> check_kdump_set(std::vector<KdumpSetPart> parts);

// "kdump-compressed v6, zstd, split set of 3 files" (flattened when every part is).
std::string describe_kdump_set(const std::vector<KdumpSetPart>& sorted);

}  // namespace s390b::dump
