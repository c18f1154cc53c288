"""The processing step (order 50) that keeps the aggregates current as readings arrive.

For each meter it recomputes exactly the local days whose figures the changed readings
can move: the local days overlapping the dirty UTC days, widened to the days of the
neighbouring reads on either side (a read landing in a gap changes the interpolated
midnights all across that gap). The rows of those days are replaced, so the step is
idempotent and late or re-delivered data converge on the same rows. Then the months of
those days (from the day rows), the building and site totals of the site-days (from the
day rows) and their months, and the site-days' collection statistics.
"""

from __future__ import annotations

import logging
from bisect import bisect_left, bisect_right
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from meterhub.aggregates import collection
from meterhub.aggregates.consumption import Read, daily_consumption, local_day, local_midnight
from meterhub.aggregates.models import MasterMeter, MeterDay, MeterMonth, TotalDay, TotalMonth
from meterhub.aggregates.quantities import MAIN, registers_of
from meterhub.aggregates.totals import totals
from meterhub.assets.models import Meter, MeterInstallation, Site
from meterhub.comms.models import LinkEvent
from meterhub.readings.models import Reading

log = logging.getLogger(__name__)
ONE_DAY = timedelta(days=1)
READ_FIELDS = ("ts", "value", "raw_value", "multiplier", "quality", "unit")
CHUNK = 100  # meters read in one query
MARGIN = timedelta(hours=1)  # neighbouring reads of scheduled reading are usually this close


def bring_up_to_date(meter_days: list[tuple[int, date]]) -> None:
    """The registered step: `meter_days` are (meter_id, UTC day) marked by ingest."""
    by_meter: dict[int, list[date]] = defaultdict(list)
    for meter_id, day in meter_days:
        by_meter[meter_id].append(day)
    touched = recompute_meters(by_meter)
    refresh_sites({(meter.site_id, d) for meter, days in touched.items() for d in days})


def refresh_sites(site_days: set[tuple[int, date]]) -> None:
    sites = Site.objects.in_bulk({s for s, _d in site_days})
    for site_id, day in sorted(site_days):
        refresh_total_day(sites[site_id], day)
    for site_id, month in sorted({(s, d.replace(day=1)) for s, d in site_days}):
        refresh_total_month(sites[site_id], month)
    now = timezone.now()
    for site_id, day in sorted(site_days):
        site = sites[site_id]
        if local_midnight(day, ZoneInfo(site.time_zone)) <= now:  # a day not begun has no collection yet
            collection.refresh(site, day)


def utc_runs(days: list[date]) -> list[tuple[datetime, datetime]]:
    """Contiguous UTC days as [start, end) instants."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and day == runs[-1][1] + ONE_DAY:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(datetime.combine(a, time(0), UTC), datetime.combine(b + ONE_DAY, time(0), UTC)) for a, b in runs]


@transaction.atomic
def recompute_meters(utc_days_by_meter: dict[int, list[date]]) -> dict[Meter, set[date]]:
    """Recompute the days and months that changes on the given UTC days can move, for many
    meters at once: meters with the same dirty days, zone and registers are read together,
    CHUNK at a time, so a batch costs a handful of queries, not a handful per meter.
    Returns each meter's local days recomputed."""
    ids = sorted(utc_days_by_meter)
    # One node at a time per meter; locked in id order so two nodes cannot deadlock.
    list(Meter.objects.select_for_update().filter(pk__in=ids).order_by("pk").values_list("pk", flat=True))
    meters = Meter.objects.select_related("site").in_bulk(ids)
    installs: dict[int, list] = defaultdict(list)
    for meter_id, *row in MeterInstallation.objects.filter(meter_id__in=ids).order_by("valid_from") \
            .values_list("meter_id", "valid_from", "valid_to", "premise__building_id"):
        installs[meter_id].append(tuple(row))
    groups: dict[tuple, list[Meter]] = defaultdict(list)
    for meter_id in ids:
        if (meter := meters.get(meter_id)) and registers_of(meter.kind):
            runs = tuple(utc_runs(utc_days_by_meter[meter_id]))
            groups[(runs, meter.site.time_zone, meter.kind)].append(meter)
    touched: dict[Meter, set[date]] = defaultdict(set)
    for (runs, zone, kind), members in groups.items():
        for start in range(0, len(members), CHUNK):
            for a, b in runs:
                _recompute_run(members[start:start + CHUNK], registers_of(kind), a, b, ZoneInfo(zone), installs,
                               touched)
    refresh_meter_months(touched)
    return touched


