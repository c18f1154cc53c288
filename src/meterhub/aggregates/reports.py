"""Reports over the aggregates: each is a title, columns and rows (plain values), so the
same report is shown on screen (paged), exported to Excel and CSV, and printed.

Rows are produced lazily from a query (`Rows`), so a page of a year's meter-days reads one
page from the database, and an export streams them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from meterhub.aggregates.models import (
    CollectionDay,
    MeterDay,
    MeterMonth,
    MissingMeter,
    TotalDay,
    TotalMonth,
    Why,
)
from meterhub.aggregates.quantities import MAIN, UNITS
from meterhub.assets.models import Building, Meter, Site
from meterhub.readings.quantities import label

TEXT, NUMBER, DATE, MONTH, SHARE, FLAG = "text", "number", "date", "month", "share", "flag"


@dataclass(frozen=True)
class Column:
    label: str
    kind: str = TEXT


class Rows:
    """A query seen as a sequence of report rows: len() counts, slicing maps one page."""

    def __init__(self, query, to_row: Callable):
        self.query, self.to_row = query, to_row

    def count(self) -> int:
        return self.query.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self.to_row(r) for r in self.query[index]]
        return self.to_row(self.query[index])

    def __iter__(self):
        return (self.to_row(r) for r in self.query.iterator(chunk_size=2000))


@dataclass
class Report:
    key: str
    title: str
    columns: list[Column]
    rows: Rows | list
    notes: list[str] = field(default_factory=list)


@dataclass
class Criteria:
    site: Site
    start: date
    end: date
    kind: str = "electricity"
    scope: str = "meter"  # meter, building or site
    register: str = ""  # a cumulative register; blank: the utility's main register
    building: Building | None = None
    meter: Meter | None = None
    limit: int = 50

    @property
    def quantity(self) -> str:
        return self.register or MAIN[self.kind]

    @property
    def unit(self) -> str:
        return UNITS.get(self.kind, "")


def _flags(row) -> str:
    notes = [str(text) for flag, text in ((row.rollover, _("rollover")), (row.backwards, _("went backwards")),
                                          (row.exchange, _("meter exchange"))) if flag]
    return ", ".join(notes)


def _num(value) -> float | None:
    return None if value is None else float(value)


def _meter_rows(model, c: Criteria, period: str):
    rows = model.objects.filter(site=c.site, kind=c.kind, quantity=c.quantity)
    if c.building:
        rows = rows.filter(building=c.building)
    if c.meter:
        rows = rows.filter(meter=c.meter)
    return rows.select_related("meter", "building").order_by(period, "meter__serial")


def _total_rows(model, c: Criteria, period: str):
    rows = model.objects.filter(site=c.site, kind=c.kind).select_related("building")
    if c.scope == "site":
        return rows.filter(building__isnull=True).order_by(period)
    rows = rows.filter(building__isnull=False)
    if c.building:
        rows = rows.filter(building=c.building)
    return rows.order_by(period, "building__code")


def _total_columns(first: Column, c: Criteria) -> list[Column]:
    where = _("Site") if c.scope == "site" else _("Building")
    return [first, Column(where), Column(_("Consumption"), NUMBER), Column(_("Unit")), Column(_("Meters"), NUMBER),
            Column(_("Meters complete"), NUMBER), Column(_("Master meter"), NUMBER), Column(_("Line loss"), NUMBER)]


def _total_row(period_value, c: Criteria):
    def row(t):
        where = c.site.code if t.building_id is None else t.building.code
        return [period_value(t), where, _num(t.consumption), t.unit or c.unit, t.meters, t.complete_meters,
                _num(t.master), _num(t.loss)]
    return row


def daily_consumption(c: Criteria) -> Report:
    title = _("Daily consumption")
    if c.scope != "meter":
        rows = _total_rows(TotalDay, c, "day").filter(day__range=(c.start, c.end))
        return Report("daily", title, _total_columns(Column(_("Day"), DATE), c), Rows(rows, _total_row(
            lambda t: t.day, c)))
    rows = _meter_rows(MeterDay, c, "day").filter(day__range=(c.start, c.end))
    return Report("daily", title, [
        Column(_("Day"), DATE), Column(_("Meter")), Column(_("Building")), Column(_("Quantity")),
        Column(_("Start"), NUMBER), Column(_("End"), NUMBER), Column(_("Consumption"), NUMBER), Column(_("Unit")),
        Column(_("Complete"), FLAG), Column(_("Estimated"), SHARE), Column(_("Notes")),
    ], Rows(rows, lambda r: [
        r.day, r.meter.serial, r.building.code if r.building else "", label(r.quantity), _num(r.start_value),
        _num(r.end_value), _num(r.consumption), r.unit, r.complete, r.estimated_share, _flags(r),
    ]), notes=[_("A day is complete when the register is known at both midnights (read or interpolated).")])


def monthly_consumption(c: Criteria) -> Report:
    title = _("Monthly consumption")
    months = (c.start.replace(day=1), c.end.replace(day=1))
    if c.scope != "meter":
        rows = _total_rows(TotalMonth, c, "month").filter(month__range=months)
        return Report("monthly", title, _total_columns(Column(_("Month"), MONTH), c), Rows(rows, _total_row(
            lambda t: t.month, c)))
    rows = _meter_rows(MeterMonth, c, "month").filter(month__range=months)
    return Report("monthly", title, [
        Column(_("Month"), MONTH), Column(_("Meter")), Column(_("Building")), Column(_("Quantity")),
        Column(_("Consumption"), NUMBER), Column(_("Unit")), Column(_("Days"), NUMBER),
        Column(_("Complete days"), NUMBER), Column(_("Estimated"), SHARE), Column(_("Notes")),
    ], Rows(rows, lambda r: [
        r.month, r.meter.serial, r.building.code if r.building else "", label(r.quantity), _num(r.consumption),
        r.unit, r.days, r.complete_days, r.estimated_share, _flags(r),
    ]))


def collection_rate(c: Criteria) -> Report:
    counts = {why: Count("missing", filter=Q(missing__reason=why)) for why in Why.values}
    rows = CollectionDay.objects.filter(site=c.site, day__range=(c.start, c.end)).annotate(**counts).order_by("day")
    return Report("collection", _("Collection rate"), [
        Column(_("Day"), DATE), Column(_("Meters expected"), NUMBER), Column(_("Meters read"), NUMBER),
        Column(_("Collection rate"), SHARE),
        *[Column(Why(why).label, NUMBER) for why in Why.values],
    ], Rows(rows, lambda r: [r.day, r.expected, r.read, r.share, *[getattr(r, why) for why in Why.values]]))


def missing_meters(c: Criteria) -> Report:
    rows = MissingMeter.objects.filter(collection__site=c.site, collection__day__range=(c.start, c.end)) \
        .select_related("collection", "meter__collector").order_by("collection__day", "meter__serial")
    return Report("missing", _("Meters not read"), [
        Column(_("Day"), DATE), Column(_("Meter")), Column(_("Collector")), Column(_("Why")),
    ], Rows(rows, lambda r: [r.collection.day, r.meter.serial,
                             r.meter.collector.code if r.meter.collector else "", r.get_reason_display()]))


def top_consumers(c: Criteria) -> Report:
    """The premises' meters using most over the days (master meters are not consumers)."""
    rows = list(_meter_rows(MeterDay, c, "day").filter(day__range=(c.start, c.end), meter__master_of__isnull=True)
                .order_by()
                .values("meter__serial", "building__code").annotate(
                    total=Sum("consumption"), days=Count("day"), complete=Count("day", filter=Q(complete=True)))
                .order_by("-total", "meter__serial")[:c.limit])
    return Report("top", _("Top consumers"), [
        Column(_("Rank"), NUMBER), Column(_("Meter")), Column(_("Building")), Column(_("Consumption"), NUMBER),
        Column(_("Unit")), Column(_("Days"), NUMBER), Column(_("Complete days"), NUMBER),
    ], [[n, r["meter__serial"], r["building__code"] or "", _num(r["total"]), c.unit, r["days"], r["complete"]]
        for n, r in enumerate(rows, start=1)])


