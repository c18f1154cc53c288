"""Daily and monthly consumption: per meter (every cumulative register) and per site or building
(the totals of each utility), with completeness and the estimated share, from the aggregates app.

Days are local days in the site's time zone, both ends of a range included; months are "YYYY-MM".
A range covers at most 400 days or 120 months. Meter figures are cursor-paged in the key order
(meter, quantity, day or month); a meter's figures, or a site's, are the same rows either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Avg, Q
from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from meterhub.accounts import roles
from meterhub.aggregates.models import MeterDay, MeterMonth, TotalDay, TotalMonth
from meterhub.aggregates.quantities import MAIN
from meterhub.api import paging
from meterhub.api.filters import given
from meterhub.api.routes import get
from meterhub.api.schemas import DbInt, MeterDayPage, MeterMonthPage, TotalList
from meterhub.assets.models import Building, Meter, Site

router = Router(tags=["aggregates"])
FLAGS = ("complete", "estimated_share", "rollover", "backwards", "exchange")
MONTH = r"^\d{4}-\d{2}$"


@dataclass(frozen=True)
class Period:
    field: str  # "day" | "month"
    meter_model: type
    total_model: type
    max_span: int  # days or months
    meter_fields: tuple[str, ...]

    def label(self, value: date) -> str:
        return value.isoformat() if self.field == "day" else f"{value:%Y-%m}"


DAYS = Period("day", MeterDay, TotalDay, 400, ("start_value", "end_value", "reads", "actual_reads"))
MONTHS = Period("month", MeterMonth, TotalMonth, 120, ("days", "complete_days"))


class DayRange(Schema):
    start: date  # a local day, included
    end: date  # included


class MonthRange(Schema):
    start: str = Field(pattern=MONTH)  # 2026-01, included
    end: str = Field(pattern=MONTH)  # included


class MeterFilter(Schema):
    quantity: str | None = None  # energy_import, energy_import_t1..t4, energy_export, water_volume, gas_volume
    limit: DbInt = 1000  # 1 to 10000
    cursor: str | None = None


class SiteMeterFilter(MeterFilter):
    kind: str | None = None  # electricity | water | gas
    building: str | None = None  # building code: the meters that served its premises


class TotalFilter(Schema):
    kind: str | None = None  # electricity | water | gas
    building: str | None = None  # building code; without it, the whole site


class DayQuery(DayRange, MeterFilter):
    """One meter's days."""


class MonthQuery(MonthRange, MeterFilter):
    """One meter's months."""


class SiteDayQuery(DayRange, SiteMeterFilter):
    """The days of a site's meters."""


class SiteMonthQuery(MonthRange, SiteMeterFilter):
    """The months of a site's meters."""


class TotalDayQuery(DayRange, TotalFilter):
    """A site's or building's days."""


class TotalMonthQuery(MonthRange, TotalFilter):
    """A site's or building's months."""


def _bounds(period: Period, q) -> tuple[date, date]:
    """The first and last day (or first day of the last month) of the range, checked."""
    if period is DAYS:
        first, last, span = q.start, q.end, (q.end - q.start).days
    else:
        try:
            first, last = (date(int(m[:4]), int(m[5:]), 1) for m in (q.start, q.end))
        except ValueError as exc:
            raise HttpError(400, f"a month is YYYY-MM: {exc}") from exc
        span = (last.year - first.year) * 12 + last.month - first.month
    if span < 0:
        raise HttpError(400, "the range must end on or after its start")
    if span >= period.max_span:
        raise HttpError(400, f"the range may cover at most {period.max_span} {period.field}s")
    return first, last


def _meter_page(period: Period, rows, q) -> dict:
    if not 1 <= q.limit <= 10_000:
        raise HttpError(400, "limit must be between 1 and 10000")
    first, last = _bounds(period, q)
    rows = rows.filter(**{f"{period.field}__range": (first, last)}).order_by("meter_id", "quantity", period.field)
    if q.quantity:
        rows = rows.filter(quantity=q.quantity)
    if q.cursor:
        meter_id, quantity, at = paging.decode(q.cursor)
        rows = rows.filter(Q(meter_id__gt=meter_id) | Q(meter_id=meter_id, quantity__gt=quantity)
                           | Q(meter_id=meter_id, quantity=quantity, **{f"{period.field}__gt": at.date()}))
    found = list(rows.values("meter_id", "quantity", period.field, "consumption", "unit", *FLAGS,
                             *period.meter_fields)[:q.limit + 1])
    items, next_cursor = found[:q.limit], None
    if len(found) > q.limit:
        last_row = items[-1]
        next_cursor = paging.encode(last_row["meter_id"], last_row["quantity"], last_row[period.field])
    if period is MONTHS:
        for row in items:
            row["month"] = period.label(row["month"])
    return {"items": items, "next_cursor": next_cursor}


