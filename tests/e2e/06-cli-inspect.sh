#!/usr/bin/env bash
# End to end for `s390bridge read`, `translate`, `find`, `regs` and `info`: the real executable against
# the built-in demo guest (docs/demo-guest.md): every output form, partial reads, faults,
# exit codes (0 complete, 3 partial, 1 nothing, 2 usage) and the JSON checked with python3.
#
#   S390B_BUILD=build tests/e2e/06-cli-inspect.sh
#
# Exit 0 pass, 77 skipped (no python3), anything else fail. S390B_KEEP=1 keeps the work
# directory.
set -euo pipefail

# shellcheck source=tests/e2e/lib/cli-e2e.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/cli-e2e.sh"
cli_e2e_setup inspect

# run ARGS...: `s390bridge ARGS`; sets out (stdout, in $work/out), err, rc.
run() {
  rc=0
  "$bridge" "$@" >"$work/out" 2>"$work/stderr" || rc=$?
  out=$(<"$work/out")
  err=$(<"$work/stderr")
  last="$*"
}
want_rc() { [[ $rc == "$1" ]] || fail "$last: exit $rc, expected $1 (stdout: ${out:0:300}; stderr: $err)"; }
# json EXPR: stdout is one JSON object j for which the python expression holds.
json() {
  cli_e2e_json "$work/out" "$1" || fail "$last: '$1' does not hold for: ${out:0:400}"
  ok "$last: $1"
}

banner=0x10000000400 # demo::linux_banner_va (home space)
hole=0x10000010000   # demo::kernel_hole_va: invalid page after 64 KiB of kernel text
text=0x10000000000   # demo::kernel_text_va -> absolute 0x400000

echo "== read"
run read --demo --view home $banner 14 --raw
want_rc 0
[[ $out == "Linux version " ]] || fail "$last: raw bytes '$out'"
ok "$last"
run read --demo --view home $banner 5 --hex
want_rc 0
[[ $out == 4c696e7578 ]] || fail "$last: '$out'"
ok "$last"
run read --demo --view home $banner 32
want_rc 0
[[ $out == *"0x0000010000000400  4c 69 6e 75"*"|Linux version 6.|"* ]] || fail "$last: hexdump '$out'"
ok "$last (hexdump)"
run read --demo --view home $banner 16 --json
want_rc 0
json 'j["complete"] and j["read"] == 16 and j["data"] == h("Linux version 6.") and j["view"] == "home" and "error" not in j'
# The whole kernel text (64 KiB, one op) plus the hole: a partial read, the prefix kept.
run read --demo --view home $text 0x11000 --out "$work/text.bin"
want_rc 3
[[ $(stat -c %s "$work/text.bin") == 65536 ]] || fail "$last: wrote $(stat -c %s "$work/text.bin") bytes"
[[ $err == *"65536 of 69632 bytes; stopped at 0x10000010000: page translation"*"home space"* ]] || fail "$last: stderr $err"
ok "$last (partial: 64 KiB kept, the reason on stderr)"
run read --demo --view absolute 0x400000 0x10000 --out "$work/abs.bin"
want_rc 0
cmp -s "$work/text.bin" "$work/abs.bin" || fail "the kernel text through home differs from absolute 0x400000"
ok "home $text = absolute 0x400000 (64 KiB)"
run read --demo --view home $hole 16 --json
want_rc 1
json 'not j["complete"] and j["read"] == 0 and j["stopped_at"] == "0x10000010000" and j["error"]["pgm"] == 0x11 and j["error"]["space"] == "home"'
# A length over the op limit and over the piece size, through the identity map (above the
# prefix areas, which home 0-0x1fff and 0x20000-0x21fff swap).
run read --demo --view home 0x100000 0x300000 --out "$work/big.bin"
want_rc 0
run read --demo --view absolute 0x100000 0x300000 --out "$work/big-abs.bin"
cmp -s "$work/big.bin" "$work/big-abs.bin" || fail "3 MiB of the identity map differ from absolute"
ok "3 MiB read in pieces equals absolute"

echo "== translate"
run translate --demo --view home 0x20000000000 --json
want_rc 0
json 'j["result"] == "ok" and j["absolute"] == "0x1000000" and j["frame_size"] == 1 << 20 and [s["level"] for s in j["walk"]] == ["region-third", "segment"]'
run translate --demo --view home $banner
want_rc 0
[[ $out == *"=> absolute 0x0000000000400400"* ]] || fail "$last: $out"
ok "$last"
run translate --demo --view home $banner --write --json
want_rc 1
json 'j["result"] == "exception" and j["name"] == "protection" and j["access"] == "store"'
ok "the kernel text is DAT-protected for a store"
run translate --demo --view home $hole --json
want_rc 1
json 'j["result"] == "exception" and j["name"] == "page translation" and j["walk"][-1]["level"] == "page"'

echo "== find"
run find --demo --view home "Linux version" --all --json
want_rc 0
json '[m["address"] for m in j["matches"]] == ["0x400400", "0x10000000400", "0x30000400400"] and all(m["absolute"] == "0x400400" for m in j["matches"]) and j["complete"]'
run find --demo --cpu 1 --view primary --hex 75736572 --all
want_rc 0
[[ $out == *"0x0000000001000"*"absolute 0x00000000008"* ]] || fail "$last: $out"
ok "$last"
run find --demo --view home --u64 0x0000000000115007 --range 0x0-0xffffff --json
want_rc 0
json 'j["matches"][0]["absolute"] == "0x102000"'
run find --demo --view home "no such bytes"
want_rc 1
ok "$last (not found: exit 1)"

