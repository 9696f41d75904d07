// One vCPU's registers, decoded: every register GDB shows (PSW, general, access,
// floating-point and vector, control registers, prefix, timers, breaking-event address,
// guarded storage) plus what the system registers mean (PSW fields, CR0 controls, the
// ASCEs of CR1/CR7/CR13, DUCT, primary ASTE, EAX). The text is what `monitor regs` and
// `s390bridge regs` print; the JSON is `s390bridge regs --json` (docs/json.md).
#pragma once

#include <string>

#include "access/json.h"
#include "backends/cpu_state.h"

namespace s390b {

// "0x... 0x...  DAT on, home space, key 0, 64-bit, supervisor state"
std::string psw_text(const Psw& psw);
// "0x38 (ACC 3, F 1, R 0, C 0)"
std::string key_text(StorageKey key);

// The system state (PSW decoded, prefix, timers, CR0, ASCEs, ...), a few lines, each
// starting with two spaces.
std::string system_state_text(const CpuState& state);
// All registers the source provided, grouped, then the system state.
std::string cpu_state_text(unsigned cpu, const CpuState& state);
Json cpu_state_json(unsigned cpu, const CpuState& state);

}  // namespace s390b
