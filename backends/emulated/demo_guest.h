// The built-in demo guest (`s390bridge serve --demo`): an emulated machine that shows
// every feature of the bridge to someone without an s390 machine. docs/demo-guest.md
// is the user's map; the constants below are the single source of its addresses.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <tl/expected.hpp>

#include "backends/emulated/emulated_backend.h"

namespace s390b::demo {

constexpr std::uint64_t storage_size = 64ull << 20;
constexpr unsigned cpu_count = 2;
constexpr std::uint64_t prefix[cpu_count] = {0x20000, 0x22000};

// Strings, by view.
// absolute / real
constexpr std::uint64_t absolute_zero_string = 0x100;    // absolute: "absolute page 0 ..."
constexpr std::uint64_t lowcore_string = 0x1180;         // real (in LAP window): "lowcore of cpu N"
// home space (the "kernel", region-third ASCE in CR13)
constexpr std::uint64_t kernel_text_va = 0x10000000000;  // DAT-protected, 64 KiB
constexpr std::uint64_t kernel_text_abs = 0x400000;
constexpr std::uint64_t kernel_text_size = 0x10000;
constexpr std::uint64_t linux_banner_va = kernel_text_va + 0x400;
constexpr std::uint64_t kernel_hole_va = kernel_text_va + kernel_text_size;  // invalid PTE
constexpr std::uint64_t kernel_data_va = 0x600000;       // identity-mapped, writable
constexpr std::uint64_t identity_map_size = 16ull << 20;  // home VA 0..16 MiB = absolute
constexpr std::uint64_t segment_frame_va = 0x20000000000;  // 1 MiB frame
constexpr std::uint64_t segment_frame_abs = 0x1000000;
constexpr std::uint64_t region3_frame_va = 0x30000000000;  // 2 GiB frame at absolute 0
constexpr std::uint64_t region3_frame_string_va = region3_frame_va + 0x2000000;
constexpr std::uint64_t fetch_protected_abs = 0x500000;  // storage key 0x38 (ACC 3, F)
constexpr std::uint64_t key9_abs = 0x501000;             // storage key 0x90
// primary space of cpu 1 (a user process, region-second ASCE) = secondary of cpu 0
constexpr std::uint64_t user_text_va = 0x1000000;
constexpr std::uint64_t user_text_abs = 0x800000;
constexpr std::uint64_t user_stack_va = 0x3fffffff000;
constexpr std::uint64_t user_stack_abs = 0x801000;
// access list (DUCT in CR2 of both CPUs); ARs 2-4 of both CPUs hold these ALETs
constexpr std::uint32_t alet_user = 0x00000002;          // user space, read/write
constexpr std::uint32_t alet_kernel_fetch_only = 0x00000003;  // home space, fetch-only
constexpr std::uint32_t alet_invalid = 0x00000004;        // invalid ALE -> PGM 0x29

std::unique_ptr<EmulatedBackend> make_guest();

}  // namespace s390b::demo
