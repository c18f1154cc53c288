"""Abnormal consumption: a day's use dropped to near zero on an occupied premise (a bypass,
a stopped or tampered register, a meter moved to a dead circuit).

A processing step after aggregation (order 75): for each meter in the batch, its latest
complete day of the main register (aggregates' MeterDay) is compared with the median of
the comparable days before it. `judge` decides and is pure; the step only loads days,
asks whether a customer held the premise, and raises or clears.

A day that cannot be judged decides nothing (it neither raises nor clears): a day not
complete (a collection gap, or not over yet), one with no actual read, one resting mostly
on estimates, the day the meter was exchanged or its register went backwards, or one with
too few comparable days before it. A low day raises `consumption_drop` at the day's end
when a customer held the premise all day; a normal day, or a vacant premise, clears it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import median
from zoneinfo import ZoneInfo

from django.db.models import Max, Q

from meterhub.aggregates.consumption import local_midnight
from meterhub.aggregates.models import MeterDay
from meterhub.aggregates.quantities import MAIN
from meterhub.alarms.models import AlarmSettings
from meterhub.alarms.services import raise_alarm, resolve
from meterhub.assets.history import occupied_throughout
from meterhub.assets.models import Meter, MeterInstallation, MeterKind

KIND = "consumption_drop"
MAX_ESTIMATED = 0.25  # a day resting more on estimates than this says little about real use
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Day:
    day: date
    consumption: Decimal
    complete: bool = True
    actual_reads: int = 1
    estimated_share: float = 0.0
    exchange: bool = False
    backwards: bool = False

    @property
    def comparable(self) -> bool:
        return (self.complete and self.actual_reads > 0 and self.estimated_share <= MAX_ESTIMATED
                and not self.exchange and not self.backwards)


@dataclass(frozen=True)
class Limits:
    percent: int  # a day below this share of the usual day is low
    baseline_days: int  # the usual day: the median of this many days before
    min_baseline: Decimal  # a premise whose usual day is below this cannot drop noticeably

    @property
    def min_days(self) -> int:
        """Comparable days needed in the window: at least half of it."""
        return (self.baseline_days + 1) // 2

    @classmethod
    def of(cls, settings: AlarmSettings, kind: str) -> Limits:
        floor = settings.drop_min_kwh if kind == MeterKind.ELECTRICITY else settings.drop_min_m3
        return cls(settings.drop_pct, settings.drop_baseline_days, floor)


@dataclass(frozen=True)
class Verdict:
    low: bool
    day: date
    consumption: Decimal
    baseline: Decimal
    days_compared: int

    def detail(self, unit: str) -> dict:
        share = self.consumption / self.baseline * 100 if self.baseline else Decimal(0)
        return {"day": self.day.isoformat(), "consumption": str(self.consumption), "baseline": str(self.baseline),
                "percent": str(round(share, 1)), "days_compared": self.days_compared, "unit": unit}


def judge(day: Day, before: Sequence[Day], limits: Limits) -> Verdict | None:
    """Is `day` low against the median of the comparable days in the `baseline_days` before
    it? None when it cannot be told (see the module's docstring)."""
    if not day.comparable:
        return None
    first = day.day - timedelta(days=limits.baseline_days)
    window = [d.consumption for d in before if first <= d.day < day.day and d.comparable]
    if len(window) < limits.min_days:
        return None
    baseline = median(window)
    low = baseline >= limits.min_baseline and day.consumption * 100 < baseline * limits.percent
    return Verdict(low, day.day, day.consumption, baseline, len(window))


def _day(row: MeterDay) -> Day:
    return Day(row.day, row.consumption, row.complete, row.actual_reads, row.estimated_share, row.exchange,
               row.backwards)


def evaluate_days(meter_days) -> None:
    """The registered step: judge each batch meter's latest complete day (a few queries per
    batch, whatever its size; the premise's occupancy only for a low day)."""
    meters = Meter.objects.select_related("site").filter(kind__in=list(MAIN)).in_bulk(
        sorted({meter_id for meter_id, _day in meter_days}))
    settings = {site_id: AlarmSettings.for_site(site_id) for site_id in {m.site_id for m in meters.values()}}
    reach = max((s.drop_baseline_days for s in settings.values()), default=0)
    for meter, latest, before in _days_of(meters, reach):
        decide(meter, latest, before, Limits.of(settings[meter.site_id], meter.kind))


def _days_of(meters: dict[int, Meter], reach_days: int):
    """(meter, its latest complete MeterDay, the days in the `reach_days` before it)."""
    main = Q()
    for kind, quantity in MAIN.items():
        main |= Q(kind=kind, quantity=quantity)
    rows = MeterDay.objects.filter(main, meter_id__in=list(meters))
    latest = dict(rows.filter(complete=True).values("meter_id").annotate(day=Max("day")).values_list("meter_id", "day"))
    if not latest:
        return
    reach = timedelta(days=reach_days)
    meters_by_day: dict[date, list[int]] = defaultdict(list)  # usually one or two distinct days
    for meter_id, day in latest.items():
        meters_by_day[day].append(meter_id)
    windows = Q()
    for day, ids in meters_by_day.items():
        windows |= Q(meter_id__in=ids, day__gte=day - reach, day__lte=day)
    by_meter: dict[int, list[MeterDay]] = defaultdict(list)
    for row in rows.filter(windows).order_by("day"):
        by_meter[row.meter_id].append(row)
    for meter_id, days in by_meter.items():
        yield meters[meter_id], days[-1], [_day(d) for d in days[:-1]]


def decide(meter: Meter, latest: MeterDay, before: list[Day], limits: Limits) -> Verdict | None:
    verdict = judge(_day(latest), before, limits)
    if verdict is None:
        return None
    zone = ZoneInfo(meter.site.time_zone)
    start, end = local_midnight(verdict.day, zone), local_midnight(verdict.day + ONE_DAY, zone)
    if verdict.low and occupied_throughout(list(MeterInstallation.objects.filter(meter=meter)), start, end):
        raise_alarm(KIND, end, meter=meter, detail=verdict.detail(latest.unit))
    else:
        resolve(KIND, end, meter=meter)
    return verdict
