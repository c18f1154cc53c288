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
from django.db.models import Min, Q
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
MARGIN = timedelta(days=2)  # read this much around a run of dirty days: the neighbours are usually inside


def bring_up_to_date(meter_days: list[tuple[int, date]]) -> None:
    """The registered step: `meter_days` are (meter_id, UTC day) marked by ingest."""
    by_meter: dict[int, list[date]] = defaultdict(list)
    for meter_id, day in meter_days:
        by_meter[meter_id].append(day)
    site_days: set[tuple[int, date]] = set()
    for meter in Meter.objects.filter(pk__in=by_meter).select_related("site").order_by("pk"):
        days = recompute_meter(meter, by_meter[meter.pk])
        site_days |= {(meter.site_id, d) for d in days}
    refresh_sites(site_days)


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
def recompute_meter(meter: Meter, utc_days: list[date]) -> set[date]:
    """Recompute the meter's days and months touched by changes on `utc_days`; returns the local days."""
    Meter.objects.select_for_update().filter(pk=meter.pk).exists()  # one node at a time per meter
    tz = ZoneInfo(meter.site.time_zone)
    installs = list(MeterInstallation.objects.filter(meter=meter).order_by("valid_from")
                    .values_list("valid_from", "valid_to", "premise__building_id"))
    service = service_period(installs)
    quantities = registers_of(meter.kind)
    touched: set[date] = set()
    for a, b in utc_runs(utc_days):
        # One query for every register around the run; exact look-ups only across long gaps.
        lo, hi = a - MARGIN, b + MARGIN
        window: dict[str, list[Read]] = defaultdict(list)
        for r in _reads(meter.pk, quantities).filter(ts__gte=lo, ts__lte=hi).order_by("quantity", "ts") \
                .values("quantity", *READ_FIELDS):
            window[r["quantity"]].append(_read(r))
        later = dict(_reads(meter.pk, [q for q in quantities if not window[q] or window[q][-1].ts < b])
                     .filter(ts__gt=hi).order_by().values("quantity").annotate(ts=Min("ts"))
                     .values_list("quantity", "ts"))  # usually none: live data ends inside the window
        replaced, rows = Q(pk__in=[]), []
        for quantity in quantities:
            first, last, reads = _span(meter.pk, quantity, window[quantity], a, b, lo, hi, tz,
                                       later_read=quantity in later)
            replaced |= Q(quantity=quantity, day__gte=first, day__lte=last)
            rows += [_meter_day(meter, quantity, d, tz, installs) for d in
                     daily_consumption(reads, tz, first, last, service)]
            touched |= {first + timedelta(days=n) for n in range((last - first).days + 1)}
        MeterDay.objects.filter(replaced, meter=meter).delete()
        MeterDay.objects.bulk_create(rows)
    refresh_meter_months(meter, {d.replace(day=1) for d in touched})
    return touched


def service_period(installs) -> tuple[datetime | None, datetime | None]:
    """From the first installation to the last removal (None: still installed, or never recorded)."""
    if not installs:
        return None, None
    ends = [to for _from, to, _b in installs]
    return installs[0][0], (None if None in ends else max(ends))


def building_on(installs, d0: datetime, d1: datetime) -> int | None:
    overlapping = [b for start, end, b in installs if start < d1 and (end is None or end > d0)]
    return overlapping[-1] if overlapping else None


def _reads(meter_id: int, quantities):
    return Reading.objects.filter(meter_id=meter_id, quantity__in=quantities).exclude(quality="suspect")


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


def refresh_meter_months(meter: Meter, months: set[date]) -> None:
    for month in sorted(months):
        rows = MeterDay.objects.filter(meter=meter, day__gte=month, day__lte=month_end(month)).order_by("day")
        figures: dict[str, MeterMonth] = {}
        shares: dict[str, list[float]] = defaultdict(list)
        for row in rows:
            m = figures.setdefault(row.quantity, MeterMonth(
                meter=meter, quantity=row.quantity, month=month, site_id=row.site_id, kind=row.kind,
                consumption=Decimal(0), unit=row.unit, complete=True))
            m.consumption += row.consumption
            m.days += 1
            m.complete_days += row.complete
            m.building_id = row.building_id  # where it served last in the month
            m.rollover |= row.rollover
            m.backwards |= row.backwards
            m.exchange |= row.exchange
            shares[row.quantity].append(row.estimated_share)
        for quantity, m in figures.items():
            m.complete = m.complete_days == (month_end(month) - month).days + 1
            m.estimated_share = round(sum(shares[quantity]) / len(shares[quantity]), 4)
        MeterMonth.objects.filter(meter=meter, month=month).delete()
        MeterMonth.objects.bulk_create(figures.values())


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
