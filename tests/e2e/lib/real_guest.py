#!/usr/bin/env python3
"""Helpers for tests/e2e/lib/real-guest.sh (standard library only).

Subcommands (each prints its result on stdout; diagnostics go to stderr):

  free-port                          a free TCP port on 127.0.0.1
  wait-listen PORT SECONDS [PID]     wait until something listens on 127.0.0.1:PORT
                                     (read from /proc/net/tcp: no connection is made);
                                     exit 1 on timeout, 2 if PID died first
  apt-sources                        sources.list lines for the host's Debian archive
  qmp SOCKET [--timeout S] CMD...    run QMP commands; CMD is a command name or a JSON
                                     object; dump-guest-memory is waited for
  console LOG                        JSON: what the guest's /init printed (kallsyms,
                                     /proc/version, /proc/kcore program headers)
  banner DUMP CONSOLE_JSON           JSON: linux_banner's absolute and kernel virtual
                                     address, found in the dump
  dump-regs DUMP                     JSON: per-CPU registers from the dump's ELF notes
  hmp-regs FILE                      JSON: per-CPU registers from HMP `info registers -a`
  gdb-regs FILE                      JSON: per-thread registers from gdb
                                     `thread apply all info all-registers`
  compare NAME_A A.json NAME_B B.json [--cc-lazy CPU,...]
                                     compare register sets; exit 1 on any difference
  walk DUMP CPU CR VA...             DAT walk of VAs through a CPU's control register
  live-addrs VMLINUX                 kernel addresses for a differential read (lines
                                     "ADDR LEN CLASS NAME"; see live_gdb.py s390b-read-set)
  live-compare NAME_A A.json NAME_B B.json
                                     two s390b-read-set results; exit 1 on any difference
  live-vs-elf READS.json VMLINUX [--strict] CLASS...
                                     bytes read vs the vmlinux file, per address class
"""

import json
import mmap
import os
import re
import socket
import struct
import sys
import time

CORE_REGS = ["pswm", "pswa"] + [f"r{i}" for i in range(16)]
OPTIONAL_REGS = [f"acr{i}" for i in range(16)] + [f"cr{i}" for i in range(16)] + ["prefix"]
PSW_CC_MASK = 0x0000300000000000  # PSW bits 18-19


def die(msg, code=1):
    print(f"real_guest.py: {msg}", file=sys.stderr)
    sys.exit(code)


# --------------------------------------------------------------------------- ports

def cmd_free_port(_args):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def listening(port):
    """True if a socket listens on 127.0.0.1:port or the wildcard address."""
    want = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if state != "0A":  # TCP_LISTEN
                        continue
                    if local in want or (name.endswith("6") and local.endswith(f":{port:04X}")):
                        return True
        except OSError:
            pass
    return False


def cmd_wait_listen(args):
    port, seconds = int(args[0]), float(args[1])
    pid = int(args[2]) if len(args) > 2 else None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if listening(port):
            return
        if pid is not None:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                die(f"process {pid} exited before listening on port {port}", 2)
        time.sleep(0.1)
    die(f"nothing listens on 127.0.0.1:{port} after {seconds:g} s")


# --------------------------------------------------------------------------- apt

def _deb822_stanzas(text):
    stanza = {}
    key = None
    for raw in text.splitlines() + [""]:
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if stanza:
                yield stanza
            stanza, key = {}, None
            continue
        if raw[0] in " \t" and key:
            stanza[key] += " " + raw.strip()
            continue
        if ":" in raw:
            key, value = raw.split(":", 1)
            key = key.strip().lower()
            stanza[key] = value.strip()


