#include "backends/emulated/demo_guest.h"

#include <stdexcept>

#include <fmt/format.h>

#include "backends/emulated/guest_builder.h"
#include "translate/address.h"

namespace s390b::demo {

namespace {

constexpr std::uint64_t table_pool_start = 0x100000;
constexpr std::uint64_t table_pool_end = 0x400000;
constexpr std::uint64_t psw_64bit = Psw::ea_bit | Psw::ba_bit;
constexpr std::uint64_t psw_home = Psw::as_mask;  // AS = 11
constexpr std::uint64_t psw_primary = 0;

// The demo guest is fixed data: a failure here is a programming error, not input.
template <typename T>
T must(tl::expected<T, std::string> r) {
  if (!r) throw std::logic_error("demo guest: " + r.error());
  return std::move(*r);
}
inline void must(tl::expected<void, std::string> r) {
  if (!r) throw std::logic_error("demo guest: " + r.error());
}

}  // namespace

std::unique_ptr<EmulatedBackend> make_guest() {
  Storage storage;
  must(storage.add_anonymous(0, storage_size));
  GuestBuilder b(storage, table_pool_start, table_pool_end);

  // Home space: the kernel, as Linux runs it (region-third ASCE, 4 TiB).
  const Asce kernel = must(b.new_space(TableType::region_third));
  must(b.map_range(kernel, 0, 0, identity_map_size));
  must(b.map_range(kernel, kernel_text_va, kernel_text_abs, kernel_text_size, {.protect = true}));
  must(b.map_page(kernel, kernel_hole_va, 0));
  const std::uint64_t hole_pte = must(b.pte_address(kernel, kernel_hole_va));
  b.store64(hole_pte, PageEntry::i_bit);  // a page table exists, the page is invalid
  must(b.map_segment_frame(kernel, segment_frame_va, segment_frame_abs));
  must(b.map_region3_frame(kernel, region3_frame_va, 0));

  // A user process: its own region-second ASCE.
  const Asce user = must(b.new_space(TableType::region_second));
  must(b.map_range(user, user_text_va, user_text_abs, page_size));
  must(b.map_range(user, user_stack_va, user_stack_abs, page_size));

  // Access list: ALEN 2 user space, 3 kernel fetch-only, 4 invalid.
  const auto list = must(b.new_access_list(8));
  const std::uint64_t user_aste = must(b.new_aste(user, 1));
  const std::uint64_t kernel_aste = must(b.new_aste(kernel, 1));
  b.set_ale(list, 2, {.aste = user_aste, .astesn = 1});
  b.set_ale(list, 3, {.fetch_only = true, .aste = kernel_aste, .astesn = 1});
  b.set_ale(list, 4, {.invalid = true});
  const std::uint64_t duct = must(b.new_duct(list));

  // Strings at documented places.
  b.write_string(absolute_zero_string, "absolute page 0: real page 0 of no CPU (prefixes are 0x20000, 0x22000)");
  for (unsigned cpu = 0; cpu < cpu_count; ++cpu)
    b.write_string(prefix[cpu] + lowcore_string, fmt::format("lowcore of cpu {} (real 0x1180, low-address protected)", cpu));
  b.write_string(kernel_text_abs + (linux_banner_va - kernel_text_va),
                 "Linux version 6.1.0-s390bridge-demo (demo@s390bridge) #1 SMP home space, DAT-protected text");
  b.write_string(kernel_data_va, "kernel data: writable, identity-mapped in the home space");
  b.write_string(segment_frame_abs, "kernel 1 MiB frame (EDAT-1 segment frame)");
  b.write_string(region3_frame_string_va - region3_frame_va, "kernel 2 GiB frame (EDAT-2 region-third frame) at +32 MiB");
  b.write_string(fetch_protected_abs, "fetch-protected page: storage key 0x38");
  b.write_string(key9_abs, "storage key 9 page");
  b.write_string(user_text_abs, "hello from the user process (primary space of cpu 1)");
  b.write_string(user_stack_abs, "user stack page");

  storage.set_key(fetch_protected_abs, StorageKey{0x38});
  storage.set_key(key9_abs, StorageKey{0x90});
  storage.set_key(user_text_abs, StorageKey{0x20});
  storage.set_key(user_stack_abs, StorageKey{0x20});

  std::vector<CpuState> cpus(cpu_count);
  for (unsigned i = 0; i < cpu_count; ++i) {
    CpuState& c = cpus[i];
    c.crs[0] = cr0::low_address_protection | cr0::edat | 0xe0;  // LAP, EDAT, external subclasses
    c.crs[1] = i == 0 ? kernel.raw : user.raw;
    c.crs[2] = duct;
    c.crs[7] = user.raw;
    c.crs[13] = kernel.raw;
    c.crs[14] = 0xc2000000;  // machine-check subclasses, as Linux sets them
    c.acrs[2] = alet_user;
    c.acrs[3] = alet_kernel_fetch_only;
    c.acrs[4] = alet_invalid;
    c.prefix = static_cast<std::uint32_t>(prefix[i]);
    for (unsigned r = 0; r < 16; ++r) c.gprs[r] = 0x1000 * (i + 1) + r;
    for (unsigned r = 0; r < 32; ++r) c.vrs[r] = {0x4000000000000000ull + r, 0x1111111111111111ull * (r % 16)};
    c.fpc = 0;
    c.cputm = 0x7fffffff00000000ull - i;
    c.ckc = 0xffffffffffffffffull;
    c.todpr = 0x1234;
    c.last_break = i == 0 ? kernel_text_va + 0x80 : user_text_va + 0x20;
    c.present = {.gprs = true, .psw = true, .acrs = true, .crs = true, .fprs = true, .vrs = true,
                 .prefix = true, .cputm = true, .ckc = true, .todpr = true, .last_break = true, .gs = false};
  }
  // cpu 0 stopped in the kernel (home space), cpu 1 in the user process (primary, problem state).
  cpus[0].psw = Psw{Psw::dat_bit | Psw::io_bit | Psw::ext_bit | psw_home | psw_64bit, kernel_text_va + 0x100};
  cpus[0].gprs[15] = kernel_data_va + 0x8000;
  cpus[1].psw = Psw{Psw::dat_bit | Psw::io_bit | Psw::ext_bit | Psw::problem_bit | psw_primary | psw_64bit,
                    user_text_va + 0x40};
  cpus[1].gprs[15] = user_stack_va + 0xf00;

  return std::make_unique<EmulatedBackend>(std::move(storage), std::move(cpus));
}

}  // namespace s390b::demo
