"""The meter page's year chart on PostgreSQL: one meter, one year of 15-minute readings.

A fleet of meters read every 15 minutes is stored in time order through the ingest path,
so one meter's rows lie scattered among the others' as they would in the field. Then the
chart's query (`readings.series.meter_series`, buckets computed in the database) is timed
for a year of the register (with interval consumption) and of active power, against the
naive way in the same run: every reading of the year fetched and bucketed in Python.
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

STEP = timedelta(minutes=15)
START = datetime(2025, 1, 1, tzinfo=UTC)


def _fill(meters: list[int], days: int) -> int:
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings.ingest import store_readings

    steps, stored, batch = days * 96, 0, []
    one, forty = Decimal(1), Decimal(40)
    for step in range(steps):
        ts = START + step * STEP
        for m in meters:
            batch.append(ReadingRecord(m, "energy_import", ts, Decimal(1000 + step) / 4, forty, "kWh", "scheduled",
                                       "estimated" if step % 997 == 0 else "actual"))
            batch.append(ReadingRecord(m, "power_active", ts, Decimal(step % 96) / 10, one, "kW", "scheduled"))
        if len(batch) >= 20_000:
            stored += store_readings(batch).stored
            batch = []
        if step % (steps // 10 or 1) == 0:
            print(f"  {step * 100 // steps} % ({stored:,} readings)", file=sys.stderr)
    return stored + store_readings(batch).stored


def _naive(meter_id: int, quantity: str, start, end) -> int:
    """Every reading to Python, then hourly means: what a chart without downsampling in SQL does."""
    from meterhub.readings.models import Reading

    buckets: dict[int, list] = {}
    for ts, value in Reading.objects.filter(meter_id=meter_id, quantity=quantity, ts__gte=start,
                                            ts__lt=end).order_by("ts").values_list("ts", "value"):
        buckets.setdefault(int(ts.timestamp()) // 21600, []).append(value)
    return len({k: sum(v) / len(v) for k, v in buckets.items()})


def _timed(fn, runs: int) -> tuple[float, float]:
    """(first run, median of the rest) in milliseconds."""
    times = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return round(times[0], 1), round(statistics.median(times[1:]), 1)


def measure(meters: int, days: int, runs: int = 5) -> dict:
    from django.db import connection

    from meterhub.assets.models import Collector, Meter, Site
    from meterhub.readings.series import meter_series

    site = Site.objects.create(code="bench", name="Benchmark", time_zone="Asia/Shanghai")
    collector = Collector.objects.create(code="BC", site=site, registration_id="BENCH")
    Meter.objects.bulk_create(Meter(serial=f"B{i:06d}", site=site, address=f"{i:012d}", collector=collector,
                                    bus_port=1 + i // 32) for i in range(meters))
    ids = list(Meter.objects.values_list("pk", flat=True).order_by("pk"))
    print(f"storing {days} days of 15-minute energy and power for {meters} meters ...", file=sys.stderr)
    t = time.perf_counter()
    stored = _fill(ids, days)
    fill_s = time.perf_counter() - t
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE readings_reading")
    target = ids[len(ids) // 2]
    end = START + timedelta(days=days)
    result: dict = {"meters": meters, "days": days, "readings": stored, "fill_s": round(fill_s, 1),
                    "points_per_quantity": days * 96}
    for quantity in ("energy_import", "power_active"):
        series = meter_series(target, quantity, START, end, time_zone="Asia/Shanghai")
        first, median = _timed(lambda q=quantity: meter_series(target, q, START, end, time_zone="Asia/Shanghai"),
                               runs)
        result[f"year_chart_{quantity}_first_ms"] = first
        result[f"year_chart_{quantity}_ms"] = median
        result[f"year_chart_{quantity}_points"] = len(series.t)
        result[f"year_chart_{quantity}_bucket_s"] = series.bucket_s
    first, median = _timed(lambda: _naive(target, "power_active", START, end), runs)
    result["naive_year_chart_ms"] = median
    result["ratio_naive_to_ours"] = round(median / result["year_chart_power_active_ms"], 1)
    result["target_ms"] = 200
    return result
