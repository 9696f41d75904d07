// The real transport: Server on 127.0.0.1 port 0 (and a unix socket) in a test-local
// io_context, driven by a raw Asio client on the same io_context. Nothing sleeps: each
// step runs the io_context until the event it waits for has happened (hermetic and fast:
// docs/testing.md, "Budget"), with
// a generous deadline so a bug fails the test instead of hanging it.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>

#include "backends/emulated/demo_guest.h"
#include "backends/temp_dir.h"
#include "gdbstub/server.h"
#include "session_harness.h"

using namespace s390b;
using namespace s390b::rsp;
using namespace s390b::rsp::test;

namespace {

constexpr auto kDeadline = std::chrono::seconds(20);  // only reached by a bug
constexpr auto kPoll = std::chrono::milliseconds(200);

template <typename Pred>
void run_until(asio::io_context& io, Pred done, const char* what) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!done()) {
    if (io.stopped()) io.restart();
    io.run_one_for(kPoll);
    if (std::chrono::steady_clock::now() > deadline) FAIL("timed out waiting for ", std::string(what));
  }
}

// Runs the io_context for a while: only where the assertion is about time passing (a
// deadline that must, or must not, expire), never to wait for an event.
void run_for(asio::io_context& io, std::chrono::milliseconds duration) {
  if (io.stopped()) io.restart();
  io.run_for(duration);
}

