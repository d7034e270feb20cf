"""The guard every action passes before it reaches an env: allow, deny (with feedback) or confirm.

Coordinates outside the model image never get here: `Frame.to_screen` rejects them
first. The guard adds the policy: budgets, denied key chords and apps, and
confirm-before rules, configurable in a TOML file (``--policy FILE``)::

    max_steps = 30
    max_seconds = 600
    max_tokens = 200000
    deny_keys = ["ctrl+q", "alt+f4"]      # added to the built-in lock/log-out/power chords; any
                                          # spelling, order or extra held key still matches
    deny_apps = ["com.android.vending"]
    confirm_text = ["(?i)password", "rm -rf"]
    confirm_apps = ["Bank*"]

``confirm_text`` patterns are regular expressions of the `regex` package (a superset of
`re`), matched with a time bound: a pattern that backtracks for longer than
`PATTERN_TIMEOUT` on a text counts as a match (the action needs a confirmation), so no
pattern and no text the model types can hang the loop. A pattern that cannot compile, or
whose counted repeats would unroll past `MAX_PATTERN_SIZE`, is a policy error.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import regex  # type: ignore[import-untyped]  # no stubs shipped; used through compile/search only
from guiagent.tools.actions import Action, Key, MobileKey, MobileType, Open, Type
from guiagent.tools.keys import UnknownKey, held_keys, resolve_chord
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Chords that lock, log out or reboot a desktop session, and the phone keys that lock or wake the
# screen. Every entry is resolved through the one key vocabulary (guiagent.tools.keys), so it
# matches every spelling of its keys; a single key also matches every Android spelling of it
# (KEYCODE_POWER, 26, lock).
DEFAULT_DENY_KEYS = [
    "ctrl+alt+delete", "ctrl+alt+backspace", "super+l", "super+ctrl+q", "ctrl+alt+l", "super+shift+q",
    "ctrl+alt+f1", "ctrl+alt+f2", "alt+sysrq+b", "power", "sleep", "soft_sleep", "wakeup",
]


def _deny_entry(entry: str) -> tuple[frozenset[str] | None, int | None]:
    """A deny entry as (held desktop keys, Android keycode); either is None where it names no such key.

    Raises UnknownKey when it is neither, so a typo in a policy is an error, not a silent no-op.
    """
    from guiagent.envs.adb_keys import keycode

    chord: frozenset[str] | None = None
    code: int | None = None
    errors: list[str] = []
    try:
        chord = held_keys(entry)
    except UnknownKey as exc:
        errors.append(str(exc))
    if len(entry) == 1 or "+" not in entry:
        try:
            code = keycode(entry)
        except UnknownKey as exc:
            errors.append(str(exc))
    if chord is None and code is None:
        raise UnknownKey(errors[0])
    return chord, code


class Policy(BaseModel):
    """Run limits and action rules; all optional. Unknown fields are errors (a typo must not drop a rule)."""

    model_config = ConfigDict(extra="forbid")
    max_steps: int | None = Field(default=None, gt=0, description="lowers the run's step limit")
    max_seconds: float | None = Field(default=None, gt=0)
    max_tokens: int | None = Field(default=None, gt=0)
    deny_keys: list[str] = Field(default_factory=list, description="chords denied on top of DEFAULT_DENY_KEYS")
    deny_apps: list[str] = Field(default_factory=list, description="glob patterns on app label or package")
    confirm_text: list[str] = Field(default_factory=list, description="regexes on typed text")
    confirm_apps: list[str] = Field(default_factory=list, description="glob patterns on app label or package")

    @field_validator("deny_keys")
    @classmethod
    def _keys(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                _deny_entry(entry)
            except UnknownKey as exc:
                raise ValueError(f"{entry[:40]!r}: {exc}") from None
        return v

    @field_validator("confirm_text")
    @classmethod
    def _regexes(cls, v: list[str]) -> list[str]:
        for i, pattern in enumerate(v):
            compile_pattern(pattern, f"item {i}")
        return v

    @classmethod
    def load(cls, path: str | Path) -> Policy:
        """Read a TOML policy file; raises ValueError with a one-line message naming file and field."""
        path = Path(path)
        tomllib = _tomllib()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path}: policy file not found") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"{path}: not valid TOML ({exc})") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            raise ValueError(f"{path}: field {loc}: {err['msg'].removeprefix('Value error, ')}") from None


def _tomllib():
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    return tomllib


class Decision(BaseModel):
    verdict: Literal["allow", "deny", "confirm"]
    reason: str = ""


ALLOW = Decision(verdict="allow")

Confirm = Callable[[str], bool]


def deny_all(question: str) -> bool:
    """The confirmation callback of non-interactive runs: every question is answered no."""
    return False


class Guard:
    """Applies a `Policy` to actions; `confirm` answers confirm-before questions."""

    def __init__(self, policy: Policy | None = None, confirm: Confirm = deny_all) -> None:
        self.policy = policy or Policy()
        self.confirm = confirm
        # A policy adds to the built-in list: naming one more chord must not unprotect ctrl+alt+delete.
        entries = [_deny_entry(k) for k in DEFAULT_DENY_KEYS + self.policy.deny_keys]
        self._deny_chords = {chord for chord, _ in entries if chord is not None}
        self._deny_codes = {code for _, code in entries if code is not None}
        self._confirm_text = [compile_pattern(p) for p in self.policy.confirm_text]

    def check(self, action: Action) -> Decision:
        """The policy's verdict on one action (before any confirmation is asked)."""
        p = self.policy
        if isinstance(action, Key):
            return self._check_chord(action.keys)
        if isinstance(action, MobileKey) and _android_code(action.text) in self._deny_codes:
            return Decision(verdict="deny", reason=f"the key {action.text[:40]} is not allowed")
        if isinstance(action, Open):
            if _glob_any(p.deny_apps, action.text):
                return Decision(verdict="deny", reason=f"opening {action.text!r} is not allowed")
            if _glob_any(p.confirm_apps, action.text):
                return Decision(verdict="confirm", reason=f"open the app {action.text!r}")
        if isinstance(action, (Type, MobileType)):
            for pattern in self._confirm_text:
                try:
                    hit = pattern.search(action.text, timeout=PATTERN_TIMEOUT) is not None
                except TimeoutError:  # undecided counts as a match: ask rather than let it through
                    return Decision(verdict="confirm", reason=f"type the text {action.text[:80]!r} (the confirm_text "
                                    f"pattern {pattern.pattern!r} did not finish within {PATTERN_TIMEOUT:g} s)")
                if hit:
                    return Decision(verdict="confirm", reason=f"type the text {action.text[:80]!r}")
        return ALLOW

    def _check_chord(self, keys: list[str]) -> Decision:
        # A Key's keys are canonical already; resolving again is a no-op for them and keeps a Key
        # built without validation (model_construct) from slipping past the table.
        try:
            chord = resolve_chord(keys)
        except UnknownKey as exc:
            return Decision(verdict="deny", reason=str(exc))
        held = held_keys(chord)
        # Keys go down in order, so every denied chord whose keys are all held fires, whatever
        # else is held with it (super+a+l locks at the l).
        if any(denied <= held for denied in self._deny_chords):
            return Decision(verdict="deny", reason=f"the key chord {'+'.join(chord)} is not allowed")
        return ALLOW

    def decide(self, action: Action) -> tuple[bool, str]:
        """Check and, if needed, ask. Returns (allowed, decision label for the record)."""
        d = self.check(action)
        if d.verdict == "allow":
            return True, "allow"
        if d.verdict == "deny":
            return False, f"deny: {d.reason}"
        ok = bool(self.confirm(f"The agent wants to {d.reason}. Allow?"))
        return ok, "confirm-yes" if ok else f"confirm-no: {d.reason}"

    def over_budget(self, elapsed: float, tokens: int) -> str | None:
        """A reason to stop the run when a time or token budget is spent, else None."""
        if self.policy.max_seconds is not None and elapsed > self.policy.max_seconds:
            return f"time budget of {self.policy.max_seconds:g} s spent"
        if self.policy.max_tokens is not None and tokens > self.policy.max_tokens:
            return f"token budget of {self.policy.max_tokens} spent"
        return None


