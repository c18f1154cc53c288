"""The notification worker: an asyncio task (in the head-end, or `meterhub notify`).

Database work runs through `offload` (the head-end's database thread); gateway calls run
in worker threads, a few at once. Cancelling it waits for the messages already handed to
a gateway and records them, so a restart does not send them again.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from meterhub.notifications import channels, outbox

log = logging.getLogger(__name__)


async def run_notifier(offload: Callable[..., Awaitable], *, node: str | None = None, adapters=None,
                       idle_s: float = 1.0, batch: int = 10) -> None:
    node = node or socket.gethostname()
    adapters = adapters if adapters is not None else channels.from_environment()
    while True:
        claiming = asyncio.ensure_future(offload(outbox.claim, node, batch))
        try:
            claimed = await asyncio.shield(claiming)
        except asyncio.CancelledError:
            # stopped while claiming: give back what was taken, or it waits out its lease
            claimed = await claiming
            await offload(outbox.release, [m.pk for m in claimed], node)
            raise
        except Exception:
            log.exception("claiming notifications failed; retrying in %g s", idle_s * 5)
            await asyncio.sleep(idle_s * 5)
            continue
        if not claimed:
            await asyncio.sleep(idle_s)
            continue
        # Shielded: once a message is handed to a gateway, its outcome is recorded even if
        # we are being stopped.
        sending = asyncio.ensure_future(_send_all(offload, node, adapters, claimed))
        try:
            await asyncio.shield(sending)
        except asyncio.CancelledError:
            await sending
            raise


async def _send_all(offload, node: str, adapters, claimed) -> None:
    async def one(message):
        ok, detail, permanent = await asyncio.to_thread(channels.deliver, adapters, message)
        if not ok:
            log.warning("message %s to %s via %s: %s", message.pk, message.recipient, message.channel, detail)
        outcome = outbox.Outcome(message.pk, message.attempts, ok, detail, permanent)
        for _ in range(5):  # the database may be away a moment; the lease covers us meanwhile
            try:
                await offload(outbox.finish, outcome, node)
                return
            except Exception:
                log.exception("recording message %s failed; retrying", message.pk)
                await asyncio.sleep(1.0)

    await asyncio.gather(*(one(m) for m in claimed))
