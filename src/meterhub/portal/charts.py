"""Bar charts drawn on the server as inline SVG: no script, light on a phone, readable offline.

`bar_chart(values)` lays out bars in a fixed view box (the SVG scales to the screen);
missing values leave a gap, not a zero. The scale's top is a round number at or just
above the largest value, so the gridline labels are round too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

WIDTH, HEIGHT = 320.0, 140.0
LEFT, RIGHT, BOTTOM, TOP = 34.0, 12.0, 18.0, 6.0  # room for the value labels, the last date, the dates, the top
GAP = 0.2  # of each slot, between bars


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    top: float  # the value at the top of the plot
    gridlines: list[tuple[float, str]]  # (y, label)
    ticks: list[tuple[float, str]]  # (x, label) under some bars
    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    baseline: float = HEIGHT - BOTTOM


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= value (1 for nothing;
    registers have six decimals, so no scale is finer than a millionth)."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    value = max(value, 1e-6)
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def _short(value: float) -> str:
    return f"{value:g}" if value < 10_000 else f"{value / 1000:g}k"


def bar_chart(values: list[Decimal | float | None], labels: list[str], tick_every: int = 1) -> Chart:
    """Bars for `values` (None: no bar) under a round top; every `tick_every`-th label shown, the last one always."""
    plot_h = HEIGHT - BOTTOM - TOP
    plot_w = WIDTH - LEFT - RIGHT
    numbers = [float(v) for v in values if v is not None]
    top = nice_ceiling(max(numbers, default=0.0))
    slot = plot_w / max(len(values), 1)
    bars, ticks = [], []
    for i, (value, label) in enumerate(zip(values, labels, strict=True)):
        x = LEFT + i * slot
        if (len(values) - 1 - i) % tick_every == 0:  # counted from the end: the latest is always labelled
            ticks.append((x + slot / 2, label))
        if value is None:
            continue
        height = max(float(value), 0.0) / top * plot_h
        bars.append(Bar(x + slot * GAP / 2, HEIGHT - BOTTOM - height, slot * (1 - GAP), height, float(value), label))
    gridlines = [(HEIGHT - BOTTOM - f * plot_h, _short(top * f)) for f in (0, 0.5, 1)]
    return Chart(bars, top, gridlines, ticks)
