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
`COPY` or SQLite `executemany` inside a savepoint, each record checked as the write takes
it, so on PostgreSQL the server stores one slice while the next is checked and
formatted. Only when that hits a key that is already stored does the batch take the
exact path through a staging table and an `INSERT ... ON CONFLICT` upsert.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import chain, repeat
from operator import attrgetter, is_, itemgetter

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from meterhub.headend.records import ReadingRecord
from meterhub.readings import partitions
from meterhub.readings.models import MeterEvent, Quality, ReadingConflict, RejectedReading, Source

BATCH = 2000
COPY_SLICE = 1000  # rows per COPY write
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
# names already found good (a few dozen in practice), kept apart: their length limits differ
_good_quantities: set[str] = set()
_good_units: set[str] = {""}


def _good_name(name, limit: int, seen: set[str]) -> bool:
    ok = type(name) is str and len(name) <= limit and _NAME.fullmatch(name) is not None \
        and name.isprintable()
    if ok and len(seen) < 10_000:
        seen.add(name)
    return ok


def _row(r) -> tuple:
    """The table row for one record, or Rejected with the reason. Exact type checks:
    this runs for every reading, and a subclass of str or Decimal has no business here."""
    meter_id, quantity, ts, raw, multiplier = r.meter_id, r.quantity, r.ts, r.raw_value, r.multiplier
    if type(meter_id) is not int:
        raise Rejected("meter id is not a number")
    if type(quantity) is not str or (quantity not in _good_quantities
                                     and not _good_name(quantity, 40, _good_quantities)):
        raise Rejected("quantity name must be 1-40 printable characters without tabs or backslashes")
    if type(ts) is not datetime or ts.tzinfo is None:
        raise Rejected("timestamp is not a time-zone-aware datetime")
    if ts.tzinfo is not UTC:
        ts = ts.astimezone(UTC)
    if type(raw) is not Decimal or type(multiplier) is not Decimal:
        raise Rejected("value is not a decimal number")
    if not raw.is_finite() or not multiplier.is_finite():
        raise Rejected("value or multiplier is not a finite number")
    if not -MAX_MULTIPLIER < multiplier < MAX_MULTIPLIER:
        raise Rejected("multiplier too large")
    if not -MAX_VALUE < raw < MAX_VALUE:  # checked before multiplying: a huge exponent overflows
        raise Rejected("value too large for the readings table")
    value = raw if multiplier == 1 else raw * multiplier
    if not -MAX_VALUE < value < MAX_VALUE:
        raise Rejected("value too large for the readings table")
    quality = getattr(r, "quality", Quality.ACTUAL)  # the choices' members are str too
    if not isinstance(quality, str) or quality not in _QUALITIES:
        raise Rejected(f"unknown quality {quality!r}")
    if not isinstance(r.source, str) or r.source not in _SOURCES:
        raise Rejected(f"unknown source {r.source!r}")
    if type(r.unit) is not str or (r.unit not in _good_units and not _good_name(r.unit, 12, _good_units)):
        raise Rejected("unit must be up to 12 characters without tabs, newlines or backslashes")
    return (meter_id, quantity, ts, value, raw, multiplier, r.unit, quality, r.source)


_FIELDS = attrgetter("meter_id", "quantity", "ts", "raw_value", "multiplier", "unit", "quality", "source")
_TZINFO = attrgetter("tzinfo")


