// `s390bridge dump`: writes the guest of any source (--demo, --core, --qemu) to a dump
// file. Formats: elf (QEMU's layout plus the guest's VMCOREINFO; backends/dump/elf_writer.h);
// kdump-zlib, kdump-lzo, kdump-snappy, kdump-zstd (makedumpfile's kdump-compressed format,
// plain or --flattened, optionally --exclude-zero; backends/dump/kdump_writer.h).
#pragma once

#include <CLI/CLI.hpp>

namespace s390b::cli {

void add_dump_command(CLI::App& app, int& exit_code);

}  // namespace s390b::cli
