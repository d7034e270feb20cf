"""`openai:BASE_URL` — any OpenAI-compatible chat server (vLLM, SGLang, LM Studio, DashScope).

The request carries the very prompt the local path renders: the system message holds
the tools as text (as the cookbooks do; no ``tools=`` parameter), user content keeps
the local order (text, then the screenshot), and the screenshot is sent as a PNG data
URL already at the frame's model size, so a server whose processor budget contains
the agent's (vLLM ``--mm-processor-kwargs``) does not resize it again. Only the
standard library's HTTP client is used. When the agent watches the token count
(`RequestContext.on_tokens`), the request adds ``stream: true`` and the server-sent
chunks are assembled into the same reply; a server that answers one JSON body anyway
is read as usual. Without a watcher the request is the plain, non-streamed one.

Failures are one line: 401/403 (key), 404 (URL or model name), context too long, image
limit; 429/5xx/connection errors/timeouts are retried with exponential backoff
(bounded, honouring ``Retry-After``). `check` asks the server before step 1 (model
list, ``max_model_len``, one 1-token probe with as many images as the history policy
sends) and says which server flag to change.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import logging
import os
import random
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from guiagent.model.base import (
    Completion,
    ImagePart,
    Message,
    Model,
    ModelError,
    RequestContext,
    TextPart,
    TokenMeter,
    Usage,
)
from guiagent.model.image import FACTOR, image_tokens
from guiagent.model.redact import redact, split_userinfo

if TYPE_CHECKING:
    from guiagent.tools.actions import ActionSpace
    from guiagent.tools.checks import CheckResult

log = logging.getLogger("guiagent.model.openai")

RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# Screens the preflight sizes a typical prompt for (the real screen is not known yet).
_TYPICAL_SCREENS = {"computer_use": (1920, 1080), "mobile_use": (1080, 2400)}
_SYSTEM_PROMPT_TOKENS = 1400  # the cookbook system prompt + user text with Qwen's tokenizer, rounded up
_CONTEXT_PATTERNS = re.compile(
    r"maximum context length|context length|max_model_len|maximum model length|longer than the model|"
    r"too many tokens|prompt is too long|exceeds the max", re.I)
_IMAGE_LIMIT = re.compile(r"at most (\d+) image|limit_mm_per_prompt|limit-mm-per-prompt|mm per prompt", re.I)


class _HTTPFailure(Exception):
    """A non-2xx answer or a transport failure, with what a retry decision needs."""

    def __init__(self, status: int | None, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


class _StreamRefused(Exception):
    """A streamed request answered 400/422: the server may not take ``stream``/``stream_options``."""

    def __init__(self, failure: _HTTPFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def normalize_base_url(url: str) -> str:
    """``host:8000`` -> ``http://host:8000/v1``; a URL with a path is kept as given (minus a trailing /)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelError(f"openai:{redact(url)}: not an http(s) URL; use e.g. openai:http://127.0.0.1:8000/v1")
    path = parts.path.rstrip("/")
    if not path:
        path = "/v1"  # vLLM, SGLang and LM Studio all serve the API under /v1
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def png_data_url(image: Any) -> str:
    """A PIL image as ``data:image/png;base64,...`` (lossless, so the server sees our pixels)."""
    buf = io.BytesIO()
    # Level 1: screenshots compress well anyway, and encoding a 1080p PNG at the default
    # level costs several times longer per step.
    image.convert("RGB").save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def to_openai_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Chat-completions messages in the local order; images as PNG data URLs at the model size.

    System and assistant turns are plain strings (the chat template renders a string and
    a one-text-part list identically); user turns are content lists.
    """
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role in ("system", "assistant") and all(isinstance(p, TextPart) for p in m.content):
            out.append({"role": m.role, "content": m.text()})
            continue
        content: list[dict[str, Any]] = []
        for p in m.content:
            if isinstance(p, ImagePart):
                content.append({"type": "image_url", "image_url": {"url": png_data_url(p.resized())}})
            else:
                content.append({"type": "text", "text": p.text})
        out.append({"role": m.role, "content": content})
    return out


class OpenAIModel(Model):
    """Chat completions over HTTP against an OpenAI-compatible server.

    Options: ``served_model`` (default: the only model in ``/v1/models``), ``api_key``
    (default ``$OPENAI_API_KEY``, then ``$DASHSCOPE_API_KEY``; sent as a bearer token),
    credentials in the URL (``http://user:pass@host/v1``, sent as HTTP basic auth instead
    of the key; the spec this backend reports is ``http://***@host/v1``), ``timeout`` (seconds per
    socket operation, default 120), ``max_retries`` (default 4), ``temperature``
    (default 0 = greedy) and ``max_new_tokens`` (default 256).
    """

    name = "openai"
    OPTIONS = frozenset({"served_model", "api_key", "timeout", "max_retries", "temperature", "max_new_tokens"})

    def __init__(
        self,
        base_url: str,
        *,
        served_model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        backoff: float = 0.5,
        max_backoff: float = 20.0,
        dialect: str | None = None,
    ) -> None:
        super().__init__(dialect)
        # None: the served model's name decides (Qwen3-VL names get qwen3-vl), once it is known.
        self._dialect_explicit = dialect is not None
        # Userinfo leaves the URL at once: urllib would take "user:pass@host" for a host name, and every
        # message below names base_url. The credentials are kept only for the Authorization header.
        url, self._user, self._password = split_userinfo(normalize_base_url(base_url))
        self.base_url = url
        self.spec = f"openai:{self.base_url}" if self._user is None else f"openai:{redact(normalize_base_url(base_url))}"
        self.served_model = served_model
        self.streams = True  # False once the server refused a streamed request that it took plain
        self._adopt_dialect()
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY") or os.environ.get("DASHSCOPE_API_KEY")
        if float(timeout) <= 0:
            raise ModelError(f"timeout must be > 0 seconds, got {timeout}")
        if int(max_retries) < 0:
            raise ModelError(f"max_retries must be >= 0, got {max_retries}")
        if float(temperature) < 0:
            raise ModelError(f"temperature must be >= 0, got {temperature}")
        if int(max_new_tokens) < 1:
            raise ModelError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.temperature = float(temperature)
        self.max_new_tokens = int(max_new_tokens)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_model_len: int | None = None
        self.retries = 0  # total retries so far (for the trajectory / tests)

    # ----------------------------------------------------------------- HTTP
    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._user is not None:
            token = base64.b64encode(f"{self._user}:{self._password or ''}".encode()).decode("ascii")
            h["Authorization"] = f"Basic {token}"
        elif self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        return h

    def _secrets(self) -> list[str | None]:
        """What must never be recorded or printed: the key, the URL's credentials, the header values."""
        return [self.api_key, self._password, self._user and f"{self._user}:{self._password or ''}",
                *(v.split(" ", 1)[-1] for k, v in self._headers().items() if k == "Authorization")]

    def redact(self, text: str) -> str:
        """`text` without this backend's credentials (server messages may echo them)."""
        return redact(text, self._secrets())

    def _once(self, method: str, path: str, body: dict[str, Any] | None,
              on_tokens: Callable[[int], None] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = self._headers()
        if on_tokens is not None:
            headers["Accept"] = "text/event-stream, application/json"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                if on_tokens is not None and resp.headers.get_content_type() == "text/event-stream":
                    return _read_stream(resp, TokenMeter(on_tokens))
                # A server that ignores "stream" answers one JSON body: parsed as if nothing was asked.
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", errors="replace") if exc.fp else ""
            retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
            raise _HTTPFailure(exc.code, _server_message(text) or exc.reason or "", retry_after) from None
        except urllib.error.URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                raise _HTTPFailure(None, f"no answer within {self.timeout:g} s") from None
            raise _HTTPFailure(None, str(getattr(reason, "strerror", None) or reason)) from None
        except TimeoutError:
            raise _HTTPFailure(None, f"no answer within {self.timeout:g} s") from None
        except (http.client.HTTPException, ConnectionError, OSError) as exc:
            # RemoteDisconnected, IncompleteRead, connection reset mid-answer.
            raise _HTTPFailure(None, f"connection failed ({type(exc).__name__}: {exc})") from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _HTTPFailure(200, f"answer is not JSON: {raw[:120]!r}") from None
        if not isinstance(data, dict):  # every OpenAI-compatible answer is an object
            raise _HTTPFailure(200, f"answer is not a JSON object: {raw[:120]!r}")
        return data

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None, *, retries: int | None = None,
                 on_tokens: Callable[[int], None] | None = None) -> dict[str, Any]:
        """One call with bounded retries on 429/5xx/transport errors; other failures -> ModelError.

        `on_tokens`: the body asks for a stream; its chunks are counted and assembled into the answer a
        plain request gets (a retry counts from 0 again)."""
        attempts = (self.max_retries if retries is None else retries) + 1
        for attempt in range(attempts):
            try:
                return self._once(method, path, body, on_tokens)
            except _HTTPFailure as fail:
                if on_tokens is not None and fail.status in (400, 422):
                    raise _StreamRefused(fail) from None
                retryable = fail.status is None or fail.status in RETRY_STATUS
                if not retryable or attempt == attempts - 1:
                    raise ModelError(self._explain(fail, path, attempt + 1)) from None
                delay = min(self.max_backoff, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
                if fail.retry_after is not None:
                    delay = min(self.max_backoff, max(delay, fail.retry_after))
                self.retries += 1
                log.warning("%s%s: %s; retry %d/%d in %.1f s", self.base_url, path,
                            self.redact(_status_text(fail)), attempt + 1, attempts - 1, delay)
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _explain(self, fail: _HTTPFailure, path: str, tries: int) -> str:
        """The one-line message for a failure the run cannot recover from, without any credential."""
        return self.redact(self._explain_raw(fail, path, tries))

    def _explain_raw(self, fail: _HTTPFailure, path: str, tries: int) -> str:
        where = f"openai:{self.base_url}"
        msg = fail.message.strip().splitlines()[0][:300] if fail.message.strip() else ""
        if fail.status in (401, 403):
            return (f"{where}: the server rejected the API key ({fail.status}: {msg}); set OPENAI_API_KEY "
                    f"(or DASHSCOPE_API_KEY) or pass api_key")
        if fail.status == 404 or (fail.status == 400 and re.search(r"model.*(not exist|not found|does not)", msg, re.I)):
            if "model" in msg.lower():
                return (f"{where}: model {self.served_model!r} is not served there ({msg}); pick one from "
                        f"{self.base_url}/models with --served-model")
            return (f"{where}{path} not found (404); the base URL should end in /v1 "
                    f"(e.g. openai:http://127.0.0.1:8000/v1)")
        if fail.status in (400, 413) and _IMAGE_LIMIT.search(msg):
            return (f"{where}: the server limits images per prompt ({msg}); start vLLM with "
                    f"--limit-mm-per-prompt '{{\"image\": K}}' (K >= images the history policy sends) or use "
                    f"--history text")
        if fail.status in (400, 413) and _CONTEXT_PATTERNS.search(msg):
            return (f"{where}: the prompt does not fit the server's context ({msg}); lower --max-pixels, use a "
                    f"shorter history policy, or restart the server with a larger --max-model-len")
        if fail.status is None:
            return (f"{where}: cannot reach the server after {tries} tries ({msg}); is it running and is the "
                    f"URL right?")
        if fail.status in RETRY_STATUS:
            return f"{where}: server error {fail.status} after {tries} tries ({msg})"
        return f"{where}: request failed ({fail.status}: {msg})"

    # ----------------------------------------------------------------- API
    def models(self) -> list[dict[str, Any]]:
        """The server's ``/v1/models`` entries."""
        data = self._request("GET", "/models")
        entries = data.get("data") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise ModelError(f"openai:{self.base_url}/models: unexpected answer (no 'data' list)")
        return [e for e in entries if isinstance(e, dict) and "id" in e]

    def resolve_model(self) -> str:
        """The served model name: the option, else the only model the server lists."""
        entries = self.models()
        ids = [str(e["id"]) for e in entries]
        if self.served_model is None:
            if len(ids) != 1:
                raise ModelError(self.redact(f"openai:{self.base_url}: the server lists {len(ids)} models "
                                             f"({', '.join(ids[:8]) or 'none'}); choose one with --served-model"))
            self.served_model = ids[0]
        elif ids and self.served_model not in ids:
            raise ModelError(self.redact(f"openai:{self.base_url}: model {self.served_model!r} is not served; the "
                                         f"server lists {', '.join(ids[:8])}; fix --served-model"))
        self._adopt_dialect()
        entry = next((e for e in entries if e.get("id") == self.served_model), {})
        mml = entry.get("max_model_len") or entry.get("context_length")
        self.max_model_len = int(mml) if isinstance(mml, (int, float)) and mml > 0 else None
        return self.served_model

    def _adopt_dialect(self) -> None:
        if not self._dialect_explicit and self.served_model is not None:
            from guiagent.model import dialects

            self.dialect = dialects.get(dialects.for_served_name(self.served_model))

    def check(self, space: ActionSpace, policy: str) -> None:
        """Before step 1: the model exists, a typical prompt fits, and the server takes the images we send."""
        from guiagent.model.base import parse_policy
        from PIL import Image

        self.resolve_model()
        images = parse_policy(policy) + 1
        w, h = _TYPICAL_SCREENS.get(space, (1920, 1080))
        mw, mh = self.image_size(w, h)
        need = images * (image_tokens(mw, mh, self.dialect.factor) + 2) + _SYSTEM_PROMPT_TOKENS + self.max_new_tokens
        if self.max_model_len is not None:
            if need > self.max_model_len:
                raise ModelError(
                    f"openai:{self.base_url}: max_model_len is {self.max_model_len} but a {w}x{h} screen with history "
                    f"policy {policy!r} needs about {need} tokens ({images} image(s) of {mw}x{mh}); restart the "
                    f"server with --max-model-len {_round_up(need, 4096)}, lower --max-pixels or use --history text")
            worst = images * (self.budget.max_pixels // (FACTOR * FACTOR) + 2) + _SYSTEM_PROMPT_TOKENS + self.max_new_tokens
            if worst > self.max_model_len:
                log.warning("openai:%s: max_model_len %d fits a %dx%d screen but not the largest image the pixel "
                            "budget allows (%d tokens); very large screens may be rejected", self.base_url,
                            self.max_model_len, w, h, worst)
        # A 1-token probe with as many (tiny) images as a step sends: catches the key, the model name,
        # a text-only model and vLLM's --limit-mm-per-prompt now instead of at step K.
        probe = Image.new("RGB", (28, 28), (255, 255, 255))
        content: list[dict[str, Any]] = [{"type": "text", "text": "ok?"}]
        content += [{"type": "image_url", "image_url": {"url": png_data_url(probe)}}] * images
        body = {"model": self.served_model, "messages": [{"role": "user", "content": content}],
                "max_tokens": 1, "temperature": 0}
        self._request("POST", "/chat/completions", body)

    def request_body(self, messages: list[Message]) -> dict[str, Any]:
        """The chat-completions body for `messages` (no network)."""
        return {
            "model": self.served_model,
            "messages": to_openai_messages(messages),
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            # Same stop as the local path; the stop string is cut by the server and put back below.
            "stop": ["</tool_call>"],
        }

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        """One chat completion; streamed (``stream: true``) only when `context.on_tokens` watches the count."""
        if self.served_model is None:
            self.resolve_model()
        t0 = time.perf_counter()
        body = self.request_body(messages)
        on_tokens = context.on_tokens if context is not None and self.streams else None
        t1 = time.perf_counter()
        if on_tokens is None:
            data = self._request("POST", "/chat/completions", body)
        else:
            # include_usage: the last chunk carries the token usage a plain answer has
            streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
            try:
                data = self._request("POST", "/chat/completions", streamed, on_tokens=on_tokens)
            except _StreamRefused as refused:
                # Some OpenAI-compatible servers reject stream_options (or streaming) with a 400: the step
                # must not fail because a terminal watches it. The plain request decides; if it succeeds,
                # this server is not asked to stream again.
                data = self._request("POST", "/chat/completions", body)
                self.streams = False
                log.warning("openai:%s refused a streamed request (%s); not streaming from it again",
                            self.base_url, self.redact(_status_text(refused.failure)))
        t2 = time.perf_counter()
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
            reason = choice.get("finish_reason") or "stop"
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ModelError(f"openai:{self.base_url}: unexpected chat answer (no choices[0].message)") from None
        text = self.redact(text) if isinstance(text, str) else text  # a server may echo what it was sent
        if reason == "stop" and text.count("<tool_call>") > text.count("</tool_call>"):
            text += "</tool_call>"  # servers drop the matched stop string
        usage = data.get("usage") or {}
        n_image_tokens = sum(image_tokens(*p.size, self.dialect.factor) for m in messages for p in m.images())
        timings = {"encode": t1 - t0, "request": t2 - t1}
        server = data.get("timings")  # llama.cpp-style servers report their own phases (ms)
        if isinstance(server, dict):
            for ours, theirs in (("prefill", "prompt_ms"), ("decode", "predicted_ms")):
                if isinstance(server.get(theirs), (int, float)):
                    timings[ours] = float(server[theirs]) / 1000.0
        return Completion(
            text=text,
            usage=Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0), image_tokens=n_image_tokens,
                        completion_tokens=int(usage.get("completion_tokens") or 0)),
            timings=timings,
            finish_reason="length" if reason == "length" else "stop",
        )


