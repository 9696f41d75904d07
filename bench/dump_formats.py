#!/usr/bin/env python3
"""Helpers for bench/dump-formats (standard library only).

  make-elf OUT SIZE_MIB STRIDE_MIB     a sparse s390x ELF core (ELF64 big-endian, ET_CORE,
                                       EM_S390): one PT_NOTE with one NT_PRSTATUS, one
                                       PT_LOAD of SIZE_MIB at absolute 0 (file offset 4096),
                                       the file made with truncate; 1 MiB of semi-compressible
                                       data at absolute k*STRIDE_MIB + 1 MiB, the rest holes
  run ROUNDS KEY RESULTS [--rm FILE] -- CMD...
                                       runs CMD ROUNDS times as a whole process (fork to exit,
                                       os.wait4: the child's own peak RSS), removing FILE
                                       before each run; appends `KEY SECONDS RSS_KIB` lines
                                       to RESULTS; exit 1 when CMD fails
  report RESULTS                       the figures table (lines `KEY SECONDS RSS_KIB` and
                                       `info.NAME TEXT`)
"""

import os
import statistics
import struct
import subprocess
import sys
import time

MIB = 1 << 20
PAGE = 4096

# ELF (System V gABI; the s390x psABI for EM_S390) and the Linux core note layout.
ET_CORE, EM_S390, EV_CURRENT = 4, 22, 1
ELFCLASS64, ELFDATA2MSB = 2, 2
PT_LOAD, PT_NOTE = 1, 4
PF_R, PF_W, PF_X = 4, 2, 1
NT_PRSTATUS = 1
EHDR_SIZE, PHDR_SIZE = 64, 56
# struct elf_prstatus on s390x (336 bytes): pr_pid at 32, then pr_reg (s390_regs): the PSW
# mask and address at 112 and 120, 16 GPRs at 128, 16 access registers (u32) at 256, then
# orig_gpr2 at 320.
PRSTATUS_SIZE = 336
PRSTATUS_PID, PSW_MASK, PSW_ADDR, GPRS, ACRS, ORIG_GPR2 = 32, 112, 120, 128, 256, 320
DATA_OFFSET = PAGE  # the PT_LOAD's data: 4 KiB-aligned, after the headers and the note


def die(msg, code=1):
    print(f"dump_formats.py: {msg}", file=sys.stderr)
    sys.exit(code)


def prstatus_note():
    desc = bytearray(PRSTATUS_SIZE)
    struct.pack_into(">I", desc, PRSTATUS_PID, 1)
    # 64-bit addressing, DAT off: the bridge's default view is then real storage.
    struct.pack_into(">QQ", desc, PSW_MASK, 0x0000000180000000, 0x10000)
    for i in range(16):
        struct.pack_into(">Q", desc, GPRS + 8 * i, 0x1000 * i)
    struct.pack_into(">Q", desc, ORIG_GPR2, 0)
    name = b"CORE\0"
    head = struct.pack(">III", len(name), len(desc), NT_PRSTATUS)
    pad = lambda b: b + b"\0" * (-len(b) % 4)  # noqa: E731
    return head + pad(name) + pad(bytes(desc))


