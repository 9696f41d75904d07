// A client of a GDB remote-protocol stub (QEMU's gdbstub): the bridge sits between GDB and
// QEMU and talks to QEMU the way GDB would (GDB manual, "Remote Protocol" appendix).
//
// Blocking and small on purpose: one socket, one request at a time. QEMU's stub takes one
// client, answers every packet in order, and in all-stop mode sends nothing while the
// guest runs except the stop reply (and `O` console output). So:
//
//   auto c = RspClient::connect(Endpoint::parse("127.0.0.1:1234").value(), 5s);
//   auto regs = (*c)->request("g");               // reply payload, or an error text
//   (*c)->send("vCont;c");                        // no reply until the guest stops
//   auto stop = (*c)->receive(std::nullopt);      // blocks: "T05thread:01;"
//
// Threads: request/send/receive from one thread at a time (the backend serialises them);
// interrupt() and shutdown() may be called from any thread while another blocks in
// receive(). Acks: QEMU (7.2 and later) does not offer QStartNoAckMode, so every packet
// is acknowledged both ways; the client tries the mode once and uses it where offered.
// Every wait has a deadline except the wait for a stop, which shutdown() ends.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "rsp/codec.h"

namespace s390b::qemu {

// Where the stub listens: "HOST:PORT", ":PORT" (localhost), "[V6ADDR]:PORT" or "unix:PATH".
struct Endpoint {
  std::string host;       // empty for a unix socket
  std::uint16_t port = 0;
  std::string unix_path;  // set for a unix socket

  static tl::expected<Endpoint, std::string> parse(std::string_view text);
  std::string describe() const;
};

class RspClient {
 public:
  // The longest a reply may take (QEMU answers in microseconds; a monitor command such as
  // dump-guest-memory of a large guest takes longer, and passes its own deadline).
  static constexpr std::chrono::milliseconds default_timeout{10000};
  // Largest packet accepted from the stub: QEMU's is 4 KiB (7.2) or 128 KiB (10.x);
  // anything longer is garbage and ends the connection.
  static constexpr std::size_t max_reply = 1u << 20;

  static tl::expected<std::unique_ptr<RspClient>, std::string> connect(
      const Endpoint& endpoint, std::chrono::milliseconds timeout = default_timeout);
  ~RspClient();
  RspClient(const RspClient&) = delete;
  RspClient& operator=(const RspClient&) = delete;

  // Sends `payload` (escaped and framed here) and returns the reply's payload with binary
  // escapes and run-length encoding undone. `O` console packets that arrive first are
  // appended to `console` (hex-decoded) when given, else dropped. An error means the
  // connection is unusable (closed, timed out, garbage): broken() is then true.
  tl::expected<std::string, std::string> request(std::string_view payload, std::string* console = nullptr,
                                                 std::chrono::milliseconds timeout = default_timeout);
  // Sends every packet at once and then reads one reply per packet, in order: one round
  // trip instead of N (the stub handles packets in the order they arrive).
  tl::expected<std::vector<std::string>, std::string> request_batch(const std::vector<std::string>& payloads,
                                                                    std::chrono::milliseconds timeout = default_timeout);
  // Sends a packet whose reply comes later (c, s, vCont: the stop reply).
  tl::expected<void, std::string> send(std::string_view payload);
  // Waits for the next packet (a stop reply), collecting `O` output as request() does.
  // nullopt waits until a packet comes or shutdown() is called.
  tl::expected<std::string, std::string> receive(std::optional<std::chrono::milliseconds> timeout,
                                                 std::string* console = nullptr);
  // Sends the interrupt byte (GDB's Ctrl-C). Any thread.
  tl::expected<void, std::string> interrupt();
  // Ends the connection: a receive() blocked in another thread returns an error. Any thread.
  void shutdown();

  bool broken() const { return broken_.load(); }
  // Why it broke ("QEMU closed the connection", "no reply within 10000 ms" ...).
  std::string failure() const;
  const Endpoint& endpoint() const { return endpoint_; }
  // Whether QStartNoAckMode was accepted.
  bool no_ack() const { return no_ack_; }
  // Packets exchanged so far (for benchmarks and the trace).
  std::uint64_t round_trips() const { return round_trips_; }

 private:
  RspClient(int fd, Endpoint endpoint);
  tl::expected<void, std::string> write_all(std::string_view bytes);
  tl::expected<void, std::string> write_packet(std::string_view payload);
  // Reads until one frame is complete; acks it (ack mode). Handles `+`/`-` for the packet
  // last written (retransmits on `-`, at most a few times).
  tl::expected<std::string, std::string> read_packet(std::optional<std::chrono::steady_clock::time_point> deadline);
  tl::expected<std::string, std::string> read_reply(std::optional<std::chrono::steady_clock::time_point> deadline,
                                                    std::string* console);
  tl::expected<void, std::string> fail(std::string why);

  int fd_ = -1;
  Endpoint endpoint_;
  rsp::FrameDecoder decoder_{max_reply};
  std::string pending_;      // bytes read but not yet decoded
  std::string last_packet_;  // framed, for a retransmission on `-`
  bool no_ack_ = false;
  std::uint64_t round_trips_ = 0;
  std::mutex write_mutex_;   // interrupt() writes from other threads
  std::atomic<bool> broken_{false};
  mutable std::mutex failure_mutex_;
  std::string failure_;
};

// Run-length decoding of a reply (`X*N`: N - 29 more copies of X; GDB manual, "Overview").
tl::expected<std::string, std::string> expand_run_length(std::string_view wire);

}  // namespace s390b::qemu
