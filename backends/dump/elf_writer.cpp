#include "backends/dump/elf_writer.h"

#include <elf.h>

#include <algorithm>

#include <fmt/format.h>

#include "backends/dump/guest_read.h"
#include "backends/dump/output_file.h"
#include "backends/dump/s390_notes.h"
#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

// ELF64 structure sizes (gABI; glibc <elf.h>).
constexpr std::size_t ehdr_size = sizeof(Elf64_Ehdr);
constexpr std::size_t phdr_size = sizeof(Elf64_Phdr);
constexpr std::size_t shdr_size = sizeof(Elf64_Shdr);
static_assert(ehdr_size == 64 && phdr_size == 56 && shdr_size == 64);
constexpr std::uint64_t memory_alignment = 4096;  // readers may mmap the segments

// The notes that follow QEMU's set for one CPU: what other sources (kernel vmcores)
// may have and QEMU never writes.
constexpr NoteType extra_cpu_notes[] = {NoteType::s390_last_break};

std::vector<std::uint8_t> elf_header(std::uint64_t phnum_field, std::uint64_t shoff, std::uint16_t shnum) {
  std::vector<std::uint8_t> h(ehdr_size, 0);
  h[EI_MAG0] = ELFMAG0;
  h[EI_MAG1] = ELFMAG1;
  h[EI_MAG2] = ELFMAG2;
  h[EI_MAG3] = ELFMAG3;
  h[EI_CLASS] = ELFCLASS64;
  h[EI_DATA] = ELFDATA2MSB;
  h[EI_VERSION] = EV_CURRENT;
  h[EI_OSABI] = ELFOSABI_SYSV;
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_type), ET_CORE);
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_machine), EM_S390);
  store_be32(h.data() + offsetof(Elf64_Ehdr, e_version), EV_CURRENT);
  store_be64(h.data() + offsetof(Elf64_Ehdr, e_phoff), ehdr_size);
  store_be64(h.data() + offsetof(Elf64_Ehdr, e_shoff), shoff);
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_ehsize), ehdr_size);
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_phentsize), phdr_size);
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_phnum), static_cast<std::uint16_t>(phnum_field));
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_shentsize), shdr_size);
  store_be16(h.data() + offsetof(Elf64_Ehdr, e_shnum), shnum);
  return h;
}

void append_phdr(std::vector<std::uint8_t>& out, std::uint32_t type, std::uint64_t offset, std::uint64_t addr,
                 std::uint64_t size) {
  const std::size_t at = out.size();
  out.resize(at + phdr_size, 0);
  std::uint8_t* p = out.data() + at;
  store_be32(p + offsetof(Elf64_Phdr, p_type), type);
  store_be64(p + offsetof(Elf64_Phdr, p_offset), offset);
  store_be64(p + offsetof(Elf64_Phdr, p_vaddr), addr);
  store_be64(p + offsetof(Elf64_Phdr, p_paddr), addr);
  store_be64(p + offsetof(Elf64_Phdr, p_filesz), size);
  store_be64(p + offsetof(Elf64_Phdr, p_memsz), size);
}

DumpError output_error(std::string message) { return DumpError{DumpErrorKind::output, std::move(message)}; }

}  // namespace

std::vector<MemoryMap::Range> dump_segments(const MemoryMap& map) {
  std::vector<MemoryMap::Range> in = map.ranges();
  std::erase_if(in, [](const MemoryMap::Range& r) { return r.size == 0; });
  std::sort(in.begin(), in.end(), [](const auto& a, const auto& b) { return a.start < b.start; });
  std::vector<MemoryMap::Range> out;
  for (const auto& r : in) {
    if (!out.empty() && out.back().start + out.back().size == r.start)
      out.back().size += r.size;
    else
      out.push_back(r);
  }
  return out;
}

tl::expected<std::vector<std::uint8_t>, DumpError> build_dump_notes(const Backend& backend, const Vmcoreinfo* vmcoreinfo) {
  std::vector<std::uint8_t> notes;
  for (unsigned cpu = 0; cpu < backend.cpu_count(); ++cpu) {
    auto state = backend.cpu_state(cpu);
    if (!state)
      return tl::unexpected(DumpError{DumpErrorKind::registers,
                                      fmt::format("cpu {}: registers unreadable: {}", cpu, host_error_name(state.error()))});
    auto add = [&](NoteType type) {
      if (!cpu_note_present(type, *state)) return;
      const auto desc = encode_cpu_note(type, *state, cpu + 1);
      append_note(notes, cpu_note_name(type), static_cast<std::uint32_t>(type), desc);
    };
    for (NoteType type : qemu_cpu_note_order) add(type);
    for (NoteType type : extra_cpu_notes) add(type);
  }
  if (vmcoreinfo) append_note(notes, vmcoreinfo_note_name, vmcoreinfo_note_type, vmcoreinfo->desc);
  return notes;
}

