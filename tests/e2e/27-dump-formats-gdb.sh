#!/usr/bin/env bash
# Every dump format of the same stopped REAL guest answers alike (issue 11's real-dump
# test): a Debian 6.1 s390x guest under qemu-system-s390x is paused and dumped by QEMU as
# ELF and as kdump-zlib (flattened, what QEMU 7.2 writes); the bridge converts QEMU's ELF
# to kdump-lzo, kdump-snappy and kdump-zstd (plain), kdump-zstd with zero pages excluded,
# and the s390 stand-alone format. Then, for each file:
#   - `regs --all --json` equals the ELF's (s390: the clock comparator as a save area keeps
#     it, bits 56-63 dropped);
#   - `serve --core FILE` with gdb-multiarch and the kernel's DWARF vmlinux: a differential
#     read of ~330 kernel virtual addresses (text, rodata, data, every thread's stack and
#     PSW address) on every thread, through each CPU's own address space, must give the
#     same bytes and the same refusals as the ELF; on the first thread in kernel mode,
#     `p linux_banner` prints the running kernel's /proc/version and `bt` unwinds at least
#     two frames.
#
#   S390B_BUILD=build tests/e2e/27-dump-formats-gdb.sh
#
# Exit 0 pass, 77 skipped (reason printed), else fail. S390B_KEEP=1 keeps the work
# directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/real-guest.sh
source "$here/lib/real-guest.sh"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== [$(rg_since "$t0")s] $*"; }
ok() { echo "ok: $*"; }

[[ -n ${S390B_BUILD:-} ]] || fail "set S390B_BUILD to the build directory holding cli/s390bridge"
S390B_BUILD=$(cd "$S390B_BUILD" && pwd)
bridge=$S390B_BUILD/cli/s390bridge
[[ -x $bridge ]] || fail "$bridge not built"

