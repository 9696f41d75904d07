# Kernel debugging through s390bridge with the kernel's DWARF vmlinux (Debian:
# linux-image-*-dbg, /usr/lib/debug/boot/vmlinux-<version>). Start the bridge on a dump
# (or, later, a live guest) first:
#
#   s390bridge serve --core guest.elf --view home          # terminal 1
#   gdb-multiarch -x examples/kernel-debug.gdb /usr/lib/debug/boot/vmlinux-6.1.0-28-s390x
#
# --view home makes every memory packet go through the kernel's own page tables (CR13),
# whatever space each vCPU was in when it stopped: on a vCPU stopped in a user process
# the primary space is that process's, where kernel addresses mean nothing. (QEMU's own
# gdbstub always uses the primary space unless the PSW is in home mode.)
#
# Port: set $s390b_port before sourcing (default 1234).

set pagination off
set confirm off
set architecture s390:64-bit
set endian big
if !$_isvoid($s390b_port)
  eval "target remote 127.0.0.1:%d", $s390b_port
else
  target remote 127.0.0.1:1234
end

# After a `monitor view` change, GDB's caches still hold the previous space's bytes.
define hookpost-monitor
  maintenance flush dcache
  maintenance flush register-cache
end

echo \n== every vCPU, with the space it runs in and its view\n
info threads

echo \n== the kernel through its own page tables\n
monitor view all home
p linux_banner
p init_task.comm
p/x init_task.mm

echo \n== how the kernel maps linux_banner: every table level\n
eval "monitor translate %#lx", &linux_banner

echo \n== the system registers GDB does not show (PSW decoded, ASCEs, prefix, timers)\n
monitor regs

# From here on, for example:
#   bt                                   the stopped vCPU's kernel stack
#   thread 2 / bt                        another vCPU's
#   monitor view asce 0x...              a process's space: its mm->context.asce
#   x/s 0x...                            then read its user memory
#   monitor view cpu                     back to what each PSW selects