// A raw client. Its state is shared with the pending read handler, so destroying the
// client while a read is in flight is safe.
template <typename Protocol>
class Client {
 public:
  explicit Client(asio::io_context& io) : io_(io), state_(std::make_shared<State>(io)) {}
  ~Client() { close(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Opens the socket without connecting (connect() opens it otherwise): a test that runs
  // out of descriptors opens its clients first.
  void open(const typename Protocol::endpoint& endpoint) { state_->socket.open(endpoint.protocol()); }

  std::error_code connect(const typename Protocol::endpoint& endpoint) {
    bool done = false;
    std::error_code ec;
    state_->socket.async_connect(endpoint, [&](std::error_code e) {
      ec = e;
      done = true;
    });
    run_until(io_, [&] { return done; }, "connect");
    if (!ec) read_more(state_);
    return ec;
  }

  void send(std::string bytes) { REQUIRE_FALSE(try_send(std::move(bytes))); }

  // A write that may fail (the server may have closed the connection).
  std::error_code try_send(std::string bytes) {
    auto data = std::make_shared<std::string>(std::move(bytes));
    bool done = false;
    std::error_code ec;
    asio::async_write(state_->socket, asio::buffer(*data), [&, data](std::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
    run_until(io_, [&] { return done; }, "write");
    return ec;
  }

  // The next packet's payload; `+`s before it are consumed (counted in acks()).
  std::string packet() {
    run_until(io_, [&] { return has_packet() || state_->eof; }, "a packet");
    REQUIRE(has_packet());
    std::string& in = state_->inbox;
    while (!in.empty() && in[0] == '+') {
      ++acks_;
      in.erase(0, 1);
    }
    const std::size_t end = in.find('#') + 3;
    const auto items = split_wire(std::string_view(in).substr(0, end));
    in.erase(0, end);
    REQUIRE(items.size() == 1);
    return items[0].payload;
  }

  // Sends one request (acking the previous reply, as GDB does in ack mode) and returns
  // the reply.
  std::string request(std::string_view payload) {
    send((ack_mode_ ? "+" : "") + frame(payload));
    const std::string reply = packet();
    if (payload == "QStartNoAckMode" && reply == "OK") ack_mode_ = false;
    return reply;
  }

  // Runs until the server closes the connection; returns what arrived before that.
  std::string until_eof() {
    run_until(io_, [&] { return state_->eof; }, "the server to close");
    return std::exchange(state_->inbox, {});
  }

  void close() {
    std::error_code ignored;
    state_->socket.shutdown(Protocol::socket::shutdown_both, ignored);
    state_->socket.close(ignored);
  }

  int acks() const { return acks_; }
  const std::string& inbox() const { return state_->inbox; }
  bool eof() const { return state_->eof; }

 private:
  struct State {
    explicit State(asio::io_context& io) : socket(io) {}
    typename Protocol::socket socket;
    std::array<char, 4096> chunk{};
    std::string inbox;
    bool eof = false;
  };

  static void read_more(const std::shared_ptr<State>& s) {
    s->socket.async_read_some(asio::buffer(s->chunk), [s](std::error_code ec, std::size_t n) {
      if (ec) {
        s->eof = true;
        return;
      }
      s->inbox.append(s->chunk.data(), n);
      read_more(s);
    });
  }

  bool has_packet() const {
    const std::string& in = state_->inbox;
    const std::size_t hash = in.find('#');
    return hash != std::string::npos && hash + 2 < in.size();
  }

  asio::io_context& io_;
  std::shared_ptr<State> state_;
  bool ack_mode_ = true;
  int acks_ = 0;
};

using TcpClient = Client<asio::ip::tcp>;
using UnixClient = Client<asio::local::stream_protocol>;

ServerOptions test_options() {
  ServerOptions o;
  o.host = "127.0.0.1";
  o.port = 0;
  return o;
}

asio::ip::tcp::endpoint endpoint_of(const Server& server) {
  return {asio::ip::make_address("127.0.0.1"), server.port()};
}

std::string qsupported() {
  std::string s = "qSupported:";
  s += kGdb13Features;  // appended: g++ 12 misreports `+` of two temporaries here
  return s;
}

// A unix socket path in a directory of our own, removed with it at the end of the test.
struct TempSocketPath {
  s390b::test::TempDir dir{"s390b-sock"};
  std::string path = (dir.path / "bridge.sock").string();
};

// A listening server on the demo guest: the set-up most cases share (members by the names
// the cases use).
struct DemoServer {
  asio::io_context io;
  std::unique_ptr<EmulatedBackend> guest = demo::make_guest();
  Server server{io, *guest, test_options()};
  DemoServer() { REQUIRE(server.start()); }
};

}  // namespace

TEST_SUITE_BEGIN("transport");

TEST_CASE_FIXTURE(DemoServer, "server: connect, qSupported, m, D -> OK and close") {
  REQUIRE(server.port() != 0);

  TcpClient client(io);
  REQUIRE_FALSE(client.connect(endpoint_of(server)));
  CHECK(client.request(qsupported()).find("PacketSize=20000") != std::string::npos);
  CHECK(client.acks() == 1);  // ack mode: `+` before the reply
  CHECK(unhex(client.request("m" + hex_number(demo::linux_banner_va) + ",d")) == "Linux version");
  CHECK(client.request("QStartNoAckMode") == "OK");
  CHECK(client.request("qC") == "QC1");
  CHECK(client.acks() == 3);  // none in no-ack mode
  CHECK(client.request("D") == "OK");
  CHECK(client.until_eof().empty());  // closed right after the OK, nothing else sent
  run_until(io, [&] { return server.sessions_served() == 1; }, "the session to end");
}

TEST_CASE_FIXTURE(DemoServer, "server: a second client gets kBusyMessage and the first continues") {

  TcpClient first(io);
  REQUIRE_FALSE(first.connect(endpoint_of(server)));
  CHECK_FALSE(first.request(qsupported()).empty());

  // GDB's first packet is acknowledged, then answered with the refusal text, so GDB shows
  // it ("Remote failure reply: ...").
  TcpClient second(io);
  REQUIRE_FALSE(second.connect(endpoint_of(server)));
  CHECK(second.request(qsupported()) == kBusyMessage);
  CHECK(second.acks() == 1);
  CHECK(second.until_eof().empty());

  CHECK(unhex(first.request("m" + hex_number(demo::kernel_data_va) + ",6")) == "kernel");
  CHECK(first.request("D") == "OK");
  first.until_eof();
  run_until(io, [&] { return server.sessions_served() == 1; }, "the first session to end");

  // The server is free again.
  TcpClient third(io);
  REQUIRE_FALSE(third.connect(endpoint_of(server)));
  CHECK(third.request("qC") == "QC1");
  CHECK(third.acks() == 1);  // a new connection starts in ack mode
}

TEST_CASE("server: once stops after the first session and calls on_stopped") {
  asio::io_context io;
  auto guest = demo::make_guest();
  ServerOptions o = test_options();
  o.once = true;
  bool stopped = false;
  o.on_stopped = [&] { stopped = true; };
  Server server(io, *guest, o);
  REQUIRE(server.start());
  const auto ep = endpoint_of(server);
  {
    TcpClient client(io);
    REQUIRE_FALSE(client.connect(ep));
    CHECK(client.request("D") == "OK");
    client.until_eof();
  }
  run_until(io, [&] { return stopped; }, "on_stopped");
  CHECK(server.sessions_served() == 1);
  // Nothing listens any more: io.run() returns by itself, and a new client is refused.
  io.restart();
  io.run();
  TcpClient late(io);
  CHECK(late.connect(ep));
}

TEST_CASE_FIXTURE(DemoServer, "server: a client far behind in reading gets every reply, in order") {
  // 200 requests for 64 KiB each in one write (4 KB, one read for the server): ~26 MB of
  // replies. The server queues at most 4 MiB plus what one 256-byte piece of requests
  // produces before it waits for the client to catch up.
  TcpClient client(io);
  REQUIRE_FALSE(client.connect(endpoint_of(server)));
  CHECK(client.request("QStartNoAckMode") == "OK");
  constexpr int kRequests = 200;
  std::string burst;
  for (int i = 0; i < kRequests; ++i) burst += frame("m" + hex_number(demo::kernel_data_va + (i % 4)) + ",10000");
  client.send(burst);
  for (int i = 0; i < kRequests; ++i) {
    const std::string reply = client.packet();
    REQUIRE(reply.size() == 2 * 0x10000);
    const std::size_t skip = static_cast<std::size_t>(i % 4);  // request i starts at "kernel" + skip
    CHECK(unhex(reply.substr(0, 2 * (6 - skip))) == std::string("kernel").substr(skip));
  }
  CHECK(client.request("qC") == "QC1");
  CHECK(server.peak_pending_bytes() > 4u * 1024 * 1024);  // it did have to wait
  CHECK(server.peak_pending_bytes() < 8u * 1024 * 1024);  // unbounded: ~26 MB
}

TEST_CASE_FIXTURE(DemoServer, "server: 1000 connect/disconnect cycles") {
  const auto ep = endpoint_of(server);
  constexpr unsigned kCycles = 1000;
  for (unsigned i = 0; i < kCycles; ++i) {
    TcpClient client(io);
    REQUIRE_FALSE(client.connect(ep));
    if (i % 100 == 0) CHECK(client.request("qC") == "QC1");
    client.close();
    run_until(io, [&] { return server.sessions_served() == i + 1; }, "the session to end");
  }
  CHECK(server.sessions_served() == kCycles);
}

TEST_CASE_FIXTURE(DemoServer, "server: a client that sends half a frame and disconnects") {
  {
    TcpClient client(io);
    REQUIRE_FALSE(client.connect(endpoint_of(server)));
    client.request(qsupported());
    client.request("QStartNoAckMode");
    client.send("$M" + hex_number(demo::kernel_data_va) + ",4:01");
  }
  run_until(io, [&] { return server.sessions_served() == 1; }, "the session to end");
  TcpClient client(io);
  REQUIRE_FALSE(client.connect(endpoint_of(server)));
  CHECK(unhex(client.request("m" + hex_number(demo::kernel_data_va) + ",6")) == "kernel");  // nothing written
  CHECK(client.acks() == 1);  // fresh session: ack mode
}

TEST_CASE("server: unix socket listener") {
  asio::io_context io;
  auto guest = demo::make_guest();
  TempSocketPath path;
  SUBCASE("unix only") {
    ServerOptions o = test_options();
    o.tcp = false;
    o.unix_path = path.path;
    Server server(io, *guest, o);
    REQUIRE(server.start());
    CHECK(server.port() == 0);
    UnixClient client(io);
    REQUIRE_FALSE(client.connect(asio::local::stream_protocol::endpoint(path.path)));
    CHECK(client.request(qsupported()).find("PacketSize=") != std::string::npos);
    CHECK(client.request("qXfer:features:read:target.xml:0,40").starts_with("m<?xml"));
    CHECK(client.request("D") == "OK");
    client.until_eof();
    run_until(io, [&] { return server.sessions_served() == 1; }, "the session to end");
  }
  SUBCASE("tcp and unix: one client at a time across both") {
    ServerOptions o = test_options();
    o.unix_path = path.path;
    Server server(io, *guest, o);
    REQUIRE(server.start());
    TcpClient first(io);
    REQUIRE_FALSE(first.connect(endpoint_of(server)));
    CHECK(first.request("qC") == "QC1");
    // A second client that never speaks still gets the refusal, after a short wait.
    UnixClient second(io);
    REQUIRE_FALSE(second.connect(asio::local::stream_protocol::endpoint(path.path)));
    CHECK(second.packet() == kBusyMessage);
    second.until_eof();
    CHECK(first.request("qC") == "QC1");
  }
}

TEST_CASE("server: run control through the transport") {
  asio::io_context io;
  RunnableGuest guest(demo::make_guest());
  Server server(io, guest, test_options());
  REQUIRE(server.start());
  TcpClient client(io);
  REQUIRE_FALSE(client.connect(endpoint_of(server)));
  CHECK(client.request(qsupported()).find("vContSupported+") != std::string::npos);
  CHECK(client.request("QStartNoAckMode") == "OK");

  // c, then 0x03: the interrupt reaches the backend, its stop comes back as T02.
  client.send(frame("c"));
  run_until(io, [&] { return guest.resumes() == 1; }, "the resume");
  client.send("\x03");
  CHECK(parse_stop(client.packet()).signal == 2);
  CHECK(guest.interrupts() == 1);

  // c, then the guest stops by itself on cpu 1 (a stop from another thread).
  client.send(frame("vCont;c"));
  run_until(io, [&] { return guest.resumes() == 2; }, "the resume");
  guest.stop(StopEvent{1, StopEvent::Reason::breakpoint, 0});
  const StopInfo stop = parse_stop(client.packet());
  CHECK(stop.signal == 5);
  CHECK(stop.get("thread") == "2");
  CHECK(client.request("qC") == "QC2");

  // A step stops at once.
  client.send(frame("vCont;s:2"));
  CHECK(parse_stop(client.packet()).get("thread") == "2");

  // Disconnecting while the guest runs: the server interrupts it and ends the session.
  client.send(frame("c"));
  run_until(io, [&] { return guest.resumes() == 3; }, "the resume");
  client.close();
  run_until(io, [&] { return server.sessions_served() == 1; }, "the session to end");
  CHECK(guest.interrupts() == 2);
}

TEST_CASE_FIXTURE(DemoServer, "server: stop() closes the connection; start() reports a bad address or a busy port") {
  TcpClient client(io);
  REQUIRE_FALSE(client.connect(endpoint_of(server)));
  CHECK(client.request("qC") == "QC1");
  server.stop();
  client.until_eof();

  ServerOptions bad = test_options();
  bad.host = "not-an-address";
  Server s1(io, *guest, bad);
  const auto r1 = s1.start();
  REQUIRE_FALSE(r1);
  CHECK(r1.error().find("not-an-address") != std::string::npos);

  Server holder(io, *guest, test_options());
  REQUIRE(holder.start());
  ServerOptions same = test_options();
  same.port = holder.port();
  Server s2(io, *guest, same);
  const auto r2 = s2.start();
  REQUIRE_FALSE(r2);
  CHECK(r2.error().find(std::to_string(holder.port())) != std::string::npos);
}

// ---- The unix socket file (ServerOptions::unix_path) ----

namespace {

ServerOptions unix_options(const std::string& path) {
  ServerOptions o = test_options();
  o.tcp = false;
  o.unix_path = path;
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// A socket file nothing listens on, as a server that died leaves behind.
void make_stale_socket(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("server: --unix refuses a path that is not a stale socket and changes nothing") {
  asio::io_context io;
  auto guest = demo::make_guest();
  TempSocketPath path;
  std::string kind;
  SUBCASE("a regular file") {
    std::ofstream(path.path) << "precious";
    kind = "a regular file";
  }
  SUBCASE("a directory") {
    REQUIRE(::mkdir(path.path.c_str(), 0700) == 0);
    kind = "a directory";
  }
  SUBCASE("a fifo") {
    REQUIRE(::mkfifo(path.path.c_str(), 0600) == 0);
    kind = "a fifo";
  }
  SUBCASE("a symbolic link to a stale socket (not followed)") {
    const std::string target = (path.dir.path / "target.sock").string();
    make_stale_socket(target);
    REQUIRE(::symlink(target.c_str(), path.path.c_str()) == 0);
    kind = "a symbolic link";
  }
  struct stat before {};
  REQUIRE(::lstat(path.path.c_str(), &before) == 0);

  Server server(io, *guest, unix_options(path.path));
  const auto r = server.start();
  REQUIRE_FALSE(r);
  CHECK(r.error() == path.path + ": exists and is " + kind + "; not replacing it");

  struct stat after {};
  REQUIRE(::lstat(path.path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mode == before.st_mode);
  if (S_ISREG(after.st_mode)) CHECK(read_file(path.path) == "precious");
  server.stop();  // nothing of ours to remove
  CHECK(exists(path.path));
}

TEST_CASE("server: --unix refuses the socket of a live server, which keeps serving") {
  asio::io_context io;
  auto guest = demo::make_guest();
  TempSocketPath path;
  Server first(io, *guest, unix_options(path.path));
  REQUIRE(first.start());

  Server second(io, *guest, unix_options(path.path));
  const auto r = second.start();
  REQUIRE_FALSE(r);
  CHECK(r.error() == path.path + ": another server is listening there");
  second.stop();  // must not remove the first server's socket
  CHECK(exists(path.path));

  // The probe was a connection that left without a packet: the first server served (and
  // ended) it; then it serves a real client.
  run_until(io, [&] { return first.sessions_served() == 1; }, "the probe's session to end");
  UnixClient client(io);
  REQUIRE_FALSE(client.connect(asio::local::stream_protocol::endpoint(path.path)));
  CHECK(client.request("qC") == "QC1");
}

TEST_CASE("server: --unix replaces a stale socket, owner-only, and removes its own on stop") {
  asio::io_context io;
  auto guest = demo::make_guest();
  TempSocketPath path;
  make_stale_socket(path.path);

  auto server = std::make_unique<Server>(io, *guest, unix_options(path.path));
  REQUIRE(server->start());
  struct stat st {};
  REQUIRE(::lstat(path.path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  // Only the socket is left in the directory (the private bind directory is gone).
  CHECK(std::distance(std::filesystem::directory_iterator(path.dir.path), {}) == 1);
  {
    UnixClient client(io);
    REQUIRE_FALSE(client.connect(asio::local::stream_protocol::endpoint(path.path)));
    CHECK(client.request("qC") == "QC1");
  }

  SUBCASE("stop() removes it") {
    server->stop();
    CHECK_FALSE(exists(path.path));
  }
  SUBCASE("the destructor removes it") {
    server.reset();
    CHECK_FALSE(exists(path.path));
  }
  SUBCASE("a file that replaced it is left alone") {
    REQUIRE(::unlink(path.path.c_str()) == 0);
    std::ofstream(path.path) << "someone else's";
    server->stop();
    CHECK(read_file(path.path) == "someone else's");
  }
  SUBCASE("another server's socket that replaced it is left alone") {
    REQUIRE(::unlink(path.path.c_str()) == 0);
    Server other(io, *guest, unix_options(path.path));
    REQUIRE(other.start());
    server->stop();
    UnixClient client(io);
    REQUIRE_FALSE(client.connect(asio::local::stream_protocol::endpoint(path.path)));
    CHECK(client.request("qC") == "QC1");
  }
}

// ---- Running out of descriptors ----

namespace {

// Lowers RLIMIT_NOFILE's soft limit for the scope (restored however the test ends: every
// test shares this process).
class FdLimit {
 public:
  explicit FdLimit(rlim_t soft) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
    active_ = true;
  }
  ~FdLimit() { restore(); }
  FdLimit(const FdLimit&) = delete;
  FdLimit& operator=(const FdLimit&) = delete;
  void restore() {
    if (active_) ::setrlimit(RLIMIT_NOFILE, &saved_);
    active_ = false;
  }

 private:
  rlimit saved_{};
  bool active_ = false;
};

// The descriptor number the next open would get: a soft limit of this lets no new one open.
rlim_t lowest_free_fd() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  ::close(fd);
  return static_cast<rlim_t>(fd);
}

std::size_t count_containing(const std::vector<std::string>& lines, std::string_view what) {
  const auto has = [&](const std::string& line) { return line.find(what) != std::string::npos; };
  return static_cast<std::size_t>(std::ranges::count_if(lines, has));
}

}  // namespace

TEST_CASE("server: accept failing with EMFILE pauses and logs once; the session goes on") {
  asio::io_context io;
  auto guest = demo::make_guest();
  std::vector<std::string> logs;
  ServerOptions o = test_options();
  o.log = [&](std::string_view line) { logs.emplace_back(line); };
  Server server(io, *guest, o);
  REQUIRE(server.start());
  const auto ep = endpoint_of(server);
  TcpClient first(io);
  REQUIRE_FALSE(first.connect(ep));
  CHECK_FALSE(first.request(qsupported()).empty());

  // Two more clients, their sockets opened while descriptors are still available: the
  // server cannot accept them (accept() fails with EMFILE and leaves them queued).
  TcpClient second(io);
  TcpClient third(io);
  second.open(ep);
  third.open(ep);
  logs.clear();
  FdLimit limit(lowest_free_fd());
  REQUIRE_FALSE(second.connect(ep));
  REQUIRE_FALSE(third.connect(ep));
  // Half a second of failing accepts: one line, not one per retry (~100k/s unthrottled).
  constexpr auto kEpisode = std::chrono::milliseconds(500);
  run_for(io, kEpisode);
  CHECK(logs.size() <= 3);
  CHECK(std::ranges::count(logs, std::string("accept failed: Too many open files; pausing accepts")) == 1);
  // The established session answers throughout.
  CHECK(first.request("qC") == "QC1");
  CHECK(unhex(first.request("m" + hex_number(demo::kernel_data_va) + ",6")) == "kernel");

  // Descriptors again: the queued clients are accepted (and refused: the slot is taken).
  limit.restore();
  CHECK(second.request(qsupported()) == kBusyMessage);
  CHECK(count_containing(logs, "accepting connections again") == 1);
  CHECK(count_containing(logs, "accept failed") == 1);
  CHECK(third.request(qsupported()) == kBusyMessage);

  CHECK(first.request("D") == "OK");
  first.until_eof();
  run_until(io, [&] { return server.sessions_served() == 1; }, "the first session to end");
  TcpClient fourth(io);
  REQUIRE_FALSE(fourth.connect(ep));
  CHECK(fourth.request("qC") == "QC1");
}

// ---- The handshake deadline (ServerOptions::handshake_timeout) ----

TEST_CASE("server: a client without a valid packet by the handshake deadline is dropped") {
  constexpr auto kTimeout = std::chrono::milliseconds(200);
  asio::io_context io;
  auto guest = demo::make_guest();
  std::vector<std::string> logs;
  ServerOptions o = test_options();
  o.handshake_timeout = kTimeout;
  o.log = [&](std::string_view line) { logs.emplace_back(line); };
  Server server(io, *guest, o);
  REQUIRE(server.start());
  const auto ep = endpoint_of(server);

  SUBCASE("a silent client") {
    TcpClient silent(io);
    REQUIRE_FALSE(silent.connect(ep));
    CHECK(silent.until_eof().empty());
  }
  SUBCASE("a client trickling bytes of a packet that never completes") {
    // A byte every quarter of the deadline: an idle timer would never expire. The
    // deadline counts from accept, so the client is gone long before the frame is done.
    constexpr auto kTrickle = kTimeout / 4;
    const std::string partial = "$" + qsupported();  // no '#': never a packet
    TcpClient slow(io);
    REQUIRE_FALSE(slow.connect(ep));
    std::size_t sent = 0;
    while (sent < partial.size() && !slow.eof()) {
      if (slow.try_send(partial.substr(sent, 1))) break;  // the server closed it
      ++sent;
      run_for(io, kTrickle);
    }
    CHECK(sent < partial.size());
    slow.until_eof();
  }
  CHECK(count_containing(logs, "dropped a client that sent no valid packet within 200 ms") == 1);
  run_until(io, [&] { return server.sessions_served() == 1; }, "the dropped session to end");

  // The slot is free again.
  TcpClient next(io);
  REQUIRE_FALSE(next.connect(ep));
  CHECK(next.request("qC") == "QC1");
}

TEST_CASE("server: a client that spoke before the handshake deadline may idle; 0 disables it") {
  constexpr auto kTimeout = std::chrono::milliseconds(200);
  constexpr auto kIdle = 5 * kTimeout;
  asio::io_context io;
  auto guest = demo::make_guest();
  std::vector<std::string> logs;
  ServerOptions o = test_options();
  o.handshake_timeout = kTimeout;
  o.log = [&](std::string_view line) { logs.emplace_back(line); };
  bool speak = true;
  SUBCASE("qSupported in time") {}
  SUBCASE("handshake_timeout 0: a silent client may stay") {
    o.handshake_timeout = std::chrono::milliseconds(0);
    speak = false;
  }
  Server server(io, *guest, o);
  REQUIRE(server.start());
  TcpClient client(io);
  REQUIRE_FALSE(client.connect(endpoint_of(server)));
  if (speak) CHECK(client.request(qsupported()).find("PacketSize=") != std::string::npos);
  run_for(io, kIdle);
  CHECK_FALSE(client.eof());
  CHECK(client.request("qC") == "QC1");
  CHECK(count_containing(logs, "dropped") == 0);
}

TEST_CASE("server: once counts only a client that sent a packet") {
  asio::io_context io;
  auto guest = demo::make_guest();
  ServerOptions o = test_options();
  o.once = true;
  bool stopped = false;
  o.on_stopped = [&] { stopped = true; };
  Server server(io, *guest, o);
  REQUIRE(server.start());
  const auto ep = endpoint_of(server);
  {
    TcpClient probe(io);  // a port probe: connects and leaves without a word
    REQUIRE_FALSE(probe.connect(ep));
  }
  run_until(io, [&] { return server.sessions_served() == 1; }, "the probe's session to end");
  CHECK_FALSE(stopped);
  TcpClient client(io);
  REQUIRE_FALSE(client.connect(ep));
  CHECK(client.request("D") == "OK");
  client.until_eof();
  run_until(io, [&] { return stopped; }, "on_stopped");
}

// ---- is_loopback_host (serve warns about any other --host) ----

TEST_CASE("server: is_loopback_host") {
  for (const char* host :
       {"127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "localhost", "LocalHost", "::ffff:127.0.0.1"}) {
    CAPTURE(host);
    CHECK(is_loopback_host(host));
  }
  for (const char* host : {"0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "128.0.0.1", "126.255.255.255", "::2",
                           "fe80::1", "::ffff:10.0.0.1", "example.com", "localhost.example.com", ""}) {
    CAPTURE(host);
    CHECK_FALSE(is_loopback_host(host));
  }
}

TEST_SUITE_END();
