"""gdb-side helpers for tests/e2e/30-live-qemu.sh (sourced into gdb-multiarch with -x).

They work against any gdb remote stub of a live s390x Linux guest (QEMU's own gdbstub,
or s390bridge serve --qemu), with the kernel's vmlinux loaded. Each prints lines starting
with "s390b-" that the test greps for, and sets convenience variables ($s390b_*) that
later gdb commands use (e.g. `eval "monitor view asce %#lx", $s390b_user_asce`).

  s390b-threads                 one line per thread: its PSW, mode (user = problem
                                state), CR1 (primary ASCE) and CR13 (home ASCE)
  s390b-kernel-thread           selects the first thread in kernel mode ("none": none is)
  s390b-interrupt-later [SECS] [TOKEN]
                                start the background helper that SIGINTs this gdb once the
                                guest runs (real-guest.sh interrupt-when-running), for the
                                next `continue`
  s390b-stop-in-user [TRIES]    continue + interrupt until some thread is stopped in
                                user mode; selects it; $s390b_user_thread (0: none)
  s390b-user-task               for the selected user-mode thread's CPU: its current task
                                (through lowcore_ptr[], read on a thread in kernel mode),
                                pid, comm, mm->context.asce, argv; and the marker in the
                                argv read through the user thread itself; sets
                                $s390b_user_asce, $s390b_marker_addr (0: not found)
  s390b-read-set ADDRS OUT      reads every "ADDR LEN CLASS NAME" line of ADDRS on every
                                thread (plus 64 bytes at every thread's r15 and 16 at its
                                PSW address), into the
                                JSON file OUT (hex, or null where the stub refused)

Environment: S390B_RG_LIB (the directory of real-guest.sh), S390B_MARKER (the user
process's marker), S390B_BG_LOG (where background helpers write).
"""

import json
import os
import subprocess

import gdb

PROBLEM_STATE = 1 << 48  # PSW bit 15


def _threads():
    return sorted(gdb.selected_inferior().threads(), key=lambda t: t.num)


def _reg(name):
    return int(gdb.parse_and_eval("$" + name)) & 0xFFFFFFFFFFFFFFFF


def _try_reg(name):
    try:
        return _reg(name)
    except gdb.error:
        return None


def _set(name, value):
    gdb.set_convenience_variable(name, value)


def _hex(v):
    return "?" if v is None else f"{v:#x}"


class _Keep:
    """Restores the selected thread on exit."""

    def __enter__(self):
        self.t = gdb.selected_thread()
        return self

    def __exit__(self, *exc):
        if self.t is not None and self.t.is_valid():
            self.t.switch()


def thread_states():
    out = []
    with _Keep():
        for t in _threads():
            t.switch()
            pswm = _reg("pswm")
            out.append({"num": t.num, "thread": t, "pswm": pswm, "pswa": _reg("pswa"),
                        "user": bool(pswm & PROBLEM_STATE), "cr1": _try_reg("cr1"), "cr13": _try_reg("cr13"),
                        "r15": _reg("r15")})
    return out


