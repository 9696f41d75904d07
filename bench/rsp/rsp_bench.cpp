// s390bridge_rsp_bench: GDB's own throughput through the bridge against the protocol
// ceiling, and small-packet round trips, in one run.
//
//   s390bridge_rsp_bench --bridge build/cli/s390bridge [--gdb gdb-multiarch]
//                        [--gdb-root DIR] [--label NAME] [--roundtrips N] [--ceiling-only]
//
// 1. Starts `s390bridge serve --demo` on a free port.
// 2. Starts, on a thread of this process, a minimal RSP responder: the same PacketSize the
//    bridge advertises, no translation, 64 MiB served from a flat buffer holding the very
//    bytes the demo guest has at absolute 0 (so both dumps must be identical).
// 3. Runs `gdb --batch ... dump binary memory` of the 64 MiB at 0x30000000000 (the demo
//    kernel's 2 GiB EDAT-2 frame: every page goes through the bridge's DAT walk) against
//    each, timing only the dump (GDB's python clock around the command), and compares the
//    two files byte for byte.
// 4. Times N `m` round trips (4 bytes, no-ack mode) from a raw client, against each.
//
// GDB picks its packet by what the stub advertises: GDB 13 reads with hex `m`, GDB 16
// with binary `x` (both stubs advertise binary-upload+). --gdb-root runs the given gdb
// inside a chroot (Debian trixie's GDB 16 on a bookworm host); bench/gdb-throughput
// prepares it. GDB runs in -batch mode, which carries on after a failed command, so a
// dump counts only when both files hold all 64 MiB and are identical.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/read.hpp>
#include <asio/write.hpp>
#include <fmt/format.h>

#include "backends/emulated/demo_guest.h"
#include "rsp/codec.h"
#include "rsp/hex.h"

namespace {

using asio::ip::tcp;
using namespace s390b;
using namespace s390b::rsp;

constexpr std::uint64_t kDumpAddress = demo::region3_frame_va;  // -> absolute 0, EDAT-2 frame
constexpr std::uint64_t kDumpBytes = 64ull << 20;

// ---------------------------------------------------------------------------------------
// The ceiling: answers exactly what GDB's connect sequence and memory reads need.

class CeilingResponder {
 public:
  CeilingResponder(std::vector<std::uint8_t> memory, std::uint64_t base, std::size_t packet_size)
      : memory_(std::move(memory)), base_(base), packet_size_(packet_size),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { run(); });
  }
  ~CeilingResponder() {
    stopping_ = true;
    std::error_code ignored;
    // Wake a blocking accept with a throwaway connection.
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port()), ignored);
    thread_.join();
  }
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void run() {
    while (!stopping_) {
      tcp::socket s(io_);
      std::error_code ec;
      acceptor_.accept(s, ec);
      if (ec || stopping_) return;
      s.set_option(tcp::no_delay(true), ec);
      serve(s);
    }
  }

  void serve(tcp::socket& s) {
    FrameDecoder decoder(packet_size_);
    bool no_ack = false;
    std::vector<char> buf(64 * 1024);
    std::string out;
    for (;;) {
      std::error_code ec;
      const std::size_t n = s.read_some(asio::buffer(buf), ec);
      if (ec) return;
      std::string_view in(buf.data(), n);
      out.clear();
      while (auto ev = decoder.next(in)) {
        if (ev->kind != FrameEventKind::Packet) continue;
        if (!no_ack) out += '+';
        const std::string_view p = ev->payload;
        if (p == "QStartNoAckMode") {
          encode_packet_append(out, "OK");
          no_ack = true;
          decoder.set_verify_checksum(false);
        } else {
          encode_packet_append(out, answer(p));
        }
        if (p == "D" || p == "k") {
          asio::write(s, asio::buffer(out), ec);
          return;
        }
      }
      asio::write(s, asio::buffer(out), ec);
      if (ec) return;
    }
  }

  std::string answer(std::string_view p) const {
    if (p.starts_with("qSupported"))
      return fmt::format("PacketSize={:x};QStartNoAckMode+;binary-upload+", packet_size_);
    if (p == "?") return "S05";
    if (p == "g") return std::string(2 * (16 + 8 * 16), '0');  // pswm, pswa, r0-r15
    if (p == "qAttached") return "1";
    if (p.starts_with("Hg") || p.starts_with("Hc") || p == "D") return "OK";
    if (p.starts_with('m') || p.starts_with('x')) return read(p);
    return "";
  }

  // m/x ADDR,LEN: hex, or `b` + binary; E0e outside the buffer.
  std::string read(std::string_view p) const {
    const bool binary = p[0] == 'x';
    const std::size_t comma = p.find(',');
    if (comma == std::string_view::npos) return "E16";
    auto addr = parse_hex_u64(p.substr(1, comma - 1));
    auto len = parse_hex_u64(p.substr(comma + 1));
    if (!addr || !len) return "E16";
    if (*addr < base_ || *addr - base_ >= memory_.size()) return "E0e";
    const std::uint64_t max = binary ? packet_size_ : packet_size_ / 2;
    const std::size_t n = static_cast<std::size_t>(std::min({*len, max, memory_.size() - (*addr - base_)}));
    const std::span<const std::uint8_t> bytes(memory_.data() + (*addr - base_), n);
    if (!binary) return hex_encode(bytes);
    std::string out = "b";  // encode_packet escapes what needs it
    out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return out;
  }

  std::vector<std::uint8_t> memory_;
  std::uint64_t base_;
  std::size_t packet_size_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