def _read_stream(resp: Any, meter: TokenMeter) -> dict[str, Any]:
    """A ``text/event-stream`` of chat.completion.chunk objects, assembled into a chat.completion answer.

    Each chunk with content counts as one token (vLLM and SGLang send one per token) unless the chunk
    reports ``usage.completion_tokens`` itself; the final usage chunk gives the answer's usage (without
    one, the chunk count is its ``completion_tokens``). An
    ``error`` event (vLLM sends one when generation fails mid-stream) is a failure like an error status.
    """
    parts: list[str] = []
    finish: str | None = None
    usage: dict[str, Any] | None = None
    timings: Any = None
    chunks = 0
    for payload in _sse_data(resp):
        if payload == "[DONE]":
            break
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError:
            raise _HTTPFailure(200, f"stream event is not JSON: {payload[:120]!r}") from None
        if not isinstance(chunk, dict):
            raise _HTTPFailure(200, f"stream event is not a JSON object: {payload[:120]!r}")
        if "error" in chunk:
            err = chunk["error"]
            code = err.get("code") if isinstance(err, dict) else None
            raise _HTTPFailure(code if isinstance(code, int) else 500, _server_message(json.dumps(chunk)))
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(text, str) and text:
                parts.append(text)
                chunks += 1
            finish = choice.get("finish_reason") or finish
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        if chunk.get("timings") is not None:
            timings = chunk["timings"]
        reported = usage.get("completion_tokens") if usage else None
        count = reported if isinstance(reported, int) and reported >= chunks else chunks
        if count:  # the role-only first chunk is no token
            meter.update(count)
    if chunks:
        meter.finish()
    answer: dict[str, Any] = {"object": "chat.completion", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "".join(parts)}, "finish_reason": finish}]}
    # a server that ignores include_usage: the counted chunks are the best count there is
    answer["usage"] = usage if usage is not None else {"completion_tokens": chunks}
    if timings is not None:
        answer["timings"] = timings
    return answer


