"""The `openai:` backend against a real HTTP server on loopback that records what it receives."""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jinja2.sandbox
import pytest
from guiagent.model.base import HistoryItem, ImagePart, ModelError
from guiagent.model.openai import OpenAIModel, normalize_base_url
from guiagent.model.qwen25vl.template import CHAT_TEMPLATE
from PIL import Image

REPLY = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [966, 546]}}\n'


class ChatServer:
    """A minimal OpenAI-compatible server: /v1/models and /v1/chat/completions.

    It renders each chat request with Qwen2.5-VL's chat template, as vLLM does, and
    can be told to fail: `script` holds what the next chat requests get ("500", "429",
    "hang", "close", or (status, json_body)).
    """

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list = []
        self.models = [{"id": "Qwen/Qwen2.5-VL-7B-Instruct", "object": "model", "max_model_len": 32768}]
        self.api_key: str | None = None
        self.max_images: int | None = None
        self.reply = REPLY
        self.finish_reason = "stop"
        self.hang_s = 1.0
        # Streaming: with `sse` a request with "stream": true gets server-sent chunks (`chunk_delay` apart,
        # usage last when asked); without it the server ignores "stream" and answers one JSON body.
        self.sse = False
        self.chunk_delay = 0.0
        self.stream_error_after: int | None = None  # this many chunks, then an error event (once)
        self.usage_chunk = True  # False: a server that ignores stream_options.include_usage
        self._template = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True).from_string(CHAT_TEMPLATE)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # keep pytest output clean
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, body: dict) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def raw(data: bytes) -> None:  # one HTTP chunk
                    self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                    self.wfile.flush()

                def event(obj: dict | str) -> None:
                    raw(f"data: {obj if isinstance(obj, str) else json.dumps(obj)}\n\n".encode())

                def chunk(delta: dict, finish: str | None = None) -> dict:
                    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": body["model"],
                            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

                raw(b": ping\r\n\r\n")  # a comment (servers send them as keep-alives), CRLF line ends
                event(chunk({"role": "assistant", "content": ""}))
                for i, piece in enumerate(server.pieces()):
                    if server.stream_error_after is not None and i == server.stream_error_after:
                        server.stream_error_after = None
                        event({"error": {"message": "engine died mid-stream", "code": 500}})
                        break
                    time.sleep(server.chunk_delay)
                    event(chunk({"content": piece}))
                else:
                    event(chunk({}, server.finish_reason))
                    if server.usage_chunk and (body.get("stream_options") or {}).get("include_usage"):
                        event({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [],
                               "usage": {"prompt_tokens": 4000, "completion_tokens": len(server.pieces()),
                                         "total_tokens": 4000 + len(server.pieces())}})
                    event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")

            def do_GET(self) -> None:
                server.requests.append({"method": "GET", "path": self.path, "headers": dict(self.headers)})
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": server.models})
                else:
                    self._send(404, {"detail": "Not Found"})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                record = {"method": "POST", "path": self.path, "headers": dict(self.headers), "body": body}
                server.requests.append(record)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"detail": "Not Found"})
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    return self._send(401, {"error": {"message": "Invalid API key", "code": 401}})
                if server.script:
                    action = server.script.pop(0)
                    if action == "500":
                        return self._send(500, {"error": {"message": "engine hiccup"}})
                    if action == "429":
                        return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
                    if action == "hang":
                        time.sleep(server.hang_s)
                        return None
                    if action == "close":
                        self.close_connection = True
                        return None
                    status, payload = action
                    return self._send(status, payload)
                ids = [m["id"] for m in server.models]
                if body.get("model") not in ids:
                    return self._send(404, {"error": {"message": f"The model `{body.get('model')}` does not exist.",
                                                      "type": "NotFoundError", "code": 404}})
                record["prompt"], record["image_sizes"] = server.render(body["messages"])
                if server.max_images is not None and len(record["image_sizes"]) > server.max_images:
                    return self._send(400, {"error": {"message": f"At most {server.max_images} image(s) may be "
                                                                 "provided in one request.", "code": 400}})
                if body.get("stream") and server.sse:
                    return self._send_stream(body)
                return self._send(200, {
                    "id": "chatcmpl-1", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": server.reply},
                                 "finish_reason": server.finish_reason}],
                    "usage": {"prompt_tokens": 4000, "completion_tokens": 31, "total_tokens": 4031},
                })

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that timed out is not an error here
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def pieces(self) -> list[str]:
        """The reply as a tokenizer might stream it: words, runs of spaces, single punctuation marks."""
        return re.findall(r"\w+|\s+|[^\w\s]", self.reply)

    def use_template(self, template: str) -> None:
        """Render with another checkpoint's chat template (a server serving another family)."""
        self._template = jinja2.sandbox.ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True).from_string(template)

    def render(self, messages: list[dict]) -> tuple[str, list[tuple[int, int]]]:
        """The prompt a server renders from OpenAI messages (content order kept), and the image sizes."""
        sizes = []
        plain = []
        for m in messages:
            if isinstance(m["content"], str):
                plain.append({"role": m["role"], "content": m["content"]})
                continue
            parts = []
            for p in m["content"]:
                if p["type"] == "image_url":
                    url = p["image_url"]["url"]
                    assert url.startswith("data:image/png;base64,")
                    sizes.append(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size)
                    parts.append({"type": "image"})
                else:
                    parts.append({"type": "text", "text": p["text"]})
            plain.append({"role": m["role"], "content": parts})
        return self._template.render(messages=plain, add_generation_prompt=True), sizes

    def chats(self) -> list[dict]:
        return [r for r in self.requests if r["path"] == "/v1/chat/completions"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = ChatServer()
    yield s
    s.close()


def _model(server: ChatServer, **kw) -> OpenAIModel:
    kw.setdefault("backoff", 0.01)
    return OpenAIModel(server.url, **kw)


def _step_messages(model: OpenAIModel, screen: tuple[int, int], space: str, instruction: str, **kw):
    part = ImagePart(image=Image.new("RGB", screen, (30, 60, 90)), size=model.image_size(*screen))
    return model.dialect.messages(instruction, space, part, kw.pop("history", []), **kw)


@pytest.mark.parametrize("env,space,screen,model_size", [
    ("desktop", "computer_use", (1920, 1080), (1932, 1092)),
    ("android", "mobile_use", (1080, 2400), (1092, 2408)),
])
def test_server_renders_exactly_the_guiagent_prompt(server, capsys, monkeypatch, env, space, screen, model_size):
    from guiagent.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = _model(server)
    completion = model.generate(_step_messages(model, screen, space, "Open the settings"))
    assert main(["prompt", "Open the settings", "--env", env, "--screen", f"{screen[0]}x{screen[1]}"]) == 0
    expected = capsys.readouterr().out
    (chat,) = server.chats()
    assert chat["prompt"] == expected  # the server-side rendered prompt is `guiagent prompt`'s, byte for byte
    assert chat["image_sizes"] == [model_size]  # sent at the model size: the server has nothing to resize
    body = chat["body"]
    assert "tools" not in body and isinstance(body["messages"][0]["content"], str)
    assert [p["type"] for p in body["messages"][1]["content"]] == ["text", "image_url"]  # local order
    assert body["model"] == "Qwen/Qwen2.5-VL-7B-Instruct"  # from /v1/models
    assert (body["temperature"], body["max_tokens"], body["stop"]) == (0.0, 256, ["</tool_call>"])
    assert chat["headers"]["Authorization"] == "Bearer sk-test"
    assert completion.usage.image_tokens == model_size[0] * model_size[1] // 784


@pytest.mark.parametrize("env,space,screen,order", [
    ("desktop", "computer_use", (1366, 767), ["image_url", "text"]),
    ("android", "mobile_use", (1080, 2400), ["text", "image_url"]),
])
def test_a_served_qwen3_vl_gets_the_qwen3_vl_prompt_and_grid(server, capsys, env, space, screen, order):
    from guiagent.model.qwen3vl.template import CHAT_TEMPLATE as QWEN3_TEMPLATE

    from guiagent.cli import main

    server.models = [{"id": "Qwen/Qwen3-VL-8B-Instruct", "object": "model", "max_model_len": 32768}]
    server.use_template(QWEN3_TEMPLATE)
    click = "left_click" if space == "computer_use" else "click"
    server.reply = f'<tool_call>\n{{"name": "{space}", "arguments": {{"action": "{click}", "coordinate": [1000, 0]}}}}\n'
    model = _model(server)
    model.check(space, "text")  # resolves the served name: its dialect is qwen3-vl
    assert model.dialect.name == "qwen3-vl"
    size = model.image_size(*screen)
    assert (size[0] % 32, size[1] % 32) == (0, 0)
    completion = model.generate(_step_messages(model, screen, space, "Open the settings"))
    assert main(["prompt", "Open the settings", "--env", env, "--screen", f"{screen[0]}x{screen[1]}",
                 "--dialect", "qwen3-vl"]) == 0
    chat = server.chats()[-1]  # check() may have probed the server's image limit first
    assert chat["prompt"] == capsys.readouterr().out  # the server-side prompt is `guiagent prompt`'s
    assert chat["image_sizes"] == [tuple(size)]
    assert [p["type"] for p in chat["body"]["messages"][1]["content"]] == order
    assert completion.usage.image_tokens == size[0] * size[1] // 1024
    (call,) = model.dialect.parse(completion.text, space)
    from guiagent.tools.frame import Frame, Screenshot, ScreenSpace

    shot = Screenshot(image=Image.new("RGB", screen), screen=ScreenSpace(width=screen[0], height=screen[1]))
    assert Frame.build(shot, size).action_to_screen(call.action).coordinate == (screen[0] - 1, 0)
    assert OpenAIModel(server.url, served_model="Qwen/Qwen3-VL-8B-Instruct",
                       dialect="qwen2.5-vl").dialect.name == "qwen2.5-vl"  # an explicit dialect wins


def test_image_history_policy_keeps_turn_order(server):
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    size = model.image_size(1280, 800)
    history = [HistoryItem(calls=['{"name": "computer_use", "arguments": {"action": "left_click"}}'],
                           reply="<tool_call>\n{}\n</tool_call>", image=ImagePart(image=Image.new("RGB", (64, 40)),
                                                                                   size=size))]
    messages = _step_messages(model, (1280, 800), "computer_use", "Do it", history=history, policy="images:1")
    model.generate(messages)
    (chat,) = server.chats()
    assert chat["prompt"] == model.dialect.render(messages)
    assert [m["role"] for m in chat["body"]["messages"]] == ["system", "user", "assistant", "user"]
    assert chat["image_sizes"] == [size, size]


def test_completion_fields_and_stop_string_restored(server):
    model = _model(server)
    c = model.generate(_step_messages(model, (1920, 1080), "computer_use", "Click"))
    assert c.text == REPLY + "</tool_call>"  # the server cut the stop string; the parser needs it
    (call,) = model.dialect.parse(c.text, "computer_use")
    assert call.action.coordinate == (966, 546)
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.finish_reason) == (4000, 31, "stop")
    assert set(c.timings) == {"encode", "request"}
    server.finish_reason, server.reply = "length", '<tool_call>\n{"name": "comp'
    c = model.generate(_step_messages(model, (1920, 1080), "computer_use", "Click"))
    assert c.finish_reason == "length" and c.text == '<tool_call>\n{"name": "comp'


