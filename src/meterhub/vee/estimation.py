"""The estimation step of the dirty-day pipeline (order 20), and the arithmetic it uses.

A gap is a run of read-plan slots of a cumulative register with no actual value, between
two actual (or edited) reads: the anchors. Estimates are written through
`readings.ingest.store_readings` with quality `estimated`, so an actual value that
arrives later replaces them, and an estimate never replaces anything else.

* Short gaps (<= `interpolation_max_slots` slots): a straight line between the anchors,
  proportional to time.
* Longer gaps (up to `estimation_max_hours`): the proxy-day profile. The same stretch of
  time on the same weekday in each of the last `profile_weeks` weeks gives the shape (how
  the use was spread over the slots), scaled so the estimate runs exactly from one anchor
  to the other. No usable proxy week (missing data, or no use at all): a straight line.
* Never past the last actual read: a gap with no actual read after it is left empty
  (re-reads ask the meter for that far end, see reread.py).
* A gap next to a suspect read, across a meter installation/removal, a register going
  backwards or a change of CT/PT multiplier is left empty for a person to judge.

Estimates stay between the anchors and never go down (property-tested): an estimated
register is always a register that could have been read. A register that rolled over in
the gap is estimated in unwrapped units and wrapped again.

The step only writes slots whose estimate differs from what is stored, so a day it has
estimated comes round once more (ingest marks it) and then settles.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from django.utils import timezone

from meterhub.assets.models import Meter, MeterInstallation
from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import Quality, Reading, Source
from meterhub.vee import config, series, slots
from meterhub.vee.config import Thresholds

PLACES = Decimal("0.000001")  # the readings table keeps 6 decimal places
_ZERO = Decimal(0)


# --- arithmetic (pure) ----------------------------------------------------------------------

def shape_fill(v0: Decimal, v1: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """The values at the inner points of a gap from v0 to v1: `weights` (>= 0) are the
    parts of the gap, one more than the inner points; each inner value rises from v0 in
    proportion to the weights before it. All weights zero: equal steps."""
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    total = sum(weights, _ZERO)
    if total == 0:
        weights, total = [Decimal(1)] * len(weights), Decimal(len(weights))
    out, running = [], _ZERO
    for w in weights[:-1]:
        running += w
        value = (v0 + (v1 - v0) * running / total).quantize(PLACES, ROUND_HALF_EVEN)
        out.append(min(max(value, min(v0, v1)), max(v0, v1)))
    return out


def time_weights(times: list[datetime]) -> list[Decimal]:
    """Linear interpolation's weights: the length of each part of the gap."""
    return [Decimal(int((b - a).total_seconds() * 1_000_000)) for a, b in zip(times, times[1:], strict=False)]


def value_at(points: list[tuple[datetime, Decimal]], at: datetime, reach: timedelta) -> Decimal | None:
    """A register's value at `at` from reads around it (exact, or between two reads no
    more than `reach` apart); None when there is no such read."""
    times = [ts for ts, _v in points]
    i = bisect.bisect_left(times, at)
    if i < len(points) and times[i] == at:
        return points[i][1]
    if i == 0 or i == len(points):
        return None
    (t0, v0), (t1, v1) = points[i - 1], points[i]
    if t1 - t0 > reach or v1 < v0:
        return None
    return v0 + (v1 - v0) * Decimal((at - t0).total_seconds()) / Decimal((t1 - t0).total_seconds())


def proxy_weights(times: list[datetime], weeks: list[list[tuple[datetime, Decimal]]],
                  reach: timedelta) -> list[Decimal] | None:
    """The use over each part of the gap on proxy days (the same times 1, 2, ... weeks
    earlier, `weeks[k - 1]` their reads), summed over the usable weeks; None if none is usable."""
    total = None
    for k, points in enumerate(weeks, start=1):
        shift = timedelta(days=7 * k)
        values = [value_at(points, at - shift, reach) for at in times]
        if None in values:
            continue
        parts = [b - a for a, b in zip(values, values[1:], strict=False)]
        if any(p < 0 for p in parts):
            continue  # the register went down (rollover, fault): not a shape to copy
        total = parts if total is None else [x + y for x, y in zip(total, parts, strict=True)]
    if total is None or sum(total, _ZERO) == 0:
        return None
    return total


