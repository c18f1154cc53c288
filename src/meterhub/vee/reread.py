"""Gaps ask the head-end for a re-read, once per gap.

What a re-read can honestly get: the head-end reads a meter's *live* registers (the
read-plan items, or the `read_now` command); it does not read the meters' stored load
profile or frozen records. So a past slot that was missed cannot be fetched again. What a
re-read does give is a fresh actual reading *now*: for a meter that has been silent since
its last read (an open gap), that reading is the far end the estimator needs to fill the
gap, and it tells whether the meter answers at all. A gap that already has actual reads
on both sides gains nothing from a re-read, so it gets none.

So: when validation finds expected slots missing after the meter's last actual read, and
the first of them is within `reread_window_hours`, one `read_now` command is queued
through the command queue (comms.commands), recorded as a `ReReadRequest` keyed by
(meter, first missing slot): however often the day is validated, the gap asks once. The
head-end stores what a read_now reads as an on-demand reading.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from meterhub.comms.commands import request_command
from meterhub.comms.models import Command, MeterCommStatus
from meterhub.readings.models import DirtyDay, Quality, Reading
from meterhub.vee import series, slots
from meterhub.vee.config import Thresholds
from meterhub.vee.models import ReReadRequest

log = logging.getLogger(__name__)
REQUESTED_BY = "vee"
SWEEP_EVERY_S = 15 * 60
_last_sweep = 0.0


def open_gap_start(meter, plans, t: Thresholds, now: datetime) -> datetime | None:
    """The first plan slot after the meter's last actual read, if it is overdue (else None)."""
    main = series.MAIN_REGISTER.get(meter.kind, "energy_import")
    last = (Reading.objects.filter(meter_id=meter.pk, quantity=main).exclude(quality=Quality.ESTIMATED)
            .order_by("-ts").values_list("ts", flat=True)[:1])
    if not last:
        return None
    due_by = now - timedelta(minutes=t.missing_grace_minutes)
    upcoming = slots.slots(plans, meter.site_id, meter.kind, last[0] + timedelta(microseconds=1),
                           due_by + timedelta(microseconds=1))
    return upcoming[0] if upcoming else None


def ask_if_silent(meter, data, plans, t: Thresholds, now: datetime) -> ReReadRequest | None:
    """Queue a re-read if this day's missing slots belong to a gap that is still open."""
    have = {p.ts for p in data.series.get(data.main, []) if not p.estimated}
    if all(slot in have for slot in data.expected_slots):
        return None
    gap = open_gap_start(meter, plans, t, now)
    if gap is None or gap < now - timedelta(hours=t.reread_window_hours):
        return None
    return request_reread(meter, gap)


def request_reread(meter, gap_start: datetime) -> ReReadRequest | None:
    """One read_now per (meter, gap); None if this gap already asked."""
    if ReReadRequest.objects.filter(meter=meter, gap_start=gap_start).exists():
        return None
    try:
        with transaction.atomic():
            request = ReReadRequest.objects.create(meter=meter, gap_start=gap_start)
    except IntegrityError:
        return None  # another head-end asked at the same moment
    try:
        with transaction.atomic():
            request.command = request_command(
                meter, Command.Kind.READ_NOW, requested_by=REQUESTED_BY, valid_for=timedelta(hours=1),
                reason=f"re-read: readings missing since {gap_start.isoformat()}")
    except ValidationError as exc:
        request.error = " ".join(exc.messages)[:200]
    request.save(update_fields=["command", "error"])
    return request


def sweep_silent_meters(now: datetime | None = None, force: bool = False) -> int:
    """Mark today dirty for meters the head-end has not read for a while, so validation
    looks at them (a silent meter writes no readings, so nothing else would). At most
    every SWEEP_EVERY_S per process. Returns how many meter-days were marked."""
    global _last_sweep
    if not force and time.monotonic() - _last_sweep < SWEEP_EVERY_S:
        return 0
    _last_sweep = time.monotonic()
    now = now or timezone.now()
    silent = (MeterCommStatus.objects.filter(last_success__lt=now - timedelta(minutes=30), meter__active=True,
                                             meter__collector__isnull=False)
              .order_by("meter_id").values_list("meter_id", flat=True))
    # A mark already there is left as it is: it brings the meter round all the same. It may
    # be claimed by another node's processing, whose sweep meets ours; rewriting it would
    # wait on that node while it waits on us (a deadlock). In meter order, so two sweeps
    # adding the same new marks queue rather than cross.
    marks = [DirtyDay(meter_id=m, day=now.date()) for m in silent]
    DirtyDay.objects.bulk_create(marks, ignore_conflicts=True)
    return len(marks)
