"""Estimation arithmetic: interpolation and proxy-day profiles, with property tests."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.vee.config import Thresholds
from meterhub.vee.estimation import (
    Anchor,
    estimate_gap,
    proxy_weights,
    shape_fill,
    time_weights,
    value_at,
)

T0 = datetime(2026, 5, 11, tzinfo=UTC)  # a Monday
Q = timedelta(minutes=15)
T = Thresholds(missing_grace_minutes=30, spike_factor=Decimal(4), spike_history_days=14, spike_min_history_days=7,
               spike_floor=Decimal(5), limits={}, register_capacity=Decimal(1_000_000), zero_days=3,
               tariff_tolerance=Decimal("0.1"), future_tolerance_s=300, interpolation_max_slots=4,
               estimation_max_hours=168, profile_weeks=4, reread_window_hours=24)


def anchor(n: int, raw) -> Anchor:
    return Anchor(T0 + n * Q, Decimal(str(raw)), Decimal(1), "actual", "kWh")


def test_a_short_gap_is_a_straight_line_in_time():
    method, values = estimate_gap(anchor(0, 100), anchor(4, 104), [T0 + i * Q for i in (1, 2, 3)], T)
    assert method == "linear"
    assert values == [Decimal("101"), Decimal("102"), Decimal("103")]


def test_interpolation_is_proportional_to_time_when_the_anchor_is_off_the_grid():
    a = Anchor(T0 + Q / 3, Decimal(0), Decimal(1), "actual", "kWh")  # an on-demand read at 00:05
    _m, values = estimate_gap(a, anchor(2, 25), [T0 + Q], T)
    assert values == [Decimal(10)]  # 10 of 25 minutes


def test_a_gap_across_a_rollover_wraps_like_the_register():
    _m, values = estimate_gap(anchor(0, "999999"), anchor(4, "3"), [T0 + i * Q for i in (1, 2, 3)], T)
    assert values == [Decimal(0), Decimal(1), Decimal(2)]


def test_a_register_going_backwards_across_the_gap_is_not_estimated():
    with pytest.raises(ValueError):
        estimate_gap(anchor(0, 500), anchor(4, 400), [T0 + Q], T)


def week_of_reads(weeks_back: int, increments: list) -> list:
    """Proxy reads at the gap's slots `weeks_back` weeks earlier."""
    start = T0 - timedelta(days=7 * weeks_back)
    total, out = Decimal(0), [(start, Decimal(0))]
    for i, inc in enumerate(increments, start=1):
        total += Decimal(inc)
        out.append((start + i * Q, total))
    return out


def test_a_long_gap_follows_the_same_weekday_shape_scaled_to_the_anchors():
    slots = [T0 + i * Q for i in range(1, 8)]  # 7 missing slots, 8 parts
    shape = [0, 0, 0, 0, 4, 4, 0, 0]  # everything used in parts 5 and 6
    method, values = estimate_gap(anchor(0, 100), anchor(8, 120), slots, T,
                                  [week_of_reads(1, shape), week_of_reads(2, shape)])
    assert method == "profile"
    assert values == [Decimal(100)] * 4 + [Decimal(110), Decimal(120), Decimal(120)]


def test_proxy_weeks_with_missing_reads_are_skipped_and_none_usable_means_a_line():
    times = [T0 + i * Q for i in range(9)]
    complete = week_of_reads(2, [1] * 8)
    holed = [r for i, r in enumerate(week_of_reads(1, [5] * 8)) if i != 3 and i != 4]
    assert proxy_weights(times, [holed, complete], timedelta(minutes=20)) == [Decimal(1)] * 8
    method, values = estimate_gap(anchor(0, 0), anchor(8, 80), times[1:-1], T, [holed, []])
    assert method == "linear" and values[0] == Decimal(10)


def test_value_at_interpolates_only_between_close_reads():
    points = [(T0, Decimal(0)), (T0 + Q, Decimal(3))]
    assert value_at(points, T0 + Q / 3, timedelta(hours=1)) == Decimal(1)
    assert value_at(points, T0 + Q / 3, timedelta(minutes=10)) is None
    assert value_at(points, T0 + 2 * Q, timedelta(hours=1)) is None


# --- properties ------------------------------------------------------------------------------------

values = st.decimals(min_value=0, max_value=10**9, places=6)


@given(values, values, st.lists(st.decimals(min_value=0, max_value=10**6, places=3), min_size=1, max_size=200))
def test_shape_fill_stays_between_the_anchors_and_never_goes_down(a, b, weights):
    v0, v1 = min(a, b), max(a, b)
    filled = shape_fill(v0, v1, weights)
    assert len(filled) == len(weights) - 1
    assert all(v0 <= v <= v1 for v in filled)
    assert filled == sorted(filled)
    assert all(v == v.quantize(Decimal("0.000001")) for v in filled)


registers = st.decimals(min_value=0, max_value=Decimal("999999.999999"), places=6)  # below the capacity


@given(registers, registers, st.lists(st.integers(min_value=1, max_value=3600), min_size=2, max_size=100))
def test_interpolation_of_a_cumulative_register_is_monotonic_within_its_endpoints(a, b, gaps_s):
    v0, v1 = min(a, b), max(a, b)
    times = [T0]
    for s in gaps_s:
        times.append(times[-1] + timedelta(seconds=s))
    start = Anchor(times[0], v0, Decimal(1), "actual", "kWh")
    end = Anchor(times[-1], v1, Decimal(1), "actual", "kWh")
    _m, filled = estimate_gap(start, end, times[1:-1], T)
    assert all(v0 <= v <= v1 for v in filled)
    assert filled == sorted(filled)


def test_time_weights_are_the_lengths_of_the_parts():
    assert time_weights([T0, T0 + Q, T0 + 3 * Q]) == [Decimal(900_000_000), Decimal(1_800_000_000)]


def test_negative_weights_are_refused():
    with pytest.raises(ValueError):
        shape_fill(Decimal(0), Decimal(1), [Decimal(1), Decimal(-1)])