def _watching(counts: list[int]):
    from guiagent.model.base import RequestContext

    return RequestContext(instruction="Click", space="computer_use", step=1, on_tokens=counts.append)


def test_a_watched_request_streams_and_assembles_the_same_reply(server):
    server.sse, server.chunk_delay = True, 0.02
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    messages = _step_messages(model, (640, 400), "computer_use", "Click")
    plain = model.generate(messages)
    counts: list[int] = []
    streamed = model.generate(messages, _watching(counts))
    first, second = server.chats()
    # unwatched: exactly today's request, no stream fields, JSON only
    assert first["body"] == model.request_body(messages) and first["headers"]["Accept"] == "application/json"
    assert second["body"] == {**model.request_body(messages), "stream": True, "stream_options": {"include_usage": True}}
    assert "text/event-stream" in second["headers"]["Accept"]
    n = len(server.pieces())
    assert n > 20
    assert streamed.text == plain.text == REPLY + "</tool_call>"  # same text, stop string put back the same way
    assert (streamed.finish_reason, streamed.usage.prompt_tokens, streamed.usage.completion_tokens) == ("stop", 4000, n)
    assert counts == sorted(set(counts)) and counts[0] == 1 and counts[-1] == n
    assert 2 <= len(counts) < n  # throttled: ~0.5 s of chunks 20 ms apart, at most one count per 0.1 s
    (call,) = model.dialect.parse(streamed.text, "computer_use")
    assert call.action.coordinate == (966, 546)

    server.finish_reason, server.reply, server.chunk_delay = "length", '<tool_call>\n{"name": "comp', 0.0
    cut = model.generate(messages, _watching([]))
    assert (cut.finish_reason, cut.text) == ("length", '<tool_call>\n{"name": "comp')


