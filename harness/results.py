"""Run results on disk: per-task records, OSWorld's layout, and the run summary.

A run folder (``--out``) holds ``args.json`` (how the run was started) and one folder
per task instance, ``<domain>/<task id>/``, with:

- ``trajectory.json`` + ``steps.jsonl`` + ``step_NNN.png``: our trajectory, written by the agent loop;
- ``result.json``: our record (status scored/skipped/error/invalid/interrupted, score,
  agent ending, steps, latency, tokens, evaluator detail);
- OSWorld's layout, derived from the trajectory after the run: ``result.txt``
  (``f"{score}\\n"``, only for scored tasks, so OSWorld's resume rule "no result.txt =
  not done" holds), ``traj.jsonl`` (one line per action: step_num, action_timestamp,
  action, response, reward, done, info, screenshot_file) and ``step_N_<timestamp>.png``
  (the screen *after* step N's actions, as OSWorld saves it; hard links, not copies).

``summary.json`` and ``summary.md`` aggregate every ``result.json`` of the folder, as the
benchmarks' own totals do: ``success_rate`` = successes / ``total`` (every instance selected;
skipped, errored, invalid and interrupted ones count as failures), ``scored_success_rate`` =
successes / ``scored``, ``mean_score`` over ``total`` (an unscored task scores 0), the same per
domain, the skip and error reasons grouped, the OSWorld infeasible mapping when the run has
OSWorld tasks, and mean steps, step latency and tokens over the scored tasks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.harness.base import DEFAULT_INFEASIBLE_MAPPING, INFEASIBLE_MAPPINGS

if TYPE_CHECKING:
    from guiagent.agent.trajectory import ActionRecord, Trajectory

RESULT_FILE = "result.json"
DONE_STATUSES = ("scored", "skipped", "invalid")  # --resume keeps these; error/interrupted run again


@dataclass
class TaskRecord:
    """What one task instance ended with (``result.json``)."""

    task: dict
    status: str  # scored | skipped | error | invalid | interrupted
    score: float | None = None
    success: bool | None = None
    reason: str | None = None
    instruction: str | None = None
    agent: dict = field(default_factory=dict)  # status, reason, answer
    steps: int = 0
    seconds: float = 0.0
    step_latency: float | None = None  # mean wall seconds per step
    prompt_tokens: int = 0
    completion_tokens: int = 0
    detail: dict = field(default_factory=dict)
    phases: dict = field(default_factory=dict)  # seconds: env, setup, agent, evaluate, export, teardown
    attempts: int = 1
    timed_out: bool = False
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def id(self) -> str:
        return self.task["id"]

    @property
    def domain(self) -> str:
        return self.task.get("domain") or "default"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False, default=str)

    @classmethod
    def from_dict(cls, data: dict) -> TaskRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def task_dir(out: Path, domain: str, task_id: str) -> Path:
    return out / _safe(domain) / _safe(task_id)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.@+~-]+", "_", name).strip("._") or "_"


def write_record(folder: Path, record: TaskRecord) -> None:
    """result.json (atomically) and, for scored tasks, OSWorld's result.txt."""
    folder.mkdir(parents=True, exist_ok=True)
    _atomic_write(folder / RESULT_FILE, record.to_json())
    if record.status == "scored":
        _atomic_write(folder / "result.txt", f"{record.score}\n")


