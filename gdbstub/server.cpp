#include "gdbstub/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/post.hpp>
#include <asio/write.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <fmt/format.h>

#include "rsp/codec.h"

namespace s390b::rsp {

namespace {

using asio::awaitable;
using asio::use_awaitable;
constexpr auto tuple_awaitable = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;
// Replies waiting to be written beyond this stop the handling of further requests.
constexpr std::size_t kMaxPendingBytes = 4 * 1024 * 1024;
// Received bytes go to the session this many at a time, so the replies one piece can
// produce (a 13-byte `m` asks for up to PacketSize) stay bounded between checks.
constexpr std::size_t kFeedPiece = 256;
// How long a refused second client has to send its first packet.
constexpr auto kRefusalWait = std::chrono::seconds(2);
// How long a guest gets to stop after its debugger left while it ran.
constexpr auto kStopAfterLeaving = std::chrono::seconds(5);
// A failing accept (out of descriptors) pauses accepting this long at first, doubling on
// each further failure up to kAcceptPauseMax.
constexpr auto kAcceptPauseFirst = std::chrono::milliseconds(100);
constexpr auto kAcceptPauseMax = std::chrono::milliseconds(1000);

// ---- The unix socket file ----

// Connecting to a unix socket needs write permission on it: 0600 lets only its owner in.
constexpr mode_t kOwnerOnly = S_IRUSR | S_IWUSR;
// The longest path a sockaddr_un holds (its sun_path, less the terminating NUL).
constexpr std::size_t kMaxUnixPath = sizeof(sockaddr_un::sun_path) - 1;
// The private directory the socket is bound in (mkdtemp, next to the final path so that
// link() stays within one filesystem) and the socket's name in it; short, because every
// byte counts against kMaxUnixPath.
constexpr std::string_view kBindDirTemplate = ".s390b-XXXXXX";
constexpr std::string_view kBindName = "s";

// The socket file a server created: it removes the file at its path when it stops only
// if the path still names this inode (a user or a later server may have replaced it).
struct SocketFileId {
  dev_t dev = 0;
  ino_t ino = 0;
};

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

std::string_view file_kind(mode_t mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a fifo";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  return "not a socket";
}

enum class Probe { live, stale, gone };

// Whether something accepts on the socket at `path`. The connect does not block: a unix
// stream connect never answers EINPROGRESS; EAGAIN means a listener with a full backlog.
// A listener that is one of ours sees a client that leaves without a packet.
tl::expected<Probe, std::string> probe_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return tl::unexpected(fmt::format("{}: cannot probe the socket there: {}", path, errno_text(errno)));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, kMaxUnixPath);
  const int err = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  ::close(fd);
  if (err == 0 || err == EAGAIN) return Probe::live;
  if (err == ECONNREFUSED) return Probe::stale;
  if (err == ENOENT) return Probe::gone;
  return tl::unexpected(fmt::format("{}: cannot probe the socket there: {}", path, errno_text(err)));
}

// Makes way for a new socket at `path`: nothing is there, or a stale socket (left by a
// server that died) is removed. A live server's socket and anything that is not a
// socket are refused and left alone. lstat: a symbolic link is not followed.
tl::expected<void, std::string> clear_socket_path(const std::string& path) {
  if (path.size() > kMaxUnixPath)
    return tl::unexpected(
        fmt::format("{}: too long for a unix socket ({} bytes, at most {})", path, path.size(), kMaxUnixPath));
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return tl::unexpected(fmt::format("{}: {}", path, errno_text(errno)));
  }
  if (!S_ISSOCK(st.st_mode))
    return tl::unexpected(fmt::format("{}: exists and is {}; not replacing it", path, file_kind(st.st_mode)));
  auto probe = probe_socket(path);
  if (!probe) return tl::unexpected(probe.error());
  if (*probe == Probe::live) return tl::unexpected(fmt::format("{}: another server is listening there", path));
  if (*probe == Probe::stale && ::unlink(path.c_str()) != 0 && errno != ENOENT)
    return tl::unexpected(fmt::format("{}: cannot remove the stale socket: {}", path, errno_text(errno)));
  return {};
}

// The private bind directory and the socket in it, removed on every path out of
// bind_owner_only (the socket lives on under its final name, a second hard link).
struct PrivateBindDir {
  std::string dir;
  std::string socket;
  PrivateBindDir() = default;
  PrivateBindDir(const PrivateBindDir&) = delete;
  PrivateBindDir& operator=(const PrivateBindDir&) = delete;
  ~PrivateBindDir() {
    if (!socket.empty()) ::unlink(socket.c_str());
    if (!dir.empty()) ::rmdir(dir.c_str());
  }
};

