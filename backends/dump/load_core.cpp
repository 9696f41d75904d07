#include "backends/dump/load_core.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "backends/dump/elf_core.h"
#include "backends/dump/skeys.h"

namespace s390b::dump {

namespace {

// A read-only mapping of a whole file, for parsing.
class MappedFile {
 public:
  static tl::expected<MappedFile, std::string> open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return tl::unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
      const int err = errno;
      ::close(fd);
      return tl::unexpected(fmt::format("{}: {}", path, std::strerror(err)));
    }
    MappedFile m;
    m.size_ = static_cast<std::size_t>(st.st_size);
    if (m.size_ > 0) {
      void* p = mmap(nullptr, m.size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int err = errno;
        ::close(fd);
        return tl::unexpected(fmt::format("{}: cannot map: {}", path, std::strerror(err)));
      }
      m.data_ = static_cast<const std::uint8_t*>(p);
    }
    ::close(fd);
    return m;
  }
  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) { o.data_ = nullptr; }
  MappedFile& operator=(MappedFile&&) = delete;
  ~MappedFile() {
    if (data_) munmap(const_cast<std::uint8_t*>(data_), size_);
  }
  std::span<const std::uint8_t> bytes() const { return {data_, size_}; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace

tl::expected<LoadedCore, std::string> load_core(const std::string& core_path,
                                                const std::optional<std::string>& skeys_path) {
  auto file = MappedFile::open(core_path);
  if (!file) return tl::unexpected(file.error());
  auto image = parse_elf_core(file->bytes());
  if (!image) return tl::unexpected(fmt::format("{}: {}", core_path, image.error().message));
  if (image->cpus.empty()) return tl::unexpected(fmt::format("{}: no CPU notes (NT_PRSTATUS) in the core", core_path));

  Storage storage;
  for (const MemorySegment& seg : image->segments) {
    if (seg.file_size > 0) {
      auto r = storage.add_file(seg.guest_addr, core_path, seg.file_offset, seg.file_size);
      if (!r) return tl::unexpected(r.error());
    }
    if (seg.mem_size > seg.file_size) {
      auto r = storage.add_anonymous(seg.guest_addr + seg.file_size, seg.mem_size - seg.file_size);
      if (!r) return tl::unexpected(r.error());
    }
  }

  if (skeys_path) {
    std::ifstream in(*skeys_path, std::ios::binary);
    if (!in) return tl::unexpected(fmt::format("{}: {}", *skeys_path, std::strerror(errno)));
    std::stringstream text;
    text << in.rdbuf();
    auto keys = parse_skeys(text.str());
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