class Threads(gdb.Command):
    """s390b-threads: each thread's PSW and mode."""

    def __init__(self):
        super().__init__("s390b-threads", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for s in thread_states():
            print(f"s390b-thread {s['num']} mode={'user' if s['user'] else 'kernel'} pswm={s['pswm']:#018x} "
                  f"pswa={s['pswa']:#x} cr1={_hex(s['cr1'])} cr13={_hex(s['cr13'])}")


class KernelThread(gdb.Command):
    """s390b-kernel-thread: selects the first thread in supervisor state (its own address
    space maps the kernel); prints its number, or "none" and keeps the selection."""

    def __init__(self):
        super().__init__("s390b-kernel-thread", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for s in thread_states():
            if not s["user"]:
                s["thread"].switch()
                print(f"s390b-kernel-thread {s['num']}")
                return
        print("s390b-kernel-thread none")


def interrupt_later(secs="0.5", token=""):
    lib = os.environ["S390B_RG_LIB"]
    log = open(os.environ.get("S390B_BG_LOG", os.devnull), "a")
    args = ["bash", os.path.join(lib, "real-guest.sh"), "interrupt-when-running", str(os.getpid()), secs]
    if token:
        args.append(token)
    subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)


class InterruptLater(gdb.Command):
    """s390b-interrupt-later [SECS] [TOKEN]: SIGINT this gdb once the guest runs."""

    def __init__(self):
        super().__init__("s390b-interrupt-later", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        interrupt_later(*gdb.string_to_argv(arg))


class StopInUser(gdb.Command):
    """s390b-stop-in-user [TRIES]: continue and interrupt until a thread is in user mode."""

    def __init__(self):
        super().__init__("s390b-stop-in-user", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        tries = int(arg) if arg.strip() else 10
        _set("s390b_user_thread", 0)
        for i in range(tries):
            user = [s for s in thread_states() if s["user"]]
            if user:
                s = user[0]
                s["thread"].switch()
                _set("s390b_user_thread", s["num"])
                print(f"s390b-user-thread {s['num']} after {i} extra stop(s): pswm={s['pswm']:#018x} "
                      f"pswa={s['pswa']:#x} cr1={_hex(s['cr1'])}")
                return
            if i + 1 < tries:
                interrupt_later("0.3")
                gdb.execute("continue", to_string=True)
        print(f"s390b-user-thread none after {tries} stops")


def _read_cstr(addr, limit=256):
    data = bytes(gdb.selected_inferior().read_memory(addr, limit))
    return data.split(b"\0", 1)[0].decode(errors="replace")


class UserTask(gdb.Command):
    """s390b-user-task: the task on the selected user-mode thread's CPU, and its marker."""

    def __init__(self):
        super().__init__("s390b-user-task", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        _set("s390b_user_asce", 0)
        _set("s390b_marker_addr", 0)
        states = {s["num"]: s for s in thread_states()}
        num = int(gdb.convenience_variable("s390b_user_thread") or 0)
        if num not in states or not states[num]["user"]:
            print("s390b-user-task: no user-mode thread selected")
            return
        kernel = [s for s in states.values() if not s["user"]]
        if not kernel:
            print("s390b-user-task: every thread is in user mode; no kernel view to read lowcore_ptr[] through")
            return
        cpu = num - 1  # QEMU numbers its threads CPU index + 1; so does s390bridge
        with _Keep():
            kernel[0]["thread"].switch()
            task = gdb.parse_and_eval(f"(struct task_struct *) lowcore_ptr[{cpu}]->current_task")
            comm = task["comm"].string(length=16).split("\0", 1)[0]
            pid = int(task["pid"])
            mm = task["mm"]
            if int(mm) == 0:
                print(f"s390b-user-task cpu={cpu} pid={pid} comm={comm} (no mm)")
                return
            asce = int(mm["context"]["asce"]) & 0xFFFFFFFFFFFFFFFF
            arg_start, arg_end = int(mm["arg_start"]), int(mm["arg_end"])
        print(f"s390b-user-task cpu={cpu} pid={pid} comm={comm} asce={asce:#x} arg_start={arg_start:#x} "
              f"arg_end={arg_end:#x} cr1={_hex(states[num]['cr1'])}")
        _set("s390b_user_asce", asce)
        _set("s390b_arg_start", arg_start)
        # The argv, read through the user thread itself (its primary space is that task's).
        marker = os.environ.get("S390B_MARKER", "").encode()
        try:
            argv = bytes(gdb.selected_inferior().read_memory(arg_start, min(arg_end - arg_start, 4096)))
        except gdb.MemoryError as e:
            print(f"s390b-user-argv unreadable: {e}")
            return
        print("s390b-user-argv " + " | ".join(a.decode(errors="replace") for a in argv.rstrip(b"\0").split(b"\0")))
        at = argv.find(marker) if marker else -1
        if at >= 0:
            _set("s390b_marker_addr", arg_start + at)
            print(f"s390b-user-marker at {arg_start + at:#x}")
        else:
            print("s390b-user-marker not in this task's argv")


class ReadSet(gdb.Command):
    """s390b-read-set ADDRS OUT: read a set of addresses on every thread, as JSON."""

    def __init__(self):
        super().__init__("s390b-read-set", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        src, out = gdb.string_to_argv(arg)
        entries = []
        for line in open(src):
            f = line.split()
            if len(f) >= 3 and not line.startswith("#"):
                entries.append({"addr": int(f[0], 16), "len": int(f[1]), "class": f[2],
                                "name": f[3] if len(f) > 3 else ""})
        states = thread_states()
        # Every thread's stack pointer and PSW address, read on every thread: vmalloc'd
        # kernel stacks and kernel text, or a user process's stack and text.
        for s in states:
            entries.append({"addr": s["r15"], "len": 64, "class": "stack", "name": f"r15-of-thread-{s['num']}"})
            entries.append({"addr": s["pswa"], "len": 16, "class": "pswa", "name": f"pswa-of-thread-{s['num']}"})
        inf = gdb.selected_inferior()
        res = {"entries": [{**e, "addr": f"{e['addr']:#x}"} for e in entries], "threads": {}}
        with _Keep():
            for s in states:
                s["thread"].switch()
                reads = []
                for e in entries:
                    try:
                        reads.append(bytes(inf.read_memory(e["addr"], e["len"])).hex())
                    except gdb.MemoryError:
                        reads.append(None)
                res["threads"][str(s["num"])] = {"pswm": f"{s['pswm']:#x}", "user": s["user"], "reads": reads}
        with open(out, "w") as f:
            json.dump(res, f)
        n = len(entries) * len(states)
        ok = sum(r is not None for t in res["threads"].values() for r in t["reads"])
        print(f"s390b-read-set {len(entries)} addresses x {len(states)} threads: {ok} of {n} reads answered")


Threads()
KernelThread()
InterruptLater()
StopInUser()
UserTask()
ReadSet()