def _plain_rows(part: list) -> list[tuple] | None:
    """The rows of a slice of records in which every record is plainly good, checked a
    column at a time; None when any record is not, and `_row` then finds which and why.
    Returns exactly what `_row` would, record by record (a property test holds the two
    together): the head-end's batches are all good, and this costs a fraction of
    checking each record in turn. Types are checked over every value before any value is
    hashed (an unhashable or signalling value must not raise here), and instants must
    already be in UTC: equal instants can still differ (a fold, a subclass), so nothing
    about one is inferred from another."""
    if set(map(type, part)) != {ReadingRecord}:
        return None  # other record types (estimates, imports) take the per-record path
    meters, quantities, instants, raws, multipliers, units, qualities, sources = zip(*map(_FIELDS, part), strict=True)
    if not (set(map(type, meters)) == {int}
            and set(map(type, chain(quantities, units, qualities, sources))) == {str}
            and set(map(type, instants)) == {datetime} and all(map(is_, map(_TZINFO, instants), repeat(UTC)))
            and set(map(type, chain(raws, multipliers))) == {Decimal}
            and all(map(Decimal.is_finite, chain(raws, multipliers)))
            and _good_quantities.issuperset(quantities) and _good_units.issuperset(units)
            and _QUALITIES.issuperset(qualities) and _SOURCES.issuperset(sources)
            and -MAX_VALUE < min(raws) and max(raws) < MAX_VALUE):
        return None
    distinct = set(multipliers)
    if distinct != {Decimal(1)}:
        if not all(-MAX_MULTIPLIER < m < MAX_MULTIPLIER for m in distinct):
            return None
        values = [raw if mult == 1 else raw * mult for raw, mult in zip(raws, multipliers, strict=True)]
        if not -MAX_VALUE < min(values) or not max(values) < MAX_VALUE:
            return None
    else:
        values = raws
    return list(zip(meters, quantities, instants, values, raws, multipliers, units, qualities, sources,
                    strict=True))


def _days_of(rows: list[tuple], day_of: dict) -> set[tuple[int, date]]:
    """The (meter, UTC day) pairs of rows; `day_of` caches each instant's day. A slice
    within one day (the usual case) pairs its distinct meters with that day."""
    instants = set(map(_TS_OF_ROW, rows))
    for ts in instants.difference(day_of):
        day_of[ts] = ts.date()
    days = set(map(day_of.__getitem__, instants))
    meters = map(_METER_OF_ROW, rows)
    if len(days) == 1:
        return set(zip(set(meters), repeat(days.pop())))
    return set(zip(meters, map(day_of.__getitem__, map(_TS_OF_ROW, rows)), strict=True))


def store_readings(records: Iterable, using=None) -> IngestResult:
    """Store `records` (objects with ReadingRecord's fields, optionally `quality`)."""
    using = using or connection
    records = records if isinstance(records, list) else list(records)
    result = IngestResult(received=len(records))
    # in meter order (a stable sort: each meter keeps its own order), so the key's B-tree
    # pages are met one after another, each once per batch; the head-end's batches come in
    # the order reads finish, meters of every bus interleaved. Sorted by a total order
    # (ints; anything else, rejected below, first), so each meter's records are together.
    meter_ids = list(map(_METER_ID, records))
    if set(map(type, meter_ids)) <= {int}:  # types first: a NaN or a list cannot be hashed
        ordered, ids = sorted(records, key=_METER_ID), set(meter_ids)
    else:
        ordered, ids = sorted(records, key=_meter_order), {m for m in meter_ids if type(m) is int}
    batch = _Validated(ordered, _known_meters(ids, using))
    with transaction.atomic(using=using.alias):
        if using.vendor == "postgresql":
            partitions.ensure_months(_months_of(records), using)
        result.stored, result.conflicts = _write(batch, using)
        if batch.count:
            result.conflicts += _record_in_batch_conflicts(batch.conflicts, using)
            result.days = batch.days
            _mark_dirty(result.days, using)
        result.rejected = batch.rejected
        if result.rejected:
            _record_rejects(result.rejected)
    return result


_METER_ID = attrgetter("meter_id")
_TS = attrgetter("ts")
_KEY = itemgetter(0, 1, 2)  # (meter_id, quantity, ts) of a row
_METER_OF_ROW, _TS_OF_ROW = itemgetter(0), itemgetter(2)


def _meter_order(record) -> int:
    return record.meter_id if type(record.meter_id) is int else -1


