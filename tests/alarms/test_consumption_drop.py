"""A day's consumption dropped to near zero on an occupied premise: the decision (pure, with
properties) and the rule through the real pipeline (readings -> aggregates -> alarms)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.alarms.consumption_rules import Day, Limits, judge
from meterhub.alarms.models import Alarm, AlarmSettings
from meterhub.assets import history
from meterhub.assets.models import Building, Customer, Meter, Premise
from meterhub.comms.store import write_batch
from meterhub.headend.records import ReadingRecord
from meterhub.readings import processing

LIMITS = Limits(percent=10, baseline_days=7, min_baseline=Decimal("1"))
D = date(2026, 3, 20)


def usual(n=7, kwh="10") -> list[Day]:
    return [Day(D - timedelta(days=k), Decimal(kwh)) for k in range(1, n + 1)]


def test_a_day_far_below_the_usual_is_low_and_a_usual_one_is_not():
    low = judge(Day(D, Decimal("0.2")), usual(), LIMITS)
    assert low.low and low.baseline == Decimal("10") and low.days_compared == 7
    assert low.detail("kWh") == {"day": "2026-03-20", "consumption": "0.2", "baseline": "10", "percent": "2.0",
                                 "days_compared": 7, "unit": "kWh"}
    assert not judge(Day(D, Decimal("1.0")), usual(), LIMITS).low, "10 % is not below 10 %"
    assert not judge(Day(D, Decimal("0.2")), usual(kwh="1.5"), Limits(10, 7, Decimal("2"))).low, \
        "a premise using almost nothing cannot drop"


@pytest.mark.parametrize("day", [
    Day(D, Decimal(0), complete=False),  # the day is not over, or its end was not read
    Day(D, Decimal(0), actual_reads=0),  # no read inside it: interpolated across a gap
    Day(D, Decimal(0), estimated_share=0.5),
    Day(D, Decimal(0), exchange=True),
    Day(D, Decimal(0), backwards=True),
])
def test_a_day_that_says_little_decides_nothing(day):
    assert judge(day, usual(), LIMITS) is None


def test_too_few_comparable_days_before_decide_nothing():
    gappy = usual(3) + [Day(D - timedelta(days=k), Decimal(10), complete=False) for k in range(4, 8)]
    assert judge(Day(D, Decimal(0)), gappy, LIMITS) is None
    assert judge(Day(D, Decimal(0)), usual(4), LIMITS).low


days_before = st.lists(st.builds(
    Day, st.integers(1, 20).map(lambda k: D - timedelta(days=k)),
    st.decimals(0, 500, places=3, allow_nan=False, allow_infinity=False), st.booleans(), st.integers(0, 3),
    st.sampled_from([0.0, 0.1, 0.5, 1.0]), st.booleans(), st.booleans()), max_size=25)
limits = st.builds(Limits, st.integers(1, 100), st.integers(3, 14),
                   st.decimals("0.001", 50, places=3, allow_nan=False, allow_infinity=False))
use = st.decimals(0, 500, places=3, allow_nan=False, allow_infinity=False)


@given(use, days_before, limits)
def test_low_exactly_when_below_the_share_of_the_median_of_comparable_days_in_the_window(kwh, before, lim):
    verdict = judge(Day(D, kwh), before, lim)
    window = sorted(d.consumption for d in before if d.comparable and d.day >= D - timedelta(days=lim.baseline_days))
    if len(window) < (lim.baseline_days + 1) // 2:
        assert verdict is None
        return
    mid = len(window) // 2
    baseline = window[mid] if len(window) % 2 else (window[mid - 1] + window[mid]) / 2
    assert verdict.baseline == baseline
    assert verdict.low == (baseline >= lim.min_baseline and kwh / baseline * 100 < lim.percent)


@given(use, use, days_before, limits)
def test_less_use_is_never_less_low(a, b, before, lim):
    more, less = judge(Day(D, max(a, b)), before, lim), judge(Day(D, min(a, b)), before, lim)
    assert (more is None) == (less is None)
    if more is not None and more.low:
        assert less.low


@given(use, days_before, st.lists(st.builds(
    Day, st.integers(-5, 40).map(lambda k: D - timedelta(days=k)), use, st.just(False)), max_size=5), limits)
def test_incomplete_days_and_days_outside_the_window_change_nothing(kwh, before, noise, lim):
    outside = [Day(D - timedelta(days=lim.baseline_days + k), Decimal(999)) for k in (1, 2, 30)]
    later = [Day(D + timedelta(days=k), Decimal(0)) for k in (0, 1)]
    assert judge(Day(D, kwh), before, lim) == judge(Day(D, kwh), before + noise + outside + later, lim)


# --- the rule in the pipeline -------------------------------------------------------------

pytestmark = pytest.mark.django_db
ZONE = ZoneInfo("Asia/Shanghai")
FIRST = date(2026, 3, 1)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), ZONE).astimezone(UTC)


@pytest.fixture
def premise_meter(site, collector):
    meter = Meter.objects.create(serial="E1", site=site, address="000000000001", collector=collector)
    premise = Premise.objects.create(site=site, building=Building.objects.create(site=site, code="B1"), unit="101")
    history.install_meter(meter, premise, midnight(FIRST) - timedelta(days=30))
    return meter, premise


@pytest.fixture
def occupied(premise_meter):
    meter, premise = premise_meter
    history.move_in(Customer.objects.create(account_no="C-1", name="Li Wei"), premise,
                    midnight(FIRST) - timedelta(days=30))
    return meter


def read_days(meter, uses: list[str], start_value=Decimal(1000)) -> Decimal:
    """A register read at each local midnight from FIRST on: day n used uses[n]."""
    value = start_value
    records = [ReadingRecord(meter.id, "energy_import", midnight(FIRST), value, Decimal(1), "kWh", "scheduled")]
    for n, kwh in enumerate(uses, 1):
        value += Decimal(kwh)
        records.append(ReadingRecord(meter.id, "energy_import", midnight(FIRST + timedelta(days=n)), value,
                                     Decimal(1), "kWh", "scheduled"))
    write_batch(records)
    while processing.process_dirty():
        pass
    return value


def drops():
    return list(Alarm.objects.filter(kind="consumption_drop"))


def test_an_occupied_premise_that_stops_using_raises_once_and_recovering_clears(occupied):
    meter = occupied
    read_days(meter, ["10", "11", "9", "10", "12", "10", "9", "10", "0.2"])
    [alarm] = drops()
    low_day = FIRST + timedelta(days=8)
    assert (alarm.state, alarm.severity, alarm.raised_at) == ("raised", "minor", midnight(low_day + timedelta(days=1)))
    assert alarm.detail["day"] == low_day.isoformat() and alarm.detail["baseline"] == "10.000000"
    processing.process_dirty()  # judged again: nothing new
    write_batch([ReadingRecord(meter.id, "energy_import", midnight(FIRST + timedelta(days=10)),
                               Decimal("1081.30"), Decimal(1), "kWh", "scheduled")])  # a second low day
    processing.process_dirty()
    alarm.refresh_from_db()
    assert alarm.count == 2 and alarm.detail["day"] == (low_day + timedelta(days=1)).isoformat()
    write_batch([ReadingRecord(meter.id, "energy_import", midnight(FIRST + timedelta(days=11)),
                               Decimal("1090.30"), Decimal(1), "kWh", "scheduled")])  # 9 kWh: back to usual
    processing.process_dirty()
    alarm.refresh_from_db()
    assert (alarm.state, alarm.cleared_by, alarm.clear_reason) == ("cleared", None, "condition ended")


def test_a_vacant_premise_using_nothing_is_normal(premise_meter):
    meter, _premise = premise_meter
    read_days(meter, ["10", "11", "9", "10", "12", "10", "9", "10", "0.2"])
    assert drops() == []


def test_a_collection_gap_raises_nothing(occupied):
    meter = occupied
    last = read_days(meter, ["10", "11", "9", "10", "12", "10", "9", "10"])
    # the next day is read at 01:00 only, then nothing: its end is unknown
    write_batch([ReadingRecord(meter.id, "energy_import", midnight(FIRST + timedelta(days=8)) + timedelta(hours=1),
                               last, Decimal(1), "kWh", "scheduled")])
    processing.process_dirty()
    assert drops() == []
    # two days later the register is read again, barely moved: the days between rest on no read
    write_batch([ReadingRecord(meter.id, "energy_import", midnight(FIRST + timedelta(days=11)),
                               last + Decimal("0.1"), Decimal(1), "kWh", "scheduled")])
    processing.process_dirty()
    assert drops() == []


def test_the_thresholds_are_the_sites(occupied, site):
    AlarmSettings.objects.create(site=site, drop_pct=1)
    read_days(occupied, ["10", "11", "9", "10", "12", "10", "9", "10", "0.2"])
    assert drops() == [], "2 % of the usual day is not below 1 %"


def test_each_meter_of_a_batch_is_judged_on_its_own_days(occupied, site, collector):
    other = Meter.objects.create(serial="E2", site=site, address="000000000002", collector=collector)
    premise = Premise.objects.create(site=site, building=Building.objects.get(code="B1"), unit="102")
    history.install_meter(other, premise, midnight(FIRST) - timedelta(days=30))
    history.move_in(Customer.objects.create(account_no="C-2", name="Wang Fang"), premise,
                    midnight(FIRST) - timedelta(days=30))
    water = Meter.objects.create(serial="W1", site=site, address="00000003", collector=collector, kind="water",
                                 protocol="mbus")
    history.install_meter(water, premise, midnight(FIRST) - timedelta(days=30))
    records = []
    for meter, quantity, uses in ((occupied, "energy_import", ["10"] * 8 + ["0.2"]),
                                  (other, "energy_import", ["10"] * 6),  # its latest day is normal
                                  (water, "water_volume", ["0.3"] * 8 + ["0"])):  # in m³, its own floor
        value = Decimal(100)
        records.append(ReadingRecord(meter.id, quantity, midnight(FIRST), value, Decimal(1), "", "scheduled"))
        for n, use in enumerate(uses, 1):
            value += Decimal(use)
            records.append(ReadingRecord(meter.id, quantity, midnight(FIRST + timedelta(days=n)), value, Decimal(1),
                                         "", "scheduled"))
    write_batch(records)
    while processing.process_dirty():
        pass
    assert sorted(a.meter.serial for a in drops()) == ["E1", "W1"]
