"""Composition root: wires the head-end (no database) to the domain (database).

The only module that imports both sides; `meterhub headend` and `meterhub demo` use it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from functools import partial

from django.db import connections
from django.db.utils import InterfaceError, OperationalError

from meterhub import config
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
from meterhub.notifications.worker import run_notifier
from meterhub.readings.processing import run_processing

log = logging.getLogger(__name__)

DEAD_LETTER_FILE = "headend-dead-letter.jsonl"
RESTART_BACKOFF_S = (1.0, 60.0)


# --- the sink's database side ------------------------------------------------------------

def is_transient(exc: BaseException) -> bool:
    """The database is unavailable (keep the records and retry), as opposed to refusing
    one record for good (DataError, IntegrityError, ValueError: dead letter)."""
    return isinstance(exc, (OperationalError, InterfaceError, ConnectionError, OSError, TimeoutError))


def dead_letter_path():
    return config.var_dir() / DEAD_LETTER_FILE


def dead_letter(record, error: BaseException) -> None:
    """A record the database refused for good: one JSON line in var/headend-dead-letter.jsonl."""
    if dataclasses.is_dataclass(record):
        fields = {f.name: str(getattr(record, f.name)) for f in dataclasses.fields(record)}
    else:
        fields = {"repr": repr(record)}
    line = {"type": type(record).__name__, "fields": fields, "error": f"{type(error).__name__}: {error}",
            "time": datetime.now(UTC).isoformat()}
    path = dead_letter_path()
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    log.error("record not written, kept in %s: %r: %s: %s", path, record, type(error).__name__, error)


def make_sink(node: str) -> BatchSink:
    return BatchSink(partial(write_batch, node=node), dead_letter=dead_letter, is_transient=is_transient)


def build_headend(node: str | None = None) -> tuple[HeadEnd, Scheduler, CommandWorker]:
    node = node or socket.gethostname()
    headend = HeadEnd(load_fleet, make_sink(node), node=node, thread_finalizer=connections.close_all)
    scheduler = Scheduler(headend, plans.load_plans, plans.mark_run)
    worker = CommandWorker(headend, commands.claim, commands.finish, commands.expire_overdue)
    return headend, scheduler, worker


async def run_alarm_sweep(offload: Callable[..., Awaitable], interval_s: float = 30.0) -> None:
    """Alarms about time passing (collector offline, meter silent, escalation), every `interval_s`."""
    from meterhub.alarms.rules import sweep

    while True:
        try:
            await offload(sweep)
        except Exception:
            log.exception("alarm sweep failed; again in %g s", interval_s)
        await asyncio.sleep(interval_s)


async def run_housekeeping(offload: Callable[..., Awaitable], interval_s: float = 3600.0) -> None:
    """Tidying that only the passing of time asks for, every `interval_s`: the portal's
    sessions, codes and binding attempts past their retention (portal.retention).
    Idempotent, so every head-end may run it."""
    from meterhub.portal.retention import purge

    while True:
        try:
            removed = await offload(purge)
            if removed:
                log.info("housekeeping: removed %d portal records past their retention", removed)
        except Exception:
            log.exception("housekeeping failed; again in %g s", interval_s)
        await asyncio.sleep(interval_s)


# --- supervision -------------------------------------------------------------------------

async def supervise(name: str, run: Callable[[], Awaitable[None]], *,
                    backoff_s: tuple[float, float] | None = None) -> None:
    """Run a long-running component; if it fails (or returns), log it and start it again
    after a backoff (doubling from backoff_s[0] to backoff_s[1]; back to the start after
    it has run for longer than the longest wait). Cancelling stops it."""
    backoff_s = backoff_s or RESTART_BACKOFF_S
    loop = asyncio.get_running_loop()
    delay = backoff_s[0]
    while True:
        started = loop.time()
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            if loop.time() - started > backoff_s[1]:
                delay = backoff_s[0]
            log.exception("%s failed; restarting it in %g s", name, delay)
        else:
            if loop.time() - started > backoff_s[1]:
                delay = backoff_s[0]
            log.error("%s stopped; restarting it in %g s", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, backoff_s[1])


async def run_headend(host: str, port: int, node: str | None = None, ready: asyncio.Event | None = None,
                      mqtt: tuple[str, int] | None = None, glow_prefix: str = "glow",
                      mqtt_gateways: bool = False) -> None:
    """Run a head-end until cancelled. `mqtt` subscribes to Glow feeds on that broker
    (every node may); `mqtt_gateways` also serves MQTT gateway collectors there, which
    only one head-end per broker may do (a bus takes one master)."""
    if mqtt_gateways and mqtt is None:
        raise ValueError("mqtt_gateways needs the broker (mqtt=(host, port))")
    node = node or socket.gethostname()
    headend, scheduler, worker = build_headend(node)
    bound = await headend.start(host, port)
    components: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("scheduler", scheduler.run),
        ("command-worker", worker.run),
        ("dial-out", DialOut(headend).run),
        ("serial-links", SerialLinks(headend).run),
        ("processing", partial(run_processing, headend.blocking.run)),
        ("alarm-sweep", partial(run_alarm_sweep, headend.blocking.run)),
        ("housekeeping", partial(run_housekeeping, headend.blocking.run)),
        ("notifier", partial(run_notifier, headend.blocking.run, node=node)),
    ]
    if mqtt is not None:
        feed = GlowFeed(headend, host=mqtt[0], port=mqtt[1], prefix=glow_prefix)
        components.append(("glow-feed", feed.run))
        if mqtt_gateways:
            gateways = MqttGateways(headend, host=mqtt[0], port=mqtt[1])
            components.append(("mqtt-gateways", gateways.run))
    tasks = [asyncio.create_task(supervise(name, run), name=name) for name, run in components]
    log.info("head-end running on %s:%s", host, bound)
    if ready is not None:
        ready.set()
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await headend.close()
