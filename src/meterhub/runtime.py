"""Composition root: wires the head-end (no database) to the domain (database).

The only module that imports both sides; `meterhub headend` and `meterhub demo` use it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from functools import partial

from django.db import connections

from meterhub.comms import commands, plans
from meterhub.comms.fleet import load_fleet
from meterhub.comms.store import write_batch
from meterhub.headend.dial_out import DialOut
from meterhub.headend.glow_feed import GlowFeed
from meterhub.headend.mqtt_gateways import MqttGateways
from meterhub.headend.schedule import Scheduler
from meterhub.headend.serial_links import SerialLinks
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.headend.worker import CommandWorker

log = logging.getLogger(__name__)


def build_headend(node: str | None = None) -> tuple[HeadEnd, Scheduler, CommandWorker]:
    node = node or socket.gethostname()
    headend = HeadEnd(load_fleet, BatchSink(partial(write_batch, node=node)), node=node,
                      thread_finalizer=connections.close_all)
    scheduler = Scheduler(headend, plans.load_plans, plans.mark_run)
    worker = CommandWorker(headend, commands.claim, commands.finish, commands.expire_overdue)
    return headend, scheduler, worker


async def run_headend(host: str, port: int, node: str | None = None, ready: asyncio.Event | None = None,
                      mqtt: tuple[str, int] | None = None, glow_prefix: str = "glow") -> None:
    headend, scheduler, worker = build_headend(node)
    bound = await headend.start(host, port)
    tasks = [asyncio.create_task(scheduler.run(), name="scheduler"),
             asyncio.create_task(worker.run(), name="command-worker"),
             asyncio.create_task(DialOut(headend).run(), name="dial-out"),
             asyncio.create_task(SerialLinks(headend).run(), name="serial-links")]
    if mqtt is not None:
        feed = GlowFeed(headend, host=mqtt[0], port=mqtt[1], prefix=glow_prefix)
        tasks.append(asyncio.create_task(feed.run(), name="glow-feed"))
        gateways = MqttGateways(headend, host=mqtt[0], port=mqtt[1])
        tasks.append(asyncio.create_task(gateways.run(), name="mqtt-gateways"))
    log.info("head-end running on %s:%s", host, bound)
    if ready is not None:
        ready.set()
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await headend.close()
