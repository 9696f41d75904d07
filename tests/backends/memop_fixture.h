// Guests for the MEMOP tests (test_memop_selftest.cpp, test_memop_property.cpp,
// test_kvm_backend.cpp), and the two ways to reach one: the EmulatedBackend directly, or
// KvmBackend through the fake kernel (fake_kvm.h) built on an EmulatedBackend.
//
// A GuestImage is a copyable description of a guest: 2 MiB of absolute storage, a storage
// key per 4 KiB frame, one vCPU's state. Tables are laid out with the translate tests'
// TableBuilder (tests/translate/table_builder.h: explicit big-endian stores into a sparse
// storage) and absorbed into the image, so every test sees real region/segment/page and
// access-register tables. instantiate() turns an image into an EmulatedBackend; two
// instantiations are two independent copies of the same guest.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "backends/emulated/emulated_backend.h"
#include "backends/emulated/lowcore.h"
#include "backends/kvm/kvm_backend.h"
#include "tests/backends/fake_kvm.h"
#include "tests/translate/table_builder.h"
#include "translate/address.h"
#include "translate/byteorder.h"
#include "translate/entries.h"

namespace s390b::test {

constexpr std::uint64_t guest_storage_size = std::uint64_t{2} << 20;

// PSW masks of the guests built here (PSW_MASK_* in Linux arch/s390/include/asm/ptrace.h).
constexpr std::uint64_t psw_64bit = Psw::ea_bit | Psw::ba_bit;
constexpr std::uint64_t psw_dat_primary_64 = Psw::dat_bit | psw_64bit;
constexpr std::uint64_t psw_as_access_register = 0x0000400000000000;

struct GuestImage {
  std::vector<std::uint8_t> memory = std::vector<std::uint8_t>(guest_storage_size);
  std::vector<std::uint8_t> keys = std::vector<std::uint8_t>(guest_storage_size / page_size);
  CpuState cpu = default_cpu();
  Facilities facilities;

  static CpuState default_cpu() {
    CpuState c;
    c.present.gprs = c.present.psw = c.present.acrs = c.present.crs = c.present.fprs = true;
    c.present.vrs = c.present.prefix = c.present.cputm = c.present.ckc = c.present.todpr = true;
    c.present.last_break = true;
    return c;
  }

  void check_range(std::uint64_t address, std::uint64_t length) const {
    if (address > memory.size() || length > memory.size() - address)
      throw std::out_of_range("guest image access outside storage: " + std::to_string(address));
  }
  void store64(std::uint64_t address, std::uint64_t value) {
    check_range(address, 8);
    store_be64(&memory[address], value);
  }
  std::uint64_t load64(std::uint64_t address) const {
    check_range(address, 8);
    return load_be64(&memory[address]);
  }
  void store32(std::uint64_t address, std::uint32_t value) {
    check_range(address, 4);
    store_be32(&memory[address], value);
  }
  void fill(std::uint64_t address, std::uint64_t length, std::uint8_t byte) {
    check_range(address, length);
    std::fill_n(memory.begin() + static_cast<std::ptrdiff_t>(address), length, byte);
  }
  void set_key(std::uint64_t absolute, std::uint8_t key) { keys.at(absolute / page_size) = key; }
  void set_keys(std::uint64_t absolute, std::uint64_t length, std::uint8_t key) {
    for (std::uint64_t a = absolute & page_mask; a < absolute + length; a += page_size) set_key(a, key);
  }
  // Copies every frame a TableBuilder backed into the image.
  void absorb(const SparseStorage& tables) {
    for (const auto& [address, frame] : tables.frames()) {
      check_range(address, page_size);
      std::copy(frame->begin(), frame->end(), memory.begin() + static_cast<std::ptrdiff_t>(address));
    }
  }
  // The program-new PSW that an injected exception loads (lowcore at the prefix).
  void set_program_new_psw(const Psw& psw) {
    store64(cpu.prefix + lowcore::program_new_psw, psw.mask);
    store64(cpu.prefix + lowcore::program_new_psw + 8, psw.addr);
  }

