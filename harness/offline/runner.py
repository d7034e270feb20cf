"""Runs an offline suite: samples in parallel workers, one line per finished sample, resumable.

A run folder (``--out``) holds ``args.json`` (how it was started), ``samples.jsonl`` (one
`SampleRecord` per finished sample, appended as each finishes, so Ctrl+C or a crash keeps
every finished sample), ``summary.json`` / ``summary.md`` (the suite's tables, with
``success_rate`` = overall accuracy) and ``misses.html`` (each miss drawn on its screenshot).
``--resume`` skips the samples already scored; errored ones (a backend failure) run again.

Samples are independent, so workers only overlap model calls: with ``hf:`` the backend merges
concurrent requests into batches, with ``openai:`` N requests stay in flight.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.offline.oracle import OfflineOracle
from guiagent.harness.offline.report import MAX_MISSES, save_picture
from guiagent.harness.offline.suite import SampleRecord
from pydantic import ValidationError

if TYPE_CHECKING:
    from guiagent.harness.offline.suite import OfflineSuite
    from guiagent.harness.progress import BenchProgress
    from guiagent.model.base import Model
    from guiagent.model.image import PixelBudget

log = logging.getLogger("guiagent.harness.offline")

SAMPLES_FILE = "samples.jsonl"
ARGS_FILE = "args.json"


class OfflineRunError(Exception):
    """The run cannot start (e.g. --out holds another run); one line for the user."""


@dataclass
class OfflineOptions:
    out: Path
    model_spec: str
    workers: int = 1
    resume: bool = False
    budget: PixelBudget | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # extra args.json entries (data paths, ...)


def read_records(path: Path) -> dict[str, SampleRecord]:
    """The last record of each sample id in ``samples.jsonl``; a torn last line is ignored."""
    records: dict[str, SampleRecord] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return records
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = SampleRecord.model_validate_json(line)
        except ValidationError:
            continue  # a line cut short by a kill: that sample simply runs again
        records[rec.id] = rec
    return records


class OfflineRunner:
    """`run()` scores every sample not yet done and returns the summary (also written to disk)."""

    def __init__(self, suite: OfflineSuite, model: Model, options: OfflineOptions, *,
                 progress: BenchProgress | Any | None = None, stop: threading.Event | None = None) -> None:
        self.suite = suite
        self.model = model
        self.options = options
        self.progress = progress
        self.stop = stop or threading.Event()
        self._lock = threading.Lock()
        self.is_oracle = isinstance(model, OfflineOracle)
        self._pictures = 0

    # ------------------------------------------------------------------ setup

    def _prepare(self) -> dict[str, SampleRecord]:
        out = self.options.out
        samples_file = out / SAMPLES_FILE
        args = {"suite": self.suite.name, "model": self.options.model_spec, "workers": self.options.workers,
                **({"min_pixels": self.options.budget.min_pixels, "max_pixels": self.options.budget.max_pixels}
                   if self.options.budget else {}), **self.options.settings}
        if self.options.resume:
            try:
                before = json.loads((out / ARGS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                raise OfflineRunError(f"--resume: {out} holds no offline run ({ARGS_FILE} missing)") from None
            if before.get("suite") != self.suite.name:
                raise OfflineRunError(f"--resume: {out} is a {before.get('suite')!r} run, not {self.suite.name!r}")
            if before.get("model") != self.options.model_spec:
                raise OfflineRunError(f"--resume: {out} was run with --model {before.get('model')}, not "
                                      f"{self.options.model_spec}; resume with the same model or use another --out")
            done = {k: r for k, r in read_records(samples_file).items() if r.status == "scored"}
        else:
            if samples_file.exists():
                raise OfflineRunError(f"--out {out} already holds a run; pass --resume to continue it or another --out")
            done = {}
        try:
            out.mkdir(parents=True, exist_ok=True)
            (out / ARGS_FILE).write_text(json.dumps(args, indent=1, default=str), encoding="utf-8")
        except OSError as exc:
            raise OfflineRunError(f"--out {out}: cannot write the run folder ({exc.strerror or exc})") from None
        return done

    # ------------------------------------------------------------------ run

    def run(self) -> dict[str, Any]:
        done = self._prepare()
        total = self.suite.count()
        if self.options.budget is not None:
            self.model.configure(self.options.budget)
        progress = self.progress
        if progress is None:
            from guiagent.harness.progress import BenchProgress

            progress = BenchProgress(total, already_done=len(done), already_success=sum(r.hit for r in done.values()),
                                     already_scored=len(done))
        t0 = time.perf_counter()
        ran = 0
        interrupted = False
        pending = (s for s in self.suite.samples() if s.id not in done)
        workers = max(1, self.options.workers)
        fh = (self.options.out / SAMPLES_FILE).open("a", encoding="utf-8")
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="offline")
        in_flight: dict[Future[SampleRecord], Any] = {}
        try:
            exhausted = False
            while True:
                # keep every worker busy, and no more queued than that: Ctrl+C loses nothing queued
                while not exhausted and not self.stop.is_set() and len(in_flight) < workers:
                    sample = next(pending, None)
                    if sample is None:
                        exhausted = True
                        break
                    in_flight[pool.submit(self._one, sample, progress)] = sample
                if not in_flight:
                    break
                finished, _ = wait(list(in_flight), timeout=0.5, return_when=FIRST_COMPLETED)
                for fut in finished:
                    sample = in_flight.pop(fut)
                    rec = fut.result()
                    with self._lock:
                        fh.write(rec.model_dump_json() + "\n")
                        fh.flush()
                    ran += 1
            interrupted = self.stop.is_set() and not exhausted
        except KeyboardInterrupt:
            interrupted = True
            self.stop.set()
            for fut in in_flight:
                fut.cancel()
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
            fh.close()
            if self.progress is None:
                progress.close()
        wall = time.perf_counter() - t0
        return self.write_summary(interrupted=interrupted, ran=ran, wall=wall)

    def _one(self, sample: Any, progress: Any) -> SampleRecord:
        from guiagent.harness.results import TaskRecord

        progress.started(sample.id)
        t0 = time.perf_counter()
        try:
            truth = self.suite.oracle_truth(sample) if self.is_oracle else None
            rec = self.suite.evaluate(self.model, sample, truth=truth)
        except Exception as exc:  # noqa: BLE001 - one unreadable sample must not end the run
            rec = SampleRecord(id=sample.id, status="error", reason=f"{type(exc).__name__}: {exc}",
                               seconds={"total": time.perf_counter() - t0})
        with self._lock:
            draw = rec.status == "scored" and not rec.hit and self._pictures < MAX_MISSES
            self._pictures += draw
        if draw:
            try:
                save_picture(self.suite, rec, self.options.out, sample)
            except Exception:  # noqa: BLE001 - the page then shows the miss without its picture
                log.warning("could not draw the miss %s", rec.id, exc_info=True)
        group = next(iter(rec.groups.values()), "default") if rec.groups else "default"
        progress.finished(TaskRecord(task={"id": rec.id, "domain": group}, status=rec.status,
                                     score=float(rec.hit) if rec.status == "scored" else None,
                                     success=rec.hit if rec.status == "scored" else None, reason=rec.reason,
                                     steps=1, seconds=rec.seconds.get("total", 0.0)))
        return rec

    # ------------------------------------------------------------------ results

    def write_summary(self, *, interrupted: bool = False, ran: int = 0, wall: float = 0.0) -> dict[str, Any]:
        from guiagent.harness.offline.report import write_misses

        out = self.options.out
        records = list(read_records(out / SAMPLES_FILE).values())
        fields, tables = self.suite.tables(records)
        total = self.suite.count()
        infer = [r.seconds["infer"] for r in records if "infer" in r.seconds]
        summary: dict[str, Any] = {
            "suite": self.suite.name, "model": self.options.model_spec, "workers": self.options.workers,
            "min_pixels": self.options.budget.min_pixels if self.options.budget else None,
            "max_pixels": self.options.budget.max_pixels if self.options.budget else None,
            "samples": total, "done": len(records), "interrupted": interrupted,
            **fields,
            "mean_infer_s": sum(infer) / len(infer) if infer else None,
            "this_run": {"samples": ran, "seconds": wall, "samples_per_s": ran / wall if wall > 0 else None},
        }
        sr = summary.get("success_rate")
        head = (f"# {self.suite.name}: {self.options.model_spec}\n\n"
                f"- overall accuracy (success_rate): {'-' if sr is None else f'{100 * sr:.2f} %'}\n"
                f"- samples: {len(records)} of {total} done, {summary.get('errors', 0)} errors"
                f"{' (interrupted: continue with --resume)' if interrupted else ''}\n"
                f"- pixel budget: min {summary['min_pixels']}, max {summary['max_pixels']}\n\n")
        _atomic(out / "summary.json", json.dumps(summary, indent=1, default=str))
        _atomic(out / "summary.md", head + tables)
        write_misses(self.suite, records, out)
        return summary


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def render_text(summary: dict[str, Any]) -> str:
    """A short plain-text summary for the terminal."""
    sr = summary.get("success_rate")
    return (f"{summary['suite']}: accuracy {'-' if sr is None else f'{100 * sr:.2f}%'} "
            f"({summary.get('done', 0)}/{summary.get('samples', 0)} samples, {summary.get('errors', 0)} errors)")


__all__ = ["OfflineOptions", "OfflineRunError", "OfflineRunner", "read_records", "render_text"]
