// The parts of the s390 KVM user-space ABI the KVM backend uses, mirrored by the project
// (Linux include/uapi/linux/kvm.h, arch/s390/include/uapi/asm/kvm.h). Why mirrors: on an
// x86 build machine <linux/kvm.h> carries the x86 kvm_regs/kvm_sregs/kvm_fpu and no s390
// kvm_run/kvm_sync_regs, and newer kernels
// moved struct kvm_s390_mem_op into the s390 arch header. The mirrors are plain structs of
// host-order integers, exactly as the kernel lays them out on s390x (natural alignment,
// no packing); every offset is pinned by a static_assert below, and wherever the installed
// headers do declare the real struct (always in the s390x cross build; the generic
// kvm_s390_mem_op on this x86 Debian 12 host) the mirror is asserted against it field by
// field. No byte swapping anywhere: the structs are native and an s390x host is big-endian.
#pragma once

#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

#include <linux/kvm.h>

namespace s390b::kvm {

// ---------------------------------------------------------------------------------------
// ioctl numbers. KVMIO is 0xAE; s390 uses the generic _IOC encoding (dir 30-31, size 16-29,
// type 8-15, nr 0-7), the same as x86, so the macros compute s390 values here as long as
// the size comes from the s390 mirror struct.
constexpr unsigned kvmio = KVMIO;
static_assert(kvmio == 0xAE);

// ---------------------------------------------------------------------------------------
// struct kvm_s390_mem_op (64 bytes; Linux arch/s390/include/uapi/asm/kvm.h, formerly
// include/uapi/linux/kvm.h).
struct MemOp {
  std::uint64_t gaddr;
  std::uint64_t flags;
  std::uint32_t size;
  std::uint32_t op;
  std::uint64_t buf;
  // The 32-byte union: {ar, key, pad1[6], old_addr} | sida_offset | reserved[32].
  union Extra {
    struct Access {
      std::uint8_t ar;
      std::uint8_t key;
      std::uint8_t pad1[6];
      std::uint64_t old_addr;
    } access;
    std::uint32_t sida_offset;
    std::uint8_t reserved[32];
  } extra;
};
static_assert(sizeof(MemOp) == 64);
static_assert(offsetof(MemOp, gaddr) == 0);
static_assert(offsetof(MemOp, flags) == 8);
static_assert(offsetof(MemOp, size) == 16);
static_assert(offsetof(MemOp, op) == 20);
static_assert(offsetof(MemOp, buf) == 24);
static_assert(offsetof(MemOp, extra) == 32);
static_assert(offsetof(MemOp::Extra::Access, ar) == 0);   // byte 32
static_assert(offsetof(MemOp::Extra::Access, key) == 1);  // byte 33
static_assert(offsetof(MemOp::Extra::Access, old_addr) == 8);  // byte 40
static_assert(sizeof(MemOp::Extra) == 32);

// Operations and flags (KVM_S390_MEMOP_*, same headers). ABSOLUTE_CMPXCHG (v6.3) is
// missing from the Debian 12 (v6.1) headers, so all of them are the project's own, checked
// where the header has them.
constexpr std::uint32_t op_logical_read = 0;
constexpr std::uint32_t op_logical_write = 1;
constexpr std::uint32_t op_sida_read = 2;
constexpr std::uint32_t op_sida_write = 3;
constexpr std::uint32_t op_absolute_read = 4;
constexpr std::uint32_t op_absolute_write = 5;
constexpr std::uint32_t op_absolute_cmpxchg = 6;
constexpr std::uint64_t flag_check_only = 1ULL << 0;
constexpr std::uint64_t flag_inject_exception = 1ULL << 1;
constexpr std::uint64_t flag_skey_protection = 1ULL << 2;

// The generic header declares the struct (and the op constants) up to about v6.8; later
// kernels moved both to the s390 arch header, so on other hosts neither is visible.
#if defined(KVM_S390_MEMOP_LOGICAL_READ)
static_assert(sizeof(struct kvm_s390_mem_op) == sizeof(MemOp));
static_assert(offsetof(struct kvm_s390_mem_op, gaddr) == offsetof(MemOp, gaddr));
static_assert(offsetof(struct kvm_s390_mem_op, flags) == offsetof(MemOp, flags));
static_assert(offsetof(struct kvm_s390_mem_op, size) == offsetof(MemOp, size));
static_assert(offsetof(struct kvm_s390_mem_op, op) == offsetof(MemOp, op));
static_assert(offsetof(struct kvm_s390_mem_op, buf) == offsetof(MemOp, buf));
static_assert(offsetof(struct kvm_s390_mem_op, ar) == offsetof(MemOp, extra) + offsetof(MemOp::Extra::Access, ar));
static_assert(offsetof(struct kvm_s390_mem_op, key) == offsetof(MemOp, extra) + offsetof(MemOp::Extra::Access, key));
static_assert(offsetof(struct kvm_s390_mem_op, sida_offset) == offsetof(MemOp, extra));
static_assert(offsetof(struct kvm_s390_mem_op, reserved) == offsetof(MemOp, extra));
static_assert(KVM_S390_MEMOP_LOGICAL_READ == op_logical_read && KVM_S390_MEMOP_LOGICAL_WRITE == op_logical_write);
static_assert(KVM_S390_MEMOP_SIDA_READ == op_sida_read && KVM_S390_MEMOP_SIDA_WRITE == op_sida_write);
static_assert(KVM_S390_MEMOP_ABSOLUTE_READ == op_absolute_read && KVM_S390_MEMOP_ABSOLUTE_WRITE == op_absolute_write);
static_assert(KVM_S390_MEMOP_F_CHECK_ONLY == flag_check_only && KVM_S390_MEMOP_F_INJECT_EXCEPTION == flag_inject_exception &&
              KVM_S390_MEMOP_F_SKEY_PROTECTION == flag_skey_protection);
#endif
// old_addr came with ABSOLUTE_CMPXCHG (~v6.3); the Debian 12 headers (v6.1) lack both.
#if defined(KVM_S390_MEMOP_ABSOLUTE_CMPXCHG)
static_assert(offsetof(struct kvm_s390_mem_op, old_addr) == offsetof(MemOp, extra) + offsetof(MemOp::Extra::Access, old_addr));
static_assert(KVM_S390_MEMOP_ABSOLUTE_CMPXCHG == op_absolute_cmpxchg);
#endif

constexpr unsigned long mem_op_request = _IOW(KVMIO, 0xb1, MemOp);
static_assert(mem_op_request == 0x4040AEB1);
#if defined(KVM_S390_MEM_OP)
static_assert(mem_op_request == KVM_S390_MEM_OP, "the generic header's number must match the mirror");
#endif

// Capabilities (Linux include/uapi/linux/kvm.h). KVM_CAP_S390_MEM_OP_EXTENSION (211) and
// its bits are not in every installed header (v5.18+ for the capability, v6.3+ for the
// CMPXCHG bit): defined here.
constexpr long cap_s390_mem_op = 108;
constexpr long cap_s390_mem_op_extension = 211;
constexpr std::uint32_t mem_op_extension_base = 1u << 0;     // absolute read/write, keys
constexpr std::uint32_t mem_op_extension_cmpxchg = 1u << 1;  // absolute cmpxchg
static_assert(KVM_CAP_S390_MEM_OP == cap_s390_mem_op);
#if defined(KVM_CAP_S390_MEM_OP_EXTENSION)
static_assert(KVM_CAP_S390_MEM_OP_EXTENSION == cap_s390_mem_op_extension);
#endif
#if defined(KVM_S390_MEMOP_EXTENSION_CAP_BASE)
static_assert(KVM_S390_MEMOP_EXTENSION_CAP_BASE == mem_op_extension_base);
static_assert(KVM_S390_MEMOP_EXTENSION_CAP_CMPXCHG == mem_op_extension_cmpxchg);
#endif

constexpr unsigned long check_extension_request = _IO(KVMIO, 0x03);
static_assert(check_extension_request == 0xAE03 && check_extension_request == KVM_CHECK_EXTENSION);

// ---------------------------------------------------------------------------------------
// Register structs (Linux arch/s390/include/uapi/asm/kvm.h). Arch-specific: the x86 build
// machine's header has x86 versions under the same names, so the request numbers are
// computed from these s390 mirrors.
struct Regs {
  std::uint64_t gprs[16];
};
struct Sregs {
  std::uint32_t acrs[16];
  std::uint64_t crs[16];
};
struct Fpu {
  std::uint32_t fpc;
  // 4 bytes of padding: fprs is 8-byte aligned.
  std::uint64_t fprs[16];
};
static_assert(sizeof(Regs) == 128);
static_assert(sizeof(Sregs) == 192 && offsetof(Sregs, crs) == 64);
static_assert(sizeof(Fpu) == 136 && offsetof(Fpu, fprs) == 8);

constexpr unsigned long get_regs_request = _IOR(KVMIO, 0x81, Regs);
constexpr unsigned long set_regs_request = _IOW(KVMIO, 0x82, Regs);
constexpr unsigned long get_sregs_request = _IOR(KVMIO, 0x83, Sregs);
constexpr unsigned long set_sregs_request = _IOW(KVMIO, 0x84, Sregs);
constexpr unsigned long get_fpu_request = _IOR(KVMIO, 0x8c, Fpu);
constexpr unsigned long set_fpu_request = _IOW(KVMIO, 0x8d, Fpu);
static_assert(get_regs_request == 0x8080AE81 && set_regs_request == 0x4080AE82);
static_assert(get_sregs_request == 0x80C0AE83 && set_sregs_request == 0x40C0AE84);
static_assert(get_fpu_request == 0x8088AE8C && set_fpu_request == 0x4088AE8D);

// struct kvm_one_reg is generic; the s390 register ids are not in the x86 header.
struct OneReg {
  std::uint64_t id;
  std::uint64_t addr;
};
static_assert(sizeof(OneReg) == sizeof(struct kvm_one_reg));
static_assert(offsetof(OneReg, addr) == offsetof(struct kvm_one_reg, addr));
constexpr unsigned long get_one_reg_request = _IOW(KVMIO, 0xab, OneReg);
constexpr unsigned long set_one_reg_request = _IOW(KVMIO, 0xac, OneReg);
static_assert(get_one_reg_request == KVM_GET_ONE_REG && set_one_reg_request == KVM_SET_ONE_REG);
static_assert(get_one_reg_request == 0x4010AEAB);

constexpr std::uint64_t reg_s390 = 0x5000000000000000;
constexpr std::uint64_t reg_size_u32 = 0x0020000000000000;
constexpr std::uint64_t reg_size_u64 = 0x0030000000000000;
static_assert(reg_s390 == KVM_REG_S390 && reg_size_u32 == KVM_REG_SIZE_U32 && reg_size_u64 == KVM_REG_SIZE_U64);
constexpr std::uint64_t reg_todpr = reg_s390 | reg_size_u32 | 0x1;
constexpr std::uint64_t reg_cpu_timer = reg_s390 | reg_size_u64 | 0x3;
constexpr std::uint64_t reg_clock_comp = reg_s390 | reg_size_u64 | 0x4;
constexpr std::uint64_t reg_gbea = reg_s390 | reg_size_u64 | 0x9;
static_assert(reg_todpr == 0x5020000000000001 && reg_cpu_timer == 0x5030000000000003);

// ---------------------------------------------------------------------------------------
// struct kvm_sync_regs (s390), the register area inside kvm_run. Layout of Linux v6.1's
// arch/s390/include/uapi/asm/kvm.h, unchanged in later kernels up to the newest read
// (fields are only ever added in the padding). Offsets relative to the struct.
struct SyncRegs {
  std::uint64_t prefix;        // 0     [PREFIX]
  std::uint64_t gprs[16];      // 8     [GPRS]
  std::uint32_t acrs[16];      // 136   [ACRS]
  std::uint64_t crs[16];       // 200   [CRS]
  std::uint64_t todpr;         // 328   [ARCH0]
  std::uint64_t cputm;         // 336   [ARCH0]
  std::uint64_t ckc;           // 344   [ARCH0]
  std::uint64_t pp;            // 352   [ARCH0]
  std::uint64_t gbea;          // 360   [ARCH0]
  std::uint64_t pft;           // 368   [PFAULT]
  std::uint64_t pfs;           // 376
  std::uint64_t pfc;           // 384
  std::uint64_t vrs[32][2];    // 392   [VRS]; the first 16 doublewords are fprs[16] [FPRS]
  std::uint8_t reserved[512];  // 904
  std::uint32_t fpc;           // 1416  [VRS or FPRS]
  std::uint8_t bpbc_byte;      // 1420  bpbc:1 plus 7 reserved bits (a bit-field upstream)
  std::uint8_t padding1[51];   // 1421
  std::uint8_t riccb[64];      // 1472  [RICCB]
  std::uint64_t diag318;       // 1536  [DIAG318]
  std::uint8_t padding2[184];  // 1544
  // The 256-byte state-description annex: reserved1[2], gscb[4], etoken, etoken_extension.
  std::uint64_t sdnx_reserved1[2];  // 1728
  std::uint64_t gscb[4];            // 1744  [GSCB]
  std::uint64_t etoken;             // 1776  [ETOKEN]
  std::uint64_t etoken_extension;   // 1784
  std::uint8_t sdnx_rest[192];      // 1792
};
static_assert(offsetof(SyncRegs, gprs) == 8 && offsetof(SyncRegs, acrs) == 136);
static_assert(offsetof(SyncRegs, crs) == 200 && offsetof(SyncRegs, todpr) == 328);
static_assert(offsetof(SyncRegs, gbea) == 360 && offsetof(SyncRegs, vrs) == 392);
static_assert(offsetof(SyncRegs, fpc) == 1416 && offsetof(SyncRegs, riccb) == 1472);
static_assert(offsetof(SyncRegs, diag318) == 1536 && offsetof(SyncRegs, gscb) == 1744);
static_assert(offsetof(SyncRegs, etoken) == 1776 && sizeof(SyncRegs) == 1984);

// kvm_valid_regs / kvm_dirty_regs bits (KVM_SYNC_*, arch/s390/include/uapi/asm/kvm.h).
namespace sync {
constexpr std::uint64_t prefix = 1u << 0;
constexpr std::uint64_t gprs = 1u << 1;
constexpr std::uint64_t acrs = 1u << 2;
constexpr std::uint64_t crs = 1u << 3;
constexpr std::uint64_t arch0 = 1u << 4;
constexpr std::uint64_t pfault = 1u << 5;
constexpr std::uint64_t vrs = 1u << 6;
constexpr std::uint64_t riccb = 1u << 7;
constexpr std::uint64_t fprs = 1u << 8;
constexpr std::uint64_t gscb = 1u << 9;
constexpr std::uint64_t bpbc = 1u << 10;
constexpr std::uint64_t etoken = 1u << 11;
constexpr std::uint64_t diag318 = 1u << 12;
}  // namespace sync

// ---------------------------------------------------------------------------------------
// struct kvm_run as s390 lays it out: the generic header puts psw_mask/psw_addr between
// apic_base and the exit union only under __KVM_S390, so the x86 struct is 16 bytes
// shorter there and cannot be used.
struct Run {
  std::uint8_t request_interrupt_window;  // 0
  std::uint8_t immediate_exit;            // 1
  std::uint8_t padding1[6];               // 2
  std::uint32_t exit_reason;              // 8
  std::uint8_t ready_for_interrupt_injection;  // 12
  std::uint8_t if_flag;                   // 13
  std::uint16_t flags;                    // 14
  std::uint64_t cr8;                      // 16
  std::uint64_t apic_base;                // 24
  std::uint64_t psw_mask;                 // 32
  std::uint64_t psw_addr;                 // 40
  std::uint64_t exit_union[32];           // 48: 256 bytes of per-exit data
  std::uint64_t kvm_valid_regs;           // 304
  std::uint64_t kvm_dirty_regs;           // 312
  union Sync {
    SyncRegs regs;
    std::uint8_t padding[2048];
  } s;                                    // 320
};
static_assert(offsetof(Run, exit_reason) == 8 && offsetof(Run, psw_mask) == 32);
static_assert(offsetof(Run, psw_addr) == 40 && offsetof(Run, exit_union) == 48);
static_assert(offsetof(Run, kvm_valid_regs) == 304 && offsetof(Run, kvm_dirty_regs) == 312);
static_assert(offsetof(Run, s) == 320 && sizeof(Run) == 2368);
// The generic fields before the s390 ones are the same on every architecture.
static_assert(offsetof(struct kvm_run, immediate_exit) == offsetof(Run, immediate_exit));
static_assert(offsetof(struct kvm_run, exit_reason) == offsetof(Run, exit_reason));
static_assert(offsetof(struct kvm_run, apic_base) == offsetof(Run, apic_base));

// ---------------------------------------------------------------------------------------
// Pending interrupts (KVM_S390_GET_IRQ_STATE): how the backend learns the TEID that an
// INJECT_EXCEPTION memop queued (the ioctl itself returns only the code).
struct PgmInfo {
  std::uint64_t trans_exc_code;  // 0: the TEID
  std::uint64_t mon_code;        // 8
  std::uint64_t per_address;     // 16
  std::uint32_t data_exc_code;   // 24
  std::uint16_t code;            // 28
  std::uint16_t mon_class_nr;    // 30
  std::uint8_t per_code;         // 32
  std::uint8_t per_atmid;        // 33
  std::uint8_t exc_access_id;    // 34
  std::uint8_t per_access_id;    // 35
  std::uint8_t op_access_id;     // 36
  std::uint8_t flags;            // 37
  std::uint8_t pad[2];           // 38
};
struct Irq {
  std::uint64_t type;
  union U {
    PgmInfo pgm;
    std::uint8_t reserved[64];
  } u;
};
struct IrqState {
  std::uint64_t buf;
  std::uint32_t flags;
  std::uint32_t len;
  std::uint32_t reserved[4];
};
static_assert(sizeof(PgmInfo) == 40 && offsetof(PgmInfo, code) == 28 && offsetof(PgmInfo, exc_access_id) == 34);
static_assert(sizeof(Irq) == 72 && offsetof(Irq, u) == 8);
static_assert(sizeof(IrqState) == 32);
constexpr std::uint64_t irq_program = 0xfffe0001;  // KVM_S390_PROGRAM_INT
constexpr unsigned long get_irq_state_request = _IOW(KVMIO, 0xb6, IrqState);
static_assert(get_irq_state_request == 0x4020AEB6);
#if defined(KVM_S390_PROGRAM_INT)
static_assert(KVM_S390_PROGRAM_INT == irq_program);
#endif
#if defined(KVM_S390_GET_IRQ_STATE)
static_assert(sizeof(struct kvm_s390_pgm_info) == sizeof(PgmInfo));
static_assert(offsetof(struct kvm_s390_pgm_info, code) == offsetof(PgmInfo, code));
static_assert(offsetof(struct kvm_s390_pgm_info, exc_access_id) == offsetof(PgmInfo, exc_access_id));
static_assert(sizeof(struct kvm_s390_irq) == sizeof(Irq));
static_assert(sizeof(struct kvm_s390_irq_state) == sizeof(IrqState));
static_assert(get_irq_state_request == KVM_S390_GET_IRQ_STATE);
#endif

// ---------------------------------------------------------------------------------------
// Storage keys (KVM_S390_GET_SKEYS / SET_SKEYS, VM fd).
struct Skeys {
  std::uint64_t start_gfn;
  std::uint64_t count;
  std::uint64_t skeydata_addr;
  std::uint32_t flags;
  std::uint32_t reserved[9];
};
static_assert(sizeof(Skeys) == 64);
constexpr unsigned long get_skeys_request = _IOW(KVMIO, 0xb2, Skeys);
constexpr unsigned long set_skeys_request = _IOW(KVMIO, 0xb3, Skeys);
static_assert(get_skeys_request == 0x4040AEB2 && set_skeys_request == 0x4040AEB3);
constexpr int skeys_none = 1;  // KVM_S390_GET_SKEYS_NONE: the guest does not use keys
#if defined(KVM_S390_GET_SKEYS)
static_assert(sizeof(struct kvm_s390_skeys) == sizeof(Skeys));
static_assert(get_skeys_request == KVM_S390_GET_SKEYS && skeys_none == KVM_S390_GET_SKEYS_NONE);
#endif

// ---------------------------------------------------------------------------------------
// The guest CPU model (KVM_GET_DEVICE_ATTR on the VM fd, group KVM_S390_VM_CPU_MODEL,
// attribute KVM_S390_VM_CPU_PROCESSOR): its facility list decides EDAT-1/-2 and IEP.
struct DeviceAttr {
  std::uint32_t flags;
  std::uint32_t group;
  std::uint64_t attr;
  std::uint64_t addr;
};
static_assert(sizeof(DeviceAttr) == sizeof(struct kvm_device_attr));
static_assert(offsetof(DeviceAttr, addr) == offsetof(struct kvm_device_attr, addr));
constexpr unsigned long get_device_attr_request = _IOW(KVMIO, 0xe2, DeviceAttr);
static_assert(get_device_attr_request == KVM_GET_DEVICE_ATTR && get_device_attr_request == 0x4018AEE2);
constexpr std::uint32_t vm_attr_cpu_model = 3;       // KVM_S390_VM_CPU_MODEL
constexpr std::uint64_t cpu_model_processor = 0;     // KVM_S390_VM_CPU_PROCESSOR
struct CpuProcessor {
  std::uint64_t cpuid;
  std::uint16_t ibc;
  std::uint8_t pad[6];
  // STFLE format: facility n is bit n counted from the most significant bit of word 0,
  // stored as native doublewords (so the test below is the same on either host order).
  std::uint64_t fac_list[256];
};
static_assert(sizeof(CpuProcessor) == 2064 && offsetof(CpuProcessor, fac_list) == 16);

constexpr bool facility_bit(const std::uint64_t (&list)[256], unsigned facility) {
  return (list[facility / 64] >> (63 - facility % 64)) & 1;
}
constexpr void set_facility_bit(std::uint64_t (&list)[256], unsigned facility) {
  list[facility / 64] |= std::uint64_t{1} << (63 - facility % 64);
}
constexpr unsigned facility_edat1 = 8;
constexpr unsigned facility_edat2 = 78;
constexpr unsigned facility_iep = 130;

// ---------------------------------------------------------------------------------------
// On an s390x build the installed headers are s390's: assert every mirror against them.
#if defined(__KVM_S390)
static_assert(sizeof(struct kvm_regs) == sizeof(Regs) && KVM_GET_REGS == get_regs_request);
static_assert(KVM_SET_REGS == set_regs_request);
static_assert(sizeof(struct kvm_sregs) == sizeof(Sregs) && offsetof(struct kvm_sregs, crs) == offsetof(Sregs, crs));
static_assert(KVM_GET_SREGS == get_sregs_request && KVM_SET_SREGS == set_sregs_request);
static_assert(sizeof(struct kvm_fpu) == sizeof(Fpu) && offsetof(struct kvm_fpu, fprs) == offsetof(Fpu, fprs));
static_assert(KVM_GET_FPU == get_fpu_request && KVM_SET_FPU == set_fpu_request);
static_assert(KVM_REG_S390_TODPR == reg_todpr && KVM_REG_S390_CPU_TIMER == reg_cpu_timer);
static_assert(KVM_REG_S390_CLOCK_COMP == reg_clock_comp && KVM_REG_S390_GBEA == reg_gbea);
static_assert(offsetof(struct kvm_run, psw_mask) == offsetof(Run, psw_mask));
static_assert(offsetof(struct kvm_run, psw_addr) == offsetof(Run, psw_addr));
static_assert(offsetof(struct kvm_run, kvm_valid_regs) == offsetof(Run, kvm_valid_regs));
static_assert(offsetof(struct kvm_run, kvm_dirty_regs) == offsetof(Run, kvm_dirty_regs));
static_assert(offsetof(struct kvm_run, s) == offsetof(Run, s));
static_assert(sizeof(struct kvm_run) == sizeof(Run));
static_assert(offsetof(struct kvm_sync_regs, prefix) == offsetof(SyncRegs, prefix));
static_assert(offsetof(struct kvm_sync_regs, gprs) == offsetof(SyncRegs, gprs));
static_assert(offsetof(struct kvm_sync_regs, acrs) == offsetof(SyncRegs, acrs));
static_assert(offsetof(struct kvm_sync_regs, crs) == offsetof(SyncRegs, crs));
static_assert(offsetof(struct kvm_sync_regs, todpr) == offsetof(SyncRegs, todpr));
static_assert(offsetof(struct kvm_sync_regs, cputm) == offsetof(SyncRegs, cputm));
static_assert(offsetof(struct kvm_sync_regs, ckc) == offsetof(SyncRegs, ckc));
static_assert(offsetof(struct kvm_sync_regs, gbea) == offsetof(SyncRegs, gbea));
static_assert(offsetof(struct kvm_sync_regs, vrs) == offsetof(SyncRegs, vrs));
static_assert(offsetof(struct kvm_sync_regs, fprs) == offsetof(SyncRegs, vrs));
static_assert(offsetof(struct kvm_sync_regs, fpc) == offsetof(SyncRegs, fpc));
static_assert(offsetof(struct kvm_sync_regs, riccb) == offsetof(SyncRegs, riccb));
static_assert(offsetof(struct kvm_sync_regs, diag318) == offsetof(SyncRegs, diag318));
static_assert(offsetof(struct kvm_sync_regs, gscb) == offsetof(SyncRegs, gscb));
static_assert(offsetof(struct kvm_sync_regs, etoken) == offsetof(SyncRegs, etoken));
static_assert(sizeof(struct kvm_sync_regs) == sizeof(SyncRegs));
static_assert(KVM_SYNC_PREFIX == sync::prefix && KVM_SYNC_GPRS == sync::gprs && KVM_SYNC_ACRS == sync::acrs);
static_assert(KVM_SYNC_CRS == sync::crs && KVM_SYNC_ARCH0 == sync::arch0 && KVM_SYNC_VRS == sync::vrs);
static_assert(KVM_SYNC_FPRS == sync::fprs && KVM_SYNC_GSCB == sync::gscb && KVM_SYNC_DIAG318 == sync::diag318);
static_assert(sizeof(struct kvm_s390_vm_cpu_processor) == sizeof(CpuProcessor));
static_assert(offsetof(struct kvm_s390_vm_cpu_processor, fac_list) == offsetof(CpuProcessor, fac_list));
static_assert(KVM_S390_VM_CPU_MODEL == vm_attr_cpu_model && KVM_S390_VM_CPU_PROCESSOR == cpu_model_processor);
#endif

}  // namespace s390b::kvm
