"""The `hf:` backend on the tiny Qwen2.5-VL checkpoint, through the real transformers generate."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from guiagent.model.base import ImagePart, ModelError
from guiagent.model.image import PixelBudget

from tests.fixtures.tiny_model import RecordingDesktop, noise, step_messages

SMALL = PixelBudget(max_pixels=200_000)  # keeps prompts ~1.5k tokens: fast on 2 CPU cores
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [630, 392]}}\n</tool_call>'
DONE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


@pytest.fixture(scope="module")
def hf(tiny_checkpoint: Path):
    """One loaded model for the module (loading is cheap; importing transformers is not)."""
    from guiagent.model.hf import HFModel

    model = HFModel(str(tiny_checkpoint), max_new_tokens=16)
    model.configure(SMALL)
    yield model
    model.close()


@pytest.fixture
def fresh(hf):
    """The shared model with its per-test knobs restored afterwards."""
    saved = (hf.max_new_tokens, hf.temperature, hf.static_cache, list(hf.logits_processors), hf.budget)
    yield hf
    hf.max_new_tokens, hf.temperature, hf.static_cache, hf.logits_processors, hf.budget = saved


def test_processor_loads_from_the_checkpoint_files(hf):
    from transformers.processing_utils import ProcessorMixin

    assert isinstance(hf.processor, ProcessorMixin)
    assert hf.processor.chat_template  # from the checkpoint's chat_template.json
    try:
        import torchvision  # noqa: F401
    except ImportError:  # CPU installs: the image-only fallback, built from the same files
        assert type(hf.processor).__name__ == "ImageOnlyQwen2_5_VLProcessor"
    assert hf.device == "cpu" and str(hf.model.dtype) == "torch.float32"
    assert hf.static_cache is False  # off by default on CPU
    assert hf.tokenizer.convert_ids_to_tokens(hf.stop_ids[:2]) == ["</tool_call>", "<|im_end|>"]


@pytest.mark.parametrize("space,policy", [("computer_use", "text"), ("mobile_use", "text"), ("mobile_use", "images:2")])
def test_dialect_prompt_equals_the_checkpoint_chat_template(hf, space, policy):
    from guiagent.model.base import HistoryItem

    size = hf.image_size(1080, 2400)
    history = [HistoryItem(calls=['{"name": "mobile_use", "arguments": {"action": "open", "text": "Files"}}'],
                           reply="<tool_call>\nx\n</tool_call>", image=ImagePart(image=noise(108, 240), size=size))
               for _ in range(3)]
    part = ImagePart(image=noise(108, 240), size=size)
    messages = hf.dialect.messages("Open Files", space, part, history, policy=policy)
    plain = [{"role": m.role, "content": [{"type": "image"} if p.type == "image" else {"type": "text", "text": p.text}
                                          for p in m.content]} for m in messages]
    theirs = hf.processor.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
    assert hf.prompt_text(messages) == theirs
    assert theirs.count("<|vision_start|><|image_pad|><|vision_end|>") == (3 if policy == "images:2" else 1)


def test_forced_tool_call_runs_through_generate_and_the_agent(fresh):
    from guiagent.agent.loop import Agent
    from guiagent.model.hf import ForcedReply

    budget = PixelBudget(max_pixels=1_003_520)  # 1280x800 -> 1260x784 (1260 image tokens)
    forced = ForcedReply.from_text(fresh.tokenizer, CLICK + "\nand more text after the call", DONE)
    fresh.logits_processors = [forced]
    fresh.max_new_tokens = 64
    env = RecordingDesktop(1280, 800)
    seen = []
    original = fresh.generate

    def spy(messages, context=None):
        c = original(messages, context)
        seen.append(c)
        return c

    fresh.generate = spy
    try:
        result = Agent(fresh, env, budget=budget, max_steps=3).run("Click OK")
    finally:
        del fresh.generate
    assert result.status == "success", result.reason
    # model (630, 392) in the 1260x784 image -> screen (640, 400) on the 1280x800 screen
    assert env.executed == [{"action": "left_click", "coordinate": [640, 400]}]
    first = seen[0]
    assert first.text == CLICK  # stopped at </tool_call>: the forced text after it never came out
    assert first.finish_reason == "stop"
    assert first.usage.completion_tokens == len(fresh.tokenizer.encode(CLICK, add_special_tokens=False))
    assert first.usage.image_tokens == 1260 == 1260 * 784 // 784


@pytest.mark.parametrize("budget,screen,model_size", [
    (PixelBudget(max_pixels=200_000), (1920, 1080), (588, 308)),
    (PixelBudget(max_pixels=100_000), (1080, 2400), (196, 448)),
])
def test_image_tokens_are_model_size_over_784(fresh, budget, screen, model_size):
    fresh.configure(budget)
    assert fresh.image_size(*screen) == model_size
    messages = step_messages(fresh, *screen)
    c = fresh.generate(messages)
    w, h = model_size
    assert c.usage.image_tokens == w * h // 784
    text_tokens = len(fresh.tokenizer(fresh.prompt_text(messages))["input_ids"])  # one pad per image
    assert c.usage.prompt_tokens == text_tokens - 1 + w * h // 784


class _RecordingProcessor:
    """The real processor, noting the size of every image it is handed."""

    def __init__(self, inner) -> None:
        self.inner, self.sizes = inner, []

    def __call__(self, **kw):
        self.sizes.append([im.size for im in kw.get("images") or []])
        return self.inner(**kw)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def _image_processor(backend: str, checkpoint: Path):
    """The checkpoint's image processor on one resize backend (torchvision: only where it is installed)."""
    if backend == "torchvision":
        pytest.importorskip("torchvision", reason="torchvision does not install beside the CPU torch 2.13.0 "
                            "(run this file in a venv with torch 2.14.1 + torchvision 0.29.1)")
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import Qwen2VLImageProcessor as cls
    else:
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil as cls
    ip = cls.from_pretrained(str(checkpoint))
    assert type(ip).__mro__[1].__name__ == {"pil": "PilBackend", "torchvision": "TorchvisionBackend"}[backend]
    return ip


