#include "access/memop_request.h"

#include <charconv>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "access/memory_access.h"

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

std::optional<MemopOp> parse_memop_op(std::string_view text) {
  for (MemopOp op : {MemopOp::read, MemopOp::write, MemopOp::abs_read, MemopOp::abs_write, MemopOp::cmpxchg})
    if (memop_op_name(op) == text) return op;
  return std::nullopt;
}

std::string_view memop_op_name(MemopOp op) {
  switch (op) {
    case MemopOp::read: return "read";
    case MemopOp::write: return "write";
    case MemopOp::abs_read: return "abs-read";
    case MemopOp::abs_write: return "abs-write";
    case MemopOp::cmpxchg: return "cmpxchg";
  }
  return "?";
}

MemopOutcome run_memop(Backend& backend, const MemopRequest& o) {
  auto fail = [](const std::string& msg) { return MemopOutcome{2, "memop: " + msg + "\n"}; };
  Memop op;
  op.gaddr = o.address;
  op.ar = o.ar;
  if (o.key) {
    op.flags |= memop_flag::skey_protection;
    op.key = *o.key;
  }
  if (o.check_only) op.flags |= memop_flag::check_only;
  if (o.inject) op.flags |= memop_flag::inject_exception;

  std::vector<std::uint8_t> buffer;
  const bool is_read = o.op == MemopOp::read || o.op == MemopOp::abs_read;
  if (is_read) {
    if (!o.size) return fail("read needs a size");
    if (*o.size > 0xffffffffu) return fail(fmt::format("bad size {:#x}: the size field of the operation has 32 bits", *o.size));
    op.size = static_cast<std::uint32_t>(*o.size);
    // Like KVM, the size is validated by the op; only allocate what a valid op can use.
    if (!o.check_only && *o.size <= backend.op_limit()) buffer.resize(op.size);
    op.buf = buffer;
    op.kind = o.op == MemopOp::read ? MemopKind::logical_read : MemopKind::absolute_read;
  } else {
    buffer = o.data;
    if (buffer.size() > 0xffffffffu) return fail("--data does not fit the u32 size field of the operation");
    op.size = static_cast<std::uint32_t>(buffer.size());
    if (o.size && *o.size != buffer.size()) return fail("size does not match the length of --data");
    op.buf = buffer;
    op.kind = o.op == MemopOp::write ? MemopKind::logical_write
              : o.op == MemopOp::abs_write ? MemopKind::absolute_write : MemopKind::absolute_cmpxchg;
  }

  std::vector<std::uint8_t> old;
  if (op.kind == MemopKind::absolute_cmpxchg) {
    if (o.old.size() != buffer.size()) return fail("--old must be hex of the same length as --data");
    old = o.old;
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

}  // namespace s390b
