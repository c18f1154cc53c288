"""Validation rules: each a pure function of one meter's local day -> findings.

`DayData` holds everything a rule may look at, gathered by `validation.load`; a rule
never queries the database. docs/vee.md describes each rule, its setting and default.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from meterhub.vee import series
from meterhub.vee.config import Thresholds
from meterhub.vee.series import Point


@dataclass(frozen=True)
class Found:
    rule: str
    severity: str  # Finding.Severity
    quantity: str = ""
    ts: datetime | None = None  # None: about the day
    detail: dict = field(default_factory=dict)
    suspect: tuple[datetime, ...] = ()  # readings of `quantity` whose value itself is doubtful


@dataclass
class DayData:
    meter_id: int
    kind: str  # electricity / water / gas
    day: date  # the site's local day
    start: datetime  # UTC bounds of the local day, [start, end)
    end: datetime
    now: datetime
    series: dict[str, list[Point]]  # this day's readings per quantity, by time
    before: dict[str, Point] = field(default_factory=dict)  # each register's last read before `start`
    expected_slots: list[datetime] = field(default_factory=list)  # read-plan slots due by now in this day
    history: list[Decimal | None] = field(default_factory=list)  # main register's use on the days before
    resets: tuple[datetime, ...] = ()  # this meter was installed or removed at these instants
    zero_window_start: Point | None = None  # main register's read at the start of the zero-use window
    occupied_throughout: bool = False  # the premise it served had a tenant over the whole window
    conflicts: list[tuple[str, datetime, Decimal, Decimal]] = field(default_factory=list)

    @property
    def main(self) -> str:
        return series.MAIN_REGISTER.get(self.kind, "energy_import")

    def register(self, quantity: str) -> list[Point]:
        """The day's reads with the last one before the day in front (for the first step)."""
        prior = self.before.get(quantity)
        points = self.series.get(quantity, [])
        return ([prior] if prior else []) + points


def _iso(ts: datetime) -> str:
    return ts.isoformat()


def _num(value) -> str:
    """500.000000 -> "500", 0.50 -> "0.5": figures as people write them."""
    if value is None:
        return "-"
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def missing_interval(d: DayData, t: Thresholds) -> list[Found]:
    """Read-plan slots with no actual value of the main register (an estimate does not count)."""
    have = {p.ts for p in d.series.get(d.main, []) if not p.estimated}
    missing = [slot for slot in d.expected_slots if slot not in have]
    if not missing:
        return []
    return [Found("missing_interval", "warning", d.main, None,
                  {"missing": len(missing), "expected": len(d.expected_slots), "first": _iso(missing[0]),
                   "last": _iso(missing[-1])})]


def spike(d: DayData, t: Thresholds) -> list[Found]:
    """The day's use above `spike_factor` x the median of the previous days (and above the floor)."""
    known = [h for h in d.history if h is not None]
    points = d.register(d.main)
    used = series.consumption(points, t.register_capacity, d.resets)
    if used is None or len(known) < t.spike_min_history_days:
        return []
    median = Decimal(statistics.median(known))
    limit = max(t.spike_factor * median, t.spike_floor)
    if used <= limit:
        return []
    biggest = max((s for s in series.steps(points, t.register_capacity, d.resets) if s.delta is not None),
                  key=lambda s: s.delta)
    return [Found("spike", "warning", d.main, None,
                  {"used": _num(used), "median": _num(median), "limit": _num(limit), "at": _iso(biggest.after.ts)},
                  suspect=(biggest.after.ts,))]


def limits(d: DayData, t: Thresholds) -> list[Found]:
    """Instantaneous values outside the site's [low, high] for the quantity (register value)."""
    found = []
    for quantity, bounds in sorted((t.limits or {}).items()):
        low, high = (None if b is None else Decimal(str(b)) for b in bounds)
        outside = [p for p in d.series.get(quantity, [])
                   if (low is not None and p.raw < low) or (high is not None and p.raw > high)]
        if outside:
            worst = max(outside, key=lambda p: max(low - p.raw if low is not None else 0,
                                                   p.raw - high if high is not None else 0))
            found.append(Found("limits", "warning", quantity, None,
                               {"count": len(outside), "low": _num(low), "high": _num(high),
                                "worst": _num(worst.raw), "at": _iso(worst.ts)},
                               suspect=tuple(p.ts for p in outside)))
    return found


