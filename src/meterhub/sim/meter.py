"""The common interface of simulated meters, and what they share.

The collector/bus side of the simulator codes against exactly this:

    Response(data, delay_s)                  what the meter puts on the bus, and when
    SimMeter.address / .protocol             nameplate address, "dlt645_2007" | "dlt645_1997" | "mbus"
    SimMeter.respond(request, now)           one complete request frame -> Response | None
    SimMeter.ignores_other_addresses         optional; True: never answers a DL/T 645 frame
                                             sent to another meter's address (not a
                                             wildcard or broadcast), so the bus does not
                                             hand it such frames

`now` is simulated POSIX time (from `SimClock.now()`); a meter's state evolves lazily:
on each call it integrates its load profile from the last time it was asked up to
`now`. Times that go backwards are taken as "no time has passed" (registers never
decrease). Control methods (relay, seal, covers, valve, leak...) take an optional
`now`; without it they use the meter's `clock` (a shared SimClock, if the fleet set
one) or else the last time the meter was asked.

Meters speak *local* time: each has `utc_offset_s` (default +8 h, UTC+08:00, no DST),
and its own clock error: `clock_offset_s` (set by `set_clock_offset`, time sync,
writes) plus a seeded drift of a few ppm.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from .faults import Faults

_M64 = (1 << 64) - 1
EPOCH = datetime(1970, 1, 1)
DEFAULT_UTC_OFFSET_S = 8 * 3600
DELAY_MIN, DELAY_MAX = 0.020, 0.500


@dataclass(frozen=True, slots=True)
class Response:
    data: bytes  # what the meter puts on the bus
    delay_s: float  # time from end of request to start of reply


@runtime_checkable
class SimMeter(Protocol):
    address: str
    protocol: str

    def respond(self, request: bytes, now: float) -> Response | None: ...


def mix64(x: int) -> int:
    """splitmix64 finaliser: a cheap, well-spread hash of an integer."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


def unit(seed: int, n: int) -> float:
    """Deterministic uniform [0, 1) from (seed, n): per-call jitter without keeping a
    random.Random (2.5 kB of state) in every meter."""
    return mix64((seed * 0x100000001B3) ^ (n & _M64) ^ 0x5EED) / 18446744073709551616.0


def local_datetime(local_s: float) -> datetime:
    """Seconds since the local epoch -> naive datetime (whole seconds)."""
    return EPOCH + timedelta(seconds=int(local_s // 1))


def local_seconds(dt: datetime) -> float:
    return (dt - EPOCH).total_seconds()


def next_month_start(local_s: float) -> float:
    """Local seconds of the first instant of the month after the one holding `local_s`."""
    d = local_datetime(local_s)
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return local_seconds(datetime(y, m, 1))


def month_start(local_s: float, months_back: int = 0) -> float:
    d = local_datetime(local_s)
    idx = d.year * 12 + d.month - 1 - months_back
    return local_seconds(datetime(idx // 12, idx % 12 + 1, 1))


class BaseMeter:
    """What every simulated meter has: address, seed, clock, faults, reply delay."""

    __slots__ = ("address", "seed", "clock", "_faults", "_n", "_delay", "utc_offset_s",
                 "_clk_off", "_clk_ref", "_drift", "_t")

    protocol: str = ""

    def __init__(self, address: str, seed: int, *, utc_offset_s: int = DEFAULT_UTC_OFFSET_S,
                 clock=None, rng: random.Random | None = None):
        self.address = address
        self.seed = int(seed)
        self.clock = clock
        self._faults: Faults | None = None
        self._n = 0
        rng = rng or random.Random(self.seed)
        # a meter's own turnaround: most answer in 40-250 ms, a few are slow
        self._delay = rng.uniform(0.040, 0.250) if rng.random() < 0.9 else rng.uniform(0.25, 0.45)
        self.utc_offset_s = utc_offset_s
        self._clk_off = 0.0
        self._clk_ref = 0.0
        self._drift = rng.gauss(0.0, 3.0) * 1e-6  # a few ppm: ~0.3 s a day
        self._t: float | None = None

    # --- faults ---------------------------------------------------------------------
    @property
    def faults(self) -> Faults:
        """Settable at run time; created on first use (most meters never need one)."""
        if self._faults is None:
            self._faults = Faults(self.seed)
        return self._faults

    @faults.setter
    def faults(self, value: Faults) -> None:
        self._faults = value

    def _silent(self) -> bool:
        f = self._faults
        return f is not None and f.silent()

    def _response(self, data: bytes | None) -> Response | None:
        if data is None:
            return None
        self._n += 1
        delay = self._delay + (unit(self.seed, self._n) - 0.5) * 0.03
        delay = min(DELAY_MAX, max(DELAY_MIN, delay))
        f = self._faults
        if f is not None:
            data, delay = f.apply(data, delay)
        return Response(data, delay)

    # --- time -------------------------------------------------------------------------
    def _when(self, now: float | None) -> float:
        if now is not None:
            return float(now)
        if self.clock is not None:
            return self.clock.now()
        if self._t is not None:
            return self._t
        raise ValueError("no time: pass now=, or give the meter a clock")

    def clock_error(self, now: float) -> float:
        """Seconds the meter's clock is ahead of true local time at `now`."""
        return self._clk_off + self._drift * (now - self._clk_ref)

    def meter_local(self, now: float) -> float:
        """The meter's own clock at `now`, as seconds since the local epoch."""
        return now + self.utc_offset_s + self._clk_off + self._drift * (now - self._clk_ref)

    def meter_time(self, now: float) -> datetime:
        """The meter's own clock at `now` (naive local datetime, as it would report it)."""
        return local_datetime(self.meter_local(now))

    def set_clock_offset(self, seconds: float, now: float | None = None) -> None:
        """Put the meter's clock `seconds` ahead of true local time (negative: behind)."""
        t = self._when(now)
        self._advance(t)
        self._clk_off = float(seconds)
        self._clk_ref = t

    def _set_meter_time(self, local_s: float, now: float) -> None:
        """Set the clock so that it reads `local_s` (local seconds) at `now`."""
        self._advance(now)
        self._clk_off = local_s - (now + self.utc_offset_s)
        self._clk_ref = now

    def _advance(self, now: float) -> None:  # pragma: no cover - overridden
        self._t = now if self._t is None else max(self._t, now)


def make_meter(kind: str, address: str, seed: int, **kwargs):
    """A meter by kind: "single_phase", "three_phase", "single_phase_1997",
    "three_phase_1997", "water", "gas"; kwargs go to the constructor."""
    from .electricity import ElectricityMeter
    from .water import GasMeter, WaterMeter

    if kind in ("single_phase", "three_phase", "single_phase_1997", "three_phase_1997"):
        phases = 3 if kind.startswith("three") else 1
        protocol = "dlt645_1997" if kind.endswith("1997") else "dlt645_2007"
        return ElectricityMeter(address, seed, phases=phases, protocol=protocol, **kwargs)
    if kind == "water":
        return WaterMeter(address, seed, **kwargs)
    if kind == "gas":
        return GasMeter(address, seed, **kwargs)
    raise ValueError(f"unknown meter kind {kind!r}")