// ---------------------------------------------------------------------------------------
// The bridge as a child process.

class BridgeProcess {
 public:
  explicit BridgeProcess(const std::string& bridge) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      if (const int null = open("/dev/null", O_WRONLY); null >= 0) dup2(null, STDERR_FILENO);  // connection log
      close(out[0]);
      close(out[1]);
      execl(bridge.c_str(), bridge.c_str(), "serve", "--demo", "--port", "0", static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    // Read the banner up to the "listening on 127.0.0.1:PORT" line.
    std::string text;
    char c;
    while (read(out[0], &c, 1) == 1) {
      text += c;
      const auto at = text.find("listening on 127.0.0.1:");
      if (at != std::string::npos && text.back() == '\n') {
        port_ = static_cast<std::uint16_t>(std::stoul(text.substr(at + 23)));
        break;
      }
    }
    close(out[0]);
    if (port_ == 0) throw std::runtime_error("the bridge did not report its port:\n" + text);
  }
  ~BridgeProcess() {
    kill(pid_, SIGTERM);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

// ---------------------------------------------------------------------------------------
// A raw client.

class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    socket_.set_option(tcp::no_delay(true));
  }
  // Sends one packet and returns the reply's payload (acking it in ack mode).
  std::string request(std::string_view payload) {
    const std::string wire = encode_packet(payload);
    asio::write(socket_, asio::buffer(wire));
    for (;;) {
      while (auto ev = decoder_.next(pending_)) {
        if (ev->kind != FrameEventKind::Packet) continue;
        if (ack_mode_) asio::write(socket_, asio::buffer("+", 1));
        if (payload == "QStartNoAckMode" && ev->payload == "OK") ack_mode_ = false;
        return ev->payload;
      }
      const std::size_t n = socket_.read_some(asio::buffer(buf_));
      storage_.assign(buf_.data(), n);
      pending_ = storage_;
    }
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
  FrameDecoder decoder_{1 << 20};
  std::array<char, 64 * 1024> buf_{};
  std::string storage_;
  std::string_view pending_;
  bool ack_mode_ = true;
};

double roundtrips_per_second(std::uint16_t port, unsigned count) {
  RawClient c(port);
  c.request("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
  c.request("QStartNoAckMode");
  const std::string m = fmt::format("m{:x},4", kDumpAddress);
  const auto start = std::chrono::steady_clock::now();
  for (unsigned i = 0; i < count; ++i) {
    if (c.request(m).size() != 8) throw std::runtime_error("a round trip failed");
  }
  const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  c.request("D");
  return count / took.count();
}

std::size_t advertised_packet_size(std::uint16_t port) {
  RawClient c(port);
  const std::string s = c.request("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386");
  const auto at = s.find("PacketSize=");
  if (at == std::string::npos) throw std::runtime_error("no PacketSize in " + s);
  c.request("D");
  return std::stoul(s.substr(at + 11), nullptr, 16);
}

// ---------------------------------------------------------------------------------------
// GDB.

struct GdbRun {
  double seconds = 0;
  std::string version;
};

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string capture(const std::string& command) {
  std::string out;
  FILE* f = popen(command.c_str(), "r");
  if (!f) throw std::runtime_error("cannot run: " + command);
  std::array<char, 4096> b{};
  while (std::size_t n = fread(b.data(), 1, b.size(), f)) out.append(b.data(), n);
  const int status = pclose(f);
  if (status != 0) throw std::runtime_error(fmt::format("'{}' failed ({}):\n{}", command, status, out));
  return out;
}

// `gdb_command` is the gdb to run (possibly `chroot DIR gdb-multiarch`); `path` is the dump
// file as that gdb sees it.
GdbRun gdb_dump(const std::string& gdb_command, std::uint16_t port, const std::string& path) {
  const std::vector<std::string> ex = {
      "set architecture s390:64-bit",
      "set endian big",
      "set remotetimeout 60",
      fmt::format("target remote 127.0.0.1:{}", port),
      "python import time; t0 = time.monotonic()",
      fmt::format("dump binary memory {} {:#x} {:#x}", path, kDumpAddress, kDumpAddress + kDumpBytes),
      "python print('dump-seconds', time.monotonic() - t0)",
      "disconnect",
  };
  std::string cmd = gdb_command + " -nx -batch";
  for (const auto& e : ex) cmd += " -ex " + shell_quote(e);
  const std::string out = capture(cmd + " 2>&1");
  const auto at = out.find("dump-seconds ");
  if (at == std::string::npos) throw std::runtime_error("gdb did not finish the dump:\n" + out);
  return GdbRun{std::stod(out.substr(at + 13)), {}};
}

std::vector<std::uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("GDB dump throughput and RSP round trips: the bridge against a minimal responder");
  std::string bridge, gdb = "gdb-multiarch", gdb_root, label;
  unsigned roundtrips = 20000;
  app.add_option("--bridge", bridge, "the s390bridge executable")->required();
  app.add_option("--gdb", gdb, "the gdb to run (default gdb-multiarch)");
  app.add_option("--gdb-root", gdb_root, "run gdb chrooted in this directory (GDB 16 from a trixie root)");
  app.add_option("--label", label, "a name for this gdb in the report");
  app.add_option("--roundtrips", roundtrips, "small m round trips per target (0: skip)");
  bool ceiling_only = false;
  app.add_flag("--ceiling-only", ceiling_only, "only serve the minimal responder (until stdin closes), for debugging");
  CLI11_PARSE(app, argc, argv);

  try {
    const std::string gdb_command = gdb_root.empty() ? gdb : "chroot " + shell_quote(gdb_root) + " " + gdb;
    const std::string version = capture(gdb_command + " --version | head -n1");
    std::cout << fmt::format("gdb: {}", version);

    BridgeProcess bridge_process(bridge);
    const std::size_t packet_size = advertised_packet_size(bridge_process.port());

    std::vector<std::uint8_t> memory(kDumpBytes);
    {
      auto guest = demo::make_guest();
      if (!guest->storage().read(0, memory)) throw std::runtime_error("the demo guest lacks 64 MiB");
    }
    CeilingResponder ceiling(std::move(memory), kDumpAddress, packet_size);
    if (ceiling_only) {
      std::cout << fmt::format("ceiling responder on 127.0.0.1:{} (close stdin to stop)", ceiling.port()) << std::endl;
      std::string ignored;
      while (std::getline(std::cin, ignored)) {
      }
      return 0;
    }
    std::cout << fmt::format("PacketSize {:#x}; dump of {} MiB at {:#x}\n", packet_size, kDumpBytes >> 20, kDumpAddress);

    const std::string dir = gdb_root.empty() ? "/tmp" : gdb_root + "/tmp";
    const std::string name_bridge = fmt::format("s390b-bench-{}-bridge.bin", getpid());
    const std::string name_ceiling = fmt::format("s390b-bench-{}-ceiling.bin", getpid());
    // Alternate the two targets so drift of the machine hits both alike; best of 3 each.
    double best_bridge = 1e9, best_ceiling = 1e9;
    for (int round = 0; round < 3; ++round) {
      best_ceiling = std::min(best_ceiling, gdb_dump(gdb_command, ceiling.port(), "/tmp/" + name_ceiling).seconds);
      best_bridge = std::min(best_bridge, gdb_dump(gdb_command, bridge_process.port(), "/tmp/" + name_bridge).seconds);
    }
    const auto a = read_file(dir + "/" + name_bridge), b = read_file(dir + "/" + name_ceiling);
    if (a != b || a.size() != kDumpBytes) {
      const auto diff = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
      throw std::runtime_error(fmt::format("the two dumps differ ({} and {} bytes, first at offset {:#x}); kept: {}/{} {}",
                                           a.size(), b.size(), diff.first - a.begin(), dir, name_bridge, name_ceiling));
    }
    std::remove((dir + "/" + name_bridge).c_str());
    std::remove((dir + "/" + name_ceiling).c_str());

    const double mb = static_cast<double>(kDumpBytes) / 1e6;
    const double ratio = best_ceiling / best_bridge;
    const std::string who = label.empty() ? gdb : label;
    std::cout << fmt::format("{:<10} dump 64 MiB  ceiling {:6.2f} s {:6.1f} MB/s   bridge {:6.2f} s {:6.1f} MB/s   "
                             "bridge/ceiling {:.2f} ({} the 10% target); dumps identical\n",
                             who, best_ceiling, mb / best_ceiling, best_bridge, mb / best_bridge, ratio,
                             ratio >= 0.9 ? "within" : "OUTSIDE");
    if (roundtrips > 0) {
      const double rt_ceiling = roundtrips_per_second(ceiling.port(), roundtrips);
      const double rt_bridge = roundtrips_per_second(bridge_process.port(), roundtrips);
      std::cout << fmt::format("raw client m,4 round trips: ceiling {:.0f}/s   bridge {:.0f}/s   bridge/ceiling {:.2f}\n",
                               rt_ceiling, rt_bridge, rt_bridge / rt_ceiling);
    }
  } catch (const std::exception& e) {
    std::cerr << "s390bridge_rsp_bench: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
