"""One agent step through `hf:` vs the plain cookbook path, on the same weights and inputs.

On a GPU it builds the Qwen2.5-VL-3B and -7B architectures from their config values
(random bf16 weights, nothing downloaded) and times, per screenshot size:

* cookbook: ``processor.apply_chat_template`` -> ``processor(text, images)`` ->
  ``model.generate`` with the checkpoint's generation defaults (dynamic cache,
  transformers' per-window vision attention);
* hf: ``HFModel.generate`` (static cache with compiled decode, warmed up first; packed
  vision attention under sdpa; image resized once to the frame size);

both forced (a logits processor) to write the same 48 new tokens of the real tool-call
shape, then 8 concurrent episodes batched into one generate vs the same 8 steps one
after another. It prints a table (preprocess, prefill, decode tok/s, step, peak
memory) and the ratios.

Before timing, per screen, it checks that both paths give the model the same input: the
``input_ids``, ``image_grid_thw`` and ``pixel_values`` that `hf:` passes to ``generate``
against the cookbook's ``processor(text, images=[screenshot])`` (the image processor's
backend, Pillow or torchvision, is printed), and that their greedy tokens agree, unforced
(with random weights near-ties can flip an argmax where the two paths' kernels round
differently; the count of equal leading tokens is printed).

    python benchmarks/gpu_step.py                 # GPU: 3B and 7B
    python benchmarks/gpu_step.py --models 7b --episodes 4
    python benchmarks/gpu_step.py --tiny          # CPU smoke test, seconds (CI)
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from guiagent.model.base import ImagePart  # noqa: E402
from guiagent.model.image import PixelBudget  # noqa: E402

# Reference §8: official config.json values of Qwen2.5-VL-3B/7B-Instruct.
_COMMON_TEXT = dict(hidden_act="silu", rms_norm_eps=1e-6, max_position_embeddings=128000, sliding_window=32768,
                    use_sliding_window=False, attention_dropout=0.0,
                    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [16, 24, 24]})
_VISION = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, hidden_act="silu", in_chans=3,
               patch_size=14, spatial_merge_size=2, temporal_patch_size=2, window_size=112,
               fullatt_block_indexes=[7, 15, 23, 31], tokens_per_second=2)
ARCHS = {
    "3b": dict(text=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
                         num_key_value_heads=2, vocab_size=151936, max_window_layers=70),
               out_hidden_size=2048, tie_word_embeddings=True),
    "7b": dict(text=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
                         num_key_value_heads=4, vocab_size=152064, max_window_layers=28),
               out_hidden_size=3584, tie_word_embeddings=False),
}
REPLY = ('<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [966, 546]}}\n'
         '</tool_call>')


def _screenshot(w: int, h: int, seed: int) -> Any:
    """A GUI-like picture: flat panels, bars and text-like strokes (not noise; PNG/resize costs realistic)."""
    import random

    from PIL import Image, ImageDraw

    rnd = random.Random(seed)
    img = Image.new("RGB", (w, h), (236, 238, 241))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, max(24, h // 30)], fill=(40, 44, 52))
    for _ in range(60):
        x, y = rnd.randrange(w), rnd.randrange(h)
        d.rectangle([x, y, x + rnd.randrange(40, 300), y + rnd.randrange(16, 60)],
                    fill=tuple(rnd.randrange(90, 255) for _ in range(3)), outline=(120, 120, 120))
        d.text((x + 4, y + 2), f"Button {rnd.randrange(1000)}", fill=(10, 10, 10))
    return img


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _peak_reset(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.reset_peak_memory_stats()


def _peak_gib(device: str) -> float:
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**30
    return float("nan")


def _forced_ids(tokenizer: Any, n: int) -> list[int]:
    """`n` token ids shaped like a tool call, with no stop token inside (so both paths write exactly n)."""
    from guiagent.model.hf import ForcedReply  # noqa: F401 - documents the pairing

    stops = {tokenizer.convert_tokens_to_ids(t) for t in ("</tool_call>", "<|im_end|>", "<|endoftext|>")}
    ids = [i for i in tokenizer.encode(REPLY, add_special_tokens=False) if i not in stops]
    while len(ids) < n:
        ids = ids + ids
    return ids[:n]


def build_random(arch: str, folder: Path, device: str, attn: str) -> tuple[Any, Any]:
    """A full-size Qwen2.5-VL with random weights on `device`, and its processor from `folder`."""
    import torch
    from guiagent.model.hf import load_processor
    from guiagent.model.tiny import hub_generation_config, token_config, write_processor_files
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    ids = write_processor_files(folder)
    spec = ARCHS[arch]
    pad, eos = ids["<|endoftext|>"], ids["<|im_end|>"]
    cfg = Qwen2_5_VLConfig(
        text_config=dict(_COMMON_TEXT, **spec["text"], bos_token_id=pad, eos_token_id=eos, pad_token_id=pad),
        vision_config=dict(_VISION, out_hidden_size=spec["out_hidden_size"]),
        tie_word_embeddings=spec["tie_word_embeddings"], **token_config(ids))
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration._from_config(cfg, dtype=torch.bfloat16, attn_implementation=attn)
    model.eval()
    model.generation_config = hub_generation_config(ids)
    return model, load_processor(str(folder))


def time_cookbook(model: Any, processor: Any, messages: list, screenshot: Any, budget: PixelBudget,
                  forced: list[int], device: str) -> dict[str, float]:
    """The cookbook path: chat template -> processor (it resizes) -> generate with defaults."""
    import torch
    from guiagent.model import vision_attention
    from guiagent.model.hf import ForcedReply, _FirstTokenClock

    vision_attention.set_enabled(model, False)
    try:
        _peak_reset(device)
        t0 = time.perf_counter()
        plain = [{"role": m.role, "content": [{"type": "image", "image": screenshot} if p.type == "image"
                                              else {"type": "text", "text": p.text} for p in m.content]}
                 for m in messages]
        text = processor.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
        inputs = processor(text=[text], images=[screenshot], padding=True, return_tensors="pt",
                           size={"shortest_edge": budget.min_pixels, "longest_edge": budget.max_pixels}).to(device)
        _sync(device)
        t1 = time.perf_counter()
        clock = _FirstTokenClock(lambda: _sync(device))
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=len(forced), logits_processor=[clock, ForcedReply(forced)])
        _sync(device)
        t2 = time.perf_counter()
    finally:
        vision_attention.set_enabled(model, True)
    new = out.shape[1] - inputs["input_ids"].shape[1]
    return {"preprocess": t1 - t0, "prefill": clock.first - t1, "decode": t2 - clock.first, "step": t2 - t0,
            "new": new, "prompt": inputs["input_ids"].shape[1], "peak": _peak_gib(device)}


def same_input_and_tokens(hf: Any, model: Any, processor: Any, messages: list, screenshot: Any,
                          budget: PixelBudget, n: int, device: str) -> str:
    """One line: whether hf: and the cookbook hand the model the same tensors, and how many greedy tokens agree."""
    import torch
    from guiagent.model import vision_attention

    seen: dict[str, Any] = {}
    generate = model.generate

    def spy(**kw: Any) -> Any:
        seen.update(kw)
        return generate(**kw)

    saved = hf.logits_processors, hf.max_new_tokens, vars(model).get("generate")
    hf.logits_processors, hf.max_new_tokens = [], n
    model.generate = spy
    try:
        ours = hf.generate(_fresh(messages))
    finally:
        hf.logits_processors, hf.max_new_tokens = saved[:2]
        if saved[2] is None:
            del model.generate  # the class's generate again
        else:
            model.generate = saved[2]
    plain = [{"role": m.role, "content": [{"type": "image", "image": screenshot} if p.type == "image"
                                          else {"type": "text", "text": p.text} for p in m.content]} for m in messages]
    text = processor.apply_chat_template(plain, tokenize=False, add_generation_prompt=True)
    inputs = processor(text=[text], images=[screenshot], padding=True, return_tensors="pt",
                       size={"shortest_edge": budget.min_pixels, "longest_edge": budget.max_pixels}).to(device)
    verdict = []
    for key in ("input_ids", "image_grid_thw", "pixel_values"):
        a, b = seen[key], inputs[key]
        if a.shape != b.shape:
            verdict.append(f"{key} shapes differ {tuple(a.shape)} vs {tuple(b.shape)}")
        elif not torch.equal(a, b):
            verdict.append(f"{key} differ (max |diff| {float((a.float() - b.float()).abs().max()):.3g})")
    vision_attention.set_enabled(model, False)
    try:
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=n, do_sample=False, temperature=None, top_k=None,
                                 top_p=None)
    finally:
        vision_attention.set_enabled(model, True)
    theirs = out[0, inputs["input_ids"].shape[1]:].tolist()
    cook_text = hf.tokenizer.decode(theirs, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    agree = next((i for i, (x, y) in enumerate(zip(ours.text, cook_text, strict=False)) if x != y),
                 min(len(ours.text), len(cook_text)))
    same_text = ours.text == cook_text
    ip = type(processor.image_processor)
    # transformers 5 names the resize backend in the class's bases (PilBackend, TorchvisionBackend)
    kind = next((c.__name__.removesuffix("Backend") for c in ip.__mro__[1:] if c.__name__.endswith("Backend")), "")
    backend = f"{ip.__name__}, {kind.lower()}" if kind else ip.__name__
    inputs_line = "identical input_ids, grid and pixel_values" if not verdict else "; ".join(verdict)
    return (f"same input ({backend}): {inputs_line}; greedy {ours.usage.completion_tokens} tokens: "
            + ("identical reply" if same_text else f"replies agree for {agree} characters, then differ"))


def time_hf(hf: Any, messages: list, device: str) -> dict[str, float]:
    _peak_reset(device)
    t0 = time.perf_counter()
    c = hf.generate(messages)
    step = time.perf_counter() - t0
    return {**c.timings, "step": step, "new": c.usage.completion_tokens, "prompt": c.usage.prompt_tokens,
            "peak": _peak_gib(device)}


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _row(label: str, r: dict[str, float]) -> str:
    tok_s = (r["new"] - 1) / r["decode"] if r["decode"] > 0 else float("nan")
    return (f"{label:<34} {int(r['prompt']):>7} {r['preprocess']:>8.3f} {r['prefill']:>8.3f} {tok_s:>9.1f} "
            f"{r['step']:>8.3f} {r['peak']:>8.2f}")


def run(args: argparse.Namespace) -> int:
    import torch
    from guiagent.model.hf import ForcedReply, HFModel

    device = "cpu" if args.tiny else "cuda"
    if not args.tiny and not torch.cuda.is_available():
        print("gpu_step: no CUDA GPU here; run with --tiny for the CPU smoke test", file=sys.stderr)
        return 2
    budget = PixelBudget(max_pixels=args.max_pixels)
    screens = [tuple(int(v) for v in s.lower().split("x")) for s in args.screens.split(",")]
    archs = ["tiny"] if args.tiny else [a.strip().lower() for a in args.models.split(",")]
    repeats = 1 if args.tiny else args.repeats
    ratios: list[str] = []
    header = (f"{'model / screen / path':<34} {'prompt':>7} {'preproc':>8} {'prefill':>8} {'decode/s':>9} "
              f"{'step':>8} {'peakGiB':>8}")
    if not args.tiny:
        print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory(prefix="gpu_step-") as tmp:
        for arch in archs:
            folder = Path(tmp) / arch
            t = time.perf_counter()
            if arch == "tiny":
                from guiagent.model.tiny import build

                hf = HFModel(str(build(folder)), max_new_tokens=args.new_tokens)  # the full hf: loading path
                model, processor = hf.model, hf.processor
            else:
                if arch not in ARCHS:
                    print(f"gpu_step: unknown model {arch!r}; use 3b and/or 7b", file=sys.stderr)
                    return 2
                attn = args.attn or ("flash_attention_2" if _has_flash() else "sdpa")
                model, processor = build_random(arch, folder, device, attn)
                hf = HFModel.from_loaded(model, processor, name=f"qwen2.5-vl-{arch}-random",
                                         max_new_tokens=args.new_tokens, static_cache=not args.no_static)
            hf.configure(budget)
            forced = _forced_ids(hf.tokenizer, args.new_tokens)
            hf.logits_processors = [ForcedReply(forced)]
            print(f"\n{arch}: built in {time.perf_counter() - t:.1f} s; attention {model.config._attn_implementation}, "
                  f"vision attention {hf.vision_attention}, static cache {hf.static_cache}, dtype {model.dtype}")
            if hf.compiles:
                took = hf.warmup("computer_use", screens[0])
                print(f"warm-up (compile) {took:.1f} s")
            print(header)
            for w, h in screens:
                shot = _screenshot(w, h, seed=w)
                space = "mobile_use" if h > w else "computer_use"
                messages = hf.dialect.messages("Open the settings and turn on Wi-Fi", space,
                                               ImagePart(image=shot, size=hf.image_size(w, h)), [])
                if hf.compiles:
                    hf.warmup(space, (w, h))
                print(f"{arch} {w}x{h}: " + same_input_and_tokens(hf, model, processor, messages, shot, budget,
                                                                  args.new_tokens, device))
                cook = _median([time_cookbook(model, processor, messages, shot, budget, forced, device)
                                for _ in range(repeats + 1)][1:])
                ours = _median([time_hf(hf, _fresh(messages), device) for _ in range(repeats + 1)][1:])
                mw, mh = hf.image_size(w, h)
                print(_row(f"{arch} {w}x{h}->{mw}x{mh} cookbook", cook))
                print(_row(f"{arch} {w}x{h}->{mw}x{mh} hf:", ours))
                ratios.append(f"{arch} {w}x{h}: step cookbook/hf = {cook['step'] / ours['step']:.2f}x, prefill "
                              f"{cook['prefill'] / ours['prefill']:.2f}x, decode {cook['decode'] / ours['decode']:.2f}x")
            if args.episodes > 1:
                ratios.append(_episodes(hf, model, processor, budget, screens[0], forced, args, device))
            hf.close()
            del hf, model, processor
            gc.collect()
            if device == "cuda":
                torch._dynamo.reset()  # drop the compiled graphs of this architecture
                torch.cuda.empty_cache()
    print("\nratios (>1 means hf: is faster):")
    for line in ratios:
        print("  " + line)
    return 0


def _fresh(messages: list) -> list:
    """The same messages with a new ImagePart, so each timed step pays for its own resize."""
    out = []
    for m in messages:
        parts = [ImagePart(image=p.image, size=p.size) if p.type == "image" else p for p in m.content]
        out.append(m.model_copy(update={"content": parts}))
    return out


def _episodes(hf: Any, model: Any, processor: Any, budget: PixelBudget, screen: tuple[int, int],
              forced: list[int], args: argparse.Namespace, device: str) -> str:
    """N episodes' steps: one after another on one model vs merged by the batcher into one generate."""
    from guiagent.model.hf import ForcedReply, HFModel

    n = args.episodes
    w, h = screen
    batched = HFModel.from_loaded(model, processor, name="batched", max_new_tokens=args.new_tokens,
                                  static_cache=hf.static_cache, max_batch=n, batch_wait_ms=args.batch_wait_ms)
    batched.configure(budget)
    batched.logits_processors = [ForcedReply(forced)]
    steps = [hf.dialect.messages(f"Episode {i}: open the settings", "computer_use",
                                 ImagePart(image=_screenshot(w, h, seed=i), size=hf.image_size(w, h)), [])
             for i in range(n)]

    def together() -> float:
        out: list[Any] = [None] * n
        threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, batched.generate(_fresh(steps[i]))))
                   for i in range(n)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return time.perf_counter() - t

    def one_by_one() -> float:
        t = time.perf_counter()
        for s in steps:
            hf.generate(_fresh(s))
        return time.perf_counter() - t

    one_by_one()
    together()  # warm-up: compiles the batch-n decode graph where static cache compiles
    _peak_reset(device)
    seq = one_by_one()
    _peak_reset(device)
    par = together()
    peak = _peak_gib(device)
    batched.close()
    print(f"{n} episodes {w}x{h}: one after another {seq:.2f} s ({n / seq:.2f} steps/s), batched {par:.2f} s "
          f"({n / par:.2f} steps/s, batch sizes {batched._batcher.sizes[-3:]}, peak {peak:.2f} GiB)")
    return f"{n} episodes batched vs one after another: {seq / par:.2f}x throughput"


