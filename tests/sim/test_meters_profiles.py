"""Load profiles, tariff schedules, the simulated clock, and the fleet's memory cost."""

from __future__ import annotations

import gc
import random
import tracemalloc
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.sim.clock import SimClock
from meterhub.sim.electricity import ElectricityMeter
from meterhub.sim.meter import local_seconds
from meterhub.sim.profiles import (
    CN_4,
    GAS_HOUSEHOLD,
    HOUSEHOLD,
    SHOP,
    SINGLE,
    SLOTS,
    SUNDAY,
    TouSchedule,
    draw_scale,
    table,
)
from meterhub.sim.water import GasMeter, WaterMeter


def at(y, mo, d, h=0.0):
    return local_seconds(datetime(y, mo, d)) + h * 3600


def test_shapes_average_one_over_a_week():
    for prof in (HOUSEHOLD, SHOP, GAS_HOUSEHOLD):
        tb = table(prof, 0, CN_4)
        week = (5 * sum(tb.shapes[0]) + sum(tb.shapes[1]) + sum(tb.shapes[2])) / (7 * SLOTS)
        assert week == pytest.approx(1.0)


def test_household_peaks_and_night_base():
    tb = table(HOUSEHOLD, 0, CN_4)
    monday = at(2026, 4, 13)  # a Monday in spring (season factor ~1)
    assert tb.level(monday + 19.6 * 3600) > 3 * tb.level(monday + 3 * 3600)
    assert tb.level(monday + 7.25 * 3600) > 1.5 * tb.level(monday + 3 * 3600)
    sunday = at(2026, 4, 12)
    assert tb.level(sunday + 7.25 * 3600) < tb.level(monday + 7.25 * 3600)  # sleeping in


def test_shop_opening_hours_plateau():
    tb = table(SHOP, 0, CN_4)
    day = at(2026, 4, 15)  # Wednesday
    assert tb.level(day + 3 * 3600) < 0.2 * tb.level(day + 11 * 3600)
    assert tb.level(day + 11 * 3600) == pytest.approx(tb.level(day + 15 * 3600), rel=0.05)
    sun, sat = tb.shapes[SUNDAY], tb.shapes[1]
    assert max(sun) < max(sat)


def test_seasons():
    tb = table(HOUSEHOLD, 0, CN_4)
    day = lambda y, m, d: int(at(y, m, d) // 86400)  # noqa: E731
    spring, winter, summer = (tb.season(day(2026, 4, 15)), tb.season(day(2026, 1, 15)),
                              tb.season(day(2026, 7, 15)))
    assert spring == pytest.approx(1.0, abs=0.02)
    assert winter > 1.3 and summer > 1.4
    gas = table(GAS_HOUSEHOLD, 0, SINGLE)
    assert gas.season(day(2026, 1, 15)) > 2 * gas.season(day(2026, 7, 15))


def test_per_meter_variation():
    scales = [draw_scale(HOUSEHOLD, random.Random(s)) for s in range(2000)]
    scales.sort()
    assert scales[1000] == pytest.approx(HOUSEHOLD.mean, rel=0.1)
    shifts = {ElectricityMeter("000000000001", s).profile_table.shift for s in range(200)}
    assert shifts == set(range(-4, 5))


@settings(max_examples=80)
@given(a=st.floats(0, 40 * 86400), b=st.floats(0, 40 * 86400), c=st.floats(0, 40 * 86400),
       off=st.integers(-200, 200), shift=st.integers(-4, 4))
def test_integration_is_additive_and_fast_path_agrees(a, b, c, off, shift):
    a, b, c = sorted((a, b, c))
    base = at(2026, 1, 1)
    tb = table(HOUSEHOLD, shift, CN_4)
    whole = tb.integrate(base + a, base + c, off)
    first = tb.integrate(base + a, base + b, off)
    second = tb.integrate(base + b, base + c, off)
    for k in range(4):
        assert whole[0][k] == pytest.approx(first[0][k] + second[0][k], rel=1e-9, abs=1e-9)
        assert whole[1][k] == pytest.approx(max(first[1][k], second[1][k]), rel=1e-9)


def test_fast_path_matches_slot_by_slot():
    tb = table(SHOP, 2, CN_4)
    start = at(2026, 2, 3, 5.3)
    end = start + 9.5 * 86400
    fast = tb.integrate(start, end, 3)[0]
    slow = [0.0] * 4
    t = start
    while t < end:  # hour by hour never takes the whole-day path
        nxt = min(end, t + 3600)
        for k, v in enumerate(tb.integrate(t, nxt, 3)[0]):
            slow[k] += v
        t = nxt
    assert fast == pytest.approx(slow, rel=1e-9)


def test_clock_offset_shifts_the_tariffs():
    tb = table(HOUSEHOLD, 0, CN_4)
    seven_pm = at(2026, 4, 15, 19)
    right = tb.integrate(seven_pm, seven_pm + 3600, 0)[0]
    assert right[0] > 0 and sum(right[1:]) == 0  # 19-20 is sharp
    fast_2h = tb.integrate(seven_pm, seven_pm + 3600, 8)[0]  # meter clock 2 h ahead: 21-22
    assert fast_2h[0] == 0 and fast_2h[1] > 0  # peak


def test_schedule_validation():
    with pytest.raises(ValueError):
        TouSchedule("bad", (1,) * 23)
    assert CN_4.slots[19 * 4] == 0 and CN_4.slots[2 * 4] == 3


def test_sim_clock_speed_and_advance():
    real = [100.0]
    clock = SimClock(start=1_000_000.0, speed=60, monotonic=lambda: real[0])
    assert clock.now() == 1_000_000.0
    real[0] += 2.0
    assert clock.now() == 1_000_120.0
    clock.advance(30)
    assert clock.now() == 1_000_150.0
    clock.set_speed(1)
    real[0] += 1.0
    assert clock.now() == 1_000_151.0
    assert clock.real_seconds(60) == 60
    frozen = SimClock(start=5.0, speed=0)
    assert frozen.now() == 5.0 and frozen.real_seconds(1) == float("inf")
    with pytest.raises(ValueError):
        SimClock(speed=-1)


def test_meters_use_a_shared_clock_for_control_methods():
    real = [0.0]
    clock = SimClock(start=at(2026, 4, 15) - 8 * 3600, speed=3600, monotonic=lambda: real[0])
    m = ElectricityMeter("000000000009", 1, clock=clock)
    m.open_cover()  # no `now`: the clock's
    real[0] += 2.0  # two simulated hours
    m.close_cover()
    rec = m._events[1][0]
    assert rec[1] - rec[0] == pytest.approx(7200, abs=1)


def test_a_fleet_of_16000_meters_is_small():
    # warm the shared tables so that only per-meter memory is measured
    for s in range(50):
        ElectricityMeter("000000000001", s), ElectricityMeter("000000000001", s, phases=3)
        WaterMeter("1", s), GasMeter("1", s)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        fleet = []
        for i in range(16000):
            k = i % 8
            if k < 5:
                fleet.append(ElectricityMeter(f"{i:012d}", i))
            elif k == 5:
                fleet.append(ElectricityMeter(f"{i:012d}", i, phases=3))
            elif k == 6:
                fleet.append(WaterMeter(str(i % 250 + 1), i))
            else:
                fleet.append(GasMeter(str(i % 250 + 1), i))
        per_meter = (tracemalloc.get_traced_memory()[0] - before) / len(fleet)
    finally:
        tracemalloc.stop()
    assert per_meter < 1024, per_meter
