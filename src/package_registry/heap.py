"""Giving freed memory back to the operating system.

glibc keeps freed small blocks in its arenas, so a process that once held a large
transient structure (a first load's documents on their way into the catalog file, a
listing of every version) keeps that memory resident, and forked workers share it
copy-on-write. ``malloc_trim`` returns what is free; it is called after such peaks.

glibc also raises its mmap threshold each time a large block is freed, so the next
answer of that size comes from the heap and stays resident after it is sent: a worker
serving a 25 MB ``all=true`` listing every other request kept 25 MB more every other
time. ``fix_mmap_threshold`` pins the threshold, so blocks of 1 MiB and more are always
mapped on their own and unmapped when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["fix_mmap_threshold", "trim_heap"]

#: ``mallopt``'s parameter number for the mmap threshold (glibc's malloc.h).
_M_MMAP_THRESHOLD = -3
#: Blocks from this size up are mapped on their own.
MMAP_THRESHOLD = 1 << 20


@functools.cache
def _glibc(function: str) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return getattr(ctypes.CDLL(name), function)
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None


def trim_heap() -> None:
    """Return the C heap's free memory to the operating system, where glibc allows it."""
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at ``MMAP_THRESHOLD`` (it no longer adapts)."""
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
