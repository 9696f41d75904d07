// A whole file mapped as guest storage, that survives the file changing under it: either
// privately (copy on write: dumps) or shared and writable (a running guest's RAM).
//
// Dumps and QEMU RAM files are mapped, not read, so opening a 512 GiB dump costs nothing.
// The price of a mapping is that the file can shrink while we serve it (QEMU re-dumping to
// the same path opens it with O_TRUNC): touching a mapped page past the new end of file
// raises SIGBUS, which would kill the server. So:
//
// * A process-wide SIGBUS handler (installed once, on the first mapping) looks at every
//   registered mapping whose file is now shorter than the mapping, puts zero pages over
//   the part past the new end of file (MAP_FIXED anonymous, as Wayland compositors do for
//   client buffers) and marks that mapping changed; the interrupted access repeats and
//   reads zeros. If no mapping of ours shrank, the fault is not ours: it goes to the
//   previous handler (or the default action, which ends the process as before).
// * changed() says whether the file is no longer what was mapped: a fault happened, or
//   (at most every `recheck` interval) fstat shows another size or modification time.
//   Callers check it before and after every access and fail the access (the bytes read
//   during a change are not trusted) with a message naming the file.
//
// Mode::private_copy (dumps, and RAM files read as a snapshot) maps MAP_PRIVATE over a
// read-only descriptor: writes go to the process's copy-on-write overlay and never reach
// the file. Mode::shared_writable maps MAP_SHARED over a read-write descriptor, for the
// RAM file of a running QEMU (-object memory-backend-file,share=on,mem-path=FILE): the
// file is the guest's RAM, not a dump, so our writes reach the file and the guest, and
// the guest's stores show in our reads. Its contents change by design then, so only its
// size counts as a change (the modification time moves with every store on most file
// systems); the SIGBUS repair is the same in both modes.
//
// Only regular files are accepted, and the type is checked before the file is opened, so
// a FIFO cannot block the open.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include <tl/expected.hpp>

namespace s390b {

class FileMapping {
 public:
  static constexpr std::chrono::milliseconds default_recheck{50};

  enum class Mode {
    private_copy,     // MAP_PRIVATE, read-only descriptor: writes never reach the file
    shared_writable,  // MAP_SHARED, read-write descriptor: writes reach the file
  };

  // Maps the whole of `path` (an empty file maps no bytes). Refuses a path that is not a
  // regular file and one that cannot be opened in `mode` or mapped; the error names the
  // path.
  static tl::expected<std::shared_ptr<FileMapping>, std::string> open(const std::string& path,
                                                                      std::chrono::milliseconds recheck = default_recheck,
                                                                      Mode mode = Mode::private_copy);

  ~FileMapping();
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;

  const std::string& path() const { return path_; }
  std::uint64_t size() const { return size_; }
  Mode mode() const { return mode_; }
  // The mapped bytes, writable in both modes: the copy-on-write overlay, or the file.
  std::uint8_t* data() const { return base_; }
  std::span<const std::uint8_t> bytes() const { return {base_, static_cast<std::size_t>(size_)}; }

  // Whether the file changed since it was mapped: a SIGBUS in the mapping (it shrank), or
  // fstat reports another size or (private_copy only) mtime, checked at most once per
  // recheck interval. Once true it stays true.
  bool changed() const;
  // Only the fault flag: an atomic load, cheap enough after every access.
  bool faulted() const;
  // What changed, for the error message and the log ("FILE changed under the server:
  // ..."); nullopt while nothing has.
  std::optional<std::string> change_description() const;

 private:
  FileMapping() = default;
  void note_change(std::string what) const;

  std::string path_;
  int fd_ = -1;
  std::uint8_t* base_ = nullptr;
  std::uint64_t size_ = 0;
  std::uint64_t map_length_ = 0;
  std::int64_t mtime_ns_ = 0;
  std::chrono::milliseconds recheck_{default_recheck};
  Mode mode_ = Mode::private_copy;
  int slot_ = -1;  // index in the SIGBUS handler's table

  mutable std::mutex mutex_;  // guards the fields below
  mutable std::chrono::steady_clock::time_point last_check_{};
  mutable std::optional<std::string> change_;
  mutable std::atomic<bool> changed_{false};
};

}  // namespace s390b
