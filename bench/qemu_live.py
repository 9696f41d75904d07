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


def hello(c):
    """qSupported with multiprocess+: QEMU 7.2 keeps multiprocess thread ids (`p1.2`) once
    any client negotiated them, so both ends are asked for that form."""
    c.request(b"qSupported:multiprocess+")


def threads(c):
    """{tid: id as the stub spells it} from qfThreadInfo/qsThreadInfo."""
    ids, q = {}, b"qfThreadInfo"
    while True:
        r = c.request(q)
        if not r.startswith(b"m"):
            return ids
        for x in r[1:].split(b","):
            ids[int(x.split(b".")[-1], 16)] = x
        q = b"qsThreadInfo"


def select(c, tid):
    spelled = threads(c).get(tid)
    if spelled is None or c.request(b"Hg" + spelled) != b"OK":
        die(f"cannot select thread {tid} (threads: {threads(c)})")


def cmd_home_cpu(args):
    c = Rsp(int(args[0]))
    hello(c)
    for tid in sorted(threads(c)):
        select(c, tid)
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
    hello(c)
    select(c, cpu + 1)
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
    ranges = [(sec["addr"], sec["addr"] + sec["size"]) for sec in map(elf.section, (".text", ".rodata", ".data", ".bss"))
              if sec is not None]
    pool = sorted({v for _n, v, size, _t in syms if size >= 8 and any(lo <= v < hi for lo, hi in ranges)})
    if not pool:
        die("no symbols in the vmlinux")
    step = len(pool) / count  # evenly over all of them (a pool smaller than COUNT repeats)
    picked = [pool[int(i * step) % len(pool)] for i in range(count)]
    with open(out, "w") as f:
        f.write("".join(f"{a:x}\n" for a in picked))
    lo, hi = min(picked), max(picked)
    print(f"{stext:#x} {lo:#x} {hi:#x}")


# --------------------------------------------------------------------------- report

