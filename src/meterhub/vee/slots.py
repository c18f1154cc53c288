"""Which reads a meter should have: the slots of the interval read plans that cover it.

The expected interval is not a setting of its own: it is what the site's enabled read
plans of "energy registers and instantaneous values" promise (`*/15 * * * *` -> every
15 minutes, `5 * * * *` -> hourly at :05), because scheduled reads are stamped with
exactly those slots. A meter no such plan covers (daily only, or none) has no expected
slots, so it is never "missing an interval" and never interval-estimated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from croniter import croniter

from meterhub.comms.models import ReadPlan


@dataclass(frozen=True)
class IntervalPlan:
    cron: str
    site_id: int | None  # None: every site
    kind: str  # "": every kind
    time_zone: str

    def covers(self, site_id: int, kind: str) -> bool:
        return self.site_id in (None, site_id) and self.kind in ("", kind)


def interval_plans() -> list[IntervalPlan]:
    return [IntervalPlan(p.cron, p.site_id, p.kind, p.site.time_zone if p.site else "UTC")
            for p in ReadPlan.objects.filter(enabled=True, items=ReadPlan.Items.INSTANT).select_related("site")]


def slots(plans: list[IntervalPlan], site_id: int, kind: str, start: datetime, end: datetime) -> list[datetime]:
    """Every slot of the plans covering (site, kind) in [start, end), UTC, sorted."""
    out: set[datetime] = set()
    for plan in plans:
        if plan.covers(site_id, kind):
            out.update(_plan_slots(plan.cron, plan.time_zone, start, end))
    return sorted(out)


@lru_cache(maxsize=4096)  # every meter on a plan asks for the same days
def _plan_slots(cron: str, time_zone: str, start: datetime, end: datetime) -> tuple[datetime, ...]:
    cursor = croniter(cron, (start - timedelta(microseconds=1)).astimezone(ZoneInfo(time_zone)))
    out = []
    while True:
        slot = cursor.get_next(datetime).astimezone(UTC)
        if slot >= end:
            return tuple(out)
        out.append(slot)


def interval(plans: list[IntervalPlan], site_id: int, kind: str, around: datetime) -> timedelta | None:
    """The shortest gap between expected slots near `around` (None: no interval plan)."""
    near = slots(plans, site_id, kind, around - timedelta(hours=2), around + timedelta(hours=2))
    gaps = [b - a for a, b in zip(near, near[1:], strict=False)]
    return min(gaps) if gaps else None
