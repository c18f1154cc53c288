"""Simulated time: a POSIX timestamp that runs at `speed` times real time.

    clock = SimClock(start=1_767_225_600.0, speed=60)   # 1 simulated minute per second
    clock.now()                                         # -> float, simulated POSIX time

Meters never read the clock themselves: the caller passes `now` to `respond()`, so a
test can drive a meter with any sequence of times and the fleet shares one clock.
`speed=0` freezes time; `advance()` then moves it by hand (tests, benchmarks).
"""

from __future__ import annotations

import time as _time


class SimClock:
    """Simulated POSIX time. `start` None = the real time at construction."""

    __slots__ = ("_real0", "_sim0", "speed", "_monotonic")

    def __init__(self, start: float | None = None, speed: float = 1.0, *,
                 monotonic=_time.monotonic):
        if speed < 0:
            raise ValueError("speed must be >= 0")
        self._monotonic = monotonic
        self._real0 = monotonic()
        self._sim0 = float(_time.time() if start is None else start)
        self.speed = float(speed)

    def now(self) -> float:
        return self._sim0 + (self._monotonic() - self._real0) * self.speed

    def advance(self, seconds: float) -> float:
        """Jump simulated time forward (or back) by `seconds`; returns the new now()."""
        self._sim0 += seconds
        return self.now()

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on, without a jump in simulated time."""
        if speed < 0:
            raise ValueError("speed must be >= 0")
        now = self.now()
        self._real0 = self._monotonic()
        self._sim0 = now
        self.speed = float(speed)

    def real_seconds(self, sim_seconds: float) -> float:
        """Real seconds that `sim_seconds` of simulated time take (inf when frozen)."""
        return sim_seconds / self.speed if self.speed else float("inf")

    def __repr__(self) -> str:
        return f"SimClock(now={self.now():.3f}, speed={self.speed:g})"