def _recompute_run(meters: list[Meter], quantities, a: datetime, b: datetime, tz: ZoneInfo, installs,
                   touched: dict[Meter, set[date]]) -> None:
    # One query for every register of the meters over the local days the run overlaps, plus
    # a margin for the neighbouring reads; exact look-ups only when a neighbour lies further out.
    ids = [m.pk for m in meters]
    lo = local_midnight(local_day(a - MARGIN, tz), tz) - MARGIN
    hi = local_midnight(local_day(b + MARGIN, tz) + ONE_DAY, tz) + MARGIN
    window: dict[tuple[int, str], list[Read]] = defaultdict(list)
    for r in _reads(ids, quantities).filter(ts__gte=lo, ts__lte=hi).order_by("meter_id", "quantity", "ts") \
            .values("meter_id", "quantity", *READ_FIELDS):
        window[(r["meter_id"], r["quantity"])].append(_read(r))
    later = set(_reads(ids, quantities).filter(ts__gt=hi).order_by().values_list("meter_id", "quantity")
                .distinct())  # usually none: live data ends inside the window
    spans: dict[tuple[str, date, date], list[int]] = defaultdict(list)
    rows = []
    for meter in meters:
        service = service_period(installs[meter.pk])
        for quantity in quantities:
            first, last, reads = _span(meter.pk, quantity, window[(meter.pk, quantity)], a, b, lo, hi, tz,
                                       later_read=(meter.pk, quantity) in later)
            spans[(quantity, first, last)].append(meter.pk)
            rows += [_meter_day(meter, quantity, d, tz, installs[meter.pk]) for d in
                     daily_consumption(reads, tz, first, last, service)]
            touched[meter] |= {first + timedelta(days=n) for n in range((last - first).days + 1)}
    for (quantity, first, last), meter_ids in spans.items():
        MeterDay.objects.filter(meter_id__in=meter_ids, quantity=quantity, day__gte=first, day__lte=last).delete()
    MeterDay.objects.bulk_create(rows, batch_size=1000)


def service_period(installs) -> tuple[datetime | None, datetime | None]:
    """From the first installation to the last removal (None: still installed, or never recorded)."""
    if not installs:
        return None, None
    ends = [to for _from, to, _b in installs]
    return installs[0][0], (None if None in ends else max(ends))


def building_on(installs, d0: datetime, d1: datetime) -> int | None:
    overlapping = [b for start, end, b in installs if start < d1 and (end is None or end > d0)]
    return overlapping[-1] if overlapping else None


def _reads(meter_ids: int | list[int], quantities):
    meters = {"meter_id__in": meter_ids} if isinstance(meter_ids, list) else {"meter_id": meter_ids}
    return Reading.objects.filter(**meters, quantity__in=quantities).exclude(quality="suspect")


def _read(r: dict) -> Read:
    return Read(r["ts"], r["value"], r["raw_value"], r["multiplier"], r["quality"], r["unit"])


def _last_before(meter_id: int, quantity: str, moment: datetime) -> Read | None:
    r = _reads(meter_id, [quantity]).filter(ts__lt=moment).order_by("-ts").values(*READ_FIELDS).first()
    return r and _read(r)


def _first_after(meter_id: int, quantity: str, moment: datetime) -> Read | None:
    r = _reads(meter_id, [quantity]).filter(ts__gt=moment).order_by("ts").values(*READ_FIELDS).first()
    return r and _read(r)


def _span(meter_id: int, quantity: str, window: list[Read], a: datetime, b: datetime, lo: datetime,
          hi: datetime, tz: ZoneInfo, later_read: bool = True) -> tuple[date, date, list[Read]]:
    """The local days a change in [a, b) can move -- from the day of the read before it to the
    day of the read after it -- and the reads that decide them (with one neighbour each side).
    `window` holds the register's reads in [lo, hi]; `later_read` says whether any lies after hi."""
    times = [r.ts for r in window]
    i, j = bisect_left(times, a), bisect_left(times, b)
    before = window[i - 1] if i > 0 else _last_before(meter_id, quantity, lo)
    after = window[j] if j < len(window) else (_first_after(meter_id, quantity, hi) if later_read else None)
    first = local_day(before.ts if before else a, tz)
    last = local_day((after.ts if after else b) - timedelta(microseconds=1), tz)  # a read at midnight starts the next day
    d0, d1 = local_midnight(first, tz), local_midnight(last + ONE_DAY, tz)
    if d0 < lo or d1 > hi:  # a long gap: read the whole span
        rows = _reads(meter_id, [quantity]).filter(ts__gte=d0, ts__lte=d1).order_by("ts").values(*READ_FIELDS)
        inside = [_read(r) for r in rows]
        k0, k1, window = 0, len(inside), inside
    else:
        k0, k1 = bisect_left(times, d0), bisect_right(times, d1)
    prefix = window[k0 - 1:k0] if k0 > 0 else ([] if before is None else [_last_before(meter_id, quantity, d0)])
    suffix = window[k1:k1 + 1] if k1 < len(window) else ([] if after is None else [_first_after(meter_id, quantity, d1)])
    return first, last, [r for r in prefix + window[k0:k1] + suffix if r is not None]