def chunk(seed):
    """1 MiB that compresses to about half: per 4 KiB page, 2 KiB of random bytes and 2 KiB
    of text that differs from page to page."""
    rnd = os.urandom(MIB // 2)
    out = bytearray()
    for p in range(MIB // PAGE):
        text = (f"s390bridge bench chunk {seed} page {p} " * 64).encode()[:PAGE // 2]
        out += rnd[p * PAGE // 2:(p + 1) * PAGE // 2] + text
    return bytes(out)


def cmd_make_elf(args):
    out, size, stride = args[0], int(args[1]) * MIB, int(args[2]) * MIB
    note = prstatus_note()
    note_off = EHDR_SIZE + 2 * PHDR_SIZE
    assert note_off + len(note) <= DATA_OFFSET
    ehdr = struct.pack(">4sBBBBB7xHHIQQQIHHHHHH", b"\x7fELF", ELFCLASS64, ELFDATA2MSB, EV_CURRENT, 0, 0,
                       ET_CORE, EM_S390, EV_CURRENT, 0, EHDR_SIZE, 0, 0, EHDR_SIZE, PHDR_SIZE, 2, 0, 0, 0)
    ph_note = struct.pack(">IIQQQQQQ", PT_NOTE, 0, note_off, 0, 0, len(note), 0, 1)
    ph_load = struct.pack(">IIQQQQQQ", PT_LOAD, PF_R | PF_W | PF_X, DATA_OFFSET, 0, 0, size, size, PAGE)
    with open(out, "wb") as f:
        f.write(ehdr + ph_note + ph_load + note)
        f.truncate(DATA_OFFSET + size)  # sparse: holes read as zeros
        written = 0
        for k, at in enumerate(range(0, size, stride)):
            f.seek(DATA_OFFSET + at + MIB)
            f.write(chunk(k))
            written += MIB
    print(written // MIB)


def cmd_run(args):
    rounds, key, results = int(args[0]), args[1], args[2]
    args = args[3:]
    rm = None
    if args[:1] == ["--rm"]:
        rm, args = args[1], args[2:]
    if args[:1] != ["--"] or len(args) < 2:
        die("run: usage: run ROUNDS KEY RESULTS [--rm FILE] -- CMD...", 2)
    cmd = args[1:]
    with open(results, "a") as log:
        for _ in range(rounds):
            if rm and os.path.exists(rm):
                os.unlink(rm)
            t0 = time.perf_counter()
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            err = p.stderr.read()
            _, status, usage = os.wait4(p.pid, 0)
            took = time.perf_counter() - t0
            p.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            if p.returncode != 0:
                die(f"{' '.join(cmd)}: exit {p.returncode}: {err.decode(errors='replace').strip()[-400:]}")
            log.write(f"{key} {took:.6f} {usage.ru_maxrss}\n")
    if rm and os.path.exists(rm):
        os.unlink(rm)


# --------------------------------------------------------------------------- report

def cmd_report(args):
    runs, info = {}, {}
    for line in open(args[0]):
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        if parts[0].startswith("info."):
            info[parts[0][5:]] = parts[1].strip()
            continue
        secs, rss = parts[1].split()
        runs.setdefault(parts[0], []).append((float(secs), int(rss)))

    def best(k):
        return min(s for s, _ in runs[k])

    def med(k):
        return statistics.median(s for s, _ in runs[k])

    def rss(k):
        return max(r for _, r in runs[k]) / 1024  # MiB, the worst run

    def ms(k):
        return f"{best(k) * 1e3:.1f} ms (median {med(k) * 1e3:.1f})"

    def rate(k, nbytes):
        return f"{nbytes / best(k) / 1e6:.0f} MB/s ({best(k):.3f} s, median {med(k):.3f})"

    def verdict(ok):
        return "met" if ok else "NOT met"

    print()
    print(f"bench/dump-formats, {info.get('when', '')}; bridge {info.get('bridge', '?')}")
    print(f"files in {info.get('dir', '?')} (page cache warm); whole processes, fork to exit; best of the runs, "
          f"medians beside, peak RSS the largest of the runs; load average before/after: "
          f"{info.get('load_before', '?')} / {info.get('load_after', '?')}")
    print()
    print("1. open + first `read --core FILE 0x100000 64 --out /dev/null`; `read` of 64 MiB from 0")
    print()
    print("| dump | file (apparent / on disk; made by `dump --core` in) | open + first read | peak RSS "
          "| target (< 100 ms, < 64 MiB) | read 64 MiB |")
    print("| ---- | ---- | ---- | ---- | ---- | ---- |")
    for size in ("512", "2048"):
        for fmt in ("elf", "kdump-zstd", "kdump-zlib"):
            k = f"open.{size}.{fmt}"
            if k not in runs:
                continue
            ok = best(k) < 0.1 and rss(k) < 64
            seq = f"read64.{size}.{fmt}"
            made = f"; {best(f'convert.{size}.{fmt}'):.2f} s" if f"convert.{size}.{fmt}" in runs else ""
            print(f"| {size} MiB {fmt} | {info.get(f'file.{size}.{fmt}', '?')}{made} | {ms(k)} | {rss(k):.1f} MiB | "
                  f"{verdict(ok)} | {rate(seq, 64 * MIB) if seq in runs else '-'}, {rss(seq) if seq in runs else 0:.0f} MiB RSS |")
    for part, title in (("sparse", "the sparse 512 MiB ELF above"), ("real", "QEMU's ELF dump of the real guest")):
        base = f"dump.{part}.cp"
        if base not in runs:
            continue
        guest = float(info.get(f"guest_bytes.{part}", 512 * MIB))
        print()
        print(f"2. `dump --core` of {title} ({guest / MIB:.0f} MiB of guest memory), output in the same "
              f"directory; ratio = its time / the baseline's")
        print()
        print("| what | time | guest MB/s | peak RSS | output (apparent / on disk) | vs cp | vs cat |")
        print("| ---- | ---- | ---- | ---- | ---- | ---- | ---- |")
        for name in ("cp", "cat", "elf", "kdump-zstd", "kdump-zlib", "kdump-lzo", "kdump-snappy"):
            k = f"dump.{part}.{name}"
            if k not in runs:
                continue
            label = {"cp": "`cp SRC DST`", "cat": "`cat SRC > DST`"}.get(name, f"`dump --format {name}`")
            print(f"| {label} | {best(k):.3f} s (median {med(k):.3f}) | {guest / best(k) / 1e6:.0f} | "
                  f"{rss(k):.0f} MiB | {info.get(f'out.{part}.{name}', '?')} | "
                  f"{best(k) / best(base):.2f}x | {best(k) / best(f'dump.{part}.cat'):.2f}x |")
    if "kva.bridge_qemu" in runs:
        print()
        print(f"3. 64 MiB of kernel virtual memory from {info.get('kva', '?')} (Debian 6.1 guest: the direct map "
              f"is identity), kdump-zlib; bytes equal: {info.get('kva_same', '?')}")
        print()
        print("| what | time | MB/s | peak RSS |")
        print("| ---- | ---- | ---- | ---- |")
        rows = [("kva.bridge_qemu", "`s390bridge read --view home` from QEMU's kdump-zlib (whole process)"),
                ("kva.bridge_ours", "`s390bridge read --view home` from the bridge's kdump-zlib (whole process)"),
                ("kva.bridge_abs", "`s390bridge read --view absolute` from the bridge's kdump-zlib (whole process)"),
                ("kva.drgn_read", f"drgn {info.get('drgn', '?')} `prog.read` from the bridge's kdump-zlib "
                                  f"({info.get('drgn_mode', '?')}; the read alone)"),
                ("kva.drgn_whole", "drgn: the whole run (python, import, open, read)")]
        for k, label in rows:
            if k in runs:
                peak = f"{rss(k):.0f} MiB" if rss(k) else "-"
                print(f"| {label} | {ms(k)} | {64 * MIB / best(k) / 1e6:.0f} | {peak} |")
        if "kva.drgn_read" in runs:
            r = best("kva.drgn_read") / best("kva.bridge_qemu")
            print(f"  the bridge's whole process (`--view home`, QEMU's file) vs drgn's read alone: {r:.2f}x as fast "
                  f"(target >= 1x: {verdict(r >= 1)}); vs drgn's whole run: "
                  f"{best('kva.drgn_whole') / best('kva.bridge_qemu'):.2f}x")
            same = best("kva.drgn_read") / best("kva.bridge_ours")
            print(f"  the same file (the bridge's kdump-zlib): the bridge's whole process (`--view home`) vs drgn's "
                  f"read alone: {same:.2f}x (medians {med('kva.drgn_read') / med('kva.bridge_ours'):.2f}x)")
    elif info.get("real_skip"):
        print()
        print(f"2-3 on the real guest: not measured ({info['real_skip']})")
    print()
    print("every run (seconds, peak RSS KiB):")
    for k in runs:
        print(f"  {k:<28} " + " ".join(f"{s:.4f}/{r}" for s, r in runs[k]))


COMMANDS = {"make-elf": cmd_make_elf, "run": cmd_run, "report": cmd_report}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: dump_formats.py " + "|".join(COMMANDS) + " ARGS...  (see the docstring)", 2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except OSError as e:
        die(f"{sys.argv[1]}: {e}")
