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
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from meterhub.aggregates.consumption import local_midnight
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


def compute(site: Site, day: date, now: datetime | None = None) -> Collection:
    tz = ZoneInfo(site.time_zone)
    d0, d1 = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
    until = min(d1, now or timezone.now())
    installed = MeterInstallation.objects.filter(meter=OuterRef("pk"), valid_from__lt=d1).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=d0))
    expected = dict(Meter.objects.filter(site=site, active=True).filter(Exists(installed))
                    .values_list("pk", "collector_id"))
    read = set(MeterDay.objects.filter(site=site, day=day, actual_reads__gt=0, meter_id__in=list(expected))
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
