"""The parallel benchmark runner.

N worker threads share one model (the in-process backend batches concurrent requests;
an ``openai:`` endpoint serves them all). Each worker owns its envs: one sandbox per
env kind (its own headless Chromium, Xvfb display, or simulated phone on its own port),
opened on first use and reused across tasks.

Per task: prepare the sandbox, run the setup steps, run the agent loop (trajectory to
the task folder), capture the final screen, evaluate, tear down, write the records.

- Infrastructure errors (an env that does not start, a device or display lost, a model
  backend failure, a setup step that crashes) discard the worker's sandbox and retry the
  task once on a fresh one; a second failure is reported as an *error*, never as an
  agent failure.
- Per-task timeout: at the deadline the agent is asked to stop after its current action
  and the episode is evaluated as it stands (slowness is the agent's failure); if it
  still has not returned after a grace period, the sandbox is killed to unblock it.
- Ctrl+C (SIGINT/SIGTERM): running agents stop after their current action, no new task
  starts, unfinished tasks are recorded as *interrupted*; `--resume` runs them (and
  errored ones) again and keeps everything that finished. A second Ctrl+C exits at once
  (every file already written is complete: each is a rename of a finished temp file).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.agent.runlock import RecordError, RunFolderInUse, lock_run_folder
from guiagent.agent.trajectory import FINAL_SCREENSHOT
from guiagent.harness import results
from guiagent.harness.base import DEFAULT_INFEASIBLE_MAPPING, InfraError, InvalidTask, Sandbox, Task, TaskSkip
from guiagent.harness.isolation import bwrap_path, unavailable_reason
from guiagent.harness.progress import BenchProgress
from guiagent.harness.results import DONE_STATUSES, TaskRecord
from guiagent.model.redact import redact

if TYPE_CHECKING:
    from guiagent.agent.callbacks import Callback
    from guiagent.agent.loop import Agent, Calls, Result
    from guiagent.model.base import Model
    from guiagent.model.image import PixelBudget

INFRA_STATUSES = {"device_lost", "display_lost", "env_error", "model_error", "record_error", "error"}
TIMEOUT_REASON = "task timeout"
EXIT_INTERRUPTED = 130


class RunError(ValueError):
    """A run that cannot start (bad --out / --resume); one line for the user."""


@dataclass
class RunOptions:
    out: Path
    model_spec: str
    suite: str = ""
    workers: int = 1
    timeout: float = 900.0
    resume: bool = False
    retries: int = 1
    history: str = "text"
    budget: PixelBudget | None = None
    serial: str | None = None  # android: a device of the user's instead of simulated phones
    unsafe_host: bool = False  # run task commands on the host when bubblewrap is missing
    calls: Calls = "first"  # tool calls executed per reply (Agent.calls)
    infeasible_mapping: str = DEFAULT_INFEASIBLE_MAPPING  # a key of base.INFEASIBLE_MAPPINGS
    kill_grace: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)
    callbacks: list[Callback] = field(default_factory=list)  # added to every episode's Agent (`guiagent demo`)


class _Pending:
    """Tasks not started yet. A worker takes one with the same affinity as its last task first
    (MiniWoB: the page it has loaded; loading a page costs Chromium ~0.25 s of CPU), else the next."""

    def __init__(self, tasks: list[Task]) -> None:
        self._tasks = list(tasks)
        self._lock = threading.Lock()

    def take(self, prefer: str | None) -> Task | None:
        with self._lock:
            if not self._tasks:
                return None
            if prefer is not None:
                for i, t in enumerate(self._tasks):
                    if t.affinity == prefer:
                        return self._tasks.pop(i)
            return self._tasks.pop(0)


_STARTING = threading.Lock()


class _Worker:
    """One worker thread's envs (a sandbox per env kind) and its running agent."""

    def __init__(self, index: int, options: RunOptions) -> None:
        self.index = index
        self.options = options
        self.root = Path(tempfile.mkdtemp(prefix=f"guiagent-bench-w{index}-"))
        self.sandboxes: dict[str, Sandbox] = {}
        self.agent: Agent | None = None

    def sandbox(self, kind: str) -> Sandbox:
        sb = self.sandboxes.get(kind)
        if sb is not None and not sb.alive():
            self.discard(kind)
            sb = None
        if sb is None:
            from guiagent.harness.sandboxes import open_sandbox

            try:
                # One env starts at a time: two browsers booting at once on a small machine take
                # several times as long as one after the other, and episodes wait on both.
                with _STARTING:
                    sb = open_sandbox(kind, self.root / kind, {"serial": self.options.serial,
                                                               "unsafe_host": self.options.unsafe_host})
            except InfraError:
                raise
            except Exception as exc:  # noqa: BLE001 - any start failure is infrastructure
                raise InfraError(f"the {kind} env did not start: {type(exc).__name__}: {exc}") from None
            self.sandboxes[kind] = sb
        return sb

    def discard(self, kind: str) -> None:
        sb = self.sandboxes.pop(kind, None)
        if sb is not None:
            try:
                sb.close()
            except Exception:  # noqa: BLE001 - a broken env may fail to close; it is dropped anyway
                pass

    def close(self) -> None:
        for kind in list(self.sandboxes):
            self.discard(kind)
        shutil.rmtree(self.root, ignore_errors=True)


