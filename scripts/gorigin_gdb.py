# gorigin_gdb.py: the goroutines-by-origin command for people inside GDB.
#
#   (gdb) source /path/to/gorigin/scripts/gorigin_gdb.py
#   (gdb) goroutines-by-origin [--by origin|start|wait] [--top N] [--system]
#
# It walks runtime.allgs through GDB's Python API (reads only: no inferior calls) and
# prints the goroutines grouped by the go statement that created them (the call site
# at gopc-1, as the runtime reports it) and their start function, like `gorigin attach`.
# Field names are looked up by name, so it works for targets from Go 1.20 to 1.27 on live
# processes and cores alike.

import argparse
import gdb

_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting",
           5: "moribund", 6: "dead", 7: "enqueue", 8: "copystack", 9: "preempted"}
_SCAN = 0x1000


def _field(v, name):
    """v.name, unwrapping the runtime's atomic types (struct {value T})."""
    f = v[name]
    while f.type.strip_typedefs().code == gdb.TYPE_CODE_STRUCT:
        names = [x.name for x in f.type.strip_typedefs().fields()]
        if "value" in names:
            f = f["value"]
        elif "v" in names:
            f = f["v"]
        else:
            break
    return f


def _has(v, name):
    return any(x.name == name for x in v.type.strip_typedefs().fields())


def _go_string(v):
    n = int(v["len"])
    if n == 0:
        return ""
    mem = gdb.selected_inferior().read_memory(int(v["str"]), min(n, 256))
    return bytes(mem).decode("utf-8", "replace")


def _func_at(pc):
    """The innermost function containing pc (inlined calls included)."""
    try:
        b = gdb.block_for_pc(pc)
    except RuntimeError:
        b = None
    while b is not None and b.function is None:
        b = b.superblock
    if b is not None and b.function is not None:
        return b.function.name
    s = gdb.progspace.solib_name(pc) if hasattr(gdb, "progspace") else None
    return "?" if s is None else s


def _wait_reasons():
    try:
        arr = gdb.parse_and_eval("'runtime.waitReasonStrings'")
    except gdb.error:
        return None
    lo, hi = arr.type.strip_typedefs().range()
    return [_go_string(arr[i]) for i in range(lo, hi + 1)]


def _is_system(start):
    return start.startswith("runtime.") and start != "runtime.main"


class GoroutinesByOrigin(gdb.Command):
    """Goroutines grouped by the go statement that created them.

Usage: goroutines-by-origin [--by origin|start|wait] [--top N] [--system]"""

    def __init__(self):
        super().__init__("goroutines-by-origin", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        p = argparse.ArgumentParser(prog="goroutines-by-origin", add_help=False)
        p.add_argument("--by", choices=["origin", "start", "wait"], default="origin")
        p.add_argument("--top", type=int, default=0)
        p.add_argument("--system", action="store_true")
        try:
            opts = p.parse_args(gdb.string_to_argv(arg))
        except SystemExit:
            raise gdb.GdbError("usage: goroutines-by-origin [--by origin|start|wait] [--top N] [--system]")
        try:
            allgs = gdb.parse_and_eval("'runtime.allgs'")
        except gdb.error as e:
            raise gdb.GdbError("not a Go program, or no symbols: %s" % e)
        reasons = _wait_reasons()
        n = int(allgs["len"])
        arr = allgs["array"]
        groups = {}
        hidden = 0
        total = 0
        for i in range(n):
            g = arr[i].dereference()
            status = int(_field(g, "atomicstatus")) & ~_SCAN
            if status == 6:  # dead
                continue
            state = _STATUS.get(status, "status%d" % status)
            if status == 4:
                wr = int(_field(g, "waitreason"))
                if reasons is not None and wr < len(reasons) and reasons[wr]:
                    state = reasons[wr]
            gopc, startpc = int(g["gopc"]), int(g["startpc"])
            start = _func_at(startpc) if startpc else "?"
            if not opts.system and _is_system(start):
                hidden += 1
                continue
            total += 1
            if gopc and start != "runtime.main":
                sal = gdb.find_pc_line(gopc - 1)
                file = sal.symtab.filename if sal.symtab else "?"
                created = "%s  %s:%d" % (_func_at(gopc - 1), file, sal.line)
            else:
                created = "(no go statement)"
            key = {"origin": (created, start), "start": ("", start), "wait": (state, "")}[opts.by]
            grp = groups.setdefault(key, {"count": 0, "states": {}, "ids": []})
            grp["count"] += 1
            grp["states"][state] = grp["states"].get(state, 0) + 1
            if len(grp["ids"]) < 5:
                grp["ids"].append(int(g["goid"]))
        rows = sorted(groups.items(), key=lambda kv: (-kv[1]["count"], kv[0]))
        if opts.top > 0:
            rows = rows[:opts.top]
        print("%d goroutines in %d groups" % (total, len(groups)))
        head = {"origin": "CREATED AT (go statement)  START", "start": "START", "wait": "STATE"}[opts.by]
        print("%5s  %-14s  %s  EXAMPLES" % ("COUNT", "STATE", head))
        for (a, b), grp in rows:
            state = max(grp["states"].items(), key=lambda kv: kv[1])[0]
            if len(grp["states"]) > 1:
                state += "+"
            label = {"origin": "%s  %s" % (a, b), "start": b, "wait": a}[opts.by]
            print("%5d  %-14s  %s  %s" % (grp["count"], state, label, " ".join(str(x) for x in grp["ids"])))
        if hidden and not opts.system:
            print("(+%d system goroutines not shown: --system)" % hidden)


GoroutinesByOrigin()
