#!/usr/bin/env bash
# End to end for `s390bridge memop` (and info, regs, read, translate and find on a core):
# the real executable against the built-in demo guest
# and against an ELF core (with a dump-skeys file) written by a tiny generator below,
# every answer checked as JSON with python3; the core file must never change.
#
#   S390B_BUILD=build tests/e2e/05-cli-memop.sh
#
# Exit 0 pass, 77 skipped (no python3), anything else fail. S390B_KEEP=1 keeps the work
# directory.
set -euo pipefail

# shellcheck source=tests/e2e/lib/cli-e2e.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli-e2e.sh"
cli_e2e_setup memop

# run ARGS...: `s390bridge memop ARGS`; sets out (stdout), err (stderr), rc.
run() {
  rc=0
  out=$("$bridge" memop "$@" 2>"$work/stderr") || rc=$?
  err=$(<"$work/stderr")
  last="memop $*"
}
# expect RC EXPR: the last run exited with RC and printed one JSON object j for which the
# python expression EXPR holds (h(s) is the hex of an ASCII string).
expect() {
  local want_rc=$1 expr=$2
  [[ $rc == "$want_rc" ]] || fail "$last: exit $rc, expected $want_rc (stdout: ${out:0:300}; stderr: $err)"
  printf '%s\n' "$out" >"$work/out.json"
  cli_e2e_json "$work/out.json" "$expr" || fail "$last: '$2' does not hold for: ${out:0:300}"
  ok "$last"
}
# expect_usage FRAGMENT: the last run was refused with exit 2 and FRAGMENT on stderr.
expect_usage() {
  [[ $rc == 2 ]] || fail "$last: exit $rc, expected 2 (stdout: $out; stderr: $err)"
  [[ $err == *"$1"* ]] || fail "$last: stderr does not mention '$1': $err"
  [[ -z $out ]] || fail "$last: printed to stdout on a usage error: $out"
  ok "$last (refused: $1)"
}

echo "== demo guest"
banner=0x10000000400 # demo::linux_banner_va
hole=0x10000010000   # demo::kernel_hole_va
data=0x600000        # demo::kernel_data_va (identity-mapped, writable)
run --demo read $banner 16 --json
expect 0 'j == {"result": "ok", "data": h("Linux version 6.")}'
run --demo read 1099511628800 16 --json # the same address in decimal
expect 0 'j["data"] == h("Linux version 6.")'
run --demo read $banner 5
[[ $rc == 0 && $out == "ok $(printf Linux | od -An -tx1 | tr -d ' \n')" ]] || fail "text output: $out"
ok "text output"
run --demo read 0x1000000 5 --cpu 1 --json # cpu 1: the user process's primary space
expect 0 'j["data"] == h("hello")'
run --demo read $hole 8 --json
expect 1 'j["result"] == "exception" and j["pgm"] == 0x11 and j["name"] == "page translation" and int(j["teid"], 16) & ~0xfff == 0x10000010000'
run --demo write $banner --data 00 --json
expect 1 'j["result"] == "exception" and j["pgm"] == 4'
run --demo read $banner 16 --ar 17 --json
expect 1 'j == {"result": "error", "errno": "EINVAL"}'
run --demo read $banner 0 --json
expect 1 'j == {"result": "error", "errno": "EINVAL"}'
run --demo read $banner 65537 --json
expect 1 'j == {"result": "error", "errno": "E2BIG"}'
run --demo read $data 65536 --json
expect 0 'len(j["data"]) == 2 * 65536'
run --demo read $banner 16 --check-only --json
expect 0 'j == {"result": "ok"}'
run --demo read $hole 16 --check-only --inject --json
expect 1 'j["pgm"] == 0x11'
run --demo write $data --data 48656c6c6f --json
expect 0 'j == {"result": "ok"}'
run --demo read 0x500000 16 --key 1 --json # demo::fetch_protected_abs, key 0x38
expect 1 'j["pgm"] == 4 and int(j["teid"], 16) & 0x8'
run --demo read 0x500000 15 --key 3 --json
expect 0 'j["data"] == h("fetch-protected")'
run --demo read 0x500000 15 --key 16 --json
expect 1 'j["errno"] == "EINVAL"'
run --demo abs-read 0x100 16 --json # demo::absolute_zero_string
expect 0 'j["data"] == h("absolute page 0:")'
run --demo abs-write 0x3000000 --data cafe --json
expect 0 'j == {"result": "ok"}'
run --demo cmpxchg 0x3000000 --data 1111 --old 0000 --json
expect 0 'j == {"result": "ok", "exchanged": True, "old": "0000"}'
run --demo cmpxchg $data --data 1111 --old 0000 --json # demo data page holds text
expect 0 'j["exchanged"] is False and j["old"] == h("ke")'
run --demo cmpxchg 0x3000001 --data 1111 --old 0000 --json
expect 1 'j["errno"] == "EINVAL"'
run --demo read zz 8 --json
expect_usage "bad address 'zz'"
run --demo read $banner xyz
expect_usage "bad size"
run --demo write $data --data abc
expect_usage "--data"
run --demo peek $data 8
expect_usage "unknown op"
run --demo read $data 8 --cpu 7
expect_usage "out of range"
# shellcheck disable=SC2162 # `read` is the memop op here, not the shell builtin
run read "$data" 8
expect_usage "no guest"

