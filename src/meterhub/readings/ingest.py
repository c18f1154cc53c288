"""Bulk ingest of readings and events.

Every path that stores readings (head-end batches, MQTT feeds, imports, estimates,
manual entry) comes through `store_readings`, which keeps these promises:

* A reading delivered twice is stored once: (meter, quantity, ts) is the table's key.
* An estimate is replaced when the actual value arrives; an actual value is never
  replaced by a later delivery. A re-delivery with a *different* value keeps the stored
  one and records a `ReadingConflict` for an analyst (VEE "duplicates with different values").
* A reading that cannot be stored (unknown meter, value that is not a finite number or
  too large for the column, naive timestamp, bad quantity) is kept as a `RejectedReading`
  with its reason; the rest of the batch is stored.
* Each meter's touched UTC days are marked dirty in the same transaction, so aggregates
  and validation catch up with exactly what changed (`DirtyDay`).

Speed: the common batch (new readings, no duplicates) goes straight in with PostgreSQL
`COPY` or SQLite `executemany` inside a savepoint; only when that hits a key that is
already stored does the batch take the exact path through a staging table and an
`INSERT ... ON CONFLICT` upsert.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from meterhub.readings import partitions
from meterhub.readings.models import MeterEvent, Quality, ReadingConflict, RejectedReading, Source

BATCH = 2000
# received_at is left to the database's default (the time of the write)
COLUMNS = ("meter_id", "quantity", "ts", "value", "raw_value", "multiplier", "unit", "quality", "source")
MAX_VALUE = Decimal("1e14")  # numeric(20, 6): 14 digits before the point
MAX_MULTIPLIER = Decimal("1e8")  # numeric(12, 4)
_QUALITIES = frozenset(Quality.values)
_SOURCES = frozenset(Source.values)


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0  # new rows and estimates replaced
    rejected: list = field(default_factory=list)  # (record, reason)
    conflicts: int = 0
    days: set = field(default_factory=set)  # (meter_id, UTC day) touched

    @property
    def duplicates(self) -> int:
        return self.received - self.stored - len(self.rejected)


class Rejected(ValueError):
    pass


_NAME = re.compile(r"[^\t\n\r\\]+")  # no COPY delimiters or escapes
_good_names: set[str] = set()  # names already found good (a few dozen in practice)


def _good_name(name, limit: int) -> bool:
    ok = type(name) is str and len(name) <= limit and _NAME.fullmatch(name) is not None \
        and name.isprintable()
    if ok and len(_good_names) < 10_000:
        _good_names.add(name)
    return ok


def _row(r) -> tuple:
    """The table row for one record, or Rejected with the reason. Exact type checks:
    this runs for every reading, and a subclass of str or Decimal has no business here."""
    meter_id, quantity, ts, raw, multiplier = r.meter_id, r.quantity, r.ts, r.raw_value, r.multiplier
    if type(meter_id) is not int:
        raise Rejected("meter id is not a number")
    if quantity not in _good_names and not _good_name(quantity, 40):
        raise Rejected("quantity name must be 1-40 printable characters without tabs or backslashes")
    if type(ts) is not datetime or ts.tzinfo is None:
        raise Rejected("timestamp is not a time-zone-aware datetime")
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    if type(raw) is not Decimal or type(multiplier) is not Decimal:
        raise Rejected("value is not a decimal number")
    if not raw.is_finite() or not multiplier.is_finite():
        raise Rejected("value or multiplier is not a finite number")
    value = raw if multiplier == 1 else raw * multiplier
    if not -MAX_VALUE < value < MAX_VALUE or not -MAX_VALUE < raw < MAX_VALUE:
        raise Rejected("value too large for the readings table")
    if not -MAX_MULTIPLIER < multiplier < MAX_MULTIPLIER:
        raise Rejected("multiplier too large")
    quality = getattr(r, "quality", Quality.ACTUAL)
    if quality not in _QUALITIES:
        raise Rejected(f"unknown quality {quality!r}")
    if r.source not in _SOURCES:
        raise Rejected(f"unknown source {r.source!r}")
    if r.unit not in _good_names and r.unit != "" and not _good_name(r.unit, 12):
        raise Rejected("unit must be up to 12 characters without tabs, newlines or backslashes")
    return (meter_id, quantity, ts, value, raw, multiplier, r.unit, quality, r.source)


def store_readings(records: Iterable, using=None) -> IngestResult:
    """Store `records` (objects with ReadingRecord's fields, optionally `quality`)."""
    using = using or connection
    result = IngestResult()
    rows: dict[tuple, tuple] = {}
    in_batch_conflicts = []
    for r in records:
        result.received += 1
        try:
            row = _row(r)
        except Rejected as exc:
            result.rejected.append((r, str(exc)))
            continue
        key = row[:3]
        first = rows.get(key)
        if first is None:
            rows[key] = row
        elif first[3] != row[3]:
            in_batch_conflicts.append(row)
    known = _known_meters({key[0] for key in rows}, using)
    for key in [k for k in rows if k[0] not in known]:
        result.rejected.append((_AsRecord(rows.pop(key)), "unknown meter"))
    with transaction.atomic(using=using.alias):
        if rows:
            day_of = {ts: ts.date() for ts in {key[2] for key in rows}}  # a batch repeats few instants
            if using.vendor == "postgresql":
                partitions.ensure_months({partitions.month_of(ts) for ts in day_of}, using)
            # in key order: each B-tree page is visited once per batch, not once per row
            result.stored, result.conflicts = _write([rows[k] for k in sorted(rows)], using)
            result.conflicts += _record_in_batch_conflicts(in_batch_conflicts, rows, using)
            result.days = {(m, day_of[ts]) for m, _q, ts in rows}
            _mark_dirty(result.days, using)
        if result.rejected:
            _record_rejects(result.rejected)
    return result


class _AsRecord:
    """A validated row seen as a record again, for the reject log."""

    def __init__(self, row):
        self.meter_id, self.quantity, self.ts, _value, self.raw_value = row[:5]
        self.source = row[8]


def _known_meters(ids: set[int], using) -> set[int]:
    found: set[int] = set()
    ids_list = sorted(ids)
    with using.cursor() as cursor:
        for i in range(0, len(ids_list), 900):  # SQLite's parameter limit
            chunk = ids_list[i:i + 900]
            cursor.execute(f"SELECT id FROM assets_meter WHERE id IN ({', '.join(['%s'] * len(chunk))})", chunk)
            found.update(row[0] for row in cursor.fetchall())
    return found


def _write(rows: list[tuple], using) -> tuple[int, int]:
    """Insert `rows` (distinct keys); returns (stored, conflicts recorded). Fast path first."""
    try:
        with transaction.atomic(using=using.alias):
            _bulk_insert("readings_reading", rows, using)
        return len(rows), 0
    except IntegrityError:
        pass  # a key is already stored: take the exact path
    return _upsert_through_stage(rows, using)


def _bulk_insert(table: str, rows: list[tuple], using) -> None:
    with using.cursor() as cursor, using.wrap_database_errors:  # COPY bypasses Django's error mapping
        if using.vendor == "postgresql":
            # text format: names were checked free of tabs, newlines and backslashes
            ts_text: dict = {}
            with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                copy.write("".join([
                    f"{m}\t{q}\t{ts_text.get(ts) or ts_text.setdefault(ts, ts.isoformat())}\t{value}\t{raw}"
                    f"\t{mult}\t{unit}\t{quality}\t{source}\n"
                    for m, q, ts, value, raw, mult, unit, quality, source in rows]))
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                _sqlite_rows(rows))


