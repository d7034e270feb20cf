"""The result of a machine check (`guiagent doctor`), shared by the probes that envs and model backends own.

Each env module (`guiagent.envs.desktop`, `guiagent.envs.android`) and model backend module exports a `probe`
returning `CheckResult`s; `guiagent.agent.doctor` runs them in parallel groups and prints the table. The type
lives here, in the bottom layer, because both envs and model may import tools and neither may import the other.
"""

from __future__ import annotations

from importlib import metadata
from typing import Literal, Protocol

from pydantic import BaseModel

Status = Literal["OK", "WARN", "FAIL"]
# Every network probe gives up after this many seconds.
NETWORK_TIMEOUT = 2.0
# The report's groups, in its order.
DESKTOP, ANDROID, GPU, MODEL = "Desktop", "Android", "GPU", "Model"


class CheckResult(BaseModel):
    """The outcome of one check: OK / WARN / FAIL, a detail line and, when something is wrong, the fix."""

    group: str
    name: str
    status: Status
    detail: str
    fix: str | None = None


class ResultMaker(Protocol):
    def __call__(self, name: str, status: Status, detail: str, fix: str | None = None) -> CheckResult: ...


def results_for(group: str) -> ResultMaker:
    """A `CheckResult` constructor with the group filled in."""

    def make(name: str, status: Status, detail: str, fix: str | None = None) -> CheckResult:
        return CheckResult(group=group, name=name, status=status, detail=detail, fix=fix)

    return make


def severity(required: bool) -> Status:
    """How a missing part counts: FAIL when what the user asked for needs it, else WARN."""
    return "FAIL" if required else "WARN"


def first_line(exc: BaseException) -> str:
    """An exception as one short line (its type when it has no message)."""
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def dist_version(dist: str) -> str:
    """An installed distribution's version, "?" when it is not installed."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"
