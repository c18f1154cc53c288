"""Load and flow profiles, and time-of-use tariff schedules, shared by every meter.

A profile is a *parametric* daily shape in relative units, evaluated once per
15-minute slot (96 slots a day) and shared by every meter that uses it; a meter
adds only its own numbers (scale, a peak shift, a power factor...), so a fleet of
16,000 meters holds one small table per (profile, shift, tariff schedule), not one
per meter.

Shape of a day (local time `h` in hours, evaluated at the middle of each slot):

    f(h) = base + sum_i height_i * exp(-((h - hour_i) / width_i)^2 / 2)     (peaks)
                + plateau * ramp(h, open, close, ramp_h)                    (shops)

with three day types, weekday / Saturday / Sunday, each with its own peaks (and
plateau factor for shops). The shape is normalised so that its mean over a week is
1.0: a meter's `scale` is then its mean power (kW) or flow (m3/h) on a day with
season factor 1. The season factor of a day is

    s(d) = 1 + winter * max(0, cos(2 pi (doy - 15) / 365.25))
             + summer * max(0, cos(2 pi (doy - 196) / 365.25))

(mid-January heating, mid-July cooling), constant over the day. Power inside a slot
is constant (`scale * f(slot) * s(day)`), so integrating a profile is exact sums of
slot values; whole days use precomputed per-tariff day sums. Per-meter variation is
a shift of the whole shape by -4..+4 slots (up to an hour earlier or later) and the
scale, both drawn from the meter's seed (see `draw_scale`).

Tariffs: a `TouSchedule` gives the tariff number (1 sharp, 2 peak, 3 flat, 4 valley,
as Chinese time-of-use meters number them) of each local hour, by the *meter's* clock;
a meter whose clock is off by N slots bills by the shifted schedule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

SLOT_S = 900
SLOTS = 96
DAY_S = 86400
WORKDAY, SATURDAY, SUNDAY = 0, 1, 2
# day number since 1970-01-01 (a Thursday) -> day type
_DAYTYPE = tuple(SATURDAY if wd == 5 else SUNDAY if wd == 6 else WORKDAY
                 for wd in ((d + 3) % 7 for d in range(7)))
_TWO_PI = 2.0 * math.pi


def day_type(day: int) -> int:
    """WORKDAY / SATURDAY / SUNDAY of a day number (local days since 1970-01-01)."""
    return _DAYTYPE[day % 7]


@dataclass(frozen=True)
class Peak:
    hour: float  # centre, local hours
    width: float  # standard deviation, hours
    height: float  # relative to base


@dataclass(frozen=True)
class Profile:
    """A parametric daily shape; see the module docstring for the formula."""

    name: str
    unit: str  # "kW" (electricity) or "m3/h" (water, gas)
    mean: float  # typical per-meter mean (kW or m3/h): the median of `draw_scale`
    spread: float  # log-normal sigma of the per-meter scale
    base: float
    workday: tuple[Peak, ...] = ()
    saturday: tuple[Peak, ...] = ()
    sunday: tuple[Peak, ...] = ()
    open_hours: tuple[float, float] | None = None  # shop opening hours (local)
    plateau: float = 0.0
    ramp_h: float = 0.5
    plateau_days: tuple[float, float, float] = (1.0, 1.0, 1.0)  # workday/sat/sun factor
    winter: float = 0.0
    summer: float = 0.0

    def raw_shape(self, dtype: int) -> tuple[float, ...]:
        peaks = (self.workday, self.saturday or self.workday, self.sunday or self.saturday
                 or self.workday)[dtype]
        out = []
        for s in range(SLOTS):
            h = (s + 0.5) * SLOT_S / 3600.0
            v = self.base
            for p in peaks:
                for c in (p.hour - 24.0, p.hour, p.hour + 24.0):  # wrap around midnight
                    z = (h - c) / p.width
                    if z * z < 50:
                        v += p.height * math.exp(-0.5 * z * z)
            if self.open_hours is not None and self.plateau:
                o, c = self.open_hours
                r = self.ramp_h
                up = min(1.0, max(0.0, (h - o) / r + 0.5))
                down = min(1.0, max(0.0, (c - h) / r + 0.5))
                v += self.plateau * self.plateau_days[dtype] * min(up, down)
            out.append(v)
        return tuple(out)

    def season(self, day: int) -> float:
        if not (self.winter or self.summer):
            return 1.0
        doy = (day + 0.5) % 365.2425  # day of year, good to a day: the curve is smooth
        s = 1.0
        if self.winter:
            s += self.winter * max(0.0, math.cos(_TWO_PI * (doy - 15) / 365.25))
        if self.summer:
            s += self.summer * max(0.0, math.cos(_TWO_PI * (doy - 196) / 365.25))
        return s


def draw_scale(profile: Profile, rng) -> float:
    """A meter's scale (mean kW or m3/h) drawn from `rng` (a random.Random)."""
    return profile.mean * math.exp(rng.gauss(0.0, profile.spread))