class _Validated:
    """The table rows of a batch's records, made a slice at a time as the write consumes
    them (so on PostgreSQL the server stores one slice while the next is checked). What is
    not written is kept: the rejects with their reasons, and a second row for a key
    already in the batch with another value (an in-batch conflict, with the row kept).

    The records come in meter order and a slice ends only where the meter changes, so
    every record of a key is in one slice: duplicates are looked for within a slice,
    never across the whole batch."""

    def __init__(self, records: list, known_meters: set[int]):
        self.count = 0  # distinct rows made so far
        self.days: set[tuple[int, date]] = set()  # (meter, UTC day) of every distinct row
        self.rejected: list = []
        self.conflicts: list[tuple[tuple, tuple]] = []  # (the row kept, the other row)
        self._made: list[list[tuple]] = []
        self._slices = self._validate(records, known_meters)

    def __iter__(self):
        """Lists of new rows, about COPY_SLICE at a time."""
        return self._slices

    def drain(self) -> list[tuple]:
        """Every distinct row, after checking whatever the write did not get to."""
        for _ in self._slices:
            pass
        return list(chain.from_iterable(self._made))

    def _validate(self, records: list, known: set[int]):
        # the bookkeeping of a slice is done after it is handed to the write, while the
        # server stores it
        day_of: dict = {}
        for part in _meter_slices(records):
            new = _plain_rows(part)
            if new is not None and not (known.issuperset(map(_METER_OF_ROW, new))
                                        and len(set(map(_KEY, new))) == len(new)):
                new = None
            if new is None:
                new = self._each(part, known)
            self._made.append(new)
            self.count += len(new)
            yield new
            if new:
                self.days |= _days_of(new, day_of)

    def _each(self, part: list, known: set[int]) -> list[tuple]:
        """The per-record path: each record checked in turn, bad ones kept with the reason."""
        first_of, new = {}, []
        for r in part:
            try:
                row = _row(r)
            except Rejected as exc:
                self.rejected.append((r, str(exc)))
                continue
            if row[0] not in known:
                self.rejected.append((r, "unknown meter"))
                continue
            first = first_of.setdefault(row[:3], row)
            if first is row:
                new.append(row)
            elif first[3] != row[3]:
                self.conflicts.append((first, row))
        return new


def _meter_slices(records: list):
    """`records` (in meter order) in slices of about COPY_SLICE, each ending where the meter
    changes."""
    start, total = 0, len(records)
    while start < total:
        end = min(start + COPY_SLICE, total)
        if end < total:
            last = _meter_order(records[end - 1])
            while end < total and _meter_order(records[end]) == last:
                end += 1
        yield records[start:end]
        start = end


def _months_of(records: list) -> set:
    """The UTC months of the records' instants. From the first and last instant when they
    are at most a month apart (comparing two UTC datetimes is cheap; hashing each, to
    find the distinct ones, is not), else from every distinct instant."""
    if not records:
        return set()
    try:
        instants = list(map(_TS, records))
        earliest, latest = min(instants), max(instants)  # naive and aware do not compare
        if type(earliest) is datetime and type(latest) is datetime and earliest.tzinfo is not None:
            first, last = partitions.month_of(earliest), partitions.month_of(latest)
            if last <= partitions.next_month(first):
                return {first, last}
    except (TypeError, AttributeError, ArithmeticError):  # not all aware datetimes (rejected later)
        pass
    return {partitions.month_of(ts) for ts in map(_TS, records) if type(ts) is datetime and ts.tzinfo is not None}


def _known_meters(ids: set[int], using) -> set[int]:
    # one parameter whatever the batch's size: a list of thousands of placeholders costs
    # more to send and plan than the lookup itself
    with using.cursor() as cursor:
        if using.vendor == "postgresql":
            cursor.execute("SELECT id FROM assets_meter WHERE id = ANY(%s::bigint[])", [pg_array(sorted(ids))])
        else:
            cursor.execute("SELECT id FROM assets_meter WHERE id IN (SELECT value FROM json_each(%s))",
                           [json.dumps(sorted(ids))])
        return {row[0] for row in cursor.fetchall()}


def pg_array(values) -> str:
    """An array literal of ints, dates or ISO instants (nothing to quote): psycopg's array
    dumper costs milliseconds per thousand elements, and a batch sends thousands."""
    return "{" + ",".join(map(str, values)) + "}"


