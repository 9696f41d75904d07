#include "backends/qemu/rsp_client.h"

#include <cerrno>
#include <charconv>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

#include "rsp/hex.h"

namespace s390b::qemu {

namespace {

using Clock = std::chrono::steady_clock;

// A reply the stub keeps rejecting with `-` is not worth more tries than GDB gives it.
constexpr int max_retransmissions = 3;

std::string errno_text(int e) { return std::strerror(e); }

// Connects a non-blocking socket within the deadline, then makes it blocking again.
tl::expected<int, std::string> connect_with_deadline(int fd, const sockaddr* addr, socklen_t len,
                                                     std::chrono::milliseconds timeout) {
  const int flags = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  if (::connect(fd, addr, len) != 0) {
    if (errno != EINPROGRESS) return tl::unexpected(errno_text(errno));
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n == 0) return tl::unexpected(fmt::format("no answer within {} ms", timeout.count()));
    if (n < 0) return tl::unexpected(errno_text(errno));
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) return tl::unexpected(errno_text(err));
  }
  fcntl(fd, F_SETFL, flags);
  return fd;
}

}  // namespace

tl::expected<Endpoint, std::string> Endpoint::parse(std::string_view text) {
  Endpoint e;
  if (text.starts_with("unix:")) {
    e.unix_path = std::string(text.substr(5));
    if (e.unix_path.empty()) return tl::unexpected(std::string("unix: needs a socket path"));
    if (e.unix_path.size() >= sizeof(sockaddr_un::sun_path))
      return tl::unexpected(fmt::format("socket path too long ({} bytes): {}", e.unix_path.size(), e.unix_path));
    return e;
  }
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return tl::unexpected(fmt::format("'{}': expected HOST:PORT or unix:PATH", text));
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc{} || ptr != port.data() + port.size() || value == 0 || value > 65535)
    return tl::unexpected(fmt::format("'{}': the port must be 1-65535", text));
  e.host = host.empty() ? "localhost" : std::string(host);
  e.port = static_cast<std::uint16_t>(value);
  return e;
}

std::string Endpoint::describe() const {
  if (!unix_path.empty()) return "unix:" + unix_path;
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

tl::expected<std::string, std::string> expand_run_length(std::string_view wire) {
  if (wire.find('*') == std::string_view::npos) return std::string(wire);
  std::string out;
  out.reserve(wire.size());
  for (std::size_t i = 0; i < wire.size(); ++i) {
    if (wire[i] != '*') {
      out.push_back(wire[i]);
      continue;
    }
    if (out.empty() || i + 1 >= wire.size()) return tl::unexpected(std::string("a run-length '*' without a byte to repeat"));
    const int count = static_cast<unsigned char>(wire[++i]) - 29;
    if (count < 3) return tl::unexpected(fmt::format("run-length count byte 0x{:02x} is invalid", wire[i]));
    out.append(static_cast<std::size_t>(count), out.back());
  }
  return out;
}

tl::expected<std::unique_ptr<RspClient>, std::string> RspClient::connect(const Endpoint& endpoint,
                                                                         std::chrono::milliseconds timeout) {
  const std::string where = endpoint.describe();
  int fd = -1;
  if (!endpoint.unix_path.empty()) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return tl::unexpected(fmt::format("{}: {}", where, errno_text(errno)));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, endpoint.unix_path.data(), endpoint.unix_path.size());
    auto r = connect_with_deadline(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout);
    if (!r) {
      ::close(fd);
      return tl::unexpected(fmt::format("cannot connect to {}: {}", where, r.error()));
    }
  } else {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string port = std::to_string(endpoint.port);
    if (int rc = ::getaddrinfo(endpoint.host.c_str(), port.c_str(), &hints, &found); rc != 0)
      return tl::unexpected(fmt::format("cannot resolve {}: {}", where, gai_strerror(rc)));
    std::string last = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
      fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (fd < 0) continue;
      auto r = connect_with_deadline(fd, a->ai_addr, a->ai_addrlen, timeout);
      if (r) break;
      last = r.error();
      ::close(fd);
      fd = -1;
    }
    ::freeaddrinfo(found);
    if (fd < 0) return tl::unexpected(fmt::format("cannot connect to {}: {}", where, last));
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  std::unique_ptr<RspClient> client(new RspClient(fd, endpoint));
  // QEMU does not offer no-ack mode (7.2 and 10.x answer with an empty packet); a stub that
  // does saves two bytes and a wake-up per packet.
  // QEMU stops the guest when a client connects and may report that stop at once,
  // unasked (`T02thread:01;`): skip stop replies until the answer to the first request.
  if (auto w = client->write_packet("QStartNoAckMode"); !w) return tl::unexpected(fmt::format("{}: {}", where, w.error()));
  const auto deadline = Clock::now() + timeout;
  tl::expected<std::string, std::string> r;
  for (int skipped = 0;; ++skipped) {
    r = client->read_reply(deadline, nullptr);
    if (!r) return tl::unexpected(fmt::format("{}: not a gdbstub: {}", where, client->failure()));
    const bool stop = r->size() >= 3 && (r->front() == 'T' || r->front() == 'S') &&
                      rsp::hex_digit_value((*r)[1]) >= 0 && rsp::hex_digit_value((*r)[2]) >= 0;
    if (!stop || skipped >= 4) break;
  }
  if (*r == "OK") {
    client->no_ack_ = true;
    client->decoder_.set_verify_checksum(false);
  }
  return client;
}