# --- the built-in profiles ------------------------------------------------------------

HOUSEHOLD = Profile(
    "household", "kW", mean=0.35, spread=0.45, base=0.35,
    workday=(Peak(7.25, 0.8, 0.9), Peak(12.3, 0.9, 0.35), Peak(19.6, 1.5, 2.0)),
    saturday=(Peak(8.75, 1.3, 0.9), Peak(12.5, 1.5, 0.7), Peak(19.4, 1.7, 2.0)),
    sunday=(Peak(9.0, 1.4, 0.8), Peak(12.5, 1.5, 0.8), Peak(19.0, 1.6, 1.8)),
    winter=0.35, summer=0.45,
)
SHOP = Profile(
    "shop", "kW", mean=2.5, spread=0.6, base=0.15,  # fridges, alarm, emergency lights
    open_hours=(9.0, 21.0), plateau=1.0, ramp_h=0.75, plateau_days=(1.0, 1.1, 0.6),
    workday=(Peak(12.5, 1.0, 0.15), Peak(18.5, 1.2, 0.2)),
    winter=0.2, summer=0.5,
)
WATER_HOUSEHOLD = Profile(
    "water household", "m3/h", mean=0.017, spread=0.4, base=0.02,  # ~0.4 m3/day
    workday=(Peak(7.0, 0.7, 2.2), Peak(12.5, 0.8, 0.6), Peak(20.0, 1.3, 1.8)),
    saturday=(Peak(8.8, 1.1, 1.8), Peak(12.5, 1.2, 0.9), Peak(19.8, 1.5, 1.8)),
    summer=0.25,
)
WATER_SHOP = Profile(
    "water shop", "m3/h", mean=0.03, spread=0.6, base=0.01,
    open_hours=(9.0, 21.0), plateau=1.0, ramp_h=0.5, plateau_days=(1.0, 1.1, 0.6),
    summer=0.2,
)
GAS_HOUSEHOLD = Profile(
    "gas household", "m3/h", mean=0.04, spread=0.45, base=0.03,  # boiler pilot, standby
    workday=(Peak(7.0, 0.8, 1.5), Peak(12.0, 0.6, 0.8), Peak(18.5, 0.9, 2.2)),
    saturday=(Peak(8.5, 1.0, 1.4), Peak(12.2, 0.8, 1.2), Peak(18.5, 1.0, 2.2)),
    winter=1.5,
)

PROFILES: dict[str, Profile] = {p.name: p for p in (
    HOUSEHOLD, SHOP, WATER_HOUSEHOLD, WATER_SHOP, GAS_HOUSEHOLD)}


# --- time-of-use schedules --------------------------------------------------------------

SHARP, PEAK, FLAT, VALLEY = 1, 2, 3, 4
TARIFF_NAMES = {SHARP: "sharp", PEAK: "peak", FLAT: "flat", VALLEY: "valley"}


