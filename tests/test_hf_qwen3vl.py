"""`hf:` with a tiny random-weight Qwen3-VL checkpoint through transformers' own Qwen3-VL classes.

The same end-to-end checks as for Qwen2.5-VL: a forced tool call through generate and the agent
(landing on the grid's pixel), image tokens equal to the processor's count (H'*W'/1024, factor 32),
and the dialect's prompt equal to the checkpoint's chat template (batched equal to unbatched is
tests/test_hf_backend.py's test, for both families).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from guiagent.model.base import HistoryItem, ImagePart
from guiagent.model.image import PixelBudget

from tests.fixtures.tiny_model import RecordingDesktop, noise, step_messages

pytest.importorskip("torch", reason="hf: needs torch")
SMALL = PixelBudget(max_pixels=60_000)
CLICK = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [500, 1000]}}\n</tool_call>'
DONE = '<tool_call>\n{"name": "computer_use", "arguments": {"action": "terminate", "status": "success"}}\n</tool_call>'


@pytest.fixture(scope="module")
def hf(tiny_qwen3_checkpoint: Path):
    from guiagent.model.hf import HFModel

    model = HFModel(str(tiny_qwen3_checkpoint), max_new_tokens=16)
    model.configure(SMALL)
    yield model
    model.close()


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
                           image=ImagePart(image=noise(108, 240), size=size)) for _ in range(3)]
    messages = hf.dialect.messages("Open Files", space, ImagePart(image=noise(108, 240), size=size), history,
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
    env = RecordingDesktop(1366, 767)
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
        messages = step_messages(hf, *screen)
        c = hf.generate(messages)
        w, h = hf.image_size(*screen)
        grid = hf.processor.image_processor(images=[messages[-1].images()[0].resized()], return_tensors="pt")
        n = int(grid["image_grid_thw"].prod()) // 4
        assert c.usage.image_tokens == n == w * h // 1024
        text_tokens = len(hf.tokenizer(hf.prompt_text(messages))["input_ids"])
        assert c.usage.prompt_tokens == text_tokens - 1 + n
    finally:
        hf.configure(SMALL)
