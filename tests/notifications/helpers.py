"""Running the real notification worker from a test, off the loop, as the head-end does."""

from __future__ import annotations

import asyncio

from django.db import connections

from meterhub.headend.blocking import Blocking
from meterhub.notifications.models import Message, Status
from meterhub.notifications.worker import run_notifier


def pending() -> int:
    return Message.objects.filter(status__in=[Status.QUEUED, Status.SENDING]).count()


def run_worker(adapters, *, until_done=True, seconds: float = 20.0, node="test", cancel_after: float | None = None):
    """Run the worker until nothing is left to send (or `cancel_after` seconds, then stop it
    as a shutdown would)."""

    async def main():
        database = Blocking(connections.close_all, name="test-db")  # one thread, as in the head-end
        offload = database.run
        task = asyncio.create_task(run_notifier(offload, node=node, adapters=adapters, idle_s=0.05))
        try:
            if cancel_after is not None:
                await asyncio.sleep(cancel_after)
                return
            loop = asyncio.get_running_loop()
            deadline = loop.time() + seconds
            while loop.time() < deadline:
                await asyncio.sleep(0.1)
                if until_done and await offload(pending) == 0:
                    return
            raise AssertionError("messages still pending after the worker ran")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await database.close()

    asyncio.run(main())
