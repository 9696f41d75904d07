#include "gdbstub/memop_options.h"

#include <fmt/format.h>

namespace s390b {

void add_memop_options(CLI::App& cmd, MemopArgs& a) {
  cmd.add_option("op", a.op, "read | write | abs-read | abs-write | cmpxchg")->required();
  cmd.add_option("address", a.address, "guest address (0x hex or decimal)")->required();
  cmd.add_option("size", a.size, "byte count (reads; optional for writes)");
  cmd.add_option("--cpu", a.cpu, "vCPU, counted from 0 in note order");
  cmd.add_option("--data", a.data, "bytes to write, hex (write, abs-write; new value for cmpxchg)");
  cmd.add_option("--old", a.old, "expected old value, hex (cmpxchg)");
  // The uapi fields are bytes: values a byte holds go through as given, for the backend
  // to judge as KVM would (an access key over 15 is EINVAL); nothing else is accepted.
  cmd.add_option("--ar", a.ar, "access register number (passed as given; KVM rejects > 15)")->check(CLI::Range(0, 255));
  cmd.add_option("--key", a.key, "turn on storage-key protection with this access key (0-15; KVM rejects more)")
      ->check(CLI::Range(0, 255));
  cmd.add_flag("--check-only", a.check_only, "only check that the access would succeed");
  cmd.add_flag("--inject", a.inject, "inject the program interruption into the vCPU on failure");
  cmd.add_flag("--json", a.json, "print one JSON object");
}

tl::expected<MemopRequest, std::string> memop_request(const CLI::App& app, const MemopArgs& a) {
  MemopRequest r;
  auto op = parse_memop_op(a.op);
  if (!op) return tl::unexpected(fmt::format("unknown op '{}' (read, write, abs-read, abs-write, cmpxchg)", a.op));
  r.op = *op;
  auto address = parse_number(a.address);
  if (!address) return tl::unexpected(fmt::format("bad address '{}'", a.address));
  r.address = *address;
  if (!a.size.empty()) {
    r.size = parse_number(a.size);
    if (!r.size) return tl::unexpected(fmt::format("bad size '{}'", a.size));
  }
  const bool writes = r.op == MemopOp::write || r.op == MemopOp::abs_write || r.op == MemopOp::cmpxchg;
  if (writes) {
    auto data = parse_hex_bytes(a.data);
    if (!data) return tl::unexpected(std::string("--data must be an even number of hex digits"));
    r.data = std::move(*data);
  }
  if (r.op == MemopOp::cmpxchg) {
    auto old = parse_hex_bytes(a.old);
    if (!old) return tl::unexpected(std::string("--old must be hex of the same length as --data"));
    r.old = std::move(*old);
  }
  r.cpu = a.cpu;
  r.ar = static_cast<std::uint8_t>(a.ar);  // CLI::Range(0, 255) checked it
  if (app.count("--key") > 0) r.key = static_cast<std::uint8_t>(a.key);
  r.check_only = a.check_only;
  r.inject = a.inject;
  r.json = a.json;
  return r;
}

}  // namespace s390b
