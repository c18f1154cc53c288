"""Aggregates upkeep: the incremental processing step against a from-scratch recompute, same run.

A site of `meters` electricity meters with `days` of 15-minute reads of five registers is
built and caught up; then one more 15-minute batch arrives. Timed: the processing step
bringing the aggregates up to date after that batch (what the head-end does every few
seconds), against recomputing every day of the same meters from scratch (what a job that
rebuilds the figures for every page or every night would do). Runs inside a transaction
that is rolled back, so it leaves the database as it was.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import transaction

REGISTERS = ("energy_import", "energy_import_t1", "energy_import_t2", "energy_import_t3", "energy_import_t4")
START = datetime(2026, 1, 1, tzinfo=UTC)


class _Rollback(Exception):
    pass


def _batch(meter_ids: list[int], ts: datetime, step: int) -> list:
    from meterhub.headend.records import ReadingRecord

    one = Decimal(1)
    return [ReadingRecord(m, q, ts, Decimal(step * 25 + i) / 100, one, "kWh", "scheduled")
            for m in meter_ids for i, q in enumerate(REGISTERS)]


def _fleet(meters: int) -> list:
    from meterhub.assets.models import Building, Collector, Meter, MeterInstallation, Premise, Site

    site = Site.objects.create(code="bench-aggregates", name="Benchmark", time_zone="Asia/Shanghai")
    building = Building.objects.create(site=site, code="B")
    collector = Collector.objects.create(code="BENCH-AGG", site=site, registration_id="BENCH-AGG")
    Meter.objects.bulk_create(Meter(serial=f"BA{i:06d}", site=site, address=f"{i:012d}", collector=collector,
                                    bus_port=1 + i // 32) for i in range(meters))
    fleet = list(Meter.objects.filter(site=site).select_related("site").order_by("pk"))
    Premise.objects.bulk_create(Premise(site=site, building=building, unit=m.serial) for m in fleet)
    premises = dict(Premise.objects.filter(site=site).values_list("unit", "pk"))
    MeterInstallation.objects.bulk_create(MeterInstallation(meter=m, premise_id=premises[m.serial],
                                                            valid_from=START - timedelta(days=30)) for m in fleet)
    return fleet


def _analyze() -> None:
    """Planner statistics, as autovacuum keeps them on a live server (it cannot see rows
    inside this uncommitted transaction)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE readings_reading, aggregates_meterday, aggregates_metermonth, "
                           "aggregates_totalday, readings_dirtyday")


def _drain() -> int:
    from meterhub.readings import processing

    done = 0
    while n := processing.process_dirty(500):
        done += n
    return done


def measure(meters: int, days: int) -> dict:
    from meterhub.aggregates import maintain
    from meterhub.aggregates.models import MeterDay
    from meterhub.readings.ingest import store_readings

    result: dict = {}
    try:
        with transaction.atomic():
            fleet = _fleet(meters)
            ids = [m.pk for m in fleet]
            steps = days * 96
            print(f"storing {steps * len(ids) * len(REGISTERS):,} readings ...", file=sys.stderr)
            for step in range(steps):
                store_readings(_batch(ids, START + timedelta(minutes=15 * step), step))
            _analyze()
            t = time.perf_counter()
            marks = _drain()
            _analyze()
            result["catch_up_s"] = round(time.perf_counter() - t, 3)
            result["catch_up_meter_days_per_s"] = round(marks / result["catch_up_s"], 1)

            store_readings(_batch(ids, START + timedelta(minutes=15 * steps), steps))
            t = time.perf_counter()
            _drain()
            result["incremental_s"] = round(time.perf_counter() - t, 3)

            utc_days = [(START + timedelta(days=n)).date() for n in range(days + 1)]
            t = time.perf_counter()
            touched = maintain.recompute_meters({m.pk: utc_days for m in fleet})  # the same batched code
            maintain.refresh_sites({(m.site_id, d) for m, days in touched.items() for d in days})
            result["from_scratch_s"] = round(time.perf_counter() - t, 3)
            result.update(meters=meters, days=days, readings=(steps + 1) * len(ids) * len(REGISTERS),
                          meter_days=MeterDay.objects.filter(meter__in=ids).count(),
                          speedup=round(result["from_scratch_s"] / result["incremental_s"], 1))
            raise _Rollback
    except _Rollback:
        pass
    return result
