"""Billing determinants: how much was used in a period, per tariff period, from stored reads.

A meter with tariff registers (energy_import_t1..t4, sharp/peak/flat/valley) is settled
from the difference of each register between the opening and closing settlement reads:
the meter did the time-of-use sorting itself. A meter without them, on a time-of-use
tariff, is settled from its interval data: each step between two consecutive reads of
the total register is put in the period in force at the step's start (site-local time,
weekends and holidays on the rest-day table). The settlement read at a boundary is the
latest read at or before it, no older than `SETTLEMENT_TOLERANCE` (an older one would
bill too little and leave the rest to the next period: better to say the read is missing,
so that it is read again or estimated, and run the bill for the account again).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection

from meterhub.billing import tariffs
from meterhub.readings.models import Quality, Reading

SETTLEMENT_TOLERANCE = timedelta(days=2)
TOTAL_REGISTER = {"electricity": "energy_import", "water": "water_volume", "gas": "gas_volume"}
TOU_REGISTERS = tuple(tariffs.PERIOD_REGISTER.values())
BILLABLE = (Quality.ACTUAL, Quality.ESTIMATED, Quality.EDITED)  # suspect reads are not billed


class NoDeterminants(Exception):
    """The period cannot be settled (no read, a register ran backwards): why, for the operator."""


@dataclass(frozen=True)
class Read:
    ts: datetime
    value: Decimal
    quality: str

    def as_json(self) -> list:
        return [self.ts.isoformat(), str(self.value), self.quality]

    @classmethod
    def from_json(cls, row: list) -> Read:
        return cls(datetime.fromisoformat(row[0]), Decimal(row[1]), row[2])


def quantities_for(utility: str) -> tuple[str, ...]:
    total = TOTAL_REGISTER[utility]
    return (total, *TOU_REGISTERS) if utility == "electricity" else (total,)


def reads_at(meter_ids: Iterable[int], quantities: Iterable[str], at: datetime,
             tolerance: timedelta = SETTLEMENT_TOLERANCE) -> dict[tuple[int, str], Read]:
    """The latest billable read of each (meter, quantity) in (at - tolerance, at]."""
    meter_ids, quantities = sorted(set(meter_ids)), sorted(set(quantities))
    if not meter_ids:
        return {}
    if connection.vendor == "postgresql":
        # One index probe per (meter, register), newest first: cheap however dense the data.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT m.id, q.name, r.ts, r.value, r.quality"
                " FROM unnest(%s::bigint[]) AS m(id) CROSS JOIN unnest(%s::text[]) AS q(name)"
                " CROSS JOIN LATERAL (SELECT ts, value, quality FROM readings_reading"
                "   WHERE meter_id = m.id AND quantity = q.name COLLATE \"C\" AND ts <= %s AND ts > %s"
                "   AND quality = ANY(%s) ORDER BY ts DESC LIMIT 1) r",
                [meter_ids, quantities, at, at - tolerance, list(BILLABLE)])
            return {(m, q): Read(ts, value, quality) for m, q, ts, value, quality in cursor.fetchall()}
    out: dict[tuple[int, str], Read] = {}
    rows = (Reading.objects.filter(meter_id__in=meter_ids, quantity__in=quantities, ts__lte=at,
                                   ts__gt=at - tolerance, quality__in=BILLABLE)
            .order_by("meter_id", "quantity", "-ts").values_list("meter_id", "quantity", "ts", "value", "quality"))
    for m, q, ts, value, quality in rows:
        out.setdefault((m, q), Read(ts, value, quality))
    return out


def first_reads(meter_ids: Iterable[int], quantities: Iterable[str], start: datetime, end: datetime
                ) -> dict[tuple[int, str], Read]:
    """The earliest billable read in [start, end): the opening read of a meter new in the period."""
    out: dict[tuple[int, str], Read] = {}
    rows = (Reading.objects.filter(meter_id__in=list(meter_ids), quantity__in=list(quantities), ts__gte=start,
                                   ts__lt=end, quality__in=BILLABLE)
            .order_by("meter_id", "quantity", "ts").values_list("meter_id", "quantity", "ts", "value", "quality"))
    for m, q, ts, value, quality in rows:
        out.setdefault((m, q), Read(ts, value, quality))
    return out


def volumes(utility: str, opening: dict[str, Read], closing: dict[str, Read], *, time_of_use: bool
            ) -> dict[str, Decimal] | None:
    """Per-period volumes from register differences; None when the meter has no tariff
    registers and the tariff needs them (use `interval_volumes`)."""
    total = TOTAL_REGISTER[utility]
    if total not in opening or total not in closing:
        raise NoDeterminants(f"no settlement read of {total}")
    used = closing[total].value - opening[total].value
    if used < 0:
        raise NoDeterminants(f"{total} ran backwards ({opening[total].value} to {closing[total].value})")
    if not time_of_use:
        return {tariffs.TOTAL: used}
    by_period = {}
    for period, register in tariffs.PERIOD_REGISTER.items():
        if register in opening and register in closing:
            by_period[period] = closing[register].value - opening[register].value
    if not by_period:
        return None
    if any(v < 0 for v in by_period.values()):
        raise NoDeterminants("a tariff register ran backwards")
    return by_period


def interval_volumes(meter_id: int, quantity: str, start: datetime, end: datetime, plan: tariffs.Plan,
                     time_zone: str, holidays: Iterable[date] = ()) -> dict[str, Decimal]:
    """Per-period volumes from consecutive reads of the total register in [start, end]."""
    zone, holidays = ZoneInfo(time_zone), set(holidays)
    rows = list(Reading.objects.filter(meter_id=meter_id, quantity=quantity, ts__gte=start, ts__lte=end,
                                       quality__in=BILLABLE).order_by("ts").values_list("ts", "value"))
    out: dict[str, Decimal] = {}
    for (t0, v0), (_t1, v1) in zip(rows, rows[1:], strict=False):
        if v1 < v0:
            raise NoDeterminants(f"{quantity} ran backwards at {_t1.isoformat()}")
        period = tariffs.period_at(plan, t0.astimezone(zone), holidays)
        out[period] = out.get(period, Decimal(0)) + (v1 - v0)
    if not rows:
        raise NoDeterminants(f"no interval data of {quantity}")
    return out
