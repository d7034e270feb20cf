"""What an offline suite is: samples, how one is scored, how records become the papers' tables."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from guiagent.model.base import Model


class OfflineDataError(ValueError):
    """A data file that does not have the published format; the message names the file and field."""


class SampleRecord(BaseModel):
    """One finished sample (a line of ``samples.jsonl``)."""

    id: str
    status: str = Field(description="scored | error (errors run again on --resume)")
    hit: bool = False
    instruction: str = ""
    image: str = Field(default="", description="screenshot file, or <data file>#<episode>:<step> for TFRecords")
    groups: dict[str, str] = Field(default_factory=dict, description="table keys, e.g. platform and type")
    truth: dict[str, Any] = Field(default_factory=dict, description="bbox / gold action, screen pixels")
    predicted: dict[str, Any] = Field(default_factory=dict, description="point / action, screen pixels")
    detail: dict[str, Any] = Field(default_factory=dict, description="suite-specific scores (type match, ...)")
    raw: str = Field(default="", description="the model's raw reply")
    reason: str | None = None
    screen: tuple[int, int] = (0, 0)
    model_size: tuple[int, int] = (0, 0)
    seconds: dict[str, float] = Field(default_factory=dict, description="load, infer, total")


class Sample(Protocol):
    """A sample a suite can score; `id` is unique within the suite (the resume key)."""

    @property
    def id(self) -> str: ...


class OfflineSuite(Protocol):
    """An offline benchmark: its samples, one scoring call each, and its summary tables."""

    name: str

    def count(self) -> int: ...

    def samples(self) -> Iterator[Any]: ...

    def evaluate(self, model: Model, sample: Any, *, truth: Any = None) -> SampleRecord:
        """Score one sample; `truth` (the oracle's answer key) reaches only the oracle model."""
        ...

    def oracle_truth(self, sample: Any) -> Any: ...

    def tables(self, records: list[SampleRecord]) -> tuple[dict[str, Any], str]:
        """(summary fields incl. ``success_rate``, the markdown tables)."""
        ...

    def draw(self, record: SampleRecord, sample: Any = None) -> Any:
        """The record's screenshot (PIL image) for the misses page (`sample` when still in memory)."""
        ...


def rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


class Limited:
    """The first `n` samples of a suite (``--limit``), scored and tabled as the suite does."""

    def __init__(self, suite: Any, n: int) -> None:
        self.inner, self.n, self.name = suite, n, suite.name

    def count(self) -> int:
        return min(self.n, self.inner.count())

    def samples(self) -> Iterator[Any]:
        import itertools

        return itertools.islice(self.inner.samples(), self.n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
