// The translation view of a vCPU's state.
#pragma once

#include "backends/cpu_state.h"
#include "translate/space.h"

namespace s390b {

inline TranslationContext translation_context(const CpuState& cpu, Facilities facilities) {
  TranslationContext ctx;
  ctx.psw = cpu.psw;
  ctx.cr = cpu.crs;
  ctx.ar = cpu.acrs;
  ctx.prefix = cpu.prefix;
  ctx.facilities = facilities;
  return ctx;
}

}  // namespace s390b
