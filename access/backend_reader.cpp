#include "access/backend_reader.h"

#include <array>

#include "translate/byteorder.h"

namespace s390b {

std::optional<std::uint64_t> BackendReader::read_u64(std::uint64_t address) const {
  std::array<std::uint8_t, 8> bytes{};
  Memop op;
  op.kind = MemopKind::absolute_read;
  op.gaddr = address;
  op.size = bytes.size();
  op.buf = bytes;
  if (!backend_.vm_memop(op).ok()) return std::nullopt;
  return load_be64(bytes.data());
}

bool BackendReader::contains(std::uint64_t address) const {
  Memop op;
  op.kind = MemopKind::absolute_read;
  op.gaddr = address;
  op.size = 1;
  op.flags = memop_flag::check_only;
  return backend_.vm_memop(op).ok();
}

}  // namespace s390b