// Binds and listens on a new socket file at `path` that only its owner can connect to.
// Race-free: the socket is bound inside a fresh mkdtemp directory (mode 0700: nobody else
// can reach the socket while its mode is still what the umask made it), chmod-ed to 0600
// there, put in the listening state, and only then hard-linked to `path`. link(), unlike
// rename(), never replaces an existing file, so a file that appeared at `path` since
// clear_socket_path is not clobbered; and the socket already accepts when it appears
// (another server starting at the same path sees it live, not stale). Setting the umask
// around bind() instead would change it for every thread of the process (an embedding
// VMM's too). The listener's own address stays the private path (getsockname); clients
// never see it.
tl::expected<SocketFileId, std::string> bind_owner_only(asio::local::stream_protocol::acceptor& acceptor,
                                                        const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) parent = ".";
  PrivateBindDir bind_dir;
  std::string tmpl = (parent / kBindDirTemplate).string();
  if (::mkdtemp(tmpl.data()) == nullptr)
    return tl::unexpected(fmt::format("{}: cannot create a private directory next to it: {}", path, errno_text(errno)));
  bind_dir.dir = tmpl;
  const std::string bind_path = tmpl + "/" + std::string(kBindName);
  if (bind_path.size() > kMaxUnixPath)
    return tl::unexpected(fmt::format("{}: its directory's path is too long for a unix socket", path));

  std::error_code ec;
  const asio::local::stream_protocol::endpoint ep(bind_path);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) bind_dir.socket = bind_path;
  if (!ec && ::chmod(bind_path.c_str(), kOwnerOnly) != 0) ec.assign(errno, std::generic_category());
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return tl::unexpected(fmt::format("cannot listen on {}: {}", path, ec.message()));

  struct stat st {};
  if (::lstat(bind_path.c_str(), &st) != 0)
    return tl::unexpected(fmt::format("cannot listen on {}: {}", path, errno_text(errno)));
  if (::link(bind_path.c_str(), path.c_str()) != 0) {
    if (errno == EEXIST)
      return tl::unexpected(fmt::format("{}: a file appeared there while starting; not replacing it", path));
    return tl::unexpected(fmt::format("cannot create {}: {}", path, errno_text(errno)));
  }
  return SocketFileId{st.st_dev, st.st_ino};
}

