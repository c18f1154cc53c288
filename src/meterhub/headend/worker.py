"""The head-end's command worker: claim, execute on the live bus, report. One per HeadEnd."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from meterhub.headend import commands
from meterhub.headend.bus import CollectorGone

log = logging.getLogger(__name__)


class CommandWorker:
    """`claim(node, buses) -> [CommandTask]` and `finish(id, Outcome, node)` run in threads."""

    def __init__(self, headend, claim: Callable, finish: Callable, expire: Callable | None = None,
                 interval_s: float = 1.0):
        self.headend, self._claim, self._finish, self._expire = headend, claim, finish, expire
        self.interval_s = interval_s
        self._running: set[int] = set()

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("command worker tick failed")
            await asyncio.sleep(self.interval_s)

    async def tick(self) -> int:
        if self._expire is not None:
            await self.headend.blocking.run(self._expire)
        buses = {key for key, s in self.headend.sessions.items() if not s.closed}
        tasks = await self.headend.blocking.run(self._claim, self.headend.node, buses)
        tasks = [t for t in tasks if t.id not in self._running]
        await asyncio.gather(*(self._run_one(t) for t in tasks))
        return len(tasks)

    async def _run_one(self, task: commands.CommandTask) -> None:
        self._running.add(task.id)
        try:
            try:
                session = self.headend.session_for(task.meter)
                outcome = await commands.execute(session, task, datetime.now(UTC))
            except CollectorGone as exc:
                outcome = commands.Outcome("retry", {"error": str(exc)}, [("no_answer", {"kind": "offline"})])
            await self.headend.blocking.run(self._finish, task.id, outcome, self.headend.node)
        finally:
            self._running.discard(task.id)
