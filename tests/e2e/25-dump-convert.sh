#!/usr/bin/env bash
# `s390bridge dump` against a REAL s390x Linux guest (issue 11, the ELF writer): QEMU's own
# ELF dump of a stopped Debian guest converted with `s390bridge dump --core`, and the live
# guest dumped with `s390bridge dump --qemu --qemu-mem`; both must hold the same registers
# and every byte of QEMU's dump, plus the VMCOREINFO note QEMU does not write (recovered
# from the guest's lowcore), whose OSRELEASE is the running kernel's. Then the
# interoperability test: drgn 0.0.31 (Debian trixie's python3-drgn, in the trixie root
# bench/lib/gdb16.sh builds) opens the bridge's file with the DWARF vmlinux, prints
# linux_banner and walks the task list, where it refuses QEMU's own file. And the kdump
# writer: QEMU's file converted to kdump-zlib, -lzo, -snappy, -zstd, one flattened and one
# with zero pages excluded, each read back page by page by libkdumpfile (Debian's
# python3-libkdumpfile, an independent reader; 0.5.1 does not read flattened files)
# and by the bridge (registers, linux_banner through the guest's page tables, and for the
# flattened and zero-excluded files every byte after converting back to ELF); drgn opens
# the zstd and the flattened file and lists the same tasks as from the ELF. And a split set
# (3 kdump-zstd parts) read by the bridge (parts shuffled) and by libkdumpfile's C library
# through ctypes (kdump_open_fdset: the Python binding opens one file only). The live guest
# is also dumped as kdump-zstd through `dump --qemu` and checked byte for byte.
#
#   S390B_BUILD=build tests/e2e/25-dump-convert.sh
#
# Exit 0 pass, 77 skipped (reason printed), else fail. The drgn part is skipped (the rest
# still counts, exit 0 with a note) when the trixie root, python3-drgn (installed into the
# root when run as root) or the -dbg vmlinux cannot be had; S390B_REQUIRE_DRGN=1 makes
# that a skip of the whole script instead; the libkdumpfile part is skipped with a note when
# python3-libkdumpfile cannot be installed. S390B_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/real-guest.sh
source "$here/lib/real-guest.sh"
# shellcheck source=../../bench/lib/gdb16.sh
source "$here/../../bench/lib/gdb16.sh"  # S390B_GDB16_ROOT: the trixie root

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== [$(rg_since "$t0")s] $*"; }
ok() { echo "ok: $*"; }
json_get() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: v=v[int(k)] if isinstance(v, list) else v[k]
print(v)' "$@"; }

[[ -n ${S390B_BUILD:-} ]] || fail "set S390B_BUILD to the build directory holding cli/s390bridge"
S390B_BUILD=$(cd "$S390B_BUILD" && pwd)
bridge=$S390B_BUILD/cli/s390bridge
[[ -x $bridge ]] || fail "$bridge not built"
"$bridge" dump --help >/dev/null 2>&1 || skip "s390bridge dump not built yet"

t0=$(rg_now)
trap rg_cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

step "host packages"
rg_need_packages qemu-system-misc cpio || skip "$RG_SKIP_REASON"
command -v python3 >/dev/null || skip "no python3"
rg_workdir
w=$RG_WORK
avail_mb=$(df -Pm "$w" | awk 'NR == 2 { print $4 }')
((avail_mb >= 2000)) || skip "only ${avail_mb} MB free in $w; three 512 MiB dumps need ~2 GB"