void remove_socket_file(const std::string& path, SocketFileId id) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == id.dev && st.st_ino == id.ino)
    ::unlink(path.c_str());
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  // The name resolves to loopback everywhere (RFC 6761 6.3); other names are not resolved:
  // a listener binds addresses.
  constexpr std::string_view kLocalhost = "localhost";
  const auto same_letter = [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; };
  if (std::ranges::equal(host, kLocalhost, same_letter)) return true;
  std::error_code ec;
  const asio::ip::address addr = asio::ip::make_address(std::string(host), ec);
  if (ec) return false;
  if (addr.is_v4()) return addr.to_v4().is_loopback();  // 127.0.0.0/8
  const asio::ip::address_v6 v6 = addr.to_v6();
  if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).is_loopback();
  return v6.is_loopback();  // ::1
}

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  Backend& backend;
  ServerOptions options;
  std::unique_ptr<asio::ip::tcp::acceptor> tcp;
  std::unique_ptr<asio::local::stream_protocol::acceptor> local;
  // Each accept loop waits on its own timer while accepting fails; stop() cancels both.
  asio::steady_timer tcp_pause;
  asio::steady_timer local_pause;
  std::optional<SocketFileId> socket_file;  // the unix socket file we created, until removed
  bool busy = false;
  bool stopped = false;
  unsigned served = 0;
  std::size_t peak_pending = 0;  // most reply bytes ever queued on a connection
  std::function<void()> close_current;
  // Where a stop waiter thread posts its result; `io` is cleared when the Server goes, so
  // a waiter that outlives it (a guest that never stops) posts nothing.
  struct PostGate {
    std::mutex mutex;
    asio::io_context* io = nullptr;
  };
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();

  Impl(asio::io_context& i, Backend& b, ServerOptions o)
      : io(i), backend(b), options(std::move(o)), tcp_pause(i), local_pause(i) {
    gate->io = &io;
  }

  void log(std::string_view s) const {
    if (options.log) options.log(s);
  }

  // A failing accept pauses accepting, growing from kAcceptPauseFirst to kAcceptPauseMax,
  // and logs once per episode: out of descriptors (EMFILE/ENFILE) the connection stays
  // queued, so retrying at once fails again at once and would spin, flooding the log.
  // The session in progress runs on meanwhile.
  template <typename Acceptor>
  awaitable<void> accept_loop(Acceptor& acceptor, asio::steady_timer& pause) {
    auto self = shared_from_this();
    std::chrono::milliseconds delay = kAcceptPauseFirst;
    bool failing = false;
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
      if (stopped || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        if (!failing) log(fmt::format("accept failed: {}; pausing accepts", ec.message()));
        failing = true;
        pause.expires_after(delay);
        (void)co_await pause.async_wait(tuple_awaitable);
        delay = std::min(delay * 2, kAcceptPauseMax);
        continue;
      }
      if (failing) log("accepting connections again");
      failing = false;
      delay = kAcceptPauseFirst;
      if (busy) {
        asio::co_spawn(io, refuse(std::move(socket)), asio::detached);
        continue;
      }
      busy = true;
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }

  // A second client: wait (briefly) for its first packet, acknowledge it and answer with
  // the refusal, so GDB prints the text ("Remote failure reply: E.s390bridge: ...")
  // rather than seeing an unsolicited packet where it expects an ack. The first client is
  // never touched.
  template <typename Socket>
  awaitable<void> refuse(Socket socket, std::string message = std::string(kBusyMessage),
                         std::string log_line = "refused a second client: a debugger is already connected") {
    auto self = shared_from_this();
    asio::steady_timer deadline(io, kRefusalWait);
    deadline.async_wait([&socket](const std::error_code& ec) {
      if (!ec) {
        std::error_code ignored;
        socket.cancel(ignored);
      }
    });
    std::array<char, 512> scratch{};
    (void)co_await socket.async_read_some(asio::buffer(scratch), tuple_awaitable);
    deadline.cancel();
    const std::string refusal = "+" + encode_packet(message);
    (void)co_await asio::async_write(socket, asio::buffer(refusal), tuple_awaitable);
    log(log_line);
    // Let the client read it and ack it before the socket goes: closing at once can make
    // its ack fail with EPIPE, and GDB then reports the broken pipe instead of the text.
    std::error_code ignored;
    socket.shutdown(Socket::shutdown_send, ignored);
    asio::steady_timer linger(io, kRefusalWait);
    linger.async_wait([&socket](const std::error_code& ec) {
      if (!ec) {
        std::error_code e;
        socket.cancel(e);
      }
    });
    for (;;) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(scratch), tuple_awaitable);
      if (ec) break;  // the client closed (or the linger ended)
    }
    linger.cancel();
    socket.close(ignored);
  }

  template <typename Socket>
  awaitable<void> serve(Socket socket) {
    auto self = shared_from_this();
    if constexpr (std::is_same_v<Socket, asio::ip::tcp::socket>) {
      std::error_code ignored;
      socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    }
    log("client connected");
    // Before the session: it sizes itself by the vCPUs the target has now (a target that
    // was gone may come back with others).
    RunControl* rc = backend.run_control();
    if (rc) {
      if (auto a = rc->debugger_attached(); !a) {
        // Nothing to debug: the debugger gets the reason as the answer to its first
        // packet ("Remote failure reply: E.s390bridge: ..."), and the next one may find
        // the target back.
        co_await refuse(std::move(socket), fmt::format("E.s390bridge: {}", a.error()),
                        fmt::format("refused a client: the target is not available: {}", a.error()));
        busy = false;
        co_return;
      }
    }
    Session session(backend, options.session);

    // Writes are queued so the stop path and the read path never interleave a frame.
    // `pending` counts bytes not yet written, the one in flight included. The reader stops
    // reading while it exceeds kMaxPendingBytes (a client that sends but never reads cannot
    // make the server buffer without bound); `drained` wakes it.
    struct Shared {
      std::deque<std::string> queue;
      std::size_t pending = 0;
      bool closed = false;
      std::unique_ptr<asio::steady_timer> wake;     // the writer waits on it
      std::unique_ptr<asio::steady_timer> drained;  // the reader waits on it
    };
    auto shared = std::make_shared<Shared>();
    shared->wake = std::make_unique<asio::steady_timer>(io, asio::steady_timer::time_point::max());
    shared->drained = std::make_unique<asio::steady_timer>(io, asio::steady_timer::time_point::max());
    auto close_connection = [&socket, shared] {
      shared->closed = true;
      std::error_code ignored;
      socket.close(ignored);
      shared->wake->cancel();
      shared->drained->cancel();
    };
    close_current = close_connection;
    auto enqueue = [this, shared](std::string bytes) {
      if (bytes.empty() || shared->closed) return;
      shared->pending += bytes.size();
      peak_pending = std::max(peak_pending, shared->pending);
      shared->queue.push_back(std::move(bytes));
      shared->wake->cancel();
    };
    // Waits until at most `limit` bytes are pending or the connection is gone.
    auto wait_pending = [shared](std::size_t limit) -> awaitable<void> {
      while (shared->pending > limit && !shared->closed) {
        shared->drained->expires_at(asio::steady_timer::time_point::max());
        (void)co_await shared->drained->async_wait(tuple_awaitable);
      }
    };

    // The writer: drains the queue; wakes on the timer's cancellation.
    asio::co_spawn(
        io,
        [&socket, shared]() -> awaitable<void> {
          while (!shared->closed) {
            while (!shared->queue.empty()) {
              std::string bytes = std::move(shared->queue.front());
              shared->queue.pop_front();
              auto [ec, n] = co_await asio::async_write(socket, asio::buffer(bytes), tuple_awaitable);
              shared->pending -= bytes.size();
              shared->drained->cancel();
              if (ec) {
                shared->closed = true;
                co_return;
              }
            }
            shared->wake->expires_at(asio::steady_timer::time_point::max());
            (void)co_await shared->wake->async_wait(tuple_awaitable);
          }
        },
        asio::detached);

    // The handshake deadline (ServerOptions::handshake_timeout): absolute, so bytes that
    // trickle in do not extend it. Its handler may run after this frame is gone (fired, then
    // the session ended before it ran); `shared->closed` is set before the frame ends, so
    // it touches `session` and the socket only while they exist.
    asio::steady_timer handshake(io);
    if (options.handshake_timeout.count() > 0) {
      handshake.expires_after(options.handshake_timeout);
      handshake.async_wait([this, shared, &session, close_connection](const std::error_code& ec) {
        if (ec || shared->closed || session.packets_handled() > 0) return;
        log(fmt::format("dropped a client that sent no valid packet within {} ms of connecting",
                        options.handshake_timeout.count()));
        close_connection();
      });
    }

    std::string buffer(kReadChunk, '\0');
    // The backend's wait for a stop blocks: it runs on a thread of its own, which posts the
    // stop (or the failure: never a made-up stop) back to this thread. The I/O thread never
    // joins it; `waiter->done` wakes this coroutine when it has reported.
    struct Waiter {
      bool running = false;
      std::unique_ptr<asio::steady_timer> done;
    };
    auto waiter = std::make_shared<Waiter>();
    waiter->done = std::make_unique<asio::steady_timer>(io, asio::steady_timer::time_point::max());
    auto start_waiter = [&] {
      waiter->running = true;
      auto report = [this, waiter, shared, &session, enqueue](const tl::expected<StopEvent, HostError>& ev) {
        waiter->running = false;
        waiter->done->cancel();
        if (shared->closed) return;
        if (ev) {
          enqueue(session.on_stop(*ev));
        } else {
          const std::string why = backend.unavailable_reason().value_or(std::string(host_error_name(ev.error())));
          log(fmt::format("waiting for the guest to stop failed: {}", why));
          enqueue(session.on_stop_failed(why));
        }
      };
      std::thread([rc, gate = gate, report] {
        auto ev = rc->wait_for_stop();
        std::lock_guard lk(gate->mutex);
        if (gate->io) asio::post(*gate->io, [ev, report] { report(ev); });
      }).detach();
    };
    while (!shared->closed) {
      auto [ec, n] = co_await socket.async_read_some(asio::buffer(buffer), tuple_awaitable);
      if (ec) break;  // disconnect (expected) or error: the session ends either way
      // Feed the session in small pieces and wait for the writer whenever too much is
      // queued: one read can hold thousands of 13-byte requests for 64 KiB each.
      std::string_view data(buffer.data(), n);
      while (!data.empty() && !shared->closed && !session.finished()) {
        if (shared->pending > kMaxPendingBytes) co_await wait_pending(kMaxPendingBytes);
        if (shared->closed) break;
        const std::string_view piece = data.substr(0, kFeedPiece);
        data.remove_prefix(piece.size());
        enqueue(session.on_bytes(piece));
        if (session.take_resume_request()) start_waiter();
      }
      if (session.finished()) break;
    }
    // Let the writer flush what is queued (e.g. the OK to `D`) before closing.
    co_await wait_pending(0);
    if (waiter->running) {
      // The debugger left while the guest ran: stop it so the waiter ends (the next
      // debugger needs the connection to the target), then let the guest go on, as a
      // detach would have.
      (void)rc->interrupt();
      const auto deadline = std::chrono::steady_clock::now() + kStopAfterLeaving;
      while (waiter->running && std::chrono::steady_clock::now() < deadline) {
        waiter->done->expires_at(deadline);
        (void)co_await waiter->done->async_wait(tuple_awaitable);
      }
      if (waiter->running) {
        log("the guest did not stop after the debugger left; its stop will be dropped");
      } else if (auto d = rc->detach(); !d) {
        log(fmt::format("could not let the guest run on: {}", host_error_name(d.error())));
      }
    }
    shared->closed = true;
    shared->wake->cancel();
    shared->drained->cancel();
    std::error_code ignored;
    socket.shutdown(Socket::shutdown_both, ignored);
    socket.close(ignored);
    close_current = nullptr;
    busy = false;
    ++served;
    log("client disconnected");
    // Only a client that spoke counts for `once`: a connection without a single packet (a
    // port probe, another server checking whether our unix socket is stale, one dropped
    // at the handshake deadline) is not the debugger the user is waiting for.
    if (options.once && session.packets_handled() > 0) stop_all();
  }

  void stop_all() {
    if (!stopped && options.on_stopped) asio::post(io, options.on_stopped);
    stopped = true;
    std::error_code ignored;
    if (tcp) tcp->close(ignored);
    if (local) local->close(ignored);
    tcp_pause.cancel();
    local_pause.cancel();
    if (socket_file) remove_socket_file(options.unix_path, *socket_file);
    socket_file.reset();
    if (close_current) close_current();
  }
};