  std::unique_ptr<EmulatedBackend> instantiate() const {
    Storage storage;
    if (auto r = storage.add_anonymous(0, guest_storage_size); !r) throw std::runtime_error(r.error());
    storage.write(0, memory);
    for (std::uint64_t i = 0; i < keys.size(); ++i) storage.set_key(i * page_size, StorageKey{keys[i]});
    return std::make_unique<EmulatedBackend>(std::move(storage), std::vector<CpuState>{cpu}, facilities);
  }
};

// The selftest's guest (Linux tools/testing/selftests/kvm/s390/memop.c): 64-bit, DAT on,
// primary space, a
// region-first ASCE with real tables mapping virtual 0-2 MiB to real 0-2 MiB, prefix 0,
// mem1/mem2 two 64 KiB arrays at the same virtual and absolute address. With
// `map_last_page`, virtual 0xfffffffffffff000 maps to the frame `last_page_frame` too
// (test #8).
struct SelftestGuest {
  static constexpr std::uint64_t mem1 = 0x100000;
  static constexpr std::uint64_t mem2 = 0x110000;
  static constexpr std::uint32_t mem_size = 0x10000;
  static constexpr std::uint64_t last_page = 0xfffffffffffff000;
  static constexpr std::uint64_t last_page_frame = 0x120000;
  static constexpr std::uint64_t code = 0x10000;

  static constexpr std::uint64_t table_arena = 0x180000;

  static GuestImage build(bool map_last_page = false) {
    GuestImage g;
    SparseStorage tables;
    TableBuilder tb(tables, table_arena, guest_storage_size);
    const Asce asce = TableBuilder::asce(tb.region_table(TableType::region_first));
    for (std::uint64_t va = 0; va < guest_storage_size; va += page_size) tb.map_page(asce, va, va);
    if (map_last_page) tb.map_page(asce, last_page, last_page_frame);
    g.absorb(tables);
    g.cpu.psw = Psw{psw_dat_primary_64, code};
    g.cpu.crs[1] = g.cpu.crs[7] = g.cpu.crs[13] = asce.raw;
    g.cpu.prefix = 0;
    return g;
  }
};

// ---------------------------------------------------------------------------------------
// The two backends over one guest image.

struct EmulatedHarness {
  static constexpr const char* label = "emulated";
  explicit EmulatedHarness(const GuestImage& g) : kernel(g.instantiate()) {}
  Backend& backend() { return *kernel; }
  // The guest side: storage, keys and CPU state as guest code would leave them.
  EmulatedBackend& guest() { return *kernel; }
  // Lets state written through backend() take effect (nothing to do here).
  void run_guest() {}

  std::unique_ptr<EmulatedBackend> kernel;
};

struct KvmHarness {
  static constexpr const char* label = "kvm";
  explicit KvmHarness(const GuestImage& g, FakeKvm::Options options = {}, KvmBackendOptions backend_options = {})
      : kernel(g.instantiate()), fake(*kernel, options) {
    auto b = KvmBackend::create(fake, FakeKvm::vm_fd, fake.vcpus(), std::move(backend_options));
    REQUIRE_MESSAGE(b.has_value(), "KvmBackend::create over the fake kernel");
    kvm = std::move(*b);
  }
  Backend& backend() { return *kvm; }
  EmulatedBackend& guest() { return *kernel; }
  // KVM_RUN: kvm_run's PSW and dirty registers reach the vCPU, pending interrupts go.
  void run_guest() { REQUIRE(fake.run(0) == 0); }

  std::unique_ptr<EmulatedBackend> kernel;
  FakeKvm fake;
  std::unique_ptr<KvmBackend> kvm;
};

// Builds a Memop (designated fields in declaration order).
inline Memop memop(MemopKind kind, std::uint64_t gaddr, std::span<std::uint8_t> buf, std::uint32_t size,
                   std::uint64_t flags = 0, std::uint8_t ar = 0, std::uint8_t key = 0) {
  Memop op;
  op.kind = kind;
  op.gaddr = gaddr;
  op.flags = flags;
  op.size = size;
  op.ar = ar;
  op.key = key;
  op.buf = buf;
  return op;
}

}  // namespace s390b::test
