#!/usr/bin/env bash
# shellcheck disable=SC2016 # gdb expressions ($pswa, $r15, ...) are meant literally
# End to end with the REAL client: `s390bridge serve --demo` driven by gdb-multiarch in
# batch mode. Checks what gdb prints, line by line, against the demo guest's documented
# layout (backends/emulated/demo_guest.h; the user's map is docs/demo-guest.md): registers
# of both vCPUs, the documented string of every view, writes that must work and writes
# that must fail (and leave the bytes alone), a read into an invalid page, a 1 MiB dump
# compared with `s390bridge memop`, every monitor command, --read-only, a second client
# refused while the first keeps working, --once, and examples/demo-tour.gdb.
#
#   S390B_BUILD=build tests/e2e/10-gdb-demo.sh
#
# Exit 0 pass, 77 skipped (reason printed), anything else fail. S390B_KEEP=1 keeps the
# work directory (gdb transcripts, split into sections, and server logs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=lib/gdb-demo.sh
source "$here/lib/gdb-demo.sh"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*"; }
ok() { echo "ok: $*"; }

[[ -n ${S390B_BUILD:-} ]] || fail "set S390B_BUILD to the build directory holding cli/s390bridge"
S390B_BUILD=$(cd "$S390B_BUILD" && pwd)
GD_BRIDGE=$S390B_BUILD/cli/s390bridge
[[ -x $GD_BRIDGE ]] || skip "$GD_BRIDGE is not built"

trap gd_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

step "host packages"
gd_need_packages gdb-multiarch python3 || skip "$GD_SKIP_REASON"
gdb-multiarch --version | head -n 1
# GDB >= 16 announces error-message+, so error replies reach it as text (`E.text`) where
# GDB 13 gets `Exx`; the checks below that differ say which they expect.
GD_GDB_MAJOR=$(gdb-multiarch --version | sed -n '1s/.* \([0-9][0-9]*\)\.[0-9][0-9.]*$/\1/p')
GD_GDB_MAJOR=${GD_GDB_MAJOR:-13}
export GD_GDB_MAJOR
gd_workdir
w=$GD_WORK

# --- the demo guest, from backends/emulated/demo_guest.h ------------------------------
prefix0=0x20000 prefix1=0x22000
absolute_zero_string=0x100
lowcore_string=0x1180
kernel_text_va=0x10000000000
kernel_text_abs=0x400000
linux_banner_va=0x10000000400    # kernel_text_va + 0x400
kernel_hole_va=0x10000010000     # kernel_text_va + kernel_text_size (64 KiB)
kernel_data_va=0x600000
identity_map_end=0x1000000       # identity_map_size: home VA 0..16 MiB
segment_frame_va=0x20000000000
segment_frame_abs=0x1000000
region3_frame_string_va=0x30002000000
region3_frame_string_abs=0x2000000
fetch_protected_abs=0x500000
key9_abs=0x501000
user_text_va=0x1000000
user_text_abs=0x800000
user_stack_va=0x3fffffff000
user_stack_abs=0x801000
# The ASCEs the guest builder makes (tables from 0x100000 on): CR1/CR13 of cpu 0 and
# CR13 of cpu 1 hold the kernel's region-third ASCE, CR1 of cpu 1 and CR7 of both the
# user's region-second ASCE. DUCT in CR2.
kernel_asce=0x100007 user_asce=0x11900b duct=0x12a900

absolute_zero_text='"absolute page 0: real page 0 of no CPU (prefixes are 0x20000, 0x22000)"'
lowcore0_text='"lowcore of cpu 0 (real 0x1180, low-address protected)"'
lowcore1_text='"lowcore of cpu 1 (real 0x1180, low-address protected)"'
banner_text='"Linux version 6.1.0-s390bridge-demo (demo@s390bridge) #1 SMP home space, DAT-protected text"'
kdata_text='"kernel data: writable, identity-mapped in the home space"'
kdata_text_K='"Kernel data: writable, identity-mapped in the home space"'
segment_text='"kernel 1 MiB frame (EDAT-1 segment frame)"'
region3_text='"kernel 2 GiB frame (EDAT-2 region-third frame) at +32 MiB"'
fetchprot_text='"fetch-protected page: storage key 0x38"'
key9_text='"storage key 9 page"'
user_text='"hello from the user process (primary space of cpu 1)"'
user_text_H='"Hello from the user process (primary space of cpu 1)"'
user_stack_text='"user stack page"'

