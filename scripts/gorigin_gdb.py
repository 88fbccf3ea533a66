# gorigin_gdb.py: the goroutines-by-origin command for people inside GDB.
#
#   (gdb) source /path/to/gorigin/scripts/gorigin_gdb.py
#   (gdb) goroutines-by-origin [--by origin|start|wait] [--top N] [--system] [MATCH]
#
# MATCH keeps the goroutines whose go statement (function or file) or start function
# contains it, e.g. a package name.
#
# It walks runtime.allgs through GDB's Python API (reads only: no inferior calls) and
# prints the goroutines grouped by the go statement that created them (the call site
# at gopc-1, as the runtime reports it) and their start function, like `gorigin attach`
# (the function a go statement started, seen through the compiler's wrapper).
# Field names are looked up by name, so it works for targets from Go 1.20 to 1.27 on live
# processes and cores alike.

import argparse
import bisect
import re
import struct

import gdb

_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting",
           5: "moribund", 6: "dead", 7: "enqueue", 8: "copystack", 9: "preempted",
           10: "leaked"}  # Go 1.26+: _Gleaked; 11 is _Gdeadextra, dead as 6
_DEAD = (6, 11)
_LEAKED = 10
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


_GOWRAP = re.compile(r"\.gowrap\d+$")
# FuncIDWrapper (abi.FuncIDWrapper; funcID_wrapper in Go 1.20) by Go minor version.
_FUNCID_WRAPPER = {20: 21, 21: 21, 22: 22, 23: 22, 24: 22, 25: 23, 26: 23, 27: 23}
_CALL = re.compile(r"\bcall[a-z]*\s+(0x[0-9a-fA-F]+)")
_HELPERS = ("runtime.morestack", "runtime.racefunc", "runtime.gcWriteBarrier", "runtime.panic",
            "runtime.duff", "runtime.defer", "runtime.wbBuf", "runtime.memmove", "runtime.memclr")
_STACK = "stack"  # _unwrapped's answer for a wrapper whose callee only the stack tells


def _is_runtime(name):
    return name.startswith(("runtime.", "internal/runtime/", "runtime/internal/"))


def _callable(wrapper, callee):
    """Whether a direct call from wrapper to callee can be the go statement's function
    rather than a compiler helper: outside the runtime every runtime function is a helper;
    the runtime's own go statements (gcenable's "go bgsweep(c)") start runtime functions."""
    if not _is_runtime(callee):
        return True
    return _is_runtime(wrapper) and not callee.startswith(_HELPERS)


def _unwrapped(entry, name, cache):
    """The function a go statement started, where the compiler wrapped it, or _STACK.

    "go f(x)" starts a wrapper that calls f: pkg.caller.gowrapN since Go 1.22, before that
    a closure (pkg.caller.funcN) that the runtime's function table marks as a wrapper (as
    it marks a method value's -fm). An inlined f is the outermost inlined block of the
    wrapper; a called f is the wrapper's first call to a function that is not a compiler
    helper. A wrapper that calls f through a func value or an interface method leaves f to
    each goroutine's stack (_STACK)."""
    if entry in cache:
        return cache[entry]
    if not _GOWRAP.search(name) and not _is_wrapper(entry, cache):
        cache[entry] = name
        return name
    found = name
    try:
        fblk = gdb.block_for_pc(entry)
        while fblk is not None and fblk.function is None:
            fblk = fblk.superblock
        if fblk is not None and 0 < fblk.end - fblk.start <= 4096:
            found = _inlined_callee(fblk) or _called(fblk) or _STACK
    except (RuntimeError, gdb.error):
        pass
    cache[entry] = found
    return found


def _is_wrapper(entry, cache):
    """Whether the physical function at entry is a compiler-made wrapper: its funcID in
    the runtime's function table (runtime.firstmoduledata.ftab) says so."""
    f = _func_entry(entry, cache)
    return f is not None and f[0] == entry and f[1]