def _write(batch: _Validated, using) -> tuple[int, int]:
    """Insert the batch's rows; returns (stored, conflicts recorded). Fast path first."""
    try:
        with transaction.atomic(using=using.alias):
            _bulk_insert("readings_reading", batch, using)
        return batch.count, 0
    except IntegrityError:
        pass  # a key is already stored: take the exact path
    return _upsert_through_stage(batch.drain(), using)


def _bulk_insert(table: str, slices: Iterable[list[tuple]], using) -> None:
    """Write rows, given in slices (lists of rows), with COPY or executemany."""
    instant_text: dict = {}
    with using.cursor() as cursor, using.wrap_database_errors:  # COPY bypasses Django's error mapping
        if using.vendor == "postgresql":
            from psycopg.copy import QueuedLibpqWriter  # psycopg is the PostgreSQL extra

            # text format: names were checked free of tabs, newlines and backslashes.
            # Sent in slices by psycopg's writer thread, so neither side waits for the
            # other: the server stores one slice while the next is checked and formatted.
            with cursor.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN",
                             writer=QueuedLibpqWriter(cursor.cursor)) as copy:
                for part in slices:
                    if part:
                        meters, *texts = _as_text(part, instant_text, datetime.isoformat)
                        copy.write("\n".join(map("\t".join, zip(map(str, meters), *texts, strict=True))) + "\n")
        else:
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                [row for part in slices if part for row in zip(*_as_text(part, instant_text, _sqlite_instant), strict=True)])


def _sqlite_instant(ts: datetime) -> str:
    return str(ts.replace(tzinfo=None))  # Django's SQLite form of an aware datetime: naive UTC


def _as_text(part: list[tuple], instant_text: dict, instant_as_text) -> list:
    """A slice's rows as columns, every one but the meter id as text (the form each
    driver takes fastest: str() of a Decimal is much cheaper than format()). Instants and
    multipliers repeat, so each is formatted once; with a multiplier of 1 the value is
    the raw value, and so is its text."""
    meters, quantities, instants, values, raws, multipliers, units, qualities, sources = zip(*part, strict=True)
    for ts in set(instants).difference(instant_text):
        instant_text[ts] = instant_as_text(ts)
    mult_text = {m: str(m) for m in set(multipliers)}
    value_texts = list(map(str, values))
    raw_texts = value_texts if all(map(is_, values, raws)) else list(map(str, raws))
    return [meters, quantities, list(map(instant_text.__getitem__, instants)), value_texts, raw_texts,
            list(map(mult_text.__getitem__, multipliers)), units, qualities, sources]


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
        _bulk_insert("reading_stage", [rows], using)
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


def _record_in_batch_conflicts(conflicting: list[tuple[tuple, tuple]], using) -> int:
    """The same key twice in one batch with different values: the first is stored."""
    objs = [ReadingConflict(meter_id=row[0], quantity=row[1], ts=row[2], stored_value=first[3],
                            other_value=row[3], source=row[8]) for first, row in conflicting]
    if objs:
        ReadingConflict.objects.using(using.alias).bulk_create(objs, ignore_conflicts=True)
    return len(objs)


_renewing_marks: ContextVar[bool] = ContextVar("renewing_marks", default=False)


@contextmanager
def renewing_marks():
    """Within: a day already marked is marked again with a later time (processing's own
    writes, so the day comes round again after the processing that wrote them)."""
    token = _renewing_marks.set(True)
    try:
        yield
    finally:
        _renewing_marks.reset(token)


