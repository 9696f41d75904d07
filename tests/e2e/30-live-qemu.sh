#!/usr/bin/env bash
# shellcheck disable=SC2016 # gdb expressions ($pc, $pswm, ...) are meant literally
# End to end against a LIVE s390x Linux guest: Debian's kernel and busybox under
# qemu-system-s390x (TCG, 2 CPUs, 512 MiB of RAM shared through a file), driven by
# gdb-multiarch with the kernel's DWARF vmlinux while a script types on the guest's
# console. docs/real-guest-testing.md describes the harness.
#
#   S390B_BUILD=build tests/e2e/30-live-qemu.sh                          # the bridge
#   S390B_LIVE_TARGET=qemu S390B_BUILD=build tests/e2e/30-live-qemu.sh   # QEMU's own stub
#
# S390B_LIVE_TARGET picks what gdb talks to:
#   qemu    QEMU's own gdbstub, directly (the reference; needs no s390bridge at all)
#   bridge  `s390bridge serve --qemu 127.0.0.1:QPORT --qemu-mem RAMFILE` in front of it
#   unset   bridge when `s390bridge serve --help` offers --qemu; otherwise the scenario
#           runs against QEMU's stub and the script then exits 77 (not built yet)
#
# What gdb does (one session, sections checked line by line, an "ok"/"FAIL" line each):
# break on the kernel's uname syscall, continue while `uname -a` is typed on the console,
# the breakpoint hits on the CPU running uname (checked through that CPU's lowcore), bt
# through __do_syscall and system_call, kernel mode, linux_banner and init_task.comm
# printed, the hostname in init_uts_ns written (the very uname being stopped prints it),
# stepi moves the PC by one instruction, finish returns into do_syscall with 0, pswa is
# that return address, delete, continue while the console answers, interrupt (SIGINT, as
# a user's Ctrl-C), stop again until a CPU is in user mode, its task found through
# lowcore_ptr[] and the busy user process's marker read in its argv through that CPU,
# detach; then the console answers again and shows the new hostname. Before all that,
# with the guest paused: a differential read of ~330 kernel addresses (text, rodata,
# ro_after_init, data, bss, lowcore, the CPUs' stacks, unmapped ones) on every CPU,
# QEMU's own stub (the reference, also checked against the vmlinux file for .rodata)
# against the target. The bridge-only checks are the bridge_* functions below.
#
# Exit 0 pass, 77 skipped (reason printed), anything else fail. S390B_KEEP=1 keeps the
# work directory (console log, gdb transcripts and their sections, reads, server log).
# Every gdb run is bounded (120 s), so is every wait on the console.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/real-guest.sh
source "$here/lib/real-guest.sh"
# shellcheck source=lib/gdb-demo.sh
source "$here/lib/gdb-demo.sh"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== [$(rg_since "$t0")s] $*"; }
ok() { echo "ok: $*"; }
failed=0
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
# check DESCRIPTION COMMAND...: one ok/FAIL line.
check() {
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

t0=$(rg_now)
serve_pid=
cleanup() {
  if [[ -n $serve_pid ]]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
  fi
  rg_cleanup
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- what gdb talks to -----------------------------------------------------------------
target=${S390B_LIVE_TARGET:-}
bridge=
fallback=
serve_has_qemu() {
  [[ -n ${S390B_BUILD:-} && -x $S390B_BUILD/cli/s390bridge ]] || return 1
  "$S390B_BUILD/cli/s390bridge" serve --help 2>&1 | grep -q -- '--qemu'
}
if [[ -n ${S390B_BUILD:-} ]]; then
  S390B_BUILD=$(cd "$S390B_BUILD" && pwd)
  bridge=$S390B_BUILD/cli/s390bridge
fi
case $target in
  qemu) ;;
  bridge)
    [[ -n $bridge ]] || fail "set S390B_BUILD to the build directory holding cli/s390bridge"
    [[ -x $bridge ]] || fail "$bridge not built"
    serve_has_qemu || skip "s390bridge serve --qemu not built yet"
    ;;
  "")
    if serve_has_qemu; then
      target=bridge
    else
      target=qemu
      fallback="s390bridge serve --qemu not built yet"
    fi
    ;;
  *) fail "S390B_LIVE_TARGET is '$target'; it must be qemu or bridge" ;;