@pytest.mark.parametrize("backend", ["pil", "torchvision"])
def test_the_model_sees_the_pixels_of_the_cookbooks_processor_call(fresh, monkeypatch, tiny_checkpoint, backend):
    """hf: hands the processor the screenshot itself where the processor's own resize lands on the Frame's
    size, so the model gets exactly the pixels of ``processor(text, images=[screenshot])`` whichever backend
    (Pillow, or torchvision with the [gpu] extra) the processor resizes with; the Frame is the same either way."""
    import torch

    monkeypatch.setattr(fresh.processor, "image_processor", _image_processor(backend, tiny_checkpoint))
    shot = noise(1366, 768, seed=3)
    part = ImagePart(image=shot, size=fresh.image_size(1366, 768))
    messages = fresh.dialect.messages("Click OK", "computer_use", part, [])
    seen: dict = {}
    generate = fresh.model.generate
    monkeypatch.setattr(fresh.model, "generate", lambda **kw: seen.update(kw) or generate(**kw))
    monkeypatch.setattr(fresh, "processor", _RecordingProcessor(fresh.processor))
    fresh.generate(messages)
    assert fresh.processor.sizes == [[(1366, 768)]]  # the screenshot, not a copy resized by us
    size = {"shortest_edge": fresh.budget.min_pixels, "longest_edge": fresh.budget.max_pixels}
    cookbook = fresh.processor.inner(text=[fresh.prompt_text(messages)], images=[shot], size=size, padding=True,
                                     return_tensors="pt")
    for key in ("input_ids", "image_grid_thw", "pixel_values"):
        assert torch.equal(seen[key], cookbook[key]), key


def test_a_frame_size_the_processor_would_not_choose_is_resized_first(fresh, monkeypatch):
    w, h = fresh.image_size(1366, 768)
    part = ImagePart(image=noise(1366, 768), size=(w - 28, h))  # a valid grid, not the processor's own choice
    messages = fresh.dialect.messages("Click OK", "computer_use", part, [])
    monkeypatch.setattr(fresh, "processor", _RecordingProcessor(fresh.processor))
    c = fresh.generate(messages)
    assert fresh.processor.sizes == [[(w - 28, h)]] and c.usage.image_tokens == (w - 28) * h // 784


