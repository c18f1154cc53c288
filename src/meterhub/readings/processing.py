"""Bringing what is derived from readings up to date: the dirty-day pipeline.

Ingest marks each (meter, UTC day) it touches in `DirtyDay`, in the readings' own
transaction. `process_dirty` takes a batch of marks and runs every registered step over
those meter-days in order (validation before estimation before aggregation: each app
registers its step with an order in its AppConfig.ready), then removes the marks, all in
one transaction. A crash repeats a batch; it never skips one. A step that itself writes
readings (an estimate) marks the day again with a new time, and only marks whose time is
unchanged are removed, so the day comes round once more and later steps see the final
data; steps must therefore be idempotent.

Several head-end nodes may run this at once on PostgreSQL: marks are claimed with
SKIP LOCKED, so each meter-day is processed by one of them. Ingest meanwhile only locks a
mark that is already there (it does not rewrite it): a day written while its processing
runs waits for that processing to commit, finds the mark gone and marks the day anew.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime

from django.db import connection, transaction

from meterhub.readings import ingest
from meterhub.readings.models import DirtyDay

log = logging.getLogger(__name__)

MeterDays = list[tuple[int, date]]  # (meter_id, UTC day), sorted
_steps: list[tuple[int, str, Callable[[MeterDays], None]]] = []


def register(order: int, name: str, step: Callable[[MeterDays], None]) -> None:
    """Add a step (idempotent, takes the meter-days to bring up to date). Re-registering a
    name replaces it, so a reloaded app does not run twice."""
    _steps[:] = [s for s in _steps if s[1] != name]
    _steps.append((order, name, step))
    _steps.sort(key=lambda s: s[0])


def steps() -> list[str]:
    return [name for _order, name, _step in _steps]


def process_dirty(limit: int = 500) -> int:
    """Process up to `limit` marks, oldest first; returns how many were processed."""
    with transaction.atomic():
        marks = list(DirtyDay.objects.select_for_update(skip_locked=True).order_by("marked_at")
                     .values_list("meter_id", "day", "marked_at")[:limit])
        if not marks:
            return 0
        meter_days = sorted({(m, d) for m, d, _at in marks})
        with ingest.renewing_marks():  # a day a step writes to comes round again
            for _order, name, step in _steps:
                try:
                    step(meter_days)
                except Exception:
                    log.exception("processing step %s failed for %d meter-days; they stay marked", name,
                                  len(meter_days))
                    raise
        for start in range(0, len(marks), MARK_CHUNK):
            _remove_unchanged_marks(marks[start:start + MARK_CHUNK])
    return len(marks)


MARK_CHUNK = 2000  # marks removed per statement: they go as one parameter, within any parameter limit


def _remove_unchanged_marks(marks: list[tuple[int, date, datetime]]) -> None:
    """Delete the marks (meter, day, marked_at) whose time is still the one read. A mark
    renewed meanwhile stays for the next round: any other time, not only a later one, since
    the renewal may come from a node whose clock is behind the marker's."""
    using = connection
    with using.cursor() as cursor:
        if using.vendor == "postgresql":
            meters, days, times = zip(*marks, strict=True)
            cursor.execute(
                "DELETE FROM readings_dirtyday AS mark"
                " USING unnest(%s::bigint[], %s::date[], %s::timestamptz[]) AS seen(meter_id, day, marked_at)"
                " WHERE mark.meter_id = seen.meter_id AND mark.day = seen.day AND mark.marked_at = seen.marked_at",
                [ingest.pg_array(meters), ingest.pg_array(days), ingest.pg_array(t.isoformat() for t in times)])
            return
        # the time as the ORM sends it, so it compares equal to the text stored
        seen = [[m, d.isoformat(), using.ops.adapt_datetimefield_value(t)] for m, d, t in marks]
        cursor.execute(
            "DELETE FROM readings_dirtyday WHERE (meter_id, day, marked_at) IN"
            " (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]')"
            " FROM json_each(%s))", [json.dumps(seen)])


async def run_processing(offload: Callable[..., Awaitable], interval_s: float = 5.0, limit: int = 500) -> None:
    """Keep derived data current: drain the marks, then wait `interval_s`. `offload` runs
    the blocking work off the event loop (the head-end's database thread)."""
    while True:
        try:
            while await offload(process_dirty, limit) >= limit:
                pass
        except Exception:
            log.exception("processing dirty days failed; retrying in %g s", interval_s)
        await asyncio.sleep(interval_s)