tl::expected<DumpPreamble, DumpError> prepare_dump(Backend& backend, bool vmcoreinfo,
                                                   const std::optional<std::string>& fallback) {
  const MemoryMap* map = backend.memory_map();
  if (!map)
    return tl::unexpected(DumpError{DumpErrorKind::no_memory_map,
                                    fmt::format("the {} backend does not say where guest storage is", backend.name())});
  DumpPreamble p;
  p.segments = dump_segments(*map);
  p.cpus = backend.cpu_count();
  for (const auto& s : p.segments) p.memory_bytes += s.size;
  if (vmcoreinfo) p.vmcoreinfo = recover_vmcoreinfo(backend);
  if (vmcoreinfo && !p.vmcoreinfo.found && fallback && !fallback->empty() &&
      vmcoreinfo_text_problem(std::span(reinterpret_cast<const std::uint8_t*>(fallback->data()), fallback->size())).empty()) {
    Vmcoreinfo v;
    v.origin = VmcoreinfoOrigin::source_dump;
    v.desc.assign(fallback->begin(), fallback->end());
    p.vmcoreinfo.found = std::move(v);
  }
  auto notes = build_dump_notes(backend, p.vmcoreinfo.found ? &*p.vmcoreinfo.found : nullptr);
  if (!notes) return tl::unexpected(notes.error());
  p.notes = std::move(*notes);
  return p;
}

tl::expected<ElfWriteReport, DumpError> write_elf_dump(Backend& backend, const std::string& path,
                                                        const ElfWriteOptions& options) {
  auto pre = prepare_dump(backend, options.vmcoreinfo, options.source_vmcoreinfo);
  if (!pre) return tl::unexpected(pre.error());
  ElfWriteReport report;
  report.segments = std::move(pre->segments);
  report.cpus = pre->cpus;
  report.memory_bytes = pre->memory_bytes;
  report.vmcoreinfo = std::move(pre->vmcoreinfo);
  const std::vector<std::uint8_t>* notes = &pre->notes;
  report.notes_size = notes->size();

  // Headers: PT_NOTE + one PT_LOAD per segment; PN_XNUM puts the count in section 0.
  const std::uint64_t phnum = report.segments.size() + 1;
  const bool xnum = phnum >= PN_XNUM;
  const std::uint64_t shoff = xnum ? ehdr_size + phnum * phdr_size : 0;
  const std::uint64_t notes_offset = ehdr_size + phnum * phdr_size + (xnum ? shdr_size : 0);
  const std::uint64_t memory_offset = (notes_offset + notes->size() + memory_alignment - 1) & ~(memory_alignment - 1);

  std::vector<std::uint8_t> head = elf_header(xnum ? PN_XNUM : phnum, shoff, xnum ? 1 : 0);
  append_phdr(head, PT_NOTE, notes_offset, 0, notes->size());
  std::uint64_t offset = memory_offset;
  for (const auto& s : report.segments) {
    append_phdr(head, PT_LOAD, offset, s.start, s.size);
    offset += s.size;
  }
  if (xnum) {
    const std::size_t at = head.size();
    head.resize(at + shdr_size, 0);
    store_be32(head.data() + at + offsetof(Elf64_Shdr, sh_info), static_cast<std::uint32_t>(phnum));
  }
  head.insert(head.end(), notes->begin(), notes->end());

  auto file = OutputFile::create(path);
  if (!file) return tl::unexpected(output_error(file.error()));
  OutputFile& out = **file;
  if (auto r = out.write(head); !r) return tl::unexpected(output_error(r.error()));
  if (auto r = out.pad_to(memory_offset); !r) return tl::unexpected(output_error(r.error()));

  DumpProgress progress{0, report.memory_bytes};
  std::vector<std::uint8_t> buffer(static_cast<std::size_t>(
      std::min<std::uint64_t>(std::max<std::size_t>(options.piece, 1), std::max<std::uint64_t>(report.memory_bytes, 1))));
  for (const auto& s : report.segments) {
    for (std::uint64_t done = 0; done < s.size;) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), s.size - done));
      const std::span<std::uint8_t> piece = std::span(buffer).first(n);
      std::uint64_t failed = 0;
      const MemopResult r = read_guest_absolute(backend, s.start + done, piece, &failed);
      if (!r.ok()) {
        std::string message = fmt::format("absolute {:#x} (segment {:#x}+{:#x}): {}", failed, s.start, s.size,
                                          describe_read_failure(r));
        if (auto why = backend.unavailable_reason()) message += "; " + *why;
        return tl::unexpected(DumpError{DumpErrorKind::memory, std::move(message)});
      }
      if (auto w = out.write(piece); !w) return tl::unexpected(output_error(w.error()));
      done += n;
      progress.done += n;
      if (options.progress && !options.progress(progress))
        return tl::unexpected(DumpError{DumpErrorKind::interrupted,
                                        fmt::format("interrupted after {:#x} of {:#x} bytes", progress.done, progress.total)});
    }
  }
  report.file_size = out.size();
  if (auto r = out.commit(); !r) return tl::unexpected(output_error(r.error()));
  return report;
}

}  // namespace s390b::dump