esac
if [[ -n $fallback ]]; then
  echo "target: qemu ($fallback: the scenario runs against QEMU's own stub, then skips)"
else
  echo "target: $target"
fi

# --- machine and guest -----------------------------------------------------------------
step "host packages"
rg_need_packages qemu-system-misc gdb-multiarch cpio || skip "$RG_SKIP_REASON"
command -v python3 >/dev/null || skip "no python3"
[[ $(gdb-multiarch -nx -batch -ex 'python print("py" + "ok")' 2>&1) == *pyok* ]] ||
  skip "gdb-multiarch has no Python (the scenario's helpers are gdb Python commands)"

rg_workdir
w=$RG_WORK
avail_mb=$(df -Pm "$w" | awk 'NR == 2 { print $4 }')
((avail_mb >= 800)) || skip "only ${avail_mb} MB free in $w; the guest's 512 MiB RAM file needs ~0.8 GB headroom"

step "s390x kernel, busybox and the kernel's DWARF vmlinux (cache $RG_CACHE)"
rc=0
rg_fetch || rc=$?
if ((rc != 0)); then
  [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"
  fail "rg_fetch (exit $rc)"
fi
rg_fetch_vmlinux || skip "no DWARF vmlinux: $RG_SKIP_REASON"
vmlinux=$RG_VMLINUX
echo "kernel:  $RG_KERNEL_PKG $RG_KERNEL_VERSION; vmlinux $vmlinux"

step "initramfs and boot (interactive console, RAM in a shared file; up to ${RG_BOOT_TIMEOUT}s)"
export RG_CONSOLE_INPUT=1 RG_SHARED_RAM=1
rg_initramfs "$w/initramfs.cpio.gz" || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "rg_initramfs"; }
rc=0
rg_boot || rc=$?
if ((rc != 0)); then
  [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"
  fail "the guest did not come up"
fi
ok "marker $RG_MARKER after ${RG_BOOT_SECONDS}s; RAM file $RG_RAM_FILE ($(stat -c %s "$RG_RAM_FILE") bytes)"
rg_console_wait "^${RG_PROMPT% }" 30 0 >/dev/null || fail "no shell prompt on the console"
rg_console_send "echo console-$RANDOM-ok"
rg_console_wait '^console-[0-9]+-ok$' 30 >/dev/null || fail "the console shell does not answer"
ok "the console shell answers typed commands"
proc_version=$(rg_py console "$RG_CONSOLE_LOG" | python3 -c 'import json, sys; print(json.load(sys.stdin)["proc_version"])')

# The background helpers gdb starts (console input, SIGINT) run real-guest.sh directly.
export RG_WORK RG_QMP_SOCK RG_CONSOLE_FIFO RG_CONSOLE_LOG
export S390B_RG_LIB=$here/lib S390B_MARKER=$RG_USER_MARKER S390B_BG_LOG=$w/background.log
: >"$S390B_BG_LOG"
rg_bg=(bash "$here/lib/real-guest.sh")

# gdb sessions: lib/gdb-demo.sh's command lists (sec/ex/want_*), with the vmlinux and the
# helpers of lib/live_gdb.py. gdb's index of the 200 MB vmlinux is cached next to it.
GD_WORK=$w
GD_GDB_TIMEOUT=120
GD_VERBOSE=1
mkdir -p "$RG_CACHE/gdb-index"
gdb_pre=(-ex "set index-cache directory $RG_CACHE/gdb-index" -ex 'set index-cache enabled on'
  -ex "file $vmlinux" -x "$here/lib/live_gdb.py")
# session NAME PORT: runs the command list built since gd_begin, then its checks.
session() {
  local before=$GD_FAILED
  gd_run "$1" "$2" "${gdb_pre[@]}" || bad "gdb session $1 against port $2 (transcript above)"
  gd_verify "$1"
  ((GD_FAILED == before)) || failed=$((failed + GD_FAILED - before))
}
# sect NAME FILE: the normalised output of section NAME of session FILE (gd_split's).
sect() { cat "$w/$2.sec/$1.txt" 2>/dev/null || true; }

# --- sections added to the scenario -------------------------------------------------------
# Hooks: each adds sections (sec/ex/want_*) to the scenario's gdb command list at a fixed
# point, or runs checks after the session. The bridge_* ones run only with the bridge as
# the target (QEMU's stub has no views, and would accept the kernel text write). What
# they can use: w (work dir), target, TARGET_PORT, RG_GDB_PORT (QEMU's stub: taken while
# the bridge is its client), RG_RAM_FILE, RG_QMP_SOCK (rg_qmp), vmlinux, proc_version
# (/proc/version: linux_banner without its "\n"), hostname_new, uname_fn, RG_USER_MARKER,
# serve_pid, bridge; in gdb the $s390b_* variables of lib/live_gdb.py. check/bad record a
# result; session/sect run and read a gdb session.

# At the uname breakpoint, every vCPU stopped, the current one in kernel mode: the
# hostname (init_uts_ns.name.nodename, what uname(2) and /proc/sys/kernel/hostname show)
# is written. The uname being stopped copies it out afterwards and prints it; the console
# shows it again after detach (checked after the session). Works through QEMU's stub too.
live_hostname_write() {
  sec hostname-write
  ex "set var init_uts_ns.name.nodename = \"$hostname_new\"" 'p init_uts_ns.name.nodename'
  want_sub "= \"$hostname_new\", '\\000' <repeats"
}

# bridge_differential: after the default-view differential (reads-qemu.json: QEMU's stub,
# reads-target.json: the bridge; the guest still paused, the bridge's client gone). Here:
# every vCPU in the home view reads the kernel's addresses as QEMU's stub does on a
# vCPU in kernel mode (lowcore excluded: prefixed, per CPU).
bridge_differential() {
  gd_begin
  sec read-home
  ex 'monitor view all home' "s390b-read-set $w/addrs.txt $w/reads-bridge-home.json" \
    'monitor view all cpu'
  want_re '^s390b-read-set [0-9]+ addresses x 2 threads: '
  ex disconnect
  session differential-home "$TARGET_PORT"
  check "every vCPU in the home view reads what QEMU's stub reads on a vCPU in kernel mode" \
    rg_py live-compare qemu-gdbstub "$w/reads-qemu.json" bridge-home "$w/reads-bridge-home.json" \
    --ref-kernel-thread --skip-class lowcore
}

# bridge_at_kernel_stop: at the uname breakpoint, after live_hostname_write. A write to
# kernel text is refused and leaves the bytes alone (the value written is the one there,
# so even a wrongly accepted write changes nothing; bridge_after_session compares the
# bytes before and after). The refusal's wording is gdb's for an E.. reply to M/X.
bridge_at_kernel_stop() {
  sec bridge-text-write
  ex 'p/x *(unsigned int *) __do_syscall' \
    'set var *(unsigned int *) __do_syscall = *(unsigned int *) __do_syscall' \
    'p/x *(unsigned int *) __do_syscall'
  want_re '^Cannot access memory at address 0x[0-9a-f]+$'
}

# bridge_at_user_stop: the current thread is stopped in user mode (s390b-stop-in-user);
# s390b-user-task has set $s390b_user_thread, $s390b_user_asce (that CPU's task's
# mm->context.asce) and $s390b_marker_addr (the marker in its argv). Through the bridge:
# linux_banner in the home view on that user-mode vCPU; the marker through
# `monitor view asce` on the OTHER vCPU, whose own view cannot see it.
bridge_at_user_stop() {
  sec bridge-view-home
  ex 'monitor view home' 'p linux_banner' 'monitor view cpu'
  want_sub "<linux_banner> \"$proc_version\\n\""
  sec bridge-view-asce
  ex 'eval "thread %d", 3 - $s390b_user_thread' 'eval "monitor view asce %#lx", $s390b_user_asce' \
    'x/s $s390b_marker_addr' 'monitor view cpu'
  want_re "^0x[0-9a-f]+: \"$RG_USER_MARKER; while"
}

# bridge_after_session: gdb has detached, the guest runs, the console answered. The
# place for checks of the bridge on a running guest too (reads through --qemu-mem while
# QEMU runs, a second client, the bridge's exit when QEMU goes away).
bridge_after_session() {
  local before after
  before=$(sect bridge-text-write scenario | sed -n '1s/^\$ = //p')
  after=$(sect bridge-text-write scenario | sed -n '3s/^\$ = //p')
  check "the kernel text the refused write aimed at is unchanged ($before, $after)" \
    test -n "$before" -a "$before" = "$after"
  bridge_physical_memory_mode
}

# bridge_physical_memory_mode: the same guest through QEMU's physical-memory mode (no
# --qemu-mem): paused over QMP, the shared-RAM bridge and then a bridge without the RAM
# file read the same addresses, and must agree; a write through it reaches the guest.
bridge_physical_memory_mode() {
  step "the physical-memory mode (no --qemu-mem), guest paused"
  rg_qmp stop >/dev/null
  gd_begin
  sec read
  ex "s390b-read-set $w/addrs.txt $w/reads-shared.json"
  want_re '^s390b-read-set [0-9]+ addresses x 2 threads: '
  ex disconnect
  session phys-reference "$TARGET_PORT"
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
  start_target physical
  gd_begin
  sec read
  ex "s390b-read-set $w/addrs.txt $w/reads-phys.json"
  want_re '^s390b-read-set [0-9]+ addresses x 2 threads: '
  # Every vCPU: `monitor view` acts on the vCPU of the last Hg, which need not be gdb's
  # current thread until gdb's next register or memory access selects it.
  sec phys-view-home
  ex 'monitor view all home' 'p linux_banner'
  want_sub "<linux_banner> \"$proc_version\\n\""
  sec phys-write
  ex "set var init_uts_ns.name.nodename = \"$hostname_phys\"" 'p init_uts_ns.name.nodename'
  want_sub "= \"$hostname_phys\", '\\000' <repeats"
  ex detach
  session phys "$TARGET_PORT"
  check "the physical-memory mode reads what the shared RAM file gives, on every vCPU" \
    rg_py live-compare bridge-shared "$w/reads-shared.json" bridge-phys "$w/reads-phys.json"
  rg_console_send cat /proc/sys/kernel/hostname
  check "a write through the physical-memory mode reaches the guest ($hostname_phys)" rg_console_wait "^$hostname_phys\$" 30
  kill "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=
  step "inspection commands on the live guest: info, regs --qmp"
  "$bridge" info --qemu "127.0.0.1:$RG_GDB_PORT" --json >"$w/info-phys.json" 2>"$w/info-phys.err" || true
  check "info --qemu without --qemu-mem says it reads through the physical-memory mode" \
    grep -q 'physical-memory mode' "$w/info-phys.json"
  check "info says it stopped the guest for the command and resumed it" grep -q 'resumed after it' "$w/info-phys.err"
  check "the guest runs after info" grep -q '"running": true' <(rg_qmp query-status)
  # With --qmp the bridge knows whether the guest ran: a paused guest stays paused.
  rg_qmp stop >/dev/null
  "$bridge" regs --qemu "127.0.0.1:$RG_GDB_PORT" --qmp "$RG_QMP_SOCK" --all >"$w/regs-qmp.txt" 2>"$w/regs-qmp.err" || true
  check "regs --qemu --qmp prints both vCPUs' prefixes" test "$(grep -c '^  prefix 0x' "$w/regs-qmp.txt")" = 2
  check "regs --qmp on a paused guest says it stays paused" grep -q 'stays paused' "$w/regs-qmp.err"
  check "the guest is still paused after it" grep -q '"running": false' <(rg_qmp query-status)
  rg_qmp cont >/dev/null
}

# --- the differential read --------------------------------------------------------------
# QEMU's stub takes one client at a time, and the bridge is (or becomes) that client: the
# reference is read through QEMU's stub BEFORE the target is started, with the guest
# paused over QMP, and the target then reads the same addresses in the same pause.
# `disconnect` (not detach) leaves QEMU's stub with the guest still paused.
step "reference read through QEMU's own stub, guest paused"
rg_py live-addrs "$vmlinux" >"$w/addrs.txt"
rg_qmp stop >/dev/null
gd_begin
sec threads
ex s390b-threads
want_re '^s390b-thread 1 mode=(user|kernel) '
want_re '^s390b-thread 2 mode=(user|kernel) '
sec read
ex "s390b-read-set $w/addrs.txt $w/reads-qemu.json"
want_re '^s390b-read-set [0-9]+ addresses x 2 threads: '
ex disconnect
session reference "$RG_GDB_PORT"
grep '^s390b-' "$w/reference.txt" || true
check "the guest is still paused after gdb disconnected from QEMU's stub" \
  grep -q '"running": false' <(rg_qmp query-status)
# Text is patched at boot (ftrace, alternatives), data changes: only .rodata must equal
# the file; the other classes are printed for information.
check "QEMU's stub reads every sampled .rodata object as the vmlinux file has it" \
  rg_py live-vs-elf "$w/reads-qemu.json" "$vmlinux" --strict rodata text ro_after_init data

# --- the target -------------------------------------------------------------------------
start_target() {
  if [[ $target == qemu ]]; then
    TARGET_PORT=$RG_GDB_PORT
    return
  fi
  local i
  local mem=(--qemu-mem "$RG_RAM_FILE") out=$w/serve.out
  [[ ${1:-} != physical ]] || { mem=(); out=$w/serve-physical.out; }
  # Emptied before the server starts: its port must not be read from an earlier run's file.
  : >"$out"
  "$bridge" serve --qemu "127.0.0.1:$RG_GDB_PORT" "${mem[@]}" --host 127.0.0.1 --port 0 \
    >"$out" 2>"${out%.out}.err" </dev/null &
  serve_pid=$!
  TARGET_PORT=
  for ((i = 0; i < 300; i++)); do # 30 s
    TARGET_PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out")
    [[ -n $TARGET_PORT ]] && return
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$out" "${out%.out}.err" >&2
  fail "s390bridge serve --qemu did not report a port"
}
step "target: $target"
start_target
echo "gdb talks to 127.0.0.1:$TARGET_PORT"

step "differential read through the target, same pause"
# With target=qemu this reads QEMU's stub again: a control of the harness (nothing moved).
# With the bridge: its reads through each vCPU's own view (the default) must equal
# QEMU's, bytes and refusals alike. bridge_differential can add more (other views).
gd_begin
sec read
ex "s390b-read-set $w/addrs.txt $w/reads-target.json"
want_re '^s390b-read-set [0-9]+ addresses x 2 threads: '
ex disconnect
session differential "$TARGET_PORT"
check "$target reads the same bytes (and refuses the same addresses) as QEMU's stub, on every vCPU" \
  rg_py live-compare qemu-gdbstub "$w/reads-qemu.json" "$target" "$w/reads-target.json"
[[ $target != bridge ]] || bridge_differential

# --- the scenario -----------------------------------------------------------------------
step "gdb scenario through the target: breakpoint, console, step, finish, interrupt, detach"
uname_fn=__s390x_sys_newuname # SYSCALL_DEFINE1(newuname, ...); gdb names it __se_sys_newuname (alias)
uname_re='__(s390x|se)_sys_newuname'
hostname_new=s390b-live-$RANDOM
hostname_phys=s390b-phys-$RANDOM
running_token=running-$RANDOM
gd_begin
sec threads
ex s390b-threads
want_re '^s390b-thread 2 '
sec break
ex "break $uname_fn"
want_re '^Breakpoint 1 at 0x[0-9a-f]+: file kernel/sys\.c, line [0-9]+\.$'
sec hit
# Typed while gdb waits in `continue` (input that arrives while the guest is still
# stopped waits in QEMU and the FIFO, so there is no race either way).
ex "shell $(printf '%q ' "${rg_bg[@]}")console-send 0.5 uname -a >>$(printf %q "$S390B_BG_LOG") 2>&1 &"
ex continue
want_re "^Thread [0-9]+( \"[^\"]*\")? hit Breakpoint 1, $uname_re \\(regs=0x[0-9a-f]+\\) at kernel/sys\\.c:[0-9]+\$"
sec info-threads
ex 'info threads'
want_re "^\\* [0-9]+ .* $uname_re \\(regs="
sec thread
ex thread
want_re '^\[Current thread is [0-9]+ '
sec current-task # the stopped CPU's lowcore (real 0, prefixed): what it runs
ex 'p ((struct task_struct *)((struct lowcore *)0)->current_task)->comm' 'p ((struct lowcore *)0)->cpu_nr'
want_re '^\$ = "uname\\000'
sec bt
ex bt
want_re "^#0 $uname_re \\(regs=0x[0-9a-f]+\\) at kernel/sys\\.c:[0-9]+\$"
want_re '^#[12] .*__do_syscall \(regs=0x[0-9a-f]+'
want_re '^#[0-9]+ 0x[0-9a-f]+ in system_call \(\) at .*entry\.S:[0-9]+$'
sec kernel-mode
ex 'p ($pswm >> 48) & 1' 'p/x $pc'
want '$ = 0'
sec banner
ex 'p linux_banner'
want_sub "<linux_banner> \"$proc_version\\n\""
sec init-task
ex 'p init_task.comm'
want_re '^\$ = "swapper/0\\000'
live_hostname_write # (common to both targets)
[[ $target != bridge ]] || bridge_at_kernel_stop
sec stepi
ex 'set $s390b_pc0 = $pc' stepi 'p $pc != $s390b_pc0' 'p $pc - $s390b_pc0'
want '$ = 1'
want_re '^\$ = [246]$' # one instruction: 2, 4 or 6 bytes
sec finish
ex finish
want_re '^do_syscall \(regs=0x[0-9a-f]+\) at arch/s390/kernel/syscall\.c:[0-9]+$'
want_re '^Value returned is \$[0-9]+ = 0$'
sec regs
ex 'info registers pswm pswa' 'p ($pswm >> 48) & 1'
want_re '^pswa 0x[0-9a-f]+ [0-9]+$'
want '$ = 0'
sec delete
ex delete 'info breakpoints'
want 'No breakpoints or watchpoints.'
sec interrupt
# SIGINT to gdb once the guest runs and has echoed the token on the console.
ex "s390b-interrupt-later 0.5 $running_token" continue
want_re '^Thread [0-9]+( "[^"]*")? received signal SIGINT, Interrupt\.$'
sec user-stop
ex 's390b-stop-in-user 10' s390b-threads
want_re '^s390b-user-thread [0-9]+ after [0-9]+ extra stop\(s\): pswm=0x[0-9a-f]{16} '
sec user-task
ex s390b-user-task 'x/s $s390b_marker_addr'
want_re '^s390b-user-task cpu=[0-9]+ pid=[0-9]+ comm=sh asce=0x[0-9a-f]+ '
want_re "^s390b-user-argv sh \\| -c \\| marker=$RG_USER_MARKER;"
want_re '^s390b-user-marker at 0x[0-9a-f]+$'
want_re "^0x[0-9a-f]+: \"$RG_USER_MARKER; while"
[[ $target != bridge ]] || bridge_at_user_stop
sec detach
ex detach
want_re '^\[Inferior 1 \(.*\) detached\]$'
session scenario "$TARGET_PORT"

step "cross-checks of the transcript, and the console after detach"
hit_thread=$(sect hit scenario | sed -n 's/^Thread \([0-9]*\) .*hit Breakpoint 1, .*/\1/p')
[[ -n $hit_thread ]] || hit_thread=none
check "thread reports the thread that hit ($hit_thread)" grep -q "^\[Current thread is $hit_thread " "$w/scenario.sec/thread.txt"
check "info threads marks it current" grep -Eq "^\\* $hit_thread .*$uname_re" "$w/scenario.sec/info-threads.txt"
cpu_nr=$(sect current-task scenario | sed -n '2s/^\$ = //p')
check "its lowcore's cpu_nr ($cpu_nr) is thread $hit_thread's CPU" test "$cpu_nr" = "$((${hit_thread/none/0} - 1))"
pc_hit=$(sect kernel-mode scenario | sed -n 's/^\$ = \(0x[0-9a-f]*\).*/\1/p')
bp_addr=$(sect break scenario | sed -n 's/^Breakpoint 1 at \(0x[0-9a-f]*\):.*/\1/p')
check "the PC at the hit ($pc_hit) is the breakpoint's address ($bp_addr)" test "$pc_hit" = "$bp_addr"
ret=$(sect bt scenario | sed -n 's/^#1 \(0x[0-9a-f]*\) in .*/\1/p')
pswa=$(sect regs scenario | sed -n 's/^pswa \(0x[0-9a-f]*\) .*/\1/p')
check "after finish, pswa ($pswa) is frame #1's return address ($ret)" test "$((${pswa:-0}))" = "$((${ret:--1}))"
task_line=$(sect user-task scenario | grep '^s390b-user-task ' || true)
asce=$(sed -n 's/.* asce=\(0x[0-9a-f]*\) .*/\1/p' <<<"$task_line")
cr1=$(sed -n 's/.* cr1=\(0x[0-9a-f]*\)$/\1/p' <<<"$task_line")
check "the user-mode CPU's CR1 ($cr1) is its task's mm->context.asce ($asce)" test "${asce:-x}" = "${cr1:-y}"
check "the console typed 'echo $running_token' and the guest answered while gdb waited in continue" \
  grep -qx "$running_token" <(tr -d '\r' <"$RG_CONSOLE_LOG")
check "the uname stopped at the breakpoint printed the hostname gdb wrote" \
  rg_console_wait "^Linux $hostname_new 6\\..* s390x GNU/Linux\$" 30 0
check "the guest runs after detach" grep -q '"running": true' <(rg_qmp query-status)
rg_console_send cat /proc/sys/kernel/hostname
check "/proc/sys/kernel/hostname is $hostname_new" rg_console_wait "^$hostname_new\$" 30
tok=alive-$RANDOM
rg_console_send "echo $tok"
check "the console answers after detach ($tok)" rg_console_wait "^$tok\$" 30
[[ ! -s $S390B_BG_LOG ]] || { echo "-- background helpers said:"; cat "$S390B_BG_LOG"; }
[[ $target != bridge ]] || bridge_after_session

# bridge_faults: QEMU killed while gdb waits in `continue`: gdb hears why and that the
# program is gone, the bridge keeps running and answers the next gdb with the reason;
# QEMU restarted on the same port (and RAM file): the next gdb works again.
bridge_faults() {
  step "faults: QEMU killed under a running gdb, then restarted"
  start_target
  gd_begin
  sec killed
  ex "shell (sleep 2; kill -KILL $RG_QEMU_PID) &" continue
  want_sub 'the target is gone while running'
  want_sub 'Program terminated with signal SIGKILL'
  session fault-killed "$TARGET_PORT"
  wait "$RG_QEMU_PID" 2>/dev/null || true
  RG_QEMU_PID=
  check "the bridge still runs after QEMU went away" kill -0 "$serve_pid"
  timeout 60 gdb-multiarch -nx -batch -ex "target remote 127.0.0.1:$TARGET_PORT" >"$w/fault-gone.txt" 2>&1 </dev/null || true
  check "the next gdb is told QEMU is not available" \
    grep -q "Remote failure reply: E.s390bridge: QEMU's gdbstub at .* is not available" "$w/fault-gone.txt"
  check "the bridge still runs" kill -0 "$serve_pid"
  local port=$RG_GDB_PORT
  RG_GDB_PORT_WANT=$port rg_boot || { bad "QEMU did not restart on port $port"; return; }
  gd_begin
  sec back
  ex 'monitor view all home' 'p linux_banner'
  want_sub "<linux_banner> \"$proc_version\\n\""
  ex detach
  session fault-back "$TARGET_PORT"
  check "the bridge reattached to the restarted QEMU" grep -q "attached to QEMU's gdbstub" <(tail -n 5 "$w/serve.err")
}
[[ $target != bridge ]] || bridge_faults

if ((failed)); then
  echo "FAILED: $failed check(s) ($(rg_since "$t0")s); S390B_KEEP=1 keeps $w"
  exit 1
fi
[[ -z $fallback ]] || skip "$fallback; every check passed against QEMU's own stub ($(rg_since "$t0")s)"
echo "PASS against $target ($(rg_since "$t0")s)"