def _has_flash() -> bool:
    import importlib.util

    return importlib.util.find_spec("flash_attn") is not None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="CPU smoke test on the tiny checkpoint (seconds)")
    p.add_argument("--models", default="3b,7b", help="architectures to build: 3b, 7b (default both)")
    p.add_argument("--screens", default="1920x1080,1080x2400")
    p.add_argument("--new-tokens", type=int, default=48)
    p.add_argument("--episodes", type=int, default=8, help="concurrent episodes for the batching comparison")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats per path (median), after one warm-up")
    p.add_argument("--max-pixels", type=int, default=None, help="pixel budget (default: the agent's, 12845056)")
    p.add_argument("--attn", default=None, help="attn_implementation (default flash_attention_2 if installed, else sdpa)")
    p.add_argument("--no-static", action="store_true", help="hf: without the static cache (no compile)")
    p.add_argument("--batch-wait-ms", type=float, default=50.0)
    args = p.parse_args(argv)
    if args.max_pixels is None:
        # --tiny keeps CPU time to seconds: a 1920x1080 screen becomes 868x476 (527 image tokens)
        args.max_pixels = 414_000 if args.tiny else PixelBudget().max_pixels
    if args.tiny:
        args.new_tokens = min(args.new_tokens, 16)
        args.episodes = min(args.episodes, 4)
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
