#include "access/memory_access.h"

#include <algorithm>
#include <vector>

#include "access/backend_reader.h"
#include "backends/translation_context.h"
#include "translate/address.h"

namespace s390b {

namespace {

bool is_walked(AddressSpace::Kind kind) {
  return kind != AddressSpace::Kind::cpu && kind != AddressSpace::Kind::absolute;
}

// Length of the first k page fragments of a range starting at `address` (k >= 1).
std::uint64_t prefix_length(std::uint64_t address, std::uint64_t k, std::uint64_t total) {
  const std::uint64_t first = page_size - (address & (page_size - 1));
  return std::min(total, first + (k - 1) * page_size);
}

std::uint64_t fragment_count(std::uint64_t address, std::uint64_t length) {
  return ((address & (page_size - 1)) + length - 1) / page_size + 1;
}

// Largest number of leading bytes of [address, address + length) for which `check`
// succeeds, at page granularity: a binary search over page counts (check is monotonic).
template <typename Check>
std::uint64_t good_prefix(std::uint64_t address, std::uint64_t length, Check&& check) {
  std::uint64_t lo = 0, hi = fragment_count(address, length);  // lo pages known good
  // hi pages known bad (the full op failed)
  while (hi - lo > 1) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    if (check(prefix_length(address, mid, length))) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? 0 : prefix_length(address, lo, length);
}

}  // namespace

tl::expected<TranslationContext, HostError> MemoryAccess::context(unsigned cpu) const {
  auto state = backend_.cpu_state(cpu);
  if (!state) return tl::unexpected(state.error());
  return translation_context(*state, backend_.facilities());
}

ReadOutcome MemoryAccess::read(unsigned cpu, const AddressSpace& space, std::uint64_t address,
                               std::span<std::uint8_t> out) {
  if (out.empty()) return {};
  switch (space.kind) {
    case AddressSpace::Kind::cpu: return read_chunked(cpu, true, space.ar, address, out);
    case AddressSpace::Kind::absolute: return read_chunked(cpu, false, 0, address, out);
    default: return read_walked(cpu, space, address, out);
  }
}

ReadOutcome MemoryAccess::read_chunked(unsigned cpu, bool logical, std::uint8_t ar, std::uint64_t address,
                                       std::span<std::uint8_t> out) {
  // The backend's own MEMOP, vCPU (logical, through the cpu view) or VM (absolute): one
  // algorithm for both, they differ only in the op and who runs it.
  auto run = [&](const Memop& op) { return logical ? backend_.vcpu_memop(cpu, op) : backend_.vm_memop(op); };
  const std::uint32_t limit = backend_.op_limit();
  std::size_t done = 0;
  while (done < out.size()) {
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(limit, out.size() - done));
    Memop op;
    op.kind = logical ? MemopKind::logical_read : MemopKind::absolute_read;
    op.gaddr = address + done;
    op.size = n;
    op.ar = ar;
    op.buf = out.subspan(done, n);
    MemopResult r = run(op);
    if (r.ok()) {
      done += n;
      continue;
    }
    // A page the backend does not hold (ENODATA: a dump that excluded it) stops a read
    // like a fault does: the pages before it are still worth returning.
    const bool page_missing = r.status == MemopResult::Status::host_error && r.error == HostError::enodata;
    if (!r.is_exception() && !page_missing) return {done, r};
    // The chunk faulted and returned nothing: find its first failing page with
    // check-only ops, then read the good part once.
    const std::uint64_t good = good_prefix(op.gaddr, n, [&](std::uint64_t len) {
      Memop c = op;
      c.flags = memop_flag::check_only;
      c.size = static_cast<std::uint32_t>(len);
      c.buf = {};
      return run(c).ok();
    });
    if (good == 0 || good >= n) return {done, r};
    op.size = static_cast<std::uint32_t>(good);
    op.buf = out.subspan(done, good);
    MemopResult again = run(op);
    if (!again.ok()) return {done, again};
    return {done + good, r};
  }
  return {done, MemopResult::success()};
}

