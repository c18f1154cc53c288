"""A meter's consumption per local day, from its register reads. Pure: data in, data out.

A day's consumption is the register at the day's end minus the register at its start,
both taken at local midnight in the site's time zone:

* a read exactly at midnight is that midnight's value;
* otherwise the value is interpolated linearly between the last read before and the
  first read after midnight (both are needed: a boundary with reads on one side only
  is *unknown*);
* a day whose both ends are known is *complete*. An incomplete day still gets a figure
  from what is known: from its first read (or known start) to its last read (or known
  end), so today shows "so far".

Reads are first turned into one non-decreasing running total:

* a fall from a register near its capacity (at least 90 % of the next power of ten of
  its raw value) to a small value (under 10 % of it) is a *rollover*: the register wrapped,
  and the consumption across it is capacity - before + after (in raw units, times the
  multiplier);
* any other fall is *backwards* (a reset, a swapped register, a bad value VEE has not
  caught yet): the step counts nothing and the day is flagged.

A meter's *service* (from its first installation to its final removal) bounds what
counts: on the day a meter is installed its day starts at its first read in service, on
the day it is removed its day ends at its last read in service. A meter exchange is
therefore the old meter's consumption up to its last read plus the new meter's from its
first read; both days carry the `exchange` flag. What flowed between those two reads is
not measured by either meter and is not invented here.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

PLACES = Decimal("0.000001")  # the readings table's precision
ONE_HOUR = timedelta(hours=1)
NOT_COUNTED = frozenset({"suspect"})  # VEE found these wrong: they do not count
ESTIMATED = frozenset({"estimated", "edited"})


@dataclass(frozen=True)
class Read:
    ts: datetime  # aware
    value: Decimal  # primary side: raw_value * multiplier
    raw_value: Decimal
    multiplier: Decimal = Decimal(1)
    quality: str = "actual"
    unit: str = ""


@dataclass
class DayConsumption:
    day: date
    start: Decimal | None  # running register at the day's start (or the first read), primary units
    end: Decimal | None
    consumption: Decimal
    complete: bool  # both ends known
    unit: str
    reads: int  # reads inside the day
    actual_reads: int
    estimated_share: float  # of the reads the figure rests on, the share estimated or edited
    rollover: bool = False
    backwards: bool = False
    exchange: bool = False  # the meter's service began or ended that day
    by_hour: list[float | None] = field(default_factory=list)  # consumption from the day's start to each hour's end


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant (in UTC, so adding hours is real time even across a DST change)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def register_capacity(raw: Decimal) -> Decimal:
    """The power of ten above the register's whole digits: 999 987.5 -> 1 000 000."""
    whole = int(raw)
    return Decimal(10) ** max(1, len(str(abs(whole))))


def is_rollover(before: Decimal, after: Decimal) -> bool:
    capacity = register_capacity(before)
    return after < before and before >= capacity * Decimal("0.9") and 0 <= after < capacity * Decimal("0.1")


def step(before: Read, after: Read) -> tuple[Decimal, str | None]:
    """Consumption between two consecutive reads, and "rollover"/"backwards" when the register fell."""
    if after.raw_value >= before.raw_value or after.value >= before.value:
        return max(after.value - before.value, Decimal(0)), None
    if is_rollover(before.raw_value, after.raw_value):
        capacity = register_capacity(before.raw_value)
        return (capacity - before.raw_value) * before.multiplier + after.raw_value * after.multiplier, "rollover"
    return Decimal(0), "backwards"