def register_backwards(d: DayData, t: Thresholds) -> list[Found]:
    """A cumulative register lower than its previous read, with no rollover and no meter
    installation or removal in between. The lower read is the doubtful one."""
    found = []
    for quantity in sorted(q for q in d.series if q in series.CUMULATIVE):
        real = [p for p in d.register(quantity) if not p.estimated]
        for s in series.steps(real, t.register_capacity, d.resets):
            if s.kind == "backwards" and s.after.ts >= d.start:
                found.append(Found("register_backwards", "error", quantity, s.after.ts,
                                   {"before": _num(s.before.raw), "before_at": _iso(s.before.ts),
                                    "after": _num(s.after.raw)},
                                   suspect=(s.after.ts,)))
    return found


def negative_consumption(d: DayData, t: Thresholds) -> list[Found]:
    """The day's net use of a cumulative register below zero (rollovers counted, resets
    skipped): the register ended the day lower than it started."""
    found = []
    for quantity in sorted(q for q in d.series if q in series.CUMULATIVE):
        used = series.consumption([p for p in d.register(quantity) if not p.estimated], t.register_capacity,
                                  d.resets)
        if used is not None and used < 0:
            found.append(Found("negative_consumption", "error", quantity, None, {"used": _num(used)}))
    return found


def zero_consumption(d: DayData, t: Thresholds) -> list[Found]:
    """No use at all for `zero_days` days up to the end of this day while a customer
    occupied the premise the meter serves (a vacant premise using nothing is normal)."""
    points = [p for p in d.series.get(d.main, []) if not p.estimated]
    first = d.zero_window_start
    if not points or first is None or first.estimated or not d.occupied_throughout:
        return []
    last = points[-1]
    if last.ts - first.ts < timedelta(days=t.zero_days) - timedelta(hours=1):
        return []  # not enough days read yet
    if series.consumption([first, last], t.register_capacity, d.resets) != 0 or last.raw != first.raw:
        return []
    return [Found("zero_consumption", "warning", d.main, None,
                  {"days": t.zero_days, "since": _iso(first.ts), "register": _num(last.raw)})]


def tariff_sum(d: DayData, t: Thresholds) -> list[Found]:
    """At each read where the total and its tariff registers were all read (actual), the
    tariffs (sharp, peak, flat, valley) must add up to the total within the tolerance."""
    total = {p.ts: p for p in d.series.get("energy_import", []) if not p.estimated}
    tariffs = [{p.ts: p for p in d.series.get(q, []) if not p.estimated} for q in series.TARIFFS]
    tariffs = [reg for reg in tariffs if reg]
    if not total or not tariffs:
        return []
    off = []
    for ts, p in sorted(total.items()):
        parts = [reg.get(ts) for reg in tariffs]
        if None in parts:
            continue
        diff = sum(part.raw for part in parts) - p.raw
        if abs(diff) > t.tariff_tolerance:
            off.append((ts, diff))
    if not off:
        return []
    worst_ts, worst = max(off, key=lambda o: abs(o[1]))
    return [Found("tariff_sum", "warning", "energy_import", None,
                  {"count": len(off), "worst_difference": _num(worst), "at": _iso(worst_ts),
                   "tolerance": _num(t.tariff_tolerance)})]


def duplicate_conflict(d: DayData, t: Thresholds) -> list[Found]:
    """The same reading delivered again with another value (ingest kept the first)."""
    return [Found("duplicate_conflict", "warning", quantity, ts,
                  {"stored": _num(stored), "other": _num(other)}, suspect=(ts,))
            for quantity, ts, stored, other in sorted(d.conflicts)]


def future_timestamp(d: DayData, t: Thresholds) -> list[Found]:
    """Readings stamped later than now (beyond the clock tolerance): the meter's or
    collector's clock is wrong, so the time of the value is."""
    limit = d.now + timedelta(seconds=t.future_tolerance_s)
    return [Found("future_timestamp", "error", quantity, p.ts, {"ahead_s": int((p.ts - d.now).total_seconds())},
                  suspect=(p.ts,))
            for quantity, points in sorted(d.series.items()) for p in points if p.ts > limit]


RULES: dict[str, Callable[[DayData, Thresholds], list[Found]]] = {
    "missing_interval": missing_interval,
    "spike": spike,
    "limits": limits,
    "register_backwards": register_backwards,
    "negative_consumption": negative_consumption,
    "zero_consumption": zero_consumption,
    "tariff_sum": tariff_sum,
    "duplicate_conflict": duplicate_conflict,
    "future_timestamp": future_timestamp,
}


def run_all(d: DayData, t: Thresholds) -> list[Found]:
    return [f for rule in RULES.values() for f in rule(d, t)]
