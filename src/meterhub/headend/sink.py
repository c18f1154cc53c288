"""Records leave the event loop in batches; a worker thread writes them.

The loop only appends to a list. A flusher task hands the batch to `write(batch)` in a
thread (`asyncio.to_thread`) every `interval_s` or when `max_batch` records wait, so
the loop never waits on the database. If a write fails the batch is kept and retried:
readings are never silently dropped (the store is idempotent, so a retry after a
partial write is harmless).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class BatchSink:
    def __init__(self, write: Callable[[list], None], *, interval_s: float = 1.0, max_batch: int = 5000):
        self._write = write
        self.offload = asyncio.to_thread  # the HeadEnd points this at its database thread
        self.interval_s, self.max_batch = interval_s, max_batch
        self._pending: list = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.written = 0
        self.failures = 0

    def put(self, record) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="batch-sink")

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await self.offload(self._write, batch)
        except Exception:
            self.failures += 1
            log.exception("writing %d records failed; keeping them for the next flush", len(batch))
            self._pending[:0] = batch
            await asyncio.sleep(min(30, self.interval_s * 2 ** min(self.failures, 5)))
        else:
            self.written += len(batch)
            self.failures = 0

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self.flush()
