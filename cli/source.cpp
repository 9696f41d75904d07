#include "cli/source.h"

#include <filesystem>

#include "backends/dump/load_core.h"
#include "backends/emulated/demo_guest.h"

namespace s390b::cli {

void GuestSource::add_options(CLI::App& app) {
  app.add_flag("--demo", demo, "use the built-in demo guest");
  app.add_option("--core", core, "ELF core written by QEMU dump-guest-memory")->check(CLI::ExistingFile);
  app.add_option("--skeys", skeys, "storage keys written by QEMU dump-skeys")->check(CLI::ExistingFile);
}

tl::expected<std::unique_ptr<Backend>, std::string> GuestSource::open(SourceInfo* info) const {
  if (demo && !core.empty()) return tl::unexpected(std::string("--demo and --core exclude each other"));
  if (demo) {
    if (info) *info = SourceInfo{"demo", {}, 0, "built-in demo guest", 0, false};
    return std::unique_ptr<Backend>(demo::make_guest());
  }
  if (core.empty()) return tl::unexpected(std::string("no guest: give --core FILE or --demo"));
  auto loaded = dump::load_core(core, skeys.empty() ? std::nullopt : std::optional<std::string>(skeys));
  if (!loaded) return tl::unexpected(loaded.error());
  if (info) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(core, ec);
    *info = SourceInfo{"core", core, ec ? 0 : size, "ELF core", loaded->segment_count, loaded->vmcoreinfo.has_value()};
  }
  return std::unique_ptr<Backend>(std::move(loaded->backend));
}

}  // namespace s390b::cli
