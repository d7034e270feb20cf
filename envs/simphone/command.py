"""What a simulated-phone shell command is: a function of the shell's context, its arguments and stdin.

Each command module (`toolbox`, `system_cmds`, `screen_cmds`, `package_cmds`, `control`)
exports a ``COMMANDS`` table of name -> `CommandFn`; the `Shell` merges them and is the
`Context` they run in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

from guiagent.envs.simphone.phone import Phone

SH = "/system/bin/sh"
Result = tuple[bytes, bytes, int]  # stdout, stderr, exit status


class ShellExit(Exception):
    """`exit N`: ends the whole command line with status N."""

    def __init__(self, rc: int) -> None:
        super().__init__(rc)
        self.rc = rc


class CommandLog(Protocol):
    """The command lines the shell received (what `simphone log` prints)."""

    def lines(self) -> list[str]: ...

    def clear(self) -> None: ...


class Context(Protocol):
    """What a command may use: the phone, the command table (for `which` and `cmd`) and the log."""

    @property
    def phone(self) -> Phone: ...

    @property
    def commands(self) -> Mapping[str, CommandFn]: ...

    @property
    def log(self) -> CommandLog: ...

    def read_file(self, path: str) -> bytes:
        """A file's bytes; raises FileNotFoundError."""
        ...


CommandFn = Callable[[Context, list[str], bytes], Result]


def b(text: str | bytes) -> bytes:
    """UTF-8 bytes of a message (bytes pass through)."""
    return text if isinstance(text, bytes) else text.encode("utf-8")