def _sse_data(resp: Any) -> Iterator[str]:
    """The data of each server-sent event (multi-line data joined by newlines; comments skipped)."""
    data: list[str] = []
    for raw in resp:
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise _HTTPFailure(200, f"stream is not UTF-8: {raw[:120]!r}") from None
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if field == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:  # a stream that ends without the closing blank line
        yield "\n".join(data)


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def _server_message(text: str) -> str:
    """The human part of an error body (OpenAI/vLLM ``{"error": {"message"}}``, FastAPI ``detail``, or text)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, ValueError):
        return text.strip()[:300]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            for key in ("message", "detail", "msg"):
                if isinstance(err.get(key), str):
                    return str(err[key])
        if isinstance(err, str):
            return err
        if isinstance(data.get("detail"), str):
            return str(data["detail"])
        if isinstance(data.get("message"), str):
            return str(data["message"])
    return text.strip()[:300]


def _status_text(fail: _HTTPFailure) -> str:
    return f"HTTP {fail.status}" if fail.status is not None else fail.message


# ---------------------------------------------------------------------------- probe (guiagent doctor)


def probe(url: str) -> list[CheckResult]:
    """`openai:URL`: GET {base}/models with a short timeout; the served models and how many screenshots fit
    their context."""
    from guiagent.model.image import PixelBudget
    from guiagent.tools.checks import MODEL, NETWORK_TIMEOUT, Status, first_line, results_for

    r = results_for(MODEL)
    try:
        client = OpenAIModel(url, timeout=NETWORK_TIMEOUT, max_retries=0)
        entries = client.models()
    except ModelError as exc:
        return [r("endpoint", "FAIL", first_line(exc),
                  "start the server (e.g. vllm serve Qwen/Qwen2.5-VL-7B-Instruct --port 8000 "
                  "--max-model-len 32768) or fix the URL; the base URL usually ends in /v1")]
    base = client.base_url
    if not entries:
        return [r("endpoint", "FAIL", f"openai:{base} answers but lists no model", "load a model on the server")]
    out = [r("endpoint", "OK", f"openai:{base} serves {len(entries)} model{'s' if len(entries) != 1 else ''}: "
             + ", ".join(str(e["id"]) for e in entries[:8]))]
    # One 1920x1080 screenshot at the default pixel budget.
    per_image = PixelBudget().image_tokens(1920, 1080)
    for e in entries[:8]:
        mml = e.get("max_model_len") or e.get("context_length")
        if not isinstance(mml, (int, float)) or mml <= 0:
            out.append(r("context", "OK", f"{e['id']}: max_model_len not reported"))
            continue
        fits = int(mml) // per_image
        status: Status = "OK" if fits >= 1 else "FAIL"
        out.append(r("context", status, f"{e['id']}: max_model_len {int(mml)}, about {fits} 1920x1080 "
                     f"screenshot{'s' if fits != 1 else ''} ({per_image} tokens each at the default budget)",
                     None if fits >= 1 else "restart the server with --max-model-len 32768, or lower --max-pixels"))
    if len(entries) > 1:
        out.append(r("served model", "WARN", "several models: `guiagent run` needs to know which",
                     "pass --served-model NAME to guiagent run"))
    return out
