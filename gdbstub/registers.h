// The s390x register set as GDB sees it: the target description (features
// org.gnu.gdb.s390.core, .acr, .fpr, .vx, .gs, .cr, .virt; QEMU target/s390x/gdbstub.c
// and gdb-xml/s390*.xml)
// and the mapping between register numbers and CpuState. Numbering follows the order of
// the features in target.xml, which is QEMU's order, so `p`/`P` numbers agree with QEMU's
// stub whenever the same features are present. Values are big-endian on the wire.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backends/cpu_state.h"

namespace s390b::rsp {

struct RegisterInfo {
  std::string name;
  unsigned bits = 64;
  std::string_view type;     // GDB type name in the description
  std::string_view group;    // GDB register group ("" = none)
  std::string_view feature;  // owning feature name
};

class RegisterLayout {
 public:
  // The layout for a backend whose CPU state provides `present`. core, acr and fpr are
  // always described (GDB requires them); vx always (GDB derives fprs from it when
  // present); gs, cr and virt only where the backend has them.
  static RegisterLayout for_state(const CpuState::Present& present);

  std::size_t count() const { return regs_.size(); }
  const RegisterInfo& info(unsigned regnum) const { return regs_[regnum]; }
  unsigned bytes(unsigned regnum) const { return regs_[regnum].bits / 8; }
  // Bytes of all registers in `g` order.
  std::size_t total_bytes() const;
  // The regnum of `name`, or -1.
  int find(std::string_view name) const;

  // The whole description as one document (GDB accepts several features in target.xml).
  const std::string& target_xml() const { return xml_; }

  // Big-endian value of register `regnum` of `state` appended to `out`.
  void read(const CpuState& state, unsigned regnum, std::vector<std::uint8_t>& out) const;
  // Stores big-endian `value` (exactly bytes(regnum) long) into `state`. False when the
  // size is wrong.
  bool write(CpuState& state, unsigned regnum, std::span<const std::uint8_t> value) const;
  // All registers in order (the `g` reply), and the inverse (`G`).
  std::vector<std::uint8_t> read_all(const CpuState& state) const;
  bool write_all(CpuState& state, std::span<const std::uint8_t> values) const;

  // Register numbers GDB expedites in stop replies.
  static constexpr unsigned pswm = 0;
  static constexpr unsigned pswa = 1;
  static constexpr unsigned r15 = 17;

 private:
  enum class Kind : std::uint8_t { pswm, pswa, gpr, acr, fpc, fpr, vr_low, vr_full, gs, cr, ckc, cputm, last_break, prefix };
  struct Slot {
    Kind kind;
    unsigned index;
  };
  void add(Kind kind, unsigned index, RegisterInfo info);

  std::vector<RegisterInfo> regs_;
  std::vector<Slot> slots_;
  std::string xml_;
};

}  // namespace s390b::rsp
