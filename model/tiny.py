"""Build a tiny Qwen2.5-VL checkpoint offline: random weights, a real checkpoint layout.

The folder is what a hub download of Qwen2.5-VL looks like (``config.json``,
``model.safetensors``, ``generation_config.json``, tokenizer files with every Qwen
special token, the real chat template, ``preprocessor_config.json``), so `hf:DIR` loads
it through the very same ``from_pretrained`` path as real weights. The tokenizer is a
byte-level BPE trained here on the prompt text; token ids therefore differ from real
Qwen (read them from the tokenizer, never hard-code them).

Used by the test fixture ``tiny_checkpoint``, ``benchmarks/gpu_step.py --tiny`` and
demos::

    python -m model.tiny DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from transformers import Qwen2Tokenizer

# Special tokens of Qwen2.5-VL, in id order (151643...). The two tool-call tags and the
# FIM/repo tokens are added tokens that are NOT special (they survive
# skip_special_tokens=True), exactly as in the real tokenizer.
SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]
NON_SPECIAL_ADDED = [
    "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
    "<|repo_name|>", "<|file_sep|>",
]

# Tiny architecture: the real layout (window attention with a full-attention block,
# mrope, 2x2 merger) at toy widths. mrope_section must sum to head_dim / 2 (16 / 2).
# initializer_range 0.2 (not 0.02): the untrained model then writes varied tokens
# instead of one repeated token, so tests comparing generations compare something.
TEXT_CONFIG = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    max_position_embeddings=32768, hidden_act="silu", rms_norm_eps=1e-6, use_sliding_window=False,
    initializer_range=0.2,
    rope_parameters={"rope_type": "default", "rope_theta": 1000000.0, "mrope_section": [2, 3, 3]},
)
VISION_CONFIG = dict(
    depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=14, spatial_merge_size=2,
    temporal_patch_size=2, window_size=112, out_hidden_size=64, fullatt_block_indexes=[1], in_chans=3,
    hidden_act="silu", tokens_per_second=2, initializer_range=0.2,
)

# Qwen3-VL at toy widths: 16-pixel patches, 2x2 merge, one deepstack layer, interleaved mrope
# (mrope_section sums to head_dim / 2 = 8).
QWEN3_TEXT_CONFIG = dict(
    hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
    head_dim=16, max_position_embeddings=32768, hidden_act="silu", rms_norm_eps=1e-6, initializer_range=0.2,
    rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [2, 3, 3],
                     "mrope_interleaved": True},
)
QWEN3_VISION_CONFIG = dict(
    depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=16, spatial_merge_size=2,
    temporal_patch_size=2, out_hidden_size=64, num_position_embeddings=16, deepstack_visual_indexes=[1],
    in_channels=3, hidden_act="gelu_pytorch_tanh", initializer_range=0.2,
)

# The hub's preprocessor_config.json of Qwen3-VL-*-Instruct (factor 16 x 2 = 32).
QWEN3_PREPROCESSOR_CONFIG = {
    "size": {"longest_edge": 16777216, "shortest_edge": 65536},
    "patch_size": 16,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "processor_class": "Qwen3VLProcessor",
    "image_processor_type": "Qwen2VLImageProcessor",
}

# The hub's preprocessor_config.json of Qwen2.5-VL-*-Instruct.
PREPROCESSOR_CONFIG = {
    "min_pixels": 3136,
    "max_pixels": 12845056,
    "patch_size": 14,
    "temporal_patch_size": 2,
    "merge_size": 2,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "Qwen2VLImageProcessor",
    "processor_class": "Qwen2_5_VLProcessor",
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "rescale_factor": 0.00392156862745098,
    "resample": 3,
}


def _corpus() -> list[str]:
    """Text the BPE is trained on: the real prompts, so they tokenize compactly."""
    from guiagent.model.qwen25vl import prompt
    from guiagent.model.qwen25vl.template import FN_CALL_TEMPLATE, MOBILE_QUERY, TASK_PROGRESS

    lines = [FN_CALL_TEMPLATE, MOBILE_QUERY, TASK_PROGRESS, "You are a helpful assistant."]
    for space in ("computer_use", "mobile_use"):
        lines.append(prompt.system_text(space, (1932, 1092)))
    lines += [
        '{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [640, 400]}}',
        '{"name": "mobile_use", "arguments": {"action": "click", "coordinate": [935, 406]}}',
        '{"name": "mobile_use", "arguments": {"action": "terminate", "status": "success"}}',
        "Open the settings app and turn on Wi-Fi. Click the OK button. Type hello world.",
        " ".join(str(i) for i in range(0, 2000, 7)),
    ]
    return lines * 3


def _chat_template(family: str) -> str:
    if family == "qwen3-vl":
        from guiagent.model.qwen3vl.template import CHAT_TEMPLATE as QWEN3
        return QWEN3
    from guiagent.model.qwen25vl.template import CHAT_TEMPLATE

    return CHAT_TEMPLATE


def build_tokenizer(family: str = "qwen2.5-vl") -> Qwen2Tokenizer:
    """A Qwen2Tokenizer with a self-trained byte-level BPE and all Qwen added tokens."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=600, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    bpe.train_from_iterator(_corpus(), trainer)
    spec = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in spec["merges"]]
    # Qwen2Tokenizer is typed to take merges as strings and special tokens as str; it takes pairs and None.
    tok = Qwen2Tokenizer(vocab=spec["vocab"], merges=merges, unk_token=None, bos_token=None, eos_token=None,  # type: ignore[arg-type]
                         pad_token=None, errors="replace")  # type: ignore[arg-type]
    # Added in Qwen's id order, right after the BPE vocabulary, like the real tokenizer.
    tok.add_special_tokens({"additional_special_tokens": SPECIAL_TOKENS})
    tok.add_tokens(NON_SPECIAL_ADDED)  # special=False, as in the real tokenizer
    tok.eos_token, tok.pad_token = "<|im_end|>", "<|endoftext|>"
    tok.chat_template = _chat_template(family)
    tok.model_max_length = 131072
    return tok


