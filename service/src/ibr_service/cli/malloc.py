"""Keep a long-running server's memory flat under glibc.

Every client authentication verifies a scrypt hash, which needs 16 MiB of working memory.
glibc's malloc serves a block that large with mmap and returns it on free, but it then raises
its mmap threshold to the block's size (a dynamic threshold), so the next 16 MiB blocks come
from the heap and stay resident: the soak benchmark saw the server grow by 16 MiB at its second
token, for good. A fixed threshold (what MALLOC_MMAP_THRESHOLD_ sets) keeps such blocks on mmap.
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["MMAP_THRESHOLD", "return_large_blocks_to_the_os"]

MMAP_THRESHOLD = 1 << 20
"""Blocks of 1 MiB and more are mmapped and returned on free (glibc's default starts at 128 KiB
and rises; a fixed value also stops the rise)."""
_M_MMAP_THRESHOLD = -3  # glibc malloc.h


def return_large_blocks_to_the_os(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold for this process; False where there is no glibc (or it
    refused), which changes nothing but memory use."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, threshold))
    except (OSError, AttributeError):  # musl or another libc
        return False
