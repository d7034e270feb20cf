"""`hf:PATH_OR_ID` — Qwen2.5-VL in process with transformers (the embedded default backend).

What the model sees is exactly what the prompt states: each screenshot is taken at the
frame's model size (``ImagePart.resized()``), the processor is given the same pixel
budget (so its own smart_resize is the identity), and every call checks that the image
grid equals the image (``image_grid_thw * 14 == (H', W')``, i.e. H'*W'/784 image tokens).
The prompt text is the dialect's rendering (what ``guiagent prompt`` prints); on the first
call it is compared with the checkpoint's own chat template.

Speed: bf16 on CUDA, flash_attention_2 when installed (else sdpa plus one packed
attention call over all vision windows), a static KV cache whose decode step
transformers compiles (warmed up before step 1, on the one thread every generate runs
on), and a micro-batcher that merges steps arriving together from several episodes
into one left-padded ``generate``. Generation is greedy unless a temperature is given, stops at
``</tool_call>`` or ``<|im_end|>``, and is bounded by ``max_new_tokens``.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from guiagent.model.base import (
    Completion,
    ImagePart,
    Message,
    Model,
    ModelError,
    RequestContext,
    TokenMeter,
    Usage,
)
from guiagent.model.batching import Batcher
from guiagent.model.messages import template_messages

if TYPE_CHECKING:
    from guiagent.tools.actions import ActionSpace
    from guiagent.tools.checks import CheckResult

log = logging.getLogger("guiagent.model.hf")

PATCH = 14  # Qwen2.5-VL's vision patch size (the processor's own patch_size is read when it has one)
MAX_NEW_TOKENS_LIMIT = 8192
# Screens the start-up warm-up compiles for (the static cache is sized with headroom).
_WARMUP_SCREENS = {"computer_use": (1920, 1080), "mobile_use": (1080, 2400)}
_CACHE_BUCKET = 2048  # static cache length granularity: fewer sizes -> fewer recompiles


class ForcedReply:
    """A logits processor that makes `generate` emit given token sequences exactly.

    For deterministic runs of the real generate path with random or untrained weights:
    every score except the target token's becomes -inf. Each `generate` call forces the
    next reply of `replies` (the last one repeats); past a reply's end its last token
    repeats. Works on batches (every row gets the same reply). Install it through
    `HFModel.logits_processors`; `HFModel` calls `reset()` before every generate.
    """

    def __init__(self, *replies: Sequence[int]) -> None:
        if not replies or not all(replies):
            raise ValueError("ForcedReply needs at least one non-empty token sequence")
        self.replies = [list(r) for r in replies]
        self.calls = 0
        self._start: int | None = None
        self._current = self.replies[0]

    @classmethod
    def from_text(cls, tokenizer: Any, *texts: str, stop: str = "<|im_end|>") -> ForcedReply:
        """Force each of `texts` (one per generate call) followed by the `stop` token."""
        seqs = []
        for text in texts:
            ids = tokenizer.encode(text, add_special_tokens=False)
            if stop:
                ids.append(tokenizer.convert_tokens_to_ids(stop))
            seqs.append(ids)
        return cls(*seqs)

    def reset(self) -> None:
        """Start the next reply (called once per generate)."""
        self._current = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        self._start = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self._start is None:
            self._start = input_ids.shape[1]  # the first decoding step of this generate call
        k = min(input_ids.shape[1] - self._start, len(self._current) - 1)
        forced = scores.new_full(scores.shape, float("-inf"))
        forced[:, self._current[k]] = 0.0
        return forced


class _FirstTokenClock:
    """Records when the first logits arrive: prefill (vision tower + prompt) ends there."""

    def __init__(self, sync: Callable[[], None] | None) -> None:
        self.sync = sync
        self.first: float | None = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if self.first is None:
            if self.sync is not None:
                self.sync()
            self.first = time.perf_counter()
        return scores


@dataclass
class _Request:
    messages: list[Message]
    on_tokens: Callable[[int], None] | None = None  # RequestContext.on_tokens


def _token_streamer(hooks: Sequence[Callable[[int], None] | None], stop_ids: Sequence[int]) -> Any:
    """A transformers streamer that counts each batch row's new tokens and tells that row's hook.

    A row stops counting at its first stop token (later steps only pad it), so each count ends at the
    reply's `completion_tokens`. Only the hook is called: the tokens themselves are not kept.
    """
    from transformers.generation.streamers import BaseStreamer

    class TokenCounter(BaseStreamer):
        def __init__(self) -> None:
            self.meters = [TokenMeter(h) if h is not None else None for h in hooks]
            self.counts = [0] * len(hooks)
            self.done = [False] * len(hooks)
            self.stops = set(stop_ids)
            self.prompt_seen = False

        def put(self, value: Any) -> None:
            if not self.prompt_seen:  # generate hands over the prompt ids first
                self.prompt_seen = True
                return
            for row, token in enumerate(value.reshape(-1).tolist()[: len(self.counts)]):
                if self.done[row]:
                    continue
                self.counts[row] += 1
                self.done[row] = token in self.stops
                meter = self.meters[row]
                if meter is not None:
                    meter.update(self.counts[row])

        def end(self) -> None:
            for meter in self.meters:
                if meter is not None:
                    meter.finish()

    return TokenCounter()


@functools.cache
def _image_only_processor_class(model_type: str = "qwen2_5_vl") -> Any:
    """The family's processor without the video processor (which needs torchvision)."""
    base: Any
    if model_type in ("qwen3_vl", "qwen3_vl_moe"):
        from transformers import Qwen3VLProcessor

        base = Qwen3VLProcessor
    else:
        from transformers import Qwen2_5_VLProcessor

        base = Qwen2_5_VLProcessor

    class ImageOnlyProcessor(base):  # type: ignore[misc]
        """The checkpoint's processor class without its video processor.

        Same tokenizer, image processor and chat template as the checkpoint's own
        processor, so the same prompt gives the same tokens; it only cannot do video.
        """

        def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None,
                     **kwargs: Any) -> None:
            super().__init__(image_processor=image_processor, tokenizer=tokenizer, chat_template=chat_template,
                             **kwargs)

    ImageOnlyProcessor.__name__ = ImageOnlyProcessor.__qualname__ = f"ImageOnly{base.__name__}"
    return ImageOnlyProcessor