echo "== regs and info"
run regs --demo --all --json
want_rc 0
json 'len(j["cpus"]) == 2 and j["cpus"][0]["psw"]["space"] == "home" and j["cpus"][1]["psw"]["problem_state"] and j["cpus"][0]["prefix"] == "0x20000" and j["cpus"][1]["asce"]["primary"] == j["cpus"][1]["crs"][1] and len(j["cpus"][0]["gprs"]) == 16 and len(j["cpus"][0]["vrs"]) == 32'
run regs --demo --cpu 1
want_rc 0
[[ $out == *"cpu 1"*"r15   0x000003ffffffff00"*"PSW   0x0701000180000000 0x0000000001000040  DAT on, primary space"*"problem state"* ]] || fail "$last: $out"
ok "$last"
run info --demo --json
want_rc 0
json 'j["source"]["kind"] == "demo" and j["backend"]["op_limit"] == 65536 and not j["backend"]["run_control"] and j["memory"] == [{"start": "0x0", "size": "0x4000000"}] and [c["cpu"] for c in j["cpus"]] == [0, 1] and j["cpus"][0]["missing"] == ["guarded_storage"]'
run info --demo
want_rc 0
[[ $out == *"backend: emulated, op limit 65536 bytes, run control no"* ]] || fail "$last: $out"
ok "$last"

echo "== --version, --help with an example, cmake --install with the man page"
run --version
want_rc 0
[[ $out =~ ^s390bridge\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "--version: $out"
ok "$out"
for cmd in serve memop read translate find regs info; do
  run $cmd --help
  want_rc 0
  [[ $out == *"Example: s390bridge $cmd "* ]] || fail "$cmd --help shows no example"
done
ok "every command's --help shows an example"
if [[ -f $S390B_BUILD/cli/s390bridge.1 ]]; then
  cmake --install "$S390B_BUILD" --prefix "$work/inst" >/dev/null || fail "cmake --install failed"
  [[ -x $work/inst/bin/s390bridge ]] || fail "cmake --install: no bin/s390bridge"
  man_page=$(find "$work/inst" -name s390bridge.1 | head -1)
  [[ -n $man_page ]] || fail "cmake --install: no man page"
  grep -q 'Example: s390bridge find' "$man_page" || fail "the man page lacks the commands' help"
  ok "cmake --install puts bin/s390bridge and ${man_page#"$work/inst/"} in place"
else
  echo "note: no man page in this build (help2man missing); install not checked"
fi

echo "== examples/ inspection scripts"
export S390BRIDGE=$bridge
out=$(examples/vcpu-overview.py --demo --json) || fail "vcpu-overview.py: exit $?"
printf '%s\n' "$out" >"$work/out"
json 'j["cpus"][0]["space"] == "home" and j["cpus"][1]["state"] == "problem" and j["cpus"][1]["asce"]["primary"] == "0x11900b" and j["cpus"][0]["code"] is not None'
out=$(examples/find-in-process.py --demo 0x11900b user) || fail "find-in-process.py: exit $?"
[[ $out == *"2 match(es)"*"0x100000f (absolute 0x80000f): ...hello from the user process"*"region-second[0] -> region-third[0] -> segment[16] -> page[0]"* ]] ||
  fail "find-in-process.py: $out"
ok "find-in-process.py finds the user process's strings through its ASCE"

echo "== serve: a warning off loopback, an owner-only unix socket"
"$bridge" serve --demo --host 0.0.0.0 --port 0 >"$work/serve-out" 2>"$work/serve-err" &
serve_pid=$!
for _ in $(seq 50); do grep -q "listening on" "$work/serve-out" 2>/dev/null && break; sleep 0.1; done
kill "$serve_pid" 2>/dev/null || true
wait "$serve_pid" 2>/dev/null || true
grep -q "not a loopback address" "$work/serve-err" || fail "serve --host 0.0.0.0: no warning on stderr: $(<"$work/serve-err")"
grep -q -- "--unix PATH" "$work/serve-err" || fail "serve --host 0.0.0.0: the warning does not suggest --unix"
ok "serve --host 0.0.0.0 warns that RSP has no authentication and suggests --unix"
echo data >"$work/not-a-socket"
run serve --demo --unix "$work/not-a-socket"
[[ $rc != 0 && $err == *"regular file"* && $(<"$work/not-a-socket") == data ]] || fail "serve --unix over a file: rc $rc, $err"
ok "serve --unix refuses a regular file and leaves it alone"

echo "== bad input: a clear message, exit 2, nothing on stdout, nothing written"
for args in "read --demo 0x100 0" "read --demo 0xffffffffffffffff 2" "read --demo 0x10000000000000000 1" \
  "read --demo --view sideways 0 1" "read --demo --cpu 9 0 1" "read --demo 0 4 --hex --json" \
  "translate --demo --view 'asce' 0" "read --core /dev/zero 0 1" "read 0 1" "regs --demo --cpu 2" \
  "regs --demo --all --cpu 0" "info --core /nonexistent" "regs --demo --frobnicate" \
  "find --demo --range 0x10-0x12 abcd" "find --demo --hex abc" "find --demo" "find --demo --u64 1 abc" \
  "find --demo --range 0x20-0x10 a"; do
  if [[ $args == read* ]]; then args+=" --out $work/never.bin"; fi
  eval "run $args" 2>/dev/null || true
  want_rc 2
  [[ -z $out ]] || fail "$last: printed '$out'"
  [[ -n $err ]] || fail "$last: no message"
  [[ ! -e $work/never.bin ]] || fail "$last: wrote the output file"
  ok "$last -> ${err%%$'\n'*}"
done
echo "PASS: s390bridge read, translate, find, regs and info end to end"