RspClient::RspClient(int fd, Endpoint endpoint) : fd_(fd), endpoint_(std::move(endpoint)) {}

RspClient::~RspClient() {
  if (fd_ >= 0) ::close(fd_);
}

std::string RspClient::failure() const {
  std::lock_guard lk(failure_mutex_);
  return failure_;
}

tl::expected<void, std::string> RspClient::fail(std::string why) {
  {
    std::lock_guard lk(failure_mutex_);
    if (failure_.empty()) failure_ = why;
  }
  broken_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  return tl::unexpected(std::move(why));
}

void RspClient::shutdown() {
  std::lock_guard lk(failure_mutex_);
  if (failure_.empty()) failure_ = "the connection was closed by the bridge";
  broken_ = true;
  ::shutdown(fd_, SHUT_RDWR);
}

tl::expected<void, std::string> RspClient::write_all(std::string_view bytes) {
  std::lock_guard lk(write_mutex_);
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(fmt::format("writing to {}: {}", endpoint_.describe(), errno_text(errno)));
    }
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

tl::expected<void, std::string> RspClient::write_packet(std::string_view payload) {
  if (broken_) return tl::unexpected(failure());
  last_packet_ = rsp::encode_packet(payload);
  ++round_trips_;
  if (auto w = write_all(last_packet_); !w) return fail(w.error());
  return {};
}

tl::expected<void, std::string> RspClient::send(std::string_view payload) { return write_packet(payload); }

tl::expected<void, std::string> RspClient::interrupt() {
  if (broken_) return tl::unexpected(failure());
  if (auto w = write_all(std::string_view("\x03", 1)); !w) return fail(w.error());
  return {};
}