def test_image_not_at_the_model_size_is_refused(fresh):
    part = ImagePart(image=noise(1000, 700), size=(1000, 700))  # not a multiple of 28: processor would resize
    messages = fresh.dialect.messages("Click OK", "computer_use", part, [])
    with pytest.raises(ModelError, match="must be resized to the model size"):
        fresh.generate(messages)


def test_length_cut_usage_and_timings(fresh):
    from guiagent.model.hf import ForcedReply

    fresh.logits_processors = [ForcedReply.from_text(fresh.tokenizer, CLICK)]
    fresh.max_new_tokens = 5
    c = fresh.generate(step_messages(fresh, 640, 400))
    assert c.finish_reason == "length"
    assert c.usage.completion_tokens == 5
    assert CLICK.startswith(c.text)
    assert set(c.timings) == {"preprocess", "prefill", "decode"}
    assert all(v >= 0 for v in c.timings.values())


def test_greedy_is_deterministic_and_temperature_samples(fresh):
    import torch

    fresh.max_new_tokens = 6
    messages = step_messages(fresh, 640, 400)
    torch.manual_seed(1)
    greedy_a = fresh.generate(messages).text
    torch.manual_seed(2)
    assert fresh.generate(messages).text == greedy_a
    fresh.temperature = 5.0
    samples = set()
    for seed in range(3):
        torch.manual_seed(seed)
        samples.add(fresh.generate(messages).text)
    assert len(samples) > 1