# xs ADDR TEXT: `x/s ADDR` in the current view prints exactly TEXT at ADDR.
xs() {
  sec "$1-$2"
  ex "x/s $2"
  want_exact "$2: $3"
}
# xs_fails SECTION ADDR: `x/s ADDR` cannot read ADDR.
xs_fails() {
  sec "$1"
  ex "x/s $2"
  want_exact "$2: <error: Cannot access memory at address $2>"
}
# view CPU VIEW SHOWN: `monitor view VIEW` on the current thread (vCPU CPU) answers
# "cpu CPU: view SHOWN".
view_n=0
view() {
  view_n=$((view_n + 1))
  sec "view$view_n-$1-${2// /-}"
  ex "monitor view $2"
  want_exact "cpu $1: view $3"
}
# regs_key SECTION ADDR KEYLINE: `monitor regs ADDR` prints the storage key line KEYLINE.
regs_key() {
  sec "$1"
  ex "monitor regs $2"
  want "$3"
}
# The hooks of examples/demo-tour.gdb (it says why): make GDB send `Hg` for the selected
# thread before a monitor command, flush GDB's code cache and frames after one.
cat >"$w/hooks.gdb" <<'EOF'
define hook-monitor
  maintenance flush register-cache
  set $_s390b_sync = $pswa
end
define hookpost-monitor
  maintenance flush dcache
  maintenance flush register-cache
end
EOF
hook=(-x "$w/hooks.gdb")

# ======================================================================================
step "server A: serve --demo --port 0 --once"
gd_serve A --once || fail "server A did not start"
pidA=$GD_PID portA=$GD_PORT
grep -Fxq 's390bridge: serving the demo guest (2 vCPUs, view cpu)' "$w/A.out" ||
  { cat "$w/A.out"; fail "server A's first line"; }
grep -Fxq "attach: gdb-multiarch -ex 'set architecture s390:64-bit' -ex 'set endian big' -ex 'target remote 127.0.0.1:$portA'" "$w/A.out" ||
  { cat "$w/A.out"; fail "server A's attach line"; }
ok "listening on 127.0.0.1:$portA (pid $pidA)"

gd_begin
# --- threads and registers ------------------------------------------------------------
sec threads
ex 'info threads'
want_re '^\* 1 Thread 1 "cpu0" \(cpu 0: stopped, DAT on, home space, view cpu\) 0x0000010000000100 in \?\? \(\)$'
want_re '^2 Thread 2 "cpu1" \(cpu 1: stopped, DAT on, primary space, problem state, view cpu\) 0x0000000001000040 in \?\? \(\)$'

sec regs-all-cpu0
ex 'info registers'
want 'pswm 0x700c00180000000 504614270940479488' 'pswa 0x10000000100 1099511628032'
want 'r0 0x1000 4096' 'r1 0x1001 4097' 'r14 0x100e 4110' 'r15 0x608000 6324224'
want 'acr0 0x0 0' 'acr2 0x2 2' 'acr3 0x3 3' 'acr4 0x4 4' 'acr5 0x0 0'
want 'cr0 0x108000e0 276824288' "cr1 $kernel_asce 1048583" "cr2 $duct 1222912" "cr7 $user_asce 1150987"
want "cr13 $kernel_asce 1048583" 'cr14 0xc2000000 3254779904'
want 'ckc 0xffffffffffffffff 18446744073709551615' 'cputm 0x7fffffff00000000 9223372032559808512'
want 'last_break 0x10000000080 0x10000000080' "prefix $prefix0 $prefix0" 'pc 0x10000000100 0x10000000100'

sec regs-some-cpu0
ex 'info registers cr0 cr1 cr13 prefix'
want_exact 'cr0 0x108000e0 276824288' "cr1 $kernel_asce 1048583" "cr13 $kernel_asce 1048583" "prefix $prefix0 $prefix0"
sec pswa-cpu0
ex 'p $pswa' 'p/x $pswa' 'p/x $pswm'
want_exact '$ = 1099511628032' '$ = 0x10000000100' '$ = 0x700c00180000000'
sec r15-cpu0
ex 'p/x $r15'
want_exact '$ = 0x608000'
sec acr2-cpu0
ex 'info registers acr2'
want_exact 'acr2 0x2 2'
# f0-f15 are the left halves of v0-v15 (0x40000000000000NN = 2.0 + NN ulp); GDB shows the
# right halves only inside the pseudo registers v0-v15 (v0l-v15l have no name in GDB).
sec fpr-cpu0
ex 'p $f0' 'info registers f1' 'info registers fpc'
want_exact '$ = 2' 'f1 2.0000000000000004 (raw 0x4000000000000001)' 'fpc 0x0 0'
sec vr-cpu0
ex 'p/x $v1.v2_int64' 'p/x $v17.uint128' 'p/x $v31.v2_int64'
want_exact '$ = {0x4000000000000001, 0x1111111111111111}' '$ = 0x40000000000000111111111111111111' \
  '$ = {0x400000000000001f, 0xffffffffffffffff}'

# --- default view (cpu): each vCPU's own address space -------------------------------
xs cpu0 "$linux_banner_va" "$banner_text"
xs_fails cpu0-no-user "$user_text_va" # beyond the home space's identity map

sec thread2
ex 'thread 2'
want '[Switching to thread 2 (Thread 2)]' '#0 0x0000000001000040 in ?? ()'
sec regs-cpu1
ex 'info registers pswm pswa r0 r15 acr2 cr0 cr1 cr7 cr13 cputm last_break prefix'
want_exact 'pswm 0x701000180000000 504684639684657152' 'pswa 0x1000040 16777280' 'r0 0x2000 8192' \
  'r15 0x3ffffffff00 4398046510848' 'acr2 0x2 2' 'cr0 0x108000e0 276824288' "cr1 $user_asce 1150987" \
  "cr7 $user_asce 1150987" "cr13 $kernel_asce 1048583" 'cputm 0x7ffffffeffffffff 9223372032559808511' \
  'last_break 0x1000020 0x1000020' "prefix $prefix1 $prefix1"
