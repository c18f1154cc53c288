"""Chart series from the readings store: every reading for short ranges, buckets for long ones.

A year of 15-minute data is 35,000 readings per quantity: too many to send to a browser
or to draw on a phone. Above MAX_POINTS readings the database groups them into fixed
buckets (the smallest of BUCKETS that keeps under MAX_POINTS) and returns per bucket the
lowest, mean and highest value, the last reading, and how many readings of each quality;
the bucket's quality is its worst reading's, so an estimate is never averaged out of sight.
Both queries walk the (meter, quantity, ts) primary key; nothing else is read.

Cumulative registers also give interval consumption: the register at the end of each
interval (or bucket) minus the register at the end of the one before; the first needs the
last reading before the range. A missing interval makes the next one span the gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Avg, BigIntegerField, Count, Func, Max, Min, Q

from meterhub.readings.models import Quality, Reading

MAX_POINTS = 1500
BUCKETS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400]
MAX_RANGE = timedelta(days=400)
# worst first: a bucket holding one suspect reading is suspect
SEVERITY = [Quality.SUSPECT, Quality.EDITED, Quality.ESTIMATED, Quality.ACTUAL]
CUMULATIVE = ("energy_", "water_volume", "gas_volume", "gas_energy")


def is_cumulative(quantity: str) -> bool:
    return quantity.startswith(CUMULATIVE)


class EpochBucket(Func):
    """floor((seconds since 1970 + offset) / size): the bucket number of a timestamp."""

    output_field = BigIntegerField()

    def __init__(self, expression, size: int, offset: int):
        super().__init__(expression)
        self.size, self.offset = int(size), int(offset)

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        # date_part is double precision: EXTRACT returns numeric, several times slower to divide
        return f"FLOOR((date_part('epoch', {sql}) + {self.offset}) / {self.size})::bigint", params

    def as_sqlite(self, compiler, connection, **extra):
        # Django keeps SQLite datetimes as UTC text; julianday() reads it without strftime's '%'
        sql, params = compiler.compile(self.source_expressions[0])
        epoch = f"CAST(ROUND((julianday({sql}) - 2440587.5) * 86400) AS INTEGER)"
        return f"(({epoch} + {self.offset}) / {self.size})", params


@dataclass
class Series:
    quantity: str
    unit: str
    cumulative: bool
    start: datetime
    end: datetime
    bucket_s: int  # 0: one point per reading
    t: list[int] = field(default_factory=list)  # epoch seconds: the reading, or the bucket's start
    value: list[float | None] = field(default_factory=list)  # the reading, or the bucket's mean
    low: list[float | None] = field(default_factory=list)
    high: list[float | None] = field(default_factory=list)
    last: list[float | None] = field(default_factory=list)  # register at the end of the bucket
    raw: list[str | None] = field(default_factory=list)  # the meter's own register value
    multiplier: list[str | None] = field(default_factory=list)
    quality: list[str] = field(default_factory=list)
    consumption: list[float | None] = field(default_factory=list)  # cumulative registers only
    consumption_quality: list[str] = field(default_factory=list)  # the worse of its two ends

    def as_json(self) -> dict:
        data = {k: getattr(self, k) for k in ("quantity", "unit", "cumulative", "bucket_s", "t", "value", "low",
                                              "high", "raw", "multiplier", "quality")}
        data.update(start=self.start.isoformat(), end=self.end.isoformat(), points=len(self.t))
        if self.cumulative:
            data["consumption"] = self.consumption
            data["consumption_quality"] = self.consumption_quality
            data["last"] = self.last
        return data


def bucket_size(span: timedelta, readings: int, max_points: int = MAX_POINTS) -> int:
    """0 when every reading fits, else the smallest bucket giving at most max_points buckets."""
    if readings <= max_points:
        return 0
    seconds = span.total_seconds()
    return next((size for size in BUCKETS if seconds / size <= max_points), BUCKETS[-1])


def meter_series(meter_id: int, quantity: str, start: datetime, end: datetime, *, time_zone: str = "UTC",
                 max_points: int = MAX_POINTS) -> Series:
    """One quantity of one meter over [start, end), ready to draw."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be time-zone aware")
    if not start < end:
        raise ValueError("the range must end after it starts")
    if end - start > MAX_RANGE:
        raise ValueError(f"the range may cover at most {MAX_RANGE.days} days")
    rows = Reading.objects.filter(meter_id=meter_id, quantity=quantity, ts__gte=start, ts__lt=end)
    size = bucket_size(end - start, rows[:max_points + 1].count(), max_points)  # stops counting at the budget
    series = Series(quantity, "", is_cumulative(quantity), start, end, size)
    if size:
        _fill_buckets(series, rows, ZoneInfo(time_zone))
    else:
        _fill_readings(series, rows)
    if series.cumulative:
        _fill_consumption(series, _register_before(meter_id, quantity, start))
    return series


