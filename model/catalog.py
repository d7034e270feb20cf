"""The Qwen2.5-VL checkpoints guiagent knows: hub ids, download sizes, memory to run them, the published pixel budget.

One source for `guiagent models`, the message when `hf:` weights are not on disk, and `guiagent doctor`.
Sizes are the hub repositories' weight files (bf16 safetensors; AWQ: 4-bit language model, fp16 vision tower)
rounded to the GB; memory is what loading them needs plus room for activations and the KV cache of a 1080p
screenshot step (guiagent's own rule: weights x 1.25).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

# Qwen2.5-VL's preprocessor_config.json, the same for every size: the budget the models were published with.
PUBLISHED_MIN_PIXELS, PUBLISHED_MAX_PIXELS = 3136, 12845056
HEADROOM = 1.25
DEFAULT_HUB_ID = "Qwen/Qwen2.5-VL-7B-Instruct"  # what `--model` defaults to (model.spec.DEFAULT_MODEL)
# `--model hf:` on the CPU: one step of the tiny test checkpoint is measured by the tests; a real 3B/7B
# checkpoint could not be measured on the machines guiagent is developed on (no weights there).
CPU_NOTE = "on the CPU a 7B step takes minutes; use a CUDA GPU"


class Checkpoint(BaseModel):
    """One published checkpoint."""

    hub_id: str
    params_b: float  # billions of parameters
    download_gb: float  # weight files on the hub
    quantized: bool = False

    @property
    def memory_gb(self) -> float:
        """GPU memory to run it (weights plus headroom)."""
        return round(self.download_gb * HEADROOM)

    @property
    def size(self) -> str:
        """`7B` or `7B AWQ`."""
        return f"{self.params_b:g}B" + (" AWQ" if self.quantized else "")


CHECKPOINTS: tuple[Checkpoint, ...] = (
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-3B-Instruct", params_b=3, download_gb=7.5),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-7B-Instruct", params_b=7, download_gb=16.6),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-32B-Instruct", params_b=32, download_gb=67),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-72B-Instruct", params_b=72, download_gb=147),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-3B-Instruct-AWQ", params_b=3, download_gb=3.5, quantized=True),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-7B-Instruct-AWQ", params_b=7, download_gb=7, quantized=True),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-32B-Instruct-AWQ", params_b=32, download_gb=21, quantized=True),
    Checkpoint(hub_id="Qwen/Qwen2.5-VL-72B-Instruct-AWQ", params_b=72, download_gb=42, quantized=True),
)


def known(hub_id: str) -> Checkpoint | None:
    """The catalogue entry of a hub id (case-insensitive), None for one guiagent does not know."""
    for c in CHECKPOINTS:
        if c.hub_id.lower() == hub_id.lower():
            return c
    return None


def memory_need_gb(spec: str) -> float | None:
    """GPU memory to run the model a spec names (``hf:ID``, an id or a folder): the catalogue's figure for a
    known checkpoint, else bf16 weights (2 bytes a parameter, from a size such as ``7B`` in the name) with the
    same headroom; None when the name states no size."""
    import re

    name = spec.removeprefix("hf:")
    c = known(name) or known("Qwen/" + name.rstrip("/").rsplit("/", 1)[-1])
    if c is not None:
        return c.memory_gb
    m = re.search(r"(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", name)
    return round(float(m.group(1)) * 2 * HEADROOM) if m else None


def cached_folder(hub_id: str) -> Path | None:
    """The hub id's snapshot in the local HF cache, None when it is not there. Never goes to the network."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_files_only=True))
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError, a malformed id, an unreadable cache
        return None


def hf_cache() -> str:
    """Where hub downloads go (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub)."""
    import os

    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    return os.path.join(os.environ.get("HF_HOME") or "~/.cache/huggingface", "hub")


def offline() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set: nothing may go to the network."""
    import os

    return any(os.environ.get(v, "") not in ("", "0", "false", "False") for v in ("HF_HUB_OFFLINE",
                                                                               "TRANSFORMERS_OFFLINE"))


def not_downloaded(hub_id: str) -> str:
    """The one message for `hf:ID` whose weights are not on disk: what it is, how big, how to get it, what else."""
    c = known(hub_id)
    facts = (f"{c.size}, a {c.download_gb:g} GB download, needs about {c.memory_gb:g} GB of GPU memory"
             if c else "not a checkpoint guiagent knows (see `guiagent models`)")
    return (f"hf:{hub_id} is not downloaded ({facts}; cache {hf_cache()}): fetch it with `hf download {hub_id}` "
            f"(or --model hf:/path/to/checkpoint); {CPU_NOTE}; or serve it elsewhere and use "
            f"--model openai:http://HOST:8000/v1")


__all__ = ["CHECKPOINTS", "DEFAULT_HUB_ID", "Checkpoint", "PUBLISHED_MAX_PIXELS", "PUBLISHED_MIN_PIXELS", "cached_folder",
           "hf_cache", "known", "memory_need_gb", "not_downloaded", "offline"]
