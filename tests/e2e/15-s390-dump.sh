#!/usr/bin/env bash
# End to end for the s390 stand-alone dump format: `s390bridge dump --format s390` writes
# the demo guest, an independent Python reader (lib/s390dump.py, written from the format
# description) reads the file back, and its header, registers (the store-status save
# areas of lc_vec's prefixes) and memory are compared with what `s390bridge regs --demo
# --all --json` and `s390bridge read --demo` say; then the bridge opens the file itself
# (`info`, `regs`, `read --core`) and must agree with the Python reader.
#
#   S390B_BUILD=build tests/e2e/15-s390-dump.sh
#
# Exit 0 pass, 77 skipped (no python3, or `dump --format` does not offer s390 in this
# build), anything else fail. S390B_KEEP=1 keeps the work directory.
set -euo pipefail

here=$(dirname "${BASH_SOURCE[0]}")
# shellcheck source=tests/e2e/lib/cli-e2e.sh
source "$here/lib/cli-e2e.sh"
cli_e2e_setup s390dump
py() { python3 "$here/lib/s390dump.py" "$@"; }

# The writer exists (backends/dump/s390_writer.h); whether `dump` offers it is the CLI's.
if ! "$bridge" dump --help | grep -E '^ *--format' | grep -qw s390; then
  echo "SKIP: 's390bridge dump --help' does not list --format s390 in this build"
  exit 77
fi

dump=$work/demo.s390
"$bridge" dump --demo --out "$dump" --format s390 >"$work/dump.out" 2>"$work/dump.err" ||
  fail "dump --format s390: $(cat "$work/dump.err")"
ok "dump --demo --format s390"

py header "$dump" >"$work/header.json"
cli_e2e_json "$work/header.json" \
  'j["version"] == 5 and j["hdr_size"] == 0x1000 and j["dump_level"] == 4 and j["page_size"] == 4096 and j["arch"] == 2 and j["mem_size"] == 64 << 20 and j["num_pages"] == (64 << 20) // 4096 and j["mem_end"] == j["mem_size"] and j["lc_vec"] == [0x20000, 0x22000] and j["end_tod"] is not None and j["end_tod"] >= j["tod"]' ||
  fail "header: $(cat "$work/header.json")"
ok "header fields (Python reader)"

# Registers: the save-area groups of each CPU equal the source's; CKC bits 56-63 are not
# kept by a save area (it holds CKC >> 8).
"$bridge" regs --demo --all --json >"$work/bridge-regs.json"
py regs "$dump" >"$work/py-regs.json"
compare_regs() {
  python3 - "$1" "$2" <<'PY' || fail "registers differ ($1 vs $2)"
import json, sys
a = json.load(open(sys.argv[1]))["cpus"]
b = json.load(open(sys.argv[2]))["cpus"]
assert len(a) == len(b), (len(a), len(b))
for x, y in zip(a, b):
    for k in ("gprs", "acrs", "crs", "fprs", "fpc", "prefix", "cpu_timer", "tod_programmable"):
        assert x[k] == y[k], (x["cpu"], k, x[k], y[k])
    assert x["psw"]["mask"] == y["psw"]["mask"] and x["psw"]["address"] == y["psw"]["address"], x["cpu"]
    assert int(x["clock_comparator"], 16) & ~0xff == int(y["clock_comparator"], 16), (x["cpu"], "ckc")
PY
}
compare_regs "$work/bridge-regs.json" "$work/py-regs.json"
ok "registers of every CPU (demo vs Python reader of the dump)"

# Memory: ranges of the demo's storage, read by the bridge from the demo and by Python
# from the file (the save areas at prefix + 0x1200 hold registers now: left out here).
for range in 0x0:0x2000 0x20000:0x1200 0x21400:0xc00 0x400000:0x10000 0x800000:0x2000 0x3fff000:0x1000; do
  addr=${range%%:*} len=${range##*:}
  want=$("$bridge" read --demo --view absolute "$addr" "$len" --hex)
  got=$(py read "$dump" "$addr" "$len")
  [[ $want == "$got" ]] || fail "memory at $addr+$len differs"
done
ok "memory (demo vs Python reader of the dump)"

# The bridge reading its own file agrees with the Python reader, save areas included.
"$bridge" info --core "$dump" --json >"$work/info.json"
cli_e2e_json "$work/info.json" \
  'j["source"]["format"] == "s390 stand-alone dump (s390), 2 CPUs, complete" and j["cpus"][0]["registers_from"] == "store-status save area at absolute 0x21200" and j["cpus"][1]["registers_from"] == "store-status save area at absolute 0x23200"' ||
  fail "info --core: $(cat "$work/info.json")"
ok "info --core (format, registers from)"
"$bridge" regs --core "$dump" --all --json >"$work/core-regs.json"
compare_regs "$work/core-regs.json" "$work/py-regs.json"
ok "regs --core equals the Python reader"
for range in 0x21000:0x1000 0x23000:0x1000 0x3ff0000:0x10000; do
  addr=${range%%:*} len=${range##*:}
  [[ $("$bridge" read --core "$dump" --view absolute "$addr" "$len" --hex) == "$(py read "$dump" "$addr" "$len")" ]] ||
    fail "read --core at $addr+$len differs from the Python reader"
done
ok "read --core equals the Python reader"
