#include "backends/dump/output_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>

namespace s390b::dump {

tl::expected<std::unique_ptr<OutputFile>, std::string> OutputFile::create(const std::string& path) {
  const std::filesystem::path target(path);
  if (target.filename().empty()) return tl::unexpected(fmt::format("{}: not a file name", path));
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  // A dot name and a suffix no reader takes for a dump: ".NAME.partial-XXXXXX".
  std::string temp = (dir / ("." + target.filename().string() + ".partial-XXXXXX")).string();
  const int fd = ::mkostemp(temp.data(), O_CLOEXEC);  // mode 0600
  if (fd < 0) return tl::unexpected(fmt::format("{}: cannot create a file in {}: {}", path, dir.string(), std::strerror(errno)));
  return std::unique_ptr<OutputFile>(new OutputFile(path, std::move(temp), fd));
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

tl::expected<void, std::string> OutputFile::write(std::span<const std::uint8_t> bytes) { return write_at(size_, bytes); }

tl::expected<void, std::string> OutputFile::write_at(std::uint64_t offset, std::span<const std::uint8_t> bytes) {
  std::uint64_t at = offset;
  while (!bytes.empty()) {
    const ssize_t n = ::pwrite(fd_, bytes.data(), bytes.size(), static_cast<off_t>(at));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return tl::unexpected(fmt::format("{}: write at offset {:#x} failed: {}", path_, at, n < 0 ? std::strerror(errno) : "no progress"));
    bytes = bytes.subspan(static_cast<std::size_t>(n));
    at += static_cast<std::uint64_t>(n);
    size_ = std::max(size_, at);
  }
  return {};
}

tl::expected<void, std::string> OutputFile::pad_to(std::uint64_t offset) {
  static const std::vector<std::uint8_t> zeros(4096, 0);
  while (size_ < offset) {
    auto r = write(std::span(zeros).first(static_cast<std::size_t>(std::min<std::uint64_t>(zeros.size(), offset - size_))));
    if (!r) return r;
  }
  return {};
}

tl::expected<void, std::string> OutputFile::sync() {
  if (::fsync(fd_) != 0) return tl::unexpected(fmt::format("{}: fsync failed: {}", path_, std::strerror(errno)));
  return {};
}

tl::expected<void, std::string> OutputFile::commit() {
  if (::fsync(fd_) != 0) return tl::unexpected(fmt::format("{}: fsync failed: {}", path_, std::strerror(errno)));
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) return tl::unexpected(fmt::format("{}: close failed: {}", path_, std::strerror(errno)));
  if (::rename(temp_.c_str(), path_.c_str()) != 0)
    return tl::unexpected(fmt::format("{}: rename from {} failed: {}", path_, temp_, std::strerror(errno)));
  committed_ = true;
  return {};
}

}  // namespace s390b::dump