def test_static_cache_gives_the_same_generation_on_cpu(fresh, monkeypatch):
    from transformers.cache_utils import StaticCache

    made = []
    original = StaticCache.__init__

    def spy(self, *args, **kwargs):
        made.append(kwargs.get("max_cache_len"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(StaticCache, "__init__", spy)
    messages = step_messages(fresh, 640, 400, seed=5)
    dynamic = fresh.generate(messages)
    assert made == []
    fresh.static_cache = True
    static = fresh.generate(messages)
    assert made == [2048]  # prompt + new tokens, rounded up to a bucket so compiled decode graphs are reused
    assert static.text == dynamic.text and static.usage == dynamic.usage


def test_packed_vision_attention_equals_the_stock_path(fresh):
    import torch
    from guiagent.model import vision_attention

    assert fresh.vision_attention == "packed" and vision_attention.is_enabled(fresh.model)
    visual = fresh.model.model.visual
    for w, h in [(588, 308), (196, 448), (56, 56)]:  # edge windows of several sizes; a single window
        inputs = fresh.processor(text=["<|vision_start|><|image_pad|><|vision_end|>"], images=[noise(w, h)],
                                 size={"shortest_edge": 3136, "longest_edge": w * h}, return_tensors="pt")
        with torch.inference_mode():
            packed = visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"]).pooler_output
            vision_attention.set_enabled(fresh.model, False)
            try:
                stock = visual(inputs["pixel_values"], grid_thw=inputs["image_grid_thw"]).pooler_output
            finally:
                vision_attention.set_enabled(fresh.model, True)
        torch.testing.assert_close(packed, stock, atol=1e-5, rtol=1e-5)
    messages = step_messages(fresh, 1280, 800, seed=7)
    with_packed = fresh.generate(messages)
    vision_attention.set_enabled(fresh.model, False)
    try:
        assert fresh.generate(messages).text == with_packed.text
    finally:
        vision_attention.set_enabled(fresh.model, True)


def test_warmup_runs_single_and_full_batches_on_the_worker_thread(tiny_checkpoint):
    from guiagent.model.hf import HFModel

    model = HFModel(str(tiny_checkpoint), max_batch=2)
    model.configure(PixelBudget(max_pixels=50_000))
    seen = []
    original = model._run_batch
    model._run_batch = lambda reqs, *a: (seen.append((len(reqs), threading.current_thread().name)), original(reqs, *a))[1]
    assert model.warmup("mobile_use") > 0 and model._warm
    assert [n for n, _ in seen] == [1, 1, 2, 2]
    assert {name for _, name in seen} == {"guiagent-hf_0"}  # the thread every later generate runs on
    model.close()
    with pytest.raises(ModelError, match="closed"):
        model.generate(step_messages(model, 200, 200))


@pytest.mark.parametrize("checkpoint, budget", [("tiny_checkpoint", SMALL),
                                                ("tiny_qwen3_checkpoint", PixelBudget(max_pixels=60_000))])
def test_concurrent_requests_share_one_batched_generate(checkpoint, budget, request):
    """Both families: three concurrent steps become one generate with three rows, each row's reply and usage
    equal to the request's own unbatched generate."""
    from guiagent.model.hf import HFModel

    path = str(request.getfixturevalue(checkpoint))
    single = HFModel(path, max_new_tokens=12)  # same weights, no batching
    single.configure(budget)
    # a long wait: the three threads surely meet; the batch starts as soon as it is full
    model = HFModel(path, max_new_tokens=12, max_batch=3, batch_wait_ms=30_000)
    model.configure(budget)
    # different screens and instructions: different prompt lengths, so rows are left-padded
    requests = [step_messages(model, 640, 400, "Click OK", seed=1),
                step_messages(model, 300, 600, "Open the settings app and turn on Wi-Fi", seed=2),
                step_messages(model, 500, 500, "Scroll down", "mobile_use", seed=3)]
    alone = [single.generate(r) for r in requests]
    calls = []
    original = model.model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    model.model.generate = counting
    together: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i, r=r: together.__setitem__(i, model.generate(r)))
               for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert calls == [3]  # one generate, three rows
    for i, one in enumerate(alone):
        assert together[i].text == one.text
        assert together[i].usage == one.usage
        assert "queue" in together[i].timings
    model.close()
    single.close()


def _context(hook):
    from guiagent.model.base import RequestContext

    return RequestContext(instruction="Click OK", space="computer_use", step=1, on_tokens=hook)


@pytest.mark.parametrize("forced", [True, False], ids=["stops-at-tool-call", "cut-at-max-new-tokens"])
def test_streaming_counts_tokens_and_leaves_the_reply_byte_identical(fresh, monkeypatch, forced):
    from guiagent.model.hf import ForcedReply

    if forced:
        fresh.logits_processors = [ForcedReply.from_text(fresh.tokenizer, CLICK)]
    fresh.max_new_tokens = 48
    messages = step_messages(fresh, 640, 400)
    plain = fresh.generate(messages)
    streamers = []
    original = fresh.model.generate

    def spy(*args, **kwargs):
        streamers.append(kwargs.get("streamer"))
        return original(*args, **kwargs)

    monkeypatch.setattr(fresh.model, "generate", spy)
    counts: list[int] = []
    streamed = fresh.generate(messages, _context(counts.append))
    silent = fresh.generate(messages, _context(None))
    assert streamers[0] is not None and streamers[1] is None  # no hook, no streamer: nothing paid
    assert streamed.text == plain.text == silent.text  # byte for byte
    assert (streamed.usage, streamed.finish_reason) == (plain.usage, plain.finish_reason)
    assert plain.finish_reason == ("stop" if forced else "length")
    assert counts[0] == 1 and counts[-1] == plain.usage.completion_tokens  # the stop token counted, no padding
    assert counts == sorted(set(counts))


def test_token_meter_throttles_and_always_tells_the_final_count():
    from guiagent.model.base import TokenMeter

    heard: list[int] = []
    meter = TokenMeter(heard.append, interval=60.0)
    for n in range(1, 1001):
        meter.update(n)
    assert heard == [1]  # a thousand tokens within the interval: one call
    meter.finish()
    meter.finish()
    assert heard == [1, 1000]
    fast = TokenMeter(heard.append, interval=0.0)
    fast.update(5)
    fast.update(6)
    assert heard[-2:] == [5, 6]


class _RowLengths:
    """Forces batch row r to emit `lengths[r]` plain tokens, then <|im_end|>: rows of one batch stop apart."""

    def __init__(self, tokenizer, lengths: list[int]) -> None:
        self.word = tokenizer.encode("a", add_special_tokens=False)[0]
        self.stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self.lengths = lengths
        self.start: int | None = None

    def reset(self) -> None:
        self.start = None

    def __call__(self, input_ids, scores):
        if self.start is None:
            self.start = input_ids.shape[1]
        k = input_ids.shape[1] - self.start
        forced = scores.new_full(scores.shape, float("-inf"))
        for row in range(scores.shape[0]):
            forced[row, self.word if k < self.lengths[row % len(self.lengths)] else self.stop] = 0.0
        return forced


def test_a_batch_counts_each_rows_own_tokens_for_its_own_hook(tiny_checkpoint):
    from guiagent.model.hf import HFModel

    model = HFModel(str(tiny_checkpoint), max_new_tokens=20, max_batch=3, batch_wait_ms=30_000)
    model.configure(SMALL)
    model.logits_processors = [_RowLengths(model.tokenizer, [3, 9, 14])]
    requests = [step_messages(model, 640, 400, seed=i) for i in range(3)]
    heard: dict[int, list[int]] = {0: [], 2: []}
    hooks = {0: heard[0].append, 1: None, 2: heard[2].append}  # the middle request does not watch
    out: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i, r=r: out.__setitem__(i, model.generate(r, _context(hooks[i]))))
               for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    model.close()
    assert model.batches == 1
    lengths = sorted(c.usage.completion_tokens for c in out.values())
    assert lengths == [4, 10, 15]  # the rows stopped at different steps
    for i in (0, 2):
        assert heard[i][-1] == out[i].usage.completion_tokens  # its own row's count, not the batch's steps