def _host_entries():
    """(uri, suite, components, options) of every enabled 'deb' entry on the host."""
    entries = []
    paths = []
    if os.path.exists("/etc/apt/sources.list"):
        paths.append("/etc/apt/sources.list")
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        paths += [os.path.join(d, n) for n in sorted(os.listdir(d))
                  if n.endswith(".list") or n.endswith(".sources")]
    for path in paths:
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        if path.endswith(".sources"):
            for st in _deb822_stanzas(text):
                if "deb" not in st.get("types", "").split():
                    continue
                if st.get("enabled", "yes").lower() == "no":
                    continue
                opts = {}
                if "signed-by" in st:
                    opts["signed-by"] = st["signed-by"].split()[0]
                if "architectures" in st:
                    opts["arch"] = st["architectures"].replace(" ", ",")
                for uri in st.get("uris", "").split():
                    for suite in st.get("suites", "").split():
                        entries.append((uri, suite, st.get("components", "").split(), opts))
        else:
            for line in text.splitlines():
                line = line.split("#", 1)[0].strip()
                m = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
                if not m:
                    continue
                opts = {}
                for o in (m.group(1) or "").split():
                    if "=" in o:
                        k, v = o.split("=", 1)
                        opts[k] = v
                entries.append((m.group(2), m.group(3), m.group(4).split(), opts))
    return entries


def cmd_apt_sources(_args):
    """Debian archive entries only (URI path .../debian or .../debian-security), those not
    restricted to other architectures; component main."""
    out = []
    for uri, suite, comps, opts in _host_entries():
        path = re.sub(r"^[a-z+]+://[^/]*", "", uri).rstrip("/")
        if not re.search(r"/debian(-security)?$", path):
            continue
        archs = opts.get("arch", "")
        if archs and "s390x" not in archs.split(","):
            continue
        if "main" not in comps:
            continue
        signed = f"[signed-by={opts['signed-by']}] " if "signed-by" in opts else ""
        line = f"deb {signed}{uri} {suite} main"
        if line not in out:
            out.append(line)
    if not out:
        codename = ""
        try:
            for line in open("/etc/os-release"):
                if line.startswith("VERSION_CODENAME="):
                    codename = line.split("=", 1)[1].strip().strip('"')
        except OSError:
            pass
        if not codename:
            die("cannot derive a Debian suite from /etc/apt or /etc/os-release")
        out.append(f"deb http://deb.debian.org/debian {codename} main")
    print("\n".join(out))


# --------------------------------------------------------------------------- QMP