def _sqlite_rows(rows: list[tuple]) -> list[tuple]:
    """Rows in Django's SQLite formats (aware datetime: naive UTC via str(); decimal: str).
    A batch repeats the same instants and multipliers, so their text is made once."""
    text: dict = {}

    def as_text(x):
        t = text.get(x)
        if t is None:
            t = text[x] = str(x.replace(tzinfo=None)) if type(x) is datetime else str(x)
        return t

    return [(m, q, as_text(ts), str(value), str(raw), as_text(mult), unit, quality, source)
            for m, q, ts, value, raw, mult, unit, quality, source in rows]


def _upsert_through_stage(rows: list[tuple], using) -> tuple[int, int]:
    """The exact path: stage the rows, record conflicts, upsert over estimates only."""
    cols = ", ".join(COLUMNS)
    with using.cursor() as cursor:
        if using.vendor == "postgresql":
            cursor.execute("CREATE TEMP TABLE IF NOT EXISTS reading_stage"
                           " (LIKE readings_reading INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
        else:
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS reading_stage ({cols})")
        cursor.execute("DELETE FROM reading_stage")
        _bulk_insert("reading_stage", rows, using)
        cursor.execute(
            "INSERT INTO readings_readingconflict (meter_id, quantity, ts, stored_value, other_value, source, seen_at)"
            " SELECT r.meter_id, r.quantity, r.ts, r.value, s.value, s.source, CURRENT_TIMESTAMP"
            " FROM reading_stage s JOIN readings_reading r"
            " ON r.meter_id = s.meter_id AND r.quantity = s.quantity AND r.ts = s.ts"
            " WHERE r.value <> s.value AND r.quality IN ('actual', 'suspect') AND s.quality <> 'estimated'"
            " ON CONFLICT DO NOTHING")
        conflicts = cursor.rowcount
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[3:]) + ", received_at = CURRENT_TIMESTAMP"
        cursor.execute(
            f"INSERT INTO readings_reading ({cols}) SELECT {cols} FROM reading_stage WHERE true"
            f" ON CONFLICT (meter_id, quantity, ts) DO UPDATE SET {updates}"
            " WHERE readings_reading.quality = 'estimated'")
        stored = cursor.rowcount
        cursor.execute("DELETE FROM reading_stage")
    return stored, conflicts