def read_record(folder: Path) -> TaskRecord | None:
    try:
        return TaskRecord.from_dict(json.loads((folder / RESULT_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def clear_task_dir(folder: Path) -> None:
    """Remove a previous attempt (OSWorld's resume wipes unfinished task folders too)."""
    shutil.rmtree(folder, ignore_errors=True)


def trajectory_stats(traj: Trajectory) -> dict[str, Any]:
    """steps, mean step latency (wall seconds per step) and token totals of a trajectory."""
    steps = traj.steps
    lat = [s.ended_at - s.started_at for s in steps if s.ended_at and s.started_at]
    return {
        "steps": len(steps),
        "step_latency": sum(lat) / len(lat) if lat else None,
        "prompt_tokens": sum(s.usage.prompt_tokens for s in steps),
        "completion_tokens": sum(s.usage.completion_tokens for s in steps),
    }


def export_osworld(folder: Path, traj: Trajectory, final_screenshot: Path | None) -> None:
    """traj.jsonl and step_N_<timestamp>.png (the screen after step N) from our trajectory."""
    lines = []
    n = len(traj.steps)
    for i, step in enumerate(traj.steps):
        # The screen after step i is what step i+1 observed; after the last step, the final capture.
        after = traj.steps[i + 1].screenshot if i + 1 < n else None
        src = folder / after if after else final_screenshot
        stamp = time.strftime("%Y%m%d@%H%M%S", time.localtime(step.ended_at or step.started_at))
        stamp += f"{int(((step.ended_at or step.started_at) % 1) * 1e6):06d}"
        shot_name: str | None = None
        if src is not None and src.is_file():
            shot_name = f"step_{step.index}_{stamp}.png"
            _link(src, folder / shot_name)
        actions: list[ActionRecord | None] = list(step.actions) or [None]
        for j, rec in enumerate(actions):
            last = i == n - 1 and j == len(actions) - 1
            lines.append(json.dumps({
                "step_num": step.index,
                "action_timestamp": stamp,
                "action": (rec.screen_action or rec.model_action) if rec else None,
                "response": step.raw_text,
                "reward": 0,
                "done": last and traj.status != "running",
                "info": {"error": rec.error} if rec and rec.error else ({"error": step.error} if step.error else {}),
                "screenshot_file": shot_name,
            }, ensure_ascii=False))
    _atomic_write(folder / "traj.jsonl", "".join(line + "\n" for line in lines))


def _link(src: Path, dst: Path) -> None:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ---------------------------------------------------------------------- summary


def collect(out: Path) -> list[TaskRecord]:
    """Every task record under a run folder, sorted by domain and id."""
    records = []
    for file in sorted(out.glob(f"*/*/{RESULT_FILE}")):
        rec = read_record(file.parent)
        if rec is not None:
            records.append(rec)
    return sorted(records, key=lambda r: (r.domain, r.id))


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarize(records: list[TaskRecord], meta: dict | None = None) -> dict:
    """Counts, success rates and mean score overall and per domain, grouped reasons, mean steps, latency, tokens.

    The headline numbers (``total`` ... ``mean_score``) are also at the top level; ``overall`` keeps
    them with the older names (``tasks``, ``success``) too, and the count of interrupted tasks.
    """
    meta = dict(meta or {})
    scored = [r for r in records if r.status == "scored"]
    overall = _block(records)
    domains = sorted({r.domain for r in records})
    latencies = [r.step_latency for r in scored if r.step_latency is not None]
    # (the count of interrupted tasks stays in `overall`: top-level `interrupted` is the run's flag, from meta)
    headline = {k: overall[k] for k in ("total", "scored", "skipped", "errors", "invalid", "successes",
                                        "success_rate", "scored_success_rate", "mean_score")}
    out: dict[str, Any] = {
        **meta, **headline,
        "skip_reasons": group_reasons([r.reason for r in records if r.status in ("skipped", "invalid")]),
        "error_reasons": group_reasons([r.reason for r in records if r.status == "error"]),
        "overall": overall,
        "per_domain": {d: _block([r for r in records if r.domain == d]) for d in domains},
        "mean_steps": _mean([float(r.steps) for r in scored]),
        "mean_step_latency_s": _mean(latencies),
        "mean_tokens": _mean([float(r.prompt_tokens + r.completion_tokens) for r in scored]),
        "mean_task_seconds": _mean([r.seconds for r in scored]),
        "tasks": [{"id": r.id, "domain": r.domain, "status": r.status, "score": r.score, "success": r.success,
                   "steps": r.steps, "agent": r.agent.get("status"), "reason": r.reason} for r in records],
    }
    osworld = [r for r in records if r.task.get("format") == "osworld"]
    if osworld:
        mapping = str(meta.get("infeasible_mapping") or DEFAULT_INFEASIBLE_MAPPING)
        infeasible = [r for r in osworld if r.task.get("infeasible")]
        out["infeasible"] = {
            "mapping": mapping, "rule": INFEASIBLE_MAPPINGS.get(mapping, mapping), "tasks": len(infeasible),
            "successes": sum(1 for r in infeasible if r.success),
            "note": f"OSWorld's own Qwen2.5-VL agent sends DONE for every terminate (--infeasible-mapping osworld): "
                    f"with it no infeasible task succeeds; the {len(infeasible)} infeasible task(s) here can move "
                    f"success_rate by up to {_pct(len(infeasible) / len(records) if records else None)}",
        }
    return out


def _block(rs: list[TaskRecord]) -> dict:
    sc = [r for r in rs if r.status == "scored"]
    succ = sum(1 for r in sc if r.success)
    total = len(rs)
    return {
        "total": total,
        "tasks": total,  # the older name of total
        "scored": len(sc),
        "skipped": sum(1 for r in rs if r.status == "skipped"),
        "errors": sum(1 for r in rs if r.status == "error"),
        "invalid": sum(1 for r in rs if r.status == "invalid"),
        "interrupted": sum(1 for r in rs if r.status == "interrupted"),
        "successes": succ,
        "success": succ,  # the older name of successes
        "success_rate": succ / total if total else None,
        "scored_success_rate": succ / len(sc) if sc else None,
        "mean_score": sum(r.score or 0.0 for r in sc) / total if total else None,
        "scored_mean_score": _mean([r.score or 0.0 for r in sc]),
    }


_REASON_NOISE = [
    (re.compile(r"[a-z][a-z0-9+.-]*://\S+?(?=[)\s,;]|$)"), "<url>"),
    (re.compile(r"(?<![\w./])(?:~|\.{1,2})?/[\w.~-][^\s'\"),;]*"), "<path>"),
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "N"),
]


def reason_group(reason: str | None) -> str:
    """A reason with what differs between tasks (URLs, paths, numbers) replaced, so alike reasons group."""
    text = " ".join((reason or "no reason recorded").split())
    for pattern, repl in _REASON_NOISE:
        text = pattern.sub(repl, text)
    return text[:200]


def group_reasons(reasons: list[str | None]) -> dict[str, int]:
    """{grouped reason: count}, most frequent first."""
    counts: dict[str, int] = {}
    for r in reasons:
        key = reason_group(r)
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _num(v: float | None, fmt: str = "{:.2f}") -> str:
    return "-" if v is None else fmt.format(v)


def headline(summary: dict) -> str:
    """The one line every report leads with: success rate over all selected tasks, and what was not scored."""
    o = summary["overall"]
    return (f"Success rate {_pct(o['success_rate'])} ({o['successes']}/{o['total']} tasks; skipped, errored, invalid "
            f"and interrupted tasks count as failures); {_pct(o['scored_success_rate'])} of the {o['scored']} scored; "
            f"mean score {_num(o['mean_score'], '{:.3f}')}.")


def not_scored_lines(summary: dict) -> list[str]:
    """How many were skipped or errored, and why (grouped), and the infeasible mapping: one line each."""
    o = summary["overall"]
    lines = [f"{o['skipped']} skipped, {o['errors']} errored, {o['invalid']} invalid, {o['interrupted']} interrupted."]
    for title, key in (("skipped/invalid", "skip_reasons"), ("errored", "error_reasons")):
        for reason, n in (summary.get(key) or {}).items():
            lines.append(f"{n} {title}: {reason}")
    inf = summary.get("infeasible")
    if inf:
        lines.append(f"Infeasible mapping: {inf['mapping']} ({inf['rule']}); {inf['successes']}/{inf['tasks']} "
                     f"infeasible tasks succeeded. {inf['note']}.")
    return lines


def render_markdown(summary: dict) -> str:
    o = summary["overall"]
    lines = [
        f"# {summary.get('suite', 'benchmark')} — {summary.get('model', '')}",
        "",
        f"**{headline(summary)}**",
        "",
        *[f"- {line}" for line in not_scored_lines(summary)],
        "",
        f"Mean steps {_num(summary['mean_steps'])}, mean step latency {_num(summary['mean_step_latency_s'], '{:.3f}')} s, "
        f"mean tokens {_num(summary['mean_tokens'], '{:.0f}')}, mean task time {_num(summary['mean_task_seconds'])} s "
        f"(over the {o['scored']} scored tasks).",
        "",
        "| domain | total | scored | success | success rate | scored success rate | mean score | skipped | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for d, b in summary["per_domain"].items():
        lines.append(f"| {d} | {b['total']} | {b['scored']} | {b['successes']} | {_pct(b['success_rate'])} | "
                     f"{_pct(b['scored_success_rate'])} | {_num(b['mean_score'], '{:.3f}')} | {b['skipped']} | "
                     f"{b['errors']} |")
    lines += ["", "| task | domain | status | score | steps | agent | note |", "|---|---|---|---:|---:|---|---|"]
    for t in summary["tasks"]:
        note = (t["reason"] or "").replace("|", "/").replace("\n", " ")[:120]
        lines.append(f"| {t['id']} | {t['domain']} | {t['status']} | {_num(t['score'])} | {t['steps']} | "
                     f"{t['agent'] or '-'} | {note} |")
    return "\n".join(lines) + "\n"


def render_text(summary: dict) -> str:
    """The summary printed at the end of `guiagent bench`."""
    o = summary["overall"]
    rows = [f"{summary.get('suite', 'benchmark')}: success {_pct(o['success_rate'])} ({o['successes']}/{o['total']})"
            f"  scored success {_pct(o['scored_success_rate'])} ({o['successes']}/{o['scored']})"
            f"  mean score {_num(o['mean_score'], '{:.3f}')}"
            f"  skipped {o['skipped']}  errors {o['errors']}  invalid {o['invalid']}  interrupted {o['interrupted']}",
            f"  mean steps {_num(summary['mean_steps'])}  step latency {_num(summary['mean_step_latency_s'], '{:.3f}')} s"
            f"  tokens {_num(summary['mean_tokens'], '{:.0f}')}"]
    width = max((len(d) for d in summary["per_domain"]), default=6)
    for d, b in summary["per_domain"].items():
        rows.append(f"  {d:<{width}}  {_pct(b['success_rate']):>6}  ({b['successes']}/{b['total']})"
                    + (f"  skipped {b['skipped']}" if b["skipped"] else "")
                    + (f"  errors {b['errors']}" if b["errors"] else "")
                    + (f"  invalid {b['invalid']}" if b["invalid"] else ""))
    rows += [f"  {line}" for line in not_scored_lines(summary)[1:]]
    return "\n".join(rows)


def write_summary(out: Path, meta: dict) -> dict:
    records = collect(out)
    summary = summarize(records, meta)
    _atomic_write(out / "summary.json", json.dumps(summary, indent=1, ensure_ascii=False, default=str))
    _atomic_write(out / "summary.md", render_markdown(summary))
    write_index(out, records, summary)
    return summary


def write_report(folder: Path, record: TaskRecord | None = None) -> None:
    """The task's HTML run report (``report.html``), headed by the task's score and the evaluator's verdict;
    a report that fails never fails the task."""
    from guiagent.agent.report import render_report

    verdict: list[tuple[str, str]] = []
    if record is not None:
        if record.score is not None:
            verdict.append(("Score", f"{record.score:g} ({'success' if record.success else 'failure'})"))
        detail = {k: v for k, v in record.detail.items() if v not in (None, "", [], {})}
        if detail:
            verdict.append(("Evaluator", "; ".join(f"{k}: {str(v)[:160]}" for k, v in detail.items())))
    try:
        render_report(folder, folder / "report.html", verdict)
    except Exception as exc:  # noqa: BLE001 - the trajectory is still there to view later
        (folder / "report-error.txt").write_text(f"{type(exc).__name__}: {exc}\n", encoding="utf-8")


def _fact(key: str, value: str | float) -> str | float:
    """A summary value as a person reads it: times as local times, durations in seconds, flags as yes/no."""
    import datetime

    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_at") and isinstance(value, (int, float)):
        return datetime.datetime.fromtimestamp(value).strftime("%Y-%m-%d %H:%M:%S")
    if key.endswith("seconds") and isinstance(value, (int, float)):
        return f"{value:.1f} s"
    return value


def write_index(out: Path, records: list[TaskRecord], summary: dict) -> Path:
    """``index.html``: the suite summary and one row per task, linking its report."""
    from guiagent.agent.report import render_index

    entries = []
    for r in records:
        report = task_dir(out, r.domain, r.id) / "report.html"
        entries.append({"id": r.id, "status": "success" if r.success else r.status, "score": r.score,
                        "steps": r.steps, "seconds": r.seconds, "reason": r.reason, "instruction": r.instruction,
                        "report": report if report.exists() else None})
    overall = summary["overall"]
    facts = {"success rate": f"{_pct(overall['success_rate'])} ({overall['successes']}/{overall['total']})",
             "scored success rate": f"{_pct(overall['scored_success_rate'])} ({overall['successes']}/"
                                    f"{overall['scored']})"}
    facts.update({k: _fact(k, v) for k, v in summary.items() if isinstance(v, (str, int, float))
                  and not k.startswith("mean") and k not in ("success_rate", "scored_success_rate", "successes")})
    facts.update({"skipped": overall["skipped"], "errors": overall["errors"], "mean steps": _num(summary["mean_steps"])})
    return render_index(entries, facts, out / "index.html", headline=headline(summary),
                        notes=not_scored_lines(summary))


__all__ = ["DONE_STATUSES", "TaskRecord", "clear_task_dir", "collect", "export_osworld", "group_reasons", "headline",
           "not_scored_lines", "read_record", "reason_group", "render_markdown", "render_text", "summarize", "task_dir", "trajectory_stats", "write_index",
           "write_record", "write_report", "write_summary"]