class Qmp:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        greeting = self.read()
        if "QMP" not in greeting:
            die(f"unexpected QMP greeting {greeting}")
        self.events = []

    def read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                die("QMP socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def execute(self, cmd):
        self.sock.sendall(json.dumps(cmd).encode() + b"\n")
        while True:
            msg = self.read()
            if "event" in msg:
                self.events.append(msg)
                continue
            if "error" in msg:
                die(f"QMP {cmd.get('execute')}: {msg['error'].get('class')}: {msg['error'].get('desc')}")
            if "return" in msg:
                return msg["return"]


def cmd_qmp(args):
    timeout = 60.0
    if len(args) >= 3 and args[1] == "--timeout":
        timeout = float(args[2])
        args = [args[0]] + args[3:]
    path, cmds = args[0], args[1:]
    q = Qmp(path, timeout)
    q.execute({"execute": "qmp_capabilities"})
    for text in cmds:
        cmd = json.loads(text) if text.lstrip().startswith("{") else {"execute": text}
        ret = q.execute(cmd)
        if cmd.get("execute") == "dump-guest-memory":
            # Detached or not, wait until query-dump says it is over.
            deadline = time.monotonic() + timeout
            while True:
                st = q.execute({"execute": "query-dump"})
                if st.get("status") == "completed":
                    break
                if st.get("status") == "failed":
                    die(f"dump-guest-memory failed: {st}")
                if time.monotonic() > deadline:
                    die(f"dump-guest-memory not finished after {timeout:g} s: {st}")
                time.sleep(0.2)
            ret = st
        if isinstance(ret, str):
            sys.stdout.write(ret)
        else:
            print(json.dumps(ret))


# --------------------------------------------------------------------------- console

def parse_console(path):
    lines = [l.rstrip("\r\n").replace("\r", "")
             for l in open(path, encoding="utf-8", errors="replace")]
    res = {"kallsyms": {}, "proc_version": None, "kcore": None}

    def block(begin, end):
        try:
            i = lines.index(begin)
            j = lines.index(end, i)
        except ValueError:
            return None
        return lines[i + 1:j]

    syms = block("S390B-KALLSYMS-BEGIN", "S390B-KALLSYMS-END") or []
    for l in syms:
        m = re.match(r"^([0-9a-f]{8,16}) (\w) (\S+)$", l.strip())
        if m:
            res["kallsyms"][m.group(3)] = int(m.group(1), 16)
    for l in lines:
        if l.startswith("S390B-PROC-VERSION: "):
            res["proc_version"] = l[len("S390B-PROC-VERSION: "):]
    hexlines = block("S390B-KCORE-BEGIN", "S390B-KCORE-END")
    if hexlines:
        raw = bytes.fromhex("".join(l.strip() for l in hexlines if re.fullmatch(r"[0-9a-f]+", l.strip())))
        res["kcore"] = parse_kcore_header(raw)
    return res


def parse_kcore_header(raw):
    if raw[:4] != b"\x7fELF" or raw[5] != 2:
        return {"error": "not a big-endian ELF header"}
    phoff, = struct.unpack_from(">Q", raw, 32)
    phentsize, phnum = struct.unpack_from(">HH", raw, 54)
    loads = []
    for i in range(phnum):
        off = phoff + i * phentsize
        if off + 56 > len(raw):
            break
        p_type, _flags, _off, vaddr, paddr, filesz, memsz, _align = struct.unpack_from(">IIQQQQQQ", raw, off)
        if p_type == 1:
            loads.append({"vaddr": vaddr, "paddr": paddr, "size": memsz})
    return {"loads": loads}


def cmd_console(args):
    print(json.dumps(parse_console(args[0])))


# --------------------------------------------------------------------------- ELF dump

class ElfCore:
    def __init__(self, path):
        self.f = open(path, "rb")
        self.m = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)
        m = self.m
        if m[:4] != b"\x7fELF" or m[4] != 2 or m[5] != 2:
            die(f"{path}: not a 64-bit big-endian ELF")
        e_type, e_machine = struct.unpack_from(">HH", m, 16)
        if e_type != 4 or e_machine != 22:
            die(f"{path}: not an s390x ELF core (type {e_type}, machine {e_machine})")
        phoff, = struct.unpack_from(">Q", m, 32)
        phentsize, phnum = struct.unpack_from(">HH", m, 54)
        self.loads, self.notes = [], []
        for i in range(phnum):
            p_type, _fl, off, vaddr, paddr, filesz, memsz, _al = struct.unpack_from(">IIQQQQQQ", m, phoff + i * phentsize)
            if p_type == 1:
                self.loads.append((off, paddr, filesz))
            elif p_type == 4:
                self.notes += list(self._notes(off, filesz))

    def _notes(self, off, size):
        end = off + size
        while off + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from(">III", self.m, off)
            name = bytes(self.m[off + 12:off + 12 + namesz]).rstrip(b"\0").decode(errors="replace")
            doff = off + 12 + ((namesz + 3) & ~3)
            yield name, ntype, bytes(self.m[doff:doff + descsz])
            off = doff + ((descsz + 3) & ~3)

    def abs_of_offset(self, off):
        for foff, paddr, filesz in self.loads:
            if foff <= off < foff + filesz:
                return paddr + (off - foff)
        return None

    def cpus(self):
        cpus = []
        for name, ntype, desc in self.notes:
            if name == "CORE" and ntype == 1:  # NT_PRSTATUS starts a CPU
                regs = {}
                pswm, pswa = struct.unpack_from(">QQ", desc, 112)
                regs["pswm"], regs["pswa"] = pswm, pswa
                for i, v in enumerate(struct.unpack_from(">16Q", desc, 128)):
                    regs[f"r{i}"] = v
                for i, v in enumerate(struct.unpack_from(">16I", desc, 256)):
                    regs[f"acr{i}"] = v
                cpus.append(regs)
            elif cpus and name == "LINUX" and ntype == 0x304:  # NT_S390_CTRS
                for i, v in enumerate(struct.unpack_from(">16Q", desc, 0)):
                    cpus[-1][f"cr{i}"] = v
            elif cpus and name == "LINUX" and ntype == 0x305:  # NT_S390_PREFIX
                cpus[-1]["prefix"], = struct.unpack_from(">I", desc, 0)
        return cpus


