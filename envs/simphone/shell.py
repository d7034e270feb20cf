"""The simulated phone's shell: a small POSIX ``sh`` and the Android commands it answers.

The parser follows the device shell's quoting rules (single quotes, double quotes with
``$`` expansion, backslashes, ``;`` ``&&`` ``||`` ``&`` ``|`` and redirections), so
a command line that is quoted wrongly misbehaves here as it would on a phone; unquoted
parentheses are a syntax error and command substitution is refused rather than run.

Commands: ``input``, ``screencap``, ``wm``, ``dumpsys``, ``settings``, ``svc``, ``cmd``,
``am``, ``monkey``, ``pm``, ``ime``, ``content``, ``uiautomator``, ``getprop``/``setprop``,
the usual small tools (``echo``, ``cat``, ``grep``, ``head``, ``tail``, ``wc``, ``rm``,
``ls``, ``sleep``, ``true``, ``false``, ``exit``, ``id``, ``which``), and ``simphone``:

- ``simphone state``: the whole state as JSON; ``simphone reset``: back to the start state;
- ``simphone load BASE64_JSON``: replace the state (a partial state is merged over the default);
- ``simphone log [clear]``: the command lines received, oldest first (for tests).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from guiagent.envs.adb_keys import KEYCODES
from guiagent.envs.simphone.phone import Phone
from guiagent.envs.simphone.state import ADB_IME, LATIN_IME, LAUNCHER, merge_state

SH = "/system/bin/sh"
Result = tuple[bytes, bytes, int]


class ShellSyntaxError(Exception):
    """A command line the device shell would reject."""


# ------------------------------------------------------------------ parsing


@dataclass
class Var:
    name: str


@dataclass
class Word:
    parts: list = field(default_factory=list)  # str literals and Vars

    def add(self, text: str) -> None:
        if self.parts and isinstance(self.parts[-1], str):
            self.parts[-1] += text
        else:
            self.parts.append(text)


@dataclass
class Op:
    op: str
    fd: int | None = None


@dataclass
class Redirect:
    fd: int
    op: str  # '>', '>>', '<', '>&', '<&'
    target: Word


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


_OPS = ("&&", "||", ">>", ">&", "<&", ";", "&", "|", "<", ">", "(", ")")


def tokenize(line: str) -> list[Word | Op]:
    """Split a command line into words and operators, honouring sh quoting."""
    tokens: list[Word | Op] = []
    cur: Word | None = None
    i, n = 0, len(line)

    def word() -> Word:
        nonlocal cur
        if cur is None:
            cur = Word()
        return cur

    def flush() -> None:
        nonlocal cur
        if cur is not None:
            tokens.append(cur)
            cur = None

    def variable(i: int) -> tuple[Var | str, int]:
        # line[i] == '$'
        nxt = line[i + 1] if i + 1 < n else ""
        if nxt in ("?", "$", "#", "!") and nxt:
            return Var(nxt), i + 2
        if nxt == "{":
            end = line.find("}", i + 2)
            if end < 0:
                raise ShellSyntaxError("${: bad substitution")
            return Var(line[i + 2:end]), end + 1
        if nxt == "(":
            raise ShellSyntaxError("command substitution $(...) is not supported by the simulated phone")
        m = re.match(r"[A-Za-z_][A-Za-z0-9_]*", line[i + 1:])
        if m:
            return Var(m.group()), i + 1 + m.end()
        return "$", i + 1

    while i < n:
        c = line[i]
        if c in " \t":
            flush()
            i += 1
        elif c == "\n":
            flush()
            tokens.append(Op("\n"))
            i += 1
        elif c == "#" and cur is None:
            end = line.find("\n", i)
            i = n if end < 0 else end
        elif c == "\\":
            if i + 1 < n and line[i + 1] == "\n":
                i += 2
            elif i + 1 < n:
                word().add(line[i + 1])
                i += 2
            else:
                word().add("\\")
                i += 1
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("no closing quote")
            word().add(line[i + 1:end])
            i = end + 1
        elif c == '"':
            w = word()
            w.add("")
            i += 1
            while True:
                if i >= n:
                    raise ShellSyntaxError("no closing quote")
                c = line[i]
                if c == '"':
                    i += 1
                    break
                if c == "\\" and i + 1 < n and line[i + 1] in '$`"\\\n':
                    if line[i + 1] != "\n":
                        w.add(line[i + 1])
                    i += 2
                elif c == "$":
                    part, i = variable(i)
                    w.parts.append(part) if isinstance(part, Var) else w.add(part)
                elif c == "`":
                    raise ShellSyntaxError("command substitution `...` is not supported by the simulated phone")
                else:
                    w.add(c)
                    i += 1
        elif c == "$":
            part, i = variable(i)
            w = word()
            w.parts.append(part) if isinstance(part, Var) else w.add(part)
        elif c == "`":
            raise ShellSyntaxError("command substitution `...` is not supported by the simulated phone")
        elif c in ";&|<>()":
            fd = None
            if c in "<>" and cur is not None and len(cur.parts) == 1 and isinstance(cur.parts[0], str) \
                    and cur.parts[0].isdigit():
                fd = int(cur.parts[0])
                cur = None
            flush()
            op = next(o for o in _OPS if line.startswith(o, i))
            tokens.append(Op(op, fd))
            i += len(op)
        else:
            word().add(c)
            i += 1
    flush()
    return tokens


def parse(line: str) -> list[tuple[str, list[Command]]]:
    """The command line as ``[(connector, pipeline)]``; connector is '', ';', '&', '&&' or '||'."""
    seq: list[tuple[str, list[Command]]] = []
    connector = ""
    pipeline: list[Command] = []
    cmd = Command()
    pending: Op | None = None

    def end_command(op: str) -> None:
        nonlocal cmd
        if not cmd.words and not cmd.redirects:
            raise ShellSyntaxError(f"syntax error: '{op}' unexpected")
        pipeline.append(cmd)
        cmd = Command()

    for tok in tokenize(line):
        if isinstance(tok, Word):
            if pending is not None:
                default_fd = 0 if pending.op in ("<", "<&") else 1
                cmd.redirects.append(Redirect(pending.fd if pending.fd is not None else default_fd, pending.op, tok))
                pending = None
            else:
                cmd.words.append(tok)
            continue
        if pending is not None:
            raise ShellSyntaxError(f"syntax error: '{tok.op}' unexpected")
        if tok.op in ("(", ")"):
            raise ShellSyntaxError(f"syntax error: '{tok.op}' unexpected")
        if tok.op in (">", ">>", "<", ">&", "<&"):
            pending = tok
        elif tok.op == "|":
            end_command("|")
        else:  # ; & && || and newlines
            if not cmd.words and not cmd.redirects and not pipeline:
                if tok.op == "\n":
                    continue  # blank lines
                raise ShellSyntaxError(f"syntax error: '{tok.op}' unexpected")
            end_command(tok.op)
            seq.append((connector, pipeline))
            pipeline = []
            connector = ";" if tok.op == "\n" else tok.op
    if pending is not None:
        raise ShellSyntaxError("syntax error: unexpected end of line after a redirection")
    if cmd.words or cmd.redirects:
        pipeline.append(cmd)
    elif pipeline:
        raise ShellSyntaxError("syntax error: unexpected end of line after '|'")
    if pipeline:
        seq.append((connector, pipeline))
    elif connector in ("&&", "||"):
        raise ShellSyntaxError(f"syntax error: unexpected end of line after '{connector}'")
    return seq


class _Exit(Exception):
    def __init__(self, rc: int) -> None:
        self.rc = rc


def _b(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("utf-8")


# ------------------------------------------------------------------ the shell


class Shell:
    """Runs command lines against a `Phone`; `run(line)` -> (stdout, stderr, exit code)."""

    def __init__(self, phone: Phone) -> None:
        self.phone = phone
        self.log: deque[str] = deque(maxlen=500)
        self.env = {"HOME": "/", "EXTERNAL_STORAGE": "/sdcard", "PATH": "/system/bin:/system/xbin",
                    "ANDROID_DATA": "/data", "$": "4242", "#": "0", "!": ""}
        self.commands: dict[str, Callable[[list[str], bytes], Result]] = {
            name[4:]: getattr(self, name) for name in dir(self) if name.startswith("cmd_")
        }
        self.commands["["] = self.cmd_test

    def run(self, line: str) -> Result:
        """Execute a command line; the phone is locked for its duration."""
        self.log.append(line)
        with self.phone.lock:
            try:
                seq = parse(line)
            except ShellSyntaxError as exc:
                return b"", _b(f"{SH}: {exc}\n"), 2
            out, err = bytearray(), bytearray()
            rc = 0
            try:
                for connector, pipeline in seq:
                    if (connector == "&&" and rc != 0) or (connector == "||" and rc == 0):
                        continue
                    o, e, rc = self._pipeline(pipeline, rc)
                    out += o
                    err += e
            except _Exit as ex:
                rc = ex.rc
            except ShellSyntaxError as exc:
                err += _b(f"{SH}: {exc}\n")
                rc = 2
            return bytes(out), bytes(err), rc

    def _expand(self, word: Word, rc: int) -> str:
        out = []
        for part in word.parts:
            if isinstance(part, Var):
                out.append(str(rc) if part.name == "?" else self.env.get(part.name, ""))
            else:
                out.append(part)
        return "".join(out)

    def _pipeline(self, pipeline: list[Command], rc: int) -> Result:
        stdin = b""
        err_all = bytearray()
        out = b""
        for cmd in pipeline:
            out, err, rc = self._command(cmd, stdin, rc)
            err_all += err
            stdin = out
        return out, bytes(err_all), rc

    def _command(self, cmd: Command, stdin: bytes, rc: int) -> Result:
        args = [self._expand(w, rc) for w in cmd.words]
        # fd -> sink: "out", "err", "null" or ("file", path, append)
        fds: dict[int, object] = {1: "out", 2: "err"}
        for r in cmd.redirects:
            target = self._expand(r.target, rc)
            if r.op in (">&", "<&"):
                if target.isdigit() and int(target) in fds:
                    fds[r.fd] = fds[int(target)]
                elif target == "-":
                    fds[r.fd] = "null"
                else:
                    return b"", _b(f"{SH}: {target}: bad file descriptor\n"), 1
            elif r.op == "<":
                try:
                    stdin = self._read_file(target)
                except FileNotFoundError:
                    return b"", _b(f"{SH}: can't open {target}: No such file or directory\n"), 1
            else:
                fds[r.fd] = "null" if target == "/dev/null" else (
                    "out" if target in ("/dev/tty", "/dev/stdout") else ("file", target, r.op == ">>"))
        if not args:
            out, err, rc = b"", b"", 0
        else:
            fn = self.commands.get(args[0].rsplit("/", 1)[-1] if args[0].startswith("/system/") else args[0])
            if fn is None:
                out, err, rc = b"", _b(f"{SH}: {args[0]}: inaccessible or not found\n"), 127
            else:
                try:
                    out, err, rc = fn(args[1:], stdin)
                except _Exit:
                    raise
                except (ValueError, IndexError, KeyError) as exc:
                    out, err, rc = b"", _b(f"{args[0]}: {exc}\n"), 1
                out, err = _b(out), _b(err)
        sinks: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
        for fd, data in ((1, out), (2, err)):
            sink = fds.get(fd, "null")
            if sink in ("out", "err"):
                sinks[sink] += data
            elif isinstance(sink, tuple):
                _, path, append = sink
                files = self.phone.state["files"]
                prev = files.get(path, "") if append else ""
                files[path] = prev + data.decode("utf-8", "replace")
        return bytes(sinks["out"]), bytes(sinks["err"]), rc

    def _read_file(self, path: str) -> bytes:
        files = self.phone.state["files"]
        if path not in files:
            raise FileNotFoundError(path)
        return files[path].encode("utf-8")

    # ------------------------------------------------------------ small tools

    def cmd_echo(self, args: list[str], stdin: bytes) -> Result:
        newline = True
        if args and args[0] == "-n":
            newline, args = False, args[1:]
        return (" ".join(args) + ("\n" if newline else "")).encode(), b"", 0

    def cmd_true(self, args, stdin):
        return b"", b"", 0

    def cmd_false(self, args, stdin):
        return b"", b"", 1

    def cmd_sleep(self, args, stdin):
        # Deterministic and fast: the simulated phone has nothing running in the background.
        return b"", b"", 0

    def cmd_exit(self, args, stdin):
        raise _Exit(int(args[0]) if args and args[0].isdigit() else 0)

    def cmd_id(self, args, stdin):
        return b"uid=2000(shell) gid=2000(shell) groups=2000(shell) context=u:r:shell:s0\n", b"", 0

    def cmd_whoami(self, args, stdin):
        return b"shell\n", b"", 0

    def cmd_uname(self, args, stdin):
        return (b"Linux localhost 5.15.0-simphone #1 SMP PREEMPT aarch64 Toybox\n" if "-a" in args
                else b"Linux\n"), b"", 0

    def cmd_which(self, args, stdin):
        found = [f"/system/bin/{a}" for a in args if a in self.commands]
        return "".join(f + "\n" for f in found).encode(), b"", 0 if len(found) == len(args) else 1

    def cmd_test(self, args, stdin):
        args = [a for a in args if a != "]"]
        if len(args) == 3 and args[1] in ("=", "=="):
            return b"", b"", 0 if args[0] == args[2] else 1
        if len(args) == 3 and args[1] == "!=":
            return b"", b"", 0 if args[0] != args[2] else 1
        if len(args) == 2 and args[0] in ("-e", "-f"):
            return b"", b"", 0 if args[1] in self.phone.state["files"] else 1
        if len(args) == 2 and args[0] == "-n":
            return b"", b"", 0 if args[1] else 1
        if len(args) == 2 and args[0] == "-z":
            return b"", b"", 0 if not args[1] else 1
        return b"", b"", 0 if args and args[0] else 1

    def cmd_cat(self, args, stdin):
        if not args:
            return stdin, b"", 0
        out, err, rc = bytearray(), bytearray(), 0
        for path in args:
            try:
                out += self._read_file(path)
            except FileNotFoundError:
                err += _b(f"cat: {path}: No such file or directory\n")
                rc = 1
        return bytes(out), bytes(err), rc

    def cmd_rm(self, args, stdin):
        force = any(a.startswith("-") and "f" in a for a in args)
        err, rc = bytearray(), 0
        for path in (a for a in args if not a.startswith("-")):
            if self.phone.state["files"].pop(path, None) is None and not force:
                err += _b(f"rm: {path}: No such file or directory\n")
                rc = 1
        return b"", bytes(err), rc

    def cmd_touch(self, args, stdin):
        for path in (a for a in args if not a.startswith("-")):
            self.phone.state["files"].setdefault(path, "")
        return b"", b"", 0

    def cmd_mkdir(self, args, stdin):
        return b"", b"", 0

    def cmd_ls(self, args, stdin):
        paths = [a for a in args if not a.startswith("-")] or ["/sdcard"]
        out = []
        for p in paths:
            prefix = p.rstrip("/") + "/"
            names = sorted(f[len(prefix):] for f in self.phone.state["files"] if f.startswith(prefix)
                           and "/" not in f[len(prefix):])
            if p in self.phone.state["files"]:
                names = [p]
            out.extend(names)
        return "".join(f"{n}\n" for n in out).encode(), b"", 0

    def cmd_grep(self, args, stdin):
        flags, patterns, files = set(), [], []
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
        text = b"".join(self._read_file(f) for f in files) if files else stdin
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

    def _count(self, args) -> tuple[int, list[str]]:
        n, rest = 10, []
        it = iter(args)
        for a in it:
            if a == "-n":
                n = int(next(it))
            elif re.fullmatch(r"-n?\d+", a):
                n = int(a.lstrip("-n"))
            else:
                rest.append(a)
        return n, rest

    def cmd_head(self, args, stdin):
        n, files = self._count(args)
        text = b"".join(self._read_file(f) for f in files) if files else stdin
        return b"".join(text.splitlines(keepends=True)[:n]), b"", 0

    def cmd_tail(self, args, stdin):
        n, files = self._count(args)
        text = b"".join(self._read_file(f) for f in files) if files else stdin
        return b"".join(text.splitlines(keepends=True)[-n:] if n else []), b"", 0

    def cmd_wc(self, args, stdin):
        if "-c" in args:
            return f"{len(stdin)}\n".encode(), b"", 0
        return b"%d\n" % stdin.count(b"\n"), b"", 0

    # ------------------------------------------------------------ properties

    def cmd_getprop(self, args, stdin):
        props = self.phone.props
        if not args:
            return "".join(f"[{k}]: [{v}]\n" for k, v in sorted(props.items())).encode(), b"", 0
        return (props.get(args[0], args[1] if len(args) > 1 else "") + "\n").encode(), b"", 0

    def cmd_setprop(self, args, stdin):
        if len(args) != 2:
            return b"", b"usage: setprop NAME VALUE\n", 1
        if args[0].startswith("ro.") and args[0] in self.phone.props:
            return b"", _b(f"Failed to set property '{args[0]}' to '{args[1]}'.\n"), 1
        self.phone.props[args[0]] = args[1]
        return b"", b"", 0

    # ------------------------------------------------------------ input

    def cmd_input(self, args: list[str], stdin: bytes) -> Result:
        sources = {"keyboard", "gamepad", "touchscreen", "touchpad", "mouse", "stylus", "dpad", "trackball",
                   "joystick", "touchnavigation", "rotaryencoder"}
        args = list(args)
        if args and args[0] in sources:
            args.pop(0)
        if len(args) >= 2 and args[0] == "-d":
            args = args[2:]
        if not args:
            return b"", b"Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n", 1
        command, rest = args[0], args[1:]
        phone = self.phone
        try:
            if command == "text":
                if not rest:
                    raise ValueError
                return self._input_text(rest[0])
            if command == "keyevent":
                codes = []
                for a in rest:
                    if a.startswith("--"):
                        continue
                    code = _keycode(a)
                    if code is None:
                        return b"", _b(f"Error: Unknown keycode: {a}\n"), 1
                    codes.append(code)
                if not codes:
                    raise ValueError
                for code in codes:
                    phone.key(code)
                return b"", b"", 0
            if command == "tap":
                x, y = float(rest[0]), float(rest[1])
                phone.tap(x, y)
                return b"", b"", 0
            if command in ("swipe", "draganddrop"):
                x1, y1, x2, y2 = (float(v) for v in rest[:4])
                ms = int(float(rest[4])) if len(rest) > 4 else 300
                phone.swipe(x1, y1, x2, y2, ms)
                return b"", b"", 0
            if command == "press":
                phone.key(23)
                return b"", b"", 0
            if command in ("roll", "motionevent", "keycombination"):
                return b"", b"", 0
        except (ValueError, IndexError):
            return b"", _b(f"Error: Invalid arguments for command: {command}\n"
                           "Usage: input [<source>] [-d DISPLAY_ID] <command> [<arg>...]\n"), 1
        return b"", _b(f"Error: Unknown command: {command}\n"), 1

    def _input_text(self, arg: str) -> Result:
        # Android's InputShellCommand.sendText: "%s" becomes a space, then every character
        # goes through the virtual keyboard's key map, which has no non-ASCII keys.
        text = list(arg)
        escape = False
        i = 0
        while i < len(text):
            if escape:
                escape = False
                if text[i] == "s":
                    text[i] = " "
                    del text[i - 1]
                    i -= 1
            if text[i] == "%":
                escape = True
            i += 1
        result = "".join(text)
        if any(not (" " <= ch <= "~" or ch in "\n\t") for ch in result):
            return b"", (b"Exception occurred while executing 'text':\n"
                         b"java.lang.NullPointerException: Attempt to get length of null array\n"
                         b"\tat com.android.server.input.InputShellCommand.sendText(InputShellCommand.java:420)\n"), 255
        self.phone.type_chars(result)
        return b"", b"", 0

    # ------------------------------------------------------------ screen

    def cmd_screencap(self, args, stdin):
        png = "-p" in args
        positional = []
        it = iter(args)
        for a in it:
            if a in ("-d",):
                next(it, None)
            elif not a.startswith("-"):
                positional.append(a)
        if positional:
            path = positional[0]
            data = self.phone.png() if png or path.endswith(".png") else self.phone.raw()
            # Files hold text; a capture is kept base64-encoded so `simphone state` stays JSON.
            self.phone.state["files"][path] = "base64:" + base64.b64encode(data).decode()
            return b"", b"", 0
        return (self.phone.png() if png else self.phone.raw()), b"", 0

    def cmd_uiautomator(self, args, stdin):
        if not args or args[0] != "dump":
            return b"", b"Usage: uiautomator dump [--compressed] [FILE]\n", 1
        paths = [a for a in args[1:] if not a.startswith("--")]
        path = paths[0] if paths else "/sdcard/window_dump.xml"
        xml = self.phone.hierarchy()
        # (sic) "hierchary": the real tool's message.
        if path in ("/dev/tty", "/dev/stdout"):
            return (xml + f"UI hierchary dumped to: {path}\n").encode(), b"", 0
        self.phone.state["files"][path] = xml
        return f"UI hierchary dumped to: {path}\n".encode(), b"", 0

    def cmd_wm(self, args, stdin):
        phone = self.phone
        pw, ph = phone.m.width, phone.m.height
        wm = phone.state["wm"]
        if not args:
            return b"", b"usage: wm [size|density|user-rotation] ...\n", 1
        sub, rest = args[0], args[1:]
        if sub == "size":
            if not rest:
                out = f"Physical size: {pw}x{ph}\n"
                if wm.get("size"):
                    out += f"Override size: {wm['size'][0]}x{wm['size'][1]}\n"
                return out.encode(), b"", 0
            if rest[0] == "reset":
                wm["size"] = None
            else:
                m = re.fullmatch(r"(\d+)x(\d+)", rest[0])
                if not m or not (100 <= int(m.group(1)) <= 8192 and 100 <= int(m.group(2)) <= 8192):
                    return b"", _b(f"Error: bad size {rest[0]}\n"), 1
                wm["size"] = [int(m.group(1)), int(m.group(2))]
            phone.changed()
            return b"", b"", 0
        if sub == "density":
            if not rest:
                out = f"Physical density: {phone.props['ro.sf.lcd_density']}\n"
                if wm.get("density"):
                    out += f"Override density: {wm['density']}\n"
                return out.encode(), b"", 0
            wm["density"] = None if rest[0] == "reset" else int(rest[0])
            return b"", b"", 0
        if sub == "user-rotation":
            system = phone.settings("system")
            if not rest:
                mode = "free" if system.get("accelerometer_rotation") == "1" else "lock"
                return f"{mode} {system.get('user_rotation', '0')}\n".encode(), b"", 0
            if rest[0] == "free":
                system["accelerometer_rotation"] = "1"
            else:
                system["accelerometer_rotation"] = "0"
                system["user_rotation"] = str(int(rest[-1]) % 4)
            phone.changed()
            return b"", b"", 0
        return b"", _b(f"Error: unknown command '{sub}'\n"), 1

    # ------------------------------------------------------------ dumpsys

    def _component(self, full: bool = False) -> tuple[str, str]:
        phone = self.phone
        if phone.foreground == LAUNCHER or phone.app(phone.foreground) is None:
            pkg, act = LAUNCHER, phone.launcher.activity
        else:
            app = phone.app(phone.foreground)
            assert app is not None  # checked just above
            pkg, act = app.package, app.activity
        if full and act.startswith("."):
            act = pkg + act
        return pkg, act

    def cmd_dumpsys(self, args, stdin):
        phone = self.phone
        service = args[0] if args else ""
        r = phone.rotation()
        nw, nh = phone.natural_size()
        dw, dh = phone.display_size()
        pkg, act = self._component()
        _, full = self._component(full=True)
        if service == "window":
            lines = [
                "WINDOW MANAGER WINDOWS (dumpsys window windows)",
                f"  Window #0 Window{{5e1a0c2 u0 {pkg}/{full}}}:",
                "    mDisplayId=0 rootTaskId=12 mSession=Session{a1b2c3 4321:u0a10123} mClient=android.os.BinderProxy@1",
                f"    mFrame=[0,0][{dw},{dh}]",
            ]
            if phone.keyboard_visible():
                lines.append("  Window #1 Window{7c3d9e1 u0 InputMethod}:")
                lines.append("    mDisplayId=0 mIsImWindow=true")
            lines += [
                "",
                f"  mCurrentFocus=Window{{5e1a0c2 u0 {pkg}/{full}}}",
                f"  mFocusedApp=ActivityRecord{{9f8e7d6 u0 {pkg}/{act} t12}}",
                f"  mInputMethodTarget=Window{{5e1a0c2 u0 {pkg}/{full}}}" if phone.keyboard_visible() else "",
                "",
                "WINDOW MANAGER DISPLAY CONTENTS (dumpsys window displays)",
                "  Display: mDisplayId=0 rootTasks=1",
                f"    init={phone.m.width}x{phone.m.height} {phone.props['ro.sf.lcd_density']}dpi "
                f"base={nw}x{nh} cur={dw}x{dh} app={dw}x{dh}",
                f"    mCurrentRotation=ROTATION_{90 * r}",
                f"    mRotation={r}",
            ]
            return "\n".join(ln for ln in lines if ln is not None) + "\n", b"", 0
        if service == "activity":
            return (f"  mResumedActivity: ActivityRecord{{9f8e7d6 u0 {pkg}/{act} t12}}\n"
                    f"  ResumedActivity: ActivityRecord{{9f8e7d6 u0 {pkg}/{act} t12}}\n"
                    f"TASK 10012:{pkg} id=12 userId=0\n"
                    f"  ACTIVITY {pkg}/{act} 9f8e7d6 pid=4321\n").encode(), b"", 0
        if service == "display":
            return (f"DISPLAY MANAGER (dumpsys display)\n"
                    f"  mViewports=[DisplayViewport{{type=INTERNAL, valid=true, isActive=true, displayId=0, "
                    f"uniqueId='local:0', physicalPort=0, orientation={r}, logicalFrame=Rect(0, 0 - {dw}, {dh}), "
                    f"physicalFrame=Rect(0, 0 - {dw}, {dh}), deviceWidth={dw}, deviceHeight={dh}}}]\n"
                    f"  mCurrentOrientation={r}\n"
                    f"  mOverrideDisplayInfo=DisplayInfo{{\"Built-in Screen\", displayId 0, real {dw} x {dh}, "
                    f"rotation {r}, density {phone.props['ro.sf.lcd_density']}}}\n").encode(), b"", 0
        if service == "input":
            return (f"INPUT MANAGER (dumpsys input)\n  Viewport INTERNAL: displayId=0, uniqueId=local:0, port=0, "
                    f"orientation={r}, logicalFrame=[0, 0, {dw}, {dh}]\n"
                    f"    SurfaceOrientation: {r}\n").encode(), b"", 0
        if service == "input_method":
            shown = "true" if phone.keyboard_visible() else "false"
            return (f"Input Method Manager Service state:\n  mCurMethodId={phone.current_ime()}\n"
                    f"  mInputShown={shown}\n  mIsInputViewShown={shown}\n"
                    f"  mServedView={'EditText' if phone.focused_field() else 'null'}\n").encode(), b"", 0
        if service == "power":
            on = phone.state["screen_on"]
            return (f"POWER MANAGER (dumpsys power)\n  mWakefulness={'Awake' if on else 'Asleep'}\n"
                    f"  mInteractive={'true' if on else 'false'}\n"
                    f"  Display Power: state={'ON' if on else 'OFF'}\n").encode(), b"", 0
        if service == "battery":
            return (b"Current Battery Service state:\n  AC powered: true\n  USB powered: false\n"
                    b"  status: 5\n  health: 2\n  present: true\n  level: 100\n  scale: 100\n"), b"", 0
        if service == "package":
            return self._dump_package(args[1] if len(args) > 1 else "")
        if not service:
            return b"Currently running services:\n  activity\n  battery\n  display\n  input\n  input_method\n" \
                   b"  package\n  power\n  window\n", b"", 0
        return f"Can't find service: {service}\n".encode(), b"", 0

    def _dump_package(self, pkg: str) -> Result:
        if pkg not in self.phone.packages():
            return b"", b"", 0
        app = self.phone.app(pkg)
        lines = []
        if app is not None:
            lines += ["Activity Resolver Table:", "  Non-Data Actions:", "      android.intent.action.MAIN:",
                      f"        5d4c3b2 {app.component} filter 1a2b3c4",
                      "          Action: \"android.intent.action.MAIN\"",
                      "          Category: \"android.intent.category.LAUNCHER\"", ""]
        lines += ["Packages:", f"  Package [{pkg}] (0f1e2d3):", "    userId=10123", f"    pkg=Package{{0f1e2d3 {pkg}}}",
                  "    versionCode=1 minSdk=24 targetSdk=34", "    versionName=1.0",
                  f"    dataDir=/data/user/0/{pkg}"]
        return ("\n".join(lines) + "\n").encode(), b"", 0

    # ------------------------------------------------------------ settings

    def cmd_settings(self, args, stdin):
        args = list(args)
        while args and args[0] == "--user":
            args = args[2:]
        if len(args) < 2:
            return b"", b"usage:  settings [--user <USER_ID> | current] get namespace key\n", 1
        verb, ns, rest = args[0], args[1], args[2:]
        if ns not in ("global", "secure", "system"):
            return b"", _b(f"Invalid namespace '{ns}'\n"), 1
        table = self.phone.settings(ns)
        if verb == "get" and rest:
            return (table.get(rest[0], "null") + "\n").encode(), b"", 0
        if verb == "put" and len(rest) >= 2:
            table[rest[0]] = rest[1]
            self.phone.changed()
            return b"", b"", 0
        if verb == "delete" and rest:
            existed = table.pop(rest[0], None) is not None
            self.phone.changed()
            return f"Deleted {int(existed)} rows\n".encode(), b"", 0
        if verb == "list":
            return "".join(f"{k}={v}\n" for k, v in sorted(table.items())).encode(), b"", 0
        return b"", _b(f"Invalid command: {verb}\n"), 1

    def _radio(self, key: str, on: bool) -> None:
        self.phone.settings("global")[key] = "1" if on else "0"
        if key == "airplane_mode_on" and on:
            self.phone.settings("global").update(wifi_on="0", bluetooth_on="0")
        self.phone.changed()

    def cmd_svc(self, args, stdin):
        if len(args) >= 2 and args[0] in ("wifi", "bluetooth") and args[1] in ("enable", "disable"):
            self._radio("wifi_on" if args[0] == "wifi" else "bluetooth_on", args[1] == "enable")
            return b"", b"", 0
        if args and args[0] in ("power", "data", "usb", "nfc"):
            return b"", b"", 0
        return b"", b"Available commands: help power data wifi usb nfc bluetooth\n", 1

    def cmd_cmd(self, args, stdin):
        if not args:
            return b"", b"cmd: no service specified; use -l to list all services\n", 20
        service, rest = args[0], args[1:]
        if service == "-l":
            return b"activity\nbluetooth_manager\nconnectivity\ninput_method\npackage\nsettings\nwifi\nwindow\n", b"", 0
        delegate = {"package": self.cmd_pm, "activity": self.cmd_am, "input_method": self.cmd_ime,
                    "settings": self.cmd_settings, "window": self.cmd_wm, "input": self.cmd_input}.get(service)
        if delegate is not None:
            return delegate(rest, stdin)
        g = self.phone.settings("global")
        if service == "wifi":
            if len(rest) >= 2 and rest[0] == "set-wifi-enabled" and rest[1] in ("enabled", "disabled"):
                self._radio("wifi_on", rest[1] == "enabled")
                return b"", b"", 0
            if rest and rest[0] == "status":
                return f"Wifi is {'enabled' if g.get('wifi_on') == '1' else 'disabled'}\n".encode(), b"", 0
        if service == "bluetooth_manager" and rest and rest[0] in ("enable", "disable"):
            self._radio("bluetooth_on", rest[0] == "enable")
            return b"", b"", 0
        if service == "connectivity" and rest and rest[0] == "airplane-mode":
            if len(rest) == 1:
                return f"{'enabled' if g.get('airplane_mode_on') == '1' else 'disabled'}\n".encode(), b"", 0
            self._radio("airplane_mode_on", rest[1] == "enable")
            return b"", b"", 0
        if service == "statusbar":
            return b"", b"", 0
        return f"Can't find service: {service}\n".encode(), b"", 20

    # ------------------------------------------------------------ activities

    def _resolve_component(self, comp: str):
        pkg, _, act = comp.partition("/")
        app = self.phone.app(pkg)
        if pkg == LAUNCHER and act in (self.phone.launcher.activity, LAUNCHER + self.phone.launcher.activity):
            return "home"
        if app is None:
            return None
        if act in (app.activity, pkg + app.activity):
            return app
        return None

    def cmd_am(self, args, stdin):
        if not args:
            return b"", b"usage: am [start|force-stop|broadcast|kill] ...\n", 1
        sub, rest = args[0], args[1:]
        phone = self.phone
        if sub in ("force-stop", "kill", "stop-app"):
            pkgs = [a for a in rest if not a.startswith("-") and "." in a]
            for pkg in pkgs:
                if phone.app(pkg) is not None:
                    phone.force_stop(pkg)
            return b"", b"", 0
        intent = _parse_intent(rest)
        if sub in ("start", "start-activity"):
            if intent.get("-S") and intent.get("component"):
                pkg = intent["component"].partition("/")[0]
                if phone.app(pkg) is not None:
                    phone.force_stop(pkg)
            desc = _intent_desc(intent)
            target = None
            if intent.get("component"):
                target = self._resolve_component(intent["component"])
                if target is None:
                    return (f"Starting: Intent {{ {desc} }}\n").encode(), _b(
                        f"Error type 3\nError: Activity class {{{intent['component']}}} does not exist.\n"), 1
            elif intent.get("category") == "android.intent.category.HOME":
                target = "home"
            elif (intent.get("action") or "").startswith("android.settings."):
                target = phone.app("com.android.settings")
            elif intent.get("action") == "android.intent.action.MAIN" and intent.get("package"):
                target = phone.app(intent["package"])
            if target is None:
                return (f"Starting: Intent {{ {desc} }}\n").encode(), _b(
                    f"Error: Activity not started, unable to resolve Intent {{ {desc} }}\n"), 1
            if target == "home":
                phone.home()
            else:
                phone.launch(target.package)
            out = f"Starting: Intent {{ {desc} }}\n"
            if intent.get("-W"):
                out += "Status: ok\nLaunchState: COLD\nTotalTime: 12\nWaitTime: 14\nComplete\n"
            return out.encode(), b"", 0
        if sub == "broadcast":
            return self._broadcast(intent)
        return b"", _b(f"Error: Unknown command: {sub}\n"), 1

    def _broadcast(self, intent: dict) -> Result:
        phone = self.phone
        action = intent.get("action") or ""
        extras = intent.get("extras", {})
        head = f"Broadcasting: Intent {{ {_intent_desc(intent)} flg=0x400000{' (has extras)' if extras else ''} }}\n"
        # ADBKeyboard's receiver lives in the input method: it only hears these while it is
        # the current IME and an editor is connected.
        if action.startswith("ADB_") and phone.current_ime() == ADB_IME and ADB_IME in phone.state["imes"]:
            if action == "ADB_INPUT_TEXT" and "msg" in extras:
                phone.commit_text(str(extras["msg"]))
            elif action == "ADB_INPUT_B64" and "msg" in extras:
                try:
                    text = base64.b64decode(str(extras["msg"]), validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    text = None
                if text is not None:
                    phone.commit_text(text)
            elif action == "ADB_INPUT_CHARS" and "chars" in extras:
                phone.commit_text("".join(chr(int(c)) for c in extras["chars"]))
            elif action == "ADB_CLEAR_TEXT":
                phone.clear_text()
            elif action in ("ADB_INPUT_CODE", "ADB_EDITOR_CODE") and "code" in extras:
                phone.key(int(extras["code"])) if action == "ADB_INPUT_CODE" else phone.enter()
        return (head + "Broadcast completed: result=0\n").encode(), b"", 0

    def cmd_monkey(self, args, stdin):
        pkgs, category, count = [], None, None
        it = iter(args)
        for a in it:
            if a == "-p":
                pkgs.append(next(it))
            elif a == "-c":
                category = next(it)
            elif a in ("--throttle", "-s", "--pct-syskeys", "--pct-touch", "--pct-motion", "--pct-appswitch",
                       "--pct-anyevent", "--pct-trackball", "--pct-nav", "--pct-majornav", "--pct-flip",
                       "--pct-pinchzoom", "--pct-rotation"):
                next(it, None)
            elif a.isdigit():
                count = int(a)
        if count is None:
            return b"", b"** Error: Count not specified\nusage: monkey [-p ALLOWED_PACKAGE [-p ALLOWED_PACKAGE] ...]\n", 1
        apps = [self.phone.app(p) for p in pkgs if self.phone.app(p) is not None]
        if category not in (None, "android.intent.category.LAUNCHER", "android.intent.category.MONKEY") or not apps:
            return b"** No activities found to run, monkey aborted.\n", b"", 251
        self.phone.launch(apps[0].package)
        return (b"Events injected: 1\n"
                b"## Network stats: elapsed time=8ms (0ms mobile, 0ms wifi, 8ms not connected)\n"), b"", 0

    # ------------------------------------------------------------ packages

    def cmd_pm(self, args, stdin):
        if not args:
            return b"", b"usage: pm [list|path|clear|uninstall|resolve-activity|query-activities] ...\n", 1
        sub, rest = args[0], args[1:]
        phone = self.phone
        if sub == "list" and rest and rest[0] == "packages":
            opts = {a for a in rest[1:] if a.startswith("-")}
            filt = next((a for a in rest[1:] if not a.startswith("-")), "")
            third = {"com.simphone.notes", "com.android.adbkeyboard"}
            out = []
            for pkg in phone.packages():
                if "-3" in opts and pkg not in third or "-s" in opts and pkg in third or filt not in pkg:
                    continue
                out.append(f"package:{_apk(pkg)}={pkg}" if "-f" in opts else f"package:{pkg}")
            return "".join(o + "\n" for o in out).encode(), b"", 0
        if sub == "path" and rest:
            if rest[-1] in phone.packages():
                return f"package:{_apk(rest[-1])}\n".encode(), b"", 0
            return b"", b"", 1
        if sub == "clear" and rest:
            pkg = rest[-1]
            if pkg not in phone.packages():
                return b"Failed\n", b"", 1
            table = {"com.simphone.notes": "notes", "com.android.deskclock": "alarms",
                     "com.android.providers.contacts": "contacts"}.get(pkg)
            if table:
                phone.state[table] = []
            if phone.app(pkg) is not None:
                phone.force_stop(pkg)
            phone.changed()
            return b"Success\n", b"", 0
        if sub == "uninstall" and rest:
            pkg = rest[-1]
            if pkg == "com.android.adbkeyboard" and ADB_IME in phone.state["imes"]:
                phone.state["imes"] = [i for i in phone.state["imes"] if i != ADB_IME]
                secure = phone.settings("secure")
                enabled = [i for i in secure.get("enabled_input_methods", "").split(":") if i and i != ADB_IME]
                secure["enabled_input_methods"] = ":".join(enabled)
                if secure.get("default_input_method") == ADB_IME:
                    secure["default_input_method"] = LATIN_IME
                phone.changed()
                return b"Success\n", b"", 0
            if pkg in phone.packages():
                return b"Failure [DELETE_FAILED_INTERNAL_ERROR]\n", b"", 1
            return b"Failure [DELETE_FAILED_INTERNAL_ERROR]\n", b"", 1
        if sub == "dump" and rest:
            return self._dump_package(rest[-1])
        if sub in ("resolve-activity", "query-activities"):
            return self._query_activities(sub, rest)
        if sub in ("grant", "revoke", "disable-user", "enable"):
            return b"", b"", 0
        return b"", _b(f"Unknown command: {sub}\n"), 1

    def _query_activities(self, sub: str, rest: list[str]) -> Result:
        brief = "--brief" in rest
        components = "--components" in rest
        intent = _parse_intent([a for a in rest if a not in ("--brief", "--components")])
        category = intent.get("category")
        apps = self.phone.launchable()
        pkg = intent.get("package") or intent.get("data")
        if pkg:
            apps = [a for a in apps if a.package == pkg]
        if category not in (None, "android.intent.category.LAUNCHER", "android.intent.category.DEFAULT"):
            apps = []
        if sub == "resolve-activity":
            if not apps:
                return b"No activity found\n", b"", 0
            apps = apps[:1]
        if components:
            return "".join(a.component + "\n" for a in apps).encode(), b"", 0
        lines = [] if sub == "resolve-activity" else [f"{len(apps)} activities found:"]
        for i, app in enumerate(apps):
            if brief:
                lines += ["priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false",
                          app.component]
                continue
            indent = "" if sub == "resolve-activity" else "    "
            if sub == "query-activities":
                lines.append(f"  Activity #{i}:")
            lines += [
                f"{indent}priority=0 preferredOrder=0 match=0x108000 specificIndex=-1 isDefault=false",
                f"{indent}ActivityInfo:",
                f"{indent}  name={app.package}{app.activity}",
                f"{indent}  packageName={app.package}",
                f"{indent}  labelRes=0x7f1200a1 nonLocalizedLabel={app.label} icon=0x7f0800c2 banner=0x0",
                f"{indent}  enabled=true exported=true directBootAware=false",
            ]
        return ("\n".join(lines) + "\n").encode(), b"", 0

    # ------------------------------------------------------------ input methods

    def cmd_ime(self, args, stdin):
        phone = self.phone
        secure = phone.settings("secure")
        installed = list(phone.state["imes"])
        enabled = [i for i in secure.get("enabled_input_methods", "").split(":") if i in installed]
        if not args:
            return b"", b"usage: ime [list|enable|disable|set|reset] ...\n", 1
        sub, rest = args[0], args[1:]
        ids = [a for a in rest if not a.startswith("-")]
        if sub == "list":
            shown = installed if "-a" in rest else enabled
            if "-s" in rest:
                return "".join(i + "\n" for i in shown).encode(), b"", 0
            return "".join(f"{i}:\n  mId={i} mSettingsActivityName=null\n" for i in shown).encode(), b"", 0
        if sub in ("enable", "disable", "set") and ids:
            ime = ids[-1]
            if ime not in installed:
                return b"", _b(f"Unknown input method {ime} cannot be {'selected' if sub == 'set' else sub + 'd'}"
                               f" for user #0\n"), 1
            if sub == "enable":
                if ime in enabled:
                    return f"Input method {ime}: already enabled for user #0\n".encode(), b"", 0
                enabled.append(ime)
                secure["enabled_input_methods"] = ":".join(enabled)
                phone.changed()
                return f"Input method {ime}: now enabled for user #0\n".encode(), b"", 0
            if sub == "disable":
                enabled = [i for i in enabled if i != ime]
                secure["enabled_input_methods"] = ":".join(enabled)
                if secure.get("default_input_method") == ime:
                    secure["default_input_method"] = enabled[0] if enabled else ""
                phone.changed()
                return f"Input method {ime}: now disabled for user #0\n".encode(), b"", 0
            if ime not in enabled:
                return b"", _b(f"Unknown input method {ime} cannot be selected for user #0\n"), 1
            secure["default_input_method"] = ime
            phone.changed()
            return f"Input method {ime} selected for user #0\n".encode(), b"", 0
        if sub == "reset":
            secure["default_input_method"] = LATIN_IME
            phone.changed()
            return b"Reset current and enabled IMEs for user #0\n", b"", 0
        return b"", _b(f"Unknown command: {sub}\n"), 1

    # ------------------------------------------------------------ content providers

    def _provider_rows(self, uri: str) -> list[dict] | None:
        s = self.phone.state
        if uri in ("content://com.android.contacts/contacts", "content://com.android.contacts/raw_contacts"):
            return [{"_id": c["id"], "display_name": c["name"]} for c in s["contacts"]]
        if uri in ("content://com.android.contacts/data/phones", "content://com.android.contacts/data"):
            return [{"_id": c["id"], "contact_id": c["id"], "display_name": c["name"], "number": c["phone"] or None,
                     "data1": c["phone"] or None} for c in s["contacts"]]
        if uri == "content://com.simphone.notes/notes":
            return [{"_id": n["id"], "text": n["text"]} for n in s["notes"]]
        if uri == "content://com.android.deskclock/alarms":
            return [{"_id": a["id"], "hour": a["hour"], "minutes": a["minute"], "enabled": int(a["enabled"]),
                     "label": a["label"], "daysofweek": 0, "vibrate": 1} for a in s["alarms"]]
        m = re.fullmatch(r"content://settings/(global|secure|system)", uri)
        if m:
            table = s["settings"][m.group(1)]
            return [{"_id": i + 1, "name": k, "value": v} for i, (k, v) in enumerate(sorted(table.items()))]
        return None

    def cmd_content(self, args, stdin):
        if not args or args[0] != "query":
            return b"", b"usage: content query --uri <URI> [--projection <PROJECTION>] [--where <WHERE>] " \
                        b"[--sort <SORT_ORDER>]\n", 1
        opts: dict[str, str] = {}
        it = iter(args[1:])
        for a in it:
            if a in ("--uri", "--projection", "--where", "--sort", "--user"):
                opts[a[2:]] = next(it)
        if "uri" not in opts:
            return b"", b"[ERROR] Content provider URI not specified.\n", 1
        rows = self._provider_rows(opts["uri"])
        if rows is None:
            return b"", _b(f"Error while accessing provider:{opts['uri'].removeprefix('content://').split('/')[0]}\n"
                           f"java.lang.IllegalArgumentException: Unknown URI {opts['uri']}\n"), 1
        if "where" in opts:
            rows = [r for r in rows if _where(opts["where"], r)]
        if "sort" in opts:
            col, _, direction = opts["sort"].partition(" ")
            rows.sort(key=lambda r: (r.get(col) is None, r.get(col)), reverse=direction.strip().upper() == "DESC")
        if not rows:
            return b"No result found.\n", b"", 0
        cols = opts["projection"].split(":") if "projection" in opts else list(rows[0])
        for c in cols:
            if c not in rows[0]:
                return b"", _b(f"Error while accessing provider\njava.lang.IllegalArgumentException: "
                               f"Invalid column {c}\n"), 1
        out = []
        for i, r in enumerate(rows):
            out.append(f"Row: {i} " + ", ".join(f"{c}={'NULL' if r[c] is None else r[c]}" for c in cols))
        return ("\n".join(out) + "\n").encode(), b"", 0

    # ------------------------------------------------------------ simphone control

    def cmd_simphone(self, args, stdin):
        sub = args[0] if args else "help"
        phone = self.phone
        if sub == "state":
            return json.dumps(phone.state, sort_keys=True, ensure_ascii=False).encode() + b"\n", b"", 0
        if sub == "reset":
            phone.reset()
            return b"OK\n", b"", 0
        if sub == "load" and len(args) == 2:
            try:
                data = json.loads(base64.b64decode(args[1], validate=True).decode("utf-8"))
                phone.load(merge_state(data, source="simphone load"))
            except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
                return b"", _b(f"simphone load: expected base64 of a JSON state ({exc})\n"), 1
            except ValueError as exc:
                return b"", _b(f"{exc}\n"), 1
            return b"OK\n", b"", 0
        if sub == "log":
            if args[1:] == ["clear"]:
                self.log.clear()
                return b"", b"", 0
            lines = [ln for ln in self.log if not ln.startswith("simphone log")]
            return "".join(ln + "\n" for ln in lines).encode(), b"", 0
        return (b"simphone state | reset | load BASE64_JSON | log [clear]\n"), b"", 0 if sub == "help" else 1


# ------------------------------------------------------------------ helpers


def _keycode(arg: str) -> int | None:
    if arg.isdigit():
        return int(arg)
    name = arg.upper()
    if not name.startswith("KEYCODE_"):
        name = "KEYCODE_" + name
    return KEYCODES.get(name)


def _apk(pkg: str) -> str:
    return f"/system/app/{pkg.rsplit('.', 1)[-1]}/{pkg.rsplit('.', 1)[-1]}.apk"


def _parse_intent(args: list[str]) -> dict:
    """am-style intent options: -a -c -n -d -p, extras (--es/--ei/--ez/--eia), flags."""
    intent: dict = {"extras": {}}
    it = iter(args)
    for a in it:
        if a == "-a":
            intent["action"] = next(it)
        elif a == "-c":
            intent["category"] = next(it)
        elif a == "-n":
            intent["component"] = next(it)
        elif a == "-d":
            intent["data"] = next(it)
        elif a == "-p":
            intent["package"] = next(it)
        elif a in ("-f", "--user", "-t", "--receiver-permission"):
            next(it, None)
        elif a in ("--es", "--ei", "--ez", "--el", "--ef", "--eu"):
            key, value = next(it), next(it)
            intent["extras"][key] = {"--ei": int, "--el": int, "--ef": float}.get(a, str)(value) \
                if a != "--ez" else value.lower() == "true"
        elif a in ("--eia", "--esa"):
            key, value = next(it), next(it)
            intent["extras"][key] = value.split(",")
        elif a in ("-W", "-S", "-R", "--activity-clear-task", "--activity-new-task", "--activity-clear-top"):
            intent[a] = True
        elif not a.startswith("-") and "data" not in intent and "package" not in intent:
            # A bare argument: a URI or, for the package queries, a package name.
            intent["data"] = a
    return intent


def _intent_desc(intent: dict) -> str:
    parts = []
    if intent.get("action"):
        parts.append(f"act={intent['action']}")
    if intent.get("category"):
        parts.append(f"cat=[{intent['category']}]")
    if intent.get("component"):
        parts.append(f"cmp={intent['component']}")
    return " ".join(parts)


def _where(clause: str, row: dict) -> bool:
    """A tiny SQL WHERE: ``col = value`` terms joined by AND; LIKE with % wildcards."""
    for term in re.split(r"\s+AND\s+", clause.strip(), flags=re.IGNORECASE):
        m = re.fullmatch(r"\s*(\w+)\s*(=|==|!=|<>|LIKE)\s*(.+?)\s*", term, flags=re.IGNORECASE)
        if not m:
            raise ValueError(f"unsupported where clause {clause!r}")
        col, op, value = m.group(1), m.group(2).upper(), m.group(3)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        actual = row.get(col)
        actual_s = "" if actual is None else str(actual)
        if op in ("=", "=="):
            ok = actual_s == value
        elif op in ("!=", "<>"):
            ok = actual_s != value
        else:
            ok = re.fullmatch(re.escape(value).replace("%", ".*").replace("_", "."), actual_s, re.IGNORECASE) \
                is not None
        if not ok:
            return False
    return True
