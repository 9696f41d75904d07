#!/usr/bin/env python3
"""Find a string in one process's address space, given the ASCE of its page tables (on
Linux: the task's mm->context.asce, or the pgd with the ASCE bits), and show each match
in context with its absolute address and how the tables map it.

Uses `s390bridge find --json`, `read --json` and `translate --json` (docs/json.md):

    examples/find-in-process.py --demo 0x11900b user
    examples/find-in-process.py --core guest.elf 0x7f5a1c000007 'BUSYBOX_MARKER'

The first arguments up to the ASCE are the guest source (--demo, or --core FILE). Exit
status: 0 found, 1 not found, 2 bad arguments or guest source.
"""
import json
import os
import subprocess
import sys

BRIDGE = os.environ.get("S390BRIDGE", "s390bridge")
CONTEXT = 16  # bytes shown before and after a match


def bridge(*args):
    p = subprocess.run([BRIDGE, *args, "--json"], capture_output=True, text=True)
    return p.returncode, (json.loads(p.stdout) if p.stdout.strip() else None), p.stderr.strip()


def printable(hex_bytes):
    raw = bytes.fromhex(hex_bytes)
    return "".join(chr(b) if 0x20 <= b < 0x7f else "." for b in raw)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, asce, text = argv[:-2], argv[-2], argv[-1]
    view = f"asce {asce}"
    rc, found, err = bridge("find", *source, "--view", view, "--all", "--limit", "100", text)
    if found is None:
        print(f"find-in-process: {err}", file=sys.stderr)
        return rc
    print(f"{len(found['matches'])} match(es) of {text!r} in {view} "
          f"({found['scanned_bytes'] // 4096} mapped pages read)")
    for m in found["matches"]:
        address = int(m["address"], 16)
        start = max(address - CONTEXT, address & ~0xFFF)  # the page before may be unmapped
        _, ctx, _ = bridge("read", *source, "--view", view, hex(start), str(address - start + len(text) + CONTEXT))
        _, walk, _ = bridge("translate", *source, "--view", view, m["address"])
        levels = " -> ".join(f"{s['level']}[{s['index']}]" for s in walk.get("walk", []))
        shown = printable(ctx["data"]) if ctx else ""
        print(f"  {m['address']} (absolute {m['absolute']}): ...{shown}...")
        print(f"      via {levels}, {walk.get('frame_size', 4096)}-byte frame")
    return 0 if found["matches"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
