// A fake GDB remote-protocol stub for the client side (backends/qemu/rsp_client.h): a
// thread with a listening socket (loopback TCP on port 0, or a unix socket) that speaks
// the wire protocol the way QEMU 7.2's gdbstub does -- acks every packet with `+`,
// expects `+` for its own packets, answers QStartNoAckMode with an empty packet -- and
// hands each request's payload to a handler that returns the reply packets.
//
//   FakeGdbStub stub(FakeGdbStub::Options{.handler = [](const std::string& p) {
//     return p == "g" ? FakeGdbStub::Replies{"00ff"} : FakeGdbStub::Replies{""};
//   }});
//   auto client = RspClient::connect(*Endpoint::parse(stub.endpoint()), 1s);
//
// Framing, checksums and binary unescaping are written here independently of rsp/codec,
// so a codec bug cannot hide behind itself. Reply packets are sent as given ("wire"
// payloads): a test escapes or run-length encodes them itself when that is the point.
// Connections are served one after another, each on the stub's thread; the handler runs
// on that thread without any lock held, so it may call send_packet()/close_connection().
// Everything observed (requests, acks, interrupts, problems) is recorded for the test
// thread, which waits for it with wait_for() (a condition variable, never a sleep).
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace s390b::test {

inline constexpr char kFakeHex[] = "0123456789abcdef";

inline std::uint8_t fake_checksum(std::string_view wire) {
  std::uint8_t sum = 0;
  for (char c : wire) sum = static_cast<std::uint8_t>(sum + static_cast<std::uint8_t>(c));
  return sum;
}

// `$` wire `#` cc, with the checksum off by one when `corrupt`.
inline std::string fake_frame(std::string_view wire, bool corrupt = false) {
  const std::uint8_t sum = static_cast<std::uint8_t>(fake_checksum(wire) + (corrupt ? 1 : 0));
  std::string out = "$";
  out += wire;
  out += '#';
  out += kFakeHex[sum >> 4];
  out += kFakeHex[sum & 0xf];
  return out;
}

inline int fake_hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline std::string fake_hex(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    out += kFakeHex[static_cast<std::uint8_t>(c) >> 4];
    out += kFakeHex[static_cast<std::uint8_t>(c) & 0xf];
  }
  return out;
}