class Runner:
    """Runs `tasks` with `model`; `run()` returns the summary dict."""

    def __init__(self, tasks: list[Task], model: Model, options: RunOptions,
                 progress: BenchProgress | None = None) -> None:
        self.tasks = tasks
        self.model = model
        self.options = options
        self.out = Path(options.out)
        self.stopping = threading.Event()
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.progress = progress
        self.on_task_end: list[Any] = []  # callables(TaskRecord); tests and tools hook in here

    # ------------------------------------------------------------------ public

    def stop(self, reason: str = "interrupted by the user") -> None:
        """Stop after the current actions; what is unfinished is recorded as interrupted."""
        self.stopping.set()
        with self._lock:
            for w in self._workers:
                if w.agent is not None:
                    w.agent.request_stop(reason)

    def run(self) -> dict:
        """Run the pending tasks; returns the summary. The results folder is held by this run alone
        (a second bench on it, `--resume` included, is refused with the holder's pid)."""
        try:
            lock = lock_run_folder(self.out)
        except (RunFolderInUse, RecordError) as exc:
            raise RunError(str(exc)) from None
        with lock:
            return self._run()

    def _run(self) -> dict:
        started = time.time()
        pending = self._prepare_out()
        done_before = results.collect(self.out)
        kept = {r.id for r in done_before if r.status in DONE_STATUSES}
        if self.progress is None:
            self.progress = BenchProgress(
                len(self.tasks), already_done=len(kept),
                already_scored=sum(1 for r in done_before if r.id in kept and r.status == "scored"),
                already_success=sum(1 for r in done_before if r.id in kept and r.success))
        if kept:
            self.progress.log(f"resuming: {len(kept)} task(s) already done, {len(pending)} to run")
        q = _Pending(pending)
        n = max(1, min(self.options.workers, len(pending))) if pending else 0
        threads = [threading.Thread(target=self._work, args=(i, q), name=f"bench-worker-{i}", daemon=True)
                   for i in range(n)]
        with self._signals():
            for th in threads:
                th.start()
            for th in threads:
                while th.is_alive():
                    th.join(0.2)  # short joins keep the main thread responsive to Ctrl+C
        self.progress.close()
        meta = {"suite": self.options.suite, "model": self.options.model_spec, "out": str(self.out),
                "infeasible_mapping": self.options.infeasible_mapping,
                "workers": self.options.workers, "started_at": started, "ended_at": time.time(),
                "wall_seconds": time.time() - started, "interrupted": self.stopping.is_set()}
        return results.write_summary(self.out, meta)

    # ------------------------------------------------------------------ setup

    def _prepare_out(self) -> list[Task]:
        out = self.out
        args_file = out / "args.json"
        previous = results.collect(out) if out.exists() else []
        if previous and not self.options.resume:
            raise RunError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        if self.options.resume and args_file.is_file():
            try:
                prev_args = json.loads(args_file.read_text(encoding="utf-8"))
            except ValueError:
                prev_args = {}
            if prev_args.get("model") and prev_args["model"] != self.options.model_spec:
                raise RunError(f"{out} was run with --model {prev_args['model']}; resume it with the same model "
                               "or choose another --out")
        out.mkdir(parents=True, exist_ok=True)
        args = {"suite": self.options.suite, "model": self.options.model_spec, "workers": self.options.workers,
                "timeout": self.options.timeout, "history": self.options.history, "calls": self.options.calls,
                "min_pixels": self.options.budget.min_pixels if self.options.budget else None,
                "max_pixels": self.options.budget.max_pixels if self.options.budget else None,
                "infeasible_mapping": self.options.infeasible_mapping,
                "tasks": [t.id for t in self.tasks], "argv": [redact(a) for a in sys.argv],  # no credentials
                **self.options.extra}
        (out / "args.json").write_text(json.dumps(args, indent=1), encoding="utf-8")
        done = {r.id for r in previous if r.status in DONE_STATUSES}
        pending: list[Task] = []
        from guiagent.harness.oracle import OracleModel

        oracle = isinstance(self.model, OracleModel)
        for t in self.tasks:
            t.infeasible_mapping = self.options.infeasible_mapping
            if t.id in done:
                continue
            folder = results.task_dir(out, t.domain, t.id)
            results.clear_task_dir(folder)
            if isinstance(t, InvalidTask):
                self._record(folder, TaskRecord(task=t.info(), status="invalid", reason=t.message), quiet=True)
            elif t.skip_reason:
                self._record(folder, TaskRecord(task=t.info(), status="skipped", reason=t.skip_reason), quiet=True)
            elif t.runs_commands and not self.options.unsafe_host and bwrap_path() is None:
                self._record(folder, TaskRecord(task=t.info(), status="skipped", reason=unavailable_reason()),
                             quiet=True)
            elif oracle and not t.has_oracle:
                self._record(folder, TaskRecord(task=t.info(), status="skipped",
                                                reason="the oracle has no ground truth for this task"), quiet=True)
            else:
                pending.append(t)
        return pending

    def _record(self, folder: Path, rec: TaskRecord, quiet: bool = False) -> None:
        results.write_record(folder, rec)
        if self.progress is not None:
            self.progress.finished(rec)
        for fn in self.on_task_end:
            fn(rec)

    # ------------------------------------------------------------------ workers

    def _work(self, index: int, q: _Pending) -> None:
        worker = _Worker(index, self.options)
        with self._lock:
            self._workers.append(worker)
        last: str | None = None
        try:
            while not self.stopping.is_set():
                task = q.take(last)
                if task is None:
                    break
                self._run_task(worker, task)
                last = task.affinity
            # what never started is recorded as interrupted, so --resume picks it up
            while (task := q.take(None)) is not None:
                folder = results.task_dir(self.out, task.domain, task.id)
                self._record(folder, TaskRecord(task=task.info(), status="interrupted", reason="not started"))
        finally:
            worker.close()

    def _run_task(self, worker: _Worker, task: Task) -> None:
        folder = results.task_dir(self.out, task.domain, task.id)
        if self.progress is not None:
            self.progress.started(task.id)
        attempts = 0
        t0 = time.time()
        while True:
            attempts += 1
            results.clear_task_dir(folder)
            try:
                rec = self._attempt(worker, task, folder)
            except InfraError as exc:
                worker.discard(task.env_kind)
                if attempts <= self.options.retries and not self.stopping.is_set():
                    if self.progress is not None:
                        self.progress.log(f"{task.id}: infrastructure error, retrying on a fresh env: {exc}")
                    continue
                status = "interrupted" if self.stopping.is_set() else "error"
                rec = TaskRecord(task=task.info(), status=status, reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - a harness bug must not stop the other tasks
                worker.discard(task.env_kind)
                tb = traceback.format_exc(limit=6)
                rec = TaskRecord(task=task.info(), status="error", reason=f"{type(exc).__name__}: {exc}",
                                 detail={"traceback": tb})
            break
        rec.attempts = attempts
        rec.started_at = t0
        rec.ended_at = time.time()
        rec.seconds = rec.ended_at - t0
        self._record(folder, rec)

    def _attempt(self, worker: _Worker, task: Task, folder: Path) -> TaskRecord:
        from guiagent.agent.guard import Guard, Policy
        from guiagent.agent.loop import Agent

        phases: dict[str, float] = {}
        mark = time.perf_counter()

        def phase(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            phases[name] = round(now - mark, 4)
            mark = now

        sb = worker.sandbox(task.env_kind)
        sb.prepare(task.id)
        phase("env")
        result: Result | None = None
        timed_out = threading.Event()
        timers: list[threading.Timer] = []
        try:
            try:
                instruction = task.setup(sb)
            except (TaskSkip, InfraError):
                raise
            except Exception as exc:  # noqa: BLE001 - a crashing setup step is an env problem
                raise InfraError(f"setup failed: {type(exc).__name__}: {exc}") from None
            phase("setup")
            if self.stopping.is_set():
                return TaskRecord(task=task.info(), status="interrupted", reason="interrupted before the agent started",
                                  instruction=instruction)
            agent = Agent(
                self.model, sb.env, budget=self.options.budget, max_steps=task.max_steps,
                history=self.options.history, calls=self.options.calls, out_dir=folder, answer=task.answer,
                env_spec=sb.env_spec,
                model_spec=self.options.model_spec, guard=Guard(Policy()), callbacks=list(self.options.callbacks),
            )
            self.model.assign(sb.env, functools.partial(task.oracle_action, sb))

            def on_timeout() -> None:
                timed_out.set()
                agent.request_stop(TIMEOUT_REASON)

            timers = [threading.Timer(self.options.timeout, on_timeout),
                      threading.Timer(self.options.timeout + self.options.kill_grace, sb.kill)]
            for tm in timers:
                tm.daemon = True
                tm.start()
            with self._lock:
                worker.agent = agent
            if self.stopping.is_set():
                agent.request_stop("interrupted by the user")
            try:
                result = agent.run(instruction)
            finally:
                with self._lock:
                    worker.agent = None
                for tm in timers:
                    tm.cancel()
            phase("agent")
            if result.status in INFRA_STATUSES:
                raise InfraError(f"{result.status}: {result.reason}")
            if result.status == "interrupted" and not timed_out.is_set():
                return self._finish(task, folder, result, "interrupted", None, instruction, {}, False,
                                    reason=result.reason)
            final = self._final_screenshot(sb, folder, result)
            try:
                outcome = task.evaluate(sb, result)
            except TaskSkip as exc:
                # Whether a task counts must not depend on what its agent did: a task that cannot be
                # evaluated is skipped before its episode (the loaders' checks), so one found out only
                # now is an error (a failure in success_rate), never a skip, and is not run again.
                rec = self._finish(task, folder, result, "error", None, instruction, {}, timed_out.is_set(),
                                   reason=f"could not be evaluated after the episode: {exc}")
                results.export_osworld(folder, result.trajectory, final)
                return rec
            except InfraError:
                raise
            except Exception as exc:  # noqa: BLE001 - an evaluator that crashes is not the agent's failure
                raise InfraError(f"evaluation failed: {type(exc).__name__}: {exc}") from None
            phase("evaluate")
            rec = self._finish(task, folder, result, "scored", outcome.score, instruction, outcome.detail,
                               timed_out.is_set())
            results.export_osworld(folder, result.trajectory, final)
            results.write_report(folder, rec)
            phase("export")
            rec.phases = phases
            return rec
        except TaskSkip as exc:
            return TaskRecord(task=task.info(), status="skipped", reason=str(exc))
        finally:
            self.model.release(sb.env)
            try:
                task.teardown(sb)
            except Exception as exc:  # noqa: BLE001 - a failed teardown spoils the sandbox, not the score
                worker.discard(task.env_kind)
                if self.progress is not None:
                    self.progress.log(f"{task.id}: teardown failed ({exc}); the env will be restarted")
            phase("teardown")

    def _finish(self, task: Task, folder: Path, result: Result, status: str, score: float | None,
                instruction: str, detail: dict, timed_out: bool, reason: str | None = None) -> TaskRecord:
        stats = results.trajectory_stats(result.trajectory)
        success = None if score is None else score >= 1.0
        return TaskRecord(
            task=task.info(), status=status, score=score, success=success,
            reason=reason or (f"timed out after {self.options.timeout:g} s" if timed_out else None),
            instruction=instruction,
            agent={"status": result.status, "reason": result.reason, "answer": result.answer},
            steps=stats["steps"], step_latency=stats["step_latency"], prompt_tokens=stats["prompt_tokens"],
            completion_tokens=stats["completion_tokens"], detail=detail, timed_out=timed_out,
        )

    @staticmethod
    def _final_screenshot(sb: Sandbox, folder: Path, result: Result) -> Path | None:
        """The screen after the last step: the loop's own final frame when it recorded one, else one capture."""
        final = result.trajectory.final
        if final is not None and (folder / final.screenshot).is_file():
            return folder / final.screenshot
        try:
            shot = sb.env.observe()
        except Exception:  # noqa: BLE001 - the final capture is a nicety for OSWorld's layout
            return None
        path = folder / FINAL_SCREENSHOT
        shot.image.save(path, compress_level=1)
        return path

    # ------------------------------------------------------------------ signals

    def _signals(self):
        runner = self

        class _Handler:
            count = 0

            def __enter__(self):
                self.saved = {}
                if threading.current_thread() is not threading.main_thread():
                    return self
                for s in (signal.SIGINT, signal.SIGTERM):
                    self.saved[s] = signal.signal(s, self.handle)
                return self

            def handle(self, signum, frame) -> None:
                self.count += 1
                if self.count == 1:
                    if runner.progress is not None:
                        runner.progress.log("stopping: running tasks end after their current action "
                                            "(Ctrl+C again to quit now); --resume continues the run")
                    runner.stop("interrupted by the user" if signum == signal.SIGINT else "terminated")
                else:
                    os._exit(EXIT_INTERRUPTED)

            def __exit__(self, *exc) -> None:
                for s, h in self.saved.items():
                    signal.signal(s, h)

        return _Handler()


__all__ = ["INFRA_STATUSES", "RunError", "RunOptions", "Runner"]
