"""Readings ingest: the project's path (`readings.ingest.store_readings`) into SQLite and
PostgreSQL, beside a per-row Django ORM `save()` baseline, in one run.

The records are built before the clock starts (they arrive ready from the head-end);
what is timed is validation, partition upkeep, the write and the dirty-day marks, in
batches the size the head-end's sink hands over. Each database is a fresh one made for
the run: a temporary SQLite file and a `meterhub_bench` PostgreSQL database, dropped after.

Two shapes of batch, because the table's key (meter, quantity, ts) makes their costs differ:

* `interval`: every meter's 15-minute read, one instant after another, as the head-end's
  scheduled reads arrive. Each batch touches every meter's part of the key, so it
  dirties a B-tree page per meter and quantity (the main figures);
* `profile`: each meter's whole day of load profile at a time, as load-profile reads
  and imports arrive; consecutive rows share B-tree pages.

Beside ours, the database engine's own speed for the same `interval` rows (pre-formatted,
unchecked, no dirty marks, into an empty copy of the table) shows how much of the time is
the engine's and how much ours.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

PG_BENCH_DB = "meterhub_bench"
QUANTITIES = ("energy_import", "energy_import_t1", "energy_import_t2", "energy_import_t3")


def records(meters: list[int], count: int, start: datetime, shape: str = "interval"):
    """`count` readings in 15-minute steps from `start`: every meter's slot one instant after
    another (`interval`), or each meter's whole day in turn (`profile`)."""
    from meterhub.headend.records import ReadingRecord

    one = Decimal(1)

    def reading(m: int, step: int, i: int, q: str):
        return ReadingRecord(m, q, start + timedelta(minutes=15 * step), Decimal(f"{1000 + step * 0.25 + i:.2f}"),
                             one, "kWh", "scheduled")

    out: list = []
    if shape == "interval":
        step = 0
        while len(out) < count:
            out.extend(reading(m, step, i, q) for m in meters for i, q in enumerate(QUANTITIES))
            step += 1
    else:
        day = 0
        while len(out) < count:
            out.extend(reading(m, day * 96 + slot, i, q) for m in meters for slot in range(96)
                       for i, q in enumerate(QUANTITIES))
            day += 1
    return out[:count]


