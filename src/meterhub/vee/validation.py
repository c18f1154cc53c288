"""The validation step of the dirty-day pipeline (order 10).

For each dirty (meter, UTC day) it checks the site-local days that UTC day overlaps:
gathers the day's readings and context into a `rules.DayData`, runs every rule, and
brings the meter-day's findings in line with what the rules found now:

* a new finding is opened; one found again keeps its row (its detail is refreshed);
* an open finding the rules no longer find (the actual value arrived, a person edited
  the reading) is resolved with the note "no longer found", and reopened if it comes
  back; a finding a person resolved stays resolved;
* an accepted finding stays accepted, and its readings are not marked suspect again;
* readings a rule calls doubtful go from `actual` to `suspect` (never from edited).

Findings are deduplicated per (meter, rule, quantity, ts) or per (meter, rule,
quantity, day), so running a day twice changes nothing.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from meterhub.assets.history import occupied_throughout
from meterhub.assets.models import Meter, MeterInstallation
from meterhub.readings.models import Quality, Reading, ReadingConflict
from meterhub.vee import config, reread, rules, series, slots
from meterhub.vee.config import Thresholds
from meterhub.vee.models import Finding
from meterhub.vee.series import Point

log = logging.getLogger(__name__)
NO_LONGER_FOUND = "no longer found"


def local_days(utc_day: date, zone: ZoneInfo) -> set[date]:
    """The site-local days a UTC day overlaps (one or two)."""
    first = datetime.combine(utc_day, time.min, UTC)
    last = first + timedelta(days=1) - timedelta(microseconds=1)
    return {first.astimezone(zone).date(), last.astimezone(zone).date()}


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (datetime.combine(day, time.min, zone).astimezone(UTC),
            datetime.combine(day + timedelta(days=1), time.min, zone).astimezone(UTC))


def validate_days(meter_days: list[tuple[int, date]], now: datetime | None = None) -> None:
    now = now or timezone.now()
    utc_days: dict[int, list[date]] = defaultdict(list)
    for meter_id, day in meter_days:
        utc_days[meter_id].append(day)
    meters = Meter.objects.select_related("site").in_bulk(list(utc_days))
    thresholds = config.for_sites({m.site_id for m in meters.values()})
    plans = slots.interval_plans()
    for meter_id in sorted(meters):
        meter = meters[meter_id]
        zone = ZoneInfo(meter.site.time_zone)
        t = thresholds[meter.site_id]
        days = sorted(set().union(*(local_days(d, zone) for d in utc_days[meter_id])))
        for day in days:
            start, end = day_bounds(day, zone)
            if start > now and not Reading.objects.filter(meter_id=meter_id, ts__gte=start, ts__lt=end).exists():
                continue  # a local day that has not begun and holds no (future-stamped) readings
            data = load(meter, day, zone, now, t, plans)
            store(meter_id, day, rules.run_all(data, t), now)
            reread.ask_if_silent(meter, data, plans, t, now)
    reread.sweep_silent_meters(now)


def _points(rows) -> dict[str, list[Point]]:
    out: dict[str, list[Point]] = defaultdict(list)
    for quantity, ts, value, raw, multiplier, quality in rows:
        out[quantity].append(Point(ts, value, raw, multiplier, quality))
    return out


_FIELDS = ("quantity", "ts", "value", "raw_value", "multiplier", "quality")
BEFORE_REACH = timedelta(hours=2)  # the previous read of each register is usually within this


def load(meter: Meter, day: date, zone: ZoneInfo, now: datetime, t: Thresholds,
         plans: list[slots.IntervalPlan]) -> rules.DayData:
    start, end = day_bounds(day, zone)
    main = series.MAIN_REGISTER.get(meter.kind, "energy_import")
    rows = (Reading.objects.filter(meter_id=meter.pk, ts__gte=start - BEFORE_REACH, ts__lt=end)
            .order_by("quantity", "ts").values_list(*_FIELDS))
    day_series, before = {}, {}
    for quantity, points in _points(rows).items():
        cut = bisect.bisect_left([p.ts for p in points], start)
        if cut and quantity in series.CUMULATIVE:
            before[quantity] = points[cut - 1]
        if points[cut:]:
            day_series[quantity] = points[cut:]
    for quantity in day_series.keys() - before.keys():
        if quantity in series.CUMULATIVE:  # read less often than BEFORE_REACH: look further back
            prior = _last_read(meter.pk, quantity, start, inclusive=False, actual_only=False)
            if prior is not None:
                before[quantity] = prior
    installations = list(MeterInstallation.objects.filter(meter_id=meter.pk))
    resets = tuple(sorted({i.valid_from for i in installations} | {i.valid_to for i in installations if i.valid_to}))
    data = rules.DayData(meter.pk, meter.kind, day, start, end, now, day_series, before, resets=resets)
    data.expected_slots = _expected(meter, main, start, end, now, t, plans)
    # the main register at local midnights: each earlier day's use, and the zero-use window's start
    zero_back = t.zero_days - 1
    back = max(t.spike_history_days, zero_back)
    boundaries = [day_bounds(day - timedelta(days=k), zone)[0] for k in range(back, -1, -1)]
    at = _register_at(meter.pk, main, boundaries)
    data.history = [None if at[b0] is None or at[b0] == at[b1] else
                    series.consumption([at[b0], at[b1]], t.register_capacity, resets)
                    for b0, b1 in reversed(list(zip(boundaries, boundaries[1:], strict=False)))][:t.spike_history_days]
    window_start = boundaries[-1 - zero_back]
    data.zero_window_start = at[window_start]
    data.occupied_throughout = occupied_throughout(installations, window_start, min(end, now))
    data.conflicts = list(ReadingConflict.objects.filter(meter_id=meter.pk, ts__gte=start, ts__lt=end)
                          .values_list("quantity", "ts", "stored_value", "other_value").distinct())
    return data


def _last_read(meter_id: int, quantity: str, at: datetime, *, inclusive: bool, actual_only: bool) -> Point | None:
    rows = Reading.objects.filter(meter_id=meter_id, quantity=quantity)
    rows = rows.filter(ts__lte=at) if inclusive else rows.filter(ts__lt=at)
    if actual_only:
        rows = rows.exclude(quality=Quality.ESTIMATED)
    row = rows.order_by("-ts").values_list(*_FIELDS[1:]).first()
    return Point(*row) if row else None


def _register_at(meter_id: int, quantity: str, instants: list[datetime]) -> dict[datetime, Point | None]:
    """The last actual read at or before each instant: one query for the reads exactly on
    them (the usual case: plans read at midnight), then, for those without, one for the
    first actual read (nothing is before it: a meter read for days, not the weeks of spike
    history asked) and one lookup for each instant after it."""
    actual = Reading.objects.filter(meter_id=meter_id, quantity=quantity).exclude(quality=Quality.ESTIMATED)
    exact = {ts: Point(ts, v, raw, m, q) for ts, v, raw, m, q in
             actual.filter(ts__in=instants).values_list(*_FIELDS[1:])}
    if len(exact) == len(set(instants)):
        return exact
    first = actual.order_by("ts").values_list("ts", flat=True).first()
    return {at: exact.get(at) or (None if first is None or at < first else
                                  _last_read(meter_id, quantity, at, inclusive=True, actual_only=True))
            for at in instants}


def _expected(meter: Meter, main: str, start, end, now, t: Thresholds, plans) -> list[datetime]:
    """Plan slots in the day that are overdue by the grace time, from the meter's first read on."""
    if not meter.active or not meter.collector_id:
        return []
    first = Reading.objects.filter(meter_id=meter.pk, quantity=main).order_by("ts").values_list("ts", flat=True)[:1]
    if not first:
        return []
    due_by = now - timedelta(minutes=t.missing_grace_minutes) + timedelta(microseconds=1)
    return slots.slots(plans, meter.site_id, meter.kind, max(start, first[0]), min(end, due_by))