def line_loss(c: Criteria) -> Report:
    """Per building (and the site) with a master meter: what the master measured against
    the sum of the meters of its premises, over the days the master is known."""
    rows = TotalDay.objects.filter(site=c.site, kind=c.kind, day__range=(c.start, c.end), master__isnull=False)
    if c.building:
        rows = rows.filter(building=c.building)
    sums = rows.order_by().values("building__code").annotate(
        master_sum=Sum("master"), sub_sum=Sum("consumption"), days=Count("day")).order_by("building__code")
    out = []
    for r in sums:
        loss = r["master_sum"] - r["sub_sum"]
        out.append([r["building__code"] or c.site.code, _num(r["master_sum"]), _num(r["sub_sum"]), _num(loss),
                    float(loss / r["master_sum"]) if r["master_sum"] else None, c.unit, r["days"]])
    return Report("loss", _("Line loss: master meters against their sub-meters"), [
        Column(_("Building")), Column(_("Master meter"), NUMBER), Column(_("Sum of sub-meters"), NUMBER),
        Column(_("Line loss"), NUMBER), Column(_("Loss share"), SHARE), Column(_("Unit")), Column(_("Days"), NUMBER),
    ], out, notes=[_("Master meters are set in Settings > Master meters.")])


REPORTS: dict[str, tuple[str, Callable[[Criteria], Report]]] = {
    "daily": (_("Daily consumption"), daily_consumption),
    "monthly": (_("Monthly consumption"), monthly_consumption),
    "collection": (_("Collection rate"), collection_rate),
    "missing": (_("Meters not read"), missing_meters),
    "top": (_("Top consumers"), top_consumers),
    "loss": (_("Line loss"), line_loss),
}


def build(key: str, criteria: Criteria) -> Report:
    return REPORTS[key][1](criteria)


def plain(value) -> str | float | int | date | None:
    """A value as exports write it (Decimal -> float; lazy text -> str)."""
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (int, float, date, bool)):
        return value
    return str(value)