echo "== ELF core"
core=$work/guest.core
skeys=$work/guest.skeys
# A tiny s390x ELF core as QEMU's dump-guest-memory writes it: two CPUs (NT_PRSTATUS,
# NT_S390_PREFIX, NT_S390_CTRS), DAT off, 64-bit; one PT_LOAD of 64 KiB at absolute 0.
# Usage: gen.py OUT [--no-cpus]
cat >"$work/gen.py" <<'EOF'
import struct, sys
out, no_cpus = sys.argv[1], "--no-cpus" in sys.argv
mem = bytearray(0x10000)
def put(addr, text): mem[addr:addr + len(text) + 1] = text.encode() + b"\0"
put(0x200, "absolute page 0")
put(0x4200, "lowcore of cpu 0")   # prefix 0x4000
put(0x6200, "lowcore of cpu 1")   # prefix 0x6000
put(0x8000, "core data page, key 0x38")
def note(name, ntype, desc):
    n = name.encode() + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack(">III", len(n), len(desc), ntype) + pad(n) + pad(desc)
notes = b""
if not no_cpus:
    for cpu, prefix in ((0, 0x4000), (1, 0x6000)):
        pr = bytearray(336)
        struct.pack_into(">I", pr, 32, cpu + 1)                               # pr_pid
        struct.pack_into(">QQ", pr, 112, 0x0000000180000000, 0x10000 + cpu)  # PSW: 64-bit, DAT off
        for r in range(16): struct.pack_into(">Q", pr, 128 + 8 * r, 0x100 * cpu + r)
        notes += note("CORE", 1, bytes(pr))                                   # NT_PRSTATUS
        notes += note("LINUX", 0x305, struct.pack(">I", prefix))              # NT_S390_PREFIX
        notes += note("LINUX", 0x304, bytes(128))                             # NT_S390_CTRS
phnum = 2 if notes else 1
notes_off = 64 + 56 * phnum
data_off = notes_off + len(notes)
ehdr = b"\x7fELF" + bytes([2, 2, 1, 0]) + bytes(8)
ehdr += struct.pack(">HHIQQQIHHHHHH", 4, 22, 1, 0, 64, 0, 0, 64, 56, phnum, 0, 0, 0)
phdrs = b""
if notes:
    phdrs += struct.pack(">IIQQQQQQ", 4, 0, notes_off, 0, 0, len(notes), len(notes), 0)      # PT_NOTE
phdrs += struct.pack(">IIQQQQQQ", 1, 7, data_off, 0, 0, len(mem), len(mem), 0)              # PT_LOAD
with open(out, "wb") as f: f.write(ehdr + phdrs + notes + mem)
EOF
python3 "$work/gen.py" "$core"
# dump-skeys: frame 8 has ACC 3 and fetch protection.
for frame in $(seq 0 15); do
  key=0
  ((frame == 8)) && key=56
  printf 'page=%03x: key(%d) => ACC=%X, FP=%d, REF=%d, ch=%d, reserved=%d\n' "$frame" "$key" $((key >> 4)) \
    $((key & 8)) $((key & 4)) $((key & 2)) $((key & 1))
done >"$skeys"
sum_before=$(sha256sum "$core" | cut -d' ' -f1)

run --core "$core" read 0x200 16 --json # real 0x200 -> prefix 0x4000
expect 0 'j["data"] == h("lowcore of cpu 0")'
run --core "$core" read 0x200 16 --cpu 1 --json
expect 0 'j["data"] == h("lowcore of cpu 1")'
run --core "$core" read 0x4200 15 --json # real prefix area -> absolute 0
expect 0 'j["data"] == h("absolute page 0")'
run --core "$core" abs-read 0x200 15 --json
expect 0 'j["data"] == h("absolute page 0")'
run --core "$core" read 0xfff8 16 --json # runs off the end of the dump
expect 1 'j["pgm"] == 5'
run --core "$core" read 0x20000 8 --cpu 2 --json
expect_usage "out of range"
run --core "$core" write 0x8000 --data 58585858 --json
expect 0 'j == {"result": "ok"}'
run --core "$core" abs-write 0x0 --data ff --json
expect 0 'j == {"result": "ok"}'
run --core "$core" cmpxchg 0x200 --data 41424344 --old "$(printf 'abso' | od -An -tx1 | tr -d ' \n')" --json
expect 0 'j["exchanged"] is True'
run --core "$core" read 0x8000 4 --json # a new process: the file still holds the old bytes
expect 0 'j["data"] == h("core")'
run --core "$core" --skeys "$skeys" read 0x8000 4 --key 1 --json
expect 1 'j["pgm"] == 4 and int(j["teid"], 16) & 0x8'
run --core "$core" --skeys "$skeys" read 0x8000 4 --key 3 --json
expect 0 'j["data"] == h("core")'
run --core "$core" --skeys "$skeys" write 0x8000 --data 00 --key 5 --json
expect 1 'j["pgm"] == 4'
run --core "$core" --skeys "$skeys" read 0x7000 4 --key 5 --json # frame 7: key 0, not fetch-protected
expect 0 'j["result"] == "ok"'
[[ $(sha256sum "$core" | cut -d' ' -f1) == "$sum_before" ]] || fail "the core file changed"
ok "the core file is unchanged (sha256 $sum_before)"

