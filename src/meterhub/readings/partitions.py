"""Monthly partitions of the readings table on PostgreSQL.

Ingest calls `ensure_months` for the months of every batch before writing it, so rows
land in their month's partition and old months can be detached, archived or dropped
whole (docs/operations.md). The default partition only catches rows written by other
means; creating a month moves any such rows into it, so a late partition never fails.
SQLite has one table; every function here is a no-op there.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.db import connection

TABLE = "readings_reading"
_known: set[tuple[str, date]] = set()  # (database alias, first day of month) already present


def month_of(ts: datetime) -> date:
    ts = ts.astimezone(UTC)
    return date(ts.year, ts.month, 1)


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{TABLE}_p{month:%Y_%m}"


def ensure_months(months, using=connection) -> int:
    """Create the partitions of `months` (first days) that are missing; returns how many."""
    if using.vendor != "postgresql":
        return 0
    missing = sorted({m for m in months if (using.alias, m) not in _known})
    if not missing:
        return 0
    created = 0
    with using.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                       " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s", [TABLE])
        present = {row[0] for row in cursor.fetchall()}
        for month in missing:
            if partition_name(month) not in present:
                _create(cursor, month)
                created += 1
    # remembered once committed: a rolled-back creation must be tried again
    using.on_commit(lambda: _known.update((using.alias, m) for m in missing))
    return created


def _create(cursor, month: date) -> None:
    """Create one month's partition, moving any of its rows out of the default partition.
    An advisory lock (released at commit) keeps two writers from racing on the same month."""
    name, start, end = partition_name(month), f"{month:%Y-%m-%d} 00:00+00", f"{next_month(month):%Y-%m-%d} 00:00+00"
    cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [name])
    cursor.execute("SELECT to_regclass(%s)", [name])
    if cursor.fetchone()[0] is not None:
        return
    cursor.execute(f"CREATE TABLE {name} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
    cursor.execute(f"WITH moved AS (DELETE FROM {TABLE}_default WHERE ts >= '{start}' AND ts < '{end}'"
                   f" RETURNING *) INSERT INTO {name} SELECT * FROM moved")
    cursor.execute(f"ALTER TABLE {TABLE} ATTACH PARTITION {name} FOR VALUES FROM ('{start}') TO ('{end}')")


def forget() -> None:
    """Drop the cache of known partitions (after a test database is rebuilt)."""
    _known.clear()
