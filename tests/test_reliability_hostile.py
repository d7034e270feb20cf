"""Nothing from the model is ever run as code: hostile and malformed replies through the whole loop.

Every case of tests/data/hostile_replies.json (shell and Python payloads in every field,
huge/NaN/negative/off-screen numbers, 1 MB strings, deep nesting, invalid UTF-8) is the
first reply of a real `Agent` run on a `ReplayEnv` (which records exactly what reaches an
env); the second reply terminates. Each case is either rejected (parse error, off-screen,
guard deny, confirmation refused) with feedback to the model, or executed as exactly the
typed action it claims. A Python audit hook watches the process meanwhile: no process is
started, no code is compiled or executed, and no file is written outside the run directory.
A subset runs again on the real Xvfb desktop (pyautogui/xdotool into the Tk logger).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest
from guiagent.agent.guard import Guard, Policy, deny_all
from guiagent.agent.loop import Agent, Settle
from guiagent.agent.trajectory import load_trajectory
from guiagent.envs.replay import ReplayEnv
from guiagent.model.scripted import ScriptedModel
from guiagent.tools.actions import ACTIONS, MAX_WAIT_SECONDS, action_from_dict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.recordings import record_screens

CORPUS = json.loads((Path(__file__).parent / "data" / "hostile_replies.json").read_text(encoding="utf-8"))
FAST = Settle(interval=0.001, min_wait=0.0, max_wait=0.05)
# Screens whose model size equals the screen size (multiples of 28), so model and screen
# coordinates in the corpus are the same numbers.
SCREENS = {"computer_use": (1372, 756), "mobile_use": (1092, 2408)}
TERMINATE = {s: '<tool_call>{"name": "' + s + '", "arguments": {"action": "terminate", "status": "success"}}</tool_call>'
             for s in SCREENS}
POLICY = Policy(deny_apps=["com.android.vending"], confirm_text=["(?i)password"], confirm_apps=["Bank*"])
OUTCOMES = {"parse_error", "executed", "out_of_frame", "guard_deny", "confirm_deny", "mixed"}


# ---------------------------------------------------------------------- watching the process

# Audit events that mean "something other than the typed action ran".
_SPAWN = {"os.system", "subprocess.Popen", "os.posix_spawn", "os.exec", "os.spawn", "os.fork", "os.forkpty",
          "pty.spawn", "os.startfile", "exec", "compile", "ctypes.dlopen", "socket.connect", "os.remove",
          "os.rmdir", "shutil.rmtree", "os.chmod", "os.kill", "os.killpg", "webbrowser.open"}
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class _Watch:
    """A process-wide audit hook (hooks cannot be removed, so one is installed and switched on and off)."""

    def __init__(self) -> None:
        self.active = False
        self.allowed_dirs: list[str] = []
        self.allow_popen = lambda argv: False
        self.from_model = None
        self.abandoned: list[str] = []  # run directories of runs that hung (they may still write)
        self.events: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS)
            if writing and not any(str(path).startswith(d) for d in self.allowed_dirs + self.abandoned):
                self._add(event, f"write {path!r}")
        elif event == "os.remove" and str(args[0]).startswith(tuple(self.allowed_dirs + self.abandoned)):
            return  # the recorder's own files in the run folder (its run lock, a failed step's screenshot)
        elif event in ("os.rename", "os.replace"):
            if not all(str(p).startswith(tuple(self.allowed_dirs + self.abandoned)) for p in args[:2]):
                self._add(event, repr(args[:2]))
        elif event == "subprocess.Popen" and self.allow_popen(args[1]):
            return
        elif event == "socket.connect" and str(args[1]).startswith("/tmp/.X11-unix/"):
            return  # the desktop env talking to its X server
        elif event in ("compile", "exec") and self.from_model is not None:
            # Libraries that generate code lazily (python-xlib, PIL plugins) compile their own
            # source on first use; what must never be compiled is text that came from the model.
            if event == "compile" and self.from_model(args[0]):
                self._add(event, repr(args)[:300])
        elif event in _SPAWN:
            self._add(event, repr(args)[:300])

    def _add(self, event: str, detail: str) -> None:
        with self._lock:
            self.events.append((event, detail))

    def start(self, *allowed_dirs: Path, allow_popen=None, from_model=None) -> None:
        """Record violations from now on; `from_model(source)` limits compile checks to model text."""
        self.events = []
        self.allowed_dirs = [str(d) for d in allowed_dirs]
        self.allow_popen = allow_popen or (lambda argv: False)
        self.from_model = from_model
        self.active = True

    def stop(self) -> list[tuple[str, str]]:
        self.active = False
        return self.events


WATCH = _Watch()


# ---------------------------------------------------------------------- the runs


class _Agent(Agent):
    """The real Agent; only `wait` is recorded instead of slept (a 1e308 s wait is capped at 60 s)."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.slept: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def _recording(path: Path, space: str) -> Path:
    return record_screens(path, ["red", "green", "blue"], size=SCREENS[space], space=space)