def test_a_stream_without_usage_counts_its_chunks(server):
    server.sse, server.usage_chunk = True, False
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    counts: list[int] = []
    c = model.generate(_step_messages(model, (640, 400), "computer_use", "Click"), _watching(counts))
    assert c.text == REPLY + "</tool_call>"
    assert c.usage.completion_tokens == len(server.pieces()) == counts[-1] and c.usage.prompt_tokens == 0


def test_a_server_that_ignores_stream_is_read_as_one_json_answer(server):
    assert not server.sse  # answers "stream": true with one application/json body
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    counts: list[int] = []
    c = model.generate(_step_messages(model, (640, 400), "computer_use", "Click"), _watching(counts))
    assert server.chats()[0]["body"]["stream"] is True
    assert c.text == REPLY + "</tool_call>"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.finish_reason) == (4000, 31, "stop")
    assert counts == []  # nothing streamed, nothing counted


def test_a_server_that_refuses_a_streamed_request_is_asked_plainly_and_never_streamed_again(server):
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    server.sse = True
    server.script = [(400, {"error": {"message": "Unrecognized request argument supplied: stream_options"}})]
    counts: list[int] = []
    messages = _step_messages(model, (640, 400), "computer_use", "Click")
    c = model.generate(messages, _watching(counts))
    assert c.text == REPLY + "</tool_call>" and counts == []
    refused, plain = server.chats()
    assert refused["body"]["stream"] is True and plain["body"] == model.request_body(messages)
    model.generate(messages, _watching(counts))  # the next watched step asks plainly at once
    assert "stream" not in server.chats()[2]["body"] and counts == []