def cmd_dump_regs(args):
    print(json.dumps(ElfCore(args[0]).cpus()))


def cmd_banner(args):
    """Finds linux_banner: the 'Linux version ...' string that equals /proc/version plus
    '\\n' and a NUL, at the lowest such address from _etext on. linux_banner is const, so
    it is in .rodata, which the s390 linker script puts right after the text (_etext);
    the other exact copies (pipe and page-cache pages, reused init memory) lie higher.
    kallsyms has no linux_banner (CONFIG_KALLSYMS_ALL is off in Debian's kernel), so its
    kernel virtual address comes from the kernel's own /proc/kcore program headers: the
    PT_LOAD whose physical range holds it, preferring the one whose virtual range also
    holds _text's kallsyms address (the kernel image mapping). On 6.1 that is the 1:1
    map (vaddr 0 = paddr 0); kernels that map the image elsewhere (6.6+) get their real
    image address the same way."""
    core = ElfCore(args[0])
    con = json.load(open(args[1]))
    version = con.get("proc_version")
    if not version:
        die("the console log has no S390B-PROC-VERSION line")
    want = (version + "\n").encode() + b"\0"
    text_kva = con["kallsyms"].get("_text") or con["kallsyms"].get("_stext")
    m = core.m
    occurrences = []
    pos = m.find(b"Linux version ")
    while pos != -1:
        a = core.abs_of_offset(pos)
        exact = bytes(m[pos:pos + len(want)]) == want
        occurrences.append({"abs": a, "exact": exact})
        pos = m.find(b"Linux version ", pos + 1)
    loads = (con.get("kcore") or {}).get("loads") or []

    def kva_of(a):
        holders = [l for l in loads if l["paddr"] != 0xFFFFFFFFFFFFFFFF
                   and l["paddr"] <= a < l["paddr"] + l["size"]]
        image = [l for l in holders if text_kva is not None and l["vaddr"] <= text_kva < l["vaddr"] + l["size"]]
        for l, via in [(x, "kcore kernel-image segment") for x in image] + [(x, "kcore segment") for x in holders]:
            return l["vaddr"] + (a - l["paddr"]), f"{via} vaddr {l['vaddr']:#x} paddr {l['paddr']:#x} size {l['size']:#x}"
        return None, "no /proc/kcore segment holds it"

    # The kernel image's absolute range: _text's absolute address via the same mapping.
    text_abs = None
    if text_kva is not None:
        for l in loads:
            if l["paddr"] != 0xFFFFFFFFFFFFFFFF and l["vaddr"] <= text_kva < l["vaddr"] + l["size"]:
                text_abs = l["paddr"] + (text_kva - l["vaddr"])
                break
    # _etext's absolute address, through the same mapping as _text.
    etext_kva = con["kallsyms"].get("_etext")
    low = text_abs
    if text_abs is not None and etext_kva is not None and text_kva is not None and etext_kva >= text_kva:
        low = text_abs + (etext_kva - text_kva)
    chosen = sorted(o["abs"] for o in occurrences if o["exact"] and o["abs"] is not None and
                    (low is None or low <= o["abs"] < low + (64 << 20)))
    if not chosen:
        die(f"no copy of the banner {want!r} in the kernel image; occurrences: {occurrences}")
    a = chosen[0]
    kva, via = kva_of(a)
    print(json.dumps({
        "abs": a, "abs_hex": f"{a:#x}",
        "kva": kva, "kva_hex": f"{kva:#x}" if kva is not None else None, "kva_via": via,
        "text_kva": text_kva, "text_abs": text_abs, "rodata_from_abs": low,
        "length": len(want) - 1,  # without the NUL
        "hex": want[:-1].hex(), "text": version,
        "occurrences": [{"abs": f"{o['abs']:#x}" if o["abs"] is not None else None, "exact": o["exact"]}
                        for o in occurrences],
    }))


# --------------------------------------------------------------------------- registers