sec p-cpu1
ex 'p/x $r15' 'p $pswa' 'p/x $v2.v2_int64'
want_exact '$ = 0x3ffffffff00' '$ = 16777280' '$ = {0x4000000000000002, 0x2222222222222222}'
xs cpu1 "$user_text_va" "$user_text"
xs cpu1 "$user_stack_va" "$user_stack_text"
xs_fails cpu1-no-kernel "$linux_banner_va"
# cpu 1's views: real (its own lowcore), home (the kernel), secondary (CR7 = the user)
view 1 real real
xs cpu1-real "$lowcore_string" "$lowcore1_text"
view 1 home home
xs cpu1-home "$linux_banner_va" "$banner_text"
view 1 secondary secondary
xs cpu1-secondary "$user_text_va" "$user_text"
view 1 absolute absolute
xs cpu1-absolute 0x23180 "$lowcore1_text"
view 1 cpu cpu
sec thread1
ex 'thread 1'
want '[Switching to thread 1 (Thread 1)]' '#0 0x0000010000000100 in ?? ()'

# --- monitor help and view ----------------------------------------------------------
sec monitor-help
ex 'monitor help'
want 's390bridge monitor commands:' 'help' 'list the monitor commands'
want 'view [all] [cpu [ar N]|primary|secondary|home|ar N|alet X|asce X|real|absolute]'
want 'translate ADDR [fetch|store]' 'regs [ADDR]'
want 'memop OP ADDR [SIZE] [--data HEX] [--old HEX] [--ar N] [--key K] [--check-only] [--inject] [--cpu N] [--json]'
want 'backend: emulated, 2 vCPU(s), op limit 65536 bytes, run control: no (the target cannot run)'
sec monitor-view-show
ex 'monitor view'
want_exact 'cpu 0: view cpu (current)' 'cpu 1: view cpu'

# --- every view on cpu 0, with its documented strings --------------------------------
view 0 home home
xs home "$linux_banner_va" "$banner_text"
xs home "$kernel_data_va" "$kdata_text"
xs home "$segment_frame_va" "$segment_text"
xs home "$region3_frame_string_va" "$region3_text"
xs home "$fetch_protected_abs" "$fetchprot_text"
xs home "$key9_abs" "$key9_text"
xs home "$lowcore_string" "$lowcore0_text"   # DAT gives a real address: prefixed
xs home 0x20100 "$absolute_zero_text"        # real 0x20000 = absolute 0 on cpu 0
xs_fails home-end-of-identity "$identity_map_end"
sec threads-home
ex 'info threads'
want_re '^\* 1 Thread 1 "cpu0" \(cpu 0: stopped, DAT on, home space, view home\) '

view 0 primary primary
xs primary "$linux_banner_va" "$banner_text"
view 0 secondary secondary
xs secondary "$user_text_va" "$user_text"
xs secondary "$user_stack_va" "$user_stack_text"
xs_fails secondary-no-kernel "$linux_banner_va"
view 0 real real
xs real "$lowcore_string" "$lowcore0_text"
xs real 0x20100 "$absolute_zero_text"
view 0 absolute absolute
xs absolute "$absolute_zero_string" "$absolute_zero_text"
xs absolute 0x21180 "$lowcore0_text"
xs absolute 0x23180 "$lowcore1_text"
xs absolute 0x400400 "$banner_text"
xs absolute "$user_text_abs" "$user_text"
xs absolute "$user_stack_abs" "$user_stack_text"
xs absolute "$segment_frame_abs" "$segment_text"
xs absolute "$region3_frame_string_abs" "$region3_text"
xs absolute "$fetch_protected_abs" "$fetchprot_text"
xs_fails absolute-end-of-storage 0x4000000
view 0 'ar 2' 'ar 2'
xs ar2 "$user_text_va" "$user_text"
view 0 'ar 3' 'ar 3'
xs ar3 "$linux_banner_va" "$banner_text"
view 0 'ar 4' 'ar 4'
xs_fails ar4-invalid-ale "$user_text_va"
view 0 'alet 0x2' 'alet 0x2'
xs alet2 "$user_text_va" "$user_text"
view 0 'alet 0x3' 'alet 0x3'
xs alet3 "$linux_banner_va" "$banner_text"
view 0 'alet 0' 'alet 0x0'
xs alet0-primary "$linux_banner_va" "$banner_text"
view 0 'alet 1' 'alet 0x1'
xs alet1-secondary "$user_text_va" "$user_text"
view 0 'alet 4' 'alet 0x4'
xs_fails alet4-invalid-ale "$user_text_va"
view 0 "asce $user_asce" 'asce 0x000000000011900b'
xs asce-user "$user_text_va" "$user_text"
xs asce-user "$user_stack_va" "$user_stack_text"
view 0 "asce $kernel_asce" 'asce 0x0000000000100007'
xs asce-kernel "$linux_banner_va" "$banner_text"
sec monitor-view-show-2
ex 'monitor view'
want_exact 'cpu 0: view asce 0x0000000000100007 (current)' 'cpu 1: view cpu'
sec monitor-view-all
ex 'monitor view all home' 'monitor view'
want_exact 'every cpu: view home' 'cpu 0: view home (current)' 'cpu 1: view home'
sec monitor-view-all-cpu
ex 'monitor view all cpu' 'monitor view'
want_exact 'every cpu: view cpu' 'cpu 0: view cpu (current)' 'cpu 1: view cpu'
sec monitor-view-errors
ex 'monitor view bogus' 'monitor view ar 16' 'monitor view asce' 'monitor view home extra' 'monitor view'
want_exact "unknown view 'bogus' (cpu, primary, secondary, home, ar N, alet X, asce X, real, absolute)" \
  "bad value '16' for view ar" 'view asce needs a value' "unexpected 'extra' after view home" \
  'cpu 0: view cpu (current)' 'cpu 1: view cpu'