step "s390bridge dump: the demo guest, exit codes, what is refused"
"$bridge" dump --demo --out "$w/demo.elf" --json >"$w/demo.json" 2>"$w/demo.err" || fail "dump --demo: exit $?"
[[ $(json_get "$w/demo.json" vmcoreinfo found) == False ]] || fail "VMCOREINFO found in the demo guest"
grep -q 'warning: no VMCOREINFO' "$w/demo.err" || fail "no warning about the missing VMCOREINFO"
"$bridge" regs --core "$w/demo.elf" --all --json >"$w/demo-core-regs.json" || fail "regs --core demo.elf"
"$bridge" regs --demo --all --json >"$w/demo-regs.json"
cmp -s "$w/demo-regs.json" "$w/demo-core-regs.json" || fail "the demo guest's registers differ in its dump"
ok "dump --demo: $(stat -c %s "$w/demo.elf") bytes, registers identical, the warning says why there is no VMCOREINFO"
sum=$(cksum <"$w/demo.elf")
expect_rc() { # RC WHAT ARGS...: the command exits RC
  local want=$1 what=$2 rc=0
  shift 2
  "$bridge" "$@" >/dev/null 2>"$w/rc.err" || rc=$?
  ((rc == want)) || { cat "$w/rc.err"; fail "$what: exit $rc, want $want"; }
  ok "$what: exit $rc ($(head -n 1 "$w/rc.err"))"
}
expect_rc 2 "--flattened with --format elf" dump --demo --out "$w/x.elf" --flattened
expect_rc 2 "--exclude-zero with --format elf" dump --demo --out "$w/x.elf" --exclude-zero
expect_rc 2 "--format bogus" dump --demo --out "$w/x.elf" --format bogus
expect_rc 2 "--out twice with --format elf" dump --demo --out "$w/x.elf" --out "$w/y.elf"
expect_rc 2 "--out = the source dump" dump --core "$w/demo.elf" --out "$w/demo.elf"
expect_rc 2 "--out = the source dump (kdump)" dump --core "$w/demo.elf" --out "$w/demo.elf" --format kdump-zlib
expect_rc 1 "--out in a missing directory" dump --demo --out "$w/no/such/x.elf"
[[ ! -e $w/x.elf && $(cksum <"$w/demo.elf") == "$sum" ]] || fail "a refused dump wrote something"
"$bridge" dump --core "$w/demo.elf" --out "$w/demo.kdump" --format kdump-zlib >/dev/null 2>&1 || fail "dump --format kdump-zlib of demo.elf"
"$bridge" regs --core "$w/demo.kdump" --all --json >"$w/demo-kdump-regs.json" || fail "regs --core demo.kdump"
cmp -s "$w/demo-regs.json" "$w/demo-kdump-regs.json" || fail "the demo guest's registers differ in its kdump"
ok "dump --format kdump-zlib of demo.elf: $(stat -c %s "$w/demo.kdump") bytes, registers identical"
rm -f "$w/demo.elf" "$w/demo.kdump"

step "boot the real guest (RAM in a shared file, for the live dump)"
rc=0
rg_fetch || rc=$?
((rc == 0)) || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "rg_fetch (exit $rc)"; }
rg_initramfs "$w/initramfs.cpio.gz" || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "rg_initramfs"; }
rc=0
RG_SHARED_RAM=1 rg_boot || rc=$?
((rc == 0)) || { [[ -n $RG_SKIP_REASON ]] && skip "$RG_SKIP_REASON"; fail "the guest did not come up"; }
ok "guest up after ${RG_BOOT_SECONDS}s"
rg_py console "$RG_CONSOLE_LOG" >"$w/console.json"
release=$(json_get "$w/console.json" proc_version | awk '{ print $3 }')
[[ -n $release ]] || fail "no kernel release in the guest's /proc/version"
echo "guest kernel release: $release"

step "stop over QMP, QEMU's dump-guest-memory"
rg_qmp stop >/dev/null
t=$(rg_now)
rg_dump "$w/qemu.elf" >/dev/null
ok "qemu.elf: $(stat -c %s "$w/qemu.elf") bytes in $(rg_since "$t")s"

step "s390bridge dump --core qemu.elf (conversion)"
t=$(rg_now)
"$bridge" dump --core "$w/qemu.elf" --out "$w/bridge.elf" --json >"$w/dump.json" 2>"$w/dump.err" ||
  { cat "$w/dump.err"; fail "dump --core: exit $?"; }
secs=$(rg_since "$t")
cat "$w/dump.err"
[[ $(json_get "$w/dump.json" vmcoreinfo found) == True ]] || fail "no VMCOREINFO recovered: $(cat "$w/dump.err")"
ok "bridge.elf: $(stat -c %s "$w/bridge.elf") bytes in ${secs}s ($(python3 -c 'import sys; print(f"{int(sys.argv[1]) / float(sys.argv[2]) / 1e6:.0f}")' "$(stat -c %s "$w/bridge.elf")" "$secs") MB/s, process start included); VMCOREINFO from $(json_get "$w/dump.json" vmcoreinfo origin) at $(json_get "$w/dump.json" vmcoreinfo address)"
[[ $(json_get "$w/dump.json" vmcoreinfo osrelease) == "$release" ]] ||
  fail "VMCOREINFO says OSRELEASE=$(json_get "$w/dump.json" vmcoreinfo osrelease), the guest runs $release"
! compgen -G "$w/.*.partial-*" >/dev/null || fail "a temporary file was left in $w: $(compgen -G "$w/.*.partial-*")"