def _site_meter_rows(period: Period, site: Site, q):
    return given(period.meter_model.objects.filter(site=site), kind=q.kind, building__code=q.building)


def _totals(period: Period, site: Site, q) -> dict:
    first, last = _bounds(period, q)
    building = None
    if q.building:
        building = Building.objects.filter(site=site, code=q.building).first()
        if building is None:
            raise HttpError(404, f"no building {q.building} at site {site.code}")
    span = {f"{period.field}__range": (first, last)}
    totals = period.total_model.objects.filter(site=site, building=building, **span)
    figures = period.meter_model.objects.filter(site=site, quantity__in=MAIN.values(),
                                                meter__master_of__isnull=True, **span)
    if building is not None:
        figures = figures.filter(building=building)
    if q.kind:
        totals, figures = totals.filter(kind=q.kind), figures.filter(kind=q.kind)
    shares = {(row[period.field], row["kind"]): row["share"]
              for row in figures.values(period.field, "kind").annotate(share=Avg("estimated_share"))}
    return {"items": [
        {"period": period.label(getattr(t, period.field)), "kind": t.kind, "building": q.building or None,
         "consumption": t.consumption, "unit": t.unit, "meters": t.meters, "complete_meters": t.complete_meters,
         "completeness": round(t.complete_meters / t.meters, 4) if t.meters else None,
         "estimated_share": round(shares.get((getattr(t, period.field), t.kind)) or 0.0, 4),
         "master": t.master, "loss": t.loss} for t in totals.order_by(period.field, "kind")]}


def _meter(meter_id: int) -> Meter:
    return get_object_or_404(Meter, pk=meter_id)


def _site(site_code: str) -> Site:
    return get_object_or_404(Site, code=site_code)


@get(router, "/meters/{meter_id}/consumption/daily", roles.REPORTS_VIEW, url_name="api-meter-days",
     response=MeterDayPage, summary="A meter's consumption per local day and register")
def meter_days(request, meter_id: DbInt, q: Query[DayQuery]):
    return _meter_page(DAYS, MeterDay.objects.filter(meter=_meter(meter_id)), q)


@get(router, "/meters/{meter_id}/consumption/monthly", roles.REPORTS_VIEW, url_name="api-meter-months",
     response=MeterMonthPage, summary="A meter's consumption per month and register")
def meter_months(request, meter_id: DbInt, q: Query[MonthQuery]):
    return _meter_page(MONTHS, MeterMonth.objects.filter(meter=_meter(meter_id)), q)


@get(router, "/sites/{site_code}/meters/consumption/daily", roles.REPORTS_VIEW, url_name="api-site-meter-days",
     response=MeterDayPage, summary="Every meter of a site: consumption per local day and register")
def site_meter_days(request, site_code: str, q: Query[SiteDayQuery]):
    return _meter_page(DAYS, _site_meter_rows(DAYS, _site(site_code), q), q)


@get(router, "/sites/{site_code}/meters/consumption/monthly", roles.REPORTS_VIEW,
     url_name="api-site-meter-months", response=MeterMonthPage,
     summary="Every meter of a site: consumption per month and register")
def site_meter_months(request, site_code: str, q: Query[SiteMonthQuery]):
    return _meter_page(MONTHS, _site_meter_rows(MONTHS, _site(site_code), q), q)


@get(router, "/sites/{site_code}/consumption/daily", roles.REPORTS_VIEW, url_name="api-site-days",
     response=TotalList, summary="A site's (or a building's) consumption per local day and utility")
def site_days(request, site_code: str, q: Query[TotalDayQuery]):
    return _totals(DAYS, _site(site_code), q)


@get(router, "/sites/{site_code}/consumption/monthly", roles.REPORTS_VIEW, url_name="api-site-months",
     response=TotalList, summary="A site's (or a building's) consumption per month and utility")
def site_months(request, site_code: str, q: Query[TotalMonthQuery]):
    return _totals(MONTHS, _site(site_code), q)