def cmd_hmp_regs(args):
    """HMP `info registers -a`: per CPU pswm/pswa (CC recomputed), r0-r15, cr0-cr15, and
    whether the CC was still lazy (a cc_op name rather than a number after the PSW)."""
    cpus = []
    cur = None
    for line in open(args[0], encoding="utf-8", errors="replace"):
        line = line.strip()
        if re.match(r"^CPU#\d+", line):
            cur = {}
            cpus.append(cur)
            continue
        m = re.match(r"^PSW=mask ([0-9a-f]{16}) addr ([0-9a-f]{16})(?: cc\s+(\S+))?", line)
        if m:
            if cur is None:
                cur = {}
                cpus.append(cur)
            cur["pswm"], cur["pswa"] = int(m.group(1), 16), int(m.group(2), 16)
            cc = m.group(3)
            cur["cc_lazy"] = cc is not None and not re.fullmatch(r"[0-9a-f]{1,2}", cc)
            cur["cc_text"] = cc
            continue
        for name, idx, val in re.findall(r"\b([RC])(\d\d)=([0-9a-f]{16})\b", line):
            if cur is not None:
                cur[("r" if name == "R" else "cr") + str(int(idx, 10))] = int(val, 16)
    print(json.dumps(cpus))


def cmd_gdb_regs(args):
    """gdb `thread apply all info all-registers`: every register printed as NAME 0xHEX,
    grouped by thread and ordered by gdb thread number."""
    threads = {}
    cur = None
    for line in open(args[0], encoding="utf-8", errors="replace"):
        m = re.match(r"^Thread (\d+) \((.*)\)", line)
        if m:
            cur = {}
            threads[int(m.group(1))] = cur
            continue
        m = re.match(r"^(\w+)\s+(0x[0-9a-f]+)(\s|$)", line)
        if m and cur is not None:
            cur[m.group(1)] = int(m.group(2), 16)
    print(json.dumps([threads[k] for k in sorted(threads)]))


def cmd_compare(args):
    lazy = set()
    if "--cc-lazy" in args:
        i = args.index("--cc-lazy")
        lazy = {int(x) for x in args[i + 1].split(",") if x != ""}
        args = args[:i] + args[i + 2:]
    name_a, a, name_b, b = args[0], json.load(open(args[1])), args[2], json.load(open(args[3]))
    bad = 0
    if len(a) != len(b):
        print(f"CPU count differs: {name_a} {len(a)}, {name_b} {len(b)}")
        return 1
    for cpu, (ra, rb) in enumerate(zip(a, b)):
        compared, skipped = [], []
        for reg in CORE_REGS + OPTIONAL_REGS:
            if reg not in ra or reg not in rb:
                if reg in CORE_REGS:
                    print(f"cpu {cpu}: {reg} missing from {name_a if reg not in ra else name_b}")
                    bad += 1
                elif reg in ra or reg in rb:
                    skipped.append(reg)
                continue
            va, vb = ra[reg], rb[reg]
            note = ""
            if reg == "pswm" and va != vb and cpu in lazy and (va ^ vb) & ~PSW_CC_MASK == 0:
                note = " (differs only in the CC, which QEMU kept lazy: tolerated)"
            elif va != vb:
                print(f"cpu {cpu}: {reg} MISMATCH {name_a} {va:#018x} {name_b} {vb:#018x}")
                bad += 1
                continue
            if reg in ("pswm", "pswa"):
                print(f"cpu {cpu}: {reg} {va:#018x} {'~' if note else '='} {vb:#018x}{note}")
            compared.append(reg)
        print(f"cpu {cpu}: {len(compared)} registers equal ({', '.join(_ranges(compared))})"
              + (f"; only one side has: {', '.join(_ranges(skipped))}" if skipped else ""))
    if bad:
        print(f"{bad} register differences between {name_a} and {name_b}")
        sys.exit(1)


def _ranges(regs):
    """['r0', 'r1', ..., 'r15', 'cr0'] -> ['r0-r15', 'cr0']"""
    out, groups = [], {}
    for r in regs:
        m = re.fullmatch(r"([a-z]+?)(\d+)", r)
        if m and m.group(1) in ("r", "acr", "cr"):
            groups.setdefault(m.group(1), []).append(int(m.group(2)))
            if len(groups[m.group(1)]) == 1:
                out.append(("g", m.group(1)))
        else:
            out.append(("s", r))
    res = []
    for kind, v in out:
        if kind == "s":
            res.append(v)
        else:
            nums = groups[v]
            contiguous = nums == list(range(nums[0], nums[0] + len(nums)))
            res.append(f"{v}{nums[0]}-{v}{nums[-1]}" if contiguous and len(nums) > 1
                       else ",".join(f"{v}{n}" for n in nums))
    return res


