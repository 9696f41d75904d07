#include "backends/dump/byte_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "translate/byteorder.h"

namespace s390b::dump {

namespace {

class FileSource final : public ByteSource {
 public:
  FileSource(int fd, std::string path, const struct stat& st)
      : fd_(fd), path_(std::move(path)), size_(static_cast<std::uint64_t>(st.st_size)), mtime_(st.st_mtim) {}
  ~FileSource() override { ::close(fd_); }
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  std::uint64_t size() const override { return size_; }
  bool read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    if (offset > size_ || out.size() > size_ - offset) return false;
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;  // an error, or the file shrank
      done += static_cast<std::size_t>(n);
    }
    return true;
  }

  std::optional<std::string> changed() const override {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return fmt::format("{} changed under the server: fstat failed: {}", path_, std::strerror(errno));
    if (static_cast<std::uint64_t>(st.st_size) != size_)
      return fmt::format("{} changed under the server: size {:#x} when opened, now {:#x}", path_, size_, st.st_size);
    if (st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec)
      return fmt::format("{} changed under the server: modified since it was opened", path_);
    return std::nullopt;
  }

 private:
  int fd_;
  std::string path_;
  std::uint64_t size_;
  struct timespec mtime_;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  bool read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset) return false;
    std::copy_n(bytes_.begin() + static_cast<std::ptrdiff_t>(offset), out.size(), out.begin());
    return true;
  }

 private:
  std::span<const std::uint8_t> bytes_;
};

// One piece of the reassembled file: [start, start + size) is at `raw` in the flattened one.
struct Extent {
  std::uint64_t start = 0;
  std::uint64_t size = 0;
  std::uint64_t raw = 0;
  std::uint64_t end() const { return start + size; }
};

class FlattenedSource final : public ByteSource {
 public:
  FlattenedSource(std::shared_ptr<ByteSource> raw, std::vector<Extent> extents)
      : raw_(std::move(raw)), extents_(std::move(extents)) {
    for (const Extent& e : extents_) size_ = std::max(size_, e.end());
  }

  std::uint64_t size() const override { return size_; }
  std::optional<std::string> changed() const override { return raw_->changed(); }
  bool read(std::uint64_t offset, std::span<std::uint8_t> out) const override {
    if (offset > size_ || out.size() > size_ - offset) return false;
    // The first extent that ends after `offset`: the extents are sorted and disjoint.
    auto it = std::upper_bound(extents_.begin(), extents_.end(), offset,
                               [](std::uint64_t o, const Extent& e) { return o < e.start; });
    if (it != extents_.begin() && std::prev(it)->end() > offset) --it;
    std::uint64_t at = offset;
    std::size_t done = 0;
    while (done < out.size()) {
      const std::size_t left = out.size() - done;
      if (it == extents_.end() || it->start >= at + left) {  // a hole up to the end
        std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(done), left, std::uint8_t{0});
        return true;
      }
      if (it->start > at) {  // a hole before the next extent
        const auto gap = static_cast<std::size_t>(it->start - at);
        std::fill_n(out.begin() + static_cast<std::ptrdiff_t>(done), gap, std::uint8_t{0});
        done += gap;
        at += gap;
      }
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(it->end() - at, out.size() - done));
      if (!raw_->read(it->raw + (at - it->start), out.subspan(done, n))) return false;
      done += n;
      at += n;
      ++it;
    }
    return true;
  }

 private:
  std::shared_ptr<ByteSource> raw_;
  std::vector<Extent> extents_;  // sorted by start, disjoint
  std::uint64_t size_ = 0;
};

// Overlapping records (makedumpfile rewrites its header when a dump ends early): paint
// them in stream order, later over earlier. `records` is in stream order.
std::vector<Extent> resolve_overlaps(const std::vector<Extent>& records) {
  std::map<std::uint64_t, Extent> painted;
  for (const Extent& r : records) {
    auto it = painted.lower_bound(r.start);
    if (it != painted.begin()) {
      auto prev = std::prev(it);
      if (prev->second.end() > r.start) {
        const Extent old = prev->second;
        prev->second.size = r.start - old.start;
        if (old.end() > r.end()) painted[r.end()] = Extent{r.end(), old.end() - r.end(), old.raw + (r.end() - old.start)};
      }
    }
    it = painted.lower_bound(r.start);
    while (it != painted.end() && it->first < r.end()) {
      const Extent old = it->second;
      it = painted.erase(it);
      if (old.end() > r.end()) painted[r.end()] = Extent{r.end(), old.end() - r.end(), old.raw + (r.end() - old.start)};
    }
    painted[r.start] = r;
  }
  std::vector<Extent> out;
  out.reserve(painted.size());
  for (const auto& [start, e] : painted) out.push_back(e);
  return out;
}

}  // namespace

tl::expected<std::shared_ptr<ByteSource>, std::string> open_file_source(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; it is
  // refused below, and it changes nothing for a regular file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return tl::unexpected(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return tl::unexpected(fmt::format("{}: not a regular file", path));
  }
  return std::shared_ptr<ByteSource>(std::make_shared<FileSource>(fd, path, st));
}

std::shared_ptr<ByteSource> memory_source(std::span<const std::uint8_t> bytes) {
  return std::make_shared<MemorySource>(bytes);
}

