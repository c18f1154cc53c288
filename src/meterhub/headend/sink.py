"""Records leave the event loop in batches; a worker thread writes them.

The loop only appends to a list. A flusher task hands the batch to `write(batch)` in a
thread (`asyncio.to_thread`) every `interval_s` or when `max_batch` records wait, so
the loop never waits on the database.

Readings are never silently dropped:

* A failed write keeps the batch and retries it with backoff (the store is idempotent,
  so a retry after a partial write is harmless). That covers a database that is down.
* After `whole_retries` failures in a row the batch is written one record at a time, so
  one record the database refuses for good (a value too long or too large for its
  column, a meter deleted since the fleet snapshot) cannot block all the others. A
  record whose single write fails with an error `is_transient(exc)` calls temporary
  (the database went away meanwhile) stays pending with the rest; any other failure
  hands the record to `dead_letter(record, exc)` and the rest are written.
* Shutdown (`close()`) lets a write in progress finish rather than cancelling it, then
  writes what is left; what still cannot be written goes to the dead letter. If the
  flusher is cancelled all the same, the batch it held goes back to the pending list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

WHOLE_RETRIES = 2  # failed writes of a whole batch before it is split into single records
BACKOFF_MAX_S = 30.0


def log_dead_letter(record, error: BaseException) -> None:
    log.error("record not written, dropped: %r: %s: %s", record, type(error).__name__, error)


def connection_error(exc: BaseException) -> bool:
    return isinstance(exc, (ConnectionError, OSError, TimeoutError))


class BatchSink:
    def __init__(self, write: Callable[[list], None], *, interval_s: float = 1.0, max_batch: int = 5000,
                 dead_letter: Callable[[object, BaseException], None] | None = None,
                 is_transient: Callable[[BaseException], bool] | None = None,
                 whole_retries: int = WHOLE_RETRIES):
        self._write = write
        self.offload = asyncio.to_thread  # the HeadEnd points this at its database thread
        self.interval_s, self.max_batch = interval_s, max_batch
        self.dead_letter = dead_letter or log_dead_letter
        self.is_transient = is_transient or connection_error
        self.whole_retries = max(1, whole_retries)
        self._pending: list = []
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.written = 0
        self.failures = 0  # failed writes in a row (sets the backoff)
        self._whole_failures = 0  # failed writes of whole batches since the last split
        self.dead = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def put(self, record) -> None:
        self._pending.append(record)
        if len(self._pending) >= self.max_batch:
            self._wake.set()

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="batch-sink")

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def flush(self, *, split: bool = False, backoff: bool = True) -> None:
        """Write what is pending. A failure keeps the records and, with `backoff`, waits
        before returning (cut short by close()); `split` goes to single records at once."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        if not split and self._whole_failures < self.whole_retries:
            try:
                await self.offload(self._write, batch)
            except asyncio.CancelledError:
                self._pending[:0] = batch
                raise
            except Exception:
                self.failures += 1
                self._whole_failures += 1
                log.exception("writing %d records failed (%d in a row); keeping them for the next flush",
                              len(batch), self.failures)
                self._pending[:0] = batch
                if backoff:
                    await self._backoff()
                return
            self.written += len(batch)
            self.failures = self._whole_failures = 0
            return
        await self._write_singly(batch, backoff)

    async def _write_singly(self, batch: list, backoff: bool) -> None:
        self._whole_failures = 0  # whatever happens, the next flush tries a whole batch again
        log.warning("writing %d records one at a time to find the ones the database refuses", len(batch))
        for i, record in enumerate(batch):
            try:
                await self.offload(self._write, [record])
            except asyncio.CancelledError:
                self._pending[:0] = batch[i:]
                raise
            except Exception as exc:
                if self.is_transient(exc):
                    # the database itself is unavailable: keep this one and the rest
                    self.failures += 1
                    log.error("writing records failed (%s: %s); keeping %d for the next flush",
                              type(exc).__name__, exc, len(batch) - i)
                    self._pending[:0] = batch[i:]
                    if backoff:
                        await self._backoff()
                    return
                self.dead += 1
                try:
                    self.dead_letter(record, exc)
                except Exception:
                    log.exception("dead letter failed for %r (its write failed with %s: %s)",
                                  record, type(exc).__name__, exc)
            else:
                self.written += 1
        self.failures = 0

    async def _backoff(self) -> None:
        delay = min(BACKOFF_MAX_S, self.interval_s * 2 ** min(self.failures, 5))
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            pass

    async def close(self) -> None:
        """Stop the flusher after the write in progress, then write what is left.

        Records that still cannot be written (the database is down at shutdown) go to
        the dead letter rather than vanishing with the process."""
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            try:
                await self._task
            except asyncio.CancelledError:
                if asyncio.current_task().cancelling():
                    raise  # close() itself was cancelled (and the flusher with it: its batch is kept)
            self._task = None
        if self._pending:
            await self.flush(backoff=False)
        if self._pending:
            await self.flush(split=True, backoff=False)
        if self._pending:
            left, self._pending = self._pending, []
            log.error("%d records not written before shutdown", len(left))
            error = RuntimeError("not written before shutdown: the database was unavailable")
            for record in left:
                self.dead += 1
                try:
                    self.dead_letter(record, error)
                except Exception:
                    log.exception("dead letter failed for %r", record)
