#!/usr/bin/env python3
"""An independent reader of the classic s390 stand-alone dump format, written from the
format description (s390-tools include/dump/s390_dump.h struct df_s390_hdr; the
store-status save area of the z/Architecture Principles of Operation, "Store Status" and
"Assigned storage locations"), not from the bridge's C++ code, so that the e2e check
compares two readings of the same file.

    s390dump.py header FILE          one JSON line: the header fields
    s390dump.py regs FILE            one JSON line: {"cpus": [...]} in the shape of
                                     `s390bridge regs --all --json` (the save-area groups)
    s390dump.py read FILE ADDR LEN   the hex of absolute memory [ADDR, ADDR+LEN)
    s390dump.py seed DIR             writes the fuzz seeds classic.s390 and ext_gap.s390

Only the classic format (magic 0xa8190173618f23fd) is read here. Everything is big-endian.
"""
import json
import struct
import sys

MAGIC = 0xA8190173618F23FD
MAGIC_EXT = 0xA8190173618F23FE
HDR_SIZE = 0x1000
END_MARKER = b"DUMP_END"

# Store-status save area, offsets from the CPU's prefix.
SA_FPRS, SA_GPRS, SA_PSW, SA_PREFIX, SA_FPC = 0x1200, 0x1280, 0x1300, 0x1318, 0x131C
SA_TODPR, SA_CPUTM, SA_CKC, SA_ACRS, SA_CRS = 0x1324, 0x1328, 0x1330, 0x1340, 0x1380


def header(data):
    if len(data) < HDR_SIZE:
        raise ValueError("shorter than the 4 KiB header")
    magic, version, hdr_size, dump_level, page_size = struct.unpack_from(">QIIII", data, 0)
    mem_size, mem_start, mem_end, num_pages = struct.unpack_from(">QQQI", data, 0x18)
    tod, cpu_id, arch, volnr, build_arch = struct.unpack_from(">QQIII", data, 0x38)
    (mem_size_real,) = struct.unpack_from(">Q", data, 0x54)
    mvdump, cpu_cnt, real_cpu_cnt = struct.unpack_from(">BHH", data, 0x5C)
    lc_vec = list(struct.unpack_from(">%dI" % cpu_cnt, data, 0x800))
    if magic != MAGIC:
        raise ValueError("not a classic s390 dump: magic %#x" % magic)
    return {
        "magic": magic, "version": version, "hdr_size": hdr_size, "dump_level": dump_level,
        "page_size": page_size, "mem_size": mem_size, "mem_start": mem_start, "mem_end": mem_end,
        "num_pages": num_pages, "tod": tod, "cpu_id": cpu_id, "arch": arch, "volnr": volnr,
        "build_arch": build_arch, "mem_size_real": mem_size_real, "mvdump": mvdump,
        "cpu_cnt": cpu_cnt, "real_cpu_cnt": real_cpu_cnt, "lc_vec": lc_vec,
    }


def end_marker(data, h):
    at = HDR_SIZE + h["mem_size"]
    em = data[at:at + 16]
    if len(em) < 16 or em[:8] != END_MARKER:
        return None
    return struct.unpack_from(">Q", em, 8)[0]


def read(data, h, address, length):
    if address + length > h["mem_size"]:
        raise ValueError("beyond mem_size")
    return data[HDR_SIZE + address:HDR_SIZE + address + length]


def hx(v):
    return hex(v)


def cpu(data, h, prefix):
    def u64s(off, n):
        return list(struct.unpack_from(">%dQ" % n, data, HDR_SIZE + prefix + off))

    def u32s(off, n):
        return list(struct.unpack_from(">%dI" % n, data, HDR_SIZE + prefix + off))

    mask, addr = u64s(SA_PSW, 2)
    (ckc_word,) = u64s(SA_CKC, 1)
    return {
        "psw": {"mask": hx(mask), "address": hx(addr)},
        "gprs": [hx(v) for v in u64s(SA_GPRS, 16)],
        "acrs": [hx(v) for v in u32s(SA_ACRS, 16)],
        "crs": [hx(v) for v in u64s(SA_CRS, 16)],
        "fprs": [hx(v) for v in u64s(SA_FPRS, 16)],
        "fpc": hx(u32s(SA_FPC, 1)[0]),
        "prefix": hx(prefix),
        "stored_prefix": hx(u32s(SA_PREFIX, 1)[0]),
        "cpu_timer": hx(u64s(SA_CPUTM, 1)[0]),
        # Byte 0x1330 is zero and 0x1331-0x1337 hold CKC bits 0-55: the word is CKC >> 8.
        "clock_comparator": hx((ckc_word << 8) & 0xFFFFFFFFFFFFFFFF),
        "tod_programmable": hx(u32s(SA_TODPR, 1)[0]),
    }


def seed(directory):
    """Two small dumps for the fuzz corpus."""
    def hdr(magic, version, mem_size, lc_vec):
        h = bytearray(HDR_SIZE)
        struct.pack_into(">QIIII", h, 0, magic, version, HDR_SIZE, 4, 4096)
        struct.pack_into(">QQQI", h, 0x18, mem_size, 0, mem_size, mem_size // 4096)
        struct.pack_into(">QQIII", h, 0x38, 0x1000, 0, 2, 0, 2)
        struct.pack_into(">Q", h, 0x54, mem_size)
        struct.pack_into(">BHH", h, 0x5C, 0, len(lc_vec), len(lc_vec))
        struct.pack_into(">%dI" % len(lc_vec), h, 0x800, *lc_vec)
        return h

    mem = bytearray(0x4000)
    for a in range(0, len(mem), 8):
        struct.pack_into(">Q", mem, a, a)
    struct.pack_into(">16Q", mem, 0x2000 + SA_GPRS, *range(0x100, 0x110))
    struct.pack_into(">QQ", mem, 0x2000 + SA_PSW, 0x0704C00180000000, 0x10000)
    struct.pack_into(">I", mem, 0x2000 + SA_PREFIX, 0x2000)
    classic = hdr(MAGIC, 5, len(mem), [0x2000]) + mem + END_MARKER + struct.pack(">Q", 0x2000)
    with open(directory + "/classic.s390", "wb") as f:
        f.write(classic)

    ext = hdr(MAGIC_EXT, 1, 0x8000, [0x2000])
    for start, length, stop in ((0x0, 0x1000, 0), (0x2000, 0x2000, 1)):
        seg = bytearray(0x1000)
        struct.pack_into(">QQQ", seg, 0, start, length, stop)
        ext += seg + mem[start:start + length]
    ext += END_MARKER + struct.pack(">Q", 0x2000)
    with open(directory + "/ext_gap.s390", "wb") as f:
        f.write(ext)


def main(argv):
    if len(argv) >= 3 and argv[1] == "seed":
        seed(argv[2])
        return 0
    with open(argv[2], "rb") as f:
        data = f.read()
    h = header(data)
    if argv[1] == "header":
        h["end_tod"] = end_marker(data, h)
        print(json.dumps(h))
    elif argv[1] == "regs":
        print(json.dumps({"cpus": [dict(cpu=i, **cpu(data, h, p)) for i, p in enumerate(h["lc_vec"])]}))
    elif argv[1] == "read":
        print(read(data, h, int(argv[3], 0), int(argv[4], 0)).hex())
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
