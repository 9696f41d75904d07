#!/usr/bin/env python3
"""Small helpers for tests/e2e/10-gdb-demo.sh (sourced through lib/gdb-demo.sh).

  busy PORT                    connect to 127.0.0.1:PORT as a second client while a debugger
                               is attached; print the packet the server sends (unasked, or
                               as the answer to a qSupported sent when nothing came within
                               1 s) and check it is the busy refusal, with a correct
                               checksum, followed by EOF
  memop-cmp FILE OFFSET JSON [OFFSET JSON...]
                               the "data" hex of each `s390bridge memop --json` read (a
                               file JSON) equals FILE's bytes at OFFSET (decimal or 0x hex)

Exit 0 on success, 1 on a mismatch (with a message on stderr), 2 on bad usage.
"""
import json
import socket
import sys

BUSY = "E.s390bridge: another debugger is already connected"


def die(msg, code=1):
    print(f"gdb_demo.py: {msg}", file=sys.stderr)
    sys.exit(code)


def packet(payload):
    return b"$" + payload + b"#%02x" % (sum(payload) % 256)


def cmd_busy(args):
    if len(args) != 1:
        die("usage: busy PORT", 2)
    port = int(args[0])
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    data = b""
    try:
        # The refusal may come unasked (then the server closes) or as the answer to the
        # client's first packet: listen first, ask only if nothing came.
        s.settimeout(1)
        try:
            data = s.recv(4096)
        except socket.timeout:
            s.sendall(packet(b"qSupported"))
        s.settimeout(5)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        die(f"no EOF within 5 s; received so far: {data!r}")
    except ConnectionResetError:
        pass  # the server closed while our packet was unread; what came before counts
    finally:
        s.close()
    text = data.decode("latin-1")
    if text.startswith("+"):
        text = text[1:]  # the ack of our packet
    if not text.startswith("$") or "#" not in text:
        die(f"not an RSP packet: {data!r}")
    payload, _, rest = text[1:].partition("#")
    checksum = rest[:2]
    want = f"{sum(payload.encode('latin-1')) % 256:02x}"
    if checksum != want:
        die(f"checksum {checksum!r}, computed {want} for {payload!r}")
    if rest[2:]:
        die(f"bytes after the packet: {rest[2:]!r}")
    print(f"second client got ${payload}#{checksum}, then EOF")
    if payload != BUSY:
        die(f"expected the payload {BUSY!r}")


def cmd_memop_cmp(args):
    if len(args) < 3 or len(args) % 2 != 1:
        die("usage: memop-cmp FILE OFFSET JSON [OFFSET JSON...]", 2)
    with open(args[0], "rb") as f:
        image = f.read()
    bad = 0
    for offset_text, path in zip(args[1::2], args[2::2]):
        r = json.loads(open(path).read())
        offset = int(offset_text, 0)
        if r.get("result") != "ok" or "data" not in r:
            print(f"gdb_demo.py: memop at {offset:#x} did not succeed: {r}", file=sys.stderr)
            bad = 1
            continue
        data = bytes.fromhex(r["data"])
        have = image[offset:offset + len(data)]
        if have != data:
            n = min(len(have), len(data))
            first = next((i for i in range(n) if have[i] != data[i]), n)
            print(f"gdb_demo.py: {args[0]} at {offset:#x} differs from the memop data at +{first:#x}", file=sys.stderr)
            bad = 1
    if bad:
        sys.exit(1)
    print(f"{len(args) // 2} memop reads equal {args[0]}")


COMMANDS = {"busy": cmd_busy, "memop-cmp": cmd_memop_cmp}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        die(f"usage: {sys.argv[0]} {{{'|'.join(COMMANDS)}}} ...", 2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except (OSError, ValueError, KeyError) as e:
        die(f"{sys.argv[1]}: {e}")
