#!/usr/bin/env python3
"""Helpers for bench/qemu-live (standard library only; real_guest.py's ELF and QMP code).

  plan VMLINUX CONSOLE_LOG COUNT OUT    check that the vmlinux is the running kernel (its
                                        _stext is the one /proc/kallsyms printed on the
                                        console), print _stext, and write COUNT kernel
                                        addresses (symbols spread over .text, .rodata,
                                        .data and .bss), one hex a line, into OUT
  home-cpu PORT                         over an RSP stub (QEMU's): the first vCPU whose PSW
                                        is in home space in supervisor state; prints its
                                        index (QEMU's thread id - 1) and its pswm
  latency PORT CPU ADDRS                one `m ADDR,8` per line of ADDRS, ack mode, thread
                                        CPU+1; prints "us=<per request> digest=<sha1 of
                                        every reply>" (the connection is closed without D:
                                        the guest stays stopped)
  memsave QMP_SOCKET CPU ADDR SIZE FILE QMP memsave (virtual addresses through vCPU CPU);
                                        prints the seconds it took
  status QMP_SOCKET                     prints running or paused
  stop QMP_SOCKET                       QMP stop; prints paused
  report RESULTS                        the figures table from bench/qemu-live's results
"""

import hashlib
import os
import socket
import statistics
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "e2e", "lib"))
import real_guest  # noqa: E402  (ElfFile, Qmp, parse_console)

PSW_ASC_HOME = 3
MIB = 1 << 20


def die(msg, code=1):
    print(f"qemu_live.py: {msg}", file=sys.stderr)
    sys.exit(code)


# --------------------------------------------------------------------------- a minimal RSP client