# view cpu ar N: what the vCPU's PSW selects, with access register N in AR mode. Put cpu 0
# in AR mode (PSW AS = 01) for the test, then back.
sec ar-mode
ex 'set $pswm = 0x0700400180000000' 'info threads' 'monitor regs'
want_re '^\* 1 Thread 1 "cpu0" \(cpu 0: stopped, DAT on, AR space, view cpu\) '
want 'PSW 0x0700400180000000 0x0000010000000100 DAT on, access-register space, key 0, 64-bit, supervisor state'
xs ar-mode-ar0 "$linux_banner_va" "$banner_text" # AR 0 always means the primary space
view 0 'cpu ar 2' 'cpu ar 2'
xs ar-mode-ar2 "$user_text_va" "$user_text"
view 0 'cpu ar 4' 'cpu ar 4'
xs_fails ar-mode-ar4 "$linux_banner_va"
view 0 cpu cpu
sec ar-mode-end
ex 'set $pswm = 0x0700c00180000000' 'p/x $pswm'
want_exact '$ = 0x700c00180000000'

# --- writes --------------------------------------------------------------------------
view 0 home home
sec write-kdata
ex "set *(char*)$kernel_data_va = 'K'" "x/s $kernel_data_va" "set *(char*)$kernel_data_va = 'k'" "x/s $kernel_data_va"
want_exact "$kernel_data_va: $kdata_text_K" "$kernel_data_va: $kdata_text"
sec write-ktext-protected
ex "set *(char*)$linux_banner_va = 'l'" "x/s $linux_banner_va"
want_exact "Cannot access memory at address $linux_banner_va" "$linux_banner_va: $banner_text"
# A write is checked over its whole range first: 2 of these 4 bytes are mapped, none change.
sec write-straddling
ex 'x/2xb 0xfffffe' 'set *(int*)0xfffffe = 0x41424344' 'x/2xb 0xfffffe'
want_exact '0xfffffe: 0x00 0x00' 'Cannot access memory at address 0xfffffe' '0xfffffe: 0x00 0x00'
view 0 real real
sec write-lowcore-lap
ex "set *(char*)$lowcore_string = 'L'" "x/s $lowcore_string"
want_exact "Cannot access memory at address $lowcore_string" "$lowcore_string: $lowcore0_text"
view 0 'alet 3' 'alet 0x3'
sec write-alet3-fetch-only
ex "set *(char*)$kernel_data_va = 'K'" "set *(char*)$linux_banner_va = 'l'" "x/s $kernel_data_va"
want_exact "Cannot access memory at address $kernel_data_va" "Cannot access memory at address $linux_banner_va" \
  "$kernel_data_va: $kdata_text"
view 0 absolute absolute
regs_key regs-key-user-before "$user_text_abs" '0x800000 -> absolute 0x800000: storage key 0x20 (ACC 2, F 0, R 0, C 0)'
view 0 'ar 2' 'ar 2'
sec write-ar2-user
ex "set *(char*)$user_text_va = 'H'" 'thread 2' "x/s $user_text_va" 'thread 1' "set *(char*)$user_text_va = 'h'" \
  "x/s $user_text_va"
want "$user_text_va: $user_text_H" "$user_text_va: $user_text"
wont_sub 'Cannot access memory'

# --- a read into the invalid page; a dump across it ----------------------------------
view 0 home home
sec hole-bytes
ex "x/8xb $kernel_hole_va-4"
want_exact "0x1000000fffc: 0x00 0x00 0x00 0x00 Cannot access memory at address $kernel_hole_va"
# GDB asks for 0x200 bytes; the stub answers the 0x100 before the hole (a short reply)
# and the next request, at the hole itself, fails.
sec hole-dump
ex "dump binary memory $w/hole.bin 0x1000000ff00 0x10000010100"
want_exact "Cannot access memory at address $kernel_hole_va"
sec hole-after-text
ex "x/2xg $kernel_hole_va-8"
want_exact "0x1000000fff8: 0x0000000000000000 Cannot access memory at address $kernel_hole_va"

