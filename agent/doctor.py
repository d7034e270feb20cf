"""`guiagent doctor`: check that this machine can run the agent, and say how to fix what is missing.

Each part owns its checks, a `probe()` returning `CheckResult`s (OK / WARN / FAIL, a detail
line and the fix; `guiagent.tools.checks`): `guiagent.envs.desktop.probe`,
`guiagent.envs.android.probe`, `guiagent.model.hf.probe_gpu` and `guiagent.model.spec.probe`
(hf files and config, openai endpoint, scripted files). This module turns what the user
asked (`Target`) into their arguments and runs them: groups run in parallel threads,
each bounded by a deadline, and network probes time out within 2 s, so the whole
report takes seconds even on a machine where everything is missing.

Exit code policy: 0 when no check FAILs, 1 otherwise. A check FAILs when

* a part that what you asked for needs is missing or broken: ``--env desktop``
  needs an X11 display, mss and pyautogui; ``--env android[:SERIAL]`` needs the adb
  server and an authorized device; ``--model hf:…`` needs torch and complete model
  files; ``--model openai:…`` needs an endpoint that answers and serves a model; or
* something that is present is broken, whatever you asked for: a DISPLAY that cannot
  be opened, a device that is unauthorized or offline, a model folder with missing
  files, an endpoint that does not answer.

Parts that are absent and not asked for (no display when you did not pass
``--env desktop``, no adb server, the default model not downloaded yet) and
optional extras (CUDA, flash-attn, xdotool, ADBKeyboard) only WARN.

Nothing is started implicitly: the adb server is probed with a plain socket first
(adbutils would run ``adb start-server`` on a refused connection), and no model
weights are loaded (only the config).
"""

from __future__ import annotations

import platform
import threading
from collections.abc import Callable
from dataclasses import dataclass

from guiagent.tools.checks import ANDROID, DESKTOP, GPU, MODEL, CheckResult, Status, dist_version, first_line

GROUP_DEADLINE = 60.0  # seconds a group may take: a bound for hangs (importing torch alone takes seconds)


@dataclass(frozen=True)
class Target:
    """What the user asked about: makes the parts it needs required (FAIL instead of WARN)."""

    env: str | None = None  # "desktop" | "android" | None
    serial: str | None = None
    monitor: int | None = None
    model: str | None = None  # a model spec

    @property
    def model_scheme(self) -> str | None:
        return self.model.partition(":")[0] if self.model else None

    def severity(self, required: bool) -> Status:
        return "FAIL" if required else "WARN"


def check_display(t: Target) -> tuple[CheckResult, bool]:
    """The desktop's display check alone: (result, usable)."""
    from guiagent.envs.desktop import check_display as probe_display

    return probe_display(required=t.env == "desktop")


def desktop_checks(t: Target) -> list[CheckResult]:
    from guiagent.envs import desktop

    return desktop.probe(required=t.env == "desktop", monitor=t.monitor)


def android_checks(t: Target) -> list[CheckResult]:
    from guiagent.envs import android

    return android.probe(required=t.env == "android", serial=t.serial)


def gpu_checks(t: Target) -> list[CheckResult]:
    from guiagent.model import hf

    # only an in-process model uses this machine's GPU
    return hf.probe_gpu(t.model, local=t.model_scheme in (None, "hf"), required=t.model_scheme == "hf")


def model_checks(t: Target) -> list[CheckResult]:
    from guiagent.model import spec

    return spec.probe(t.model)


# =========================================================================== running and output

GROUPS: list[tuple[str, Callable[[Target], list[CheckResult]]]] = [
    (DESKTOP, desktop_checks), (ANDROID, android_checks), (GPU, gpu_checks), (MODEL, model_checks),
]


def run_checks(target: Target, deadline: float = GROUP_DEADLINE) -> list[CheckResult]:
    """Every group in its own daemon thread (a hung X server or adb cannot stall the report)."""
    results: dict[str, list[CheckResult]] = {}

    def run(group: str, fn: Callable[[Target], list[CheckResult]]) -> None:
        try:
            results[group] = fn(target)
        except Exception as exc:  # noqa: BLE001 - a bug in one check must not hide the others
            results[group] = [CheckResult(group=group, name="checks", status="FAIL",
                                          detail=f"the check itself failed: {type(exc).__name__}: {first_line(exc)}")]

    threads = [threading.Thread(target=run, args=g, daemon=True, name=f"doctor-{g[0]}") for g in GROUPS]
    for th in threads:
        th.start()
    for th in threads:
        th.join(deadline)
    out: list[CheckResult] = []
    for group, _ in GROUPS:
        out += results.get(group) or [CheckResult(group=group, name="checks", status="FAIL",
                                                  detail=f"no answer within {deadline:g} s")]
    return out


def exit_code(results: list[CheckResult]) -> int:
    return 1 if any(c.status == "FAIL" for c in results) else 0


_COLORS = {"OK": "\033[32m", "WARN": "\033[33m", "FAIL": "\033[31m"}


def format_table(results: list[CheckResult], color: bool = False) -> str:
    """Aligned text: a header per group, then STATUS  NAME  DETAIL, with the fix under it."""
    width = max((len(c.name) for c in results), default=10)
    lines = [f"guiagent doctor · {platform.system()} {platform.machine()} · Python {platform.python_version()} · "
             f"guiagent {dist_version('guiagent')}"]
    group = None
    for c in results:
        if c.group != group:
            group = c.group
            lines += ["", group]
        tag = f"{c.status:<4}"
        if color:
            tag = f"{_COLORS[c.status]}{tag}\033[0m"
        lines.append(f"  {tag}  {c.name:<{width}}  {c.detail}")
        if c.fix:
            lines.append(f"  {'':<4}  {'':<{width}}  fix: {c.fix}")
    counts = {s: sum(1 for c in results if c.status == s) for s in ("FAIL", "WARN", "OK")}
    lines += ["", " · ".join(f"{n} {s}" for s, n in counts.items())
              + (" — nothing fails" if not counts["FAIL"] else " — exit code 1")]
    return "\n".join(lines)


__all__ = ["CheckResult", "Target", "exit_code", "format_table", "run_checks"]