def _func_entry(pc, cache):
    """(entry, is a wrapper) of the physical function containing pc, or None."""
    if "ftab" not in cache:
        cache["ftab"] = _function_table()
    ft = cache["ftab"]
    if ft is None:
        return None
    text, entries, funcoffs, pcln, fid, wrapper = ft
    i = bisect.bisect_right(entries, pc - text) - 1
    if i < 0 or i >= len(entries) - 1:
        return None
    b = bytes(gdb.selected_inferior().read_memory(pcln + funcoffs[i] + fid, 1))
    return text + entries[i], b[0] == wrapper


def _function_table():
    """(text, entry offsets, _func offsets, pclntable, offset of _func.funcID, the wrapper
    funcID) of the target, or None."""
    try:
        version = _go_string(gdb.parse_and_eval("'runtime.buildVersion'"))
        m = re.match(r"go1\.(\d+)", version)
        if m is None or int(m.group(1)) not in _FUNCID_WRAPPER:
            return None
        md = gdb.parse_and_eval("'runtime.firstmoduledata'")
        fid = [f.bitpos // 8 for f in gdb.lookup_type("runtime._func").fields() if f.name == "funcID"]
        ftab = md["ftab"]
        n = int(ftab["len"])
        if not fid or n <= 0 or n > 1 << 22:
            return None
        raw = bytes(gdb.selected_inferior().read_memory(int(ftab["array"]), 8 * n))
        pairs = struct.unpack("<%dI" % (2 * n), raw)  # functab{entryoff, funcoff uint32}
        return (int(md["text"]), list(pairs[0::2]), list(pairs[1::2]), int(md["pclntable"]["array"]), fid[0],
                _FUNCID_WRAPPER[int(m.group(1))])
    except (RuntimeError, gdb.error, gdb.MemoryError, struct.error):
        return None


def _functions_at(pc):
    """The functions at pc, innermost inlined call first, the physical function last."""
    try:
        b = gdb.block_for_pc(pc)
    except RuntimeError:
        return []
    out = []
    while b is not None:
        if b.function is not None:
            out.append(b.function.name)
        b = b.superblock
    return out


def _word(addr):
    return struct.unpack("<Q", bytes(gdb.selected_inferior().read_memory(addr, 8)))[0]


def _stack_start(g, startpc, cache):
    """The function a go statement wrapper at startpc called, read from a parked
    goroutine's stack as the runtime's traceback shows it: walk the frame pointers from
    g.sched up to the wrapper's frame; the outermost frame above it that is not itself a
    wrapper (a method value's or an interface method's) is the callee. None when the stack
    does not tell (a goroutine that has not run yet, or is running)."""
    sched = g["sched"]
    if not _has(sched, "bp"):
        return None
    lo, hi = int(g["stack"]["lo"]), int(g["stack"]["hi"])
    pcs, bp = [int(sched["pc"])], int(sched["bp"])
    try:
        for _ in range(1024):
            f = _func_entry(pcs[-1] - 1, cache)
            if f is None:
                return None
            if f[0] == startpc:
                break
            if not lo <= bp < hi - 8:
                return None
            pcs.append(_word(bp + 8))
            bp = _word(bp)
        else:
            return None
    except (gdb.MemoryError, gdb.error, struct.error):
        return None
    for pc in reversed(pcs[:-1]):
        names = _functions_at(pc - 1)
        f = _func_entry(pc - 1, cache)
        if not names or f is None:
            return None
        if not f[1]:
            return names[-1]
        if len(names) > 1:  # a wrapper with the callee inlined
            return names[-2]
    return None


def _inlined_callee(fblk):
    wrapper = fblk.function.name
    for pc in range(fblk.start, fblk.end):
        b = gdb.block_for_pc(pc)
        outer = None
        while b is not None and not (b.start == fblk.start and b.function is not None and b.function.name == wrapper):
            if b.function is not None:
                outer = b.function.name
            b = b.superblock
        if b is not None and outer is not None and outer != wrapper:
            return outer
    return None


def _called(fblk):
    arch = gdb.selected_inferior().architecture()
    for insn in arch.disassemble(fblk.start, fblk.end - 1):
        m = _CALL.search(insn["asm"])
        if m:
            callee = _func_at(int(m.group(1), 16))
            if callee != "?" and _callable(fblk.function.name, callee):
                return callee
    return None


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

Usage: goroutines-by-origin [--by origin|start|wait] [--top N] [--system] [MATCH]

MATCH keeps the goroutines whose go statement (function or file) or start
function contains it."""

    def __init__(self):
        super().__init__("goroutines-by-origin", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        p = argparse.ArgumentParser(prog="goroutines-by-origin", add_help=False)
        p.add_argument("--by", choices=["origin", "start", "wait"], default="origin")
        p.add_argument("--top", type=int, default=0)
        p.add_argument("--system", action="store_true")
        p.add_argument("match", nargs="?", default="")
        try:
            opts = p.parse_args(gdb.string_to_argv(arg))
        except SystemExit:
            raise gdb.GdbError("usage: goroutines-by-origin [--by origin|start|wait] [--top N] [--system] [MATCH]")
        try:
            allgs = gdb.parse_and_eval("'runtime.allgs'")
        except gdb.error as e:
            raise gdb.GdbError("not a Go program, or no symbols: %s" % e)
        reasons = _wait_reasons()
        n = int(allgs["len"])
        arr = allgs["array"]
        groups = {}
        unwrapped = {}
        hidden = 0
        total = 0
        for i in range(n):
            g = arr[i].dereference()
            status = int(_field(g, "atomicstatus")) & ~_SCAN
            if status in _DEAD:
                continue
            state = _STATUS.get(status, "status%d" % status)
            if status in (4, _LEAKED):  # a leaked goroutine keeps its wait reason
                wr = int(_field(g, "waitreason"))
                if reasons is not None and wr < len(reasons) and reasons[wr]:
                    state = reasons[wr] + (" (leaked)" if status == _LEAKED else "")
            gopc, startpc = int(g["gopc"]), int(g["startpc"])
            start = _unwrapped(startpc, _func_at(startpc), unwrapped) if startpc else "?"
            if start == _STACK:
                start = _stack_start(g, startpc, unwrapped) or _func_at(startpc)
            if not opts.system and _is_system(start):
                hidden += 1
                continue
            if gopc and start != "runtime.main":
                sal = gdb.find_pc_line(gopc - 1)
                file = sal.symtab.filename if sal.symtab else "?"
                created = "%s  %s:%d" % (_func_at(gopc - 1), file, sal.line)
            else:
                created = "(no go statement)"
            if opts.match and opts.match not in created and opts.match not in start:
                continue
            total += 1
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
        head = {"origin": ["CREATED AT (go statement)", "START"], "start": ["START"], "wait": ["STATE"]}[opts.by]
        table = [["COUNT", "STATE"] + head + ["EXAMPLES"]]
        for (a, b), grp in rows:
            state = max(grp["states"].items(), key=lambda kv: kv[1])[0]
            if len(grp["states"]) > 1:
                state += "+"
            label = {"origin": [a, b], "start": [b], "wait": [a]}[opts.by]
            table.append([str(grp["count"]), state] + label + [" ".join(str(x) for x in grp["ids"])])
        _print_table(table)
        if hidden and not opts.system:
            print("(+%d system goroutines not shown: --system)" % hidden)


def _print_table(rows):
    """Prints rows of cells in columns two spaces apart: the first (the count) to the
    right, the others to the left, the last unpadded."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        cells = [r[0].rjust(widths[0])] + [c.ljust(w) for c, w in zip(r[1:-1], widths[1:-1])] + [r[-1]]
        print("  ".join(cells).rstrip())


GoroutinesByOrigin()