# --- dumps: 1 MiB of the identity map in the home view vs the absolute view ----------
sec dump-home
ex "dump binary memory $w/home-1m.bin 0 0x100000"
want_exact ''
view 0 absolute absolute
sec dump-absolute
ex "dump binary memory $w/abs-1m.bin 0 0x100000" "dump binary memory $w/abs-text.bin $kernel_text_abs $kernel_text_abs+0x10000"
want_exact ''
view 0 home home
sec dump-text-home
ex "dump binary memory $w/home-text.bin $kernel_text_va $kernel_text_va+0x10000"
want_exact ''

# --- monitor translate --------------------------------------------------------------
sec translate-4k
ex "monitor translate $linux_banner_va"
want_exact 'translate 0x0000010000000400 in view home' \
  "ASCE 0x0000000000100007: region-third table, origin 0x100000, TL 3" \
  'region-third table 0x100000 index 512 entry @0x101000 = 0x0000000000110007 origin=0x110000 TT=1 TF=0 TL=3' \
  'segment table 0x110000 index 0 entry @0x110000 = 0x0000000000114000 page-table=0x114000 TT=0' \
  'page table 0x114000 index 0 entry @0x114000 = 0x0000000000400200 frame=0x400000 P' \
  '=> absolute 0x0000000000400400 (4 KiB frame)'
sec translate-4k-store
ex "monitor translate $linux_banner_va store"
want 'walk stopped: store into a DAT-protected page'
want_re '^=> protection exception \(PGM 0x04\), TEID 0x[0-9a-f]{16}, access id 0$'
sec translate-1m
ex "monitor translate $segment_frame_va"
want 'region-third table 0x100000 index 1024 entry @0x102000 = 0x0000000000115007 origin=0x115000 TT=1 TF=0 TL=3'
want 'segment table 0x115000 index 0 entry @0x115000 = 0x0000000001000400 frame=0x1000000 FC=1 (1 MiB) TT=0'
want '=> absolute 0x0000000001000000 (1 MiB frame)'
wont_sub 'page table'
sec translate-2g
ex "monitor translate $region3_frame_string_va"
want 'region-third table 0x100000 index 1536 entry @0x103000 = 0x0000000000000404 frame=0x0 FC=1 (2 GiB) TT=1'
want '=> absolute 0x0000000002000000 (2 GiB frame)'
wont_sub 'segment table'
sec translate-hole
ex "monitor translate $kernel_hole_va"
want 'region-third table 0x100000 index 512 entry @0x101000 = 0x0000000000110007 origin=0x110000 TT=1 TF=0 TL=3'
want 'segment table 0x110000 index 0 entry @0x110000 = 0x0000000000114000 page-table=0x114000 TT=0'
want 'page table 0x114000 index 16 entry @0x114080 = 0x0000000000000400 frame=0x0 I'
want 'walk stopped: page entry invalid'
want_re '^=> page translation exception \(PGM 0x11\), TEID 0x0000010000010[0-9a-f]{3}, access id 0$'
sec translate-kdata-store
ex "monitor translate $kernel_data_va store"
want 'page table 0x10b000 index 0 entry @0x10b000 = 0x0000000000600000 frame=0x600000'
want '=> absolute 0x0000000000600000 (4 KiB frame)'
sec translate-asce-type
ex 'monitor translate 0x4000000000000'
want 'walk stopped: address needs a region-first or -second table'
want_re '^=> ASCE type exception \(PGM 0x38\)'
view 0 'alet 3' 'alet 0x3'
sec translate-alet3
ex "monitor translate $kernel_data_va store"
want 'ALET 0x00000003: DUCT (CR2) list, ALESN 0, ALEN 3'
want_re '^ALE @0x[0-9a-f]+ = 02000000 00000000 [0-9a-f]{8} 00000001 FO$'
want "ASTE @0x12a8c0: ASCE 0x0000000000100007, ASTESN 1"
want 'ART stopped: store through a fetch-only access-list entry'
want_re '^=> protection exception \(PGM 0x04\)'
view 0 'alet 4' 'alet 0x4'
sec translate-alet4
ex "monitor translate $user_text_va"
want 'ALET 0x00000004: DUCT (CR2) list, ALESN 0, ALEN 4'
want 'ART stopped: access-list entry invalid'
want '=> ALEN translation exception (PGM 0x29), access id 0'
view 0 real real
sec translate-real
ex "monitor translate $lowcore_string"
want_exact 'translate 0x0000000000001180 in view real' 'real address: prefixing only' '=> absolute 0x0000000000021180'
sec translate-real-store-lap
ex "monitor translate $lowcore_string store"
want 'translate 0x0000000000001180 in view real' 'real address: prefixing only'
want_re '^=> protection exception \(PGM 0x04\), TEID 0x0000000000001[0-9a-f]{3}, access id 0$'
sec translate-usage
ex 'monitor translate' 'monitor translate zzz'
want_exact 'usage: translate ADDR [fetch|store]' "bad address 'zzz'"

