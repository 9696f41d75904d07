#include "backends/dump/elf_core.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "backends/dump/s390_notes.h"
#include "translate/byteorder.h"

namespace s390b::dump {
namespace {

// Byte offsets of the ELF64 structures' fields (System V gABI). Read field by field with
// explicit loads: the files are big-endian and the host may be either.
namespace ehdr {
constexpr std::size_t size = 64;
constexpr std::size_t e_type = 16;       // u16
constexpr std::size_t e_machine = 18;    // u16
constexpr std::size_t e_phoff = 32;      // u64
constexpr std::size_t e_shoff = 40;      // u64
constexpr std::size_t e_phentsize = 54;  // u16
constexpr std::size_t e_phnum = 56;      // u16
constexpr std::size_t e_shentsize = 58;  // u16
}  // namespace ehdr
namespace phdr {
constexpr std::size_t size = 56;
constexpr std::size_t p_type = 0;     // u32
constexpr std::size_t p_offset = 8;   // u64
constexpr std::size_t p_vaddr = 16;   // u64
constexpr std::size_t p_paddr = 24;   // u64
constexpr std::size_t p_filesz = 32;  // u64
constexpr std::size_t p_memsz = 40;   // u64
}  // namespace phdr
namespace shdr {
constexpr std::size_t size = 64;
constexpr std::size_t sh_info = 44;  // u32; section 0 holds the real e_phnum under PN_XNUM
}  // namespace shdr
namespace nhdr {
constexpr std::size_t size = 12;  // n_namesz, n_descsz, n_type: u32 each
// Linux, QEMU and zgetdump pad name and descriptor to 4 bytes even in ELF64 files
// (QEMU target/s390x/arch_dump.c: the per-CPU note sizes 356, 156, 24, ... only add up
// that way).
constexpr std::uint64_t align = 4;
}  // namespace nhdr

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// Whether [off, off + len) lies inside a buffer of `size` bytes, without overflow.
constexpr bool fits(std::uint64_t off, std::uint64_t len, std::uint64_t size) {
  return off <= size && len <= size - off;
}

constexpr std::uint64_t align_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

bool all_zero(std::span<const std::uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
}

tl::unexpected<CoreError> fail(CoreErrorKind kind, std::uint64_t offset, std::string message) {
  return tl::unexpected(CoreError{kind, offset, std::move(message)});
}

// A contiguous piece of a segment's content at one address: file bytes or zeros.
struct Piece {
  const std::uint8_t* bytes;  // null: zeros
  std::uint64_t length;
};

Piece piece_at(std::span<const std::uint8_t> file, const MemorySegment& seg, std::uint64_t addr) {
  const std::uint64_t off = addr - seg.guest_addr;
  if (off < seg.file_size) return {file.data() + seg.file_offset + off, seg.file_size - off};
  return {nullptr, seg.mem_size - off};
}

// Whether `inner` (contained in `outer`) holds the same bytes as `outer` over its range.
bool same_content(std::span<const std::uint8_t> file, const MemorySegment& outer,
                  const MemorySegment& inner) {
  std::uint64_t addr = inner.guest_addr;
  while (addr < inner.guest_end()) {
    const Piece a = piece_at(file, outer, addr);
    const Piece b = piece_at(file, inner, addr);
    const std::uint64_t n = std::min({a.length, b.length, inner.guest_end() - addr});
    const auto len = static_cast<std::size_t>(n);
    if (a.bytes && b.bytes) {
      if (std::memcmp(a.bytes, b.bytes, len) != 0) return false;
    } else if (a.bytes || b.bytes) {
      if (!all_zero({a.bytes ? a.bytes : b.bytes, len})) return false;
    }
    addr += n;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(std::span<const std::uint8_t> file) : file_(file), size_(file.size()) {}

  tl::expected<CoreImage, CoreError> run() {
    image_.file_size = size_;
    if (auto r = check_ident(); !r) return tl::unexpected(r.error());
    if (auto r = read_phdr_table(); !r) return tl::unexpected(r.error());
    std::vector<std::uint32_t> note_phdrs;
    for (std::uint32_t i = 0; i < image_.phdr_count; ++i) {
      const std::uint64_t ph = phoff_ + std::uint64_t{i} * phentsize_;
      const std::uint32_t type = load_be32(at(ph + phdr::p_type));
      if (type == PT_LOAD) {
        if (auto r = add_load(i, ph); !r) return tl::unexpected(r.error());
      } else if (type == PT_NOTE) {
        note_phdrs.push_back(i);
      }
    }
    if (auto r = place_segments(); !r) return tl::unexpected(r.error());
    for (std::uint32_t i : note_phdrs) {
      if (auto r = read_note_segment(i); !r) return tl::unexpected(r.error());
    }
    for (std::size_t c = 0; c < image_.cpus.size(); ++c) {
      // VR0-15 need their low halves and VR16-31 whole before the set counts as present.
      image_.cpus[c].present.vrs = image_.cpu_notes[c].vxrs_low && image_.cpu_notes[c].vxrs_high;
    }
    return std::move(image_);
  }

 private:
  const std::uint8_t* at(std::uint64_t off) const { return file_.data() + off; }
  std::uint64_t phdr_offset(std::uint32_t i) const { return phoff_ + std::uint64_t{i} * phentsize_; }

  tl::expected<void, CoreError> check_ident() {
    static constexpr std::uint8_t magic[SELFMAG] = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3};
    if (size_ == 0) {
      return fail(CoreErrorKind::truncated, 0, "ELF header at offset 0x0: the file is empty");
    }
    const std::size_t have = std::min<std::size_t>(size_, SELFMAG);
    if (std::memcmp(file_.data(), magic, have) != 0) {
      return fail(CoreErrorKind::bad_magic, 0, "offset 0x0: not an ELF file (no \\x7fELF magic)");
    }
    if (size_ < ehdr::size) {
      return fail(CoreErrorKind::truncated, 0,
                  fmt::format("ELF header at offset 0x0: file is only {:#x} bytes, the ELF64 "
                              "header needs {:#x}",
                              size_, ehdr::size));
    }
    if (file_[EI_CLASS] != ELFCLASS64) {
      return fail(CoreErrorKind::bad_class, EI_CLASS,
                  fmt::format("ELF header at offset {:#x}: EI_CLASS is {}, an s390x core is "
                              "ELFCLASS64 ({})",
                              EI_CLASS, file_[EI_CLASS], ELFCLASS64));
    }
    if (file_[EI_DATA] != ELFDATA2MSB) {
      return fail(CoreErrorKind::bad_data_encoding, EI_DATA,
                  fmt::format("ELF header at offset {:#x}: EI_DATA is {}{}, an s390x core is "
                              "big-endian ELFDATA2MSB ({})",
                              EI_DATA, file_[EI_DATA],
                              file_[EI_DATA] == ELFDATA2LSB ? " (little-endian)" : "", ELFDATA2MSB));
    }
    // From here on every multi-byte field is big-endian.
    if (const auto type = load_be16(at(ehdr::e_type)); type != ET_CORE) {
      return fail(CoreErrorKind::bad_type, ehdr::e_type,
                  fmt::format("ELF header at offset {:#x}: e_type is {}, a core file is ET_CORE ({})",
                              ehdr::e_type, type, ET_CORE));
    }
    if (const auto machine = load_be16(at(ehdr::e_machine)); machine != EM_S390) {
      return fail(CoreErrorKind::bad_machine, ehdr::e_machine,
                  fmt::format("ELF header at offset {:#x}: e_machine is {}, s390x is EM_S390 ({})",
                              ehdr::e_machine, machine, EM_S390));
    }
    return {};
  }

  tl::expected<void, CoreError> read_phdr_table() {
    phoff_ = load_be64(at(ehdr::e_phoff));
    phentsize_ = load_be16(at(ehdr::e_phentsize));
    std::uint32_t phnum = load_be16(at(ehdr::e_phnum));
    if (phnum == PN_XNUM) {
      // More than 65534 headers: the real count sits in section header 0's sh_info
      // (QEMU dump/dump.c).
      const std::uint64_t shoff = load_be64(at(ehdr::e_shoff));
      const std::uint16_t shentsize = load_be16(at(ehdr::e_shentsize));
      if (shoff == 0) {
        return fail(CoreErrorKind::bad_header, ehdr::e_phnum,
                    fmt::format("ELF header at offset {:#x}: e_phnum is PN_XNUM ({:#x}) but e_shoff "
                                "is 0, so no section header 0 holds the count",
                                ehdr::e_phnum, PN_XNUM));
      }
      if (shentsize < shdr::size) {
        return fail(CoreErrorKind::bad_header, ehdr::e_shentsize,
                    fmt::format("ELF header at offset {:#x}: e_shentsize {} is smaller than an "
                                "ELF64 section header ({})",
                                ehdr::e_shentsize, shentsize, shdr::size));
      }
      if (!fits(shoff, shdr::size, size_)) {
        return fail(CoreErrorKind::header_out_of_bounds, shoff,
                    fmt::format("section header 0 at offset {:#x}: runs past end of file {:#x}",
                                shoff, size_));
      }
      phnum = load_be32(at(shoff + shdr::sh_info));
      image_.pn_xnum = true;
    }
    if (phnum == 0) {
      return fail(CoreErrorKind::no_program_headers, ehdr::e_phnum,
                  fmt::format("ELF header at offset {:#x}: the file has no program headers, so no "
                              "memory and no notes",
                              ehdr::e_phnum));
    }
    if (phoff_ == 0) {
      return fail(CoreErrorKind::bad_header, ehdr::e_phoff,
                  fmt::format("ELF header at offset {:#x}: e_phoff is 0 but there are {} program "
                              "headers",
                              ehdr::e_phoff, phnum));
    }
    if (phentsize_ < phdr::size) {
      return fail(CoreErrorKind::bad_header, ehdr::e_phentsize,
                  fmt::format("ELF header at offset {:#x}: e_phentsize {} is smaller than an ELF64 "
                              "program header ({})",
                              ehdr::e_phentsize, phentsize_, phdr::size));
    }
    const std::uint64_t table_bytes = std::uint64_t{phnum} * phentsize_;  // < 2^48
    if (!fits(phoff_, table_bytes, size_)) {
      return fail(CoreErrorKind::header_out_of_bounds, phoff_,
                  fmt::format("program header table at offset {:#x}: {} entries of {} bytes run "
                              "past end of file {:#x}",
                              phoff_, phnum, phentsize_, size_));
    }
    image_.phdr_count = phnum;
    return {};
  }

  tl::expected<void, CoreError> check_file_range(std::uint32_t i, std::uint64_t ph,
                                                 std::uint64_t offset, std::uint64_t filesz) const {
    if (filesz == 0 || fits(offset, filesz, size_)) return {};
    if (offset > u64_max - filesz) {
      return fail(CoreErrorKind::segment_out_of_bounds, ph,
                  fmt::format("program header {} at offset {:#x}: p_offset {:#x} + p_filesz {:#x} "
                              "wraps past 2^64",
                              i, ph, offset, filesz));
    }
    return fail(CoreErrorKind::segment_out_of_bounds, ph,
                fmt::format("program header {} at offset {:#x}: p_offset+p_filesz {:#x} beyond end "
                            "of file {:#x}",
                            i, ph, offset + filesz, size_));
  }

  tl::expected<void, CoreError> add_load(std::uint32_t i, std::uint64_t ph) {
    MemorySegment seg;
    seg.phdr_index = i;
    seg.file_offset = load_be64(at(ph + phdr::p_offset));
    seg.vaddr = load_be64(at(ph + phdr::p_vaddr));
    seg.guest_addr = load_be64(at(ph + phdr::p_paddr));
    seg.file_size = load_be64(at(ph + phdr::p_filesz));
    seg.mem_size = load_be64(at(ph + phdr::p_memsz));
    if (seg.file_size > seg.mem_size) {
      return fail(CoreErrorKind::bad_segment, ph,
                  fmt::format("program header {} at offset {:#x}: p_filesz {:#x} exceeds p_memsz "
                              "{:#x}",
                              i, ph, seg.file_size, seg.mem_size));
    }
    if (seg.mem_size > u64_max - seg.guest_addr) {
      return fail(CoreErrorKind::bad_segment, ph,
                  fmt::format("program header {} at offset {:#x}: p_paddr {:#x} + p_memsz {:#x} "
                              "wraps past 2^64",
                              i, ph, seg.guest_addr, seg.mem_size));
    }
    // p_offset is -1 when QEMU's begin/length filter excluded the block; p_filesz is 0 then.
    if (auto r = check_file_range(i, ph, seg.file_offset, seg.file_size); !r) return r;
    if (seg.mem_size == 0) return {};  // an empty mapping holds nothing
    loads_.push_back(seg);
    return {};
  }

  // Sorts the PT_LOADs by guest address and rejects overlaps, except a segment that
  // repeats part of a bigger one with the same bytes (kept in `aliases`).
  tl::expected<void, CoreError> place_segments() {
    std::sort(loads_.begin(), loads_.end(), [](const MemorySegment& a, const MemorySegment& b) {
      if (a.guest_addr != b.guest_addr) return a.guest_addr < b.guest_addr;
      if (a.mem_size != b.mem_size) return a.mem_size > b.mem_size;  // container first
      return a.phdr_index < b.phdr_index;
    });
    for (const MemorySegment& seg : loads_) {
      if (!image_.segments.empty()) {
        // Kept segments are disjoint and sorted, so the last one reaches furthest.
        const MemorySegment& prev = image_.segments.back();
        if (seg.guest_addr < prev.guest_end()) {
          if (seg.guest_end() <= prev.guest_end() && same_content(file_, prev, seg)) {
            image_.aliases.push_back(seg);
            continue;
          }
          const std::uint64_t ph = phdr_offset(seg.phdr_index);
          return fail(CoreErrorKind::overlapping_segments, ph,
                      fmt::format("program header {} at offset {:#x}: guest range [{:#x}, {:#x}) "
                                  "overlaps program header {} [{:#x}, {:#x})",
                                  seg.phdr_index, ph, seg.guest_addr, seg.guest_end(),
                                  prev.phdr_index, prev.guest_addr, prev.guest_end()));
        }
      }
      image_.segments.push_back(seg);
    }
    return {};
  }

  tl::expected<void, CoreError> read_note_segment(std::uint32_t i) {
    const std::uint64_t ph = phdr_offset(i);
    const std::uint64_t offset = load_be64(at(ph + phdr::p_offset));
    const std::uint64_t filesz = load_be64(at(ph + phdr::p_filesz));
    if (auto r = check_file_range(i, ph, offset, filesz); !r) return r;
    return read_notes(offset, filesz, fmt::format("the PT_NOTE segment of program header {}", i));
  }

 public:
  // The notes of a whole blob (the kdump sub-header's copy of /proc/vmcore's PT_NOTE):
  // file offsets in messages and NoteInfo are `base` + the position in the blob.
  tl::expected<CoreImage, CoreError> run_notes(std::uint64_t base) {
    base_ = base;
    image_.file_size = size_;
    if (auto r = read_notes(0, size_, "the note blob"); !r) return tl::unexpected(r.error());
    for (std::size_t c = 0; c < image_.cpus.size(); ++c)
      image_.cpus[c].present.vrs = image_.cpu_notes[c].vxrs_low && image_.cpu_notes[c].vxrs_high;
    return std::move(image_);
  }

 private:
  // Notes in [offset, offset + filesz) of the view; `where` names that range in messages.
  tl::expected<void, CoreError> read_notes(std::uint64_t offset, std::uint64_t filesz, const std::string& where) {
    if (filesz == 0) return {};
    const std::uint64_t end = offset + filesz;
    // Writers that size the segment generously leave zeros after the last note: parsing
    // stops where only zeros remain (found once, so a run of empty notes stays linear).
    std::uint64_t nonzero_end = end;
    while (nonzero_end > offset && *at(nonzero_end - 1) == 0) --nonzero_end;
    std::uint64_t pos = offset;
    while (pos < nonzero_end) {
      const std::uint64_t left = end - pos;
      if (left < nhdr::size) {
        return fail(CoreErrorKind::bad_note, base_ + pos,
                    fmt::format("note at offset {:#x}: only {} bytes left in {}, a note header needs {}",
                                base_ + pos, left, where, nhdr::size));
      }
      const std::uint32_t namesz = load_be32(at(pos));
      const std::uint32_t descsz = load_be32(at(pos + 4));
      const std::uint32_t type = load_be32(at(pos + 8));
      const std::uint64_t name_off = pos + nhdr::size;
      if (namesz > end - name_off) {
        return fail(CoreErrorKind::bad_note, base_ + pos,
                    fmt::format("note at offset {:#x}: n_namesz {:#x} runs past the end of {} at {:#x}",
                                base_ + pos, namesz, where, base_ + end));
      }
      // The padding of a name or descriptor may be missing at the very end of a segment.
      const std::uint64_t desc_off = std::min(name_off + align_up(namesz, nhdr::align), end);
      if (descsz > end - desc_off) {
        return fail(CoreErrorKind::bad_note, base_ + pos,
                    fmt::format("note at offset {:#x}: n_descsz {:#x} at {:#x} runs past the end of {} at {:#x}",
                                base_ + pos, descsz, base_ + desc_off, where, base_ + end));
      }
      NoteInfo note;
      note.offset = pos;
      note.desc_offset = desc_off;
      note.desc_size = descsz;
      note.type = type;
      note.name.assign(reinterpret_cast<const char*>(at(name_off)), namesz);
      while (!note.name.empty() && note.name.back() == '\0') note.name.pop_back();
      if (auto r = interpret(note); !r) return r;
      note.offset += base_;
      note.desc_offset += base_;
      image_.notes.push_back(std::move(note));
      pos = std::min(desc_off + align_up(descsz, nhdr::align), end);
    }
    return {};
  }

  tl::expected<void, CoreError> interpret(NoteInfo& note) {
    const std::span<const std::uint8_t> desc{at(note.desc_offset), note.desc_size};
    if (note.name == vmcoreinfo_note_name && note.type == vmcoreinfo_note_type) {
      if (!image_.vmcoreinfo) {
        std::string text(reinterpret_cast<const char*>(desc.data()), desc.size());
        while (!text.empty() && text.back() == '\0') text.pop_back();
        image_.vmcoreinfo = std::move(text);
        note.interpreted = true;
      }
      return {};
    }
    if (note.name != core_note_name && note.name != linux_note_name) return {};
    const auto kind = cpu_note_kind(note.type);
    if (!kind) return {};  // NT_PRPSINFO and other process-level notes

    if (kind->type == NoteType::prstatus) {
      image_.cpus.emplace_back();
      image_.cpu_notes.emplace_back();
      seen_.clear();
    }
    if (image_.cpus.empty()) {
      if (!kind->interpreted) return {};
      return fail(CoreErrorKind::orphan_cpu_note, base_ + note.offset,
                  fmt::format("note at offset {:#x}: {} comes before the first NT_PRSTATUS, so it "
                              "belongs to no CPU",
                              base_ + note.offset, kind->name));
    }
    const std::size_t cpu = image_.cpus.size() - 1;
    note.cpu = cpu;
    if (kind->type == NoteType::s390_pv_cpu_data) image_.cpu_notes[cpu].pv_cpu_data = true;
    if (!kind->interpreted) return {};
    if (note.desc_size != *kind->desc_size) {
      return fail(CoreErrorKind::bad_note_size, base_ + note.offset,
                  fmt::format("note at offset {:#x}: {} for CPU {} has n_descsz {}, expected {}",
                              base_ + note.offset, kind->name, cpu, note.desc_size, *kind->desc_size));
    }
    if (std::find(seen_.begin(), seen_.end(), kind->type) != seen_.end()) {
      return fail(CoreErrorKind::duplicate_cpu_note, base_ + note.offset,
                  fmt::format("note at offset {:#x}: second {} for CPU {} (a missing NT_PRSTATUS?)",
                              base_ + note.offset, kind->name, cpu));
    }
    seen_.push_back(kind->type);

    CpuNoteInfo& info = image_.cpu_notes[cpu];
    switch (kind->type) {
      case NoteType::prstatus: {
        const std::uint8_t* pid = desc.data() + layout::prstatus_pid;
        info.prstatus_offset = base_ + note.offset;
        info.pr_pid_be = load_be32(pid);
        info.pr_pid_le = std::uint32_t{pid[0]} | std::uint32_t{pid[1]} << 8 |
                         std::uint32_t{pid[2]} << 16 | std::uint32_t{pid[3]} << 24;
        info.orig_gpr2 = load_be64(desc.data() + layout::prstatus_orig_gpr2);
        break;
      }
      case NoteType::s390_vxrs_low: info.vxrs_low = true; break;
      case NoteType::s390_vxrs_high: info.vxrs_high = true; break;
      default: break;
    }
    decode_cpu_note(kind->type, desc, image_.cpus[cpu]);
    note.interpreted = true;
    return {};
  }

  std::span<const std::uint8_t> file_;
  std::uint64_t size_;
  std::uint64_t base_ = 0;  // file offset of view byte 0 (parse_note_blob)
  std::uint64_t phoff_ = 0;
  std::uint32_t phentsize_ = 0;
  std::vector<MemorySegment> loads_;
  std::vector<NoteType> seen_;  // interpreted note types of the current CPU
  CoreImage image_;
};

}  // namespace

const MemorySegment* CoreImage::find_segment(std::uint64_t addr) const {
  auto it = std::upper_bound(segments.begin(), segments.end(), addr,
                             [](std::uint64_t a, const MemorySegment& s) { return a < s.guest_addr; });
  if (it == segments.begin()) return nullptr;
  --it;
  return it->contains(addr) ? &*it : nullptr;
}

tl::expected<CoreImage, CoreError> parse_elf_core(std::span<const std::uint8_t> file) {
  return Parser(file).run();
}

tl::expected<CoreImage, CoreError> parse_note_blob(std::span<const std::uint8_t> blob, std::uint64_t base) {
  return Parser(blob).run_notes(base);
}

std::size_t read_absolute(std::span<const std::uint8_t> file, const CoreImage& image,
                          std::uint64_t addr, std::span<std::uint8_t> out) {
  std::size_t done = 0;
  while (done < out.size()) {
    if (done > u64_max - addr) break;  // past the top of the address space
    const std::uint64_t a = addr + done;
    const MemorySegment* seg = image.find_segment(a);
    if (!seg) break;
    const std::uint64_t off = a - seg->guest_addr;
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, seg->mem_size - off));
    std::size_t from_file = 0;
    if (off < seg->file_size) {
      from_file = static_cast<std::size_t>(std::min<std::uint64_t>(n, seg->file_size - off));
      // Parsing checked this range against the original file; `file` may be another view.
      if (!fits(seg->file_offset + off, from_file, file.size())) break;
      std::memcpy(out.data() + done, file.data() + seg->file_offset + off, from_file);
    }
    std::memset(out.data() + done + from_file, 0, n - from_file);
    done += n;
  }
  return done;
}

}  // namespace s390b::dump
