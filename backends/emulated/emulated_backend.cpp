#include "backends/emulated/emulated_backend.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "backends/emulated/lowcore.h"
#include "backends/translation_context.h"
#include "translate/address.h"
#include "translate/byteorder.h"
#include "translate/keys.h"
#include "translate/space.h"

namespace s390b {

namespace {

constexpr unsigned max_fragments = kvm_memop_max_size / page_size + 1;  // 17 for 64 KiB

// The checks every op starts with (KVM's mem_op_validate_common), in KVM's order.
// Returns the effective access key: 0 unless key protection was requested.
tl::expected<std::uint8_t, HostError> validate_common(const Memop& op, std::uint64_t supported,
                                                      std::uint32_t limit) {
  if ((op.flags & ~supported) != 0 || op.size == 0) return tl::unexpected(HostError::einval);
  if (op.size > limit) return tl::unexpected(HostError::e2big);
  if (!(op.flags & memop_flag::skey_protection)) return std::uint8_t{0};
  if (op.key > access_key_max) return tl::unexpected(HostError::einval);
  return op.key;
}

struct Fragment {
  std::uint64_t effective = 0;
  std::uint64_t absolute = 0;
  std::uint32_t length = 0;
  std::uint32_t buffer_offset = 0;
  std::uint8_t* host = nullptr;  // the bytes, when one storage range holds them all
};

// The key overrides that apply to one fragment of a vCPU access.
KeyOverrides overrides_for(const TranslationContext& ctx, const ResolvedSpace& space, const Fragment& f) {
  const bool dat_private = space.kind == ResolvedSpace::Kind::dat && space.asce.private_space();
  KeyOverrides o;
  o.fetch_override_applies = (ctx.cr[0] & cr0::fetch_protection_override) && !dat_private &&
                             in_fetch_override_window(f.effective, f.length);
  o.storage_override = ctx.cr[0] & cr0::storage_protection_override;
  return o;
}

}  // namespace

EmulatedBackend::EmulatedBackend(Storage storage, std::vector<CpuState> cpus, Facilities facilities)
    : storage_(std::move(storage)), cpus_(std::move(cpus)), facilities_(facilities) {}

// A file behind storage that changed (file_mapping.h) fails every access: before it, so
// nothing is read from or written to bytes that are no longer the file's, and after it,
// because a page that vanished during the access read as zeros.
//
// A demand page that could not be fetched or stored (a dump that excluded it, a source
// that failed) fails the operation with the source's error and detail (ENODATA "page at
// absolute 0x... is not in the dump ..."), also where the walker met it in a table and
// would otherwise report an addressing exception. Storage records the first such error;
// it is taken before (a leftover of an access outside a MEMOP) and after every operation.
MemopResult EmulatedBackend::vcpu_memop(unsigned cpu, const Memop& op) {
  if (storage_.files_changed()) return MemopResult::host(HostError::estale);
  storage_.take_page_error();
  MemopResult r = vcpu_dispatch(cpu, op);
  if (storage_.files_faulted()) return MemopResult::host(HostError::estale);
  if (auto e = storage_.take_page_error()) return MemopResult::host(e->error, std::move(e->message));
  return r;
}

MemopResult EmulatedBackend::vm_memop(const Memop& op) {
  if (storage_.files_changed()) return MemopResult::host(HostError::estale);
  storage_.take_page_error();
  MemopResult r = vm_dispatch(op);
  if (storage_.files_faulted()) return MemopResult::host(HostError::estale);
  if (auto e = storage_.take_page_error()) return MemopResult::host(e->error, std::move(e->message));
  return r;
}

MemopResult EmulatedBackend::vcpu_dispatch(unsigned cpu, const Memop& op) {
  if (cpu >= cpus_.size()) return MemopResult::host(HostError::einval);
  switch (op.kind) {
    case MemopKind::logical_read:
    case MemopKind::logical_write: return logical(cpu, op);
    case MemopKind::sida_read:
    case MemopKind::sida_write: return sida(op);
    default: return MemopResult::host(HostError::einval);
  }
}

MemopResult EmulatedBackend::vm_dispatch(const Memop& op) {
  switch (op.kind) {
    case MemopKind::absolute_read:
    case MemopKind::absolute_write: return absolute(op);
    case MemopKind::absolute_cmpxchg: return cmpxchg(op);
    default: return MemopResult::host(HostError::einval);
  }
}

MemopResult EmulatedBackend::sida(const Memop& op) {
  // No vCPU of this backend runs protected, so its SIDA is the default one-page area
  // and every request that passes the bounds checks fails the PV check (KVM's order).
  constexpr std::uint64_t sida_size = page_size;
  if (op.flags != 0 || op.size == 0) return MemopResult::host(HostError::einval);
  const std::uint64_t end = std::uint64_t{op.size} + op.sida_offset;
  if (end > 0xffffffffu) return MemopResult::host(HostError::einval);
  if (end > sida_size) return MemopResult::host(HostError::e2big);
  return MemopResult::host(HostError::einval);
}

MemopResult EmulatedBackend::logical(unsigned cpu, const Memop& op) {
  constexpr std::uint64_t supported =
      memop_flag::inject_exception | memop_flag::check_only | memop_flag::skey_protection;
  auto key = validate_common(op, supported, op_limit());
  if (!key) return MemopResult::host(key.error());
  if (op.ar >= access_register_count) return MemopResult::host(HostError::einval);
  const bool check_only = op.flags & memop_flag::check_only;
  const AccessMode mode = op.kind == MemopKind::logical_read ? AccessMode::fetch : AccessMode::store;
  // KVM copies a write's buffer in before any guest access (-EFAULT first); a read's
  // buffer is only written after the access succeeded (Linux arch/s390/kvm/kvm-s390.c,
  // kvm_s390_vcpu_mem_op).
  const bool buffer_bad = !check_only && op.buf.size() < op.size;
  if (buffer_bad && mode == AccessMode::store) return MemopResult::host(HostError::efault);

  TranslationContext ctx;
  {
    std::lock_guard lk(cpu_mutex_);
    ctx = translation_context(cpus_[cpu], facilities_);
  }
  const std::uint64_t ga = effective_address(op.gaddr, ctx.psw.addressing_mode());
  auto fail = [&](const Fault& f) {
    if (op.flags & memop_flag::inject_exception) inject(cpu, f);
    return MemopResult::exception(f);
  };

  // ASCE selection, including access-register translation, happens before the lock.
  auto space = resolve_space(storage_, ctx, AddressSpace::of(AddressSpace::Kind::cpu), op.ar, ga, mode);
  if (!space) return fail(space.error());

  // KVM holds the lock across translation and copy when DAT walks tables; the
  // check-only path always locks.
  const bool walks_tables = space->kind == ResolvedSpace::Kind::dat && !space->asce.real_space();
  IpteGuard guard;
  if (check_only || walks_tables) guard = ipte_lock();

  // Translate every fragment before a single byte moves (KVM's guest_range_to_gpas). The
  // walk cache is sound here: the lock is held from the first walk to the last copy.
  std::array<Fragment, max_fragments> frags;
  DatWalkCache walk_cache;
  unsigned n = 0;
  std::uint64_t addr = ga;
  std::uint32_t done = 0;
  while (done < op.size) {
    addr = effective_address(addr, space->addressing);
    Fragment& f = frags[n++];
    f.effective = addr;
    f.length = static_cast<std::uint32_t>(std::min<std::uint64_t>(page_size - (addr & (page_size - 1)), op.size - done));
    f.buffer_offset = done;
    auto abs = translate_in_space(storage_, ctx, *space, addr, mode, nullptr, &walk_cache);
    if (!abs) return fail(abs.error());
    f.absolute = *abs;
    f.host = storage_.pointer(f.absolute, f.length);
    if (!f.host && !storage_.contains_range(f.absolute, f.length))
      return fail(make_fault(PgmCode::addressing, {}, addr, mode, space->teid_as, space->access_id));
    // A page the storage does not hold (a dump's excluded page) fails before anything
    // moves, check-only included; vcpu_memop reports the recorded error.
    if (!f.host && !storage_.check_available(f.absolute, f.length)) return MemopResult::host(HostError::eio);
    // Check-only verifies keys in software during translation, with suppression semantics.
    if (check_only && !key_permits(storage_.key(f.absolute), *key, mode, overrides_for(ctx, *space, f)))
      return fail(make_fault(PgmCode::protection, ProtectionKind::key_controlled, addr, mode, space->teid_as,
                             space->access_id));
    addr += f.length;
    done += f.length;
  }
  if (check_only) return MemopResult::success();

  // Copy fragment by fragment with the access key. A read that fails returns nothing, so
  // its keys are checked before anything is copied; a store that fails on a later page
  // leaves the earlier pages written and reports termination.
  auto key_fault = [&](unsigned i) {
    const bool terminate = mode == AccessMode::store && i > 0;
    return make_fault(PgmCode::protection, terminate ? ProtectionKind::termination : ProtectionKind::key_controlled,
                      frags[i].effective, mode, space->teid_as, space->access_id);
  };
  // Access key 0 matches every storage key: nothing to look up.
  auto permitted = [&](const Fragment& f) {
    return *key == 0 || key_permits(storage_.key(f.absolute), *key, mode, overrides_for(ctx, *space, f));
  };
  if (mode == AccessMode::fetch) {
    for (unsigned i = 0; i < n; ++i)
      if (!permitted(frags[i])) return fail(key_fault(i));
    if (buffer_bad) return MemopResult::host(HostError::efault);
    for (unsigned i = 0; i < n;) {
      const Fragment& f = frags[i];
      if (!f.host) {
        // A fetch that fails (recorded by Storage) ends the read; vcpu_memop reports it.
        if (!storage_.read(f.absolute, op.buf.subspan(f.buffer_offset, f.length))) return MemopResult::host(HostError::eio);
        ++i;
        continue;
      }
      // Fragments whose host bytes follow each other (a contiguous mapping) are one copy.
      std::size_t run = f.length;
      for (++i; i < n && frags[i].host == f.host + run; ++i) run += frags[i].length;
      std::memcpy(op.buf.data() + f.buffer_offset, f.host, run);
    }
    return MemopResult::success();
  }
  for (unsigned i = 0; i < n; ++i) {
    const Fragment& f = frags[i];
    if (!permitted(f)) return fail(key_fault(i));
    if (f.host) {
      std::memcpy(f.host, op.buf.data() + f.buffer_offset, f.length);
    } else if (!storage_.write(f.absolute, op.buf.subspan(f.buffer_offset, f.length))) {
      return MemopResult::host(HostError::eio);  // a source refused the store (recorded)
    }
    storage_.mark_changed(f.absolute);
  }
  return MemopResult::success();
}

MemopResult EmulatedBackend::absolute(const Memop& op) {
  auto key = validate_common(op, memop_flag::check_only | memop_flag::skey_protection, op_limit());
  if (!key) return MemopResult::host(key.error());
  const bool check_only = op.flags & memop_flag::check_only;
  const AccessMode mode = op.kind == MemopKind::absolute_read ? AccessMode::fetch : AccessMode::store;
  // As for logical ops: a write's buffer is copied in first, a read's copied out last
  // (Linux arch/s390/kvm/kvm-s390.c, kvm_s390_vm_mem_op_abs).
  const bool buffer_bad = !check_only && op.buf.size() < op.size;
  if (buffer_bad && mode == AccessMode::store) return MemopResult::host(HostError::efault);

  // Page by page, no prefixing and no overrides (those are vCPU concepts). A failed read
  // copies nothing out; a failed write leaves earlier pages written. No TEID.
  auto page_check = [&](std::uint64_t a, std::uint64_t len) -> std::optional<PgmCode> {
    if (!storage_.contains_range(a, len)) return PgmCode::addressing;
    if (!key_permits(storage_.key(a), *key, mode, KeyOverrides::none())) return PgmCode::protection;
    return std::nullopt;
  };
  auto for_each_page = [&](auto&& fn) -> std::optional<PgmCode> {
    std::uint64_t a = op.gaddr;
    std::uint32_t done = 0;
    while (done < op.size) {
      const auto len = static_cast<std::uint32_t>(std::min<std::uint64_t>(page_size - (a & (page_size - 1)), op.size - done));
      if (auto code = fn(a, len, done)) return code;
      a += len;
      done += len;
    }
    return std::nullopt;
  };
  auto check = [&](std::uint64_t a, std::uint32_t len, std::uint32_t) { return page_check(a, len); };

  // Pages the storage does not hold (a dump's excluded pages) fail the whole operation
  // before anything moves; vm_memop reports the recorded error.
  if (check_only || mode == AccessMode::fetch) {
    if (auto code = for_each_page(check)) return MemopResult::exception(Fault::plain(*code));
    if (!storage_.check_available(op.gaddr, op.size)) return MemopResult::host(HostError::eio);
    if (check_only) return MemopResult::success();
    if (buffer_bad) return MemopResult::host(HostError::efault);
    if (!storage_.read(op.gaddr, op.buf.first(op.size))) return MemopResult::host(HostError::eio);
    return MemopResult::success();
  }
  if (storage_.contains_range(op.gaddr, op.size) && !storage_.check_available(op.gaddr, op.size))
    return MemopResult::host(HostError::eio);
  bool refused = false;
  auto code = for_each_page([&](std::uint64_t a, std::uint32_t len, std::uint32_t off) -> std::optional<PgmCode> {
    if (auto c = page_check(a, len)) return c;
    if (!storage_.write(a, op.buf.subspan(off, len))) {
      refused = true;  // a source refused the store (recorded); stop here
      return PgmCode::addressing;
    }
    storage_.mark_changed(a);
    return std::nullopt;
  });
  if (refused) return MemopResult::host(HostError::eio);
  if (code) return MemopResult::exception(Fault::plain(*code));
  return MemopResult::success();
}

MemopResult EmulatedBackend::cmpxchg(const Memop& op) {
  auto key = validate_common(op, memop_flag::skey_protection, op_limit());
  if (!key) return MemopResult::host(key.error());
  if (op.size > cmpxchg_max_size) return MemopResult::host(HostError::einval);
  if (op.buf.size() < op.size || op.old.size() < op.size) return MemopResult::host(HostError::efault);
  // KVM's order: alignment (IS_ALIGNED), fault-in of the page, then the size switch.
  if (op.gaddr & (op.size - 1)) return MemopResult::host(HostError::einval);
  if (!storage_.contains_range(op.gaddr, op.size)) return MemopResult::exception(Fault::plain(PgmCode::addressing));
  const bool power_of_two = (op.size & (op.size - 1)) == 0;
  if (!power_of_two) return MemopResult::host(HostError::einval);
  // A store with the key; neither override applies to cmpxchg. On an exception KVM
  // returns zeros in the old value.
  if (!key_permits(storage_.key(op.gaddr), *key, AccessMode::store, KeyOverrides::none())) {
    std::fill_n(op.old.begin(), op.size, std::uint8_t{0});
    return MemopResult::exception(Fault::plain(PgmCode::protection));
  }
  MemopResult r = MemopResult::success();
  r.exchanged = storage_.compare_exchange(op.gaddr, op.old.first(op.size), op.buf.first(op.size));
  if (r.exchanged) storage_.mark_changed(op.gaddr);
  return r;
}

void EmulatedBackend::inject(unsigned cpu, const Fault& fault) {
  // Delivery as KVM's __deliver_prog does it, with an instruction length of 0: the
  // emulated backend has no intercepted instruction to rewind over.
  std::lock_guard lk(cpu_mutex_);
  CpuState& state = cpus_[cpu];
  const std::uint64_t lc = real_to_absolute(0, state.prefix);
  // The fields touched lie in the first 0x200 bytes; storage may back them with more
  // than one range, so work on a copy and store back only the fields written.
  std::array<std::uint8_t, 0x200> p{};
  if (!storage_.read(lc, p)) return;  // lowcore outside storage: nothing can be delivered
  auto put = [&](std::size_t offset, std::size_t length) {
    storage_.write(lc + offset, std::span<const std::uint8_t>(p.data() + offset, length));
  };
  store_be16(p.data() + lowcore::pgm_ilc, 0);
  put(lowcore::pgm_ilc, 2);
  store_be16(p.data() + lowcore::pgm_code, static_cast<std::uint16_t>(fault.code));
  put(lowcore::pgm_code, 2);
  if (fault.teid) {
    store_be64(p.data() + lowcore::trans_exc_code, fault.teid->raw());
    put(lowcore::trans_exc_code, 8);
  }
  if (fault.exc_access_id) {
    p[lowcore::exc_access_id] = *fault.exc_access_id;
    put(lowcore::exc_access_id, 1);
  }
  if (fault.teid && fault.code != PgmCode::protection) {
    p[lowcore::op_access_id] = 0;
    put(lowcore::op_access_id, 1);
  }
  store_be64(p.data() + lowcore::program_old_psw, state.psw.mask);
  store_be64(p.data() + lowcore::program_old_psw + 8, state.psw.addr);
  put(lowcore::program_old_psw, 16);
  state.psw.mask = load_be64(p.data() + lowcore::program_new_psw);
  state.psw.addr = load_be64(p.data() + lowcore::program_new_psw + 8);
}

tl::expected<CpuState, HostError> EmulatedBackend::cpu_state(unsigned cpu) const {
  std::lock_guard lk(cpu_mutex_);
  if (cpu >= cpus_.size()) return tl::unexpected(HostError::einval);
  return cpus_[cpu];
}

tl::expected<void, HostError> EmulatedBackend::set_cpu_state(unsigned cpu, const CpuState& state) {
  std::lock_guard lk(cpu_mutex_);
  if (cpu >= cpus_.size()) return tl::unexpected(HostError::einval);
  cpus_[cpu] = state;
  return {};
}

IpteGuard EmulatedBackend::ipte_lock() {
  ipte_.lock_host();
  return IpteGuard([this] { ipte_.unlock_host(); });
}

tl::expected<StorageKey, HostError> EmulatedBackend::get_key(std::uint64_t absolute) const {
  if (!storage_.contains(absolute)) return tl::unexpected(HostError::efault);
  return storage_.key(absolute);
}

tl::expected<void, HostError> EmulatedBackend::set_key(std::uint64_t absolute, StorageKey key) {
  if (!storage_.set_key(absolute, key)) return tl::unexpected(HostError::efault);
  return {};
}

std::vector<MemoryMap::Range> EmulatedBackend::ranges() const {
  std::vector<Range> out;
  for (const auto& r : storage_.ranges()) out.push_back({r.start, r.size});
  return out;
}

bool EmulatedBackend::set_entry_bits(std::uint64_t address, std::uint64_t bits) {
  IpteLock::GuestGuard g(ipte_);
  const std::uint64_t at = address & ~std::uint64_t{7};
  const auto entry = storage_.read_u64(at);
  return entry && storage_.write_u64(at, *entry | bits);
}

bool EmulatedBackend::guest_ipte(std::uint64_t pte_address) { return set_entry_bits(pte_address, PageEntry::i_bit); }

bool EmulatedBackend::guest_idte(std::uint64_t entry_address) {
  // Region and segment entries share the position of their invalid bit.
  return set_entry_bits(entry_address, RegionEntry::i_bit);
}

bool EmulatedBackend::guest_cspg(std::uint64_t address, std::uint64_t expected, std::uint64_t desired) {
  IpteLock::GuestGuard g(ipte_);
  const std::uint64_t at = address & ~std::uint64_t{7};
  const auto entry = storage_.read_u64(at);
  return entry && *entry == expected && storage_.write_u64(at, desired);
}

}  // namespace s390b
