#include "backends/emulated/file_mapping.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace s390b {

namespace {

// The mappings the SIGBUS handler may repair. A fixed table of lock-free slots, because a
// signal handler can take no lock and allocate nothing. One slot per mapped file (a dump
// with 100 000 segments is still one file), holding the descriptor the handler fstat()s.
constexpr std::size_t kSlots = 1024;

struct Slot {
  std::atomic<bool> used{false};
  std::atomic<std::uintptr_t> begin{0};  // 0: not considered by the handler
  std::atomic<std::uintptr_t> end{0};    // page-rounded
  std::atomic<int> fd{-1};
  std::atomic<std::uint32_t> faults{0};
};

std::array<Slot, kSlots> g_slots;
struct sigaction g_previous {};
std::uintptr_t g_page_size = 0;
std::once_flag g_install_once;
bool g_installed = false;

static_assert(std::atomic<std::uintptr_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free &&
                  std::atomic<int>::is_always_lock_free,
              "the SIGBUS handler needs lock-free atomics");

// If the file behind `s` is now shorter than its mapping, puts zero pages over the part
// past the new end of file and counts a fault. Async-signal-safe (fstat, mmap).
bool repair_if_shrunk(Slot& s) {
  const std::uintptr_t begin = s.begin.load(std::memory_order_acquire);
  if (begin == 0) return false;
  const std::uintptr_t end = s.end.load(std::memory_order_acquire);
  struct stat st {};
  if (fstat(s.fd.load(std::memory_order_acquire), &st) != 0) return false;
  const auto size = static_cast<std::uintptr_t>(st.st_size);
  const std::uintptr_t keep = (size + g_page_size - 1) & ~(g_page_size - 1);
  if (keep >= end - begin) return false;
  if (mmap(reinterpret_cast<void*>(begin + keep), end - begin - keep, PROT_READ | PROT_WRITE,
           MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED)
    return false;
  s.faults.fetch_add(1, std::memory_order_release);
  return true;
}

// Async-signal-safe: atomics, fstat, mmap and sigaction only. The fault address is not
// trusted to find the mapping (qemu-user, for one, reports a wrong si_addr for s390x
// guests): every registered mapping whose file shrank is repaired, which is the only way
// one of ours can raise SIGBUS.
void on_sigbus(int signo, siginfo_t* info, void* context) {
  bool repaired = false;
  for (Slot& s : g_slots) repaired |= repair_if_shrunk(s);
  // The access repeats and now reads zeros; the flag makes the caller discard them.
  if (repaired) return;
  // Not ours (or the repair failed): hand the fault to whoever had it before us.
  if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
    g_previous.sa_sigaction(signo, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(signo);
    return;
  }
  // The default action: restore it and return; the faulting access repeats and kills.
  sigaction(SIGBUS, &g_previous, nullptr);
}

bool install_handler() {
  std::call_once(g_install_once, [] {
    g_page_size = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    g_installed = sigaction(SIGBUS, &sa, &g_previous) == 0;
  });
  return g_installed;
}

int claim_slot(std::uintptr_t begin, std::uintptr_t end, int fd) {
  for (std::size_t i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (!g_slots[i].used.compare_exchange_strong(expected, true)) continue;
    g_slots[i].faults.store(0, std::memory_order_relaxed);
    g_slots[i].fd.store(fd, std::memory_order_release);
    g_slots[i].end.store(end, std::memory_order_release);
    g_slots[i].begin.store(begin, std::memory_order_release);
    return static_cast<int>(i);
  }
  return -1;
}

void release_slot(int i) {
  Slot& s = g_slots[static_cast<std::size_t>(i)];
  s.begin.store(0, std::memory_order_release);
  s.end.store(0, std::memory_order_release);
  s.fd.store(-1, std::memory_order_release);
  s.used.store(false, std::memory_order_release);
}

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

std::string_view file_type_name(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "of an unsupported type";
}

}  // namespace

tl::expected<std::shared_ptr<FileMapping>, std::string> FileMapping::open(const std::string& path,
                                                                            std::chrono::milliseconds recheck, Mode mode) {
  const bool shared = mode == Mode::shared_writable;
  // stat before open: opening a FIFO for reading blocks until a writer appears.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return tl::unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return tl::unexpected(fmt::format("{}: {}, not a regular file", path, file_type_name(st.st_mode)));
  // O_NONBLOCK as well: should the path have been swapped for a FIFO since the stat, the
  // open returns instead of waiting, and the fstat below refuses it.
  const int fd = ::open(path.c_str(), (shared ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return tl::unexpected(fmt::format("{}: {}", path, std::strerror(errno)));
  auto fail = [&](std::string message) {
    ::close(fd);
    return tl::unexpected(std::move(message));
  };
  if (fstat(fd, &st) != 0) return fail(fmt::format("{}: {}", path, std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return fail(fmt::format("{}: {}, not a regular file", path, file_type_name(st.st_mode)));
  auto m = std::shared_ptr<FileMapping>(new FileMapping());
  m->path_ = path;
  m->fd_ = fd;
  m->mtime_ns_ = mtime_ns(st);
  m->recheck_ = recheck;
  m->mode_ = mode;
  m->last_check_ = std::chrono::steady_clock::now();
  if (st.st_size == 0) return m;  // nothing to map (mmap refuses length 0); the parser says "empty"
  if (!install_handler()) return tl::unexpected(fmt::format("{}: cannot install the SIGBUS handler: {}", path, std::strerror(errno)));

  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > std::numeric_limits<std::size_t>::max()) return tl::unexpected(fmt::format("{}: too large to map", path));
  void* p = mmap(nullptr, static_cast<std::size_t>(size), PROT_READ | PROT_WRITE, shared ? MAP_SHARED : MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return tl::unexpected(fmt::format("{}: cannot map {:#x} bytes: {}", path, size, std::strerror(errno)));
  m->base_ = static_cast<std::uint8_t*>(p);
  m->size_ = size;
  m->map_length_ = size;
  // The whole mapping, rounded up to the page: the tail of the last page belongs to it.
  const auto begin = reinterpret_cast<std::uintptr_t>(p);
  m->slot_ = claim_slot(begin, begin + ((size + g_page_size - 1) & ~(g_page_size - 1)), fd);
  if (m->slot_ < 0) return tl::unexpected(fmt::format("{}: more than {} files mapped at once", path, kSlots));
  return m;
}

FileMapping::~FileMapping() {
  if (slot_ >= 0) release_slot(slot_);
  if (base_) munmap(base_, static_cast<std::size_t>(map_length_));
  if (fd_ >= 0) ::close(fd_);
}

bool FileMapping::faulted() const {
  return changed_.load(std::memory_order_acquire) ||
         (slot_ >= 0 && g_slots[static_cast<std::size_t>(slot_)].faults.load(std::memory_order_acquire) > 0);
}

void FileMapping::note_change(std::string what) const {
  if (!change_) change_ = fmt::format("{} changed under the server: {}", path_, what);
  changed_.store(true, std::memory_order_release);
}

bool FileMapping::changed() const {
  if (changed_.load(std::memory_order_acquire)) return true;
  std::lock_guard lk(mutex_);
  if (slot_ >= 0 && g_slots[static_cast<std::size_t>(slot_)].faults.load(std::memory_order_acquire) > 0)
    note_change("it shrank below a page that was read (its pages now read as zeros)");
  const auto now = std::chrono::steady_clock::now();
  if (!changed_.load(std::memory_order_relaxed) && now - last_check_ >= recheck_) {
    last_check_ = now;
    struct stat st {};
    if (fstat(fd_, &st) != 0) {
      note_change(fmt::format("fstat failed: {}", std::strerror(errno)));
    } else if (static_cast<std::uint64_t>(st.st_size) != size_) {
      note_change(fmt::format("its size is now {:#x} bytes, it was {:#x}", st.st_size, size_));
    } else if (mode_ == Mode::private_copy && mtime_ns(st) != mtime_ns_) {
      // A shared mapping's file is written by the guest and by us: its mtime moves on.
      note_change("it was rewritten (its modification time changed)");
    }
  }
  return changed_.load(std::memory_order_relaxed);
}

std::optional<std::string> FileMapping::change_description() const {
  if (!changed()) return std::nullopt;
  std::lock_guard lk(mutex_);
  return change_;
}

}  // namespace s390b