def write_processor_files(directory: str | Path, family: str = "qwen2.5-vl") -> dict[str, int]:
    """Write the tokenizer, chat template and image-processor files; returns the added tokens' ids.

    ``ids["vocab"]`` is the tokenizer's length. The benchmark pairs these files with
    full-size random-weight models.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(family)
    tok.save_pretrained(out)
    _write_json(out / "preprocessor_config.json",
                QWEN3_PREPROCESSOR_CONFIG if family == "qwen3-vl" else PREPROCESSOR_CONFIG)
    # Hub checkpoints carry the template as chat_template.json (read by the processor).
    _write_json(out / "chat_template.json", {"chat_template": _chat_template(family)})
    ids = {t: cast(int, tok.convert_tokens_to_ids(t)) for t in SPECIAL_TOKENS + NON_SPECIAL_ADDED}  # one token: one id
    ids["vocab"] = len(tok)
    return ids


def token_config(ids: dict[str, int]) -> dict[str, Any]:
    """The config fields that name token ids, for a model paired with `write_processor_files`."""
    return dict(
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        vision_token_id=ids["<|vision_pad|>"],
    )


def hub_generation_config(ids: dict[str, int]) -> Any:
    """generation_config.json as the hub ships it: eos = [<|im_end|>, <|endoftext|>], near-greedy sampling."""
    from transformers import GenerationConfig

    pad, eos = ids["<|endoftext|>"], ids["<|im_end|>"]
    return GenerationConfig(  # type: ignore[no-untyped-call]  # transformers leaves it unannotated
        bos_token_id=pad, pad_token_id=pad, eos_token_id=[eos, pad], repetition_penalty=1.05,
        do_sample=True, temperature=0.1, top_k=1, top_p=0.001)


def build(directory: str | Path, *, seed: int = 0, family: str = "qwen2.5-vl") -> Path:
    """Write a tiny random-weight checkpoint of `family` (qwen2.5-vl | qwen3-vl) into `directory`."""
    if family == "qwen3-vl":
        return _build_qwen3(Path(directory), seed)
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    out = Path(directory)
    ids = write_processor_files(out)
    pad, eos = ids["<|endoftext|>"], ids["<|im_end|>"]
    cfg = Qwen2_5_VLConfig(
        text_config=dict(TEXT_CONFIG, vocab_size=ids["vocab"], bos_token_id=pad, eos_token_id=eos, pad_token_id=pad),
        vision_config=dict(VISION_CONFIG), tie_word_embeddings=True, **token_config(ids),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(cfg).eval()  # type: ignore[no-untyped-call]
    model.generation_config = hub_generation_config(ids)
    model.save_pretrained(out)
    return out


def _build_qwen3(out: Path, seed: int) -> Path:
    import torch
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    ids = write_processor_files(out, "qwen3-vl")
    pad, eos = ids["<|endoftext|>"], ids["<|im_end|>"]
    tokens = token_config(ids)
    tokens.pop("vision_token_id")  # Qwen3VLConfig has no such field
    cfg = Qwen3VLConfig(
        text_config=dict(QWEN3_TEXT_CONFIG, vocab_size=ids["vocab"], bos_token_id=pad, eos_token_id=eos,
                         pad_token_id=pad),
        vision_config=dict(QWEN3_VISION_CONFIG), tie_word_embeddings=True, **tokens,
    )
    torch.manual_seed(seed)
    model = Qwen3VLForConditionalGeneration(cfg).eval()  # type: ignore[no-untyped-call]
    model.generation_config = hub_generation_config(ids)
    model.save_pretrained(out)
    return out


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """``python -m model.tiny DIR``: build the tiny checkpoint into DIR."""
    args = sys.argv[1:] if argv is None else argv
    family = "qwen2.5-vl"
    if len(args) == 2 and args[0] in ("--qwen3-vl", "--qwen2.5-vl"):
        family, args = args[0][2:], args[1:]
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m guiagent.model.tiny [--qwen3-vl] DIR   (writes a tiny random-weight checkpoint)",
              file=sys.stderr)
        return 2
    path = build(args[0], family=family)
    print(f"tiny {family} checkpoint written to {path}; load it with --model hf:{path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