# An independent reader (Python, from the ELF and note formats): every PT_LOAD byte of
# QEMU's file equals the bridge's at the same absolute address; the CPU notes are the
# same bytes but for pr_pid (QEMU stores it in host byte order); the bridge's VMCOREINFO
# note holds OSRELEASE=<release>.
check_elf() { # QEMU_ELF OTHER_ELF RELEASE [--cc-lazy]
  python3 - "$@" <<'PYEOF'
import mmap, struct, sys
def parse(path):
    f = open(path, "rb")
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    assert m[:4] == b"\x7fELF" and m[4] == 2 and m[5] == 2, path
    phoff, = struct.unpack_from(">Q", m, 32)
    phnum, = struct.unpack_from(">H", m, 56)
    loads, notes = [], []
    for i in range(phnum):
        t, _, off, vaddr, paddr, filesz, memsz, _ = struct.unpack_from(">IIQQQQQQ", m, phoff + 56 * i)
        if t == 1:
            loads.append((paddr, off, filesz, memsz, vaddr))
        elif t == 4:
            at = off
            while at + 12 <= off + filesz:
                nsz, dsz, typ = struct.unpack_from(">III", m, at)
                name = m[at + 12:at + 12 + nsz].rstrip(b"\0").decode()
                d = at + 12 + ((nsz + 3) & ~3)
                notes.append((name, typ, bytes(m[d:d + dsz])))
                at = d + ((dsz + 3) & ~3)
    return m, loads, notes
qm, ql, qn = parse(sys.argv[1])
bm, bl, bn = parse(sys.argv[2])
def find(loads, addr):
    for paddr, off, filesz, memsz, vaddr in loads:
        if paddr <= addr < paddr + filesz:
            return off + addr - paddr, paddr + filesz - addr
    raise SystemExit(f"absolute {addr:#x} is in no PT_LOAD of {sys.argv[2]}")
total = 0
for paddr, off, filesz, memsz, vaddr in ql:
    done = 0
    while done < filesz:
        boff, avail = find(bl, paddr + done)
        n = min(avail, filesz - done, 64 << 20)
        if qm[off + done:off + done + n] != bm[boff:boff + n]:
            raise SystemExit(f"bytes differ in [{paddr + done:#x}, {paddr + done + n:#x})")
        done += n
    total += filesz
assert all(vaddr == paddr for paddr, _, _, _, vaddr in bl), "p_vaddr != p_paddr"
cpu_q = [(n, t, d) for n, t, d in qn if n != "VMCOREINFO"]
cpu_b = [(n, t, d) for n, t, d in bn if n != "VMCOREINFO"]
if [(n, t) for n, t, _ in cpu_q] != [(n, t) for n, t, _ in cpu_b]:
    raise SystemExit(f"note order differs: {[(n, hex(t)) for n, t, _ in cpu_b]}")
lazy_cc = len(sys.argv) > 4 and sys.argv[4] == "--cc-lazy"
bad = []
for i, ((n, t, dq), (_, _, db)) in enumerate(zip(cpu_q, cpu_b)):
    dq, db = bytearray(dq), bytearray(db)
    if t == 1:  # NT_PRSTATUS: pr_pid at 32 is host-order in QEMU's file
        dq[32:36] = db[32:36] = b"\0" * 4
        if lazy_cc:  # PSW bits 18-19 (the CC): QEMU's dump stores a lazily kept CC unresolved
            dq[114] &= ~0x30 & 0xff
            db[114] &= ~0x30 & 0xff
    if dq != db:
        offs = [k for k in range(len(dq)) if dq[k] != db[k]]
        bad.append(f"note {i} {n} {t:#x}: bytes at {offs[:8]} differ ({dq[offs[0]]:#x} vs {db[offs[0]]:#x})")
if bad:
    raise SystemExit("\n".join(bad))
v = [d for n, t, d in bn if n == "VMCOREINFO" and t == 0]
if len(v) != 1:
    raise SystemExit(f"{len(v)} VMCOREINFO notes in {sys.argv[2]}")
lines = v[0].rstrip(b"\0").decode().splitlines()
if f"OSRELEASE={sys.argv[3]}" not in lines:
    raise SystemExit(f"VMCOREINFO has no OSRELEASE={sys.argv[3]}: {lines[:3]}")
print(f"{total >> 20} MiB of memory equal, {len(cpu_b)} CPU notes equal (in QEMU's order), "
      f"VMCOREINFO {len(v[0])} bytes with OSRELEASE={sys.argv[3]}")
PYEOF
}
check_elf "$w/qemu.elf" "$w/bridge.elf" "$release" || fail "bridge.elf differs from qemu.elf"
ok "bridge.elf = qemu.elf + VMCOREINFO (independent Python reader)"
if command -v readelf >/dev/null; then
  # (Captured first: grep -q leaving early would SIGPIPE readelf under pipefail.)
  notes=$(readelf -n "$w/bridge.elf")
  grep -q VMCOREINFO <<<"$notes" || fail "readelf -n shows no VMCOREINFO note"
  ok "readelf -n: $(grep -c 'NT_PRSTATUS' <<<"$notes") NT_PRSTATUS, $(grep -c VMCOREINFO <<<"$notes") VMCOREINFO"
fi

step "s390bridge regs, read and info agree between the two files"
for f in qemu bridge; do
  "$bridge" regs --core "$w/$f.elf" --all --json >"$w/$f-regs.json" || fail "regs --core $f.elf"