// Hex -> bytes; nullopt on anything else.
inline std::optional<std::string> fake_unhex(std::string_view text) {
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = fake_hex_value(text[i]), lo = fake_hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

// An `O` console packet carrying `text`.
inline std::string console_packet(std::string_view text) { return "O" + fake_hex(text); }

class FakeGdbStub {
 public:
  using Replies = std::vector<std::string>;
  using Handler = std::function<Replies(const std::string& payload)>;

  struct Options {
    // payload -> the packets to send after the `+` (none: the reply comes later, if ever).
    Handler handler = [](const std::string&) { return Replies{""}; };
    // 0x03 -> the packets to send (QEMU: the stop reply).
    std::function<Replies()> on_interrupt = [] { return Replies{}; };
    // Packets sent unasked as soon as a client connects (QEMU's `T02thread:01;`).
    Replies greeting;
    bool accept_no_ack = false;  // QEMU 7.2: no (an empty reply)
    int nak_requests = 0;        // answer the first N packets with `-` instead of handling them
    int corrupt_replies = 0;     // send the first N packets with a wrong checksum
    bool silent = false;         // record packets, never ack or answer them
    // Asked first for every packet: a value drops the packet unacked and unrecorded (it
    // goes to Snapshot::dropped) and sends those packets instead. QEMU does this while the
    // guest runs: any byte from the client stops it (gdbstub.c, gdb_read_byte).
    std::function<std::optional<Replies>(const std::string& payload)> intercept;
    std::string unix_path;       // listen here instead of 127.0.0.1:0
  };

  explicit FakeGdbStub(Options options) : options_(std::move(options)) {
    if (options_.unix_path.empty()) {
      listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(listen_fd_ >= 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      socklen_t len = sizeof addr;
      REQUIRE(::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
      endpoint_ = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
    } else {
      listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(listen_fd_ >= 0);
      sockaddr_un addr{};
      addr.sun_family = AF_UNIX;
      REQUIRE(options_.unix_path.size() < sizeof addr.sun_path);
      std::memcpy(addr.sun_path, options_.unix_path.data(), options_.unix_path.size());
      ::unlink(options_.unix_path.c_str());
      REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
      endpoint_ = "unix:" + options_.unix_path;
    }
    REQUIRE(::listen(listen_fd_, 4) == 0);
    thread_ = std::thread([this] { run(); });
  }

  ~FakeGdbStub() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    if (!options_.unix_path.empty()) ::unlink(options_.unix_path.c_str());
  }
  FakeGdbStub(const FakeGdbStub&) = delete;
  FakeGdbStub& operator=(const FakeGdbStub&) = delete;

  // "127.0.0.1:PORT" or "unix:PATH", as Endpoint::parse takes it.
  const std::string& endpoint() const { return endpoint_; }

  // Sends a packet to the client now (any thread): a stop reply for a running target.
  void send_packet(std::string_view wire) { send_framed(wire); }
  // Sends bytes as given (garbage, a truncated frame).
  void send_raw(std::string_view bytes) {
    std::lock_guard wl(write_mutex_);
    int fd = -1;
    {
      std::lock_guard lk(mutex_);
      fd = conn_fd_;
    }
    if (fd < 0) return;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Ends the current connection as QEMU quitting would (any thread, the handler too).
  void close_connection() {
    std::lock_guard lk(mutex_);
    if (conn_fd_ >= 0) ::shutdown(conn_fd_, SHUT_RDWR);
  }

  // What the stub has seen so far.
  struct Snapshot {
    std::vector<std::string> received;
    std::vector<std::string> sent;     // packets, as framed
    std::vector<std::string> dropped;  // packets `intercept` took
    int acks = 0, naks = 0, interrupts = 0, packets_sent = 0, connections = 0, closed = 0;
    bool no_ack = false;
  };
  // Waits until `pred` holds for what the stub has seen (evaluated under the stub's lock:
  // it must not call the stub); false on timeout.
  bool wait_for(const std::function<bool(const Snapshot&)>& pred,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
    std::unique_lock lk(mutex_);
    return cv_.wait_for(lk, timeout, [&] { return pred(state_); });
  }
  Snapshot snapshot() const {
    std::lock_guard lk(mutex_);
    return state_;
  }
  std::vector<std::string> received() const { return snapshot().received; }
  // Protocol violations by the client (bad checksums, stray bytes), for a CHECK.
  std::vector<std::string> problems() const {
    std::lock_guard lk(mutex_);
    return problems_;
  }
  // Packets received whose payload starts with `prefix`.
  std::vector<std::string> received_starting(std::string_view prefix) const {
    std::vector<std::string> out;
    for (auto& p : received())
      if (p.starts_with(prefix)) out.push_back(p);
    return out;
  }

 private:
  void note(const std::function<void(Snapshot&)>& change) {
    {
      std::lock_guard lk(mutex_);
      change(state_);
    }
    cv_.notify_all();
  }
  void problem(std::string what) {
    {
      std::lock_guard lk(mutex_);
      problems_.push_back(std::move(what));
    }
    cv_.notify_all();
  }

  void send_framed(std::string_view wire) {
    bool corrupt = false;
    {
      std::lock_guard lk(mutex_);
      if (options_.corrupt_replies > 0) {
        --options_.corrupt_replies;
        corrupt = true;
      }
      last_sent_ = fake_frame(wire);
      ++state_.packets_sent;
      state_.sent.push_back(last_sent_);
    }
    cv_.notify_all();
    send_raw(fake_frame(wire, corrupt));
  }

  void run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      {
        std::lock_guard lk(mutex_);
        conn_fd_ = fd;
        state_.no_ack = false;
        ++state_.connections;
      }
      cv_.notify_all();
      serve(fd);
      {
        // Under the write lock too: a writer holding the descriptor must not see it reused.
        std::lock_guard wl(write_mutex_);
        std::lock_guard lk(mutex_);
        conn_fd_ = -1;
        ++state_.closed;
        ::close(fd);
      }
      cv_.notify_all();
    }
  }

  bool no_ack() const {
    std::lock_guard lk(mutex_);
    return state_.no_ack;
  }

  void serve(int fd) {
    for (const std::string& g : options_.greeting) send_framed(g);
    enum class S { idle, payload, sum1, sum2 } s = S::idle;
    std::string body;
    char sum_hi = 0;
    char buf[65536];
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      for (ssize_t i = 0; i < n; ++i) {
        const char c = buf[i];
        switch (s) {
          case S::idle:
            if (c == '+') {
              note([](Snapshot& st) { ++st.acks; });
            } else if (c == '-') {
              note([](Snapshot& st) { ++st.naks; });
              std::string again;
              {
                std::lock_guard lk(mutex_);
                again = last_sent_;
              }
              send_raw(again);
            } else if (c == '\x03') {
              note([](Snapshot& st) { ++st.interrupts; });
              for (const std::string& r : options_.on_interrupt()) send_framed(r);
            } else if (c == '$') {
              body.clear();
              s = S::payload;
            } else {
              problem(std::string("stray byte ") + std::to_string(static_cast<unsigned char>(c)));
            }
            break;
          case S::payload:
            if (c == '#') {
              s = S::sum1;
            } else {
              body += c;
            }
            break;
          case S::sum1:
            sum_hi = c;
            s = S::sum2;
            break;
          case S::sum2: {
            s = S::idle;
            const int hi = fake_hex_value(sum_hi), lo = fake_hex_value(c);
            const bool good = hi >= 0 && lo >= 0 && static_cast<std::uint8_t>(hi << 4 | lo) == fake_checksum(body);
            if (!good) {
              problem("bad checksum on " + body.substr(0, 40));
              if (!no_ack()) send_raw("-");
              break;
            }
            packet(body);
            break;
          }
        }
      }
    }
  }

  void packet(const std::string& wire) {
    bool nak = false;
    {
      std::lock_guard lk(mutex_);
      if (options_.nak_requests > 0) {
        --options_.nak_requests;
        nak = true;
      }
    }
    if (nak) {
      send_raw("-");
      return;
    }
    if (options_.silent) {
      note([&](Snapshot& st) { st.received.push_back(wire); });
      return;
    }
    if (options_.intercept) {
      if (auto instead = options_.intercept(wire)) {
        note([&](Snapshot& st) { st.dropped.push_back(wire); });
        for (const std::string& r : *instead) send_framed(r);
        return;
      }
    }
    if (!no_ack()) send_raw("+");
    std::string payload;
    for (std::size_t k = 0; k < wire.size(); ++k) {
      if (wire[k] == '}' && k + 1 < wire.size()) {
        payload += static_cast<char>(wire[++k] ^ 0x20);
      } else {
        payload += wire[k];
      }
    }
    note([&](Snapshot& st) { st.received.push_back(payload); });
    if (payload == "QStartNoAckMode") {
      send_framed(options_.accept_no_ack ? "OK" : "");
      if (options_.accept_no_ack) note([](Snapshot& st) { st.no_ack = true; });
      return;
    }
    for (const std::string& r : options_.handler(payload)) send_framed(r);
  }

  Options options_;
  std::string endpoint_;
  int listen_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mutex_;  // everything below
  std::condition_variable cv_;
  int conn_fd_ = -1;
  Snapshot state_;
  std::vector<std::string> problems_;
  std::string last_sent_;  // framed, for a retransmission on `-`
  std::mutex write_mutex_;  // whole packets, one writer at a time
};

}  // namespace s390b::test
