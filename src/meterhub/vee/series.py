"""Readings as plain data, and what happened between two reads of a cumulative register.

Pure functions: no database, so every rule and estimate is testable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# Registers that only count up (until they roll over); everything else is an instantaneous value.
CUMULATIVE = frozenset(
    ["energy_import", "energy_export", "energy_combined", "water_volume", "gas_volume", "gas_energy"]
    + [f"energy_import_t{t}" for t in range(1, 5)]
)
TARIFFS = tuple(f"energy_import_t{t}" for t in range(1, 5))
# The register that says how much a meter of each kind used.
MAIN_REGISTER = {"electricity": "energy_import", "water": "water_volume", "gas": "gas_volume"}
# A drop from the top band of the register to the bottom band is a rollover, not a fault.
ROLLOVER_BAND = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class Point:
    ts: datetime
    value: Decimal  # primary side: raw * multiplier
    raw: Decimal  # what the register showed
    multiplier: Decimal
    quality: str

    @property
    def estimated(self) -> bool:
        return self.quality == "estimated"


@dataclass(frozen=True, slots=True)
class Step:
    """From one read to the next: `kind` is "up" (or flat), "rollover", "reset" (the meter
    was installed or removed in between: its register may restart) or "backwards"."""

    before: Point
    after: Point
    kind: str
    delta: Decimal | None  # primary-side consumption; None across a reset


def is_rollover(before_raw: Decimal, after_raw: Decimal, capacity: Decimal) -> bool:
    return (after_raw < before_raw and before_raw >= capacity * (1 - ROLLOVER_BAND)
            and 0 <= after_raw < capacity * ROLLOVER_BAND)


def step(before: Point, after: Point, capacity: Decimal, resets: tuple[datetime, ...] = ()) -> Step:
    if any(before.ts < at <= after.ts for at in resets):
        return Step(before, after, "reset", None)
    if after.raw >= before.raw:
        return Step(before, after, "up", after.value - before.value)
    if is_rollover(before.raw, after.raw, capacity):
        return Step(before, after, "rollover", (after.raw + capacity - before.raw) * after.multiplier)
    return Step(before, after, "backwards", after.value - before.value)


def steps(points: list[Point], capacity: Decimal, resets: tuple[datetime, ...] = ()) -> list[Step]:
    return [step(a, b, capacity, resets) for a, b in zip(points, points[1:], strict=False)]


def consumption(points: list[Point], capacity: Decimal, resets: tuple[datetime, ...] = ()) -> Decimal | None:
    """Use over consecutive reads: rollovers counted, resets skipped, backwards steps negative.
    None with fewer than two reads."""
    if len(points) < 2:
        return None
    return sum((s.delta for s in steps(points, capacity, resets) if s.delta is not None), Decimal(0))
