# A guided tour of s390bridge against its built-in demo guest.
#
#   terminal 1:  build/cli/s390bridge serve --demo          (or: scripts/demo)
#   terminal 2:  gdb-multiarch -x examples/demo-tour.gdb
#
# The server listens on 127.0.0.1:1234; for another port:
#   gdb-multiarch -ex 'set $s390b_port = 5555' -x examples/demo-tour.gdb
#
# docs/demo-guest.md is the map of the guest (every address used below). The tour
# leaves GDB connected, with every view back at `cpu`, so you can go on exploring.
# tests/e2e/10-gdb-demo.sh runs this file, so it stays in step with the server.

set pagination off
set confirm off
set width 0
set architecture s390:64-bit
# gdb-multiarch does not take the byte order from the target: s390x is big-endian.
set endian big

# Two GDB habits meet `monitor` commands here:
# - `monitor` acts on the vCPU the server last got an `Hg` for, and GDB sends `Hg` only
#   when it next needs registers or memory of the selected thread: after `info threads`
#   (which reads every thread) the server's vCPU can differ from GDB's thread. Reading a
#   register with a flushed cache makes GDB send `Hg` for the selected thread first.
# - GDB caches code bytes and stack frames between stops; it cannot know that `monitor
#   view` changed the address space under them. Flush both after every monitor command,
#   or `x/i` may show bytes of the previous view (and a later write may fail with "PC not
#   saved", from a frame unwound through the old view).
define hook-monitor
  maintenance flush register-cache
  set $_s390b_sync = $pswa
end
define hookpost-monitor
  maintenance flush dcache
  maintenance flush register-cache
end

# A GDB command file stops at its first error. A few steps below show an access that
# must fail: `s390b-try CMD` runs CMD, prints GDB's error and carries on.
python
class S390bTry(gdb.Command):
    """s390b-try COMMAND: run a GDB command that is expected to fail; print its error and go on."""

    def __init__(self):
        super().__init__("s390b-try", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        try:
            gdb.execute(arg, from_tty)
        except gdb.error as e:
            print("  => GDB: %s" % e)


S390bTry()
end

if $_isvoid($s390b_port)
  set $s390b_port = 1234
end
eval "target remote 127.0.0.1:%d", $s390b_port

echo \n== 1. Two vCPUs, two GDB threads ===========================================\n
echo Each vCPU is a thread; the thread list says what its PSW selects and which view\n
echo (address space) memory packets go through. Nothing runs: the guest is emulated.\n
info threads

echo \n== 2. Registers GDB knows about: PSW, general, access, control, prefix ===========\n
echo cpu 0 is stopped in the kernel: DAT on, home space, supervisor state.\n
info registers pswm pswa r15 acr2 acr3 acr4 cr0 cr1 cr7 cr13 prefix
echo The monitor decodes what GDB only shows as numbers:\n
monitor regs

echo \n== 3. Memory through each vCPU's own view (view cpu, the default) =================\n
echo cpu 0 (thread 1) runs in the home space, the kernel: the banner at 0x10000000400.\n
x/s 0x10000000400
thread 2
echo cpu 1 (thread 2) is a user process in its primary space, with its own prefix.\n
info registers pswm pswa prefix cr1 r15
x/s 0x1000000
x/s 0x3fffffff000
echo The same kernel address means nothing in the user process's space:\n
s390b-try x/s 0x10000000400
thread 1

echo \n== 4. Choosing the address space: monitor view ==================================\n
echo The secondary space of cpu 0 (CR7) is the user process:\n
monitor view secondary
x/s 0x1000000
echo Real addresses (DAT off, prefixing on): every vCPU sees its own lowcore at 0x1180.\n
monitor view real
x/s 0x1180
thread 2
monitor view real
x/s 0x1180
monitor view cpu
thread 1
echo Absolute addresses (no prefixing): both lowcores, and what real page 0 would hide.\n
monitor view absolute
x/s 0x21180
x/s 0x23180
x/s 0x100
echo Access-register translation: ALET 2 is the user space, ALET 3 the kernel (fetch-only).\n
monitor view ar 2
x/s 0x1000000
monitor view alet 0x3
x/s 0x10000000400
echo Any address space by its ASCE, e.g. the user process's page-table root from CR1 of cpu 1:\n
monitor view asce 0x11900b
x/s 0x1000000
monitor view

echo \n== 5. How an address translates: monitor translate ==============================\n
monitor view home
echo A 4 KiB page of DAT-protected kernel text (region-third, segment, page tables):\n
monitor translate 0x10000000400
echo A 1 MiB segment frame (EDAT-1) and a 2 GiB region-third frame (EDAT-2):\n
monitor translate 0x20000000000
x/s 0x20000000000
monitor translate 0x30002000000
x/s 0x30002000000
echo The page after the kernel text is invalid:\n
monitor translate 0x10000010000

echo \n== 6. Writes, and the protections that refuse them =============================\n
echo Kernel data is writable: change one byte, read it, put it back.\n
set *(char*)0x600000 = 'K'
x/s 0x600000
set *(char*)0x600000 = 'k'
x/s 0x600000
echo The kernel text is DAT-protected: the write fails and nothing changes.\n
s390b-try set *(char*)0x10000000400 = 'l'
monitor translate 0x10000000400 store
x/s 0x10000000400
echo A read that runs into the invalid page returns the bytes before it:\n
s390b-try x/8xb 0x1000000fffc
echo Low-address protection guards the lowcore in the real view:\n
monitor view real
s390b-try set *(char*)0x1180 = 'L'
x/s 0x1180
echo ALET 3 is fetch-only: reading works, storing is a protection exception.\n
monitor view alet 0x3
s390b-try set *(char*)0x600000 = 'K'
monitor translate 0x600000 store

echo \n== 7. Storage keys and raw MEMOPs ================================================\n
monitor view absolute
echo The fetch-protected page has storage key 0x38, the next page key 0x90:\n
x/s 0x500000
x/s 0x501000
monitor regs 0x500000
echo A MEMOP with access key 9 may not fetch from the key-3 fetch-protected page:\n
s390b-try monitor memop read 0x500000 16 --key 9
monitor memop read 0x500000 16 --key 3
echo Check-only write into the kernel text, as JSON (the logical address goes through\n
echo the vCPU's PSW, like KVM_S390_MEM_OP, not through the view):\n
s390b-try monitor memop write 0x10000000400 --data 41 --check-only --json

monitor view all cpu
echo \n== End of the tour. Views are back at `cpu`. Try: monitor help, monitor view,\n
echo x/s ADDR, monitor translate ADDR; docs/demo-guest.md lists every address.\n
