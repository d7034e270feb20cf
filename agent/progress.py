"""Live output of `guiagent run`: one compact line per step, or one JSON object per step."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

from guiagent.agent.callbacks import Callback
from guiagent.agent.trajectory import Result, RunMeta, StepRecord

if TYPE_CHECKING:
    from guiagent.model.base import Completion

TICK_SECONDS = 0.25  # how often the status line is redrawn


def describe_action(action: dict | None) -> str:
    """`left_click (640, 400)`, `type "hello"`, `key ctrl+c` ..."""
    if not action:
        return "-"
    name = action.get("action", "?")
    parts = [name]
    if "coordinate" in action:
        parts.append("({}, {})".format(*action["coordinate"]))
    if "coordinate2" in action:
        parts.append("-> ({}, {})".format(*action["coordinate2"]))
    if "keys" in action:
        parts.append("+".join(action["keys"]))
    for k in ("text", "button", "status"):
        if k in action:
            v = str(action[k])
            parts.append(json.dumps(v[:40] + ("…" if len(v) > 40 else ""), ensure_ascii=False))
    if "pixels" in action:
        parts.append(f"{action['pixels']:g}px")
    if "time" in action:
        parts.append(f"{action['time']:g}s")
    return " ".join(parts)


class Progress(Callback):
    """Prints each step as it ends and the run's final line; `mode` "quiet" prints only the final line,
    "json" one JSON object per step and one for the end.

    On a terminal (`live`), a status line redrawn while the model thinks shows the step, the seconds so
    far and, from backends that stream (hf:, openai:), the reply's tokens so far."""

    def __init__(self, mode: str = "lines", stream: TextIO | None = None, live: bool | None = None) -> None:
        self.mode = mode
        self.stream = stream or sys.stdout
        self.prefix = ""  # "dry run: " on every line of a dry run, so no line reads as an executed action
        # On a terminal (only), a status line redrawn in place while the model thinks; a file or pipe gets
        # the plain per-step lines and no control characters.
        self.live = mode == "lines" and (_isatty(self.stream) if live is None else live)
        # Token counts only feed the live line: without it the model is not asked to stream.
        self.wants_tokens = self.live
        self._tokens: tuple[int, int] | None = None  # (step, tokens so far), set from the backend's thread
        self._thinking: threading.Event | None = None
        self._ticker: threading.Thread | None = None
        self._lock = threading.Lock()

    def on_step_start(self, index: int) -> None:
        if not self.live:
            return
        self._stop_ticker()
        done = threading.Event()
        t0 = time.monotonic()

        self._tokens = None

        def tick() -> None:
            while not done.wait(TICK_SECONDS):
                with self._lock:
                    if not done.is_set():
                        self.stream.write(f"\r\x1b[2K{self.prefix}step {index:>3}  model thinking… "
                                          f"{time.monotonic() - t0:.1f}s{self._token_text(index)}")
                        self.stream.flush()

        self._thinking = done
        self._ticker = threading.Thread(target=tick, daemon=True, name="progress-thinking")
        self._ticker.start()

    def on_tokens(self, index: int, count: int) -> None:
        self._tokens = (index, count)  # one assignment: the ticker thread reads it whole

    def _token_text(self, index: int) -> str:
        seen = self._tokens
        if seen is None or seen[0] != index:
            return ""
        return f"  {seen[1]} token{'' if seen[1] == 1 else 's'}"

    def on_completion(self, index: int, completion: Completion) -> None:
        self._stop_ticker()

    def _stop_ticker(self) -> None:
        done, ticker = self._thinking, self._ticker
        self._thinking = self._ticker = None
        if done is None or ticker is None:
            return
        with self._lock:
            done.set()
            self.stream.write("\r\x1b[2K")  # the status line goes; the step's line takes its place
            self.stream.flush()
        ticker.join()

    def on_run_start(self, meta: RunMeta) -> None:
        self.prefix = "dry run: " if meta.dry_run else ""

    def on_step_end(self, step: StepRecord) -> None:
        self._stop_ticker()
        if self.mode == "quiet":
            return
        if self.mode == "json":
            self._emit(json.dumps({"event": "step", **json.loads(step.model_dump_json())}, ensure_ascii=False))
            return
        took = sum(step.durations.values())
        acts = [describe_action(a.screen_action or a.model_action) + ("" if a.decision in ("allow", "dry-run")
                else f" [{a.decision}]") for a in step.actions]
        what = "; ".join(acts) if acts else f"error: {step.error}" if step.error else "no action"
        self._emit(f"{self.prefix}step {step.index:>3}  {what}  ({took:.2f}s)")

    def on_run_end(self, result: Result) -> None:
        self._stop_ticker()
        if self.mode == "json":
            self._emit(json.dumps({"event": "end", "status": result.status, "steps": result.steps,
                                   "reason": result.reason, "answer": result.answer,
                                   "out_dir": str(result.out_dir) if result.out_dir else None}, ensure_ascii=False))
            return
        tail = f": {result.reason}" if result.reason else ""
        where = f"  trajectory: {result.out_dir}" if result.out_dir else ""
        answer = f"  answer: {result.answer}" if result.answer else ""
        self._emit(f"{self.prefix}{result.status} after {result.steps} step(s){tail}{answer}{where}")

    def _emit(self, line: str) -> None:
        print(line, file=self.stream, flush=True)


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or bare stream
        return False
