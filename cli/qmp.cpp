#include "cli/qmp.h"

#include <cerrno>
#include <cstring>

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

namespace s390b::cli {

namespace {

// A QMP reply larger than this is not one we asked for (query-status is ~100 bytes).
constexpr std::size_t max_message = 1u << 20;

int connect_unix(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return -1;
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return -1;
  }
  return fd;
}

int connect_tcp(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  return fd;
}

}  // namespace

tl::expected<std::unique_ptr<QmpClient>, std::string> QmpClient::connect(const std::string& where,
                                                                         std::chrono::milliseconds timeout) {
  // A path with a colon is still a path when it exists as a socket; HOST:PORT otherwise.
  int fd = connect_unix(where);
  if (fd < 0) {
    const auto colon = where.rfind(':');
    if (colon != std::string::npos) fd = connect_tcp(where.substr(0, colon), where.substr(colon + 1));
  }
  if (fd < 0) return tl::unexpected(fmt::format("QMP {}: cannot connect: {}", where, std::strerror(errno)));
  std::unique_ptr<QmpClient> c(new QmpClient(fd, where, timeout));
  auto greeting = c->read_message();
  if (!greeting) return tl::unexpected(greeting.error());
  if (!greeting->contains("QMP")) return tl::unexpected(fmt::format("QMP {}: no QMP greeting", where));
  if (auto caps = c->execute("qmp_capabilities"); !caps) return tl::unexpected(caps.error());
  return c;
}

QmpClient::~QmpClient() {
  if (fd_ >= 0) ::close(fd_);
}

tl::expected<nlohmann::json, std::string> QmpClient::read_message() {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    if (const auto nl = pending_.find('\n'); nl != std::string::npos) {
      const std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) return tl::unexpected(fmt::format("QMP {}: not a JSON object: {}", where_, line.substr(0, 80)));
      return j;
    }
    if (pending_.size() > max_message) return tl::unexpected(fmt::format("QMP {}: a message over {} bytes", where_, max_message));
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return tl::unexpected(fmt::format("QMP {}: no answer in time", where_));
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n == 0) return tl::unexpected(fmt::format("QMP {}: QEMU closed the connection", where_));
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(fmt::format("QMP {}: {}", where_, std::strerror(errno)));
    }
    pending_.append(buf, static_cast<std::size_t>(n));
  }
}

tl::expected<nlohmann::json, std::string> QmpClient::execute(const std::string& command, const nlohmann::json& arguments) {
  nlohmann::json request{{"execute", command}};
  if (!arguments.empty()) request["arguments"] = arguments;
  const std::string wire = request.dump() + "\n";
  for (std::size_t off = 0; off < wire.size();) {
    const ssize_t n = ::send(fd_, wire.data() + off, wire.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tl::unexpected(fmt::format("QMP {}: {}", where_, std::strerror(errno)));
    }
    off += static_cast<std::size_t>(n);
  }
  for (;;) {
    auto m = read_message();
    if (!m) return m;
    if (m->contains("event")) continue;  // asynchronous: STOP, RESUME ...
    if (m->contains("return")) return (*m)["return"];
    if (m->contains("error")) {
      const auto& e = (*m)["error"];
      return tl::unexpected(fmt::format("QMP {}: {} failed: {}", where_, command, e.value("desc", e.dump())));
    }
  }
}

tl::expected<bool, std::string> QmpClient::running() {
  auto r = execute("query-status");
  if (!r) return tl::unexpected(r.error());
  if (!r->is_object() || !r->contains("running") || !(*r)["running"].is_boolean())
    return tl::unexpected(fmt::format("QMP {}: query-status gave no 'running'", where_));
  return (*r)["running"].get<bool>();
}

}  // namespace s390b::cli
