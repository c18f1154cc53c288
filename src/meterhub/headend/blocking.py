"""Where the head-end's blocking work (the database) runs: one dedicated thread.

One thread keeps one database connection for the life of the process, serialises the
head-end's writes (they are batched anyway), and can be closed cleanly: `close()` runs a
finaliser (e.g. closing that connection) in the thread itself.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


class Blocking:
    def __init__(self, finalizer: Callable[[], None] | None = None, name: str = "headend-db"):
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._finalizer = finalizer

    async def run(self, fn: Callable, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def close(self) -> None:
        if self._finalizer is not None:
            await self.run(self._finalizer)
        self._executor.shutdown(wait=True)