# --------------------------------------------------------------------------- DAT walk
# An independent walker for the test: z/Architecture Principles of Operation, "Dynamic
# Address Translation" (ASCE, region, segment and page-table entries, EDAT-1 1 MiB and
# EDAT-2 2 GiB frames), written from the architecture, not from the bridge's code.

def _u64_abs(core, absolute):
    for off, paddr, filesz in core.loads:
        if paddr <= absolute and absolute + 8 <= paddr + filesz:
            return struct.unpack_from(">Q", core.m, off + absolute - paddr)[0]
    return None


def _real_to_abs(real, prefix):
    prefix &= 0x7FFFE000
    if real < 0x2000:
        return real + prefix
    if prefix <= real < prefix + 0x2000:
        return real - prefix
    return real


def walk(core, asce, va, prefix):
    """Returns (absolute, None) or (None, why)."""
    if asce & 0x20:  # R: real-space designation
        return _real_to_abs(va, prefix), None
    dt, tl = (asce >> 2) & 3, asce & 3
    origin = asce & ~0xFFF
    # (shift of the index, name) from the ASCE's level down; region-first is DT 3.
    levels = [(53, "region-first"), (42, "region-second"), (31, "region-third"), (20, "segment")][3 - dt:]
    top = {3: 64, 2: 53, 1: 42, 0: 31}[dt]  # the bits the ASCE's top table designates
    if top < 64 and va >> top:
        return None, "beyond the ASCE's range"
    length = tl  # the table length of the table at `origin`, in units of 512 entries
    for shift, name in levels:
        index = (va >> shift) & 0x7FF
        if index >> 9 > length:
            return None, f"{name} index past the table length"
        entry = _u64_abs(core, _real_to_abs(origin + 8 * index, prefix))
        if entry is None:
            return None, f"{name} entry outside the dump"
        if entry & 0x20:
            return None, f"{name} entry invalid"
        if name == "region-third" and entry & 0x400:  # FC: a 2 GiB frame (EDAT-2)
            return _real_to_abs((entry & ~0x7FFFFFFF) | (va & 0x7FFFFFFF), prefix), None
        if name == "segment":
            if entry & 0x400:  # FC: a 1 MiB frame (EDAT-1)
                return _real_to_abs((entry & ~0xFFFFF) | (va & 0xFFFFF), prefix), None
            pto = entry & ~0x7FF
            pte = _u64_abs(core, _real_to_abs(pto + 8 * ((va >> 12) & 0xFF), prefix))
            if pte is None:
                return None, "page-table entry outside the dump"
            if pte & 0x400:
                return None, "page entry invalid"
            return _real_to_abs((pte & ~0xFFF) | (va & 0xFFF), prefix), None
        origin, length = entry & ~0xFFF, entry & 3
    return None, "unreachable"


def cmd_walk(args):
    """walk DUMP CPU CR VA...: each VA through control register CR of CPU's notes, as JSON."""
    core = ElfCore(args[0])
    cpu = core.cpus()[int(args[1])]
    asce = cpu[f"cr{int(args[2])}"]
    out = []
    for va_text in args[3:]:
        absolute, why = walk(core, asce, int(va_text, 0), cpu.get("prefix", 0))
        out.append({"va": hex(int(va_text, 0)), "absolute": hex(absolute) if absolute is not None else None, "why": why})
    print(json.dumps({"asce": hex(asce), "walks": out}))


# --------------------------------------------------------------------------- live reads

