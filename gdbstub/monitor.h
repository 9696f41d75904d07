// `monitor` commands (qRcmd): views, translation traces, system registers and raw
// MEMOPs, for a stock GDB with no plugin. Pure text in, text out: the session decodes
// qRcmd and sends the output as `O` packets.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "access/memory_access.h"
#include "backends/backend.h"
#include "translate/space.h"

namespace s390b::rsp {

struct MonitorContext {
  Backend& backend;                  // read-only servers pass their ReadOnlyBackend
  MemoryAccess& memory;
  std::vector<AddressSpace>& views;  // one per vCPU, used by every memory packet
  unsigned current_cpu = 0;          // the vCPU selected with Hg
};

struct MonitorReply {
  std::string output;  // newline-terminated lines
  bool error = false;  // the command failed (the session answers E.text / Exx after output)
};

MonitorReply run_monitor_command(MonitorContext& ctx, std::string_view line);

}  // namespace s390b::rsp
