#include "gdbstub/server.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <deque>
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

#include "gdbstub/codec.h"

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

}  // namespace

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  asio::io_context& io;
  Backend& backend;
  ServerOptions options;
  std::unique_ptr<asio::ip::tcp::acceptor> tcp;
  std::unique_ptr<asio::local::stream_protocol::acceptor> local;
  bool busy = false;
  bool stopped = false;
  unsigned served = 0;
  std::size_t peak_pending = 0;  // most reply bytes ever queued on a connection
  std::function<void()> close_current;

  Impl(asio::io_context& i, Backend& b, ServerOptions o) : io(i), backend(b), options(std::move(o)) {}

  void log(std::string_view s) const {
    if (options.log) options.log(s);
  }

  template <typename Acceptor>
  awaitable<void> accept_loop(Acceptor& acceptor) {
    auto self = shared_from_this();
    while (!stopped) {
      auto [ec, socket] = co_await acceptor.async_accept(tuple_awaitable);
      if (ec) {
        if (stopped || ec == asio::error::operation_aborted) co_return;
        log(fmt::format("accept failed: {}", ec.message()));
        continue;
      }
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
  awaitable<void> refuse(Socket socket) {
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
    const std::string refusal = "+" + encode_packet(std::string(kBusyMessage));
    (void)co_await asio::async_write(socket, asio::buffer(refusal), tuple_awaitable);
    log("refused a second client: a debugger is already connected");
    std::error_code ignored;
    socket.shutdown(Socket::shutdown_both, ignored);
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
    close_current = [&socket, shared] {
      shared->closed = true;
      std::error_code ignored;
      socket.close(ignored);
      shared->wake->cancel();
      shared->drained->cancel();
    };
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

    std::string buffer(kReadChunk, '\0');
    std::thread waiter;
    // The backend's wait for a stop blocks: run it off the I/O thread and post the stop back.
    auto start_waiter = [&] {
      if (waiter.joinable()) waiter.join();
      RunControl* rc = backend.run_control();
      auto* io_ptr = &io;
      auto* session_ptr = &session;
      waiter = std::thread([rc, io_ptr, session_ptr, enqueue, shared] {
        auto ev = rc->wait_for_stop();
        asio::post(*io_ptr, [ev, session_ptr, enqueue, shared] {
          if (shared->closed) return;
          StopEvent e = ev ? *ev : StopEvent{0, StopEvent::Reason::halted, 0};
          enqueue(session_ptr->on_stop(e));
        });
      });
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
    if (waiter.joinable()) {
      if (RunControl* rc = backend.run_control(); rc && session.running()) (void)rc->interrupt();
      waiter.join();
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
    if (options.once) stop_all();
  }

  void stop_all() {
    if (!stopped && options.on_stopped) asio::post(io, options.on_stopped);
    stopped = true;
    std::error_code ignored;
    if (tcp) tcp->close(ignored);
    if (local) local->close(ignored);
    if (close_current) close_current();
  }
};

Server::Server(asio::io_context& io, Backend& backend, ServerOptions options)
    : impl_(std::make_shared<Impl>(io, backend, std::move(options))) {}

Server::~Server() { stop(); }

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
    asio::co_spawn(s.io, s.accept_loop(*s.tcp), asio::detached);
  }
  if (!s.options.unix_path.empty()) {
    ::unlink(s.options.unix_path.c_str());
    s.local = std::make_unique<asio::local::stream_protocol::acceptor>(s.io);
    const asio::local::stream_protocol::endpoint ep(s.options.unix_path);
    s.local->open(ep.protocol(), ec);
    if (!ec) s.local->bind(ep, ec);
    if (!ec) s.local->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return tl::unexpected(fmt::format("cannot listen on {}: {}", s.options.unix_path, ec.message()));
    asio::co_spawn(s.io, s.accept_loop(*s.local), asio::detached);
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
