"""Giving freed memory back to the operating system.

glibc keeps freed small blocks in its arenas, so a process that once held a large
transient structure (a first load's documents on their way into the catalog file, a
listing of every version) keeps that memory resident, and forked workers share it
copy-on-write. ``malloc_trim`` returns what is free; it is called after such peaks.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["trim_heap"]


@functools.cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None


def trim_heap() -> None:
    """Return the C heap's free memory to the operating system, where glibc allows it."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
