"""The simulated phone's ``sh`` language: a command line -> words, operators and pipelines.

The rules are the device shell's: single quotes, double quotes with ``$`` expansion,
backslashes, ``;`` ``&&`` ``||`` ``&`` ``|`` and redirections (a single-digit fd, as
mksh); unquoted parentheses are a syntax error and command substitution is refused rather
than run. Scanning is linear in the line's length: runs of ordinary characters are taken
by one regex match and a word's text is joined once, when the word ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class ShellSyntaxError(Exception):
    """A command line the device shell would reject."""


@dataclass(slots=True)
class Var:
    """``$NAME``, ``${NAME}`` or a special parameter (``$?``, ``$$``, ``$#``, ``$!``)."""

    name: str


@dataclass(slots=True)
class Word:
    """One shell word: literal text and variables, concatenated when expanded."""

    parts: list[str | Var] = field(default_factory=list)


@dataclass(slots=True)
class Op:
    """An operator token; `fd` is the number in front of a redirection (``2>``)."""

    op: str
    fd: int | None = None


@dataclass(slots=True)
class Redirect:
    fd: int
    op: str  # '>', '>>', '<', '>&', '<&'
    target: Word


@dataclass(slots=True)
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)


Pipeline = list[Command]
_OPS = ("&&", "||", ">>", ">&", "<&", ";", "&", "|", "<", ">", "(", ")")
# Characters with no special meaning outside quotes ('#' only starts a comment at a word's start).
_PLAIN = re.compile(r"[^ \t\n\\'\"$`;&|<>()#]+")
_DQUOTED_PLAIN = re.compile(r'[^"\\$`]+')
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NO_SUBSTITUTION = "command substitution {} is not supported by the simulated phone"


class _WordBuilder:
    """Collects a word's pieces; text runs are joined once, in `word()` (appending to a str is quadratic)."""

    def __init__(self) -> None:
        self.parts: list[str | Var] = []
        self.text: list[str] = []

    def add(self, text: str) -> None:
        self.text.append(text)

    def var(self, var: Var) -> None:
        self._end_text()
        self.parts.append(var)

    def _end_text(self) -> None:
        if self.text:
            self.parts.append("".join(self.text))
            self.text = []

    def single_digit(self) -> int | None:
        """The fd of ``N>``: the word is one ASCII digit and nothing else."""
        if self.parts or len(self.text) != 1 or len(self.text[0]) != 1 or self.text[0] not in "0123456789":
            return None
        return int(self.text[0])

    def word(self) -> Word:
        self._end_text()
        return Word(self.parts)


def _variable(line: str, i: int) -> tuple[Var | None, int]:
    """The expansion at ``line[i] == '$'`` and the index after it; None for a literal '$'."""
    nxt = line[i + 1] if i + 1 < len(line) else ""
    if nxt and nxt in "?$#!":
        return Var(nxt), i + 2
    if nxt == "{":
        end = line.find("}", i + 2)
        if end < 0:
            raise ShellSyntaxError("${: bad substitution")
        return Var(line[i + 2:end]), end + 1
    if nxt == "(":
        raise ShellSyntaxError(_NO_SUBSTITUTION.format("$(...)"))
    m = _NAME.match(line, i + 1)
    if m:
        return Var(m.group()), m.end()
    return None, i + 1


def _double_quoted(line: str, i: int, w: _WordBuilder) -> int:
    """Scan ``"..."`` from just after the opening quote; returns the index after the closing one."""
    n = len(line)
    w.add("")  # "" is a word even when empty
    while True:
        if i >= n:
            raise ShellSyntaxError("no closing quote")
        m = _DQUOTED_PLAIN.match(line, i)
        if m:
            w.add(m.group())
            i = m.end()
            continue
        c = line[i]
        if c == '"':
            return i + 1
        if c == "\\" and i + 1 < n and line[i + 1] in '$`"\\\n':
            if line[i + 1] != "\n":
                w.add(line[i + 1])
            i += 2
        elif c == "$":
            var, i = _variable(line, i)
            w.var(var) if var is not None else w.add("$")
        elif c == "`":
            raise ShellSyntaxError(_NO_SUBSTITUTION.format("`...`"))
        else:  # a backslash before an ordinary character stays
            w.add(c)
            i += 1