done
cmp -s "$w/qemu-regs.json" "$w/bridge-regs.json" || fail "regs --all --json differ between qemu.elf and bridge.elf"
ok "regs --all --json: identical"
rg_py banner "$w/qemu.elf" "$w/console.json" >"$w/banner.json" || fail "linux_banner not found in qemu.elf"
kva=$(json_get "$w/banner.json" kva_hex)
len=$(json_get "$w/banner.json" length)
for f in qemu bridge; do
  "$bridge" read --core "$w/$f.elf" --view home "$kva" "$len" --out "$w/$f-banner.bin" || fail "read --core $f.elf --view home $kva"
  "$bridge" read --core "$w/$f.elf" --view absolute 0 0x10000 --out "$w/$f-low.bin" || fail "read --core $f.elf absolute 0"
done
cmp -s "$w/qemu-banner.bin" "$w/bridge-banner.bin" || fail "the banner at $kva differs"
cmp -s "$w/qemu-low.bin" "$w/bridge-low.bin" || fail "absolute 0-64 KiB differ"
ok "read --view home $kva (linux_banner: $(head -c 40 "$w/bridge-banner.bin")...) and absolute 0-64 KiB: identical"
"$bridge" info --core "$w/bridge.elf" --json >"$w/info.json" || fail "info --core bridge.elf"
[[ $(json_get "$w/info.json" source vmcoreinfo) == True ]] || fail "info does not see bridge.elf's VMCOREINFO"
ok "info --core bridge.elf: VMCOREINFO seen"

step "s390bridge dump --qemu (the live, paused guest; memory from its shared RAM file)"
t=$(rg_now)
"$bridge" dump --qemu "127.0.0.1:$RG_GDB_PORT" --qemu-mem "$RG_RAM_FILE" --qmp "$RG_QMP_SOCK" \
  --out "$w/live.elf" --json >"$w/live.json" 2>"$w/live.err" || { cat "$w/live.err"; fail "dump --qemu: exit $?"; }
ok "live.elf in $(rg_since "$t")s"
# The live registers come from QEMU's gdbstub, which computes the condition code QEMU
# keeps lazily under TCG; its dump stores the raw PSW mask (QEMU target/s390x/arch_dump.c),
# so the CC bits may differ there and only there.
check_elf "$w/qemu.elf" "$w/live.elf" "$release" --cc-lazy || fail "live.elf differs from qemu.elf"
ok "live.elf = qemu.elf + VMCOREINFO (registers from QEMU's gdbstub; the PSW's CC not compared)"
rm -f "$w/live.elf"
# The same live guest as a kdump, converted back to ELF by the bridge's reader and writer:
# every byte again. (QEMU's physical-memory mode, without --qemu-mem, gives the same bytes
# but takes ~20 s for 512 MiB; 30-live-qemu.sh covers that path.)
t=$(rg_now)
"$bridge" dump --qemu "127.0.0.1:$RG_GDB_PORT" --qemu-mem "$RG_RAM_FILE" --qmp "$RG_QMP_SOCK" --format kdump-zstd \
  --out "$w/live.kdump" 2>"$w/live-kdump.err" >/dev/null || { cat "$w/live-kdump.err"; fail "dump --qemu --format kdump-zstd: exit $?"; }
secs=$(rg_since "$t")
"$bridge" dump --core "$w/live.kdump" --out "$w/live.elf" >/dev/null 2>&1 || fail "dump --core live.kdump"
check_elf "$w/qemu.elf" "$w/live.elf" "$release" --cc-lazy || fail "live.kdump differs from qemu.elf"
ok "live.kdump (kdump-zstd, ${secs}s) = qemu.elf + VMCOREINFO"
rg_stop  # the rest reads files only
rm -f "$w/live.elf" "$w/live.kdump"  # room for the kdump files

step "s390bridge dump --format kdump-*: qemu.elf as makedumpfile's format, read back by libkdumpfile and the bridge"
# libkdumpfile (Debian's python3-libkdumpfile: the library crash-python and kdumpid use)
# is the independent reader: every page of qemu.elf's PT_LOADs is read through it at its
# physical address and compared. It lives in Debian's python3 (/usr/bin/python3), which
# need not be the python3 on PATH.
kpy=
if e2e_apt_install python3-libkdumpfile; then
  for py in python3 /usr/bin/python3; do
    if "$py" -c 'import kdumpfile' 2>/dev/null; then kpy=$py; break; fi
  done
  [[ -n $kpy ]] || echo "note: python3-libkdumpfile is installed but no python3 here imports kdumpfile; libkdumpfile part skipped"
else
  echo "note: libkdumpfile part skipped: $E2E_SKIP_REASON"
