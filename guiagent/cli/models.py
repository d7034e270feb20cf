"""`guiagent models`: the Qwen2.5-VL checkpoints guiagent knows and which of them are in the local HF cache."""

from __future__ import annotations

from guiagent.cli.common import CliParser


def main(argv: list[str]) -> int:
    """Print one row per known checkpoint: hub id, size, download, GPU memory, pixel budget, cached or not."""
    from guiagent.model.catalog import (
        CHECKPOINTS,
        PUBLISHED_MAX_PIXELS,
        PUBLISHED_MIN_PIXELS,
        cached_folder,
        hf_cache,
    )

    CliParser(prog="guiagent models", description="List the Qwen2.5-VL checkpoints guiagent knows and which are "
              "downloaded.").parse_args(argv)
    rows = [("HUB ID", "SIZE", "DOWNLOAD", "GPU MEMORY", "PIXELS", "LOCAL")]
    for c in CHECKPOINTS:
        folder = cached_folder(c.hub_id)
        rows.append((c.hub_id, c.size, f"{c.download_gb:g} GB", f"~{c.memory_gb:g} GB",
                     f"{PUBLISHED_MIN_PIXELS}-{PUBLISHED_MAX_PIXELS}", "yes" if folder else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    print(f"cache: {hf_cache()}; fetch one with `hf download HUB_ID`, run it with --model hf:HUB_ID")
    return 0
