#include "cli/serve_command.h"

#include <chrono>
#include <csignal>
#include <deque>
#include <iostream>
#include <memory>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/source.h"
#include "access/view.h"
#include "gdbstub/server.h"

namespace s390b::cli {

namespace {

// --handshake-timeout: the default (ServerOptions' too) and a sane upper bound (a day).
constexpr double kDefaultHandshakeSeconds = 5.0;
constexpr double kMaxHandshakeSeconds = 24.0 * 60 * 60;

struct ServeOptions {
  GuestSource source;
  std::string host = "127.0.0.1";
  std::uint16_t port = 1234;
  std::string unix_path;
  std::string view = "cpu";
  bool read_only = false;
  bool trace = false;
  bool once = false;
  bool allow_kill = false;
  bool port_given = false;
  double handshake_seconds = kDefaultHandshakeSeconds;
};

// The remote serial protocol has no authentication: whoever reaches the port reads and
// writes guest memory (and runs the guest). Binding beyond loopback is allowed (a
// trusted lab network), but never silently.
void warn_if_exposed(const std::string& host, std::uint16_t port) {
  if (rsp::is_loopback_host(host)) return;
  std::cerr << fmt::format(
      "s390bridge serve: warning: listening on {}, which is not a loopback address. The GDB remote serial "
      "protocol has no authentication: anyone who can reach port {} controls the guest (reads and writes its "
      "memory and registers). Prefer --unix PATH (a socket only you can connect to), or the default host "
      "127.0.0.1 reached through an SSH tunnel (ssh -L {}:127.0.0.1:{} this-machine).\n",
      host, port, port, port);
}

int run(const ServeOptions& o) {
  GuestSource source = o.source;
  source.resume_after = false;  // each debugger's detach decides
  source.allow_kill = o.allow_kill;
  source.log = [](std::string_view line) { std::cerr << "s390bridge: " << line << "\n"; };
  auto backend = source.open();
  if (!backend) {
    std::cerr << "s390bridge serve: " << backend.error() << "\n";
    return 2;
  }
  auto view = parse_view(o.view);
  if (!view) {
    std::cerr << "s390bridge serve: --view: " << view.error() << "\n";
    return 2;
  }
  rsp::ServerOptions so;
  so.host = o.host;
  so.port = o.port;
  so.unix_path = o.unix_path;
  so.tcp = o.unix_path.empty() || o.port_given;
  so.once = o.once;
  // Rounded up: a tiny non-zero timeout must not become 0 (disabled).
  so.handshake_timeout =
      std::chrono::ceil<std::chrono::milliseconds>(std::chrono::duration<double>(o.handshake_seconds));
  so.session.read_only = o.read_only;
  so.session.initial_view = *view;
  if (o.trace) so.session.trace = [](std::string_view line) { std::cerr << line << "\n"; };
  so.log = [](std::string_view line) { std::cerr << "s390bridge: " << line << "\n"; };
  so.session.log = so.log;
  so.session.on_protocol_error = [](std::string_view what, const std::deque<std::string>& recent) {
    std::cerr << "s390bridge: protocol error (" << what << "); recent packets:\n";
    for (const auto& line : recent) std::cerr << "  " << line << "\n";
  };

  asio::io_context io;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  so.on_stopped = [&signals] {
    std::error_code ignored;
    signals.cancel(ignored);
  };
  rsp::Server server(io, **backend, so);
  if (auto r = server.start(); !r) {
    std::cerr << "s390bridge serve: " << r.error() << "\n";
    return 1;
  }
  signals.async_wait([&](const std::error_code& ec, int) {
    if (!ec) server.stop();
  });
  if (so.tcp) warn_if_exposed(o.host, server.port());

  const Backend& b = **backend;
  const std::string what = o.source.demo ? "demo" : !o.source.qemu.empty() ? "QEMU " + o.source.qemu : fmt::format("{}", fmt::join(o.source.core, ", "));
  std::cout << fmt::format("s390bridge: serving the {} guest ({} vCPUs, view {}){}\n", what,
                           b.cpu_count(), view->describe(), o.read_only ? ", read-only" : "");
  if (so.tcp) {
    std::cout << fmt::format("listening on {}:{}\n", o.host, server.port());
    std::cout << fmt::format("attach: gdb-multiarch -ex 'set architecture s390:64-bit' -ex 'set endian big' "
                             "-ex 'target remote {}:{}'\n", o.host, server.port());
  }
  if (!o.unix_path.empty()) std::cout << fmt::format("listening on unix socket {}\n", o.unix_path);
  std::cout.flush();
  io.run();
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<ServeOptions>();
  CLI::App* cmd = app.add_subcommand("serve", "serve a guest to GDB over the remote serial protocol");
  opts->source.add_options(*cmd);
  cmd->add_option("--host", opts->host, "listen address (default 127.0.0.1: loopback only)");
  cmd->add_option("--port", opts->port, "TCP port (default 1234; 0 picks a free one)");
  cmd->add_option("--unix", opts->unix_path,
                  "listen on this unix socket, owner-only (0600) and removed on exit; a stale socket there is "
                  "replaced, anything else refused (TCP too only with an explicit --port)");
  cmd->add_option("--handshake-timeout", opts->handshake_seconds,
                  "drop a client that sends no valid packet within this many seconds of connecting "
                  "(default 5; 0: never)")
      ->check(CLI::Range(0.0, kMaxHandshakeSeconds));
  cmd->add_option("--view", opts->view,
                  "initial view of every vCPU: cpu [ar N] | primary | secondary | home | ar N | alet X | asce X | real | absolute");
  cmd->add_flag("--read-only", opts->read_only, "refuse every write packet");
  cmd->add_flag("--trace", opts->trace, "print every packet to stderr");
  cmd->add_flag("--once", opts->once, "exit when the first client disconnects");
  cmd->add_flag("--allow-kill", opts->allow_kill,
                "with --qemu: GDB's kill terminates QEMU (by default kill ends the session and leaves the guest)");
  cmd->footer(
      "Example: s390bridge serve --core guest.elf --view home --read-only\n"
      "         s390bridge serve --qemu localhost:1234 --qemu-mem /dev/shm/guest.ram --port 1235\n"
      "then: gdb-multiarch -ex 'set architecture s390:64-bit' -ex 'target remote 127.0.0.1:1234' vmlinux\n"
      "Exit status: 0 stopped normally, 1 cannot listen, 2 bad arguments or guest source.");
  cmd->callback([opts, cmd, &exit_code] {
    opts->port_given = cmd->count("--port") > 0;
    exit_code = run(*opts);
  });
}

}  // namespace s390b::cli
