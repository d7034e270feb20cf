"""The small tools of the simulated phone's shell (Android's toybox): echo, cat, grep, head, tail, wc, ls, rm, ...

Files are the phone state's ``files`` table (path -> text); nothing touches the host.
"""

from __future__ import annotations

import datetime
import re
import time
import zoneinfo

from guiagent.envs.simphone.command import CommandFn, Context, Result, ShellExit, b

_DIGITS = re.compile(r"[0-9]+")


def echo(ctx: Context, args: list[str], stdin: bytes) -> Result:
    newline = True
    if args and args[0] == "-n":
        newline, args = False, args[1:]
    return (" ".join(args) + ("\n" if newline else "")).encode(), b"", 0


def true(ctx: Context, args: list[str], stdin: bytes) -> Result:
    return b"", b"", 0


def false(ctx: Context, args: list[str], stdin: bytes) -> Result:
    return b"", b"", 1


def sleep(ctx: Context, args: list[str], stdin: bytes) -> Result:
    # Deterministic and fast: the simulated phone has nothing running in the background.
    return b"", b"", 0


def exit_(ctx: Context, args: list[str], stdin: bytes) -> Result:
    raise ShellExit(int(args[0]) % 256 if args and _DIGITS.fullmatch(args[0]) and len(args[0]) < 10 else 0)


