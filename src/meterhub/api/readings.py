"""Readings by meter and by site over a range, cursor-paged, with quality, raw value and multiplier."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from ninja.errors import HttpError

from meterhub.accounts import roles
from meterhub.api import paging
from meterhub.api.routes import get
from meterhub.api.schemas import DbInt, ReadingPage
from meterhub.assets.models import Meter, Site
from meterhub.readings import series
from meterhub.readings.models import Reading
from meterhub.web.ranges import parse_range

router = Router(tags=["readings"])
FIELDS = ("meter_id", "quantity", "ts", "value", "raw_value", "multiplier", "unit", "quality", "source")


class RangeQuery(Schema):
    start: str = ""  # a date (the site's local day) or an ISO 8601 time with offset; default: yesterday
    end: str = ""  # a date (included) or a time (excluded)
    quantity: str | None = None
    quality: str | None = None
    limit: DbInt = 1000
    cursor: str | None = None


def _range(q: RangeQuery, zone: ZoneInfo):
    if not 1 <= q.limit <= 10_000:
        raise HttpError(400, "limit must be between 1 and 10000")
    try:
        start, end = parse_range(q.start, q.end, zone, default_days=1)
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
    if end - start > series.MAX_RANGE:
        raise HttpError(400, f"the range may cover at most {series.MAX_RANGE.days} days")
    return start, end


def _page(rows, q: RangeQuery, start, end) -> dict:
    if q.quantity:
        rows = rows.filter(quantity=q.quantity)
    if q.quality:
        rows = rows.filter(quality=q.quality)
    items, next_cursor = paging.page(rows.values(*FIELDS), q.limit, q.cursor)
    return {"items": items, "next_cursor": next_cursor, "start": start, "end": end}


@get(router, "/meters/{meter_id}/readings", roles.REPORTS_VIEW, url_name="api-meter-readings",
     response=ReadingPage, summary="Readings of one meter over a range")
def meter_readings(request, meter_id: DbInt, q: Query[RangeQuery]):
    """In key order: by quantity, then time. Follow `next_cursor` until it is null."""
    meter = get_object_or_404(Meter.objects.select_related("site"), pk=meter_id)
    start, end = _range(q, ZoneInfo(meter.site.time_zone))
    rows = Reading.objects.filter(meter_id=meter.pk, ts__gte=start, ts__lt=end).order_by("quantity", "ts")
    return _page(rows, q, start, end)


@get(router, "/sites/{site_code}/readings", roles.REPORTS_VIEW, url_name="api-site-readings",
     response=ReadingPage, summary="Readings of every meter of a site over a range")
def site_readings(request, site_code: str, q: Query[RangeQuery]):
    """In key order: by meter, quantity, then time. Follow `next_cursor` until it is null."""
    site = get_object_or_404(Site, code=site_code)
    start, end = _range(q, ZoneInfo(site.time_zone))
    rows = (Reading.objects.filter(meter_id__in=site.meters.values("id"), ts__gte=start, ts__lt=end)
            .order_by("meter_id", "quantity", "ts"))
    return _page(rows, q, start, end)


class SeriesQuery(Schema):
    quantity: str
    start: str = ""
    end: str = ""


@get(router, "/meters/{meter_id}/series", roles.ASSETS_VIEW, url_name="api-meter-series",
     summary="A chart series of one quantity: every reading, or min/mean/max buckets for long ranges")
def meter_series(request, meter_id: DbInt, q: Query[SeriesQuery]):
    """What the console's load-profile chart draws (readings.series): at most 1,500 points."""
    meter = get_object_or_404(Meter.objects.select_related("site"), pk=meter_id)
    try:
        start, end = parse_range(q.start, q.end, ZoneInfo(meter.site.time_zone))
        return series.meter_series(meter.pk, q.quantity, start, end, time_zone=meter.site.time_zone).as_json()
    except ValueError as exc:
        raise HttpError(400, str(exc)) from exc
