"""`hf:` with a tiny random-weight Qwen3-VL checkpoint through transformers' own Qwen3-VL classes.

The same end-to-end checks as for Qwen2.5-VL: a forced tool call through generate and the agent
(landing on the grid's pixel), image tokens equal to the processor's count (H'*W'/1024, factor 32),
the dialect's prompt equal to the checkpoint's chat template, and batched equal to unbatched.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from guiagent.envs.base import Env
from guiagent.model.base import HistoryItem, ImagePart
from guiagent.model.image import PixelBudget
from guiagent.tools.actions import action_to_dict
from guiagent.tools.frame import Screenshot, ScreenSpace
from PIL import Image

pytest.importorskip("torch", reason="hf: needs torch")
SMALL = PixelBudget(max_pixels=60_000)
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 1000]}}\n</tool_call>'
DONE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


def _noise(w: int, h: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def hf(tiny_qwen3_checkpoint: Path):
    from guiagent.model.hf import HFModel

    model = HFModel(str(tiny_qwen3_checkpoint), max_new_tokens=16)
    model.configure(SMALL)
    yield model
    model.close()


def _messages(model, w: int, h: int, instruction: str = "Click OK", space: str = "computer_use", seed: int = 0):
    part = ImagePart(image=_noise(w, h, seed), size=model.image_size(w, h))
    return model.dialect.messages(instruction, space, part, [])


class _RecordingDesktop(Env):
    space = "computer_use"
    name = "recording-desktop"

    def __init__(self) -> None:
        self.image = _noise(1366, 767, seed=3)
        self.executed: list[dict] = []

    def observe(self) -> Screenshot:
        return Screenshot(image=self.image, screen=ScreenSpace(width=1366, height=767))

    def execute(self, action) -> None:
        self.executed.append(action_to_dict(action))

    def describe(self) -> dict:
        return {"env": self.name}

    def close(self) -> None:
        pass


def test_the_checkpoint_picks_the_qwen3_dialect_and_its_processor(hf):
    from transformers import Qwen3VLForConditionalGeneration, Qwen3VLProcessor

    assert hf.dialect.name == "qwen3-vl"
    assert isinstance(hf.model, Qwen3VLForConditionalGeneration) and isinstance(hf.processor, Qwen3VLProcessor)
    ip = hf.processor.image_processor
    assert (ip.patch_size, ip.merge_size) == (16, 2) == (hf.dialect.factor // 2, 2)


@pytest.mark.parametrize("space,policy", [("computer_use", "text"), ("mobile_use", "text"), ("mobile_use", "images:2")])
def test_dialect_prompt_equals_the_checkpoint_chat_template(hf, space, policy):
    size = hf.image_size(1080, 2400)
    history = [HistoryItem(calls=['{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [1, 2]}}'],
                           reply='Action: "Tapped it."\n<tool_call>\nx\n</tool_call>',
                           image=ImagePart(image=_noise(108, 240), size=size)) for _ in range(3)]
    messages = hf.dialect.messages("Open Files", space, ImagePart(image=_noise(108, 240), size=size), history,
                                   policy=policy)
    plain = [{"role": m.role, "content": [{"type": "image"} if p.type == "image" else {"type": "text", "text": p.text}
                                          for p in m.content]} for m in messages]
    theirs = hf.processor.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
    assert hf.prompt_text(messages) == theirs


def test_forced_tool_call_runs_through_generate_and_the_agent(hf, tmp_path):
    from guiagent.agent.loop import Agent
    from guiagent.agent.trajectory import load_trajectory
    from guiagent.model.hf import ForcedReply

    hf.logits_processors = [ForcedReply.from_text(hf.tokenizer, CLICK + "\nand more", DONE)]
    hf.max_new_tokens = 64
    env = _RecordingDesktop()
    try:
        result = Agent(hf, env, budget=PixelBudget(max_pixels=1_003_520), max_steps=3, out_dir=tmp_path / "run").run(
            "Click OK")
    finally:
        hf.logits_processors, hf.max_new_tokens = [], 16
    assert result.status == "success", result.reason
    # grid (500, 1000) on the 1366x767 screen: x = 500 * 1366 / 1000 = 683, y = 1000 -> the last row
    assert env.executed == [{"action": "left_click", "coordinate": [683, 766]}]
    traj = load_trajectory(tmp_path / "run")
    step = traj.steps[0]
    assert traj.meta.dialect == "qwen3-vl" and step.frame.coord_size == (1000, 1000)
    w, h = step.frame.model_size
    assert (w % 32, h % 32) == (0, 0)
    assert step.raw_text == CLICK and step.usage.image_tokens == w * h // 1024


@pytest.mark.parametrize("budget,screen", [(PixelBudget(max_pixels=200_000), (1366, 767)),
                                           (PixelBudget(max_pixels=100_000), (1080, 2400))])
def test_image_tokens_are_the_processors_count(hf, budget, screen):
    hf.configure(budget)
    try:
        messages = _messages(hf, *screen)
        c = hf.generate(messages)
        w, h = hf.image_size(*screen)
        grid = hf.processor.image_processor(images=[messages[-1].images()[0].resized()], return_tensors="pt")
        n = int(grid["image_grid_thw"].prod()) // 4
        assert c.usage.image_tokens == n == w * h // 1024
        text_tokens = len(hf.tokenizer(hf.prompt_text(messages))["input_ids"])
        assert c.usage.prompt_tokens == text_tokens - 1 + n
    finally:
        hf.configure(SMALL)


def test_batched_equals_unbatched(tiny_qwen3_checkpoint):
    from guiagent.model.hf import HFModel

    single = HFModel(str(tiny_qwen3_checkpoint), max_new_tokens=12)
    single.configure(SMALL)
    model = HFModel(str(tiny_qwen3_checkpoint), max_new_tokens=12, max_batch=3, batch_wait_ms=30_000)
    model.configure(SMALL)
    requests = [_messages(model, 640, 400, "Click OK", seed=1),
                _messages(model, 300, 600, "Open the settings app and turn on Wi-Fi", seed=2),
                _messages(model, 500, 500, "Scroll down", "mobile_use", seed=3)]
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
    assert calls == [3]
    for i, one in enumerate(alone):
        assert together[i].text == one.text
        assert together[i].usage == one.usage
    model.close()
    single.close()
