#include "backends/read_only_backend.h"

namespace s390b {

namespace {

bool changes_guest(const Memop& op) {
  if (op.flags & memop_flag::inject_exception) return true;
  switch (op.kind) {
    case MemopKind::logical_read:
    case MemopKind::sida_read:
    case MemopKind::absolute_read: return false;
    case MemopKind::logical_write:
    case MemopKind::sida_write:
    case MemopKind::absolute_write: return !(op.flags & memop_flag::check_only);
    case MemopKind::absolute_cmpxchg: return true;  // KVM has no check-only cmpxchg
  }
  return true;  // an op this code does not know: assume the worst
}

}  // namespace

ReadOnlyBackend::ReadOnlyBackend(Backend& inner) : inner_(inner), run_(inner), keys_(inner) {}

MemopResult ReadOnlyBackend::vcpu_memop(unsigned cpu, const Memop& op) {
  if (changes_guest(op)) return MemopResult::host(HostError::erofs);
  return inner_.vcpu_memop(cpu, op);
}

MemopResult ReadOnlyBackend::vm_memop(const Memop& op) {
  if (changes_guest(op)) return MemopResult::host(HostError::erofs);
  return inner_.vm_memop(op);
}

}  // namespace s390b
