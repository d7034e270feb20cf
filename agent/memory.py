"""Giving the C heap's free memory back to the system during long runs.

A step allocates and frees a few screen-sized buffers (the grab, the RGB image, the PNG;
33 MB each at 4K). Once glibc has freed one large block it raises its mmap threshold, so
later ones come from the heap: fast (no fresh pages to zero), but live and freed blocks
then interleave, the heap fragments, and RSS climbs until the allocator's working set
levels off. Measured at 3840x2160 over 500 steps (benchmarks/memory_4k.py), growth after
the warm-up: with ``--history images:3`` +226 to +278 MB untrimmed, +56 MB with a trim every
`TRIM_EVERY` steps; text history +99 -> +23 MB. A fixed low mmap threshold also bounds it,
but makes every 4K capture 13 ms slower (fresh pages each time).
"""

from __future__ import annotations

import ctypes
import functools
import sys
from collections.abc import Callable

TRIM_EVERY = 32  # steps between trims: one costs ~6.5 ms at 4K (3.3 ms at 1080p), ~0.2 ms a step spread out


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim  # glibc; musl has none
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Return the heap's free pages to the system (glibc ``malloc_trim``), holes in its middle too.

    False where the C library has no such call (not glibc, not Linux); nothing is freed then.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
