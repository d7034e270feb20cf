"""Live progress of a benchmark run: tasks done, success so far, ETA.

On a terminal one bar is redrawn in place (and a ticker keeps the ETA and the
elapsed time moving); otherwise (CI logs, pipes) one plain line per finished task.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from typing import TextIO

from guiagent.harness.results import TaskRecord

BAR_WIDTH = 24


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds + 0.5)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class BenchProgress:
    """Thread-safe; workers call `started` and `finished`, the runner `log` and `close`."""

    def __init__(self, total: int, *, stream: TextIO | None = None, tty: bool | None = None,
                 already_done: int = 0, already_success: int = 0, already_scored: int = 0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.total = total
        self.done = already_done
        self.success = already_success
        self.scored = already_scored
        self._ran = 0  # tasks finished in this process (the ETA is based on these)
        self._t0 = time.monotonic()
        self._running: dict[str, float] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._drawn = False
        self._ticker: threading.Thread | None = None
        if self.tty:
            self._ticker = threading.Thread(target=self._tick, daemon=True, name="bench-progress")
            self._ticker.start()

    # ------------------------------------------------------------------ events

    def started(self, task_id: str) -> None:
        with self._lock:
            self._running[task_id] = time.monotonic()
            if self.tty:
                self._draw()

    def finished(self, record: TaskRecord) -> None:
        with self._lock:
            self._running.pop(record.id, None)
            self.done += 1
            self._ran += 1
            if record.status == "scored":
                self.scored += 1
                self.success += bool(record.success)
            if self.tty:
                self._clear()
                if record.status != "scored" or not record.success:
                    self.stream.write(self._task_line(record) + "\n")
                self._draw()
            else:
                self.stream.write(self._task_line(record) + " | " + self._status() + "\n")
            self.stream.flush()

    def log(self, message: str) -> None:
        with self._lock:
            self._clear()
            self.stream.write(message + "\n")
            if self.tty:
                self._draw()
            self.stream.flush()

    def close(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        with self._lock:
            self._clear()
            self.stream.flush()

    # ------------------------------------------------------------------ text

    def eta(self) -> float | None:
        left = self.total - self.done
        if left <= 0:
            return 0.0
        if not self._ran:
            return None
        return (time.monotonic() - self._t0) / self._ran * left

    def _status(self) -> str:
        # over every task done, as summary.json's success_rate: a skipped or errored task is a failure
        rate = f"{100 * self.success / self.done:.1f}%" if self.done else "-"
        return (f"{self.done}/{self.total} done, success {self.success}/{self.done} ({rate}), "
                f"elapsed {_dur(time.monotonic() - self._t0)}, ETA {_dur(self.eta())}")

    def _task_line(self, r: TaskRecord) -> str:
        if r.status == "scored":
            what = f"{'success' if r.success else 'fail'} {r.score:.2f} ({r.steps} steps, {r.seconds:.1f} s)"
            if r.timed_out:
                what += " timed out"
        else:
            what = f"{r.status}: {r.reason or ''}".rstrip(": ")
        width = len(str(self.total))
        return f"[{self.done:>{width}}/{self.total}] {r.id}  {what}"

    def _bar(self) -> str:
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * BAR_WIDTH)
        running = ", ".join(list(self._running)[:3])
        line = f"[{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {self._status()}" + (f"  running: {running}" if running else "")
        cols = shutil.get_terminal_size((100, 20)).columns
        return line[: max(20, cols - 1)]

    def _draw(self) -> None:
        self.stream.write("\r\x1b[2K" + self._bar())
        self._drawn = True
        self.stream.flush()

    def _clear(self) -> None:
        if self.tty and self._drawn:
            self.stream.write("\r\x1b[2K")
            self._drawn = False

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                self._draw()


__all__ = ["BenchProgress"]