def cmd_report(args):
    """RESULTS lines: `KEY SECONDS` (one per run; latency keys in microseconds) and
    `info.NAME TEXT`. Figures are the best run (the one least disturbed by the rest of the
    machine), with the median beside it; ratios are of the best runs, then of the medians."""
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

    def best(key):
        return min(runs[key]) if runs.get(key) else None

    def med(key):
        return statistics.median(runs[key]) if runs.get(key) else None

    mb = float(info.get("dump_bytes", 64 * MIB)) / 1e6

    def secs(key, digits=2):
        return f"{best(key):.{digits}f} s, {mb / best(key):.{1 if digits == 2 else 0}f} MB/s (median {med(key):.{digits}f} s)"

    def us(key):
        return f"{best(key):.1f} us/request (median {med(key):.1f})"

    def ratio(base, key, target, label=""):
        """How many times faster KEY is than BASE (time ratio), best and median."""
        r, rm = best(base) / best(key), med(base) / med(key)
        if target is None:
            return f"{label}{r:.2f}x (medians {rm:.2f}x)", "(for reference)"
        return f"{label}{r:.2f}x (medians {rm:.2f}x)", f">= {target}x: {'met' if r >= target else 'NOT met'}"

    rows, notes = [], []
    if all(runs.get(k) for k in ("dump.qemu", "dump.bridge_mem", "dump.bridge_phys")):
        rows += [
            ("GDB 13 `dump binary memory` 64 MiB: (a) QEMU's gdbstub", secs("dump.qemu"), "baseline", ""),
            ("(b) the bridge, `--qemu-mem` (shared RAM file)", secs("dump.bridge_mem"),
             *ratio("dump.qemu", "dump.bridge_mem", 1.3, "b/a ")),
            ("(c) the bridge, QEMU's physical-memory mode", secs("dump.bridge_phys"),
             *ratio("dump.qemu", "dump.bridge_phys", 0.8, "c/a ")),
        ]
    if all(runs.get(k) for k in ("dump.gdb16_qemu", "dump.gdb16_bridge_mem", "dump.gdb16_bridge_phys")):
        rows += [
            ("GDB 16 `dump binary memory` 64 MiB: (a) QEMU's gdbstub (hex `m`: it offers no binary-upload)",
             secs("dump.gdb16_qemu"), "baseline", ""),
            ("(b) the bridge, `--qemu-mem` (binary `x`)", secs("dump.gdb16_bridge_mem"),
             *ratio("dump.gdb16_qemu", "dump.gdb16_bridge_mem", 2.5, "b/a ")),
            ("(c) the bridge, QEMU's physical-memory mode (binary `x`)", secs("dump.gdb16_bridge_phys"),
             *ratio("dump.gdb16_qemu", "dump.gdb16_bridge_phys", None, "c/a ")),
        ]
        if runs.get("dump.bridge_mem"):
            notes.append("b/a (the bridge with `--qemu-mem` against QEMU's gdbstub): GDB 13 "
                         + ratio("dump.qemu", "dump.bridge_mem", None)[0] + " (target 1.3x), GDB 16 "
                         + ratio("dump.gdb16_qemu", "dump.gdb16_bridge_mem", None)[0] + " (target 2.5x)")
            notes.append("GDB 16 against GDB 13 through the bridge: (b) "
                         + ratio("dump.bridge_mem", "dump.gdb16_bridge_mem", None)[0]
                         + ", (c) " + ratio("dump.bridge_phys", "dump.gdb16_bridge_phys", None)[0]
                         + " faster; through QEMU's stub (a) "
                         + ratio("dump.qemu", "dump.gdb16_qemu", None)[0])
    else:
        rows.append(("GDB 16 (binary `x`) dumps", "not measured", "", info.get("gdb16_skip", "no GDB 16 figures")))
    if runs.get("latency.qemu") and runs.get("latency.bridge_mem"):
        rows += [
            (f"{info.get('latency_count', '?')} x `m ADDR,8`, raw client, ack mode: QEMU's gdbstub", us("latency.qemu"),
             "baseline", ""),
            ("the same through the bridge (`--qemu-mem`)", us("latency.bridge_mem"),
             *ratio("latency.qemu", "latency.bridge_mem", 1)),
        ]
    if runs.get("save.memsave") and runs.get("save.bridge_read"):
        rows += [
            ("QMP `memsave` 64 MiB (virtual, through the home-space vCPU)", secs("save.memsave", 3), "baseline", ""),
            ("`s390bridge read --qemu-mem --view home` 64 MiB `--out FILE` (whole process)", secs("save.bridge_read", 3),
             *ratio("save.memsave", "save.bridge_read", 3)),
        ]
    if runs.get("save.bridge_read_null") and runs.get("save.memsave_null"):
        rows.append(("the same two to /dev/null (no file written): memsave; s390bridge read",
                     f"{best('save.memsave_null') * 1e3:.0f} ms; {best('save.bridge_read_null') * 1e3:.0f} ms "
                     f"(medians {med('save.memsave_null') * 1e3:.0f}; {med('save.bridge_read_null') * 1e3:.0f})",
                     *ratio("save.memsave_null", "save.bridge_read_null", None)))
    if runs.get("save.bridge_read_8"):
        notes.append(f"a read of 8 bytes (process start, attach to QEMU's stub, resume): "
                     f"{best('save.bridge_read_8') * 1e3:.0f} ms (median {med('save.bridge_read_8') * 1e3:.0f})")

    print()
    print(f"bench/qemu-live, {info.get('when', '')}: {info.get('guest', '?')}")
    print(f"bridge: {info.get('bridge', '?')}")
    if info.get("gdb16"):
        print(f"GDB 16: {info['gdb16']}")
    print(f"dump range {info.get('range', '?')} through vCPU {info.get('cpu', '?')} (home space); best of "
          f"{info.get('rounds', '?')} runs, medians beside; load average before/after: {info.get('load_before', '?')} / "
          f"{info.get('load_after', '?')}; the 64 MiB files written to {info.get('outdir', '?')}")
    print()
    print("| what | figure | ratio (times faster than the baseline) | target |")
    print("| ---- | ------ | ----- | ------ |")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    for n in notes:
        print(f"  {n}")
    print()
    print("every run (seconds; latency in us):")
    for key in sorted(runs):
        print(f"  {key:<22} " + " ".join(f"{x:.4g}" for x in runs[key]))


COMMANDS = {"plan": cmd_plan, "home-cpu": cmd_home_cpu, "latency": cmd_latency, "memsave": cmd_memsave,
            "status": cmd_status, "stop": cmd_stop, "report": cmd_report}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die("usage: qemu_live.py " + "|".join(COMMANDS) + " ARGS...  (see the docstring)", 2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except (OSError, RuntimeError) as e:
        die(f"{sys.argv[1]}: {e}")