def _record_in_batch_conflicts(conflicting: list[tuple], kept: dict, using) -> int:
    """The same key twice in one batch with different values: the first is stored."""
    objs = []
    for row in conflicting:
        first = kept.get(row[:3])
        if first is None:
            continue
        objs.append(ReadingConflict(meter_id=row[0], quantity=row[1], ts=row[2], stored_value=first[3],
                                    other_value=row[3], source=row[8]))
    if objs:
        ReadingConflict.objects.using(using.alias).bulk_create(objs, ignore_conflicts=True)
    return len(objs)


def _mark_dirty(days: set[tuple[int, date]], using) -> None:
    now = timezone.now()
    with using.cursor() as cursor:
        if using.vendor == "postgresql":
            meters, dates = zip(*days, strict=True)
            cursor.execute(
                "INSERT INTO readings_dirtyday (meter_id, day, marked_at)"
                " SELECT m, d, %s FROM unnest(%s::bigint[], %s::date[]) AS t(m, d)"
                " ON CONFLICT (meter_id, day) DO UPDATE SET marked_at = EXCLUDED.marked_at",
                [now, list(meters), list(dates)])
            return
        cursor.executemany(
            "INSERT INTO readings_dirtyday (meter_id, day, marked_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (meter_id, day) DO UPDATE SET marked_at = EXCLUDED.marked_at",
            [(m, using.ops.adapt_datefield_value(d), using.ops.adapt_datetimefield_value(now))
             for m, d in sorted(days)])


def _record_rejects(rejected: list) -> None:
    RejectedReading.objects.bulk_create(
        RejectedReading(meter_ref=str(getattr(r, "meter_id", ""))[:40], quantity=str(getattr(r, "quantity", ""))[:80],
                        ts=str(getattr(r, "ts", ""))[:40], value=str(getattr(r, "raw_value", ""))[:80],
                        source=str(getattr(r, "source", ""))[:20], reason=reason[:200])
        for r, reason in rejected)


def store_events(records) -> None:
    MeterEvent.objects.bulk_create(
        (MeterEvent(meter_id=r.meter_id, kind=r.kind, ts=r.ts, detail=r.detail, source=r.source)
         for r in records),
        batch_size=BATCH, ignore_conflicts=True,
    )