class Rsp:
    """Ack mode only: every packet is acknowledged with '+', every reply acked back."""

    def __init__(self, port, timeout=30.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def frame(payload):
        return b"$" + payload + b"#%02x" % (sum(payload) & 0xFF)

    def _packet(self):
        while True:
            start = self.buf.find(b"$")
            if start >= 0:
                end = self.buf.find(b"#", start)
                if end >= 0 and len(self.buf) >= end + 3:
                    payload = self.buf[start + 1:end]
                    if int(self.buf[end + 1:end + 3], 16) != sum(payload) & 0xFF:
                        raise RuntimeError(f"bad checksum on {payload[:40]!r}")
                    if b"-" in self.buf[:start]:
                        raise RuntimeError("the stub asked for a retransmission ('-')")
                    self.buf = self.buf[end + 3:]
                    self.s.sendall(b"+")
                    return payload
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("the stub closed the connection")
            self.buf += chunk

    def request(self, payload):
        """The reply's payload; console output ('O' packets of qRcmd) is skipped."""
        self.s.sendall(self.frame(payload))
        while True:
            reply = self._packet()
            if reply.startswith(b"O") and reply != b"OK":
                continue
            return reply

    def close(self):
        self.s.close()  # no D: QEMU's stub (and the bridge) leave the guest stopped


def threads(c):
    ids, q = [], b"qfThreadInfo"
    while True:
        r = c.request(q)
        if not r.startswith(b"m"):
            return ids
        ids += [int(x, 16) for x in r[1:].split(b",")]
        q = b"qsThreadInfo"


def cmd_home_cpu(args):
    c = Rsp(int(args[0]))
    c.request(b"qSupported")
    for tid in threads(c):
        if c.request(b"Hg%x" % tid) != b"OK":
            die(f"Hg{tid:x} refused")
        pswm = int(c.request(b"g")[:16], 16)
        asc, problem = (pswm >> 46) & 3, (pswm >> 48) & 1
        if asc == PSW_ASC_HOME and not problem:
            print(tid - 1, f"{pswm:016x}")
            c.close()
            return
    c.close()
    die("no vCPU is in home space in supervisor state", 3)


def cmd_latency(args):
    port, cpu, addrs = int(args[0]), int(args[1]), [int(l, 16) for l in open(args[2]) if l.strip()]
    c = Rsp(int(port))
    c.request(b"qSupported")
    if c.request(b"Hg%x" % (cpu + 1)) != b"OK":
        die(f"Hg{cpu + 1:x} refused")
    packets = [b"m%x,8" % a for a in addrs]
    digest = hashlib.sha1()
    req = c.request
    t0 = time.perf_counter()
    for p in packets:
        r = req(p)
        if len(r) != 16:
            die(f"{p.decode()}: reply {r[:40]!r}")
        digest.update(r)
    took = time.perf_counter() - t0
    c.close()
    print(f"us={took / len(packets) * 1e6:.2f} digest={digest.hexdigest()}")


# --------------------------------------------------------------------------- QMP

def qmp(path):
    q = real_guest.Qmp(path, 120)
    q.execute({"execute": "qmp_capabilities"})
    return q


def cmd_memsave(args):
    sock, cpu, addr, size, path = args[0], int(args[1]), int(args[2], 0), int(args[3], 0), args[4]
    q = qmp(sock)
    if q.execute({"execute": "query-status"}).get("running"):
        die("the guest runs: memsave would read a moving target")
    t0 = time.perf_counter()
    q.execute({"execute": "memsave", "arguments": {"val": addr, "size": size, "filename": path, "cpu-index": cpu}})
    print(f"{time.perf_counter() - t0:.4f}")


def cmd_status(args):
    print("running" if qmp(args[0]).execute({"execute": "query-status"}).get("running") else "paused")


def cmd_stop(args):
    q = qmp(args[0])
    q.execute({"execute": "stop"})
    print("running" if q.execute({"execute": "query-status"}).get("running") else "paused")


# --------------------------------------------------------------------------- addresses

def symbol(elf, wanted):
    """The value of a symbol of any type and size (ElfFile.symbols() lists sized objects
    and functions only; _stext is a sizeless label)."""
    symtab = next(s for s in elf.sections if s["type"] == 2)  # SHT_SYMTAB
    strtab = elf.sections[symtab["link"]]["offset"]
    key = wanted.encode() + b"\0"
    for i in range(symtab["size"] // 24):
        name, _info, _other, _shndx, value, _size = struct.unpack_from(">IBBHQQ", elf.m, symtab["offset"] + 24 * i)
        if elf.m[strtab + name:strtab + name + len(key)] == key:
            return value
    return None


def cmd_plan(args):
    elf = real_guest.ElfFile(args[0])
    console = real_guest.parse_console(args[1])
    count, out = int(args[2]), args[3]
    syms = list(elf.symbols())
    stext = symbol(elf, "_stext")
    if stext is None:
        die("no _stext in the vmlinux's symbol table")
    live = console["kallsyms"].get("_stext")
    if live is None:
        die("the console shows no _stext from /proc/kallsyms")
    if live != stext:
        die(f"the vmlinux is not the running kernel (its _stext {stext:#x}, kallsyms {live:#x}: KASLR?)")
    picked = []
    for name in (".text", ".rodata", ".data", ".bss"):
        sec = elf.section(name)
        if sec is None:
            continue
        vals = sorted({v for _n, v, size, _t in syms if sec["addr"] <= v < sec["addr"] + sec["size"] and size >= 8})
        step = max(1, len(vals) // (count // 4))
        picked += vals[::step][:count // 4]
    if not picked:
        die("no symbols in the vmlinux")
    while len(picked) < count:
        picked += picked[:count - len(picked)]
    with open(out, "w") as f:
        f.write("".join(f"{a:x}\n" for a in picked[:count]))
    lo, hi = min(picked), max(picked)
    print(f"{stext:#x} {lo:#x} {hi:#x}")


# --------------------------------------------------------------------------- report

def cmd_report(args):
    """RESULTS lines: `KEY VALUE` (several per key: one per run), and `info TEXT`."""
    runs, info = {}, {}
    for line in open(args[0]):
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        key, value = parts[0], parts[1].strip()
        if key.startswith("info."):
            info[key[5:]] = value
        else:
            runs.setdefault(key, []).append(float(value))

    def best(key):  # the fastest run: least disturbed by the rest of the machine
        v = runs.get(key)
        return min(v) if v else None

    def spread(key):
        v = runs.get(key, [])
        return "/".join(f"{x:.3g}" for x in v)

    size_mb = float(info.get("dump_bytes", 64 * MIB)) / 1e6
    ta, tb, tc = best("dump.qemu"), best("dump.bridge_mem"), best("dump.bridge_phys")
    la, lb = best("latency.qemu"), best("latency.bridge_mem")
    tm, tr = best("save.memsave"), best("save.bridge_read")

    def verdict(ok):
        return "met" if ok else "NOT met"

    rows = []
    if ta and tb and tc:
        rows += [
            ("GDB 13 `dump binary memory` 64 MiB, (a) QEMU's gdbstub", f"{ta:.2f} s, {size_mb / ta:.1f} MB/s", "baseline", ""),
            ("(b) bridge, `--qemu-mem` (shared RAM file)", f"{tb:.2f} s, {size_mb / tb:.1f} MB/s",
             f"b/a {ta / tb:.2f}x", f">= 1.3x: {verdict(ta / tb >= 1.3)}"),
            ("(c) bridge, QEMU physical-memory mode", f"{tc:.2f} s, {size_mb / tc:.1f} MB/s",
             f"c/a {ta / tc:.2f}x", f">= 0.8x (within 20%): {verdict(ta / tc >= 0.8)}"),
        ]
    rows.append(("GDB 16 (binary `x`) dumps", "not measured", "", "no Debian trixie GDB 16 on this machine"))
    if la and lb:
        rows += [
            (f"{info.get('latency_count', '?')} x `m ADDR,8` (ack mode), QEMU's gdbstub", f"{la:.1f} us/request", "baseline", ""),
            ("same through the bridge (`--qemu-mem`)", f"{lb:.1f} us/request", f"{la / lb:.2f}x",
             f">= 1x: {verdict(la / lb >= 1.0)}"),
        ]
    if tm and tr:
        rows += [
            ("QMP `memsave` 64 MiB (virtual, home-space vCPU)", f"{tm:.3f} s, {size_mb / tm:.0f} MB/s", "baseline", ""),
            ("`s390bridge read --qemu-mem --view home` 64 MiB --out FILE (whole process)", f"{tr:.3f} s, {size_mb / tr:.0f} MB/s",
             f"{tm / tr:.2f}x", f">= 3x: {verdict(tm / tr >= 3)}"),
        ]

    print()
    print(f"bench/qemu-live: {info.get('guest', '?')}; {info.get('when', '')}")
    print(f"range: {info.get('range', '?')} on vCPU {info.get('cpu', '?')} (home space); best of "
          f"{info.get('rounds', '?')} runs; load average before/after: {info.get('load_before', '?')} / "
          f"{info.get('load_after', '?')}")
    print()
    print("| what | figure | ratio | target |")
    print("| ---- | ------ | ----- | ------ |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print("every run (seconds; latency in us):")
    for key in sorted(runs):
        print(f"  {key:<18} {spread(key)}   median {statistics.median(runs[key]):.4g}")


COMMANDS = {"plan": cmd_plan, "home-cpu": cmd_home_cpu, "latency": cmd_latency, "memsave": cmd_memsave,
            "status": cmd_status, "stop": cmd_stop, "report": cmd_report}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: qemu_live.py " + "|".join(COMMANDS) + " ARGS...  (see the docstring)", 2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except (OSError, RuntimeError) as e:
        die(f"{sys.argv[1]}: {e}")