@dataclass(frozen=True)
class Anchor:
    ts: datetime
    raw: Decimal
    multiplier: Decimal
    quality: str
    unit: str


def estimate_gap(a: Anchor, b: Anchor, gap_slots: list[datetime], t: Thresholds,
                 proxy_weeks: list[list[tuple[datetime, Decimal]]] | None = None) -> tuple[str, list[Decimal]]:
    """(method, register values for `gap_slots`) between anchors a and b. A proxy week's
    value between its reads is interpolated only across one slot interval, not a hole."""
    v1 = b.raw
    if b.raw < a.raw:
        if not series.is_rollover(a.raw, b.raw, t.register_capacity):
            raise ValueError("the register went backwards across the gap")
        v1 = b.raw + t.register_capacity
    times = [a.ts, *gap_slots, b.ts]
    weights, method = None, "linear"
    if len(gap_slots) > t.interpolation_max_slots and proxy_weeks:
        reach = max(y - x for x, y in zip(gap_slots, gap_slots[1:], strict=False))
        weights = proxy_weights(times, proxy_weeks, reach)
        method = "profile" if weights else "linear"
    values = shape_fill(a.raw, v1, weights or time_weights(times))
    return method, [v - t.register_capacity if v >= t.register_capacity else v for v in values]


# --- the pipeline step ----------------------------------------------------------------------

def estimate_days(meter_days: list[tuple[int, date]], now: datetime | None = None) -> int:
    """Fill the gaps touching these meter-days; returns how many estimates were written."""
    now = now or timezone.now()
    by_meter: dict[int, list[date]] = defaultdict(list)
    for meter_id, day in meter_days:
        by_meter[meter_id].append(day)
    meters = Meter.objects.in_bulk(list(by_meter))
    thresholds = config.for_sites({m.site_id for m in meters.values()})
    plans = slots.interval_plans()
    records = []
    for meter_id in sorted(meters):
        meter = meters[meter_id]
        resets = _resets(meter_id)
        filled: set = set()  # a gap across midnight touches both days: filled once
        for day in sorted(set(by_meter[meter_id])):
            records += _estimate_day(meter, day, thresholds[meter.site_id], plans, resets, now, filled)
    if records:
        store_readings(records)
    return len(records)


def _resets(meter_id: int) -> list[datetime]:
    rows = MeterInstallation.objects.filter(meter_id=meter_id).values_list("valid_from", "valid_to")
    return sorted({at for pair in rows for at in pair if at is not None})


WINDOW = timedelta(hours=2)  # reads around the day loaded at once; anchors further away are looked up