# --- monitor regs -------------------------------------------------------------------
view 0 cpu cpu
sec regs-cpu0-monitor
ex 'monitor regs'
want_exact 'cpu 0' \
  'PSW 0x0700c00180000000 0x0000010000000100 DAT on, home space, key 0, 64-bit, supervisor state' \
  'prefix 0x20000 CPU timer 0x7fffffff00000000 clock comparator 0xffffffffffffffff' \
  'TOD programmable register 0x00001234 breaking-event address 0x0000010000000080' \
  'CR0 0x00000000108000e0: low-address protection on, fetch-protection override off, storage-protection override off, EDAT on, IEP off' \
  'primary ASCE (CR1) 0x0000000000100007 secondary ASCE (CR7) 0x000000000011900b home ASCE (CR13) 0x0000000000100007' \
  'DUCT (CR2) 0x12a900 primary ASTE (CR5) 0x0 EAX (CR8) 0x0' \
  'view cpu'
view 0 absolute absolute
xs absolute-k "$fetch_protected_abs" "$fetchprot_text" # a read: R stays 0 below
regs_key regs-key-fetchprot "$fetch_protected_abs" '0x500000 -> absolute 0x500000: storage key 0x38 (ACC 3, F 1, R 0, C 0)'
regs_key regs-key-9 "$key9_abs" '0x501000 -> absolute 0x501000: storage key 0x90 (ACC 9, F 0, R 0, C 0)'
# The user text was written through ALET 2 above: a store sets the reference and change bits.
regs_key regs-key-user "$user_text_abs" '0x800000 -> absolute 0x800000: storage key 0x26 (ACC 2, F 0, R 1, C 1)'
view 0 home home
regs_key regs-key-home "$fetch_protected_abs" '0x500000 -> absolute 0x500000: storage key 0x38 (ACC 3, F 1, R 0, C 0)'
regs_key regs-key-hole "$kernel_hole_va" '0x10000010000: not translatable in this view'
sec regs-cpu1-monitor
ex 'thread 2' 'monitor regs' 'thread 1'
want 'cpu 1' 'PSW 0x0701000180000000 0x0000000001000040 DAT on, primary space, key 0, 64-bit, problem state'
want 'prefix 0x22000 CPU timer 0x7ffffffeffffffff clock comparator 0xffffffffffffffff'
want 'primary ASCE (CR1) 0x000000000011900b secondary ASCE (CR7) 0x000000000011900b home ASCE (CR13) 0x0000000000100007'
sec regs-usage
ex 'monitor regs 1 2' 'monitor regs zzz'
want 'usage: regs [ADDR]' "bad address 'zzz'"

# --- monitor memop (KVM_S390_MEM_OP semantics: logical addresses through the PSW) ----
sec memop-read
ex "monitor memop read $linux_banner_va 16"
want_exact 'ok 4c696e75782076657273696f6e20362e'
sec memop-abs-read-json
ex "monitor memop abs-read 0x400400 16 --json"
want_exact '{"result":"ok","data":"4c696e75782076657273696f6e20362e"}'
sec memop-write-check-fails
ex "monitor memop write $linux_banner_va --data 41 --check-only" \
  "monitor memop write $linux_banner_va --data 41 --check-only --json" "x/s $linux_banner_va"
want_re '^protection exception \(PGM 0x04\), TEID 0x0000010000000[0-9a-f]{3}, access id 0$'
want_re '^\{"result":"exception","pgm":4,"name":"protection","teid":"0x10000000[0-9a-f]{3}","access_id":0\}$'
want "$linux_banner_va: $banner_text"
sec memop-write-check-ok
ex "monitor memop write $kernel_data_va --data 4b --check-only" "x/s $kernel_data_va"
want_exact ok "$kernel_data_va: $kdata_text"
sec memop-keys
ex "monitor memop read $fetch_protected_abs 8 --key 9" "monitor memop read $fetch_protected_abs 8 --key 3" \
  "monitor memop write $key9_abs --data 41 --key 3 --check-only" "monitor memop write $key9_abs --data 41 --key 9 --check-only"
want_re '^protection exception \(PGM 0x04\), TEID 0x0000000000500[0-9a-f]{3}, access id 0$'
want 'ok 66657463682d7072'
want_re '^protection exception \(PGM 0x04\), TEID 0x0000000000501[0-9a-f]{3}, access id 0$'
want ok
sec memop-cpu1
ex "monitor memop read $user_text_va 5 --cpu 1" "monitor memop read $user_text_va 5"
want_exact 'ok 68656c6c6f' 'segment translation exception (PGM 0x10), TEID 0x0000000001000803, access id 0'
sec memop-errors
ex 'monitor memop bogus 1' 'monitor memop read 0x600000' 'monitor frob'
want_exact "memop: unknown op 'bogus' (read, write, abs-read, abs-write, cmpxchg)" 'memop: read needs a size' \
  "unknown monitor command 'frob'; try 'monitor help'"

