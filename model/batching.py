"""Merge concurrent requests into one batched call (the `hf:` backend's micro-batcher).

When the harness runs N episodes against one in-process model, their steps arrive at
about the same time from N threads. `Batcher.submit` blocks the caller; the first
caller to find the model idle becomes the *leader*: it waits up to `wait_s` for more
requests (or until `max_batch` are queued), runs them as one batch, hands every caller
its own result, and the next waiting caller leads the next batch. There is no
background thread to start or stop, and with ``max_batch=1`` it is a plain lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class _Slot(Generic[T]):
    item: T
    queued_at: float = field(default_factory=time.perf_counter)
    done: bool = False
    result: Any = None
    error: BaseException | None = None
    waited: float = 0.0


class Batcher(Generic[T, R]):
    """Runs `run(items) -> results` (same length, same order) on batches of concurrent submits.

    `max_batch` bounds a batch; `wait_s` bounds how long a leader waits for company
    (the latency one request can pay for batching). `batches` counts runs and
    `sizes` records each run's size, for tests and benchmarks.
    """

    def __init__(self, run: Callable[[Sequence[T]], Sequence[R]], *, max_batch: int = 1, wait_s: float = 0.02) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if wait_s < 0:
            raise ValueError(f"batch wait must be >= 0 seconds, got {wait_s}")
        self._run = run
        self.max_batch = max_batch
        self.wait_s = wait_s
        self._cond = threading.Condition()
        self._pending: list[_Slot[T]] = []
        self._running = False
        self.batches = 0
        self.sizes: list[int] = []

    def submit(self, item: T) -> tuple[R, float]:
        """Run `item` (possibly together with others); returns (result, seconds spent queued)."""
        slot: _Slot[T] = _Slot(item)
        with self._cond:
            self._pending.append(slot)
            self._cond.notify_all()
        while True:
            with self._cond:
                while not slot.done and self._running:
                    self._cond.wait()
                if slot.done:
                    break
                # The model is idle and our request is still queued: lead the next batch.
                self._running = True
                deadline = time.perf_counter() + self.wait_s
                while len(self._pending) < self.max_batch:
                    remaining = deadline - time.perf_counter()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            self._execute(batch)
            with self._cond:
                self._running = False
                self._cond.notify_all()
        if slot.error is not None:
            raise slot.error
        return slot.result, slot.waited

    def _execute(self, batch: list[_Slot[T]]) -> None:
        start = time.perf_counter()
        for s in batch:
            s.waited = start - s.queued_at
        try:
            results = list(self._run([s.item for s in batch]))
            if len(results) != len(batch):
                raise RuntimeError(f"batch runner returned {len(results)} results for {len(batch)} requests")
        except BaseException as exc:  # noqa: BLE001 - every caller of the batch gets the failure
            for s in batch:
                s.error = exc
        else:
            for s, r in zip(batch, results, strict=True):
                s.result = r
        finally:
            self.batches += 1
            self.sizes.append(len(batch))
            for s in batch:
                s.done = True