class ElfFile:
    """Sections and symbols of a 64-bit big-endian ELF file (the vmlinux)."""

    def __init__(self, path):
        self.f = open(path, "rb")
        self.m = mmap.mmap(self.f.fileno(), 0, access=mmap.ACCESS_READ)
        m = self.m
        if m[:4] != b"\x7fELF" or m[4] != 2 or m[5] != 2:
            die(f"{path}: not a 64-bit big-endian ELF")
        shoff, = struct.unpack_from(">Q", m, 40)
        shentsize, shnum, shstrndx = struct.unpack_from(">HHH", m, 58)
        raw = [struct.unpack_from(">IIQQQQIIQQ", m, shoff + i * shentsize) for i in range(shnum)]
        names = raw[shstrndx][4]
        self.sections = []
        for (name, stype, _fl, addr, off, size, link, _info, _al, entsize) in raw:
            self.sections.append({"name": self._str(names, name), "type": stype, "addr": addr, "offset": off,
                                  "size": size, "link": link, "entsize": entsize})

    def _str(self, off, idx):
        end = self.m.find(b"\0", off + idx)
        return bytes(self.m[off + idx:end]).decode(errors="replace")

    def section(self, name):
        return next((s for s in self.sections if s["name"] == name), None)

    def section_of(self, addr):
        for s in self.sections:
            if s["addr"] and s["addr"] <= addr < s["addr"] + s["size"]:
                return s
        return None

    def symbols(self):
        """(name, value, size, type) of every FUNC (2) and OBJECT (1) symbol."""
        symtab = next(s for s in self.sections if s["type"] == 2)  # SHT_SYMTAB
        strtab = self.sections[symtab["link"]]["offset"]
        for i in range(symtab["size"] // 24):
            name, info, _other, _shndx, value, size = struct.unpack_from(">IBBHQQ", self.m, symtab["offset"] + 24 * i)
            if info & 0xF in (1, 2) and size:
                yield self._str(strtab, name), value, size, info & 0xF

    def file_bytes(self, addr, length):
        s = self.section_of(addr)
        if s is None or s["type"] == 8 or addr + length > s["addr"] + s["size"]:  # 8: SHT_NOBITS
            return None
        return bytes(self.m[s["offset"] + addr - s["addr"]:s["offset"] + addr - s["addr"] + length])


LIVE_CLASSES = [(".text", "text", 120), (".rodata", "rodata", 80), (".data..ro_after_init", "ro_after_init", 20),
                (".data", "data", 60), (".bss", "bss", 40)]


def cmd_live_addrs(args):
    """live-addrs VMLINUX: kernel virtual addresses for a differential read, one
    "ADDR LEN CLASS NAME" a line: symbols sampled evenly over the kernel's text, rodata,
    ro_after_init, data and bss (16 bytes each, or the symbol's size if smaller), the
    lowcore (real address 0: prefixed, so different on every CPU), the ends of RAM and
    addresses no view maps."""
    elf = ElfFile(args[0])
    out = []
    for secname, cls, count in LIVE_CLASSES:
        sec = elf.section(secname)
        if sec is None:
            continue
        syms = sorted({v: (n, v, sz) for n, v, sz, _t in elf.symbols()
                       if sec["addr"] <= v < sec["addr"] + sec["size"]}.values(), key=lambda x: x[1])
        step = max(1, len(syms) // count)
        for n, v, sz in syms[::step][:count]:
            out.append(f"{v:#x} {min(16, sz)} {cls} {n}")
    fixed = [(0x0, 64, "lowcore", "lowcore+0"), (0x340, 32, "lowcore", "lowcore+0x340"),
             (0x1000, 64, "lowcore", "lowcore+0x1000"), (0x2000, 16, "real", "above-lowcore"),
             (0x1FFFFFF0, 16, "ram", "last-16-bytes-of-ram"), (0x20000000, 16, "edge", "end-of-ram"),
             (0x3FFFFFFF000, 16, "edge", "user-range"), (0x7FFFFFFFFFFF0000, 16, "edge", "far")]
    out += [f"{a:#x} {n} {c} {name}" for a, n, c, name in fixed]
    print("\n".join(out))


def cmd_live_compare(args):
    """live-compare NAME_A A.json NAME_B B.json [--ref-kernel-thread] [--skip-class C]...:
    two s390b-read-set results, thread by thread and address by address (equal bytes, or
    both refused). --ref-kernel-thread: every thread of B against A's first thread in
    kernel mode (for B read in the home view). Exit 1 on any difference."""
    name_a, a, name_b, b = args[0], json.load(open(args[1])), args[2], json.load(open(args[3]))
    ref_kernel, skip = False, set()
    it = iter(args[4:])
    for x in it:
        if x == "--ref-kernel-thread":
            ref_kernel = True
        elif x == "--skip-class":
            skip.add(next(it))
        else:
            die(f"live-compare: unknown option {x}", 2)
    entries = a["entries"]
    if [e["addr"] for e in entries] != [e["addr"] for e in b["entries"]]:
        die(f"{name_a} and {name_b} read different address sets (the threads' r15 moved?)")
    if sorted(a["threads"]) != sorted(b["threads"]):
        die(f"{name_a} has threads {sorted(a['threads'])}, {name_b} {sorted(b['threads'])}")
    kernel_ref = next((t for t in sorted(a["threads"], key=int) if not a["threads"][t]["user"]), None)
    if ref_kernel and kernel_ref is None:
        die(f"{name_a} has no thread in kernel mode to compare with")
    bad = 0
    for t in sorted(a["threads"], key=int):
        ta = kernel_ref if ref_kernel else t
        pairs = [(e, x, y) for e, x, y in zip(entries, a["threads"][ta]["reads"], b["threads"][t]["reads"])
                 if e["class"] not in skip]
        same = sum(x == y for _e, x, y in pairs)
        refused = sum(x is None and y is None for _e, x, y in pairs)
        print(f"thread {t}{f' vs {name_a} thread {ta}' if ta != t else ''} "
              f"({'user' if a['threads'][ta]['user'] else 'kernel'} mode): {same} of {len(pairs)} "
              f"reads agree ({refused} refused by both)")
        for e, x, y in pairs:
            if x != y:
                bad += 1
                if bad <= 20:
                    print(f"  DIFF thread {t} {e['addr']} {e['len']} {e['class']} {e['name']}: "
                          f"{name_a} {x or 'refused'} / {name_b} {y or 'refused'}")
    if bad:
        print(f"{bad} reads differ")
        sys.exit(1)


def cmd_live_vs_elf(args):
    """live-vs-elf READS.json VMLINUX CLASS...: the bytes read (on kernel-mode threads) at
    the addresses of the given classes, against the vmlinux file. Prints one summary line
    per class; with --strict CLASS, exit 1 if any of that class differs."""
    reads, elf = json.load(open(args[0])), ElfFile(args[1])
    strict = set()
    classes = []
    it = iter(args[2:])
    for x in it:
        if x == "--strict":
            c = next(it)
            strict.add(c)
            classes.append(c)
        else:
            classes.append(x)
    bad = 0
    for cls in classes:
        same = diff = unread = 0
        first = None
        for t in reads["threads"].values():
            if t["user"]:
                continue
            for e, r in zip(reads["entries"], t["reads"]):
                if e["class"] != cls:
                    continue
                want = elf.file_bytes(int(e["addr"], 16), e["len"])
                if r is None or want is None:
                    unread += 1
                elif bytes.fromhex(r) == want:
                    same += 1
                else:
                    diff += 1
                    first = first or f"{e['name']} at {e['addr']}: live {r}, vmlinux {want.hex()}"
        print(f"{cls}: {same} reads equal the vmlinux file, {diff} differ, {unread} not compared"
              + (f" (first: {first})" if first else ""))
        if cls in strict and (diff or unread or not same):
            bad += 1
    if bad:
        sys.exit(1)


COMMANDS = {
    "free-port": cmd_free_port, "wait-listen": cmd_wait_listen, "apt-sources": cmd_apt_sources,
    "qmp": cmd_qmp, "console": cmd_console, "banner": cmd_banner, "dump-regs": cmd_dump_regs,
    "hmp-regs": cmd_hmp_regs, "gdb-regs": cmd_gdb_regs, "compare": cmd_compare, "walk": cmd_walk,
    "live-addrs": cmd_live_addrs, "live-compare": cmd_live_compare, "live-vs-elf": cmd_live_vs_elf,
}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die(f"usage: {sys.argv[0]} {{{'|'.join(COMMANDS)}}} ...", 2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except (OSError, socket.timeout) as e:
        die(f"{sys.argv[1]}: {e}")
