#!/usr/bin/env bash
# End to end against a REAL s390x Linux guest: Debian's s390x kernel and busybox under
# qemu-system-s390x (TCG), stopped and dumped over QMP. QEMU's own gdbstub is the
# reference; s390bridge must agree with it. docs/real-guest-testing.md explains it all.
#
#   S390B_BUILD=build tests/e2e/20-real-guest.sh
#
# Exit 0 pass, 77 skipped (reason printed: the machine cannot run it, or `s390bridge
# serve` is not built yet, after every check that does not need it passed), else fail.
# S390B_KEEP=1 keeps the work directory (dump, console log, gdb transcripts).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/real-guest.sh
source "$here/lib/real-guest.sh"

readonly ncpus=2 # rg_boot's -smp
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== [$(rg_since "$t0")s] $*"; }
ok() { echo "ok: $*"; }
json_get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"; }
hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }
json_len() { python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$1"; }

[[ -n ${S390B_BUILD:-} ]] || fail "set S390B_BUILD to the build directory holding cli/s390bridge"
S390B_BUILD=$(cd "$S390B_BUILD" && pwd)
bridge=$S390B_BUILD/cli/s390bridge
[[ -x $bridge ]] || fail "$bridge not built"

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

step "host packages"
rg_need_packages qemu-system-misc gdb-multiarch cpio || skip "$RG_SKIP_REASON"
command -v python3 >/dev/null || skip "no python3"

rg_workdir
w=$RG_WORK
avail_mb=$(df -Pm "$w" | awk 'NR == 2 { print $4 }')
((avail_mb >= 1200)) || skip "only ${avail_mb} MB free in $w; the 512 MiB dump needs ~1.2 GB headroom"

step "s390x kernel and busybox (cache $RG_CACHE)"
rc=0
rg_fetch || rc=$?
if ((rc != 0)); then
  [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"
  fail "rg_fetch (exit $rc)"
fi
echo "kernel:  $RG_KERNEL_PKG $RG_KERNEL_VERSION ($RG_KERNEL)"
echo "busybox: busybox-static $RG_BUSYBOX_VERSION"

step "initramfs"
rg_initramfs "$w/initramfs.cpio.gz" || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "rg_initramfs"; }
echo "$RG_INITRD ($(stat -c %s "$RG_INITRD") bytes)"

step "boot (qemu-system-s390x TCG, $ncpus CPUs, 512 MiB; up to ${RG_BOOT_TIMEOUT}s)"
rc=0
rg_boot || rc=$?
if ((rc != 0)); then
  [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"
  fail "the guest did not come up"
fi
ok "marker $RG_MARKER after ${RG_BOOT_SECONDS}s"
rg_py console "$RG_CONSOLE_LOG" >"$w/console.json"
echo "kallsyms: $(python3 -c 'import json,sys; print(", ".join(f"{k}={v:#x}" for k, v in json.load(open(sys.argv[1]))["kallsyms"].items()))' "$w/console.json")"
echo "guest /proc/version: $(json_get "$w/console.json" proc_version)"

step "stop over QMP, record CPU state, dump-guest-memory"
rg_qmp stop >/dev/null
[[ $(rg_qmp query-status | json_get /dev/stdin status) == paused ]] || fail "the guest is not paused"
rg_hmp 'info cpus'
rg_hmp 'info registers -a' >"$w/hmp-registers.txt"
rg_py hmp-regs "$w/hmp-registers.txt" >"$w/hmp.json"
[[ $(json_len "$w/hmp.json") == "$ncpus" ]] || fail "HMP info registers -a did not show $ncpus CPUs"
dump=$w/guest.elf
t=$(rg_now)
rg_dump "$dump" >/dev/null
ok "dump-guest-memory: $(stat -c %s "$dump") bytes in $(rg_since "$t")s"
rg_py dump-regs "$dump" >"$w/dump.json"
[[ $(json_len "$w/dump.json") == "$ncpus" ]] || fail "the dump does not hold $ncpus CPUs"
# The banner is read through a CPU's own view, so through a CPU in the kernel: one in
# problem state (a busybox process, unlikely in an idle guest) has the user ASCE in CR1.
kernel_cpus=$(python3 -c 'import json, sys
print(" ".join(str(i) for i, c in enumerate(json.load(open(sys.argv[1]))) if not c["pswm"] & 0x0001000000000000))' "$w/dump.json")
[[ -n $kernel_cpus ]] || fail "every CPU was stopped in problem state; no kernel view to read the banner through"
kcpu=${kernel_cpus%% *}
[[ $kernel_cpus == *" "* || $ncpus == 1 ]] || echo "note: only CPU(s) $kernel_cpus stopped in the kernel"

# gdb_session PORT PREFIX KVA LEN END: one gdb-multiarch batch run against a stub. Writes
# PREFIX.txt (transcript), PREFIX.json (registers of every thread), PREFIX-stack-N.bin
# (256 bytes at each thread's r15, read through the stub's DAT), PREFIX-banner.bin and
# the x/s KVA line in the transcript (both on CPU kcpu's thread). END is how gdb leaves:
# `disconnect` for QEMU (a `detach` would resume the guest), `detach` for the bridge.
gdb_session() {
  local port=$1 prefix=$2 kva=$3 len=$4 end=$5 args=() n
  args+=(-ex 'set pagination off' -ex 'set confirm off' -ex 'set width 0' -ex 'set print elements 0'
    -ex 'set architecture s390:64-bit' -ex 'set endian big'
    -ex "target remote 127.0.0.1:$port"
    -ex 'info threads' -ex 'thread apply all info all-registers')
  for ((n = 1; n <= ncpus; n++)); do
    args+=(-ex "thread $n" -ex "dump binary memory $prefix-stack-$n.bin \$r15 \$r15+256")
  done
  args+=(-ex "thread $((kcpu + 1))" -ex "x/s $kva" -ex "dump binary memory $prefix-banner.bin $kva $kva+$len" -ex "$end")
  timeout 120 gdb-multiarch -nx -batch "${args[@]}" >"$prefix.txt" 2>&1 </dev/null ||
    { cat "$prefix.txt"; fail "gdb-multiarch against 127.0.0.1:$port"; }
  rg_py gdb-regs "$prefix.txt" >"$prefix.json"
  [[ $(json_len "$prefix.json") == "$ncpus" ]] ||
    { cat "$prefix.txt"; fail "gdb did not see $ncpus threads with registers on port $port"; }
}

# check_banner_xs PREFIX: the x/s line of PREFIX.txt shows the whole banner.
check_banner_xs() {
  python3 - "$1.txt" "$w/banner.json" <<'EOF'
import json, sys
lines = open(sys.argv[1], errors="replace").read().splitlines()
b = json.load(open(sys.argv[2]))
want = '"' + b["text"] + '\\n"'
hits = [l for l in lines if l.startswith(b["kva_hex"]) and want in l]
if not hits:
    print("x/s did not print the banner; transcript lines starting with the address:")
    print("\n".join(l for l in lines if l.startswith("0x")) or "(none)")
    sys.exit(1)
print(hits[0])
EOF
}

step "linux_banner in the dump"
rg_py banner "$dump" "$w/console.json" >"$w/banner.json" || fail "linux_banner not found in the dump"
abs=$(json_get "$w/banner.json" abs_hex)
kva=$(json_get "$w/banner.json" kva_hex)
len=$(json_get "$w/banner.json" length)
banner_hex=$(json_get "$w/banner.json" hex)
[[ $kva != None ]] || fail "no kernel virtual address for the banner: $(json_get "$w/banner.json" kva_via)"
echo "copies of 'Linux version ' in absolute storage: $(python3 -c 'import json,sys; print(" ".join(o["abs"] + ("(exact)" if o["exact"] else "") for o in json.load(open(sys.argv[1]))["occurrences"]))' "$w/banner.json")"
ok "linux_banner: absolute $abs, kernel virtual $kva ($(json_get "$w/banner.json" kva_via)), $len bytes"

step "QEMU's own gdbstub (127.0.0.1:$RG_GDB_PORT)"
gdb_session "$RG_GDB_PORT" "$w/qemu" "$kva" "$len" disconnect
grep -E '^\*? +[0-9]+ +Thread' "$w/qemu.txt" || true
check_banner_xs "$w/qemu" || fail "QEMU's stub: x/s $kva"
[[ $(hexof "$w/qemu-banner.bin") == "$banner_hex" ]] || fail "QEMU's stub: banner bytes at $kva differ"
ok "QEMU's stub prints the banner at $kva (thread $((kcpu + 1)))"
[[ $(rg_qmp query-status | json_get /dev/stdin running) == False ]] || fail "the guest runs again after gdb left"
# The CPU is stopped: QEMU recomputes a lazily kept CC for gdb and HMP, but the dump
# stores the raw PSW mask, so where HMP shows a cc_op name the dump's CC may be stale.
lazy=$(python3 -c 'import json,sys; print(",".join(str(i) for i, c in enumerate(json.load(open(sys.argv[1]))) if c.get("cc_lazy")))' "$w/hmp.json")
[[ -z $lazy ]] || echo "note: QEMU kept the CC lazy on CPU(s) $lazy; pswm's CC bits are not compared with the dump there"
echo "-- QEMU gdbstub vs HMP info registers"
rg_py compare qemu-gdbstub "$w/qemu.json" hmp "$w/hmp.json" || fail "QEMU's gdbstub and HMP disagree"
echo "-- QEMU gdbstub vs the dump's ELF notes"
rg_py compare qemu-gdbstub "$w/qemu.json" dump-notes "$w/dump.json" --cc-lazy "$lazy" ||
  fail "QEMU's gdbstub and the dump disagree"

step "s390bridge memop on the dump (interim check; works without serve)"
memop_data() { # memop args... -> the data hex of a successful --json read
  local out
  out=$("$bridge" memop --core "$dump" --json "$@") || { echo "$out" >&2; return 1; }
  python3 -c 'import json, sys
r = json.loads(sys.argv[1])
if r.get("result") != "ok" or "data" not in r:
    sys.exit(f"memop: {r}")
print(r["data"])' "$out"
}
got=$(memop_data abs-read "$abs" "$len") || fail "memop abs-read $abs $len"
[[ $got == "$banner_hex" ]] || fail "memop abs-read $abs: got $got"
ok "memop --core DUMP abs-read $abs $len = the banner"
for n in $kernel_cpus; do
  got=$(memop_data --cpu "$n" read "$kva" "$len") || fail "memop --cpu $n read $kva $len"
  [[ $got == "$banner_hex" ]] || fail "memop --cpu $n read $kva: got $got"
  ok "memop --core DUMP --cpu $n read $kva $len (logical, CPU $n's PSW and DAT tables) = the banner"
done
# r15 is the kernel stack, in vmalloc space (virtual != absolute): the logical read must
# go through DAT and agree with what QEMU's own walk returned over gdb.
# A CPU caught in the kernel's entry path still has the user stack pointer in r15, which
# its kernel view cannot translate: then QEMU's stub cannot read it either, and both
# failing is the agreement checked.
for ((n = 0; n < ncpus; n++)); do
  r15=$(printf '%#x' "$(json_get "$w/dump.json" "$n" r15)")
  if [[ ! -s $w/qemu-stack-$((n + 1)).bin ]]; then
    ! memop_data --cpu "$n" read "$r15" 256 >/dev/null 2>&1 ||
      fail "memop --cpu $n read $r15 succeeded where QEMU's gdbstub could not read"
    ok "memop --cpu $n read r15=$r15 fails, as QEMU's gdbstub does (a user stack pointer in a kernel view)"
    continue
  fi
  got=$(memop_data --cpu "$n" read "$r15" 256) || fail "memop --cpu $n read $r15 256"
  [[ $got == "$(hexof "$w/qemu-stack-$((n + 1)).bin")" ]] ||
    fail "memop --cpu $n read $r15 differs from QEMU's gdbstub"
  ok "memop --cpu $n read r15=$r15 256 (vmalloc'd stack) = QEMU gdbstub's bytes"
done

step "s390bridge read, translate and find on the dump, against an independent walker"
# Every CPU's home space (CR13) is the kernel's page tables: read the banner through it.
"$bridge" read --core "$dump" --view home "$kva" "$len" --out "$w/read-banner.bin" ||
  fail "read --core DUMP --view home $kva $len: exit $?"
[[ $(hexof "$w/read-banner.bin") == "$banner_hex" ]] || fail "read --view home $kva: not the banner"
ok "read --view home $kva $len = the banner (= QEMU's stub)"
# translate: the banner (CPU 0's home space) and every CPU's stack pointer in the space it
# belongs to (home for a CPU in the kernel: the vmalloc'd stack; primary, the user
# process's, for one in problem state), against the walker in
# tests/e2e/lib/real_guest.py written from the architecture.
check_translate() { # CPU CR VIEW VA
  local want got
  rg_py walk "$dump" "$1" "$2" "$4" >"$w/walk.json" || fail "the Python walker failed"
  want=$(json_get "$w/walk.json" walks 0 absolute)
  [[ $want != None ]] || fail "the Python walker: CPU $1 CR$2 $4: $(json_get "$w/walk.json" walks 0 why)"
  "$bridge" translate --core "$dump" --cpu "$1" --view "$3" "$4" --json >"$w/translate.json" ||
    fail "translate --cpu $1 --view $3 $4: exit $?"
  got=$(json_get "$w/translate.json" absolute)
  [[ $got == "$want" ]] || fail "translate --cpu $1 --view $3 $4: s390bridge says $got, the Python walker $want"
  ok "translate --cpu $1 --view $3 $4 -> $got, as the independent walker says"
}
check_translate 0 13 home "$kva"
for ((n = 0; n < ncpus; n++)); do
  r15=$(printf '%#x' "$(json_get "$w/dump.json" "$n" r15)")
  if (($(json_get "$w/dump.json" "$n" pswm) & 0x0001000000000000)); then
    check_translate "$n" 1 primary "$r15"
  elif [[ -s $w/qemu-stack-$((n + 1)).bin ]]; then  # not a user r15 caught in the entry path
    check_translate "$n" 13 home "$r15"
  fi
done
# find: the banner text anywhere in the kernel's space; the scan rate is a figure.
start=$(rg_now)
"$bridge" find --core "$dump" --view home "$(python3 -c 'import sys; print(bytes.fromhex(sys.argv[1])[:24].decode())' "$banner_hex")" \
  --all --json >"$w/find.json" || fail "find --view home: exit $?"
secs=$(rg_since "$start")
python3 - "$w/find.json" "$kva" "$secs" <<'EOF' || fail "find --view home did not find the banner at $kva"
import json, sys
j, kva, secs = json.load(open(sys.argv[1])), sys.argv[2], float(sys.argv[3])
assert any(m["address"] == kva for m in j["matches"]), j["matches"]
print(f"find: {len(j['matches'])} matches in the kernel's space, {j['scanned_bytes'] >> 20} MiB of mapped pages "
      f"scanned in {secs:.2f} s ({j['scanned_bytes'] / max(secs, 1e-3) / 1e9:.2f} GB/s, process start included)")
EOF
ok "find --view home finds the banner at $kva"
# A user process's space, through the ASCE the dump's notes give (CR1 of a CPU that was
# running the busy user process /init started): its marker is in that space, found and
# read back through `--view asce`.
ucpu=$(python3 -c 'import json, sys
for i, c in enumerate(json.load(open(sys.argv[1]))):
    if c["cr1"] != c["cr13"] and not c["cr1"] & 0x20:
        print(i, hex(c["cr1"])); break' "$w/dump.json")
if [[ -z $ucpu ]]; then
  echo "note: no CPU had a user ASCE in CR1 when the guest stopped; the user-space search was not checked"
else
  uasce=${ucpu#* }
  ucpu=${ucpu%% *}
  "$bridge" find --core "$dump" --cpu "$ucpu" --view "asce $uasce" "$RG_USER_MARKER" --all --json >"$w/ufind.json" ||
    fail "find --view 'asce $uasce' $RG_USER_MARKER: exit $?"
  uaddr=$(json_get "$w/ufind.json" matches 0 address)
  "$bridge" read --core "$dump" --view "asce $uasce" "$uaddr" "${#RG_USER_MARKER}" --raw >"$w/umarker.txt" ||
    fail "read --view 'asce $uasce' $uaddr: exit $?"
  [[ $(<"$w/umarker.txt") == "$RG_USER_MARKER" ]] || fail "read back at $uaddr: $(<"$w/umarker.txt")"
  ok "find --view 'asce $uasce' (CPU $ucpu's CR1, a user process): $RG_USER_MARKER at $uaddr, $(json_get "$w/ufind.json" scanned_bytes) bytes of its mapped pages scanned"
fi
# Figures (printed, not asserted): read 64 MiB of kernel virtual memory to a file, and
# any command's start-up on the 512 MiB dump, with peak RSS; the baseline is a copy of
# the same 64 MiB straight out of the dump file in the same run.
prefix0=$(json_get "$w/dump.json" 0 prefix)
python3 - "$bridge" "$dump" "$w/figures.bin" "$prefix0" <<'EOF' || fail "the figures could not be measured"
import mmap, resource, struct, subprocess, sys, time
bridge, dump, out, prefix = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]) & 0x7FFFE000
MiB = 1 << 20
def run(*args):
    t = time.perf_counter()
    subprocess.run([bridge, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t
before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
startup = run("info", "--core", dump, "--json")
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
secs_file = run("read", "--core", dump, "--view", "home", hex(16 * MiB), hex(64 * MiB), "--out", out)
secs = run("read", "--core", dump, "--view", "home", hex(16 * MiB), hex(64 * MiB), "--raw")  # to /dev/null
rss_read = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
with open(dump, "rb") as f:  # the baseline: the same bytes copied out of the mapped dump
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    phoff, = struct.unpack_from(">Q", m, 32)
    phnum, = struct.unpack_from(">H", m, 56)
    for i in range(phnum):
        p_type, _, off, _, paddr, filesz, _, _ = struct.unpack_from(">IIQQQQQQ", m, phoff + 56 * i)
        if p_type == 1 and paddr <= 16 * MiB < paddr + filesz:
            t = time.perf_counter()
            copy = bytes(m[off + 16 * MiB - paddr:off + 80 * MiB - paddr])
            base = time.perf_counter() - t
# CPU 0's view: real addresses are prefixed, so its lowcore's real pages hold absolute 0-8 KiB.
want = bytearray(copy)
if 16 * MiB <= prefix < 80 * MiB:
    at = prefix - 16 * MiB
    want[at:at + 0x2000] = m[off - paddr:off - paddr + 0x2000]
with open(out, "rb") as f:
    assert f.read() == bytes(want), "read --view home 16 MiB..80 MiB differs from the identity-mapped dump bytes"
print(f"figure: info on the 512 MiB dump: {startup * 1e3:.0f} ms, peak RSS {rss / 1024:.1f} MiB")
print(f"figure: read 64 MiB of kernel virtual memory: {secs * 1e3:.0f} ms to /dev/null "
      f"({64 * MiB / secs / 1e9:.2f} GB/s, process start included), {secs_file * 1e3:.0f} ms to a file; "
      f"peak RSS {rss_read / 1024:.1f} MiB (the dump's pages read, mapped); "
      f"a copy of the same bytes out of the mapped dump: {base * 1e3:.0f} ms ({64 * MiB / base / 1e9:.2f} GB/s)")
EOF
ok "read 64 MiB of kernel virtual memory equals the dump's bytes (figures above)"
# drgn (Debian's python3-drgn) reading the same 64 MiB of kernel virtual memory from the
# same dump with the kernel's DWARF vmlinux: the comparison the inspection figures are
# held to. Skipped, with the reason, where drgn or the -dbg vmlinux cannot be had.
if ! /usr/bin/python3 -c 'import drgn' 2>/dev/null; then
  echo "note: python3-drgn is not installed; no drgn figure"
elif ! rg_fetch_vmlinux; then
  echo "note: no DWARF vmlinux ($RG_SKIP_REASON); no drgn figure"
else
  /usr/bin/python3 - "$dump" "$RG_VMLINUX" <<'EOF' || fail "drgn could not read the dump"
import sys, time, drgn
dump, vmlinux = sys.argv[1:3]
MiB = 1 << 20
t = time.perf_counter()
prog = drgn.Program()
prog.set_core_dump(dump)
try:
    prog.load_debug_info([vmlinux])
except drgn.MissingDebugInfoError:
    pass  # the kernel's own symbols are what matter here, and they loaded
opened = time.perf_counter() - t
banner = prog["linux_banner"].string_().decode(errors="replace")
t = time.perf_counter()
data = prog.read(16 * MiB, 64 * MiB)
secs = time.perf_counter() - t
print(f"figure: drgn {drgn.__version__}: open with vmlinux {opened * 1e3:.0f} ms; prog.read of the same "
      f"64 MiB {secs * 1e3:.0f} ms ({len(data) / secs / 1e9:.2f} GB/s, process start not included); "
      f"linux_banner: {banner[:40]}...")
EOF
fi

step "kdump-zlib (flattened) dump of the same stopped guest: same banner, same registers"
# QEMU 7.2 writes kdump-* in makedumpfile's flattened format; the bridge reads it without
# unflattening it first. The guest is still paused: the same state as the ELF dump.
kdump=$w/guest.kdump
t=$(rg_now)
rg_dump "$kdump" kdump-zlib >/dev/null
ok "dump-guest-memory kdump-zlib: $(stat -c %s "$kdump") bytes in $(rg_since "$t")s"
"$bridge" info --core "$kdump" >"$w/kdump-info.txt" 2>&1 || { cat "$w/kdump-info.txt"; fail "info --core KDUMP"; }
grep -q 'kdump-compressed v6, zlib, flattened' "$w/kdump-info.txt" ||
  { cat "$w/kdump-info.txt"; fail "info does not name the kdump format"; }
t=$(rg_now)
"$bridge" read --core "$kdump" --view home "$kva" "$len" --out "$w/kdump-banner.bin" ||
  fail "read --core KDUMP --view home $kva $len: exit $?"
cmp -s "$w/read-banner.bin" "$w/kdump-banner.bin" || fail "the kdump's banner bytes differ from the ELF dump's"
ok "read --core KDUMP --view home $kva $len = the ELF dump's bytes ($(rg_since "$t")s with open)"
"$bridge" regs --core "$dump" --all --json >"$w/elf-regs.json" || fail "regs --core ELF --all"
"$bridge" regs --core "$kdump" --all --json >"$w/kdump-regs.json" || fail "regs --core KDUMP --all"
cmp -s "$w/elf-regs.json" "$w/kdump-regs.json" || fail "regs --all differ between the ELF and the kdump dump"
ok "regs --all --json: the kdump's $ncpus CPUs equal the ELF dump's"

step "s390bridge serve"
help=$("$bridge" --help 2>&1 || true)
if ! grep -Eq '^ +serve( |$)' <<<"$help"; then
  echo "everything above passed ($(rg_since "$t0")s)"
  skip "s390bridge serve not built yet"
fi
port2=$(rg_py free-port)
"$bridge" serve --core "$dump" --port "$port2" >"$w/serve.log" 2>&1 </dev/null &
serve_pid=$!
rg_py wait-listen "$port2" 30 "$serve_pid" || { cat "$w/serve.log"; fail "s390bridge serve did not listen on $port2"; }
gdb_session "$port2" "$w/bridge" "$kva" "$len" detach
grep -E '^\*? +[0-9]+ +Thread' "$w/bridge.txt" || true
check_banner_xs "$w/bridge" || fail "s390bridge: x/s $kva"
[[ $(hexof "$w/bridge-banner.bin") == "$banner_hex" ]] || fail "s390bridge: banner bytes at $kva differ"
ok "s390bridge prints the banner at $kva (thread $((kcpu + 1)))"
for ((n = 1; n <= ncpus; n++)); do
  if [[ ! -s $w/qemu-stack-$n.bin ]]; then  # see the memop check above
    [[ ! -s $w/bridge-stack-$n.bin ]] || fail "thread $n: the bridge read r15 where QEMU's stub could not"
    continue
  fi
  cmp -s "$w/qemu-stack-$n.bin" "$w/bridge-stack-$n.bin" || fail "thread $n: 256 bytes at r15 differ from QEMU's stub"
done
ok "256 bytes at each thread's r15 equal QEMU's stub (or neither could read them)"
echo "-- QEMU gdbstub vs s390bridge"
rg_py compare qemu-gdbstub "$w/qemu.json" s390bridge "$w/bridge.json" --cc-lazy "$lazy" ||
  fail "s390bridge's registers differ from QEMU's gdbstub"
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
serve_pid=
echo "PASS ($(rg_since "$t0")s)"