def _estimate_day(meter: Meter, day: date, t: Thresholds, plans, resets, now, filled: set) -> list[ReadingRecord]:
    """Estimates for the gaps touching a UTC day, each gap whole; `filled` holds the gaps
    (quantity, first anchor, last anchor) already filled for the meter's other days."""
    start = datetime.combine(day, time.min, UTC)
    end = min(start + timedelta(days=1), now)
    expected = slots.slots(plans, meter.site_id, meter.kind, start, end)
    if not expected:
        return []
    window: dict[str, list[tuple]] = defaultdict(list)
    for quantity, *row in (Reading.objects.filter(meter_id=meter.pk, ts__gte=start - WINDOW, ts__lt=end + WINDOW)
                           .order_by("quantity", "ts").values_list("quantity", *_ANCHOR_FIELDS)):
        if quantity in series.CUMULATIVE:
            window[quantity].append(Anchor(*row))
    records = []
    for quantity, rows in sorted(window.items()):
        have = {r.ts: r.quality for r in rows}
        if not any(have.get(s, Quality.ESTIMATED) == Quality.ESTIMATED for s in expected):
            continue  # the usual day: every slot read
        known = [r for r in rows if r.quality != Quality.ESTIMATED]
        times = [r.ts for r in known]
        covered_until = None
        for slot in expected:
            if have.get(slot, Quality.ESTIMATED) != Quality.ESTIMATED:
                continue
            if covered_until is not None and slot < covered_until:
                continue
            i = bisect.bisect_left(times, slot)
            a = known[i - 1] if i > 0 else _anchor(meter.pk, quantity, slot, before=True)
            b = known[i] if i < len(known) else _anchor(meter.pk, quantity, slot, before=False)
            if b is None:
                break  # never past the last actual read
            covered_until = b.ts
            gap = (quantity, a.ts if a else None, b.ts)
            if gap in filled:
                continue
            filled.add(gap)
            estimates = {r.ts: r.raw for r in rows if r.quality == Quality.ESTIMATED}
            if a is None or a.ts < start - WINDOW or b.ts >= end + WINDOW:
                estimates = None  # the gap reaches past the loaded reads
            records += _fill(meter, quantity, a, b, t, plans, resets, estimates)
    return records


_ANCHOR_FIELDS = ("ts", "raw_value", "multiplier", "quality", "unit")


def _anchor(meter_id: int, quantity: str, at: datetime, *, before: bool) -> Anchor | None:
    rows = Reading.objects.filter(meter_id=meter_id, quantity=quantity).exclude(quality=Quality.ESTIMATED)
    rows = rows.filter(ts__lt=at).order_by("-ts") if before else rows.filter(ts__gt=at).order_by("ts")
    row = rows.values_list(*_ANCHOR_FIELDS).first()
    return Anchor(*row) if row else None


def _fill(meter, quantity: str, a: Anchor | None, b: Anchor, t: Thresholds, plans, resets,
          estimates: dict | None = None) -> list[ReadingRecord]:
    """Estimates for the slots between a and b that differ from what is stored
    (`estimates`: the stored ones, when the caller has them already)."""
    if a is None or Quality.SUSPECT in (a.quality, b.quality) or a.multiplier != b.multiplier:
        return []
    if b.ts - a.ts > timedelta(hours=t.estimation_max_hours) or any(a.ts < r <= b.ts for r in resets):
        return []
    if b.raw < a.raw and not series.is_rollover(a.raw, b.raw, t.register_capacity):
        return []
    gap_slots = slots.slots(plans, meter.site_id, meter.kind, a.ts + timedelta(microseconds=1), b.ts)
    if not gap_slots:
        return []
    proxies = None
    if len(gap_slots) > t.interpolation_max_slots:
        proxies = [_proxy_points(meter.pk, quantity, a.ts, b.ts, k) for k in range(1, t.profile_weeks + 1)]
    _method, values = estimate_gap(a, b, gap_slots, t, proxies)
    if estimates is None:
        estimates = dict(Reading.objects.filter(meter_id=meter.pk, quantity=quantity, ts__gt=a.ts, ts__lt=b.ts,
                                                quality=Quality.ESTIMATED).values_list("ts", "raw_value"))
    return [ReadingRecord(meter.pk, quantity, ts, value, b.multiplier, b.unit, Source.SCHEDULED, Quality.ESTIMATED)
            for ts, value in zip(gap_slots, values, strict=True) if estimates.get(ts) != value]


def _proxy_points(meter_id: int, quantity: str, start: datetime, end: datetime, weeks_back: int):
    shift = timedelta(days=7 * weeks_back)
    return list(Reading.objects.filter(meter_id=meter_id, quantity=quantity, ts__gte=start - shift - timedelta(hours=2),
                                       ts__lte=end - shift + timedelta(hours=2))
                .exclude(quality__in=[Quality.ESTIMATED, Quality.SUSPECT]).order_by("ts").values_list("ts", "raw_value"))