def tokenize(line: str) -> list[Word | Op]:
    """Split a command line into words and operators, honouring sh quoting."""
    tokens: list[Word | Op] = []
    cur: _WordBuilder | None = None
    i, n = 0, len(line)

    def flush() -> None:
        nonlocal cur
        if cur is not None:
            tokens.append(cur.word())
            cur = None

    while i < n:
        m = _PLAIN.match(line, i)
        if m:
            cur = cur or _WordBuilder()
            cur.add(m.group())
            i = m.end()
            continue
        c = line[i]
        if c in " \t":
            flush()
            i += 1
        elif c == "\n":
            flush()
            tokens.append(Op("\n"))
            i += 1
        elif c == "#":
            if cur is None:
                end = line.find("\n", i)
                i = n if end < 0 else end
            else:
                cur.add("#")
                i += 1
        elif c == "\\":
            if i + 1 < n and line[i + 1] == "\n":
                i += 2
            else:
                cur = cur or _WordBuilder()
                cur.add(line[i + 1] if i + 1 < n else "\\")
                i += 2
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("no closing quote")
            cur = cur or _WordBuilder()
            cur.add(line[i + 1:end])
            i = end + 1
        elif c == '"':
            cur = cur or _WordBuilder()
            i = _double_quoted(line, i + 1, cur)
        elif c == "$":
            var, i = _variable(line, i)
            cur = cur or _WordBuilder()
            cur.var(var) if var is not None else cur.add("$")
        elif c == "`":
            raise ShellSyntaxError(_NO_SUBSTITUTION.format("`...`"))
        else:  # one of ;&|<>()
            fd = None
            if c in "<>" and cur is not None:
                fd = cur.single_digit()
                if fd is not None:
                    cur = None
            flush()
            op = next(o for o in _OPS if line.startswith(o, i))
            tokens.append(Op(op, fd))
            i += len(op)
    flush()
    return tokens


def parse(line: str) -> list[tuple[str, Pipeline]]:
    """The command line as ``[(connector, pipeline)]``; connector is '', ';', '&', '&&' or '||'."""
    seq: list[tuple[str, Pipeline]] = []
    connector = ""
    pipeline: Pipeline = []
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


# ---------------------------------------------------------------------- if / then / elif / else / fi

_KEYWORDS = ("if", "then", "elif", "else", "fi")


@dataclass(slots=True)
class If:
    """``if COND; then BODY; [elif COND; then BODY;]... [else BODY;] fi``: (condition, body) branches."""

    branches: list[tuple[list[Item], list[Item]]] = field(default_factory=list)
    orelse: list[Item] = field(default_factory=list)


Item = tuple[str, "Pipeline | If"]  # (connector, a pipeline or an if)


def _keyword(pipeline: Pipeline) -> str | None:
    first = pipeline[0].words[0] if pipeline and pipeline[0].words else None
    if first is not None and len(first.parts) == 1 and first.parts[0] in _KEYWORDS:
        return str(first.parts[0])
    return None


def _strip_keyword(pipeline: Pipeline) -> Pipeline | None:
    """The pipeline after its leading keyword (``then echo x``), or None when the keyword stood alone."""
    head = pipeline[0]
    rest = Command(head.words[1:], head.redirects)
    if not rest.words and not rest.redirects:
        if len(pipeline) > 1:
            raise ShellSyntaxError("syntax error: '|' unexpected")
        return None
    return [rest, *pipeline[1:]]


def structure(seq: list[tuple[str, Pipeline]]) -> list[Item]:
    """`parse`'s flat sequence with ``if`` compounds gathered (nested ones too).

    The keywords count only as the first word of a command, as in sh; a keyword where none may
    stand (``fi`` without ``if``, ``then`` twice) is a syntax error.
    """
    pos = 0

    def block(stop: tuple[str, ...]) -> tuple[list[Item], str | None]:
        nonlocal pos
        items: list[Item] = []
        while pos < len(seq):
            connector, pipeline = seq[pos]
            kw = _keyword(pipeline)
            if kw in stop:
                return items, kw
            if kw is not None and kw != "if":
                raise ShellSyntaxError(f"syntax error: '{kw}' unexpected")
            pos += 1
            if kw == "if":
                items.append((connector, compound(pipeline)))
            else:
                items.append((connector, pipeline))
        return items, None

    def tail(pipeline: Pipeline, into: list[Item]) -> None:
        rest = _strip_keyword(pipeline)
        if rest is None:
            return
        kw = _keyword(rest)
        if kw == "if":  # `then if ...`: a nested compound on the keyword's line
            into.append(("", compound(rest)))
        elif kw is not None:
            raise ShellSyntaxError(f"syntax error: '{kw}' unexpected")
        else:
            into.append(("", rest))

    def compound(first: Pipeline) -> If:
        nonlocal pos
        node = If()
        opener = first
        while True:
            cond: list[Item] = []
            tail(opener, cond)
            more, kw = block(("then",))
            cond += more
            if kw != "then" or not cond:
                raise ShellSyntaxError("syntax error: 'if' without 'then'")
            then_pipe = seq[pos][1]
            pos += 1
            body: list[Item] = []
            tail(then_pipe, body)
            more, kw = block(("elif", "else", "fi"))
            body += more
            node.branches.append((cond, body))
            if kw is None:
                raise ShellSyntaxError("syntax error: unexpected end of file (expecting 'fi')")
            closer = seq[pos][1]
            pos += 1
            if kw == "elif":
                opener = closer
                continue
            if kw == "else":
                tail(closer, node.orelse)
                more, kw = block(("fi",))
                node.orelse += more
                if kw != "fi":
                    raise ShellSyntaxError("syntax error: unexpected end of file (expecting 'fi')")
                closer = seq[pos][1]
                pos += 1
            if _strip_keyword(closer) is not None:
                raise ShellSyntaxError("syntax error: word unexpected after 'fi'")
            return node

    items, kw = block(())
    if kw is not None or pos != len(seq):
        raise ShellSyntaxError(f"syntax error: '{kw}' unexpected")
    return items
