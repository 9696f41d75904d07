#include "backends/access/memop_request.h"

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "backends/access/memory_access.h"

namespace s390b {

std::optional<std::uint64_t> parse_number(std::string_view text) {
  int base = 10;
  std::string_view digits = text;
  if (digits.starts_with("0x") || digits.starts_with("0X")) {
    base = 16;
    digits.remove_prefix(2);
  }
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return value;
}

std::optional<std::vector<std::uint8_t>> parse_hex_bytes(std::string_view text) {
  std::string_view s = text;
  if (s.starts_with("0x") || s.starts_with("0X")) s.remove_prefix(2);
  if (s.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out(s.size() / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    auto [end, ec] = std::from_chars(s.data() + 2 * i, s.data() + 2 * i + 2, out[i], 16);
    if (ec != std::errc() || end != s.data() + 2 * i + 2) return std::nullopt;
  }
  return out;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (std::uint8_t b : bytes) {
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}


namespace {

// Prints the result; returns the process exit code (0 ok, 1 exception or error).
MemopOutcome report(const MemopRequest& o, const MemopResult& r, std::span<const std::uint8_t> data,
                    const std::vector<std::uint8_t>* found) {
  MemopOutcome out;
  nlohmann::ordered_json j;
  switch (r.status) {
    case MemopResult::Status::ok:
      j["result"] = "ok";
      if (!data.empty()) j["data"] = to_hex(data);
      if (found) {
        j["exchanged"] = r.exchanged;
        j["old"] = to_hex(*found);
      }
      break;
    case MemopResult::Status::exception:
      j["result"] = "exception";
      j["pgm"] = static_cast<unsigned>(r.fault.code);
      j["name"] = std::string(pgm_name(r.fault.code));
      if (r.fault.teid) j["teid"] = fmt::format("{:#x}", r.fault.teid->raw());
      if (r.fault.exc_access_id) j["access_id"] = *r.fault.exc_access_id;
      if (found) j["old"] = to_hex(*found);
      break;
    case MemopResult::Status::host_error:
      j["result"] = "error";
      j["errno"] = std::string(host_error_name(r.error));
      break;
  }
  if (o.json) {
    out.text = j.dump() + "\n";
  } else if (r.ok()) {
    out.text = "ok";
    if (!data.empty()) out.text += " " + to_hex(data);
    if (found) out.text += r.exchanged ? " exchanged" : " not exchanged, found " + to_hex(*found);
    out.text += "\n";
  } else {
    out.text = describe_failure(r) + "\n";
  }
  out.exit_code = r.ok() ? 0 : 1;
  return out;
}

}  // namespace

MemopOutcome run_memop(Backend& backend, const MemopRequest& o) {
  auto fail = [](const std::string& msg) { return MemopOutcome{2, "memop: " + msg + "\n"}; };
  auto address = parse_number(o.address);
  if (!address) return fail(fmt::format("bad address '{}'", o.address));

  // The uapi fields are bytes: a wider value cannot be passed on (narrowing it would turn
  // --key 259 into key 3). Values a byte holds go through as given, for KVM to judge.
  if (o.ar > 0xff) return fail(fmt::format("--ar {} does not fit the u8 field of the operation", o.ar));
  if (o.key > 0xff) return fail(fmt::format("--key {} does not fit the u8 field of the operation", o.key));

  Memop op;
  op.gaddr = *address;
  op.ar = static_cast<std::uint8_t>(o.ar);
  if (o.key >= 0) {
    op.flags |= memop_flag::skey_protection;
    op.key = static_cast<std::uint8_t>(o.key);
  }
  if (o.check_only) op.flags |= memop_flag::check_only;
  if (o.inject) op.flags |= memop_flag::inject_exception;

  std::vector<std::uint8_t> buffer;
  const bool is_read = o.op == "read" || o.op == "abs-read";
  const bool is_write = o.op == "write" || o.op == "abs-write";
  if (is_read) {
    if (o.size.empty()) return fail("read needs a size");
    auto size = parse_number(o.size);
    if (!size || *size > 0xffffffffu) return fail(fmt::format("bad size '{}'", o.size));
    op.size = static_cast<std::uint32_t>(*size);
    // Like KVM, the size is validated by the op; only allocate what a valid op can use.
    if (!o.check_only && *size <= backend.op_limit()) buffer.resize(op.size);
    op.buf = buffer;
    op.kind = o.op == "read" ? MemopKind::logical_read : MemopKind::absolute_read;
  } else if (is_write || o.op == "cmpxchg") {
    auto data = parse_hex_bytes(o.data);
    if (!data) return fail("--data must be an even number of hex digits");
    buffer = std::move(*data);
    op.size = static_cast<std::uint32_t>(buffer.size());
    if (!o.size.empty()) {
      auto size = parse_number(o.size);
      if (!size || *size != buffer.size()) return fail("size does not match the length of --data");
    }
    op.buf = buffer;
    op.kind = o.op == "write" ? MemopKind::logical_write
              : o.op == "abs-write" ? MemopKind::absolute_write : MemopKind::absolute_cmpxchg;
  } else {
    return fail(fmt::format("unknown op '{}' (read, write, abs-read, abs-write, cmpxchg)", o.op));
  }

  std::vector<std::uint8_t> old;
  if (op.kind == MemopKind::absolute_cmpxchg) {
    auto parsed = parse_hex_bytes(o.old);
    if (!parsed || parsed->size() != buffer.size()) return fail("--old must be hex of the same length as --data");
    old = std::move(*parsed);
    op.old = old;
  }

  const bool vcpu_op = op.kind == MemopKind::logical_read || op.kind == MemopKind::logical_write;
  if (vcpu_op && o.cpu >= backend.cpu_count())
    return fail(fmt::format("--cpu {} out of range (the guest has {})", o.cpu, backend.cpu_count()));
  MemopResult r = vcpu_op ? backend.vcpu_memop(o.cpu, op) : backend.vm_memop(op);
  const bool show_data = is_read && r.ok() && !o.check_only;
  return report(o, r, show_data ? std::span<const std::uint8_t>(buffer) : std::span<const std::uint8_t>(),
                op.kind == MemopKind::absolute_cmpxchg ? &old : nullptr);
}


void add_memop_options(CLI::App& cmd, MemopRequest& r) {
  cmd.add_option("op", r.op, "read | write | abs-read | abs-write | cmpxchg")->required();
  cmd.add_option("address", r.address, "guest address (0x hex or decimal)")->required();
  cmd.add_option("size", r.size, "byte count (reads; optional for writes)");
  cmd.add_option("--cpu", r.cpu, "vCPU, counted from 0 in note order");
  cmd.add_option("--data", r.data, "bytes to write, hex (write, abs-write; new value for cmpxchg)");
  cmd.add_option("--old", r.old, "expected old value, hex (cmpxchg)");
  // The uapi fields are bytes: values a byte holds go through as given, for the backend
  // to judge as KVM would (an access key over 15 is EINVAL); nothing else is accepted.
  cmd.add_option("--ar", r.ar, "access register number (passed as given; KVM rejects > 15)")
      ->check(CLI::Range(0, 255));
  cmd.add_option("--key", r.key, "turn on storage-key protection with this access key (0-15; KVM rejects more)")
      ->check(CLI::Range(0, 255));
  cmd.add_flag("--check-only", r.check_only, "only check that the access would succeed");
  cmd.add_flag("--inject", r.inject, "inject the program interruption into the vCPU on failure");
  cmd.add_flag("--json", r.json, "print one JSON object");
}

}  // namespace s390b