def test_a_bad_request_that_is_not_about_streaming_still_fails_in_one_line(server):
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    bad = (400, {"error": {"message": "temperature must be non-negative"}})
    server.script = [bad, bad]
    with pytest.raises(ModelError, match="request failed \\(400: temperature must be non-negative\\)"):
        model.generate(_step_messages(model, (640, 400), "computer_use", "Click"), _watching([]))
    assert len(server.chats()) == 2 and model.streams  # streaming was not the cause: still allowed


def test_an_error_event_mid_stream_is_retried_from_the_start(server):
    server.sse, server.stream_error_after = True, 3
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct")
    counts: list[int] = []
    c = model.generate(_step_messages(model, (640, 400), "computer_use", "Click"), _watching(counts))
    assert c.text == REPLY + "</tool_call>"  # the three chunks of the failed try are not in the reply
    assert len(server.chats()) == 2 and model.retries == 1
    assert counts[0] == 1 and counts[-1] == len(server.pieces())
    server.stream_error_after = 0
    model.max_retries = 0
    with pytest.raises(ModelError, match="server error 500 .*engine died mid-stream"):
        model.generate(_step_messages(model, (640, 400), "computer_use", "Click"), _watching([]))


@pytest.mark.parametrize("script", [["500", "500"], ["429", "500"], ["hang"], ["close", "429"]])
def test_transient_failures_are_retried(server, script):
    server.script = list(script)
    server.hang_s = 1.5
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct", timeout=0.5, max_retries=3)
    c = model.generate(_step_messages(model, (640, 400), "computer_use", "Click"))
    assert c.text.endswith("</tool_call>")
    assert len(server.chats()) == len(script) + 1
    assert model.retries == len(script)


def test_retries_are_bounded(server):
    server.script = [(503, {"error": {"message": "overloaded"}})] * 5
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct", max_retries=2)
    with pytest.raises(ModelError) as err:
        model.generate(_step_messages(model, (640, 400), "computer_use", "Click"))
    assert str(err.value) == f"openai:{server.url}: server error 503 after 3 tries (overloaded)"
    assert len(server.chats()) == 3


