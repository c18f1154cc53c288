"""The dashboard's figures per site, from current state and the maintained aggregates.

* a meter is online when it was read successfully within the last hour (the demo and most
  read plans read every 15 minutes);
* a collector is online when it is enabled and any of its bus links is up now; the total it
  is shown against is the enabled collectors too (a disabled one is not served by the
  head-end, and a link it still reports would push "online / total" past 100 %);
* today's collection rate is computed live (one query for all sites) so it is right even
  when nothing has arrived for a while;
* consumption today against yesterday compares both days up to the same hour: the last
  whole hour for which today's figure is known;
* open alarms are those not cleared (raised or acknowledged).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from meterhub.aggregates import collection
from meterhub.aggregates.consumption import local_day, local_midnight
from meterhub.aggregates.models import TotalDay
from meterhub.aggregates.quantities import UNITS
from meterhub.alarms import services as alarms
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


def count_per_site(rows: QuerySet, site_path: str = "site") -> Coalesce:
    """How many of `rows` belong to the outer query's site: a correlated subquery to annotate a
    Site queryset with, so a list of sites costs one query, not one per site."""
    counted = (rows.filter(**{site_path: OuterRef("pk")}).order_by().values(site_path)
               .annotate(n=Count("pk", distinct=True)).values("n"))
    return Coalesce(Subquery(counted), 0)


def enabled_collectors() -> QuerySet:
    """The collectors "online / total" is over: the head-end serves only enabled ones."""
    return Collector.objects.filter(enabled=True)


def online_collectors() -> QuerySet:
    """Enabled collectors with a bus link up now; a disabled one's link is not counted, so the online
    figure never exceeds the total."""
    return enabled_collectors().filter(bus_links__online=True)


def site_counts(now: datetime) -> dict:
    """The dashboard's per-site counts, as annotations for a Site queryset."""
    return {
        "active_meters": count_per_site(Meter.objects.filter(active=True)),
        "active_meters_online": count_per_site(MeterCommStatus.objects.filter(
            meter__active=True, last_success__gte=now - ONLINE_WITHIN), "meter__site"),
        "enabled_collectors": count_per_site(enabled_collectors()),
        "online_collectors": count_per_site(online_collectors()),
        "open_alarms": count_per_site(alarms.open_alarms()),
    }


def usage_of(totals: dict, today: date, tz: ZoneInfo) -> list[Usage]:
    """Each kind's consumption today against yesterday, from the site's TotalDay rows by (kind, day)."""
    usage = []
    for kind in sorted({k for k, _d in totals}):
        now_row, then_row = totals.get((kind, today)), totals.get((kind, today - timedelta(days=1)))
        hours, a, b = compare_days(now_row.by_hour if now_row else [], then_row.by_hour if then_row else [])
        until = local_midnight(today, tz) + timedelta(hours=hours) if hours else None
        usage.append(Usage(kind, (now_row or then_row).unit or UNITS.get(kind, ""), a, b,
                           until.astimezone(tz) if until else None))
    return usage


def figures_of(sites: QuerySet, now: datetime | None = None) -> list[SiteFigures]:
    """Each site's figures, in a fixed number of queries whatever the number of sites."""
    now = now or timezone.now()
    sites = list(sites.annotate(**site_counts(now)))
    todays = {s.pk: local_day(now, ZoneInfo(s.time_zone)) for s in sites}
    totals: dict[int, dict] = {}
    for t in TotalDay.objects.filter(site__in=todays, building__isnull=True,
                                     day__in={d - timedelta(days=n) for d in todays.values() for n in (0, 1)}):
        totals.setdefault(t.site_id, {})[(t.kind, t.day)] = t
    collections = collection.counts_today(sites, now)
    return [SiteFigures(
        site=site,
        meters=site.active_meters,
        meters_online=site.active_meters_online,
        collectors=site.enabled_collectors,
        collectors_online=site.online_collectors,
        collection=collections[site.pk],
        open_alarms=site.open_alarms,
        usage=usage_of(totals.get(site.pk, {}), todays[site.pk], ZoneInfo(site.time_zone)),
    ) for site in sites]


def site_figures(site: Site, now: datetime | None = None) -> SiteFigures:
    return figures_of(Site.objects.filter(pk=site.pk), now)[0]


def all_sites(now: datetime | None = None) -> list[SiteFigures]:
    return figures_of(Site.objects.order_by("code"), now)


def meters_by_kind(site: Site) -> list[dict]:
    """The site's meters of each kind: all of them and the active ones."""
    rows = (Meter.objects.filter(site=site).values("kind")
            .annotate(meters=Count("pk"), active=Count("pk", filter=Q(active=True))).order_by("kind"))
    return [dict(row) for row in rows]


def collector_counts(site: Site) -> dict:
    """The site's enabled collectors, online (any bus link up now) or offline, and how many are disabled."""
    counts = Site.objects.filter(pk=site.pk).values(
        total=count_per_site(enabled_collectors()), online=count_per_site(online_collectors()),
        disabled=count_per_site(Collector.objects.filter(enabled=False))).get()
    return counts | {"offline": counts["total"] - counts["online"]}