def _meter_day(meter: Meter, quantity: str, d, tz: ZoneInfo, installs) -> MeterDay:
    return MeterDay(
        meter=meter, quantity=quantity, day=d.day, site_id=meter.site_id, kind=meter.kind,
        building_id=building_on(installs, local_midnight(d.day, tz), local_midnight(d.day + ONE_DAY, tz)),
        start_value=d.start, end_value=d.end, consumption=d.consumption, unit=d.unit,
        complete=d.complete, estimated_share=d.estimated_share, rollover=d.rollover, backwards=d.backwards,
        exchange=d.exchange, reads=d.reads, actual_reads=d.actual_reads, by_hour=d.by_hour)


def month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - ONE_DAY


def refresh_meter_months(months_of: dict[Meter, set[date]]) -> None:
    """Each meter's months containing the given days, from its day rows, CHUNK meters at a time."""
    meters = sorted(months_of, key=lambda m: m.pk)
    for start in range(0, len(meters), CHUNK):
        chunk = meters[start:start + CHUNK]
        months = sorted({d.replace(day=1) for m in chunk for d in months_of[m]})
        if not months:
            continue
        by_meter = {m.pk: m for m in chunk}
        figures: dict[tuple[int, str, date], MeterMonth] = {}
        shares: dict[tuple[int, str, date], list[float]] = defaultdict(list)
        for row in MeterDay.objects.filter(meter_id__in=by_meter, day__gte=months[0],
                                           day__lte=month_end(months[-1])).order_by("day"):
            key = (row.meter_id, row.quantity, row.day.replace(day=1))
            if key[2] not in months:
                continue
            m = figures.setdefault(key, MeterMonth(
                meter=by_meter[row.meter_id], quantity=row.quantity, month=key[2], site_id=row.site_id,
                kind=row.kind, consumption=Decimal(0), unit=row.unit))
            m.consumption += row.consumption
            m.days += 1
            m.complete_days += row.complete
            m.building_id = row.building_id  # where it served last in the month
            m.rollover |= row.rollover
            m.backwards |= row.backwards
            m.exchange |= row.exchange
            shares[key].append(row.estimated_share)
        for key, m in figures.items():
            m.complete = m.complete_days == (month_end(m.month) - m.month).days + 1
            m.estimated_share = round(sum(shares[key]) / len(shares[key]), 4)
        MeterMonth.objects.filter(meter_id__in=by_meter, month__in=months).delete()
        MeterMonth.objects.bulk_create(figures.values(), batch_size=1000)


def masters_of(site: Site) -> dict[int, int | None]:
    return dict(MasterMeter.objects.filter(site=site).values_list("meter_id", "building_id"))


@transaction.atomic
def refresh_total_day(site: Site, day: date) -> None:
    Site.objects.select_for_update().filter(pk=site.pk).exists()  # one node at a time per site
    rows = MeterDay.objects.filter(site=site, day=day, quantity__in=MAIN.values()).values(
        "meter_id", "building_id", "kind", "consumption", "complete", "unit", "by_hour")
    TotalDay.objects.filter(site=site, day=day).delete()
    TotalDay.objects.bulk_create(TotalDay(site=site, day=day, **vars(f)) for f in totals(rows, masters_of(site)))


@transaction.atomic
def refresh_total_month(site: Site, month: date) -> None:
    Site.objects.select_for_update().filter(pk=site.pk).exists()
    rows = MeterMonth.objects.filter(site=site, month=month, quantity__in=MAIN.values()).values(
        "meter_id", "building_id", "kind", "consumption", "complete", "unit")
    TotalMonth.objects.filter(site=site, month=month).delete()
    TotalMonth.objects.bulk_create(
        TotalMonth(site=site, month=month, **{k: v for k, v in vars(f).items() if k != "by_hour"})
        for f in totals(rows, masters_of(site)))


def link_changed(sender, instance, **kwargs) -> None:
    """A collector went on- or offline (a LinkEvent, or the BusLink state the head-end keeps
    beside its bulk-written events): its site's collection figures for that day may change."""
    collector_id = instance.collector_id
    at = instance.at if isinstance(instance, LinkEvent) else instance.last_seen
    if collector_id is None:
        return

    def refresh():
        try:
            site = Site.objects.get(collectors=collector_id)
            collection.refresh(site, local_day(at, ZoneInfo(site.time_zone)))
        except Exception:  # the link change is recorded whatever happens here
            log.exception("collection figures not refreshed after a link change of collector %s", collector_id)

    transaction.on_commit(refresh)
