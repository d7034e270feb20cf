"""The simulated phone's shell: runs `sh` command lines (see `sh`) against a `Phone`.

This module is the interpreter: ``;`` ``&&`` ``||`` sequencing, pipelines, redirections to
the phone's files, ``$`` expansion and ``exit``. The commands live in their own modules
and register in `COMMANDS`: the small tools (`toolbox`), system services (`system_cmds`:
settings, svc, cmd, ime, getprop/setprop), screen and input (`screen_cmds`: input,
screencap, uiautomator, wm), `dumpsys`, apps and packages (`package_cmds`: am, monkey,
pm, content) and the simulator's own `simphone` command (`control`).

A command line longer than `MAX_COMMAND_CHARS` is refused like an oversized ``sh -c``
argument (a message on stderr, exit status 126) without being parsed.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Mapping

from guiagent.envs.simphone import control, dumpsys, package_cmds, screen_cmds, system_cmds, toolbox
from guiagent.envs.simphone.command import SH, CommandFn, Result, ShellExit, b
from guiagent.envs.simphone.phone import Phone
from guiagent.envs.simphone.sh import (
    Command,
    If,
    Item,
    Pipeline,
    ShellSyntaxError,
    Var,
    Word,
    parse,
    structure,
)

# The longest command line accepted. What clients send is far shorter: AndroidEnv batches
# commands up to 3,000 characters and its longest single command, an ADBKeyboard broadcast
# of a 1,000-character text, is under 6,000; a harness `simphone load` state is a few KB.
# 1 MiB is also the most a current adbd takes in one message.
MAX_COMMAND_CHARS = 1024 * 1024
COMMANDS: dict[str, CommandFn] = {
    **toolbox.COMMANDS, **system_cmds.COMMANDS, **screen_cmds.COMMANDS, **dumpsys.COMMANDS,
    **package_cmds.COMMANDS, **control.COMMANDS,
}
_FD = re.compile(r"[0-9]")
Sink = str | tuple[str, str, bool]  # "out", "err", "null" or ("file", path, append)


class CommandLog:
    """The last `max_lines` command lines received, at most `max_chars` characters in all (the oldest go first)."""

    def __init__(self, max_lines: int = 500, max_chars: int = 8 * 1024 * 1024) -> None:
        self._lines: deque[str] = deque()
        self._chars = 0
        self.max_lines, self.max_chars = max_lines, max_chars

    def append(self, line: str) -> None:
        self._lines.append(line)
        self._chars += len(line)
        while self._lines and (len(self._lines) > self.max_lines or self._chars > self.max_chars):
            self._chars -= len(self._lines.popleft())

    def lines(self) -> list[str]:
        return list(self._lines)

    def clear(self) -> None:
        self._lines.clear()
        self._chars = 0


class Shell:
    """Runs command lines against a `Phone`; `run(line)` -> (stdout, stderr, exit code)."""

    def __init__(self, phone: Phone) -> None:
        self._phone = phone
        self._log = CommandLog()
        self.env = {"HOME": "/", "EXTERNAL_STORAGE": "/sdcard", "PATH": "/system/bin:/system/xbin",
                    "ANDROID_DATA": "/data", "$": "4242", "#": "0", "!": ""}

    @property
    def phone(self) -> Phone:
        return self._phone

    @property
    def log(self) -> CommandLog:
        return self._log

    @property
    def commands(self) -> Mapping[str, CommandFn]:
        return COMMANDS

    def run(self, line: str) -> Result:
        """Execute a command line; the phone is locked for its duration."""
        if len(line) > MAX_COMMAND_CHARS:
            self._log.append(f"{line[:200]}... ({len(line)} characters, refused)")
            return b"", b(f"{SH}: argument list too long: the command line has {len(line)} characters; "
                          f"the simulated phone accepts at most {MAX_COMMAND_CHARS}\n"), 126
        self._log.append(line)
        with self._phone.lock:
            try:
                items = structure(parse(line))
            except ShellSyntaxError as exc:
                return b"", b(f"{SH}: {exc}\n"), 2
            out, err = bytearray(), bytearray()
            rc = 0
            try:
                rc = self._items(items, 0, out, err)
            except ShellExit as ex:
                rc = ex.rc
            return bytes(out), bytes(err), rc

    def _items(self, items: list[Item], rc: int, out: bytearray, err: bytearray) -> int:
        for connector, node in items:
            if (connector == "&&" and rc != 0) or (connector == "||" and rc == 0):
                continue
            if isinstance(node, If):
                rc = self._if(node, rc, out, err)
            else:
                o, e, rc = self._pipeline(node, rc)
                out += o
                err += e
        return rc

    def _if(self, node: If, rc: int, out: bytearray, err: bytearray) -> int:
        for cond, body in node.branches:
            if self._items(cond, rc, out, err) == 0:
                return self._items(body, 0, out, err)
        return self._items(node.orelse, 0, out, err) if node.orelse else 0

    def read_file(self, path: str) -> bytes:
        files = self._phone.state["files"]
        if path not in files:
            raise FileNotFoundError(path)
        return str(files[path]).encode("utf-8")

    def _expand(self, word: Word, rc: int) -> str:
        return "".join((str(rc) if part.name == "?" else self.env.get(part.name, "")) if isinstance(part, Var)
                       else part for part in word.parts)

    def _pipeline(self, pipeline: Pipeline, rc: int) -> Result:
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
        fds: dict[int, Sink] = {1: "out", 2: "err"}
        for r in cmd.redirects:
            target = self._expand(r.target, rc)
            if r.op in (">&", "<&"):
                if _FD.fullmatch(target) and int(target) in fds:
                    fds[r.fd] = fds[int(target)]
                elif target == "-":
                    fds[r.fd] = "null"
                else:
                    return b"", b(f"{SH}: {target}: bad file descriptor\n"), 1
            elif r.op == "<":
                try:
                    stdin = self.read_file(target)
                except FileNotFoundError:
                    return b"", b(f"{SH}: can't open {target}: No such file or directory\n"), 1
            else:
                fds[r.fd] = "null" if target == "/dev/null" else (
                    "out" if target in ("/dev/tty", "/dev/stdout") else ("file", target, r.op == ">>"))
        out, err, rc = self._call(args, stdin) if args else (b"", b"", 0)
        sinks: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}
        for fd, data in ((1, out), (2, err)):
            sink = fds.get(fd, "null")
            if isinstance(sink, tuple):
                _, path, append = sink
                files = self._phone.state["files"]
                prev = files.get(path, "") if append else ""
                files[path] = prev + data.decode("utf-8", "replace")
            elif sink in sinks:
                sinks[sink] += data
        return bytes(sinks["out"]), bytes(sinks["err"]), rc

    def _call(self, args: list[str], stdin: bytes) -> Result:
        name = args[0].rsplit("/", 1)[-1] if args[0].startswith("/system/") else args[0]
        fn = COMMANDS.get(name)
        if fn is None:
            return b"", b(f"{SH}: {args[0]}: inaccessible or not found\n"), 127
        try:
            out, err, rc = fn(self, args[1:], stdin)
        except (ValueError, IndexError, KeyError, OverflowError, StopIteration) as exc:
            return b"", b(f"{args[0]}: {exc}\n"), 1
        return b(out), b(err), rc