Server::Server(asio::io_context& io, Backend& backend, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, backend, std::move(options))) {}

Server::~Server() {
  stop();
  std::lock_guard lk(impl_->gate->mutex);
  impl_->gate->io = nullptr;
}

tl::expected<void, std::string> Server::start() {
  Impl& s = *impl_;
  std::error_code ec;
  if (s.options.tcp) {
    auto addr = asio::ip::make_address(s.options.host, ec);
    if (ec) return tl::unexpected(fmt::format("bad listen address '{}': {}", s.options.host, ec.message()));
    s.tcp = std::make_unique<asio::ip::tcp::acceptor>(s.io);
    const asio::ip::tcp::endpoint ep(addr, s.options.port);
    s.tcp->open(ep.protocol(), ec);
    if (!ec) s.tcp->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.tcp->bind(ep, ec);
    if (!ec) s.tcp->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return tl::unexpected(fmt::format("cannot listen on {}:{}: {}", s.options.host, s.options.port, ec.message()));
    asio::co_spawn(s.io, s.accept_loop(*s.tcp, s.tcp_pause), asio::detached);
  }
  if (!s.options.unix_path.empty()) {
    if (auto r = clear_socket_path(s.options.unix_path); !r) return tl::unexpected(r.error());
    auto local = std::make_unique<asio::local::stream_protocol::acceptor>(s.io);
    auto id = bind_owner_only(*local, s.options.unix_path);
    if (!id) return tl::unexpected(id.error());
    s.local = std::move(local);
    s.socket_file = *id;
    asio::co_spawn(s.io, s.accept_loop(*s.local, s.local_pause), asio::detached);
  }
  if (!s.tcp && !s.local) return tl::unexpected(std::string("nothing to listen on"));
  return {};
}

std::uint16_t Server::port() const {
  std::error_code ec;
  return impl_->tcp ? impl_->tcp->local_endpoint(ec).port() : 0;
}

void Server::stop() {
  if (impl_) impl_->stop_all();
}

unsigned Server::sessions_served() const { return impl_->served; }

std::size_t Server::peak_pending_bytes() const { return impl_->peak_pending; }

}  // namespace s390b::rsp
