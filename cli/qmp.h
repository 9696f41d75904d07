// A minimal QMP client (QEMU Machine Protocol: one JSON object per line; QEMU's
// docs/interop/qmp-spec.rst): the greeting, qmp_capabilities, then commands whose
// `return` or `error` comes back, with asynchronous events skipped. The inspection
// commands use it with --qmp to learn whether the guest was running before the bridge
// attached to QEMU's gdbstub (which stops it), so they resume only a guest that ran.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <tl/expected.hpp>

namespace s390b::cli {

class QmpClient {
 public:
  // PATH (a unix socket) or HOST:PORT.
  static tl::expected<std::unique_ptr<QmpClient>, std::string> connect(const std::string& where,
                                                                       std::chrono::milliseconds timeout);
  ~QmpClient();
  QmpClient(const QmpClient&) = delete;
  QmpClient& operator=(const QmpClient&) = delete;

  // The command's `return` value, or its error's description.
  tl::expected<nlohmann::json, std::string> execute(const std::string& command,
                                                    const nlohmann::json& arguments = nlohmann::json::object());
  // query-status: whether the guest's vCPUs run.
  tl::expected<bool, std::string> running();

 private:
  QmpClient(int fd, std::string where, std::chrono::milliseconds timeout) : fd_(fd), where_(std::move(where)), timeout_(timeout) {}
  tl::expected<nlohmann::json, std::string> read_message();

  int fd_ = -1;
  std::string where_;
  std::chrono::milliseconds timeout_;
  std::string pending_;
};

}  // namespace s390b::cli
