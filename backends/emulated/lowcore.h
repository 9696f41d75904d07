// Lowcore offsets the bridge reads or writes (z/Architecture prefix area; Linux
// arch/s390/include/asm/lowcore.h).
#pragma once

#include <cstdint>

namespace s390b::lowcore {

constexpr std::uint64_t pgm_ilc = 0x8c;               // u16 instruction-length code (bytes)
constexpr std::uint64_t pgm_code = 0x8e;              // u16 program-interruption code
constexpr std::uint64_t exc_access_id = 0xa0;         // u8
constexpr std::uint64_t per_access_id = 0xa1;         // u8
constexpr std::uint64_t op_access_id = 0xa2;          // u8
constexpr std::uint64_t trans_exc_code = 0xa8;        // u64 TEID
constexpr std::uint64_t program_old_psw = 0x150;      // 16 bytes
constexpr std::uint64_t program_new_psw = 0x1d0;      // 16 bytes

}  // namespace s390b::lowcore
