// The transport: TCP and unix-socket listeners on one single-threaded io_context, one
// coroutine per connection feeding a Session (docs/architecture.md). One client at a time: a
// second one gets a clear refusal and the first is undisturbed. Blocking backend waits
// (a running target's stop) happen on a worker thread; the stop is posted back.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <asio/io_context.hpp>
#include <tl/expected.hpp>

#include "backends/backend.h"
#include "gdbstub/session.h"

namespace s390b::rsp {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback by default
  std::uint16_t port = 1234;       // 0: any free port (tests)
  bool tcp = true;
  // Also (or only, with tcp = false) listen on this unix socket, created owner-only
  // (0600). An existing socket there is replaced only if it is stale (nothing accepts on
  // it); anything else there (a live server, a file, a directory...) makes start() fail.
  // The socket file is removed when the server stops, if it is still the one created.
  std::string unix_path;
  bool once = false;               // stop after the first client's session ends
  // A connection that has not sent one complete, valid packet this long after it was
  // accepted is dropped, so a silent or trickling local user cannot hold the only client
  // slot. An absolute deadline from accept (bytes arriving do not extend it); a session
  // that has spoken may then idle forever. Zero: no deadline.
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(5);
  // Posted to the io_context once the server stops (stop(), or `once` after the first
  // session): an embedder releases what keeps its io_context running (signal sets...).
  std::function<void()> on_stopped;
  SessionOptions session;
  std::function<void(std::string_view)> log;  // connection events
};

class Server {
 public:
  Server(asio::io_context& io, Backend& backend, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and starts accepting. Errors name the address.
  tl::expected<void, std::string> start();
  // The bound TCP port (after start).
  std::uint16_t port() const;
  // Closes the listeners and any connection.
  void stop();

  unsigned sessions_served() const;
  // The most reply bytes ever waiting to be written on one connection (bounded: a client
  // that does not read stops the server from handling its further requests).
  std::size_t peak_pending_bytes() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// True if listening on `host` reaches only this machine: an IPv4 address in 127.0.0.0/8,
// ::1 (or ::ffff:127.x.y.z), or the name `localhost`. Anything else (0.0.0.0, a LAN
// address, another name) exposes an unauthenticated protocol that controls the guest.
bool is_loopback_host(std::string_view host);

// The message a second client receives before it is disconnected.
inline constexpr std::string_view kBusyMessage = "E.s390bridge: another debugger is already connected";

}  // namespace s390b::rsp
