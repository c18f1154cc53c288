"""Collection statistics: per site and local day, which meters should have been read,
which were, and why the others were not.

* expected: active meters installed (a MeterInstallation overlapping the day);
* read: meters with at least one *actual* reading of a cumulative register that day
  (from the meter-day rows, so this never scans readings);
* why a meter was missed, first that applies: never read (no successful read ever,
  MeterCommStatus), no collector, collector offline (its link had no online moment in
  the day up to now, from the LinkEvent history), otherwise meter silent (the collector
  was reachable but the meter gave nothing).

Recomputing one site-day costs a handful of queries; the processing step does it for the
days readings touched, and a link event does it for its collector's site and day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import (
    Case,
    Count,
    DateField,
    DateTimeField,
    Exists,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from meterhub.aggregates.consumption import local_day, local_midnight
from meterhub.aggregates.models import CollectionDay, MeterDay, MissingMeter, Why
from meterhub.assets.models import Collector, Meter, MeterInstallation, Site
from meterhub.comms.models import LinkEvent, MeterCommStatus

UP = frozenset({LinkEvent.Kind.ONLINE, LinkEvent.Kind.REPLACED})  # replaced: a newer connection took over


@dataclass
class Collection:
    site_id: int
    day: date
    expected: int
    read: int
    missing: list[tuple[int, str]] = field(default_factory=list)  # (meter_id, Why)

    @property
    def share(self) -> float | None:
        return self.read / self.expected if self.expected else None


def was_online(kind_at_start: str | None, kinds_during: Iterable[str]) -> bool:
    """A link was up at some moment of a period: up when it began, or came up during it."""
    return kind_at_start in UP or any(kind in UP for kind in kinds_during)


def why_missing(*, ever_read: bool, collector_id: int | None, online: Mapping[int, bool]) -> str:
    if not ever_read:
        return Why.NEVER_READ
    if collector_id is None:
        return Why.NO_COLLECTOR
    if not online.get(collector_id, False):
        return Why.COLLECTOR_OFFLINE
    return Why.METER_SILENT


def installed_during(start, end) -> Exists:
    """The outer meter has an installation overlapping [start, end): values, or OuterRefs to
    bounds annotated on the outer row."""
    return Exists(MeterInstallation.objects.filter(meter=OuterRef("pk"), valid_from__lt=end).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=start)))


def actually_read():
    """Meter-days with at least one actual reading of a cumulative register."""
    return MeterDay.objects.filter(actual_reads__gt=0)


def compute(site: Site, day: date, now: datetime | None = None) -> Collection:
    tz = ZoneInfo(site.time_zone)
    d0, d1 = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    until = min(d1, now or timezone.now())
    expected = dict(Meter.objects.filter(site=site, active=True).filter(installed_during(d0, d1))
                    .values_list("pk", "collector_id"))
    read = set(actually_read().filter(site=site, day=day, meter_id__in=list(expected))
               .values_list("meter_id", flat=True).distinct())
    missing_ids = sorted(set(expected) - read)
    missing = []
    if missing_ids:
        ever = set(MeterCommStatus.objects.filter(meter_id__in=missing_ids, last_success__isnull=False)
                   .values_list("meter_id", flat=True))
        online = collectors_online(site, d0, until)
        missing = [(m, why_missing(ever_read=m in ever, collector_id=expected[m], online=online))
                   for m in missing_ids]
    return Collection(site.pk, day, len(expected), len(read), missing)


def counts_today(sites: list[Site], now: datetime) -> dict[int, Collection]:
    """Site id -> meters expected and read on the site's own local today (no reasons for the
    missing ones), as compute() counts them but in one query whatever the number of sites:
    each meter carries its site's day and bounds, picked by the site's time zone."""
    if not sites:
        return {}
    days = {zone: local_day(now, ZoneInfo(zone)) for zone in {s.time_zone for s in sites}}

    def by_zone(value_for, output_field):
        return Case(*[When(site__time_zone=zone, then=Value(value_for(day, ZoneInfo(zone)),
                                                              output_field=output_field))
                      for zone, day in days.items()], output_field=output_field)

    read_that_day = Exists(actually_read().filter(meter=OuterRef("pk"), site=OuterRef("site"), day=OuterRef("day")))
    rows = (Meter.objects.filter(site__in=[s.pk for s in sites], active=True)
            .annotate(day=by_zone(lambda day, _tz: day, DateField()),
                      day_start=by_zone(lambda day, tz: local_midnight(day, tz), DateTimeField()),
                      day_end=by_zone(lambda day, tz: local_midnight(day + timedelta(days=1), tz), DateTimeField()))
            .filter(installed_during(OuterRef("day_start"), OuterRef("day_end")))
            .order_by().values("site").annotate(expected=Count("pk"), read=Count("pk", filter=read_that_day)))
    counts = {row["site"]: row for row in rows}
    return {s.pk: Collection(s.pk, days[s.time_zone], counts.get(s.pk, {}).get("expected", 0),
                             counts.get(s.pk, {}).get("read", 0)) for s in sites}


def collectors_online(site: Site, start: datetime, end: datetime) -> dict[int, bool]:
    """Collector id -> whether its link was up at any moment of [start, end)."""
    before = LinkEvent.objects.filter(collector=OuterRef("pk"), at__lt=start).order_by("-at", "-id")
    at_start = dict(Collector.objects.filter(site=site)
                    .annotate(kind=Subquery(before.values("kind")[:1])).values_list("pk", "kind"))
    during: dict[int, list[str]] = {}
    for collector_id, kind in LinkEvent.objects.filter(collector__site=site, at__gte=start, at__lt=end) \
            .values_list("collector_id", "kind"):
        during.setdefault(collector_id, []).append(kind)
    return {c: was_online(kind, during.get(c, ())) for c, kind in at_start.items()}


@transaction.atomic
def refresh(site: Site, day: date, now: datetime | None = None) -> Collection:
    """Compute and store one site-day (replacing what was stored)."""
    Site.objects.select_for_update().filter(pk=site.pk).exists()  # one writer per site at a time
    figures = compute(site, day, now)
    row, _created = CollectionDay.objects.update_or_create(
        site=site, day=day, defaults={"expected": figures.expected, "read": figures.read})
    row.missing.all().delete()
    MissingMeter.objects.bulk_create(MissingMeter(collection=row, meter_id=m, reason=why)
                                     for m, why in figures.missing)
    return figures
