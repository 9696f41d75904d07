#include "backends/dump/load_core.h"

#include <fmt/format.h>

#include "backends/dump/elf_core.h"
#include "backends/dump/skeys.h"
#include "backends/emulated/file_mapping.h"

namespace s390b::dump {

namespace {

std::string segment_name(const std::string& path, const MemorySegment& seg) {
  return fmt::format("{}: program header {} (p_paddr {:#x}, p_filesz {:#x}, p_memsz {:#x})", path, seg.phdr_index,
                     seg.guest_addr, seg.file_size, seg.mem_size);
}

}  // namespace

tl::expected<LoadedCore, std::string> load_core(const std::string& core_path,
                                                const std::optional<std::string>& skeys_path) {
  // One mapping serves the parser and every segment: a dump with 100 000 PT_LOADs is one
  // mapping, not 100 000, and a change of the file during or after loading is caught.
  auto file = FileMapping::open(core_path);
  if (!file) return tl::unexpected(file.error());
  auto image = parse_elf_core((*file)->bytes());
  if ((*file)->changed()) return tl::unexpected(*(*file)->change_description());
  if (!image) return tl::unexpected(fmt::format("{}: {}", core_path, image.error().message));
  if (image->cpus.empty()) return tl::unexpected(fmt::format("{}: no CPU notes (NT_PRSTATUS) in the core", core_path));

  Storage storage;
  for (const MemorySegment& seg : image->segments) {
    if (seg.file_size > 0) {
      auto r = storage.add_file(seg.guest_addr, *file, seg.file_offset, seg.file_size);
      if (!r) return tl::unexpected(fmt::format("{}: {}", segment_name(core_path, seg), r.error()));
    }
    // The p_memsz tail reads as zero and costs nothing until written, however large.
    if (seg.mem_size > seg.file_size) {
      auto r = storage.add_zero(seg.guest_addr + seg.file_size, seg.mem_size - seg.file_size);
      if (!r) return tl::unexpected(fmt::format("{}: {}", segment_name(core_path, seg), r.error()));
    }
  }

  if (skeys_path) {
    // Mapped, not read: its size costs address space only, and a FIFO is refused.
    auto text = FileMapping::open(*skeys_path);
    if (!text) return tl::unexpected(text.error());
    const auto bytes = (*text)->bytes();
    auto keys = parse_skeys(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if ((*text)->changed()) return tl::unexpected(*(*text)->change_description());
    if (!keys) return tl::unexpected(fmt::format("{}: {}", *skeys_path, keys.error().message));
    for (const auto& run : keys->runs())
      for (std::size_t i = 0; i < run.keys.size(); ++i)
        storage.set_key((run.first_frame + i) * skey_frame_size, run.keys[i]);
  }

  LoadedCore out;
  out.vmcoreinfo = image->vmcoreinfo;
  out.segment_count = image->segments.size();
  out.backend = std::make_unique<EmulatedBackend>(std::move(storage), std::move(image->cpus));
  return out;
}

}  // namespace s390b::dump