run --demo --core "$core" read 0 8
expect_usage "exclude each other"
head -c 100 "$core" >"$work/short.core"
run --core "$work/short.core" read 0 8
expect_usage "offset"
python3 "$work/gen.py" "$work/nocpu.core" --no-cpus
run --core "$work/nocpu.core" read 0 8
expect_usage "no CPU notes"
# `info` and `regs` on the same core: what the notes hold and what they do not.
rc=0
out=$("$bridge" info --core "$core" --json 2>"$work/stderr") || rc=$?
err=$(<"$work/stderr")
last="info --core $core --json"
expect 0 'j["source"]["kind"] == "core" and j["source"]["segments"] == 1 and j["source"]["size"] > 0x10000 and j["memory"] == [{"start": "0x0", "size": "0x10000"}] and [c["prefix"] for c in j["cpus"]] == ["0x4000", "0x6000"] and "vrs" in j["cpus"][0]["missing"] and "crs" not in j["cpus"][0]["missing"]'
rc=0
out=$("$bridge" regs --core "$core" --cpu 1 --json 2>"$work/stderr") || rc=$?
err=$(<"$work/stderr")
last="regs --core $core --cpu 1 --json"
expect 0 'j["cpus"][0]["gprs"][15] == "0x10f" and j["cpus"][0]["psw"]["address"] == "0x10001" and not j["cpus"][0]["psw"]["dat"] and "vrs" not in j["cpus"][0]'

# read, translate and find on the same core: DAT off, so the cpu view is real storage with
# each CPU's prefix swap; a read off the end of the dump keeps what the dump holds.
rc=0
out=$("$bridge" read --core "$core" 0x200 16 --raw 2>"$work/stderr") || rc=$?
[[ $rc == 0 && $out == "lowcore of cpu 0" ]] || fail "read --core 0x200 (real, prefix 0x4000): rc $rc, '$out'"
ok "read --core CORE 0x200 16: CPU 0's lowcore through its prefix"
rc=0
out=$("$bridge" read --core "$core" --view absolute 0xfff0 0x20 --json 2>"$work/stderr") || rc=$?
err=$(<"$work/stderr")
last="read --core CORE --view absolute 0xfff0 0x20 --json"
[[ $rc == 3 && $err == *"16 of 32 bytes; stopped at 0x10000: addressing"* ]] || fail "$last: rc $rc, $err"
printf '%s\n' "$out" >"$work/out.json"
cli_e2e_json "$work/out.json" 'j["read"] == 16 and not j["complete"] and j["error"]["name"] == "addressing"' ||
  fail "$last: $out"
ok "$last: a partial read off the end of the dump (exit 3)"
rc=0
out=$("$bridge" translate --core "$core" --cpu 1 0x200 --json 2>"$work/stderr") || rc=$?
printf '%s\n' "$out" >"$work/out.json"
cli_e2e_json "$work/out.json" 'j["result"] == "ok" and j["absolute"] == "0x6200" and j["space"]["kind"] == "real"' ||
  fail "translate --core CORE --cpu 1 0x200: $out"
ok "translate --core CORE --cpu 1 0x200 -> 0x6200 (DAT off: real, CPU 1's prefix)"
rc=0
out=$("$bridge" find --core "$core" --view absolute "lowcore of cpu" --all --json 2>"$work/stderr") || rc=$?
printf '%s\n' "$out" >"$work/out.json"
cli_e2e_json "$work/out.json" '[m["address"] for m in j["matches"]] == ["0x4200", "0x6200"] and j["scanned_bytes"] == 0x10000' ||
  fail "find --core CORE --view absolute: $out"
ok "find --core CORE --view absolute 'lowcore of cpu' --all: both lowcores, the whole 64 KiB scanned"
[[ $(sha256sum "$core" | cut -d' ' -f1) == "$sum_before" ]] || fail "the core file changed"

printf 'page=000: key(999) => ACC=0, FP=0, REF=0, ch=0, reserved=0\n' >"$work/bad.skeys"
run --core "$core" --skeys "$work/bad.skeys" read 0 8
expect_usage "line 1"

echo "PASS: s390bridge memop end to end"