@pytest.mark.parametrize("setup,pattern", [
    (lambda s: setattr(s, "api_key", "right-key"), r"rejected the API key \(401: Invalid API key\); set OPENAI_API_KEY"),
    (lambda s: s.script.append((400, {"error": {"message": "This model's maximum context length is 32768 tokens. "
                                                           "However, you requested 40000 tokens."}})),
     r"does not fit the server's context .*--max-model-len"),
    (lambda s: setattr(s, "max_images", 0), r"limits images per prompt .*--limit-mm-per-prompt"),
])
def test_client_errors_are_one_line_and_not_retried(server, monkeypatch, setup, pattern):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    setup(server)
    model = _model(server, served_model="Qwen/Qwen2.5-VL-7B-Instruct", api_key="wrong" if server.api_key else None)
    with pytest.raises(ModelError, match=pattern) as err:
        model.generate(_step_messages(model, (640, 400), "computer_use", "Click"))
    assert "\n" not in str(err.value)
    assert len(server.chats()) == 1


def test_unknown_model_and_wrong_path(server):
    model = _model(server, served_model="qwen-vl-max")
    with pytest.raises(ModelError, match=r"model 'qwen-vl-max' is not served.*--served-model"):
        model.generate(_step_messages(model, (640, 400), "computer_use", "Click"))
    wrong = OpenAIModel(server.url.removesuffix("/v1") + "/api", served_model="x", backoff=0.01)
    with pytest.raises(ModelError, match=r"not found \(404\); the base URL should end in /v1"):
        wrong.generate(_step_messages(wrong, (640, 400), "computer_use", "Click"))


def test_unreachable_server(server):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    model = OpenAIModel(f"http://127.0.0.1:{port}/v1", served_model="m", max_retries=1, backoff=0.01)
    with pytest.raises(ModelError, match=r"cannot reach the server after 2 tries") as err:
        model.generate(_step_messages(model, (640, 400), "computer_use", "Click"))
    assert "\n" not in str(err.value)


def test_check_resolves_the_model_and_probes_the_image_limit(server):
    model = _model(server)
    model.check("computer_use", "text")
    assert model.served_model == "Qwen/Qwen2.5-VL-7B-Instruct" and model.max_model_len == 32768
    (probe,) = server.chats()
    assert probe["body"]["max_tokens"] == 1 and probe["image_sizes"] == [(28, 28)]

    server.max_images = 1  # vLLM started with --limit-mm-per-prompt '{"image": 1}'
    with pytest.raises(ModelError, match=r"--limit-mm-per-prompt"):
        _model(server).check("computer_use", "images:2")


def test_check_says_what_to_change(server):
    server.models[0]["max_model_len"] = 4096
    with pytest.raises(ModelError, match=r"max_model_len is 4096 .* needs about \d+ tokens .*--max-model-len 8192"):
        _model(server).check("computer_use", "text")
    server.models[0]["max_model_len"] = 32768
    server.models.append({"id": "other", "object": "model"})
    with pytest.raises(ModelError, match=r"lists 2 models .*--served-model"):
        _model(server).check("computer_use", "text")
    with pytest.raises(ModelError, match=r"'nope' is not served; the server lists .*fix --served-model"):
        _model(server, served_model="nope").check("computer_use", "text")
    assert server.chats() == []  # nothing was sent before the problems were found


def test_base_url_forms_and_load_model_options():
    from guiagent.model.spec import load_model

    assert normalize_base_url("127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert normalize_base_url("http://h:1/v1/") == "http://h:1/v1"
    assert normalize_base_url("https://dashscope.aliyuncs.com/compatible-mode/v1") == \
        "https://dashscope.aliyuncs.com/compatible-mode/v1"
    with pytest.raises(ModelError, match="not an http"):
        normalize_base_url("ftp://x")
    m = load_model("openai:http://127.0.0.1:9/v1", served_model="s", temperature=0.3, dtype="ignored")
    assert (m.served_model, m.temperature, m.base_url) == ("s", 0.3, "http://127.0.0.1:9/v1")
