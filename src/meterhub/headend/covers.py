"""Meter-cover and terminal-cover openings, from the meter's own event records (DL/T 645-2007).

A read plan asks each meter for its two opening counts (03300D00 meter cover, 03300E00
terminal cover). When a count has gone up since the last read, the head-end reads the
newest records (03300D01 is the latest, 03300D02 the one before, ... up to ten) and hands
over one event per record: `cover_open` / `terminal_cover_open` at the record's start (the
meter's clock, local time at its site) and, once the record has one, `cover_closed` /
`terminal_cover_closed` at its end. Events are unique per meter, kind and time, so a
record read twice is stored once, and the alarm rules act only on events stored for the
first time (comms.store).

The last count seen is kept per meter in memory. Where it resumes after a restart: the
number of the newest record stored (MeterRef.cover_numbers, from the fleet loader), and on
the first read it always reads the newest record again (it may have closed meanwhile). A
meter first seen with openings and none stored gives its newest record only: older history
is not read. A count lower than before means the meter's records were cleared: every record
it now has is new. While the newest record has no end yet, it is read again each cycle.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from meterhub.headend.bus import BusError
from meterhub.headend.meter_io import MeterRef, meter_clock_utc
from meterhub.headend.records import EventRecord


@dataclass(frozen=True)
class Cover:
    count_di: int
    opened: str  # event kinds
    closed: str

    def record_di(self, n: int) -> int:
        """The n-th newest record (1 = the latest)."""
        return self.count_di | n


COVERS = (Cover(0x03300D00, "cover_open", "cover_closed"),
          Cover(0x03300E00, "terminal_cover_open", "terminal_cover_closed"))
MAX_RECORDS = 10  # the meter keeps the last ten
COUNT_DIS = tuple(c.count_di for c in COVERS)
ITEM_DIS = frozenset(COUNT_DIS) | {c.count_di | n for c in COVERS for n in range(1, MAX_RECORDS + 1)}
ENERGY_FIELDS = ("forward_active_before", "forward_active_after", "reverse_active_before", "reverse_active_after")


def records_wanted(count: int, known: int | None, *, first_sight: bool, watching_open: bool) -> int:
    """How many of the newest records to read, given the count now and the one known before
    (None: never seen, nothing stored). Pure: the property tests call it."""
    if count <= 0:
        return 0
    if known is None:
        new = 1
    elif count >= known:
        new = count - known
    else:  # the count went down: the meter's event records were cleared since
        new = count
    if first_sight or watching_open:
        new = max(new, 1)
    return min(new, MAX_RECORDS)


def events_of(cover: Cover, meter: MeterRef, count: int, n: int, record: dict, source: str) -> list[EventRecord]:
    """The events one record gives (none for an empty slot)."""
    if not isinstance(record, dict) or record.get("start") is None:
        return []
    number = count - n + 1
    detail = {"number": number, "count": count, "record": f"{cover.record_di(n):08X}",
              "start": record["start"].isoformat(), "end": record["end"].isoformat() if record.get("end") else None,
              **{f: str(record[f]) for f in ENERGY_FIELDS if isinstance(record.get(f), Decimal)}}
    out = [EventRecord(meter.id, cover.opened, meter_clock_utc(record["start"], meter.time_zone), detail, source)]
    if record.get("end") is not None:
        out.append(EventRecord(meter.id, cover.closed, meter_clock_utc(record["end"], meter.time_zone), detail,
                               source))
    return out


@dataclass
class _Seen:
    count: int
    open: bool  # the newest record had no end when last read


class CoverWatch:
    """The cover counts seen per meter, in memory; turns reads into events."""

    def __init__(self):
        self._seen: dict[tuple[int, int], _Seen] = {}

    def _wanted(self, meter: MeterRef, cover: Cover, count: int) -> int:
        seen = self._seen.get((meter.id, cover.count_di))
        known = seen.count if seen is not None else dict(meter.cover_numbers).get(cover.opened)
        return records_wanted(count, known, first_sight=seen is None, watching_open=bool(seen and seen.open))

    def records_to_read(self, meter: MeterRef, values: dict) -> list[int]:
        """The record items to read after a read that brought the counts in `values`."""
        out = []
        for cover in COVERS:
            count = values.get(cover.count_di)
            if isinstance(count, int):
                out += [cover.record_di(n) for n in range(1, self._wanted(meter, cover, count) + 1)]
        return out

    def observe(self, meter: MeterRef, values: dict, source: str = "scheduled") -> list[EventRecord]:
        """Events from the counts and records in `values`. A count whose records are not all
        there (a read failed) changes nothing: the next read asks again."""
        events = []
        for cover in COVERS:
            count = values.get(cover.count_di)
            if not isinstance(count, int):
                continue
            wanted = [(n, values.get(cover.record_di(n))) for n in range(1, self._wanted(meter, cover, count) + 1)]
            if any(record is None or isinstance(record, BusError) for _n, record in wanted):
                continue
            for n, record in wanted:
                events += events_of(cover, meter, count, n, record, source)
            newest = dict(wanted).get(1)  # read whenever the last one was still open
            still_open = isinstance(newest, dict) and newest.get("start") is not None and newest.get("end") is None
            self._seen[(meter.id, cover.count_di)] = _Seen(count, still_open)
        return events


def newest_numbers(rows) -> dict[int, tuple[tuple[str, int], ...]]:
    """{meter id: ((kind, number), ...)} from (meter id, kind, detail) of each meter's newest
    stored opening per kind: MeterRef.cover_numbers."""
    out: dict[int, dict[str, int]] = {}
    for meter_id, kind, detail in rows:
        number = detail.get("number") if isinstance(detail, dict) else None
        if isinstance(number, int):
            out.setdefault(meter_id, {})[kind] = number
    return {meter_id: tuple(sorted(numbers.items())) for meter_id, numbers in out.items()}