ReadOutcome MemoryAccess::read_walked(unsigned cpu, const AddressSpace& space, std::uint64_t address,
                                      std::span<std::uint8_t> out) {
  if (!backend_.table_walks_allowed()) return {0, MemopResult::host(HostError::enolck)};
  auto ctx = context(cpu);
  if (!ctx) return {0, MemopResult::host(ctx.error())};
  BackendReader reader(backend_);
  IpteGuard guard = backend_.ipte_lock();  // the walk and the reads it authorises
  auto resolved = resolve_space(reader, *ctx, space, space.ar, address, AccessMode::fetch);
  if (!resolved) return {0, MemopResult::exception(resolved.error())};

  // Pages whose frames follow each other are read with one absolute op (up to the op
  // limit). The walk cache is sound: the lock is held across every walk and read.
  const std::uint32_t limit = backend_.op_limit();
  DatWalkCache walk_cache;
  std::size_t done = 0;        // bytes delivered to `out`
  std::uint64_t run_abs = 0;   // translated but not yet read: [run_abs, run_abs + run_len)
  std::size_t run_len = 0;     // ... for out[done, done + run_len)
  auto read_abs = [&](std::uint64_t abs, std::size_t offset, std::size_t n) {
    Memop op;
    op.kind = MemopKind::absolute_read;
    op.gaddr = abs;
    op.size = static_cast<std::uint32_t>(n);
    op.buf = out.subspan(offset, n);
    return backend_.vm_memop(op);
  };
  auto flush = [&]() -> MemopResult {
    if (run_len == 0) return MemopResult::success();
    MemopResult r = read_abs(run_abs, done, run_len);
    if (!r.ok()) {
      // Find the readable prefix page by page, as unmerged reads would have.
      for (std::size_t k = 0; k < run_len;) {
        const std::size_t n = std::min<std::size_t>(page_size - ((run_abs + k) & (page_size - 1)), run_len - k);
        r = read_abs(run_abs + k, done, n);
        if (!r.ok()) return r;
        done += n;
        k += n;
      }
    } else {
      done += run_len;
    }
    run_len = 0;
    return r;
  };
  for (std::size_t pos = 0; pos < out.size();) {
    const std::uint64_t at = effective_address(address + pos, resolved->addressing);
    auto abs = translate_in_space(reader, *ctx, *resolved, at, AccessMode::fetch, nullptr, &walk_cache);
    if (!abs) {
      if (MemopResult r = flush(); !r.ok()) return {done, r};
      return {done, MemopResult::exception(abs.error())};
    }
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(page_size - (at & (page_size - 1)), out.size() - pos));
    if (run_len > 0 && (run_abs + run_len != *abs || run_len + n > limit)) {
      if (MemopResult r = flush(); !r.ok()) return {done, r};
    }
    if (run_len == 0) run_abs = *abs;
    run_len += n;
    pos += n;
  }
  if (MemopResult r = flush(); !r.ok()) return {done, r};
  return {done, MemopResult::success()};
}

MemopResult MemoryAccess::write(unsigned cpu, const AddressSpace& space, std::uint64_t address,
                                std::span<const std::uint8_t> data) {
  if (data.empty()) return MemopResult::success();
  if (is_walked(space.kind)) return write_walked(cpu, space, address, data);

  const bool logical = space.kind == AddressSpace::Kind::cpu;
  const std::uint32_t limit = backend_.op_limit();
  auto run = [&](std::uint64_t at, std::span<const std::uint8_t> chunk, bool check_only) {
    Memop op;
    op.kind = logical ? MemopKind::logical_write : MemopKind::absolute_write;
    op.gaddr = at;
    op.size = static_cast<std::uint32_t>(chunk.size());
    op.ar = space.ar;
    op.flags = check_only ? memop_flag::check_only : 0;
    // The backend only reads a write's buffer; Memop's span is mutable for reads.
    if (!check_only) op.buf = {const_cast<std::uint8_t*>(chunk.data()), chunk.size()};
    return logical ? backend_.vcpu_memop(cpu, op) : backend_.vm_memop(op);
  };
  // Check the whole range first so that a failure anywhere writes nothing.
  for (int pass = 0; pass < 2; ++pass) {
    for (std::size_t done = 0; done < data.size();) {
      const std::size_t n = std::min<std::size_t>(limit, data.size() - done);
      MemopResult r = run(address + done, data.subspan(done, n), pass == 0);
      if (!r.ok()) return r;
      done += n;
    }
  }
  return MemopResult::success();
}

