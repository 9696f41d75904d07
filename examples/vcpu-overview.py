#!/usr/bin/env python3
"""Every vCPU of a guest at a glance: its PSW, the address space it runs in, its ASCEs,
and the first instruction bytes at its PSW address, read through that vCPU's own view.

Uses only `s390bridge regs --json` and `s390bridge read --json` (docs/json.md), so it
works on any guest source the tool opens:

    examples/vcpu-overview.py --demo
    examples/vcpu-overview.py --core guest.elf
    S390BRIDGE=build/cli/s390bridge examples/vcpu-overview.py --core guest.elf --json

Arguments are passed to s390bridge as the guest source (--demo, --core FILE [--skeys
FILE]); --json prints one JSON object instead of the table. Exit status: 0, or the
s390bridge exit status when the guest cannot be opened.
"""
import json
import os
import subprocess
import sys

BRIDGE = os.environ.get("S390BRIDGE", "s390bridge")
INSTRUCTION_BYTES = 12  # up to two long instructions


def bridge(*args):
    """Runs s390bridge ARGS --json; returns (exit status, parsed JSON or None, stderr)."""
    p = subprocess.run([BRIDGE, *args, "--json"], capture_output=True, text=True)
    out = json.loads(p.stdout) if p.stdout.strip() else None
    return p.returncode, out, p.stderr.strip()


def main(argv):
    as_json = "--json" in argv
    source = [a for a in argv if a != "--json"] or ["--demo"]
    rc, regs, err = bridge("regs", *source, "--all")
    if rc != 0 or regs is None:
        print(f"vcpu-overview: {err}", file=sys.stderr)
        return rc or 1
    rows = []
    for cpu in regs["cpus"]:
        psw = cpu["psw"]
        # The cpu view is what this vCPU's PSW selects: DAT off -> real, else its space.
        rc, data, err = bridge("read", *source, "--cpu", str(cpu["cpu"]), "--view", "cpu",
                               psw["address"], str(INSTRUCTION_BYTES))
        row = {
            "cpu": cpu["cpu"],
            "psw": psw["address"],
            "state": "problem" if psw["problem_state"] else "supervisor",
            "space": psw["space"] if psw["dat"] else "real (DAT off)",
            "wait": psw["wait"],
            "asce": cpu.get("asce", {}),
            "prefix": cpu.get("prefix"),
            "code": data["data"] if data and data["read"] else None,
            "code_error": None if data and data["complete"] else (data or {}).get("error", {}).get("name", err),
        }
        rows.append(row)
    if as_json:
        print(json.dumps({"cpus": rows}))
        return 0
    for r in rows:
        asce = r["asce"]
        print(f"cpu {r['cpu']}: PSW {r['psw']}, {r['state']} state, {r['space']} space"
              f"{', wait' if r['wait'] else ''}, prefix {r['prefix']}")
        if asce:
            print(f"  ASCEs: primary {asce['primary']}, secondary {asce['secondary']}, home {asce['home']}")
        code = r["code"] or ""
        print(f"  code at PSW: {' '.join(code[i:i + 4] for i in range(0, len(code), 4)) or '-'}"
              f"{'  (' + r['code_error'] + ')' if r['code_error'] else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