def _mark_dirty(days: set[tuple[int, date]], using) -> None:
    """Mark each (meter, day) for processing. A mark already there is locked, not rewritten
    (half the cost): processing claims its marks with a row lock, so a day written while
    its processing runs waits for that to commit, finds the mark gone and marks it anew.
    Processing's own writes (`renewing_marks`) renew the mark's time instead, because
    processing removes only the marks it saw unchanged."""
    now = timezone.now()
    # DO UPDATE ... WHERE false takes the row lock and changes nothing
    on_conflict = "ON CONFLICT (meter_id, day) DO UPDATE SET marked_at = EXCLUDED.marked_at" + (
        "" if _renewing_marks.get() else " WHERE false")
    with using.cursor() as cursor:
        if using.vendor == "postgresql":
            meters, dates = zip(*days, strict=True)
            cursor.execute(
                "INSERT INTO readings_dirtyday (meter_id, day, marked_at)"
                f" SELECT m, d, %s FROM unnest(%s::bigint[], %s::date[]) AS t(m, d) {on_conflict}",
                [now, pg_array(meters), pg_array(dates)])
            return
        marked_at = using.ops.adapt_datetimefield_value(now)
        cursor.executemany(
            f"INSERT INTO readings_dirtyday (meter_id, day, marked_at) VALUES (%s, %s, %s) {on_conflict}",
            [(m, d.isoformat(), marked_at) for m, d in sorted(days)])


def _record_rejects(rejected: list) -> None:
    RejectedReading.objects.bulk_create(
        RejectedReading(meter_ref=str(getattr(r, "meter_id", ""))[:40], quantity=str(getattr(r, "quantity", ""))[:80],
                        ts=str(getattr(r, "ts", ""))[:40], value=str(getattr(r, "raw_value", ""))[:80],
                        source=str(getattr(r, "source", ""))[:20], reason=reason[:200])
        for r, reason in rejected)


EVENT_CHUNK = 2000  # events per statement: they go as one JSON parameter, within any parameter limit


def store_events(records: list) -> list:
    """Store events once each (unique per meter, kind and time); returns, in their order,
    the records this transaction stored: what rules act on, so a report delivered twice is
    acted on once. "Stored" is what the INSERT ... ON CONFLICT DO NOTHING ... RETURNING
    reports, so of two head-end nodes storing the same event at once only one gets it back
    (the other waits for its commit and finds it there). The same event twice in a batch:
    the first one counts."""
    using = connection
    ts_field = MeterEvent._meta.get_field("ts")
    first: dict[tuple, object] = {}  # (meter, kind, instant as sent and given back) -> record
    for record in records:
        first.setdefault((record.meter_id, record.kind, ts_field.get_db_prep_value(record.ts, using)), record)
    keys = list(first)
    inserted: set[tuple] = set()
    for start in range(0, len(keys), EVENT_CHUNK):
        inserted.update(_insert_events([(key, first[key]) for key in keys[start:start + EVENT_CHUNK]], using))
    return [record for key, record in first.items() if key in inserted]


def _insert_events(rows: list, using) -> set[tuple]:
    """One INSERT for the rows ((meter, kind, instant), record), their values sent as one
    JSON array; the keys of the rows it inserted, each as in `rows`."""
    columns = "INSERT INTO readings_meterevent (meter_id, kind, ts, detail, source, received_at)"
    returning = "ON CONFLICT (meter_id, kind, ts) DO NOTHING RETURNING meter_id, kind, ts"
    now = timezone.now()
    with using.cursor() as cursor:
        if using.vendor == "postgresql":
            payload = json.dumps([[m, k, ts.isoformat(), json.dumps(r.detail), r.source] for (m, k, ts), r in rows])
            cursor.execute(
                f"{columns} SELECT (e->>0)::bigint, e->>1, (e->>2)::timestamptz, (e->>3)::jsonb, e->>4, %s"
                f" FROM json_array_elements(%s::json) AS e {returning}", [now, payload])
            return set(map(tuple, cursor.fetchall()))  # aware instants, equal to the ones sent
        payload = json.dumps([[m, k, ts, json.dumps(r.detail), r.source] for (m, k, ts), r in rows])
        cursor.execute(
            f"{columns} SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'),"
            " json_extract(value, '$[3]'), json_extract(value, '$[4]'), %s"
            f" FROM json_each(%s) WHERE true {returning}",  # WHERE true: SQLite's INSERT ... SELECT ... ON CONFLICT
            [using.ops.adapt_datetimefield_value(now), payload])
        # an instant comes back as its stored text or, by the column's declared type, as a
        # naive datetime: either way to the text it was sent as
        return {(m, k, ts if isinstance(ts, str) else using.ops.adapt_datetimefield_value(ts))
                for m, k, ts in cursor.fetchall()}