MemopResult MemoryAccess::write_walked(unsigned cpu, const AddressSpace& space, std::uint64_t address,
                                       std::span<const std::uint8_t> data) {
  if (!backend_.table_walks_allowed()) return MemopResult::host(HostError::enolck);
  auto ctx = context(cpu);
  if (!ctx) return MemopResult::host(ctx.error());
  BackendReader reader(backend_);
  IpteGuard guard = backend_.ipte_lock();
  auto resolved = resolve_space(reader, *ctx, space, space.ar, address, AccessMode::store);
  if (!resolved) return MemopResult::exception(resolved.error());

  // Translate every page before writing any.
  struct Piece {
    std::uint64_t absolute;
    std::size_t offset;
    std::uint32_t length;
  };
  // Pages whose frames follow each other become one piece (up to the op limit).
  const std::uint32_t limit = backend_.op_limit();
  DatWalkCache walk_cache;
  std::vector<Piece> pieces;
  pieces.reserve(fragment_count(address, data.size()));
  for (std::size_t done = 0; done < data.size();) {
    const std::uint64_t at = effective_address(address + done, resolved->addressing);
    auto abs = translate_in_space(reader, *ctx, *resolved, at, AccessMode::store, nullptr, &walk_cache);
    if (!abs) return MemopResult::exception(abs.error());
    const auto n = static_cast<std::uint32_t>(std::min<std::uint64_t>(page_size - (at & (page_size - 1)), data.size() - done));
    if (!pieces.empty() && pieces.back().absolute + pieces.back().length == *abs &&
        std::uint64_t{pieces.back().length} + n <= limit) {
      pieces.back().length += n;
    } else {
      pieces.push_back({*abs, done, n});
    }
    done += n;
  }
  for (const Piece& p : pieces) {
    Memop op;
    op.kind = MemopKind::absolute_write;
    op.gaddr = p.absolute;
    op.size = p.length;
    op.buf = {const_cast<std::uint8_t*>(data.data() + p.offset), p.length};
    MemopResult r = backend_.vm_memop(op);
    if (!r.ok()) return r;
  }
  return MemopResult::success();
}

TranslationReport MemoryAccess::translate(unsigned cpu, const AddressSpace& space, std::uint64_t address,
                                          AccessMode mode) {
  TranslationReport rep;
  rep.space = space;
  rep.address = address;
  if (!backend_.table_walks_allowed()) {
    rep.error = HostError::enolck;
    return rep;
  }
  auto ctx = context(cpu);
  if (!ctx) {
    rep.error = ctx.error();
    return rep;
  }
  BackendReader reader(backend_);
  IpteGuard guard = backend_.ipte_lock();
  auto resolved = resolve_space(reader, *ctx, space, space.ar, address, mode, &rep.art);
  rep.used_art = rep.art.ran;
  if (!resolved) {
    rep.fault = resolved.error();
    return rep;
  }
  rep.resolved = *resolved;
  rep.effective = effective_address(address, resolved->addressing);
  rep.walked = resolved->kind == ResolvedSpace::Kind::dat;
  auto abs = translate_in_space(reader, *ctx, *resolved, rep.effective, mode, &rep.walk);
  if (!abs) {
    rep.fault = abs.error();
  } else {
    rep.absolute = *abs;
  }
  return rep;
}

}  // namespace s390b
