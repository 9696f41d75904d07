#include "backends/dump/load_core.h"

#include <fmt/format.h>

#include "backends/dump/byte_source.h"
#include "backends/dump/elf_core.h"
#include "backends/dump/kdump.h"
#include "backends/dump/kdump_set.h"
#include "backends/dump/lowcore_cpus.h"
#include "backends/dump/s390_dump.h"
#include "backends/dump/skeys.h"
#include "backends/emulated/file_mapping.h"

namespace s390b::dump {

namespace {

std::string segment_name(const std::string& path, const MemorySegment& seg) {
  return fmt::format("{}: program header {} (p_paddr {:#x}, p_filesz {:#x}, p_memsz {:#x})", path, seg.phdr_index,
                     seg.guest_addr, seg.file_size, seg.mem_size);
}

tl::expected<void, std::string> load_skeys(Storage& storage, const std::string& skeys_path) {
  // Mapped, not read: its size costs address space only, and a FIFO is refused.
  auto text = FileMapping::open(skeys_path);
  if (!text) return tl::unexpected(text.error());
  const auto bytes = (*text)->bytes();
  auto keys = parse_skeys(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  if ((*text)->changed()) return tl::unexpected(*(*text)->change_description());
  if (!keys) return tl::unexpected(fmt::format("{}: {}", skeys_path, keys.error().message));
  for (const auto& run : keys->runs())
    for (std::size_t i = 0; i < run.keys.size(); ++i) storage.set_key((run.first_frame + i) * skey_frame_size, run.keys[i]);
  return {};
}

// A dump without CPU notes: its CPUs from the lowcores VMCOREINFO lists (lowcore_cpus.h),
// read from `storage` (the dump's memory, already in place). The error says why not.
tl::expected<void, std::string> cpus_without_notes(const std::string& core_path, const Storage& storage,
                                                   const std::optional<std::string>& vmcoreinfo, std::string_view what,
                                                   std::vector<CpuState>& cpus, std::vector<std::string>& sources) {
  const std::string no_notes = fmt::format("{}: no CPU notes (NT_PRSTATUS) in {}", core_path, what);
  if (!vmcoreinfo) return tl::unexpected(no_notes + ", and no VMCOREINFO to find the CPUs' lowcores with");
  const AbsoluteReadFn read = [&](std::uint64_t address, std::span<std::uint8_t> bytes) { return storage.read(address, bytes); };
  auto found = cpus_from_lowcores(read, *vmcoreinfo);
  (void)storage.take_page_error();  // a lowcore the dump does not hold is reported in `found`
  if (!found) return tl::unexpected(fmt::format("{}; from the lowcores: {}", no_notes, found.error()));
  cpus = std::move(found->cpus);
  sources = std::move(found->sources);
  return {};
}

tl::expected<std::unique_ptr<KdumpReader>, std::string> open_kdump(const std::string& core_path,
                                                                   std::shared_ptr<ByteSource> file, bool flattened) {
  if (flattened) {
    auto unflat = open_flattened(std::move(file));
    if (!unflat) return tl::unexpected(fmt::format("{}: {}", core_path, unflat.error()));
    file = std::move(*unflat);
  }
  auto reader = KdumpReader::open(std::move(file), flattened);
  if (!reader) return tl::unexpected(fmt::format("{}: {}", core_path, reader.error()));
  return std::move(*reader);
}

// One file, or the parts of a split set sorted by start_pfn: CPUs, VMCOREINFO and the
// memory map (bitmap 1) from the first.
tl::expected<LoadedCore, std::string> kdump_core(std::vector<KdumpSetPart> parts, std::string format,
                                                 const std::optional<std::string>& skeys_path, const LoadOptions& options) {
  const KdumpReader& first = *parts.front().reader;
  const std::string core_path = parts.front().path;
  LoadedCore out;
  out.format = std::move(format);
  out.vmcoreinfo = first.vmcoreinfo();
  out.segment_count = first.memory().size();
  std::vector<CpuState> cpus = first.cpus();
  const auto memory = first.memory();
  if (parts.size() > 1)
    for (const auto& p : parts) out.files.push_back(p.path);
  std::vector<std::unique_ptr<KdumpReader>> readers;
  for (auto& p : parts) readers.push_back(std::move(p.reader));
  auto pages = std::make_shared<KdumpPages>(std::move(readers), options.zero_excluded);
  Storage storage;
  storage.set_cache_limit(options.cache_pages);
  for (const auto& r : memory) {
    if (auto a = storage.add_demand(r.start, r.size, pages); !a)
      return tl::unexpected(fmt::format("{}: memory {:#x}+{:#x}: {}", core_path, r.start, r.size, a.error()));
  }
  if (skeys_path) {
    if (auto k = load_skeys(storage, *skeys_path); !k) return tl::unexpected(k.error());
  }
  if (cpus.empty()) {
    if (auto r = cpus_without_notes(core_path, storage, out.vmcoreinfo, "the kdump (no note blob before header version 4)",
                                    cpus, out.cpu_sources);
        !r)
      return tl::unexpected(r.error());
  } else {
    out.cpu_sources.assign(cpus.size(), "kdump note blob");
  }
  out.backend = std::make_unique<EmulatedBackend>(std::move(storage), std::move(cpus));
  return out;
}

tl::expected<LoadedCore, std::string> load_kdump(const std::string& core_path, std::shared_ptr<ByteSource> file,
                                                 bool flattened, const std::optional<std::string>& skeys_path,
                                                 const LoadOptions& options) {
  auto reader = open_kdump(core_path, std::move(file), flattened);
  if (!reader) return tl::unexpected(reader.error());
  std::string format = (*reader)->info().describe();
  std::vector<KdumpSetPart> one;
  one.push_back({core_path, std::move(*reader)});
  return kdump_core(std::move(one), std::move(format), skeys_path, options);
}

tl::expected<LoadedCore, std::string> load_s390(const std::string& core_path, const std::optional<std::string>& skeys_path,
                                                const LoadOptions& options) {
  auto dump = open_s390_dump(core_path, options.zero_excluded);
  if (!dump) return tl::unexpected(dump.error());
  if (skeys_path) {
    if (auto k = load_skeys(dump->storage, *skeys_path); !k) return tl::unexpected(k.error());
  }
  LoadedCore out;
  out.format = std::move(dump->format);
  out.segment_count = dump->segments;
  out.cpu_sources = std::move(dump->cpu_sources);
  out.backend = std::make_unique<EmulatedBackend>(std::move(dump->storage), std::move(dump->cpus));
  return out;
}

}  // namespace

tl::expected<LoadedCore, std::string> load_core(const std::string& core_path,
                                                const std::optional<std::string>& skeys_path,
                                                const LoadOptions& options) {
  // Detection by content: the kdump and s390 formats by their magics, everything else goes to
  // the ELF parser, whose errors say what an ELF core lacks.
  // A file that cannot be opened as one goes there too, for FileMapping's error.
  if (auto file = open_file_source(core_path)) {
    std::uint8_t head[16] = {};
    if ((*file)->size() >= sizeof head && (*file)->read(0, head)) {
      if (is_kdump(head)) return load_kdump(core_path, std::move(*file), false, skeys_path, options);
      if (is_flattened(head)) return load_kdump(core_path, std::move(*file), true, skeys_path, options);
      if (is_s390_dump(head)) return load_s390(core_path, skeys_path, options);
    }
  }
  // One mapping serves the parser and every segment: a dump with 100 000 PT_LOADs is one
  // mapping, not 100 000, and a change of the file during or after loading is caught.
  auto file = FileMapping::open(core_path);
  if (!file) return tl::unexpected(file.error());
  auto image = parse_elf_core((*file)->bytes());
  if ((*file)->changed()) return tl::unexpected(*(*file)->change_description());
  if (!image) return tl::unexpected(fmt::format("{}: {}", core_path, image.error().message));

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
    if (auto k = load_skeys(storage, *skeys_path); !k) return tl::unexpected(k.error());
  }