def test_load_errors_are_one_line(tmp_path, monkeypatch):
    from guiagent.model.hf import HFModel
    from guiagent.model.spec import load_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="no such folder") as err:
        HFModel(str(tmp_path / "missing"))
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="not a complete Qwen2.5-VL checkpoint, it lacks config.json"):
        HFModel(str(tmp_path))
    with pytest.raises(ModelError, match="is not downloaded .*`hf download guiagent-test/not-a-cached-model`") as err:
        load_model("hf:guiagent-test/not-a-cached-model")
    assert "\n" not in str(err.value)
    with pytest.raises(ModelError, match="max_new_tokens"):
        HFModel(str(tmp_path), max_new_tokens=0)


def test_load_model_passes_only_hf_options(tiny_checkpoint):
    from guiagent.model.spec import load_model

    model = load_model(f"hf:{tiny_checkpoint}", temperature=0.5, max_new_tokens=7, served_model="ignored")
    assert (model.temperature, model.max_new_tokens, model.spec) == (0.5, 7, f"hf:{tiny_checkpoint}")
    model.close()


def test_cli_run_with_the_tiny_checkpoint_on_cpu(tiny_checkpoint, tmp_path):
    """`guiagent run --model hf:DIR` loads real files through from_pretrained and runs the loop to an ending."""
    from guiagent.agent.trajectory import load_trajectory

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "guiagent", "run", "Click the text field", "--env",
                        f"replay:{root / 'tests/data/desktop_run'}", "--model", f"hf:{tiny_checkpoint}",
                        "--max-steps", "2", "--max-new-tokens", "16", "--max-pixels", "200000", "--out", str(out)],
                       capture_output=True, text=True, cwd=root, timeout=600,
                       env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert p.returncode == 1, p.stdout + p.stderr  # random weights do not finish the task
    assert "Traceback" not in p.stderr
    traj = load_trajectory(out)
    assert traj.status in ("max_steps", "parse_errors", "stalled") and len(traj.steps) == 2
    first = traj.steps[0]
    mw, mh = first.frame.model_size
    assert first.usage.image_tokens == mw * mh // 784 and first.usage.prompt_tokens > first.usage.image_tokens
    assert 0 < first.usage.completion_tokens <= 16
    assert set(first.model_timings) >= {"preprocess", "prefill", "decode"}
