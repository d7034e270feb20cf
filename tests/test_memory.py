"""Long runs give freed heap memory back to the system (glibc malloc_trim), in a process of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

FRAGMENTED_HEAP = textwrap.dedent("""
    import ctypes
    from pathlib import Path
    from guiagent.agent.memory import release_free_memory

    def rss_mb():
        line = next(x for x in Path("/proc/self/status").read_text().splitlines() if x.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    start = rss_mb()
    # 200 MB in 64 KiB blocks: below the mmap threshold, so from the heap, like screen buffers
    # once glibc has raised its threshold; the last block pins the heap's top, so free() alone
    # cannot give any of it back
    blocks = [libc.malloc(64 * 1024) for _ in range(3200)]
    for b in blocks:
        ctypes.memset(b, 1, 64 * 1024)
    for b in blocks[:-1]:
        libc.free(b)
    held = rss_mb()
    print(release_free_memory(), start, held, rss_mb())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs Linux (glibc's malloc_trim)")
def test_release_free_memory_returns_a_fragmented_heaps_free_pages():
    out = subprocess.run([sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True, check=True)
    released, start, held, after = out.stdout.split()
    start, held, after = float(start), float(held), float(after)
    assert released == "True"
    assert held - start > 150  # freed, yet still resident
    assert held - after > 150  # given back
