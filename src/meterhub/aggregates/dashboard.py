"""The dashboard's figures per site, from current state and the maintained aggregates.

* a meter is online when it was read successfully within the last hour (the demo and most
  read plans read every 15 minutes);
* a collector is online when it is enabled and any of its bus links is up now; the total it
  is shown against is the enabled collectors too (a disabled one is not served by the
  head-end, and a link it still reports would push "online / total" past 100 %);
* today's collection rate is computed live (a few queries) so it is right even when
  nothing has arrived for a while;
* consumption today against yesterday compares both days up to the same hour: the last
  whole hour for which today's figure is known;
* open alarms are those not cleared (raised or acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q
from django.utils import timezone

from meterhub.aggregates import collection
from meterhub.aggregates.consumption import local_day, local_midnight
from meterhub.aggregates.models import TotalDay
from meterhub.aggregates.quantities import UNITS
from meterhub.alarms.models import Alarm
from meterhub.alarms.models import State as AlarmState
from meterhub.assets.models import Collector, Meter, Site
from meterhub.comms.models import MeterCommStatus

ONLINE_WITHIN = timedelta(hours=1)


@dataclass
class Usage:
    kind: str
    unit: str
    today: float | None
    yesterday: float | None
    until: datetime | None  # both figures run from midnight to this local time

    @property
    def change(self) -> float | None:
        if self.today is None or not self.yesterday:
            return None
        return self.today / self.yesterday - 1


@dataclass
class SiteFigures:
    site: Site
    meters: int
    meters_online: int
    collectors: int
    collectors_online: int
    collection: collection.Collection
    open_alarms: int = 0
    usage: list[Usage] = field(default_factory=list)


def compare_days(today: list, yesterday: list) -> tuple[int, float | None, float | None]:
    """Hours known today (leading run), and both days' consumption up to that hour."""
    hours = 0
    while hours < len(today) and today[hours] is not None:
        hours += 1
    if hours == 0:
        return 0, None, None
    return hours, today[hours - 1], (yesterday[hours - 1] if hours <= len(yesterday) else None)


def site_figures(site: Site, now: datetime | None = None) -> SiteFigures:
    now = now or timezone.now()
    tz = ZoneInfo(site.time_zone)
    today = local_day(now, tz)
    meter_ids = Meter.objects.filter(site=site, active=True).values("pk")
    totals = {(t.kind, t.day): t for t in TotalDay.objects.filter(
        site=site, building__isnull=True, day__in=[today, today - timedelta(days=1)])}
    usage = []
    for kind in sorted({k for k, _d in totals}):
        now_row, then_row = totals.get((kind, today)), totals.get((kind, today - timedelta(days=1)))
        hours, a, b = compare_days(now_row.by_hour if now_row else [], then_row.by_hour if then_row else [])
        until = local_midnight(today, tz) + timedelta(hours=hours) if hours else None
        usage.append(Usage(kind, (now_row or then_row).unit or UNITS.get(kind, ""), a, b,
                           until.astimezone(tz) if until else None))
    return SiteFigures(
        site=site,
        meters=len(meter_ids),
        meters_online=MeterCommStatus.objects.filter(meter__in=meter_ids,
                                                     last_success__gte=now - ONLINE_WITHIN).count(),
        collectors=Collector.objects.filter(site=site, enabled=True).count(),
        # over the same collectors as the total: a disabled one's link still reported up is not served
        collectors_online=Collector.objects.filter(site=site, enabled=True, bus_links__online=True)
        .distinct().count(),
        collection=collection.compute(site, today, now),
        open_alarms=open_alarms(site),
        usage=usage,
    )


def meters_by_kind(site: Site) -> list[dict]:
    """The site's meters of each kind: all of them and the active ones."""
    rows = (Meter.objects.filter(site=site).values("kind")
            .annotate(meters=Count("pk"), active=Count("pk", filter=Q(active=True))).order_by("kind"))
    return [dict(row) for row in rows]


def collector_counts(site: Site) -> dict:
    """The site's enabled collectors, online (any bus link up now) or offline, and how many are disabled."""
    enabled = Collector.objects.filter(site=site, enabled=True)
    total = enabled.count()
    online = enabled.filter(bus_links__online=True).distinct().count()
    return {"total": total, "online": online, "offline": total - online,
            "disabled": Collector.objects.filter(site=site, enabled=False).count()}


def open_alarms(site: Site | None = None) -> int:
    """Alarms not cleared (raised or acknowledged), for one site or all."""
    alarms = Alarm.objects.exclude(state=AlarmState.CLEARED)
    return (alarms.filter(site=site) if site is not None else alarms).count()


def all_sites(now: datetime | None = None) -> list[SiteFigures]:
    return [site_figures(site, now) for site in Site.objects.order_by("code")]
