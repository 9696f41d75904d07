// A dump file written under a temporary name in the target's directory and renamed over
// the target only when complete (after fsync), so an interrupted or failed dump never
// leaves a file that looks complete, and an existing file of that name stays as it was
// until the new one replaces it in one step (rename(2) is atomic within a file system).
// The temporary file is removed when the object is destroyed without commit(). The file
// is created mode 0600, as QEMU's dump-guest-memory creates its output (guest memory
// holds secrets).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include <tl/expected.hpp>

namespace s390b::dump {

class OutputFile {
 public:
  static tl::expected<std::unique_ptr<OutputFile>, std::string> create(const std::string& path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Appends at size(); the error names the file and the offset.
  tl::expected<void, std::string> write(std::span<const std::uint8_t> bytes);
  // Writes at `offset` (pwrite), before or beyond the end: what lies between the old end
  // and `offset` is a hole that reads as zeros (POSIX lseek/pwrite). size() becomes the
  // larger of the two ends. For formats whose headers are known only after the data
  // (kdump_writer.h).
  tl::expected<void, std::string> write_at(std::uint64_t offset, std::span<const std::uint8_t> bytes);
  // Zeros up to `offset` (> the current size).
  tl::expected<void, std::string> pad_to(std::uint64_t offset);
  // Bytes in the file: the end of the furthest write.
  std::uint64_t size() const { return size_; }
  // fsync only: a set of files (a split kdump) is synced first, all of them, so that
  // the renames that follow are all that can still fail.
  tl::expected<void, std::string> sync();
  // fsync, close, rename to the target.
  tl::expected<void, std::string> commit();
  const std::string& temp_path() const { return temp_; }

 private:
  OutputFile(std::string path, std::string temp, int fd) : path_(std::move(path)), temp_(std::move(temp)), fd_(fd) {}
  std::string path_;
  std::string temp_;
  int fd_ = -1;
  std::uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace s390b::dump