def store(meter_id: int, day: date, found: list[rules.Found], now: datetime) -> None:
    existing = {(f.rule, f.quantity, f.ts): f for f in Finding.objects.filter(meter_id=meter_id, day=day)}
    seen = set()
    suspect: dict[str, set[datetime]] = defaultdict(set)
    for f in found:
        key = (f.rule, f.quantity, f.ts)
        if key in seen:
            continue
        seen.add(key)
        detail = {**f.detail, "suspect": [ts.isoformat() for ts in f.suspect]} if f.suspect else f.detail
        row = existing.get(key)
        if row is None:
            Finding.objects.create(meter_id=meter_id, day=day, rule=f.rule, quantity=f.quantity, ts=f.ts,
                                   severity=f.severity, detail=detail)
        elif row.status == Finding.Status.RESOLVED and row.decided_by_id is None:  # it came back
            row.status, row.detail, row.decided_by, row.decided_at = Finding.Status.OPEN, detail, None, None
            row.note = _("found again")
            row.save()
        elif row.status == Finding.Status.OPEN and row.detail != detail:
            row.detail = detail
            row.save(update_fields=["detail", "updated_at"])
        if row is None or row.status != Finding.Status.ACCEPTED:
            suspect[f.quantity].update(f.suspect)
    for key, row in existing.items():
        if key not in seen and row.status == Finding.Status.OPEN:
            row.status, row.note, row.decided_at = Finding.Status.RESOLVED, NO_LONGER_FOUND, now
            row.save(update_fields=["status", "note", "decided_at", "updated_at"])
    for quantity, instants in suspect.items():
        if instants:
            Reading.objects.filter(meter_id=meter_id, quantity=quantity, ts__in=sorted(instants),
                                   quality=Quality.ACTUAL).update(quality=Quality.SUSPECT)
