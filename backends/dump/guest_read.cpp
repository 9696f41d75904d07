#include "backends/dump/guest_read.h"

#include <algorithm>

#include <fmt/format.h>

namespace s390b::dump {

MemopResult read_guest_absolute(Backend& backend, std::uint64_t address, std::span<std::uint8_t> out,
                                std::uint64_t* failed_at) {
  const std::size_t limit = std::max<std::uint32_t>(backend.op_limit(), 1);
  for (std::size_t done = 0; done < out.size();) {
    const std::size_t n = std::min(limit, out.size() - done);
    Memop op;
    op.kind = MemopKind::absolute_read;
    op.gaddr = address + done;
    op.size = static_cast<std::uint32_t>(n);
    op.buf = out.subspan(done, n);
    const MemopResult r = backend.vm_memop(op);
    if (!r.ok()) {
      if (failed_at) *failed_at = op.gaddr;
      return r;
    }
    done += n;
  }
  return MemopResult::success();
}

std::string describe_read_failure(const MemopResult& result) {
  if (result.is_exception())
    return fmt::format("{} (PGM {:#04x})", pgm_name(result.fault.code), static_cast<unsigned>(result.fault.code));
  return fmt::format("host error {}", host_error_name(result.error));
}

}  // namespace s390b::dump