# --- a second client while this one is connected -------------------------------------
sec second-client
ex "shell python3 '$GD_PY' busy $portA"
want_exact 'second client got $E.s390bridge: another debugger is already connected#70, then EOF'
sec after-second-client
ex 'info registers prefix' "x/s $linux_banner_va"
want_exact "prefix $prefix0 $prefix0" "$linux_banner_va: $banner_text"
sec end
ex 'detach'
want_exact '[Inferior 1 (Remote target) detached]'

step "gdb-multiarch against server A (${#GD_ARGS[@]} arguments)"
gd_run A "$portA" "${hook[@]}" || fail "gdb-multiarch against server A"
gd_verify A
ok "server A: $GD_CHECKS checks, $GD_FAILED failed"

step "server A (--once) exits after the client leaves"
once_works=0
if gd_wait_exit "$pidA" 5; then
  ok "server A exited"
  once_works=1
else
  GD_FAILED=$((GD_FAILED + 1))
  echo "FAIL: server A (--once) still runs 5 s after gdb detached; its stderr:" >&2
  sed 's/^/    /' "$w/A.err" >&2
fi
# finish_server PID: let a --once server exit by itself (when A showed that works), else stop it.
finish_server() {
  if ((once_works)) && gd_wait_exit "$1" 5; then return 0; fi
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
grep -Fxq 's390bridge: refused a second client: a debugger is already connected' "$w/A.err" ||
  { GD_FAILED=$((GD_FAILED + 1)); echo "FAIL: server A did not log the refused client" >&2; }

# --- the dumps --------------------------------------------------------------------------
step "dumps: home view vs absolute view vs s390bridge memop"
dump_cmp() { # FILE_A OFFSET_A FILE_B OFFSET_B LENGTH WHAT
  if cmp -s -n "$5" -i "$2:$4" "$1" "$3"; then ok "$6"; else
    GD_FAILED=$((GD_FAILED + 1))
    echo "FAIL: $6: $(cmp -n "$5" -i "$2:$4" "$1" "$3" 2>&1 | head -n 1)" >&2
  fi
}
for f in home-1m abs-1m; do
  [[ $(stat -c %s "$w/$f.bin" 2>/dev/null) == 1048576 ]] || fail "gdb did not write 1 MiB to $f.bin"
done
# Home VA = real address below 16 MiB; real -> absolute swaps cpu 0's prefix area
# (0x20000-0x21fff) with page 0-1. Everything else is the same bytes.
dump_cmp "$w/home-1m.bin" 0 "$w/abs-1m.bin" $((prefix0)) 8192 "home 0x0-0x1fff = absolute 0x20000-0x21fff (prefix)"
dump_cmp "$w/home-1m.bin" $((prefix0)) "$w/abs-1m.bin" 0 8192 "home 0x20000-0x21fff = absolute 0x0-0x1fff (reverse prefix)"
dump_cmp "$w/home-1m.bin" 8192 "$w/abs-1m.bin" 8192 $((prefix0 - 8192)) "home 0x2000-0x1ffff = absolute"
dump_cmp "$w/home-1m.bin" $((prefix0 + 8192)) "$w/abs-1m.bin" $((prefix0 + 8192)) $((0x100000 - prefix0 - 8192)) \
  "home 0x22000-0xfffff = absolute"
dump_cmp "$w/home-text.bin" 0 "$w/abs-text.bin" 0 65536 "kernel text: home $kernel_text_va = absolute $kernel_text_abs (64 KiB)"
cmp -s "$w/home-1m.bin" "$w/abs-1m.bin" && { GD_FAILED=$((GD_FAILED + 1)); echo "FAIL: the home and absolute dumps are identical: no prefixing?" >&2; }
# The same absolute bytes from the CLI, 64 KiB (the op limit) at a time.
memop_args=()
for ((off = 0; off < 0x100000; off += 0x10000)); do
  "$GD_BRIDGE" memop --demo --json abs-read "$(printf '%#x' $off)" 65536 >"$w/memop-$off.json" || true
  memop_args+=("$off" "$w/memop-$off.json")
done
if gd_py memop-cmp "$w/abs-1m.bin" "${memop_args[@]}"; then
  ok "s390bridge memop --demo --json abs-read (16 x 64 KiB) = gdb's dump in the absolute view"
else
  GD_FAILED=$((GD_FAILED + 1))
  echo "FAIL: memop abs-read differs from gdb's dump" >&2
fi
"$GD_BRIDGE" memop --demo --json abs-read 0 65537 >"$w/memop-big.json" || true
[[ $(<"$w/memop-big.json") == '{"result":"error","errno":"E2BIG"}' ]] ||
  { GD_FAILED=$((GD_FAILED + 1)); echo "FAIL: memop over the op limit: $(<"$w/memop-big.json")" >&2; }

# ======================================================================================
step "server B: serve --demo --read-only --once"
gd_serve B --read-only --once || fail "server B did not start"
pidB=$GD_PID portB=$GD_PORT
grep -Fxq 's390bridge: serving the demo guest (2 vCPUs, view cpu), read-only' "$w/B.out" ||
  { cat "$w/B.out"; fail "server B's first line does not say read-only"; }
gd_begin
view 0 home home
sec ro-read
ex "x/s $linux_banner_va" "x/s $kernel_data_va" 'p/x $r15'
want_exact "$linux_banner_va: $banner_text" "$kernel_data_va: $kdata_text" '$ = 0x608000'
sec ro-write-memory
ex "set *(char*)$kernel_data_va = 'K'" "x/s $kernel_data_va"
want_exact "Cannot access memory at address $kernel_data_va" "$kernel_data_va: $kdata_text"
sec ro-write-register
ex 'set $r0 = 5' 'p/x $r0'
if ((GD_GDB_MAJOR >= 16)); then ro_reply='the server is read-only (--read-only)'; else ro_reply=E1e; fi
want_exact 'Could not write register "r0"; remote failure reply '"'$ro_reply'" '$ = 0x1000'
sec ro-memop
ex "monitor memop write $kernel_data_va --data 4b" "monitor memop abs-write $kernel_data_va --data 4b" \
  "monitor memop cmpxchg $kernel_data_va --data 4b --old 6b" "monitor memop write $kernel_data_va --data 4b --check-only" \
  "x/s $kernel_data_va"
want_exact 'host error EROFS: the server is read-only (--read-only)' \
  'host error EROFS: the server is read-only (--read-only)' \
  'host error EROFS: the server is read-only (--read-only)' ok "$kernel_data_va: $kdata_text"
sec end
ex detach
want_exact '[Inferior 1 (Remote target) detached]'
step "gdb-multiarch against server B"
n0=$GD_CHECKS f0=$GD_FAILED
gd_run B "$portB" "${hook[@]}" || fail "gdb-multiarch against server B"
gd_verify B
ok "server B: $((GD_CHECKS - n0)) checks, $((GD_FAILED - f0)) failed"
finish_server "$pidB"

# ======================================================================================
step "examples/demo-tour.gdb against server C (serve --demo --once)"
gd_serve C --once || fail "server C did not start"
pidC=$GD_PID portC=$GD_PORT
tour=$w/tour.txt
LC_ALL=C timeout "$GD_GDB_TIMEOUT" gdb-multiarch -nx -batch -ex "set \$s390b_port = $portC" -x "$root/examples/demo-tour.gdb" \
  >"$tour" 2>&1 </dev/null || { cat "$tour"; fail "gdb-multiarch -x examples/demo-tour.gdb"; }
gd_normalize <"$tour" >"$w/tour.norm"
tour_bad=0
tour_want() {
  local l
  for l in "$@"; do
    GD_CHECKS=$((GD_CHECKS + 1))
    grep -Fxq -- "$l" "$w/tour.norm" || { echo "FAIL [tour] expected the line: $l" >&2; tour_bad=1; }
  done
}
tour_want "$linux_banner_va: $banner_text" "$user_text_va: $user_text" "$user_stack_va: $user_stack_text" \
  "$lowcore_string: $lowcore0_text" "$lowcore_string: $lowcore1_text" "0x21180: $lowcore0_text" \
  "0x23180: $lowcore1_text" "$absolute_zero_string: $absolute_zero_text" "$segment_frame_va: $segment_text" \
  "$region3_frame_string_va: $region3_text" "$kernel_data_va: $kdata_text_K" "$kernel_data_va: $kdata_text" \
  "$fetch_protected_abs: $fetchprot_text" "$key9_abs: $key9_text" \
  "=> GDB: Cannot access memory at address $linux_banner_va" \
  "0x1000000fffc: 0x00 0x00 0x00 0x00 => GDB: Cannot access memory at address $kernel_hole_va" \
  "=> GDB: Cannot access memory at address $lowcore_string" \
  "=> GDB: Cannot access memory at address $kernel_data_va" \
  '0x500000 -> absolute 0x500000: storage key 0x38 (ACC 3, F 1, R 0, C 0)' \
  'every cpu: view cpu' \
  '== End of the tour. Views are back at `cpu`. Try: monitor help, monitor view,'
for bad in 'Error in sourced command file' 'PC not saved' 'Undefined command'; do
  GD_CHECKS=$((GD_CHECKS + 1))
  if grep -Fq -- "$bad" "$tour"; then echo "FAIL [tour] printed: $(grep -F -m1 -- "$bad" "$tour")" >&2; tour_bad=1; fi
done
if ((tour_bad)); then
  GD_FAILED=$((GD_FAILED + 1))
  echo "---- tour transcript" >&2
  cat "$tour" >&2
else
  ok "the tour ran to its end ($(wc -l <"$tour") lines)"
fi
finish_server "$pidC"

echo
if ((GD_FAILED > 0)); then
  echo "FAIL: $GD_FAILED of $GD_CHECKS checks failed ($((SECONDS - t0))s); rerun with S390B_KEEP=1 to keep the transcripts" >&2
  exit 1
fi
echo "PASS: $GD_CHECKS checks ($((SECONDS - t0))s)"
