// libFuzzer target for what the live QEMU backend parses from QEMU's gdbstub
// (backends/qemu/): the target description (target.xml and the documents it includes) and
// run-length encoded replies. The input is split at NUL bytes: the first piece is
// target.xml, the next pieces are the documents its xi:include elements ask for, in the
// order they are asked for; the last piece is also fed to expand_run_length.
//
// Checked on every input, beyond "no crash/UB/hang" (ASan, UBSan):
//  - determinism: a second parse gives the same registers or the same error;
//  - on success, the description keeps its promises: at least one register, at most
//    max_registers, every bitsize a non-zero multiple of 8 and at most 4096, names
//    non-empty, find() returns the first register of a name;
//  - includes are fetched at most max_documents times (no loop, no endless chain);
//  - expand_run_length never grows a reply beyond 98 bytes per input byte (the largest
//    count a run can carry) and leaves input without '*' unchanged.
//
// Fuzz by hand: cmake --build build-fuzz --target fuzz_qemu_replies, then
//   build-fuzz/fuzz/fuzz_qemu_replies -max_len=8192 /tmp/q tests/fuzz/corpus/fuzz_qemu_replies
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "backends/qemu/rsp_client.h"
#include "backends/qemu/target_description.h"

namespace {

void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz_qemu_replies: %s\n", what);
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace s390b::qemu;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> pieces;
  for (std::size_t start = 0;;) {
    const auto nul = input.find('\0', start);
    pieces.push_back(input.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }

  auto run = [&](unsigned& fetches) {
    std::size_t next = 1;
    return TargetDescription::parse(pieces[0], [&](std::string_view) -> tl::expected<std::string, std::string> {
      ++fetches;
      if (next >= pieces.size()) return tl::unexpected(std::string("no such document"));
      return std::string(pieces[next++]);
    });
  };
  unsigned fetches1 = 0, fetches2 = 0;
  auto a = run(fetches1);
  auto b = run(fetches2);
  require(fetches1 <= TargetDescription::max_documents, "more documents fetched than the bound");
  require(a.has_value() == b.has_value() && fetches1 == fetches2, "parsing is not deterministic");
  if (a) {
    const auto& regs = a->registers();
    require(!regs.empty() && regs.size() <= TargetDescription::max_registers, "register count out of bounds");
    require(regs.size() == b->registers().size(), "parsing is not deterministic");
    for (std::size_t i = 0; i < regs.size(); ++i) {
      require(!regs[i].name.empty(), "a register without a name");
      require(regs[i].bits > 0 && regs[i].bits % 8 == 0 && regs[i].bits <= 4096, "a bad bitsize");
      require(regs[i].name == b->registers()[i].name && regs[i].number == b->registers()[i].number,
              "parsing is not deterministic");
      const RemoteRegister* found = a->find(regs[i].name);
      require(found && found->name == regs[i].name, "find() misses a register");
    }
  } else {
    require(a.error() == b.error(), "errors differ between two parses");
  }

  const std::string_view last = pieces.back();
  auto expanded = expand_run_length(last);
  if (expanded) {
    require(expanded->size() <= last.size() * 98, "run-length expansion beyond its bound");
    if (last.find('*') == std::string_view::npos) require(*expanded == last, "a reply without '*' changed");
  }
  return 0;
}