tl::expected<std::string, std::string> RspClient::read_packet(std::optional<Clock::time_point> deadline) {
  int naks = 0;
  std::string buffer(16384, '\0');
  for (;;) {
    std::string_view rest = pending_;
    while (auto ev = decoder_.next(rest)) {
      switch (ev->kind) {
        case rsp::FrameEventKind::Packet: {
          pending_.erase(0, pending_.size() - rest.size());
          if (!no_ack_) {
            if (auto w = write_all("+"); !w) return tl::unexpected(fail(w.error()).error());
          }
          return std::move(ev->payload);
        }
        case rsp::FrameEventKind::BadChecksum:
          if (auto w = write_all("-"); !w) return tl::unexpected(fail(w.error()).error());
          break;
        case rsp::FrameEventKind::Nak:
          if (last_packet_.empty())
            return tl::unexpected(fail(fmt::format("{} rejected a packet of a pipelined batch", endpoint_.describe())).error());
          if (++naks > max_retransmissions)
            return tl::unexpected(fail(fmt::format("{} rejected a packet {} times", endpoint_.describe(), naks)).error());
          if (auto w = write_all(last_packet_); !w) return tl::unexpected(fail(w.error()).error());
          break;
        case rsp::FrameEventKind::Overflow:
          return tl::unexpected(
              fail(fmt::format("{} sent a packet longer than {} bytes", endpoint_.describe(), max_reply)).error());
        case rsp::FrameEventKind::Ack:
        case rsp::FrameEventKind::Interrupt:
        case rsp::FrameEventKind::Noise: break;
      }
    }
    pending_.clear();

    int wait_ms = -1;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - Clock::now()).count();
      if (left <= 0) return tl::unexpected(fail(fmt::format("{} did not answer in time", endpoint_.describe())).error());
      wait_ms = static_cast<int>(left);
    }
    pollfd p{fd_, POLLIN, 0};
    const int n = ::poll(&p, 1, wait_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(fail(errno_text(errno)).error());
    }
    if (n == 0) continue;  // the deadline check above ends the wait
    const ssize_t got = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (got == 0) {
      if (broken_) return tl::unexpected(failure());
      return tl::unexpected(fail(fmt::format("{} closed the connection", endpoint_.describe())).error());
    }
    if (got < 0) {
      if (errno == EINTR) continue;
      if (broken_) return tl::unexpected(failure());
      return tl::unexpected(fail(fmt::format("reading from {}: {}", endpoint_.describe(), errno_text(errno))).error());
    }
    pending_.append(buffer.data(), static_cast<std::size_t>(got));
  }
}

tl::expected<std::string, std::string> RspClient::read_reply(std::optional<Clock::time_point> deadline,
                                                             std::string* console) {
  for (;;) {
    auto packet = read_packet(deadline);
    if (!packet) return packet;
    auto expanded = expand_run_length(*packet);
    if (!expanded) return tl::unexpected(fail(fmt::format("{}: {}", endpoint_.describe(), expanded.error())).error());
    // `O` + hex is console output (never a reply: no reply we ask for starts with O
    // except "OK", which has an odd length of non-hex).
    if (expanded->size() > 1 && expanded->front() == 'O' && *expanded != "OK") {
      auto text = rsp::hex_decode_text(std::string_view(*expanded).substr(1));
      if (text) {
        if (console) *console += *text;
        continue;
      }
    }
    auto unescaped = rsp::unescape_binary(*expanded);
    if (!unescaped) return tl::unexpected(fail(fmt::format("{} sent a malformed escape", endpoint_.describe())).error());
    return std::string(unescaped->begin(), unescaped->end());
  }
}

tl::expected<std::string, std::string> RspClient::request(std::string_view payload, std::string* console,
                                                          std::chrono::milliseconds timeout) {
  if (auto w = write_packet(payload); !w) return tl::unexpected(w.error());
  return read_reply(Clock::now() + timeout, console);
}

tl::expected<std::vector<std::string>, std::string> RspClient::request_batch(const std::vector<std::string>& payloads,
                                                                         std::chrono::milliseconds timeout) {
  if (broken_) return tl::unexpected(failure());
  std::string wire;
  for (const std::string& p : payloads) rsp::encode_packet_append(wire, p);
  // A `-` in the middle of a batch cannot say which packet to resend: only the last one
  // is kept, and a stub that naks (QEMU never does for a good checksum) breaks the batch.
  last_packet_.clear();
  round_trips_ += payloads.size();
  if (auto w = write_all(wire); !w) return tl::unexpected(fail(w.error()).error());
  const auto deadline = Clock::now() + timeout;
  std::vector<std::string> replies;
  replies.reserve(payloads.size());
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    auto r = read_reply(deadline, nullptr);
    if (!r) return tl::unexpected(r.error());
    replies.push_back(std::move(*r));
  }
  return replies;
}

tl::expected<std::string, std::string> RspClient::receive(std::optional<std::chrono::milliseconds> timeout,
                                                          std::string* console) {
  if (broken_) return tl::unexpected(failure());
  std::optional<Clock::time_point> deadline;
  if (timeout) deadline = Clock::now() + *timeout;
  return read_reply(deadline, console);
}

}  // namespace s390b::qemu