def _float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _epoch(ts: datetime) -> int:
    return int(ts.timestamp())


def _fill_readings(series: Series, rows) -> None:
    for ts, value, raw, multiplier, unit, quality in rows.order_by("ts").values_list(
            "ts", "value", "raw_value", "multiplier", "unit", "quality"):
        series.unit = unit
        series.t.append(_epoch(ts))
        series.value.append(float(value))
        series.low.append(float(value))
        series.high.append(float(value))
        series.last.append(float(value))
        series.raw.append(str(raw))
        series.multiplier.append(str(multiplier))
        series.quality.append(quality)


def _fill_buckets(series: Series, rows, zone: ZoneInfo) -> None:
    # Align buckets with the site's local clock, so daily buckets are the site's days.
    offset = int(zone.utcoffset(series.start.astimezone(UTC).replace(tzinfo=None)).total_seconds())
    size = series.bucket_s
    per_quality = {q: Count("ts", filter=Q(quality=q)) for q in SEVERITY[:-1]}
    buckets = list(rows.annotate(bucket=EpochBucket("ts", size, offset)).values("bucket")
                   .annotate(low=Min("value"), mean=Avg("value"), high=Max("value"), last_ts=Max("ts"), **per_quality)
                   .order_by("bucket"))
    # the reading at each bucket's end, by key: one index probe per bucket
    ends = {ts: (value, raw, multiplier, unit) for ts, value, raw, multiplier, unit in
            rows.filter(ts__in=[b["last_ts"] for b in buckets]).values_list("ts", "value", "raw_value",
                                                                             "multiplier", "unit")} if buckets else {}
    for b in buckets:
        value, raw, multiplier, unit = ends.get(b["last_ts"], (None, None, None, series.unit))
        series.unit = unit
        series.t.append(b["bucket"] * size - offset)
        series.value.append(_float(b["mean"]))
        series.low.append(_float(b["low"]))
        series.high.append(_float(b["high"]))
        series.last.append(_float(value))
        series.raw.append(None if raw is None else str(raw))
        series.multiplier.append(None if multiplier is None else str(multiplier))
        series.quality.append(next((q.value for q in SEVERITY[:-1] if b[q]), Quality.ACTUAL.value))


def _register_before(meter_id: int, quantity: str, start: datetime) -> tuple[float, str] | None:
    # Bounded below so PostgreSQL prunes to recent partitions instead of searching every month.
    before = (Reading.objects.filter(meter_id=meter_id, quantity=quantity, ts__lt=start,
                                     ts__gte=start - timedelta(days=62))
              .order_by("-ts").values_list("value", "quality").first())
    return None if before is None else (float(before[0]), before[1])


def worse(a: str, b: str) -> str:
    return a if SEVERITY.index(Quality(a)) < SEVERITY.index(Quality(b)) else b


def _fill_consumption(series: Series, before: tuple[float, str] | None) -> None:
    previous = before
    for end_value, quality in zip(series.last, series.quality, strict=True):
        if end_value is None or previous is None:
            series.consumption.append(None)
            series.consumption_quality.append(quality)
        else:
            series.consumption.append(round(end_value - previous[0], 6))
            series.consumption_quality.append(worse(quality, previous[1]))
        if end_value is not None:
            previous = (end_value, quality)
