"""The head-end's command worker: claim, execute on the live bus, report. One per HeadEnd.

Each claimed command runs as its own task, so one slow meter does not hold up the rest:
`tick()` claims and starts, and returns; the next tick claims again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial

from meterhub.headend import commands
from meterhub.headend.bus import CollectorGone

log = logging.getLogger(__name__)


class CommandWorker:
    """`claim(node, buses) -> [CommandTask]` and `finish(id, Outcome, node)` run in threads."""

    def __init__(self, headend, claim: Callable, finish: Callable, expire: Callable | None = None,
                 interval_s: float = 1.0):
        self.headend, self._claim, self._finish, self._expire = headend, claim, finish, expire
        self.interval_s = interval_s
        self._running: set[int] = set()  # command ids being carried out here
        self._tasks: set[asyncio.Task] = set()  # strong references: the loop keeps only weak ones

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.tick()
                except Exception:
                    log.exception("command worker tick failed")
                await asyncio.sleep(self.interval_s)
        finally:
            await self.close()

    async def tick(self) -> int:
        """Expire, claim, and start each new command; returns how many were started."""
        if self._expire is not None:
            await self.headend.blocking.run(self._expire)
        buses = {key for key, s in self.headend.sessions.items() if not s.closed}
        tasks = await self.headend.blocking.run(self._claim, self.headend.node, buses)
        started = 0
        for task in tasks:
            if task.id in self._running:  # re-claimed after its lease ran out, still running here
                continue
            self._running.add(task.id)
            job = asyncio.create_task(self._run_one(task), name=f"command-{task.id}")
            self._tasks.add(job)
            job.add_done_callback(partial(self._done, task.id))
            started += 1
        return started

    async def drain(self) -> None:
        """Wait until every command started so far has finished."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel commands in flight (their lease runs out and they are taken up again) and wait."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, command_id: int, job: asyncio.Task) -> None:
        self._tasks.discard(job)
        self._running.discard(command_id)
        if not job.cancelled() and job.exception() is not None:
            exc = job.exception()
            log.error("command task %s failed", job.get_name(), exc_info=(type(exc), exc, exc.__traceback__))

    async def _run_one(self, task: commands.CommandTask) -> None:
        try:
            session = self.headend.session_for(task.meter)
            outcome = await commands.execute(session, task, datetime.now(UTC))
        except CollectorGone as exc:
            outcome = commands.Outcome("retry", {"error": str(exc)}, [("no_answer", {"kind": "offline"})])
        except Exception as exc:  # a bug or bad data: fail it now, or it is re-claimed forever
            log.exception("command %s (%s) for meter %s failed unexpectedly", task.id, task.kind, task.meter.serial)
            error = f"{type(exc).__name__}: {exc}"
            outcome = commands.Outcome("failed", {"error": error}, [("error", {"error": error})])
        if task.kind == "read_now" and outcome.status == "done":
            self.headend.publish_read_now(task.meter, outcome.result.get("values", {}))
        await self.headend.blocking.run(self._finish, task.id, outcome, self.headend.node)