bool is_flattened(std::span<const std::uint8_t> head) {
  return head.size() >= flattened_signature.size() &&
         std::equal(flattened_signature.begin(), flattened_signature.end(), head.begin());
}

tl::expected<std::shared_ptr<ByteSource>, std::string> open_flattened(std::shared_ptr<ByteSource> raw,
                                                                       FlattenedStats* stats) {
  const std::uint64_t file_size = raw->size();
  std::uint8_t head[32];
  if (file_size < flattened_header_size || !raw->read(0, head))
    return tl::unexpected(fmt::format("flattened header at 0x0: the file has {:#x} bytes, the header needs {:#x}",
                                      file_size, flattened_header_size));
  if (!is_flattened(head)) return tl::unexpected(std::string("flattened header at 0x0: no \"makedumpfile\" signature"));
  const auto type = static_cast<std::int64_t>(load_be64(head + 16));
  const auto version = static_cast<std::int64_t>(load_be64(head + 24));
  if (type != flattened_type)
    return tl::unexpected(fmt::format("flattened header at 0x0: type {} at 0x10 (must be {})", type, flattened_type));
  if (version != flattened_version)
    return tl::unexpected(
        fmt::format("flattened header at 0x0: version {} at 0x18 (must be {})", version, flattened_version));

  // Record headers are read through a window, so a stream of small records costs one
  // read per 64 KiB rather than one per record.
  std::vector<std::uint8_t> window(64 * 1024);
  std::uint64_t window_start = 0, window_len = 0;
  auto header_at = [&](std::uint64_t pos, std::uint8_t* out) {
    if (pos < window_start || pos + flattened_record_header > window_start + window_len) {
      window_start = pos;
      window_len = std::min<std::uint64_t>(window.size(), file_size - pos);
      if (!raw->read(pos, std::span<std::uint8_t>(window.data(), static_cast<std::size_t>(window_len)))) return false;
    }
    std::copy_n(window.begin() + static_cast<std::ptrdiff_t>(pos - window_start), flattened_record_header, out);
    return true;
  };

  constexpr auto int64_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  std::vector<Extent> records;
  FlattenedStats st;
  std::uint64_t pos = flattened_header_size;
  while (pos < file_size) {
    if (file_size - pos < flattened_record_header)
      return tl::unexpected(fmt::format("flattened record at {:#x}: only {} bytes left, a record header needs {}", pos,
                                        file_size - pos, flattened_record_header));
    std::uint8_t h[flattened_record_header];
    if (!header_at(pos, h)) return tl::unexpected(fmt::format("flattened record at {:#x}: cannot read it", pos));
    const auto offset = static_cast<std::int64_t>(load_be64(h));
    const auto size = static_cast<std::int64_t>(load_be64(h + 8));
    if (offset == flattened_end && size == flattened_end) {
      st.end_marker = true;
      break;
    }
    if (offset < 0) return tl::unexpected(fmt::format("flattened record at {:#x}: offset {} is negative", pos, offset));
    if (size < 0) return tl::unexpected(fmt::format("flattened record at {:#x}: size {} is negative", pos + 8, size));
    const auto usize = static_cast<std::uint64_t>(size);
    const auto uoffset = static_cast<std::uint64_t>(offset);
    if (usize > file_size - pos - flattened_record_header)
      return tl::unexpected(fmt::format("flattened record at {:#x}: size {:#x} runs past the end of the file ({:#x})",
                                        pos, usize, file_size));
    if (usize > int64_max - uoffset)
      return tl::unexpected(fmt::format("flattened record at {:#x}: offset {:#x} + size {:#x} passes 2^63", pos,
                                        uoffset, usize));
    if (usize > 0) {
      if (records.size() >= max_flattened_records)
        return tl::unexpected(fmt::format("flattened record at {:#x}: more than {} records", pos, max_flattened_records));
      records.push_back(Extent{uoffset, usize, pos + flattened_record_header});
    }
    ++st.records;
    pos += flattened_record_header + usize;
  }

  // Writers emit descriptors and data interleaved, so the stream is not in file order.
  std::vector<Extent> sorted = records;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Extent& a, const Extent& b) { return a.start < b.start; });
  bool overlap = false;
  for (std::size_t i = 1; i < sorted.size() && !overlap; ++i) overlap = sorted[i].start < sorted[i - 1].end();
  if (overlap) sorted = resolve_overlaps(records);
  records.clear();
  records.shrink_to_fit();
  // Holes read as zeros, but a stream that describes far more than it holds would make
  // every scan of "its" file a long walk through zeros: real streams cover nearly all.
  std::uint64_t covered = 0, logical = 0;
  for (const Extent& e : sorted) {
    covered += e.size;
    logical = std::max(logical, e.end());
  }
  if (logical / 2 > covered + max_flattened_hole)
    return tl::unexpected(fmt::format("flattened records cover only {:#x} of the {:#x} bytes they describe", covered,
                                      logical));
  if (stats) *stats = st;
  return std::shared_ptr<ByteSource>(std::make_shared<FlattenedSource>(std::move(raw), std::move(sorted)));
}

}  // namespace s390b::dump
