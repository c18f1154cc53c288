"""Query speed on a year of 15-minute data: a meter page's year chart and a site's monthly
report, on PostgreSQL, each against a straightforward baseline in the same run.

The dataset (by default 2,000 meters x 365 days x 96 readings = 70 M rows) is generated
in the server with `generate_series`, not through ingest (that is `bench ingest`'s
subject), in its own database, and kept between runs (`--rebuild` to start over): it
takes minutes to build and seconds to query. The reported month's aggregates are then
brought up to date by the project's own aggregation step, as after live ingest.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

BENCH_DB = "meterhub_bench_query"
START = datetime(2025, 1, 1, tzinfo=UTC)
SITE_CODE = "bq"


def dataset_key(meters: int, days: int) -> str:
    return f"meters={meters};days={days};start={START:%Y-%m-%d}"


def _meta(cursor) -> str | None:
    cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text)")
    cursor.execute("SELECT key FROM bench_meta")
    row = cursor.fetchone()
    return row[0] if row else None


def ensure_dataset(meters: int, days: int, rebuild: bool, say: Callable[[str], None]) -> None:
    from django.db import connection, transaction

    with connection.cursor() as cursor:
        if not rebuild and _meta(cursor) == dataset_key(meters, days):
            say("dataset present, reusing it")
            _process_all(say)  # finishes an aggregation an earlier run was stopped in
            return
    say(f"building the dataset: {meters} meters x {days} days of 15-minute reads "
        f"({meters * days * 96:,} rows) ...")
    from meterhub.assets.models import Building, Collector, Meter, MeterInstallation, Premise, Site
    from meterhub.readings import partitions

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE readings_reading, readings_dirtyday")
    with transaction.atomic():
        MeterInstallation.objects.all().delete()
        Meter.objects.all().delete()
        Collector.objects.all().delete()
        Premise.objects.all().delete()
        Building.objects.all().delete()
        Site.objects.all().delete()
        site = Site.objects.create(code=SITE_CODE, name="Query benchmark", time_zone="Asia/Shanghai")
        buildings = Building.objects.bulk_create(Building(site=site, code=f"B{b:02d}") for b in range(20))
        premises = Premise.objects.bulk_create(Premise(site=site, building=buildings[i % 20], unit=str(i))
                                               for i in range(meters))
        collectors = Collector.objects.bulk_create(Collector(code=f"QC{c:04d}", site=site,
                                                             registration_id=f"BQ{c:04d}")
                                                   for c in range((meters + 7) // 8))
        made = Meter.objects.bulk_create(Meter(serial=f"Q{i:06d}", site=site, address=f"{i:012d}",
                                               collector=collectors[i // 8], bus_port=1)
                                         for i in range(meters))
        MeterInstallation.objects.bulk_create(
            MeterInstallation(meter=m, premise=premises[i], valid_from=START - timedelta(days=1))
            for i, m in enumerate(made))
    end = START + timedelta(days=days)
    month = partitions.month_of(START)
    months = []
    while month < end.date():
        months.append(month)
        month = partitions.next_month(month)
    with transaction.atomic():
        partitions.ensure_months(months)
    with connection.cursor() as cursor:
        ids = sorted(m.pk for m in made)
        step = max(1, len(ids) // 50)
        started = time.perf_counter()
        for i in range(0, len(ids), step):  # in slices, to show progress and keep transactions short
            chunk = ids[i:i + step]
            # a cumulative register rising 0.05..0.45 kWh per quarter hour, more by day than by night
            cursor.execute("""
                INSERT INTO readings_reading (meter_id, quantity, ts, value, raw_value, multiplier, unit,
                                              quality, source)
                SELECT m, 'energy_import', ts, v, v, 1, 'kWh', 'actual', 'scheduled' FROM (
                    SELECT m, ts, round((1000 + (m %% 97)
                        + sum(0.05 + 0.2 * (1 + sin(extract(epoch FROM ts) / 13751.0))
                              + ((m * 7919 + extract(epoch FROM ts)::bigint / 900) %% 17) / 80.0)
                          OVER (PARTITION BY m ORDER BY ts))::numeric, 2) AS v
                    FROM unnest(%s::bigint[]) AS m, generate_series(%s::timestamptz, %s::timestamptz
                                                                    - interval '15 minutes',
                                                                    interval '15 minutes') AS ts
                ) gen""", [chunk, START, end])
            done = min(i + step, len(ids))
            rate = done * days * 96 / (time.perf_counter() - started)
            say(f"  readings for {done}/{len(ids)} meters ({rate:,.0f} rows/s)")
        # the reported month's days (and one either side) for the aggregation step
        month = report_month(days)
        cursor.execute("INSERT INTO readings_dirtyday (meter_id, day, marked_at)"
                       " SELECT m, d::date, now() FROM unnest(%s::bigint[]) AS m,"
                       " generate_series(%s::date, %s::date, interval '1 day') AS d"
                       " ON CONFLICT DO NOTHING", [ids, month - timedelta(days=1), end.date()])
        cursor.execute("ANALYZE readings_reading")
        cursor.execute("DELETE FROM bench_meta")
        cursor.execute("INSERT INTO bench_meta VALUES (%s)", [dataset_key(meters, days)])
    _process_all(say)


def report_month(days: int) -> date:
    last = START.date() + timedelta(days=days - 1)
    return date(last.year, last.month, 1)


def _process_all(say) -> None:
    """Bring the aggregates of the reported month up to date with the aggregation step
    itself, a slice of meters at a time. Only that month: the report reads only its rows,
    and the step needs hours on this machine for a year of 2,000 meters. Validation and
    estimation are not run: they judge live data as it arrives."""
    from meterhub.aggregates.maintain import bring_up_to_date
    from meterhub.readings.models import DirtyDay

    meter_ids = sorted(set(DirtyDay.objects.values_list("meter_id", flat=True)))
    say(f"bringing aggregates up to date for {len(meter_ids):,} meters ...")
    started = time.perf_counter()
    for i in range(0, len(meter_ids), 20):
        chunk = meter_ids[i:i + 20]
        marks = list(DirtyDay.objects.filter(meter_id__in=chunk).values_list("meter_id", "day"))
        bring_up_to_date(sorted(marks))
        DirtyDay.objects.filter(meter_id__in=chunk).delete()
        done = i + len(chunk)
        say(f"  {done:,}/{len(meter_ids):,} meters ({done / (time.perf_counter() - started):.1f}/s)")


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Median wall time in ms over `repeat` runs (after one warm-up run) and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def measure(meters: int, days: int, rebuild: bool, repeat: int) -> dict:
    from meterhub.assets.models import Meter, Site

    def say(text):
        print(text, file=sys.stderr)

    ensure_dataset(meters, days, rebuild, say)
    site = Site.objects.get(code=SITE_CODE)
    meter = Meter.objects.filter(site=site).order_by("pk")[meters // 2]
    first, last = START.date(), START.date() + timedelta(days=days - 1)
    month = report_month(days)
    cases = query_cases(meter, site, first, last, month)
    result: dict = {"meters": meters, "days": days, "rows": meters * days * 96, "repeat": repeat}
    for name, (ours, baseline) in cases.items():
        say(f"{name}: ours ...")
        ours_ms, _ = timed(ours, repeat)
        say(f"{name}: baseline ...")
        base_ms, _ = timed(baseline, max(1, repeat // 3))
        result[f"{name}_ms"] = round(ours_ms, 1)
        result[f"{name}_baseline_ms"] = round(base_ms, 1)
        result[f"{name}_ratio"] = round(base_ms / ours_ms, 1) if ours_ms else None
    return result


def query_cases(meter, site, first: date, last: date, month: date) -> dict:
    """name -> (the project's query, a straightforward baseline)."""
    from django.db import connection

    from meterhub.aggregates.reports import Criteria, monthly_consumption
    from meterhub.readings.models import Reading
    from meterhub.readings.series import meter_series

    start = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), tzinfo=UTC)

    def year_chart():
        return meter_series(meter.pk, "energy_import", start, end, time_zone=site.time_zone)

    def year_chart_baseline():
        # every reading of the year through the ORM, differenced and bucketed per day in Python
        rows = list(Reading.objects.filter(meter=meter, quantity="energy_import", ts__gte=start, ts__lt=end)
                    .order_by("ts").values_list("ts", "value"))
        days: dict = {}
        for (t0, v0), (_t1, v1) in zip(rows, rows[1:], strict=False):
            days[t0.date()] = days.get(t0.date(), 0) + (v1 - v0)
        return days

    month_end = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)

    def site_month():
        # the report as the console and its Excel export build it: every meter's month
        return list(monthly_consumption(Criteria(site=site, start=month, end=month_end, scope="meter")).rows)

    def site_month_baseline():
        # from the raw readings: each meter's register at the month's end minus at its start
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT meter_id, max(value) - min(value) FROM readings_reading r"
                " JOIN assets_meter m ON m.id = r.meter_id WHERE m.site_id = %s AND quantity = 'energy_import'"
                " AND ts >= %s AND ts <= %s GROUP BY meter_id",
                [site.pk, datetime.combine(month, datetime.min.time(), tzinfo=UTC),
                 datetime.combine(month_end + timedelta(days=1), datetime.min.time(), tzinfo=UTC)])
            return cursor.fetchall()

    return {"year_chart": (year_chart, year_chart_baseline), "site_month_report": (site_month, site_month_baseline)}