fi
check_kdump() { # QEMU_ELF KDUMP EXCLUDED_ZERO(0|1) RELEASE: exit 3 when libkdumpfile cannot open KDUMP
  "$kpy" - "$@" <<'PYEOF'
import mmap, struct, sys, time
import kdumpfile
from kdumpfile.exceptions import NoDataException
elf, path, excl, release = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
f = open(elf, "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
phoff, = struct.unpack_from(">Q", m, 32)
phnum, = struct.unpack_from(">H", m, 56)
loads = []
for i in range(phnum):
    t, _, off, vaddr, paddr, filesz, memsz, _ = struct.unpack_from(">IIQQQQQQ", m, phoff + 56 * i)
    if t == 1:
        loads.append((paddr, off, filesz))
try:
    k = kdumpfile.kdumpfile(path)
except Exception as e:
    print(f"libkdumpfile cannot open {path}: {type(e).__name__}: {e}")
    sys.exit(3)
# libkdumpfile takes the architecture from the header's utsname only when it is whole
# (sysname Linux, release, version, machine): the kernel's own, which the bridge reads.
fmt, arch, order = k.attr["file.format"], k.attr.get("arch.name"), k.attr["arch.byte_order"]
if fmt != "diskdump" or order != 0 or arch != "s390x":  # 0: KDUMP_BIG_ENDIAN
    raise SystemExit(f"libkdumpfile sees {fmt}, arch {arch}, byte order {order}: not a big-endian s390x diskdump")
phys, page = kdumpfile.KDUMP_MACHPHYSADDR, 4096
# A page at a time where pages are excluded: after a multi-page read that meets an
# excluded page, libkdumpfile 0.5.1 fails later zstd pages ("Decompression failed:
# Destination buffer is too small") that a fresh context reads correctly.
chunk, zero = (page if excl else 256 * page), bytes(page)
pages = excluded = 0
t0 = time.time()
for paddr, off, filesz in loads:
    for at in range(0, filesz, chunk):
        n = min(chunk, filesz - at)
        want = m[off + at:off + at + n]
        try:
            if k.read(phys, paddr + at, n) != want:
                raise SystemExit(f"libkdumpfile reads other bytes in [{paddr + at:#x}, {paddr + at + n:#x})")
            pages += n // page
            continue
        except NoDataException:
            if not excl:
                raise SystemExit(f"libkdumpfile: no data in [{paddr + at:#x}, {paddr + at + n:#x}), nothing was excluded")
        for p in range(0, n, page):
            w, a = want[p:p + page], paddr + at + p
            try:
                g = k.read(phys, a, page)
            except NoDataException:
                if w != zero:
                    raise SystemExit(f"page {a:#x} is excluded but not zero in {elf}")
                excluded += 1
                continue
            if g != w:
                raise SystemExit(f"libkdumpfile reads other bytes in page {a:#x}")
            pages += 1
if excl and excluded == 0:
    raise SystemExit("--exclude-zero: libkdumpfile finds every page")
uts = k.attr.get("linux.uts.release")
if uts is not None and uts != release:
    raise SystemExit(f"libkdumpfile: linux.uts.release {uts}, the guest runs {release}")
print(f"libkdumpfile: {fmt} {arch}, release {uts}, {pages} pages equal to qemu.elf"
      f"{f', {excluded} zero pages excluded' if excl else ''} ({time.time() - t0:.1f}s)")
PYEOF
}
kva=$(json_get "$w/banner.json" kva_hex)
len=$(json_get "$w/banner.json" length)
flattened_note=
for spec in kdump-zlib kdump-lzo kdump-snappy kdump-zstd "kdump-zlib --flattened" "kdump-zstd --exclude-zero"; do
  read -r -a args <<<"$spec"
  name=${spec// --/-}
  out=$w/$name.kdump
  t=$(rg_now)
  "$bridge" dump --core "$w/qemu.elf" --out "$out" --format "${args[@]}" --json >"$w/$name.json" 2>"$w/$name.err" ||
    { cat "$w/$name.err"; fail "dump --format $spec: exit $?"; }
  secs=$(rg_since "$t")
  [[ $(json_get "$w/$name.json" pages_unreadable) == 0 ]] || fail "$spec: pages unreadable in qemu.elf?"
  [[ $(json_get "$w/$name.json" vmcoreinfo osrelease) == "$release" ]] || fail "$spec: VMCOREINFO OSRELEASE"
  [[ $(json_get "$w/$name.json" utsname found) == True ]] || fail "$spec: the kernel's utsname not found: $(json_get "$w/$name.json" utsname rejected)"
  ok "$name: $(stat -c %s "$out") bytes ($(du -k "$out" | cut -f1) KiB on disk) in ${secs}s: $(json_get "$w/$name.json" pages_dumped) pages dumped, $(json_get "$w/$name.json" pages_compressed) compressed, $(json_get "$w/$name.json" pages_excluded_zero) zero pages excluded"
  "$bridge" regs --core "$out" --all --json >"$w/$name-regs.json" || fail "regs --core $name.kdump"
  cmp -s "$w/qemu-regs.json" "$w/$name-regs.json" || fail "regs --all --json differ between qemu.elf and $name.kdump"
  "$bridge" read --core "$out" --view home "$kva" "$len" --out "$w/$name-banner.bin" || fail "read --core $name.kdump --view home $kva"
  cmp -s "$w/qemu-banner.bin" "$w/$name-banner.bin" || fail "the banner at $kva differs in $name.kdump"
  ok "$name: regs --all --json and linux_banner at $kva (read through the guest's page tables) as in qemu.elf"
  excl=0
  [[ $spec != *--exclude-zero* ]] || excl=1
  rc=0
  if [[ -n $kpy ]]; then
    check_kdump "$w/qemu.elf" "$out" "$excl" "$release" || rc=$?
    ((rc == 0 || rc == 3)) || fail "libkdumpfile: $name.kdump differs from qemu.elf"
    if ((rc == 0)); then ok "$name: libkdumpfile reads every page as qemu.elf has it"; fi
  fi
  if [[ $spec == *--flattened* || $spec == *--exclude-zero* ]]; then
    # The bridge's own reader, every page: back to ELF (excluded zero pages as zeros)
    # and compared with QEMU's file by the independent ELF reader above.
    zero=()
    ((excl == 0)) || zero=(--zero-excluded)
    "$bridge" dump --core "$out" "${zero[@]}" --out "$w/back.elf" >/dev/null 2>"$w/back.err" ||
      { cat "$w/back.err"; fail "dump --core $name.kdump --out back.elf"; }
    check_elf "$w/qemu.elf" "$w/back.elf" "$release" || fail "$name.kdump, back to ELF by the bridge, differs from qemu.elf"
    ok "$name: read back by the bridge (converted back to ELF${zero:+ with --zero-excluded}): every byte as in qemu.elf"
    rm -f "$w/back.elf"
    if [[ $spec == *--flattened* && -n $kpy && $rc == 3 ]]; then
      flattened_note="libkdumpfile $("$kpy" -c 'import importlib.metadata as m; print(m.version("libkdumpfile"))' 2>/dev/null || echo '?') does not read flattened files: $name.kdump is checked by the bridge's reader here and by drgn (Debian trixie's libkdumpfile) below"
      echo "note: $flattened_note"
    fi
  elif ((rc == 3)); then
    fail "libkdumpfile cannot open $name.kdump"
  fi
  # Two stay for drgn (through the libkdumpfile of Debian trixie) below.
  [[ $name == kdump-zstd || $name == kdump-zlib-flattened ]] || rm -f "$out"
done
! compgen -G "$w/.*.partial-*" >/dev/null || fail "a temporary file was left in $w"

step "split kdump set: qemu.elf as 3 kdump-zstd parts, read by libkdumpfile's C library (a file set) and the bridge"
# libkdumpfile's Python binding (0.5.1) opens one file only; its C library opens a file set
# (kdump_open_fdset, kdumpfile.h), each part's pages from its own [start_pfn, end_pfn).
# It is driven through ctypes: every page of qemu.elf read at its physical address.
parts=("$w/split-1.kdump" "$w/split-2.kdump" "$w/split-3.kdump")
t=$(rg_now)
"$bridge" dump --core "$w/qemu.elf" --format kdump-zstd --out "${parts[0]}" --out "${parts[1]}" --out "${parts[2]}" \
  --json >"$w/split.json" 2>"$w/split.err" || { cat "$w/split.err"; fail "dump --format kdump-zstd, 3 --out: exit $?"; }
secs=$(rg_since "$t")
python3 - "$w/split.json" <<'PYEOF' || fail "the split dump's report"
import json, sys
r = json.load(open(sys.argv[1]))
p = r["parts"]
assert len(p) == 3, p
assert p[0]["start_pfn"] == "0x0" and all(p[i]["end_pfn"] == p[i + 1]["start_pfn"] for i in range(2)), p
assert sum(x["pages_dumped"] for x in p) == r["pages_dumped"] and sum(x["file_size"] for x in p) == r["file_size"], r
for x in p:
    print(f"  {x['path']}: pfns [{x['start_pfn']}, {x['end_pfn']}), {x['file_size']} bytes, {x['pages_dumped']} pages")
PYEOF
ok "3-part split set in ${secs}s: $(json_get "$w/split.json" file_size) bytes in all"
"$bridge" regs --core "${parts[2]}" --core "${parts[0]}" --core "${parts[1]}" --all --json >"$w/split-regs.json" ||
  fail "regs --core (the 3 parts, shuffled)"
cmp -s "$w/qemu-regs.json" "$w/split-regs.json" || fail "regs --all --json differ between qemu.elf and the split set"
"$bridge" info --core "${parts[1]}" --core "${parts[2]}" --core "${parts[0]}" --json >"$w/split-info.json" || fail "info on the split set"
[[ $(json_get "$w/split-info.json" source format) == "kdump-compressed v6, zstd, split set of 3 files" ]] ||
  fail "info: format $(json_get "$w/split-info.json" source format)"
"$bridge" dump --core "${parts[1]}" --core "${parts[0]}" --core "${parts[2]}" --out "$w/back.elf" >/dev/null 2>"$w/back.err" ||
  { cat "$w/back.err"; fail "dump --core (the split set) --out back.elf"; }
check_elf "$w/qemu.elf" "$w/back.elf" "$release" || fail "the split set, back to ELF by the bridge, differs from qemu.elf"
rm -f "$w/back.elf"
ok "the bridge reads the set (parts in any order): registers, info's format, and every byte (back to ELF) as in qemu.elf"
rc=0
"${kpy:-python3}" - "$w/qemu.elf" "${parts[@]}" <<'PYEOF' || rc=$?
import ctypes, mmap, os, struct, sys, time
from ctypes import POINTER, byref, c_char_p, c_int, c_size_t, c_uint, c_uint64, c_void_p
elf, paths = sys.argv[1], sys.argv[2:]
try:
    lib = ctypes.CDLL("libkdumpfile.so.10")
    lib.kdump_open_fdset
except (OSError, AttributeError) as e:
    print(f"no libkdumpfile.so.10 with kdump_open_fdset: {e}")
    sys.exit(3)
# kdumpfile.h (0.5.1): kdump_ctx_t *kdump_new(void); kdump_status kdump_open_fdset(ctx,
# unsigned nfds, const int *fds); kdump_status kdump_read(ctx, kdump_addrspace_t,
# kdump_addr_t (uint_fast64_t), void *, size_t *); KDUMP_OK 0, KDUMP_ERR_NODATA 3,
# KDUMP_MACHPHYSADDR 1.
KDUMP_OK, KDUMP_ERR_NODATA, KDUMP_MACHPHYSADDR = 0, 3, 1
lib.kdump_new.restype = c_void_p
lib.kdump_new.argtypes = []
lib.kdump_free.argtypes = [c_void_p]
lib.kdump_get_err.restype = c_char_p
lib.kdump_get_err.argtypes = [c_void_p]
lib.kdump_open_fdset.restype = c_int
lib.kdump_open_fdset.argtypes = [c_void_p, c_uint, POINTER(c_int)]
lib.kdump_read.restype = c_int
lib.kdump_read.argtypes = [c_void_p, c_int, c_uint64, c_void_p, POINTER(c_size_t)]
ctx = lib.kdump_new()
fds = (c_int * len(paths))(*[os.open(p, os.O_RDONLY) for p in paths])
st = lib.kdump_open_fdset(ctx, len(paths), fds)
if st != KDUMP_OK:
    print(f"libkdumpfile cannot open the set: status {st}: {lib.kdump_get_err(ctx).decode()}")
    sys.exit(3)
f = open(elf, "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
phoff, = struct.unpack_from(">Q", m, 32)
phnum, = struct.unpack_from(">H", m, 56)
page, chunk = 4096, 256 * 4096
buf = ctypes.create_string_buffer(chunk)
pages = 0
t0 = time.time()
for i in range(phnum):
    t, _, off, vaddr, paddr, filesz, memsz, _ = struct.unpack_from(">IIQQQQQQ", m, phoff + 56 * i)
    if t != 1:
        continue
    for at in range(0, filesz, chunk):
        n = min(chunk, filesz - at)
        length = c_size_t(n)
        st = lib.kdump_read(ctx, KDUMP_MACHPHYSADDR, paddr + at, buf, byref(length))
        if st != KDUMP_OK:
            raise SystemExit(f"libkdumpfile: kdump_read at {paddr + at:#x}: status {st}: {lib.kdump_get_err(ctx).decode()}")
        if buf.raw[:n] != m[off + at:off + at + n]:
            raise SystemExit(f"libkdumpfile reads other bytes in [{paddr + at:#x}, {paddr + at + n:#x})")
        pages += n // page
lib.kdump_free(ctx)
print(f"libkdumpfile (C, kdump_open_fdset of {len(paths)} files): {pages} pages equal to qemu.elf ({time.time() - t0:.1f}s)")
PYEOF
((rc == 0 || rc == 3)) || fail "libkdumpfile: the split set differs from qemu.elf"
if ((rc == 0)); then ok "libkdumpfile reads every page of the split set as qemu.elf has it"; else echo "note: libkdumpfile part of the split set skipped"; fi
rm -f "${parts[@]}"
! compgen -G "$w/.*.partial-*" >/dev/null || fail "a temporary file was left in $w"

step "drgn 0.0.31 (Debian trixie) on bridge.elf and on qemu.elf"
root=$S390B_GDB16_ROOT
drgn_skip() {
  [[ -z ${S390B_REQUIRE_DRGN:-} ]] || skip "drgn: $*"
  echo "note: drgn part skipped: $*"
  echo "PASS without drgn ($(rg_since "$t0")s)"
  exit 0
}
[[ -x $root/usr/bin/python3 ]] || drgn_skip "no trixie root at $root (bench/lib/gdb16.sh s390b_gdb16_build makes it)"
command -v unshare >/dev/null || drgn_skip "no unshare (util-linux)"
# Everything below runs in a private mount namespace: the mounts die with the process.
in_root() { # DIR_FOR_/mnt DIR_FOR_/opt CMD... : CMD chrooted, proc mounted, two bind mounts
  # shellcheck disable=SC2016 # the inner sh expands its own positional parameters
  unshare --mount --propagation private -- sh -c '
    root=$1; mnt=$2; opt=$3; shift 3
    mount -t proc proc "$root/proc" && mount --bind -- "$mnt" "$root/mnt" && mount --bind -- "$opt" "$root/opt" &&
      exec chroot "$root" "$@"' sh "$root" "$@"
}
if ! chroot "$root" /usr/bin/python3 -c 'import drgn' 2>/dev/null; then
  ((EUID == 0)) || drgn_skip "python3-drgn is not in $root, and installing it needs root"
  echo "installing python3-drgn into $root"
  in_root "$w" "$w" sh -c 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-drgn' \
    >"$w/drgn-install.log" 2>&1 || { tail -5 "$w/drgn-install.log"; drgn_skip "apt-get install python3-drgn in $root failed"; }
fi
drgn_version=$(chroot "$root" /usr/bin/python3 -c 'import drgn; print(drgn.__version__)')
echo "drgn $drgn_version in $root"
rg_fetch_vmlinux || drgn_skip "no DWARF vmlinux: $RG_SKIP_REASON"
vmlinux_dir=$(dirname "$RG_VMLINUX")
vmlinux=/opt/$(basename "$RG_VMLINUX")
cat >"$w/tasks.py" <<'PYEOF'
from drgn.helpers.linux.pid import for_each_task
print("linux_banner:", prog["linux_banner"].string_().decode().strip())
comms = [t.comm.string_().decode() for t in for_each_task(prog)]
print(f"tasks: {len(comms)}:", " ".join(comms))
PYEOF
t=$(rg_now)
in_root "$w" "$vmlinux_dir" drgn -q -c /mnt/bridge.elf -s "$vmlinux" /mnt/tasks.py >"$w/drgn-bridge.txt" 2>&1 ||
  { cat "$w/drgn-bridge.txt"; fail "drgn -c bridge.elf failed"; }
cat "$w/drgn-bridge.txt"
grep -q "^linux_banner: Linux version $release " "$w/drgn-bridge.txt" || fail "drgn did not print the guest's linux_banner"
grep -Eq '^tasks: [0-9]+:.* kthreadd( |$)' "$w/drgn-bridge.txt" || fail "drgn's task list has no kthreadd"
grep -Eq '^tasks: [0-9]+:.* sh( |$)' "$w/drgn-bridge.txt" || fail "drgn's task list has no busybox sh"
ok "drgn $drgn_version opens bridge.elf: linux_banner and the task list ($(rg_since "$t")s)"
# drgn opens kdump files through libkdumpfile (Debian trixie's, which also reads the
# flattened format), which takes the architecture only from a header utsname with
# sysname, release, version and machine all set: the kernel's init_uts_ns, which the
# bridge reads through the kernel's page tables (backends/dump/kernel_utsname.h).
for name in kdump-zstd kdump-zlib-flattened; do
  t=$(rg_now)
  in_root "$w" "$vmlinux_dir" drgn -q -c "/mnt/$name.kdump" -s "$vmlinux" /mnt/tasks.py >"$w/drgn-$name.txt" 2>&1 ||
    { cat "$w/drgn-$name.txt"; fail "drgn -c $name.kdump failed"; }
  grep -q "^linux_banner: Linux version $release " "$w/drgn-$name.txt" || fail "drgn on $name.kdump: no linux_banner"
  cmp -s <(grep '^tasks:' "$w/drgn-bridge.txt") <(grep '^tasks:' "$w/drgn-$name.txt") ||
    fail "drgn's task list from $name.kdump differs from bridge.elf's"
  ok "drgn $drgn_version opens $name.kdump (libkdumpfile): linux_banner and the same task list ($(rg_since "$t")s)"
done
rc=0
in_root "$w" "$vmlinux_dir" drgn -q -c /mnt/qemu.elf -s "$vmlinux" /mnt/tasks.py >"$w/drgn-qemu.txt" 2>&1 || rc=$?
echo "drgn on QEMU's own file (exit $rc): $(grep -v '^$' "$w/drgn-qemu.txt" | tail -n 1)"
((rc != 0)) || echo "note: drgn $drgn_version opened QEMU's own ELF too (a newer drgn than the one issue 11 measured?)"
echo "PASS ($(rg_since "$t0")s)"
