"""One attention call over all vision windows (sdpa), instead of one call per window.

Qwen2.5-VL's vision tower uses window attention in most blocks: a 1932x1092 screenshot
is ~180 windows of 64 patches. With ``attn_implementation="sdpa"`` transformers runs one
small attention call per window (per block), which on a GPU is dominated by launch and
Python overhead; with flash-attn it already makes a single variable-length call. This
patch gives sdpa the same shape of work: windows are gathered into a padded
``(windows, heads, longest, head_dim)`` batch, padded keys are masked, and one
``scaled_dot_product_attention`` call computes them all. The math per window is
unchanged (verified equal to the stock path in the tests).

`install(model)` patches the vision blocks of a loaded model; `set_enabled(model, on)`
toggles it (the benchmark measures both on the same weights).
"""

from __future__ import annotations

import types
from typing import Any

_FLAG = "_guiagent_packed"
_STOCK = "_guiagent_stock_forward"


def _packed_forward(self: Any, hidden_states: Any, cu_seqlens: Any, position_embeddings: Any = None,
                    max_seqlen: Any = None, **kwargs: Any) -> Any:
    import torch
    import torch.nn.functional as F
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import apply_rotary_pos_emb_vision

    if not getattr(self, _FLAG, False) or self.config._attn_implementation != "sdpa" or self.training:
        return getattr(self, _STOCK)(hidden_states, cu_seqlens=cu_seqlens, position_embeddings=position_embeddings,
                                     max_seqlen=max_seqlen, **kwargs)
    seq = hidden_states.shape[0]
    q, k, v = self.qkv(hidden_states).reshape(seq, 3, self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
    cos, sin = position_embeddings
    q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)  # (seq, heads, head_dim)
    lengths = cu_seqlens[1:] - cu_seqlens[:-1]
    if lengths.numel() == 1:
        qh, kh, vh = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))
        out = F.scaled_dot_product_attention(qh, kh, vh, scale=self.scaling)[0].transpose(0, 1)
    else:
        longest = int(max_seqlen) if isinstance(max_seqlen, int) else int(lengths.max())
        pos = torch.arange(longest, device=hidden_states.device)
        valid = pos[None, :] < lengths[:, None]  # (windows, longest)
        index = (cu_seqlens[:-1, None].long() + pos[None, :]).masked_fill(~valid, 0)
        qw, kw, vw = (t[index].transpose(1, 2) for t in (q, k, v))  # (windows, heads, longest, head_dim)
        # Keys past a window's end are masked; when every window is full the mask is dropped so
        # sdpa may pick its flash kernel.
        mask = None if bool(valid.all()) else valid[:, None, None, :]
        out = F.scaled_dot_product_attention(qw, kw, vw, attn_mask=mask, scale=self.scaling)
        out = out.transpose(1, 2)[valid]  # back to (seq, heads, head_dim), windows in order
    return self.proj(out.reshape(seq, -1).contiguous())


def install(model: Any, enabled: bool = True) -> int:
    """Patch every vision attention block of a Qwen2.5-VL model; returns how many were patched."""
    visual = getattr(getattr(model, "model", model), "visual", None)
    if visual is None:
        return 0
    count = 0
    for block in visual.blocks:
        attn = block.attn
        if not hasattr(attn, _STOCK):
            setattr(attn, _STOCK, attn.forward)
            attn.forward = types.MethodType(_packed_forward, attn)
        setattr(attn, _FLAG, enabled)
        count += 1
    return count


def set_enabled(model: Any, enabled: bool) -> None:
    """Switch installed blocks between the packed call and transformers' own forward."""
    visual = getattr(getattr(model, "model", model), "visual", None)
    for block in getattr(visual, "blocks", []):
        if hasattr(block.attn, _STOCK):
            setattr(block.attn, _FLAG, enabled)


def is_enabled(model: Any) -> bool:
    visual = getattr(getattr(model, "model", model), "visual", None)
    blocks = getattr(visual, "blocks", [])
    return bool(blocks) and all(getattr(b.attn, _FLAG, False) for b in blocks)