def id_(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if ctx.phone.state.get("root"):
        return b"uid=0(root) gid=0(root) groups=0(root) context=u:r:su:s0\n", b"", 0
    return b"uid=2000(shell) gid=2000(shell) groups=2000(shell) context=u:r:shell:s0\n", b"", 0


def whoami(ctx: Context, args: list[str], stdin: bytes) -> Result:
    return (b"root\n" if ctx.phone.state.get("root") else b"shell\n"), b"", 0


_DATE_SET = re.compile(r"(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?(\d\d)?(?:\.(\d\d))?")


def device_now(state: dict) -> datetime.datetime:
    """The phone's clock: the host's plus the offset `date` set, in the phone's time zone."""
    try:
        tz: datetime.tzinfo = zoneinfo.ZoneInfo(str(state.get("timezone") or "UTC"))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = datetime.timezone.utc
    return datetime.datetime.fromtimestamp(time.time() + float(state.get("clock_offset") or 0.0), tz)


def date(ctx: Context, args: list[str], stdin: bytes) -> Result:
    """toybox date: print the time (``+FORMAT`` as strftime) or set it (``MMDDhhmm[[CC]YY][.ss]``, root only)."""
    state = ctx.phone.state
    now = device_now(state)
    fmt = "%a %b %d %H:%M:%S %Z %Y"
    for a in args:
        if a.startswith("+"):
            fmt = a[1:]
        elif a in ("-u",):
            now = now.astimezone(datetime.timezone.utc)
        else:
            m = _DATE_SET.fullmatch(a)
            if not m:
                return b"", b(f"date: bad date '{a}'\n"), 1
            if not state.get("root"):
                return b"", b"date: cannot set date: Operation not permitted\n", 1
            mo, dd, hh, mi, c1, c2, ss = m.groups()
            year = now.year if c1 is None else (int(c1) * 100 + int(c2) if c2 else 2000 + int(c1))
            try:
                when = now.replace(year=year, month=int(mo), day=int(dd), hour=int(hh), minute=int(mi),
                                   second=int(ss or 0), microsecond=0)
            except ValueError:
                return b"", b(f"date: bad date '{a}'\n"), 1
            state["clock_offset"] = when.timestamp() - time.time()
            now = when
    return b(now.strftime(fmt) + "\n"), b"", 0


def uname(ctx: Context, args: list[str], stdin: bytes) -> Result:
    return (b"Linux localhost 5.15.0-simphone #1 SMP PREEMPT aarch64 Toybox\n" if "-a" in args
            else b"Linux\n"), b"", 0


def which(ctx: Context, args: list[str], stdin: bytes) -> Result:
    found = [f"/system/bin/{a}" for a in args if a in ctx.commands]
    return "".join(f + "\n" for f in found).encode(), b"", 0 if len(found) == len(args) else 1


# folders every phone has; others exist while a file lies under them
_DIRS = frozenset({"/", "/sdcard", "/sdcard/", "/storage/emulated/0", "/data", "/data/local/tmp", "/system",
                   "/system/bin"})


def test(ctx: Context, args: list[str], stdin: bytes) -> Result:
    args = [a for a in args if a != "]"]
    if len(args) == 3 and args[1] in ("=", "=="):
        return b"", b"", 0 if args[0] == args[2] else 1
    if len(args) == 3 and args[1] == "!=":
        return b"", b"", 0 if args[0] != args[2] else 1
    if len(args) == 2 and args[0] in ("-e", "-f", "-d"):
        files = ctx.phone.state["files"]
        is_file = args[1] in files
        prefix = args[1].rstrip("/") + "/"
        is_dir = args[1] in _DIRS or any(p.startswith(prefix) for p in files)
        return b"", b"", 0 if {"-e": is_file or is_dir, "-f": is_file, "-d": is_dir}[args[0]] else 1
    if len(args) == 2 and args[0] == "-n":
        return b"", b"", 0 if args[1] else 1
    if len(args) == 2 and args[0] == "-z":
        return b"", b"", 0 if not args[1] else 1
    return b"", b"", 0 if args and args[0] else 1


def cat(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if not args:
        return stdin, b"", 0
    out, err, rc = bytearray(), bytearray(), 0
    for path in args:
        try:
            out += ctx.read_file(path)
        except FileNotFoundError:
            err += b(f"cat: {path}: No such file or directory\n")
            rc = 1
    return bytes(out), bytes(err), rc


def rm(ctx: Context, args: list[str], stdin: bytes) -> Result:
    force = any(a.startswith("-") and "f" in a for a in args)
    err, rc = bytearray(), 0
    for path in (a for a in args if not a.startswith("-")):
        if ctx.phone.state["files"].pop(path, None) is None and not force:
            err += b(f"rm: {path}: No such file or directory\n")
            rc = 1
    return b"", bytes(err), rc


def touch(ctx: Context, args: list[str], stdin: bytes) -> Result:
    for path in (a for a in args if not a.startswith("-")):
        ctx.phone.state["files"].setdefault(path, "")
    return b"", b"", 0


def mkdir(ctx: Context, args: list[str], stdin: bytes) -> Result:
    return b"", b"", 0


def ls(ctx: Context, args: list[str], stdin: bytes) -> Result:
    files = ctx.phone.state["files"]
    paths = [a for a in args if not a.startswith("-")] or ["/sdcard"]
    out: list[str] = []
    for p in paths:
        prefix = p.rstrip("/") + "/"
        names = sorted(f[len(prefix):] for f in files if f.startswith(prefix) and "/" not in f[len(prefix):])
        if p in files:
            names = [p]
        out.extend(names)
    return "".join(f"{n}\n" for n in out).encode(), b"", 0


def grep(ctx: Context, args: list[str], stdin: bytes) -> Result:
    flags: set[str] = set()
    patterns: list[str] = []
    files: list[str] = []
    it = iter(args)
    for a in it:
        if a == "-e":
            patterns.append(next(it))
        elif a.startswith("-") and len(a) > 1 and not patterns and not files:
            flags.update(a[1:])
        elif not patterns:
            patterns.append(a)
        else:
            files.append(a)
    if not patterns:
        return b"", b"usage: grep [-civqEFow] PATTERN [FILE...]\n", 2
    text = b"".join(ctx.read_file(f) for f in files) if files else stdin
    regex = "|".join(re.escape(p) if "F" in flags else p for p in patterns)
    if "w" in flags:
        regex = rf"\b(?:{regex})\b"
    rx = re.compile(regex, re.IGNORECASE if "i" in flags else 0)
    lines = text.decode("utf-8", "replace").splitlines()
    hits = [ln for ln in lines if bool(rx.search(ln)) != ("v" in flags)]
    if "q" in flags:
        return b"", b"", 0 if hits else 1
    if "c" in flags:
        return f"{len(hits)}\n".encode(), b"", 0 if hits else 1
    if "o" in flags:
        return "".join(m.group() + "\n" for ln in hits for m in rx.finditer(ln)).encode(), b"", 0 if hits else 1
    return "".join(h + "\n" for h in hits).encode(), b"", 0 if hits else 1


def _count(args: list[str]) -> tuple[int, list[str]]:
    n, rest = 10, []
    it = iter(args)
    for a in it:
        if a == "-n":
            n = int(next(it))
        elif re.fullmatch(r"-n?[0-9]+", a):
            n = int(a.lstrip("-n"))
        else:
            rest.append(a)
    return n, rest


def head(ctx: Context, args: list[str], stdin: bytes) -> Result:
    n, files = _count(args)
    text = b"".join(ctx.read_file(f) for f in files) if files else stdin
    return b"".join(text.splitlines(keepends=True)[:n]), b"", 0


def tail(ctx: Context, args: list[str], stdin: bytes) -> Result:
    n, files = _count(args)
    text = b"".join(ctx.read_file(f) for f in files) if files else stdin
    return b"".join(text.splitlines(keepends=True)[-n:] if n else []), b"", 0


def wc(ctx: Context, args: list[str], stdin: bytes) -> Result:
    if "-c" in args:
        return f"{len(stdin)}\n".encode(), b"", 0
    return b"%d\n" % stdin.count(b"\n"), b"", 0


COMMANDS: dict[str, CommandFn] = {
    "echo": echo, "true": true, "false": false, "sleep": sleep, "exit": exit_, "id": id_, "whoami": whoami, "date": date,
    "uname": uname, "which": which, "test": test, "[": test, "cat": cat, "rm": rm, "touch": touch, "mkdir": mkdir,
    "ls": ls, "grep": grep, "head": head, "tail": tail, "wc": wc,
}