@dataclass(frozen=True)
class TouSchedule:
    """Tariff number (1..4) of each local hour, 00-01 first."""

    name: str
    hours: tuple[int, ...]
    slots: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if len(self.hours) != 24 or not all(1 <= t <= 4 for t in self.hours):
            raise ValueError("a TOU schedule has 24 tariff numbers in 1..4")
        # slot -> tariff index 0..3
        object.__setattr__(self, "slots", tuple(self.hours[s // 4] - 1 for s in range(SLOTS)))

    def tariff_at(self, hour: int) -> int:
        return self.hours[hour % 24]


#: valley 23-08, flat 08-10 12-14 17-19, peak 10-12 14-17 21-23, sharp 19-21
CN_4 = TouSchedule("cn-4", (
    4, 4, 4, 4, 4, 4, 4, 4,  # 00-08 valley
    3, 3,  # 08-10 flat
    2, 2,  # 10-12 peak
    3, 3,  # 12-14 flat
    2, 2, 2,  # 14-17 peak
    3, 3,  # 17-19 flat
    1, 1,  # 19-21 sharp
    2, 2,  # 21-23 peak
    4,  # 23-24 valley
))
SINGLE = TouSchedule("single", (1,) * 24)  # one register (water, gas, flat-rate meters)
SCHEDULES = {s.name: s for s in (CN_4, SINGLE)}


# --- the shared table: one per (profile, shift, schedule) -------------------------------

class ProfileTable:
    """Normalised slot values of a profile shifted by `shift` slots, with per-tariff
    day sums for each meter-clock offset (computed on first use, then shared)."""

    __slots__ = ("profile", "shift", "schedule", "shapes", "_days", "daily_share", "_season")

    def __init__(self, profile: Profile, shift: int, schedule: TouSchedule):
        self.profile = profile
        self.shift = shift
        self.schedule = schedule
        raw = [profile.raw_shape(d) for d in (WORKDAY, SATURDAY, SUNDAY)]
        week_mean = (5 * sum(raw[0]) + sum(raw[1]) + sum(raw[2])) / (7 * SLOTS)
        # shifting by +k slots: the load of slot s is the base shape at s - k (later peaks)
        self.shapes = tuple(
            tuple(r[(s - shift) % SLOTS] / week_mean for s in range(SLOTS)) for r in raw)
        self._days: dict[tuple[int, int], tuple] = {}
        self._season: dict[int, float] = {}
        # mean energy per day per tariff, relative units x hours, clock offset 0
        week = [0.0] * 4
        for dtype, n in ((WORKDAY, 5), (SATURDAY, 1), (SUNDAY, 1)):
            sums = self.day(dtype, 0)[0]
            for k in range(4):
                week[k] += n * sums[k] / 7
        self.daily_share = tuple(week)

    def season(self, day: int) -> float:
        s = self._season.get(day)
        if s is None:
            if len(self._season) > 4096:
                self._season.clear()
            s = self._season[day] = self.profile.season(day)
        return s

    def day(self, dtype: int, off: int) -> tuple:
        """(sum per tariff [x h], max per tariff, slot of the max per tariff) for one day."""
        key = (dtype, off % SLOTS)
        got = self._days.get(key)
        if got is None:
            sums, mx, at = [0.0] * 4, [0.0] * 4, [0] * 4
            tar = self.schedule.slots
            shape = self.shapes[dtype]
            for s in range(SLOTS):
                p = shape[s]
                k = tar[(s + off) % SLOTS]
                sums[k] += p * 0.25
                if p > mx[k]:
                    mx[k], at[k] = p, s
            got = self._days[key] = (tuple(sums), tuple(mx), tuple(at))
        return got

    def level(self, local: float) -> float:
        """Relative power/flow at local time `local` (seconds since the local epoch)."""
        g = int(local // SLOT_S)
        day = g // SLOTS
        return self.shapes[_DAYTYPE[day % 7]][g - day * SLOTS] * self.season(day)

    def integrate(self, l0: float, l1: float, off: int = 0):
        """Energy (relative x hours) per tariff between local times l0 and l1, with the
        meter's clock `off` slots ahead; plus per tariff the highest slot level seen
        and the local time of the end of that slot (the demand period's end).

        Returns (sums[4], maxes[4], max_end_times[4]).
        """
        sums = [0.0, 0.0, 0.0, 0.0]
        mx = [0.0, 0.0, 0.0, 0.0]
        mxt = [0.0, 0.0, 0.0, 0.0]
        if not l1 > l0:
            return sums, mx, mxt
        tar = self.schedule.slots
        shapes = self.shapes
        g0 = int(l0 // SLOT_S)
        g1 = int(l1 // SLOT_S)

        def one(g: int, hours: float) -> None:
            day = g // SLOTS
            s = g - day * SLOTS
            p = shapes[_DAYTYPE[day % 7]][s] * self.season(day)
            k = tar[(s + off) % SLOTS]
            sums[k] += p * hours
            if p > mx[k]:
                mx[k] = p
                mxt[k] = (g + 1) * SLOT_S

        if g0 == g1:
            one(g0, (l1 - l0) / 3600.0)
            return sums, mx, mxt
        one(g0, ((g0 + 1) * SLOT_S - l0) / 3600.0)
        g = g0 + 1
        while g < g1 and g % SLOTS:
            one(g, 0.25)
            g += 1
        while g1 - g >= SLOTS:  # whole days from the shared table
            day = g // SLOTS
            season = self.season(day)
            dsum, dmax, dat = self.day(_DAYTYPE[day % 7], off)
            for k in range(4):
                sums[k] += dsum[k] * season
                m = dmax[k] * season
                if m > mx[k]:
                    mx[k] = m
                    mxt[k] = (g + dat[k] + 1) * SLOT_S
            g += SLOTS
        while g < g1:
            one(g, 0.25)
            g += 1
        if l1 > g1 * SLOT_S:
            one(g1, (l1 - g1 * SLOT_S) / 3600.0)
        return sums, mx, mxt


@lru_cache(maxsize=256)
def table(profile: Profile, shift: int = 0, schedule: TouSchedule = CN_4) -> ProfileTable:
    """The shared table for a profile shifted by `shift` slots (-4..4 typical)."""
    return ProfileTable(profile, shift, schedule)