# A policy pattern is matched against every typed text: its time is bounded per match, and its size at
# compile time (the regex package unrolls counted repeats: "(a{1000}){1000}" takes seconds to compile,
# "a{100000000}" exhausts memory; the re module overflows on "a{99999999999}").
PATTERN_TIMEOUT = 0.25
MAX_PATTERN_SIZE = 20_000
_COUNT = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def compile_pattern(pattern: str, where: str = "") -> regex.Pattern[str]:
    """Compile a policy regex, or ValueError with a one-line reason (the caller names the file and field)."""
    at = f"{where}: " if where else ""
    if len(pattern) > MAX_PATTERN_SIZE:
        raise ValueError(f"{at}regex is {len(pattern)} characters long; keep it under {MAX_PATTERN_SIZE}")
    size = _unrolled_size(pattern)
    if size > MAX_PATTERN_SIZE:
        raise ValueError(f"{at}bad regex {pattern[:60]!r}: its repeat counts unroll to about {size:.3g} states "
                         f"(at most {MAX_PATTERN_SIZE:,}); use + or * instead of large {{n}} counts")
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, ValueError, RecursionError, MemoryError) as exc:
        raise ValueError(f"{at}bad regex {pattern[:60]!r}: {' '.join(str(exc).split())}") from None


def _unrolled_size(pattern: str) -> int:
    """An upper estimate of the states counted repeats unroll to: each {n,m} multiplies the atom or group before it."""
    seq = [0]  # size of the sequence at each open group
    last = 1  # size of the atom just read
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            i += 2
        elif c == "[":  # a class is one atom; skip to its closing bracket
            i += 2 if pattern[i + 1:i + 2] == "]" else 1
            while i < n and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
            i += 1
        elif c == "(":
            seq.append(0)
            i += 1
            continue
        elif c == ")" and len(seq) > 1:
            last = max(seq.pop(), 1)
            seq[-1] += last
            i += 1
            continue
        elif c == "{" and (m := _COUNT.match(pattern, i)) and (m.group(1) or m.group(2)):
            count = max(int(x) for x in m.groups() if x)
            seq[-1] += last * max(count - 1, 0)
            last *= max(count, 1)
            i = m.end()
            continue
        else:
            i += 1
        last = 1
        seq[-1] += 1
    return sum(seq)


def _android_code(name: str) -> int | None:
    from guiagent.envs.adb_keys import keycode

    try:
        return keycode(name)
    except UnknownKey:
        return None


def _glob_any(patterns: list[str], name: str) -> bool:
    return any(fnmatch.fnmatch(name.lower(), pat.lower()) for pat in patterns)