@pytest.fixture(scope="module")
def recordings(tmp_path_factory):
    base = tmp_path_factory.mktemp("screens")
    return {s: _recording(base / s, s) for s in SCREENS}


def materialize(case: dict, marker: Path):
    """The reply as the model would send it, and the actions expected at the env."""
    if "reply_latin1" in case:  # raw bytes, decoded as the CLI and the HTTP backends do
        reply = case["reply_latin1"].encode("latin-1").decode("utf-8", errors="replace")
    else:
        reply = case["reply"]

    def fill(s: str) -> str:
        for key, (text, count) in case.get("expand", {}).items():
            s = s.replace(key, text * count)
        return s.replace("@MARKER@", str(marker))

    executed = json.loads(fill(json.dumps(case["executed"])))
    return fill(reply), executed


HANG = 30.0  # seconds; a run of two replies takes well under one. Not a speed check: it catches hangs


def run_bounded(agent: Agent, instruction: str):
    """`agent.run` on a worker thread, so a reply that makes the loop hang fails the test instead of the suite."""
    box: dict = {}

    def work() -> None:
        try:
            box["result"] = agent.run(instruction)
        except BaseException as exc:  # noqa: BLE001 - re-raised below on the test's thread
            box["error"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(HANG)
    if worker.is_alive():
        if agent.out_dir is not None:  # it goes on in the background: keep its writes out of later cases
            WATCH.abandoned.append(str(agent.out_dir))
        raise AssertionError(f"the run did not end within {HANG:g} s (the reply makes the loop hang)")
    if "error" in box:
        raise box["error"]
    return box["result"]


def test_corpus_is_large_and_covers_every_outcome():
    assert len(CORPUS) >= 50
    assert {c["outcome"] for c in CORPUS} == OUTCOMES
    assert len({c["name"] for c in CORPUS}) == len(CORPUS)
    assert sum(c["outcome"] == "parse_error" for c in CORPUS) >= 25
    assert sum("reply_latin1" in c for c in CORPUS) >= 4
    assert any(n * len(t) >= 1_000_000 for c in CORPUS for t, n in c.get("expand", {}).values())


@pytest.mark.parametrize("case", CORPUS, ids=[c["name"] for c in CORPUS])
def test_hostile_reply_through_the_whole_loop(case, recordings, tmp_path):
    marker = tmp_path / "pwned"
    reply, expected = materialize(case, marker)
    space = case["space"]
    env = ReplayEnv(recordings[space])
    model = ScriptedModel([reply, TERMINATE[space]])
    out = tmp_path / "run"
    # a case may ask for every call of the reply to be decided (--calls all); the default runs the first only
    agent = _Agent(model, env, out_dir=out, settle=FAST, max_steps=3, guard=Guard(POLICY, deny_all),
                   calls=case.get("calls", "first"))

    WATCH.start(out)
    try:
        result = run_bounded(agent, "do the task")
    finally:
        events = WATCH.stop()

    assert events == [], f"something other than the typed action ran: {events}"
    assert not marker.exists()
    assert result.status == "success" and result.steps == 2, result.reason
    assert env.executed == expected
    assert agent.slept == case.get("slept", [])

    traj = load_trajectory(out)
    step = traj.steps[0]
    assert step.raw_text == reply
    decisions = [a.decision for a in step.actions]
    next_prompt = model.requests[1][-1].text()
    outcome = case["outcome"]
    if outcome == "parse_error":
        assert step.actions == [] and step.error.startswith("parse error: ")
        assert case.get("error", "") in step.error
        assert "Your previous reply could not be used" in next_prompt
    elif outcome == "executed":
        assert decisions and all(d == "allow" for d in decisions) and all(a.executed for a in step.actions)
    elif outcome == "out_of_frame":
        assert len(decisions) == 1 and decisions[0].startswith("deny: coordinate") and "outside the screen" in decisions[0]
        assert "Action rejected: coordinate" in next_prompt
    elif outcome == "guard_deny":
        assert len(decisions) == 1 and decisions[0].startswith("deny: ") and "coordinate" not in decisions[0]
        assert "rejected by the safety policy" in next_prompt
    elif outcome == "confirm_deny":
        assert len(decisions) == 1 and decisions[0].startswith("confirm-no: ")
        assert "rejected by the safety policy" in next_prompt
    else:
        assert [d[:len(p)] for d, p in zip(decisions, case["decisions"], strict=False)] == case["decisions"]
        assert len(decisions) == len(case["decisions"])
    assert not any(a.executed for a in step.actions if a.decision != "allow")
    # What was executed enters the next prompt's history as inert data, through the chat template too.
    rendered = model.dialect.render(model.requests[1])
    for a in step.actions:
        if a.executed:
            assert a.call in next_prompt and a.call in rendered


# ---------------------------------------------------------------------- the real desktop

_DESKTOP_CASES = [c for c in CORPUS if c["space"] == "computer_use" and c["outcome"] == "executed"
                  and c["executed"] and c["executed"][0]["action"] == "type" and "\n" not in c["executed"][0]["text"]
                  and not any(ord(ch) < 32 for ch in c["executed"][0]["text"]) and "expand" not in c]


def test_desktop_subset_is_the_payloads():
    names = {c["name"] for c in _DESKTOP_CASES}
    assert len(_DESKTOP_CASES) >= 12
    assert {"shell command substitution in type.text", "shell backticks in type.text", "shell ; chain in type.text",
            "python __import__ in type.text", "invalid UTF-8 inside the text"} <= names


def _contains(source, text: str) -> bool:
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    return isinstance(source, str) and (text in source or any(
        len(part) > 6 and part in source for part in text.replace("'", '"').split('"')))


@pytest.mark.parametrize("case", _DESKTOP_CASES, ids=[c["name"] for c in _DESKTOP_CASES])
def test_payload_typed_on_the_real_desktop_is_only_text(case, tk_app, tmp_path):
    """The payload lands in the Tk Entry character for character; nothing else runs."""
    from guiagent.envs.desktop import DesktopEnv

    marker = tmp_path / "pwned"
    reply, expected = materialize(case, marker)
    text = expected[0]["text"]
    env = DesktopEnv(settle=False, failsafe=False)
    xdotool = shutil.which("xdotool")

    try:
        frame_size = env.observe().image.size
        model = ScriptedModel([reply, TERMINATE["computer_use"]])
        out = tmp_path / "run"
        agent = Agent(model, env, out_dir=out, settle=FAST, max_steps=3)
        WATCH.start(out, allow_popen=only_xdotool_typing(xdotool, text), from_model=lambda src: _contains(src, text))
        try:
            result = agent.run("type it")
        finally:
            events = WATCH.stop()
    finally:
        env.close()
    assert frame_size == (1366, 768)
    assert events == [], f"something other than the typed action ran: {events}"
    assert result.status == "success", result.reason
    assert tk_app.entry_text() == text
    assert not marker.exists()


def only_xdotool_typing(xdotool: str | None, text: str):
    """The one process the desktop env may start: xdotool typing a run of `text` as one argument, no shell."""

    def allowed(argv) -> bool:
        argv = list(argv)
        return argv[:2] == [xdotool, "type"] and argv[-2] == "--" and argv[-1] != "" and argv[-1] in text

    return allowed


_CONTROL_CASES = [c for c in CORPUS if c["name"] in (
    "null byte in type.text", "ansi escape in type.text", "newline then command in type.text")]


@pytest.mark.parametrize("case", _CONTROL_CASES, ids=[c["name"] for c in _CONTROL_CASES])
def test_control_characters_on_the_real_desktop_are_typed_or_refused(case, tk_app, tmp_path):
    """Text no keyboard can type is refused with feedback (the run goes on); nothing else runs."""
    from guiagent.envs.desktop import DesktopEnv

    marker = tmp_path / "pwned"
    reply, expected = materialize(case, marker)
    text = expected[0]["text"]
    env = DesktopEnv(settle=False, failsafe=False)
    xdotool = shutil.which("xdotool")
    out = tmp_path / "run"
    try:
        agent = Agent(ScriptedModel([reply, TERMINATE["computer_use"]]), env, out_dir=out, settle=FAST, max_steps=3)
        WATCH.start(out, allow_popen=only_xdotool_typing(xdotool, text), from_model=lambda src: _contains(src, text))
        try:
            result = agent.run("type it")
        finally:
            events = WATCH.stop()
    finally:
        env.close()
    assert events == [] and not marker.exists()
    rec = load_trajectory(out).steps[0].actions[0]
    assert rec.executed or rec.error.startswith("Action failed: ")
    assert result.status == "success", result.reason


# ---------------------------------------------------------------------- a property over the whole loop

_numbers = st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                     st.sampled_from([1e308, -1e308, 2**63, 1372, 756, 0, -0.0]))
_values = st.one_of(_numbers, st.text(max_size=30), st.booleans(), st.none(),
                    st.lists(_numbers, max_size=5), st.lists(st.text(max_size=8), max_size=10))