t0=$(rg_now)
serve_pids=()
cleanup() {
  ((${#serve_pids[@]} == 0)) || kill "${serve_pids[@]}" 2>/dev/null || true
  rg_cleanup
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

step "host packages"
rg_need_packages qemu-system-misc cpio gdb-multiarch || skip "$RG_SKIP_REASON"
command -v python3 >/dev/null || skip "no python3"
rg_workdir
w=$RG_WORK
avail_mb=$(df -Pm "$w" | awk 'NR == 2 { print $4 }')
((avail_mb >= 1500)) || skip "only ${avail_mb} MB free in $w; the dumps need ~1.5 GB"

step "s390x kernel, busybox and the kernel's DWARF vmlinux (cache $RG_CACHE)"
rc=0
rg_fetch || rc=$?
((rc == 0)) || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "rg_fetch (exit $rc)"; }
rg_fetch_vmlinux || skip "no DWARF vmlinux: $RG_SKIP_REASON"
vmlinux=$RG_VMLINUX
rg_initramfs "$w/initramfs.cpio.gz" || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "rg_initramfs"; }

step "boot, pause, QEMU's dump-guest-memory as elf and kdump-zlib"
rc=0
rg_boot || rc=$?
((rc == 0)) || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "the guest did not come up"; }
ok "guest up after ${RG_BOOT_SECONDS}s"
proc_version=$(rg_py console "$RG_CONSOLE_LOG" | python3 -c 'import json, sys; print(json.load(sys.stdin)["proc_version"])')
[[ -n $proc_version ]] || fail "no /proc/version from the guest"
# The guest runs a busy user process (the harness's marker), so one CPU is often paused in
# user mode, where the kernel is not mapped: the banner and bt use a kernel-mode thread.
rg_qmp stop >/dev/null
rg_dump "$w/qemu.elf" >/dev/null
rg_dump "$w/qemu.kdump" kdump-zlib >/dev/null
ok "qemu.elf $(stat -c %s "$w/qemu.elf") bytes, qemu.kdump (flattened kdump-zlib) $(stat -c %s "$w/qemu.kdump") bytes"
rg_stop # everything below reads files

step "the bridge's conversions of qemu.elf"
files=("elf:$w/qemu.elf" "qemu-kdump-zlib:$w/qemu.kdump")
convert() { # NAME FORMAT [FLAGS...]
  local name=$1 format=$2 t
  shift 2
  t=$(rg_now)
  "$bridge" dump --core "$w/qemu.elf" --out "$w/$name" --format "$format" "$@" >/dev/null 2>"$w/$name.err" ||
    { cat "$w/$name.err"; fail "dump --format $format $*"; }
  ok "$name: $(stat -c %s "$w/$name") bytes in $(rg_since "$t")s"
  files+=("$name:$w/$name")
}
convert kdump-lzo kdump-lzo
convert kdump-snappy kdump-snappy
convert kdump-zstd kdump-zstd
convert kdump-zstd-exclude-zero kdump-zstd --exclude-zero
convert s390 s390

# The file without its zero pages reads like the others only with --zero-excluded.
zero_flag() { [[ $1 != *exclude-zero* ]] || echo --zero-excluded; }

step "registers and info"
"$bridge" regs --core "$w/qemu.elf" --all --json >"$w/regs-elf.json" || fail "regs --core qemu.elf"
for entry in "${files[@]:1}"; do
  name=${entry%%:*} file=${entry#*:}
  "$bridge" regs --core "$file" $(zero_flag "$name") --all --json >"$w/regs-$name.json" || fail "regs --core $name"
  python3 - "$w/regs-elf.json" "$w/regs-$name.json" "$name" <<'PYEOF' || fail "$name: registers differ from the ELF's"
import json, sys
a, b, name = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3]
# The s390 format keeps registers in store-status save areas: the clock comparator is
# stored there as CKC >> 8 (bits 56-63 are not kept), and a save area has no place for
# the breaking-event address or the guarded-storage block: what the s390 file does not
# have is left out of the comparison, and only that.
def norm(doc, other):
    doc = json.loads(json.dumps(doc))
    if name == "s390":
        for c, o in zip(doc["cpus"], other["cpus"]):
            for k in list(c):
                if k not in o or o[k] is None:
                    c.pop(k)
            if isinstance(c.get("clock_comparator"), str):
                c["clock_comparator"] = hex(int(c["clock_comparator"], 16) & ~0xff)
    return doc
a, b = norm(a, b), norm(b, b)
if a != b:
    fa, fb = json.dumps(a, sort_keys=True, indent=1).splitlines(), json.dumps(b, sort_keys=True, indent=1).splitlines()
    import difflib
    print("\n".join(list(difflib.unified_diff(fa, fb, "elf", name, lineterm=""))[:40]))
    sys.exit(1)
PYEOF
  "$bridge" info --core "$file" >"$w/info-$name.txt" 2>&1 || { cat "$w/info-$name.txt"; fail "info --core $name"; }
done
ok "regs --all --json of every file equals the ELF's"
grep -q 'registers from: store-status save area' "$w/info-s390.txt" || { cat "$w/info-s390.txt"; fail "info on the s390 dump does not say the registers come from save areas"; }
grep -q 'kdump-compressed v6, lzo' "$w/info-kdump-lzo.txt" || { cat "$w/info-kdump-lzo.txt"; fail "info does not name lzo"; }

step "gdb-multiarch with the DWARF vmlinux on serve --core, every format"
rg_py live-addrs "$vmlinux" >"$w/addrs.txt"
mkdir -p "$RG_CACHE/gdb-index"
export S390B_RG_LIB=$here/lib S390B_MARKER=$RG_USER_MARKER S390B_BG_LOG=$w/background.log
# One server per file, all at once, and one gdb that loads the vmlinux once and visits
# each in turn (target remote ... disconnect).
serve_pids=()
ports=()
for entry in "${files[@]}"; do
  name=${entry%%:*} file=${entry#*:}
  : >"$w/serve-$name.out" # exists before the server's shell opens it
  # shellcheck disable=SC2046
  "$bridge" serve --core "$file" $(zero_flag "$name") --host 127.0.0.1 --port 0 >"$w/serve-$name.out" \
    2>"$w/serve-$name.err" </dev/null &
  serve_pids+=($!)
done
for ((k = 0; k < ${#files[@]}; k++)); do
  name=${files[k]%%:*} port=
  for ((i = 0; i < 300; i++)); do
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$w/serve-$name.out")
    [[ -n $port ]] && break
    kill -0 "${serve_pids[k]}" 2>/dev/null || break
    sleep 0.1
  done
  [[ -n $port ]] || { cat "$w/serve-$name.out" "$w/serve-$name.err"; fail "serve --core $name did not report a port"; }
  ports+=("$port")
done
gdb_cmds=(-nx -batch -ex "set index-cache directory $RG_CACHE/gdb-index" -ex 'set index-cache enabled on'
  -ex 'set pagination off' -ex 'set confirm off' -ex "file $vmlinux" -x "$here/lib/live_gdb.py")
for ((k = 0; k < ${#files[@]}; k++)); do
  name=${files[k]%%:*}
  gdb_cmds+=(-ex "echo s390b-file $name\n" -ex "target remote 127.0.0.1:${ports[k]}"
    -ex "s390b-read-set $w/addrs.txt $w/reads-$name.json"
    -ex 's390b-kernel-thread' -ex 'echo s390b-banner:\n' -ex 'printf "%s", linux_banner' -ex 'echo \n'
    -ex 'echo s390b-bt:\n' -ex 'bt 8' -ex 'echo s390b-end\n' -ex disconnect)
done
t=$(rg_now)
timeout 600 gdb-multiarch "${gdb_cmds[@]}" >"$w/gdb.txt" 2>&1 || { cat "$w/gdb.txt"; fail "gdb-multiarch (transcript above)"; }
kill "${serve_pids[@]}" 2>/dev/null || true
wait "${serve_pids[@]}" 2>/dev/null || true
echo "one gdb-multiarch session over ${#files[@]} servers: $(rg_since "$t")s"
for entry in "${files[@]}"; do
  name=${entry%%:*}
  # This file's part of the transcript.
  sed -n "/^s390b-file $name\$/,/^s390b-end\$/p" "$w/gdb.txt" >"$w/gdb-$name.txt"
  grep -q '^s390b-read-set [0-9]* addresses' "$w/gdb-$name.txt" || { cat "$w/gdb.txt"; fail "$name: the read set did not run"; }
  grep -q '^s390b-kernel-thread [0-9]' "$w/gdb-$name.txt" ||
    { cat "$w/gdb-$name.txt"; fail "$name: no thread in kernel mode (the pause should find the guest idle)"; }
  sed -n '/^s390b-banner:$/,/^s390b-bt:$/p' "$w/gdb-$name.txt" | sed '1d;$d' | tr -d '\n' >"$w/banner-$name.txt"
  [[ $(<"$w/banner-$name.txt") == "$proc_version" ]] ||
    { cat "$w/gdb-$name.txt"; fail "$name: linux_banner is '$(<"$w/banner-$name.txt")', /proc/version '$proc_version'"; }
  frames=$(sed -n '/^s390b-bt:$/,/^s390b-end$/p' "$w/gdb-$name.txt" | grep -c '^#[0-9]' || true)
  ((frames >= 2)) || { cat "$w/gdb-$name.txt"; fail "$name: bt on the kernel-mode thread shows $frames frames"; }
  ok "$name: $(grep '^s390b-read-set' "$w/gdb-$name.txt" | sed 's/^s390b-read-set //'); $(grep -m1 '^s390b-kernel-thread' "$w/gdb-$name.txt" | sed 's/^s390b-kernel-//'): linux_banner = /proc/version; bt: $frames frames ($(sed -n '/^s390b-bt:$/,/^s390b-end$/p' "$w/gdb-$name.txt" | grep -m2 '^#[0-9]' | sed 's/ (.*//; s/^#[0-9]* *\(0x[0-9a-f]* in \)\{0,1\}//' | paste -sd' '))"
done
for entry in "${files[@]:1}"; do
  name=${entry%%:*}
  rg_py live-compare elf "$w/reads-elf.json" "$name" "$w/reads-$name.json" >"$w/compare-$name.txt" 2>&1 ||
    { cat "$w/compare-$name.txt"; fail "$name: reads differ from the ELF's"; }
done
ok "every format reads the same bytes (and refuses the same addresses) as the ELF, on every thread"

echo "PASS ($(rg_since "$t0")s)"
