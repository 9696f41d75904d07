// libFuzzer target for the VMCOREINFO recovery (backends/dump/vmcoreinfo.h), which reads
// pointers, sizes and checksums out of guest memory, i.e. outside input: the input is
// absolute storage from 0 (a 64 KiB guest, the input at its start), so the lowcore
// pointers at 0xe0c and 0xe18 and whatever they designate come from the fuzzer. Checks
// the documented invariants: a result is bounded, looks like VMCOREINFO text, and every
// rejection has a reason; nothing reads outside storage. A text found is then used as a
// dump without CPU notes uses it (lowcore_cpus.h): its SYMBOL(lowcore_ptr) and
// LENGTH(lowcore_ptr), the pointers and the save areas come from the fuzzer too.
//
// Seeds (tests/fuzz/corpus/fuzz_vmcoreinfo/): a guest with a valid os_info entry 0, one
// with only the 0xe0c note, one with both.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "backends/dump/guest_read.h"
#include "backends/dump/lowcore_cpus.h"
#include "backends/dump/vmcoreinfo.h"
#include "backends/emulated/emulated_backend.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::uint64_t guest_size = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  s390b::Storage storage;
  if (!storage.add_anonymous(0, guest_size)) return 0;
  const std::span<const std::uint8_t> in(data, std::min<std::size_t>(size, guest_size));
  if (!in.empty()) storage.write(0, in);
  s390b::EmulatedBackend backend(std::move(storage), std::vector<s390b::CpuState>(1));
  const auto s = s390b::dump::recover_vmcoreinfo(backend);
  if (s.found) {
    check(!s.found->desc.empty() && s.found->desc.size() <= s390b::dump::vmcoreinfo_max_bytes);
    check(s390b::dump::vmcoreinfo_text_problem(s.found->desc).empty());
    check(s.found->value("OSRELEASE").has_value() || s.found->text().find("OSRELEASE=") != std::string_view::npos);
  } else {
    check(s.rejected.size() == 2);
  }
  for (const auto& why : s.rejected) check(!why.empty());
  if (s.found) {
    const s390b::dump::AbsoluteReadFn read = [&](std::uint64_t address, std::span<std::uint8_t> out) {
      return s390b::dump::read_guest_absolute(backend, address, out).ok();
    };
    const auto cpus = s390b::dump::cpus_from_lowcores(read, s.found->text());
    if (cpus) {
      check(!cpus->cpus.empty() && cpus->cpus.size() <= s390b::dump::max_lowcore_ptrs);
      check(cpus->sources.size() == cpus->cpus.size());
      for (const auto& c : cpus->cpus) check(c.prefix != 0 && c.prefix % 0x2000 == 0 && c.present.gprs);
    } else {
      check(!cpus.error().empty());
    }
  }
  return 0;
}