_names = st.sampled_from(sorted(ACTIONS["computer_use"]) + ["click", "press", "exec", "__import__", "Left_Click"])
_points = st.one_of(st.tuples(_numbers, _numbers).map(list), _values)
_args = st.fixed_dictionaries({}, optional={
    "coordinate": _points, "coordinate2": _points, "text": _values, "keys": _values, "pixels": _values,
    "time": _values, "status": _values, "button": _values, "cmd": _values})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(action=_names, args=_args,
       wrapper=st.sampled_from(["<tool_call>\n{}\n</tool_call>", "{}", "```json\n{}\n```", "<tool_call>{}"]))
def test_whatever_the_reply_only_valid_on_screen_allowed_actions_reach_the_env(action, args, wrapper, recordings):
    reply = wrapper.replace("{}", json.dumps({"name": "computer_use", "arguments": {"action": action, **args}}))
    env = ReplayEnv(recordings["computer_use"])
    agent = _Agent(ScriptedModel([reply, TERMINATE["computer_use"]]), env, settle=FAST, max_steps=3)
    result = agent.run("x")
    assert result.status == "success" and result.steps == 2
    w, h = SCREENS["computer_use"]
    guard = Guard()
    for executed in env.executed:
        typed = action_from_dict("computer_use", executed)  # a valid typed action, nothing else
        for x, y in typed.points().values():
            assert 0 <= x < w and 0 <= y < h
        assert guard.check(typed).verdict == "allow"
    assert all(0 <= s <= MAX_WAIT_SECONDS for s in agent.slept)