def _fleet(alias: str, meters: int) -> list[int]:
    from meterhub.assets.models import Collector, Meter, Site

    site = Site.objects.using(alias).create(code="bench", name="Benchmark", time_zone="Asia/Shanghai")
    collector = Collector.objects.using(alias).create(code="BC", site=site, registration_id="BENCH")
    Meter.objects.using(alias).bulk_create(
        Meter(serial=f"B{i:06d}", site=site, address=f"{i:012d}", collector=collector, bus_port=1 + i // 32)
        for i in range(meters))
    return list(Meter.objects.using(alias).values_list("pk", flat=True))


def _ours(alias: str, batch: list, batch_size: int) -> float:
    from django.db import connections

    from meterhub.readings.ingest import store_readings

    conn = connections[alias]
    stored = 0
    start = time.perf_counter()
    for i in range(0, len(batch), batch_size):
        stored += store_readings(batch[i:i + batch_size], using=conn).stored
    elapsed = time.perf_counter() - start
    if stored != len(batch):
        raise RuntimeError(f"ingest stored {stored} of {len(batch)} readings on {alias}")
    return len(batch) / elapsed


def _orm(alias: str, batch: list) -> float:
    from meterhub.readings.models import Reading

    start = time.perf_counter()
    for r in batch:
        Reading(meter_id=r.meter_id, quantity=r.quantity, ts=r.ts, value=r.value, raw_value=r.raw_value,
                multiplier=r.multiplier, unit=r.unit, source=r.source).save(using=alias)
    return len(batch) / (time.perf_counter() - start)


def _engine(alias: str, batch: list, batch_size: int, partitioned: bool = False) -> float:
    """The same rows written as the database takes them fastest, with nothing checked or
    marked: COPY of pre-formatted text, or executemany of pre-converted tuples. On
    PostgreSQL into a plain table, or (`partitioned`) into one partitioned by month like
    the readings table."""
    from django.db import connections, transaction

    from meterhub.readings import ingest, partitions

    conn = connections[alias]
    columns = ", ".join(ingest.COLUMNS)
    rows = [ingest._row(r) for r in batch]
    table = "engine_reading_partitioned" if partitioned else "engine_reading"
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql":
            if partitioned:
                cursor.execute(f"CREATE TABLE {table} (LIKE readings_reading INCLUDING DEFAULTS,"
                               f" PRIMARY KEY (meter_id, quantity, ts)) PARTITION BY RANGE (ts)")
                for month in sorted({partitions.month_of(row[2]) for row in rows}):
                    cursor.execute(f"CREATE TABLE {table}_{month:%Y_%m} PARTITION OF {table} FOR VALUES"
                                   f" FROM ('{month} 00:00+00') TO ('{partitions.next_month(month)} 00:00+00')")
            else:
                cursor.execute(f"CREATE TABLE {table} (LIKE readings_reading INCLUDING ALL)")
            text = ["".join(f"{m}\t{q}\t{ts.isoformat()}\t{v}\t{raw}\t{mult}\t{u}\t{ql}\t{src}\n"
                            for m, q, ts, v, raw, mult, u, ql, src in rows[i:i + batch_size])
                    for i in range(0, len(rows), batch_size)]
        else:
            cursor.execute(f"CREATE TABLE {table} AS SELECT * FROM readings_reading WHERE 0")
            cursor.execute(f"CREATE UNIQUE INDEX {table}_key ON {table} (meter_id, quantity, ts)")
            converted = list(zip(*ingest._as_text(rows, {}, ingest._sqlite_instant), strict=True))
            parts = [converted[i:i + batch_size] for i in range(0, len(converted), batch_size)]
    insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join('?' * len(ingest.COLUMNS))})"
    start = time.perf_counter()
    for part in (text if conn.vendor == "postgresql" else parts):
        with transaction.atomic(using=alias), conn.cursor() as cursor:
            if conn.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write(part)
            else:
                cursor.executemany(insert, part)
    return len(batch) / (time.perf_counter() - start)


def measure(alias_sqlite: str, alias_pg: str | None, rows: int, baseline_rows: int, meters: int,
            batch_size: int) -> dict:
    result: dict = {"rows": rows, "batch_size": batch_size, "meters": meters}
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for alias, key in ((alias_pg, "postgres"), (alias_sqlite, "sqlite")):
        if alias is None:
            continue
        ids = _fleet(alias, meters)
        data = records(ids, rows, start)
        print(f"{key}: storing {rows} readings through the ingest path (interval shape) ...", file=sys.stderr)
        result[f"{key}_rows_per_s"] = round(_ours(alias, data, batch_size))
        print(f"{key}: storing {baseline_rows} readings with ORM save() (baseline) ...", file=sys.stderr)
        later = records(ids, baseline_rows, start + timedelta(days=3650))
        result[f"{key}_orm_rows_per_s"] = round(_orm(alias, later))
        result[f"{key}_ratio_to_orm"] = round(result[f"{key}_rows_per_s"] / result[f"{key}_orm_rows_per_s"], 1)
        print(f"{key}: the engine's own speed for the same rows ...", file=sys.stderr)
        result[f"{key}_engine_rows_per_s"] = round(_engine(alias, data, batch_size))
        if key == "postgres":
            result["postgres_engine_partitioned_rows_per_s"] = round(_engine(alias, data, batch_size, partitioned=True))
        del data
        print(f"{key}: storing {rows} readings through the ingest path (profile shape) ...", file=sys.stderr)
        profile = records(ids, rows, start + timedelta(days=400), shape="profile")
        result[f"{key}_profile_rows_per_s"] = round(_ours(alias, profile, batch_size))
    result["orm_rows_per_s"] = result.get("postgres_orm_rows_per_s", result.get("sqlite_orm_rows_per_s"))
    return result
