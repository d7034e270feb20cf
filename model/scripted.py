"""Deterministic backends: replies from a JSON list (`scripted:`) or a recorded run (`replay:`).

Their replies go through the same dialect parser and Frame mapping as a real model's.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path

from guiagent.model.base import Completion, Dialect, ImagePart, Message, Model, ModelError, RequestContext
from guiagent.tools.runfiles import TRAJECTORY_FILE, RunFileError, RunFileMissing, read_run_record
from pydantic import ValidationError

KEEP_REQUESTS = 64


class ScriptedModel(Model):
    """Serves replies in order; running past the end is a `ModelError`.

    A reply is a raw string, or a `Completion` (in a file: ``{"text": ..., "finish_reason":
    "length", "usage": {"prompt_tokens": ...}}``) to script a cut-off reply or token usage.
    """

    name = "scripted"

    def __init__(self, replies: list[str | Completion], source: str = "<list>", *,
                 dialect: Dialect | str | None = None) -> None:
        super().__init__(dialect)
        self.replies = list(replies)
        self.source = source
        self.calls = 0
        # what the latest requests said, for tests and debugging: their text and image sizes, never their
        # pixels (a 4K screenshot per step would grow without bound over a long run), and only the last
        # KEEP_REQUESTS (each request repeats the whole history, so keeping all is quadratic in the run)
        self.requests: deque[list[Message]] = deque(maxlen=KEEP_REQUESTS)

    @classmethod
    def from_file(cls, path: str | Path, *, dialect: str | None = None) -> ScriptedModel:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ValueError(f"{path}: file not found; scripted:FILE needs a JSON list of reply strings") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a readable JSON file ({exc}); expected a JSON list of reply strings") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of reply strings")
        if not data:
            raise ValueError(f"{path}: the list has no replies; scripted:FILE needs at least one reply string")
        replies: list[str | Completion] = []
        for i, r in enumerate(data):
            if isinstance(r, str):
                replies.append(r)
                continue
            try:
                replies.append(Completion.model_validate(r))
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ".".join(str(p) for p in err["loc"]) or "reply"
                raise ValueError(f"{path}: reply {i}: {loc}: {err['msg']}; a reply is a string or "
                                 '{"text": ..., "finish_reason": "stop"|"length", "usage": {...}}') from None
        return cls(replies, source=str(path), dialect=dialect)

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        self.requests.append([_without_pixels(m) for m in messages])
        if self.calls >= len(self.replies):
            raise ModelError(f"{self.source}: the script has only {len(self.replies)} replies")
        reply = self.replies[self.calls]
        self.calls += 1
        return Completion(text=reply) if isinstance(reply, str) else reply.model_copy(deep=True)


class ReplayModel(ScriptedModel):
    """Serves the raw replies of a recorded trajectory, step by step."""

    name = "replay"

    @classmethod
    def from_dir(cls, path: str | Path, *, dialect: str | None = None) -> ReplayModel:
        """The run's replies, parsed in the dialect the run recorded (`dialect` overrides it)."""
        # Reads only the raw replies, so model/ does not depend on agent/'s trajectory schema.
        # The folder may come from someone else: tools.runfiles refuses a symlinked or FIFO trajectory.json.
        file = Path(path) / TRAJECTORY_FILE
        try:
            data = read_run_record(path)
            steps = data["steps"]
            recorded = (data.get("meta") or {}).get("dialect")
            if recorded is not None and not isinstance(recorded, str):
                raise TypeError("meta.dialect is not a string")
            replies = [s["raw_text"] for s in steps if s.get("raw_text") is not None]
            if not all(isinstance(r, str) for r in replies):
                raise TypeError("a step's raw_text is not a string")
        except RunFileMissing:
            raise ValueError(f"{file}: not found; replay: needs a run directory written by guiagent") from None
        except RunFileError as exc:
            raise ValueError(str(exc)) from None
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise ValueError(f"{file}: not a guiagent trajectory ({type(exc).__name__}: {exc})") from None
        try:
            return cls(replies, source=str(path), dialect=dialect or recorded)
        except ValueError as exc:
            raise ValueError(f"{file}: meta.dialect: {exc}") from None


def _without_pixels(message: Message) -> Message:
    """`message` with each screenshot replaced by an image part of the same size and no pixels."""
    if not message.images():
        return message
    content = [ImagePart(image=None, size=p.size) if isinstance(p, ImagePart) else p for p in message.content]
    return message.model_copy(update={"content": content})