class Series:
    """Reads of one register as a running total, with the value at any instant between reads."""

    def __init__(self, reads: Sequence[Read]):
        self.reads = sorted((r for r in reads if r.quality not in NOT_COUNTED), key=lambda r: r.ts)
        self.times = [r.ts for r in self.reads]
        self.totals: list[Decimal] = []
        self.falls: list[tuple[datetime, datetime, str]] = []  # (before.ts, after.ts, kind)
        total = None
        for i, read in enumerate(self.reads):
            if total is None:
                total = read.value
            else:
                delta, fall = step(self.reads[i - 1], read)
                total += delta
                if fall:
                    self.falls.append((self.reads[i - 1].ts, read.ts, fall))
            self.totals.append(total)

    def at(self, moment: datetime) -> tuple[Decimal | None, list[int]]:
        """The running total at `moment` and the indexes of the reads it rests on (None: unknown)."""
        i = bisect_left(self.times, moment)
        if i < len(self.times) and self.times[i] == moment:
            return self.totals[i], [i]
        if 0 < i < len(self.times):
            t0, t1 = self.times[i - 1], self.times[i]
            v0, v1 = self.totals[i - 1], self.totals[i]
            share = Decimal((moment - t0) // timedelta(microseconds=1)) / Decimal((t1 - t0) // timedelta(microseconds=1))
            return (v0 + (v1 - v0) * share).quantize(PLACES), [i - 1, i]
        return None, []

    def inside(self, start: datetime, end: datetime) -> range:
        """Indexes of reads with start <= ts < end."""
        return range(bisect_left(self.times, start), bisect_left(self.times, end))

    def upto(self, moment: datetime) -> int:
        """Index of the last read at or before `moment`, or -1."""
        return bisect_right(self.times, moment) - 1


def daily_consumption(reads: Sequence[Read], tz: ZoneInfo, first_day: date, last_day: date,
                      service: tuple[datetime | None, datetime | None] = (None, None)) -> list[DayConsumption]:
    """One entry per local day in [first_day, last_day] on which anything is known.

    `reads` must include the read before the first day's midnight and the one after the
    last day's end when they exist (otherwise those boundaries are unknown). `service` is
    (installed, removed); None means unbounded.
    """
    begin, finish = service
    series = Series([r for r in reads if (begin is None or r.ts >= begin) and (finish is None or r.ts <= finish)])
    out = []
    day = first_day
    while day <= last_day:
        d0, d1 = local_midnight(day, tz), local_midnight(day + timedelta(days=1), tz)
        day, this = day + timedelta(days=1), day
        if (begin is not None and begin >= d1) or (finish is not None and finish < d0):
            continue  # not in service that day
        inside = series.inside(d0, d1)
        exchange = False
        if begin is not None and begin > d0:  # installed today: count from its first read in service
            exchange, start, start_on = True, *_read_at(series, inside.start if inside else None)
        else:
            start, start_on = series.at(d0)
        if finish is not None and finish < d1:  # removed today: count to its last read in service
            last = series.upto(finish)
            exchange, end, end_on = True, *_read_at(series, last if last >= inside.start else None)
        else:
            end, end_on = series.at(d1)
        complete = start is not None and end is not None
        if start is None and inside:
            start, start_on = series.totals[inside.start], [inside.start]
        if end is None and inside:
            end, end_on = series.totals[inside.stop - 1], [inside.stop - 1]
        if start is None or end is None:
            continue
        used = set(start_on) | set(end_on) | set(inside)
        falls = {kind for t0, t1, kind in series.falls if t0 < d1 and t1 > d0}
        out.append(DayConsumption(
            day=this, start=start, end=end, consumption=max(end - start, Decimal(0)), complete=complete,
            unit=series.reads[max(used)].unit,
            reads=len(inside), actual_reads=sum(1 for i in inside if series.reads[i].quality == "actual"),
            estimated_share=round(sum(1 for i in used if series.reads[i].quality in ESTIMATED) / len(used), 4),
            rollover="rollover" in falls, backwards="backwards" in falls, exchange=exchange,
            by_hour=_by_hour(series, d0, d1, start, end if complete else None),
        ))
    return out


def _read_at(series: Series, index: int | None) -> tuple[Decimal | None, list[int]]:
    return (series.totals[index], [index]) if index is not None else (None, [])


def _by_hour(series: Series, d0: datetime, d1: datetime, start: Decimal, end: Decimal | None) -> list[float | None]:
    """Consumption from the day's start to the end of each hour (23 or 25 on DST days); None when
    not known yet. Lets "today so far" be compared with yesterday at the same time of day."""
    out = []
    moment = d0 + ONE_HOUR
    while moment <= d1:
        value = end if moment == d1 and end is not None else series.at(moment)[0]
        out.append(None if value is None else round(float(max(value - start, Decimal(0))), 3))
        moment += ONE_HOUR
    return out


def at_same_time(by_hour: Sequence[float | None], elapsed: timedelta) -> float | None:
    """Consumption `elapsed` after the day's start, interpolated within the hour."""
    hours, rest = divmod(elapsed, ONE_HOUR)
    if hours >= len(by_hour):
        return by_hour[-1] if by_hour else None
    before = 0.0 if hours == 0 else by_hour[hours - 1]
    after = by_hour[hours]
    if before is None or after is None:
        return None
    return before + (after - before) * (rest / ONE_HOUR)