def load_processor(path: str) -> Any:
    """The checkpoint's processor; without torchvision, an image-only one built from the same files."""
    from transformers import AutoConfig, AutoProcessor
    from transformers.processing_utils import ProcessorMixin

    try:
        proc = AutoProcessor.from_pretrained(path)  # type: ignore[no-untyped-call]  # unannotated in transformers
        if isinstance(proc, ProcessorMixin) and getattr(proc, "image_processor", None) is not None:
            return proc
        # AutoProcessor silently returns a bare tokenizer for unknown processor classes.
        log.info("%s: AutoProcessor gave %s; building the image-only processor", path, type(proc).__name__)
    except (ImportError, OSError, ValueError, AttributeError, TypeError) as exc:
        # Typically "Qwen2VLVideoProcessor requires the Torchvision library" on CPU installs.
        log.info("%s: stock processor unavailable (%s); using the image-only processor", path,
                 str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    model_type = getattr(AutoConfig.from_pretrained(path), "model_type", "qwen2_5_vl")
    return _image_only_processor_class(model_type).from_pretrained(path)


def _resolve_device(device: str | None) -> str:
    import torch

    if device in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available; use device=cpu")
    return device


def _resolve_dtype(dtype: str | None, device: str) -> Any:
    import torch

    if dtype in (None, "", "auto"):
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    names = {"bfloat16": torch.bfloat16, "bf16": torch.bfloat16, "float16": torch.float16, "fp16": torch.float16,
             "float32": torch.float32, "fp32": torch.float32}
    if dtype not in names:
        raise ModelError(f"unknown dtype {dtype!r}; use one of bfloat16, float16, float32")
    return names[dtype]


def _resolve_attn(attn: str | None, device: str) -> str:
    if attn not in (None, "", "auto"):
        return attn
    if device.startswith("cuda") and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


class HFModel(Model):
    """Qwen2.5-VL through transformers, loaded from a local folder or a hub id (cache; HF_HUB_OFFLINE respected).

    Options (all keyword): ``temperature`` (0 = greedy, the default), ``max_new_tokens``
    (default 256), ``dtype`` (bf16 on CUDA, fp32 on CPU), ``device`` (cuda when
    available; several GPUs -> ``device_map="auto"``), ``static_cache`` (default: on for
    CUDA, off on CPU), ``attn_implementation`` (flash_attention_2 when installed, else
    sdpa), ``max_batch`` (requests merged into one generate, default 1; the harness
    sets it to its worker count), ``batch_wait_ms`` (how long a batch waits for company,
    default 20) and ``vision_attention`` (``packed``: one sdpa call over all vision
    windows, see `model.vision_attention`; ``stock``: transformers' own loop).

    `logits_processors` is a hook for deterministic runs (tests, the oracle-free
    real-model harness): extra processors appended to every generate call.
    """

    name = "hf"
    OPTIONS = frozenset({"temperature", "max_new_tokens", "dtype", "device", "static_cache", "attn_implementation",
                         "max_batch", "batch_wait_ms", "vision_attention"})

    def __init__(
        self,
        path: str,
        *,
        temperature: float = 0.0,
        max_new_tokens: int = 256,
        dtype: str | None = None,
        device: str | None = None,
        static_cache: bool | None = None,
        attn_implementation: str | None = None,
        max_batch: int = 1,
        batch_wait_ms: float = 20.0,
        vision_attention: str = "packed",
        dialect: str | None = None,
    ) -> None:
        super().__init__(dialect)
        self._options(temperature, max_new_tokens, max_batch, batch_wait_ms, vision_attention)
        self.path = path
        self.spec = f"hf:{path}"
        processor, model, device_name = self._load(path, dtype, device, attn_implementation)
        if dialect is None:  # the checkpoint says which family it is
            from guiagent.model import dialects

            self.dialect = dialects.get(dialects.for_model_type(getattr(model.config, "model_type", None)))
        self._adopt(processor, model, device_name, static_cache, vision_attention)

    @classmethod
    def from_loaded(cls, model: Any, processor: Any, *, name: str = "<in-memory>", temperature: float = 0.0,
                    max_new_tokens: int = 256, static_cache: bool | None = None, max_batch: int = 1,
                    batch_wait_ms: float = 20.0, vision_attention: str = "packed",
                    dialect: str | None = None) -> HFModel:
        """Wrap an already loaded model and processor (benchmarks build random-weight models in memory)."""
        from guiagent.model import dialects

        self = cls.__new__(cls)
        Model.__init__(self, dialect or dialects.for_model_type(getattr(model.config, "model_type", None)))
        self._options(temperature, max_new_tokens, max_batch, batch_wait_ms, vision_attention)
        self.path, self.spec = name, f"hf:{name}"
        self.dtype = model.dtype
        self.attn_implementation = model.config._attn_implementation
        self._adopt(processor, model, str(model.device), static_cache, vision_attention)
        return self

    def _options(self, temperature: float, max_new_tokens: int, max_batch: int, batch_wait_ms: float,
                 vision_attention: str) -> None:
        temperature = float(temperature)
        if temperature < 0:
            raise ModelError(f"temperature must be >= 0, got {temperature}")
        if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS_LIMIT:
            raise ModelError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS_LIMIT}, got {max_new_tokens}")
        if vision_attention not in ("packed", "stock"):
            raise ModelError(f"vision_attention must be 'packed' or 'stock', got {vision_attention!r}")
        if int(max_batch) < 1:
            raise ModelError(f"max_batch must be >= 1, got {max_batch}")
        self.temperature = temperature
        self.max_new_tokens = int(max_new_tokens)
        self.logits_processors: list[Callable[[Any, Any], Any]] = []
        self._warm = False
        self._warm_lock = threading.Lock()
        self._template_checked = False
        self._batcher: Batcher[_Request, Completion] = Batcher(
            self._on_worker, max_batch=int(max_batch), wait_s=float(batch_wait_ms) / 1000.0)
        # Every generate runs on this one thread: CUDA graphs recorded by the compiled decode step are
        # per thread, so warm-up and all later steps (whichever episode thread leads a batch) share them.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="guiagent-hf")

    def _on_worker(self, requests: Sequence[_Request], max_new_tokens: int | None = None,
                   processors: list[Any] | None = None) -> list[Completion]:
        if self.model is None:
            raise ModelError(f"hf:{self.path}: the model was closed")
        return self._worker.submit(self._run_batch, requests, max_new_tokens, processors).result()

    # ----------------------------------------------------------------- loading
    def _load(self, path: str, dtype: str | None, device: str | None, attn: str | None) -> tuple[Any, Any, str]:
        import torch
        from transformers import AutoModelForImageTextToText

        source = str(find_checkpoint(path))  # weights on disk, or one clear message; no hub retries
        device_name = _resolve_device(device)
        self.dtype = _resolve_dtype(dtype, device_name)
        self.attn_implementation = _resolve_attn(attn, device_name)
        multi_gpu = device in (None, "", "auto") and device_name == "cuda" and torch.cuda.device_count() > 1
        kwargs: dict[str, Any] = {"dtype": self.dtype, "attn_implementation": self.attn_implementation}
        if multi_gpu:
            kwargs["device_map"] = "auto"  # shard the layers over every visible GPU (needs accelerate)
        try:
            processor = load_processor(source)
            model = AutoModelForImageTextToText.from_pretrained(source, local_files_only=True, **kwargs)
        except OSError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"hf:{path}: cannot load {source} ({first}); point hf: at a Qwen2.5-VL "
                             "checkpoint") from None
        except (ImportError, ValueError) as exc:  # e.g. a malformed hub id, a missing optional package
            raise ModelError(f"hf:{path}: {str(exc).strip().splitlines()[0]}") from None
        if multi_gpu:
            return processor, model, str(model.device)
        return processor, model.to(device_name), device_name  # type: ignore[arg-type]  # transformers types .to as unbound

    def _adopt(self, processor: Any, model: Any, device: str, static_cache: bool | None,
               vision_attention: str) -> None:
        self.processor = processor
        self.model = model.eval()
        self.device = device
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"  # batched generate continues every row at the same position
        self.image_token_id = int(model.config.image_token_id)
        ids = [self.tokenizer.convert_tokens_to_ids(t) for t in ("</tool_call>", "<|im_end|>", "<|endoftext|>")]
        unk = self.tokenizer.unk_token_id
        self.stop_ids = [i for i in ids if i is not None and i != unk]
        self.static_cache = device.startswith("cuda") if static_cache is None else bool(static_cache)
        # transformers compiles the decode step of a static cache on accelerators only.
        self.compiles = self.static_cache and device.startswith("cuda")
        # flash_attention_2 already runs the vision windows as one varlen call; sdpa gets the packed patch.
        self.vision_attention = "stock"
        if vision_attention == "packed" and model.config._attn_implementation == "sdpa":
            from guiagent.model import vision_attention as packed

            if packed.install(model):
                self.vision_attention = "packed"

    # ----------------------------------------------------------------- API
    def check(self, space: ActionSpace, policy: str) -> None:
        """Compile and warm the static-cache decode step before step 1 (no-op when nothing compiles)."""
        with self._warm_lock:  # N episodes sharing the model call check() together; warm up once
            if self.compiles and not self._warm:
                self.warmup(space)

    def warmup(self, space: ActionSpace = "computer_use", screen: tuple[int, int] | None = None) -> float:
        """Run throw-away steps so compilation happens now, not in step 1; returns the seconds spent."""
        from PIL import Image

        start = time.perf_counter()
        w, h = screen or _WARMUP_SCREENS.get(space, (1920, 1080))
        image = Image.new("RGB", (w, h), (255, 255, 255))
        messages = self.dialect.messages("Warm-up step.", space, ImagePart(image=image, size=self.image_size(w, h)), [])
        # A fixed short reply, so the compiled decode graph runs a few times (CUDA graphs record on reuse).
        forced = [ForcedReply(self.tokenizer.encode("<tool_call>\n{}\n", add_special_tokens=False))]
        # Batch size 1, then the full batch: after two sizes torch.compile builds a dynamic-batch graph, so
        # the partial batches the harness will form do not each pay a compile mid-run.
        sizes = [1] if self._batcher.max_batch == 1 else [1, self._batcher.max_batch]
        for n in sizes:
            for _ in range(2):
                self._on_worker([_Request(messages)] * n, max_new_tokens=8, processors=forced)
        self._warm = True
        took = time.perf_counter() - start
        log.info("hf:%s warm-up (compile) took %.1f s", self.path, took)
        return took

    def generate(self, messages: list[Message], context: RequestContext | None = None) -> Completion:
        completion, waited = self._batcher.submit(_Request(list(messages), context.on_tokens if context else None))
        if self._batcher.max_batch > 1:
            completion = completion.model_copy(update={"timings": {**completion.timings, "queue": waited}})
        return completion

    @property
    def batches(self) -> int:
        """How many `generate` batches have run (each may have served several requests)."""
        return self._batcher.batches

    def close(self) -> None:
        import torch

        if self.model is None:
            return
        self._worker.shutdown(wait=True)
        self.model = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    # ----------------------------------------------------------------- internals
    def prompt_text(self, messages: list[Message]) -> str:
        """The exact prompt: the dialect's rendering (what `guiagent prompt` prints)."""
        text = self.dialect.render(messages)
        if not self._template_checked:
            self._template_checked = True
            template = getattr(self.processor, "chat_template", None)
            if template:
                theirs = self.processor.apply_chat_template(template_messages(messages), tokenize=False,
                                                            add_generation_prompt=True)
                if theirs != text:
                    at = next((i for i, (a, b) in enumerate(zip(text, theirs, strict=False)) if a != b), min(len(text), len(theirs)))
                    log.warning("hf:%s: the checkpoint's chat template renders a different prompt than the %s "
                                "dialect (first difference at character %d); using the dialect's", self.path,
                                self.dialect.name, at)
        return text

    def _generation_kwargs(self, max_new_tokens: int, prompt_len: int) -> dict[str, Any]:
        kw: dict[str, Any] = {"max_new_tokens": max_new_tokens, "eos_token_id": self.stop_ids,
                              "pad_token_id": self.tokenizer.pad_token_id}
        if self.temperature > 0:
            # The hub generation_config has top_k=1/top_p=0.001 (near-greedy); a temperature means real sampling.
            kw.update(do_sample=True, temperature=self.temperature, top_k=0, top_p=1.0)
        else:
            kw.update(do_sample=False, temperature=None, top_k=None, top_p=None)
        if self.static_cache:
            kw["cache_implementation"] = "static"
            # Sized in buckets: transformers keeps the largest size seen, so the compiled decode step is reused.
            need = prompt_len + max_new_tokens
            kw["max_cache_len"] = -(-need // _CACHE_BUCKET) * _CACHE_BUCKET
        return kw

    def _processor_image(self, part: ImagePart) -> Any:
        """What the processor is given for one image part.

        The screenshot itself when the processor's own resize lands on the part's (the Frame's) size:
        the model then sees exactly the pixels of the cookbook's ``processor(images=[screenshot])``,
        whichever backend the processor has (Pillow; or torchvision with the [gpu] extra, whose bicubic
        differs from Pillow's by a little). Otherwise the part resized to its size (Pillow bicubic), so
        the model's grid always matches the Frame.
        """
        from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

        _, factor = self._patch_and_factor()
        w, h = part.image.size
        try:
            theirs = smart_resize(h, w, factor=factor, min_pixels=self.budget.min_pixels,
                                  max_pixels=self.budget.max_pixels)
        except ValueError:  # an aspect ratio the processor refuses: the Frame's own size decides
            theirs = None
        return part.image if theirs == (part.size[1], part.size[0]) else part.resized()

    def _patch_and_factor(self) -> tuple[int, int]:
        """The processor's patch size and resize factor (patch x merge size: 28 for Qwen2.5-VL, 32 for Qwen3-VL)."""
        ip = self.processor.image_processor
        patch = int(getattr(ip, "patch_size", PATCH))
        return patch, patch * int(getattr(ip, "merge_size", 2))

    def _check_grid(self, grid: Any, sizes: list[tuple[int, int]]) -> None:
        grids = grid.tolist()
        if len(grids) != len(sizes):
            raise ModelError(f"the processor made {len(grids)} image grids for {len(sizes)} images")
        patch, factor = self._patch_and_factor()
        for i, ((w, h), thw) in enumerate(zip(sizes, grids, strict=True)):
            if thw != [1, h // patch, w // patch] or h % factor or w % factor:
                want = self.image_size(w, h)
                raise ModelError(
                    f"image {i} is {w}x{h} but the processor made a {thw[2] * patch}x{thw[1] * patch} grid; "
                    f"screenshots must be resized to the model size first ({want[0]}x{want[1]} for this budget)")

    def _run_batch(self, requests: Sequence[_Request], max_new_tokens: int | None = None,
                   processors: list[Any] | None = None) -> list[Completion]:
        import torch

        if self.model is None:
            raise ModelError(f"hf:{self.path}: the model was closed")
        cuda = self.device.startswith("cuda")
        sync = torch.cuda.synchronize if cuda else None
        max_new = max_new_tokens or self.max_new_tokens

        t0 = time.perf_counter()
        texts = [self.prompt_text(r.messages) for r in requests]
        parts = [part for r in requests for m in r.messages for part in m.images()]
        size = {"shortest_edge": self.budget.min_pixels, "longest_edge": self.budget.max_pixels}
        inputs = self.processor(text=texts, images=[self._processor_image(p) for p in parts] or None, size=size,
                                padding=True, return_tensors="pt")
        if parts:
            self._check_grid(inputs["image_grid_thw"], [(p.size[0], p.size[1]) for p in parts])
        inputs = inputs.to(self.model.device)
        if sync:
            sync()
        t1 = time.perf_counter()

        clock = _FirstTokenClock(sync)
        extra = self.logits_processors if processors is None else processors
        for p in extra:
            if hasattr(p, "reset"):
                p.reset()
        hooks = [r.on_tokens for r in requests]
        # Streaming copies each step's tokens to the host: paid only when someone watches the count.
        streamer = _token_streamer(hooks, self.stop_ids) if any(hooks) else None
        with torch.inference_mode():
            out = self.model.generate(**inputs, **self._generation_kwargs(max_new, inputs["input_ids"].shape[1]),
                                      logits_processor=[clock, *extra], streamer=streamer)
        if sync:
            sync()
        t2 = time.perf_counter()
        first = clock.first or t2
        timings = {"preprocess": t1 - t0, "prefill": first - t1, "decode": t2 - first}

        prompt_len = inputs["input_ids"].shape[1]
        mask = inputs["attention_mask"]
        results = []
        for row, _ in enumerate(requests):
            new = out[row, prompt_len:].tolist()
            stop_at = next((i for i, t in enumerate(new) if t in self.stop_ids), None)
            if stop_at is not None:
                new = new[: stop_at + 1]
            text = self.tokenizer.decode(new, skip_special_tokens=True, clean_up_tokenization_spaces=False)
            usage = Usage(prompt_tokens=int(mask[row].sum()),
                          image_tokens=int((inputs["input_ids"][row] == self.image_token_id).sum()),
                          completion_tokens=len(new))
            results.append(Completion(text=text, usage=usage, timings=dict(timings),
                                      finish_reason="stop" if stop_at is not None else "length"))
        return results


# ---------------------------------------------------------------------------- probe (guiagent doctor)

_TOKENIZER_SETS = (("tokenizer.json",), ("vocab.json", "merges.txt"))
_GB = 1e9  # the catalogue's unit (model/catalog.py), so its figures and free memory compare directly


def find_checkpoint(path: str) -> Path:
    """The complete checkpoint folder `path` names (a folder, or a hub id in the local cache), found without
    the network: a checkpoint not downloaded, or one missing files, is a ModelError saying what to do."""
    from guiagent.model.catalog import not_downloaded

    folder, where = _find_checkpoint(path)
    if folder is None:
        if where == "no such folder":
            raise ModelError(f"hf:{path}: no such folder; give a checkpoint folder or a hub id like "
                             f"Qwen/Qwen2.5-VL-7B-Instruct")
        raise ModelError(not_downloaded(path))
    missing = missing_files(folder)
    if missing:
        fix = (f"finish the download with `hf download {path}`" if where == "HF cache"
               else "point hf: at a complete Qwen2.5-VL checkpoint folder")
        raise ModelError(f"hf:{path}: {folder} is not a complete Qwen2.5-VL checkpoint, it lacks "
                         f"{'; '.join(missing)}: {fix}")
    return folder


def missing_files(folder: Path) -> list[str]:
    """What a Qwen2.5-VL checkpoint folder lacks (empty when complete)."""
    import json

    missing = [f for f in ("config.json", "preprocessor_config.json") if not (folder / f).is_file()]
    if not any(all((folder / f).is_file() for f in s) for s in _TOKENIZER_SETS):
        missing.append("tokenizer.json (or vocab.json + merges.txt)")
    if not (folder / "tokenizer_config.json").is_file():
        missing.append("tokenizer_config.json")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError):
            return [*missing, "a readable model.safetensors.index.json"]
        absent = [s for s in shards if not (folder / s).is_file()]
        if absent:
            missing.append(f"{len(absent)} of {len(shards)} weight shards ({absent[0]}…)")
    elif not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")):
        missing.append("weights (*.safetensors)")
    return missing


def _find_checkpoint(path: str) -> tuple[Path | None, str]:
    """(folder, where it was found) for a local path or a hub id in the cache; never downloads."""
    local = Path(path).expanduser()
    if local.exists():
        return local, "local folder"
    if path.startswith(("/", ".", "~")) or path.count("/") > 1:
        return None, "no such folder"
    from guiagent.model.catalog import cached_folder

    folder = cached_folder(path)
    return (folder, "HF cache") if folder is not None else (None, "not in the HF cache")



def probe(path: str, required: bool = False) -> list[CheckResult]:
    """`hf:PATH_OR_ID` without loading weights: the checkpoint's files are all there and transformers reads its
    config. `required` (the user named this model) makes a checkpoint not downloaded yet FAIL instead of WARN."""
    from guiagent.tools.checks import MODEL, dist_version, first_line, results_for, severity

    r = results_for(MODEL)
    name = "model files"
    folder, where = _find_checkpoint(path)
    if folder is None:
        if where == "no such folder":
            return [r(name, "FAIL", f"hf:{path}: no such folder", "give a checkpoint folder or a hub id like "
                      "Qwen/Qwen2.5-VL-7B-Instruct")]
        from guiagent.model.catalog import not_downloaded

        detail, _, fix = not_downloaded(path).partition(": fetch it with ")
        return [r(name, severity(required), detail, fix.replace("`", "", 2))]
    missing = missing_files(folder)
    if missing:
        fix = (f"hf download {path}  (resumes the download)" if where == "HF cache"
               else "copy the complete checkpoint (config, processor, tokenizer and weight files)")
        return [r(name, "FAIL", f"hf:{path}: {where} {folder} lacks: {'; '.join(missing)}", fix)]
    at = "" if where == "local folder" else f" (HF cache: {folder})"
    out = [r(name, "OK", f"hf:{path}{at}: config, processor, tokenizer and weights present")]
    try:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - ValueError (unknown model_type), OSError, JSON errors
        out.append(r("model config", "FAIL", f"transformers {dist_version('transformers')} cannot load the config "
                     f"({first_line(exc)})", "upgrade transformers (pip install -U 'transformers>=5.24,<6')"))
        return out
    kind = getattr(config, "model_type", "?")
    if kind not in ("qwen2_5_vl", "qwen3_vl", "qwen3_vl_moe"):
        out.append(r("model config", "WARN", f"model_type {kind!r}: no dialect knows it; the prompt and parser "
                     "are Qwen2.5-VL's", "use a Qwen2.5-VL or Qwen3-VL checkpoint, or expect other models to "
                     "answer in another format"))
    else:
        text = getattr(config, "text_config", config)
        layers, hidden = getattr(text, "num_hidden_layers", "?"), getattr(text, "hidden_size", "?")
        out.append(r("model config", "OK", f"{kind}: {layers} layers, hidden size {hidden}"))
    return out


def probe_gpu(spec: str | None, local: bool, required: bool = False) -> list[CheckResult]:
    """torch, CUDA, free GPU memory against what the model `spec` needs in bf16, and flash-attn.

    `local`: the model runs in this process (an ``hf:`` model or none named), so a missing GPU matters;
    `required`: the user named an ``hf:`` model, so torch must import."""
    from guiagent.tools.checks import GPU, dist_version, first_line, results_for, severity

    r = results_for(GPU)
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - ImportError, a broken CUDA runtime (OSError)
        return [r("torch", severity(required) if local else "OK",
                  f"cannot import torch ({first_line(exc)})" + ("" if local else "; not needed: the model runs on "
                                                                 "the server"),
                  "pip install torch (CUDA builds: https://pytorch.org/get-started/locally/)" if local else None)]
    out = [r("torch", "OK", f"torch {torch.__version__}")]
    if not torch.cuda.is_available():
        if not local:
            out.append(r("CUDA", "OK", "no CUDA; not needed: the model runs on the server"))
            return out
        out.append(r("CUDA", "WARN", "no CUDA GPU: hf: models run on the CPU (a 7B model takes minutes per step)",
                     "install an NVIDIA driver and a CUDA build of torch, or serve the model with vLLM on a GPU "
                     "machine and use --model openai:http://HOST:8000/v1"))
        out.append(r("flash-attn", "OK", "not used without CUDA"))
        return out
    n = torch.cuda.device_count()
    names = sorted({torch.cuda.get_device_name(i) for i in range(n)})
    out.append(r("CUDA", "OK", f"CUDA {torch.version.cuda}, {n} GPU{'s' if n != 1 else ''}: {', '.join(names)}"))
    from guiagent.model.catalog import CHECKPOINTS, DEFAULT_HUB_ID, memory_need_gb

    spec = spec or f"hf:{DEFAULT_HUB_ID}"
    want = memory_need_gb(spec) if local else None
    free_total = 0.0
    for i in range(n):
        free, total = torch.cuda.mem_get_info(i)
        free_total += free / _GB
        out.append(r(f"GPU {i} memory", "OK", f"{free / _GB:.1f} of {total / _GB:.1f} GB free"))
    if want is not None and free_total < want:
        # the largest published bf16 checkpoint that fits what is free: a concrete smaller model to try
        fits = sorted((c for c in CHECKPOINTS if c.memory_gb <= free_total and not c.quantized),
                      key=lambda c: c.memory_gb)
        smaller = (f"hf:{fits[-1].hub_id} (about {fits[-1].memory_gb:g} GB)" if fits else
                   "none of the published checkpoints fits")
        out.append(r("GPU memory", "WARN", f"{spec} needs about {want:g} GB of GPU memory; "
                     f"{free_total:.1f} GB are free on {n} GPU{'s' if n != 1 else ''}",
                     f"free GPU memory, use more GPUs (they are used together), a smaller model: {smaller}; or serve "
                     "the model with vLLM on a bigger GPU machine and use --model openai:http://HOST:8000/v1"))
    if importlib.util.find_spec("flash_attn") is not None:
        out.append(r("flash-attn", "OK", f"flash-attn {dist_version('flash-attn')}: attention uses flash_attention_2"))
    else:
        out.append(r("flash-attn", "WARN", "not installed: attention falls back to sdpa (slower and more memory on "
                     "long prompts)", "pip install flash-attn --no-build-isolation"))
    return out