  LoadedCore out;
  out.format = "ELF core";
  out.vmcoreinfo = image->vmcoreinfo;
  out.segment_count = image->segments.size();
  for (const CpuNoteInfo& n : image->cpu_notes)
    out.cpu_sources.push_back(fmt::format("ELF notes (NT_PRSTATUS at {:#x})", n.prstatus_offset));
  if (image->cpus.empty()) {
    if (auto r = cpus_without_notes(core_path, storage, out.vmcoreinfo, "the core", image->cpus, out.cpu_sources); !r)
      return tl::unexpected(r.error());
  }
  out.backend = std::make_unique<EmulatedBackend>(std::move(storage), std::move(image->cpus));
  return out;
}

tl::expected<LoadedCore, std::string> load_core_set(const std::vector<std::string>& core_paths,
                                                    const std::optional<std::string>& skeys_path,
                                                    const LoadOptions& options) {
  if (core_paths.empty()) return tl::unexpected(std::string("no dump file given"));
  if (core_paths.size() == 1) return load_core(core_paths.front(), skeys_path, options);
  std::vector<KdumpSetPart> parts;
  for (const auto& path : core_paths) {
    auto file = open_file_source(path);
    if (!file) return tl::unexpected(file.error());
    std::uint8_t head[16] = {};
    const bool read = (*file)->size() >= sizeof head && (*file)->read(0, head);
    if (!read || !(is_kdump(head) || is_flattened(head)))
      return tl::unexpected(fmt::format("{}: not a kdump-compressed file (plain or flattened): several --core files must "
                                        "be the parts of one makedumpfile --split set",
                                        path));
    auto reader = open_kdump(path, std::move(*file), !is_kdump(head));
    if (!reader) return tl::unexpected(reader.error());
    parts.push_back({path, std::move(*reader)});
  }
  auto sorted = check_kdump_set(std::move(parts));
  if (!sorted) return tl::unexpected(sorted.error());
  std::string format = describe_kdump_set(*sorted);
  return kdump_core(std::move(*sorted), std::move(format), skeys_path, options);
}

}  // namespace s390b::dump
