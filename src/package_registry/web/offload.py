"""Reads that may take long, run beside the event loop in a small pool of threads.

A streamed body may inflate a zip member up to a range deep inside it, or read a large
file chunk by chunk: done on the event loop, one such request stalls every other
request of the worker, ``/health`` included. Each step of such a body runs in one of
``READERS`` threads instead; the pool bounds how many run at once (more wait their
turn without holding the loop), and ``zlib`` and file reads release the GIL meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

#: Threads per worker process reading streamed bodies at once.
READERS = 4

# Threads start on first use, in the worker process (never before the fork).
_POOL = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="package-registry-read")


async def chunks_of(
    body: Iterator[bytes], stop: Callable[[], bool] = lambda: False
) -> AsyncIterator[bytes]:
    """The non-empty chunks of ``body``, each produced in a pool thread, until ``body``
    ends or ``stop()`` is true (checked between chunks; an empty chunk from ``body``
    is a point where it may stop). ``body`` is closed, in a pool thread too, whatever
    ends the iteration."""
    loop = asyncio.get_running_loop()
    try:
        while not stop():
            chunk = await loop.run_in_executor(_POOL, next, body, None)
            if chunk is None:
                return
            if chunk:
                yield chunk
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            await loop.run_in_executor(_POOL, close)
