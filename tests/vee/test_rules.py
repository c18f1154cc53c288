"""Each validation rule on its own: what it flags, its boundary, and what it must not flag."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from meterhub.vee import rules, series
from meterhub.vee.config import Thresholds
from meterhub.vee.series import Point

DAY = date(2026, 5, 4)
START = datetime(2026, 5, 4, tzinfo=UTC)
END = START + timedelta(days=1)
NOW = END + timedelta(hours=1)
T = Thresholds(missing_grace_minutes=30, spike_factor=Decimal(4), spike_history_days=14, spike_min_history_days=7,
               spike_floor=Decimal(5), limits={"voltage_a": [176, 264], "frequency": [45, None]},
               register_capacity=Decimal(1_000_000), zero_days=3, tariff_tolerance=Decimal("0.1"),
               future_tolerance_s=300, interpolation_max_slots=4, estimation_max_hours=168, profile_weeks=4,
               reread_window_hours=24)


def at(hours: float) -> datetime:
    return START + timedelta(hours=hours)


def p(hours: float, raw, quality="actual", multiplier=1) -> Point:
    raw = Decimal(str(raw))
    return Point(at(hours), raw * multiplier, raw, Decimal(multiplier), quality)


def day(series_=None, **kw) -> rules.DayData:
    return rules.DayData(1, kw.pop("kind", "electricity"), DAY, START, END, kw.pop("now", NOW), series_ or {}, **kw)


# --- missing interval ---------------------------------------------------------------------------

def test_missing_slots_are_counted_and_estimates_do_not_fill_them():
    expected = [at(h / 4) for h in range(8)]
    reads = [p(h / 4, 100 + h) for h in range(8) if h not in (3, 4)] + [p(1.0, "104", "estimated")]
    found = rules.missing_interval(day({"energy_import": sorted(reads, key=lambda x: x.ts)},
                                       expected_slots=expected), T)
    assert len(found) == 1
    assert found[0].detail["missing"] == 2 and found[0].detail["expected"] == 8
    assert found[0].detail["first"] == at(0.75).isoformat()


def test_no_missing_finding_when_every_slot_was_read_or_none_is_expected():
    expected = [at(h / 4) for h in range(4)]
    assert rules.missing_interval(day({"energy_import": [p(h / 4, h) for h in range(4)]},
                                      expected_slots=expected), T) == []
    assert rules.missing_interval(day({}, expected_slots=[]), T) == []  # not on an interval plan


def test_water_meters_are_checked_on_their_volume_register():
    found = rules.missing_interval(day({"energy_import": [p(0, 1)]}, kind="water", expected_slots=[at(0)]), T)
    assert found[0].quantity == "water_volume"


# --- spike ----------------------------------------------------------------------------------

def _spike_day(used, history):
    return day({"energy_import": [p(0, 1000), p(12, 1000 + used / 2), p(23.75, 1000 + used)]},
               before={"energy_import": p(-0.25, 1000)}, history=history)


def test_spike_above_factor_times_median_is_flagged_and_its_biggest_read_is_suspect():
    found = rules.spike(_spike_day(41, [Decimal(10)] * 14), T)
    assert found and found[0].rule == "spike" and found[0].detail["limit"] == "40"
    assert found[0].suspect == (at(12),)


def test_spike_boundary_exactly_at_the_limit_is_not_a_spike():
    assert rules.spike(_spike_day(40, [Decimal(10)] * 14), T) == []


def test_spike_needs_enough_history_and_a_day_above_the_floor():
    assert rules.spike(_spike_day(100, [Decimal(10)] * 6 + [None] * 8), T) == []  # 6 known days < 7
    assert rules.spike(_spike_day(4, [Decimal(0)] * 14), T) == []  # 4 <= floor 5 though median is 0


# --- limits -------------------------------------------------------------------------------------

def test_values_outside_the_limits_are_flagged_once_per_day_and_made_suspect():
    volts = [p(0, 220), p(0.25, 280), p(0.5, 150), p(0.75, 264), p(1, 176)]
    found = rules.limits(day({"voltage_a": volts}), T)
    assert len(found) == 1
    assert found[0].detail["count"] == 2 and found[0].detail["worst"] == "150"
    assert set(found[0].suspect) == {at(0.25), at(0.5)}  # 264 and 176 are on the boundary: fine


def test_a_limit_given_as_null_is_open_ended():
    assert rules.limits(day({"frequency": [p(0, 1000)]}), T) == []
    assert rules.limits(day({"frequency": [p(0, 40)]}), T)[0].quantity == "frequency"


def test_limits_compare_the_register_value_not_the_primary_side():
    assert rules.limits(day({"voltage_a": [p(0, 220, multiplier=100)]}), T) == []  # 22 kV primary, 220 V read


# --- register backwards / rollover / meter exchange --------------------------------------------

def test_register_going_backwards_is_an_error_on_the_lower_read():
    found = rules.register_backwards(day({"energy_import": [p(0, 500), p(0.25, 499.5), p(0.5, 501)]}), T)
    assert [(f.ts, f.detail["before"], f.detail["after"]) for f in found] == [(at(0.25), "500", "499.5")]
    assert found[0].suspect == (at(0.25),)


def test_a_step_back_from_the_last_read_of_the_day_before_is_caught():
    found = rules.register_backwards(day({"energy_import": [p(0, 499)]}, before={"energy_import": p(-0.25, 500)}), T)
    assert [f.ts for f in found] == [at(0)]


def test_rollover_at_the_register_capacity_is_consumption_not_an_error():
    points = [p(0, "999999.50"), p(0.25, "0.70")]
    d = day({"energy_import": points})
    assert rules.register_backwards(d, T) == []
    assert rules.negative_consumption(d, T) == []
    assert series.consumption(points, T.register_capacity) == Decimal("1.20")


def test_a_drop_that_does_not_reach_the_bottom_band_is_not_a_rollover():
    d = day({"energy_import": [p(0, "999999.50"), p(0.25, "200000")]})
    assert rules.register_backwards(d, T)


def test_a_meter_installed_again_between_two_reads_is_not_an_error():
    d = day({"energy_import": [p(0, 8000), p(1, 3)]}, resets=(at(0.5),))
    assert rules.register_backwards(d, T) == []
    assert rules.negative_consumption(d, T) == []


def test_estimates_are_not_judged_as_backwards_steps():
    d = day({"energy_import": [p(0, 500), p(0.25, 400, "estimated"), p(0.5, 501)]})
    assert rules.register_backwards(d, T) == []


# --- negative consumption -------------------------------------------------------------------

def test_a_day_ending_below_its_start_is_negative_consumption():
    found = rules.negative_consumption(day({"energy_import": [p(0, 500), p(1, 498)]}), T)
    assert [(f.quantity, f.detail["used"]) for f in found] == [("energy_import", "-2")]


def test_a_single_bad_read_recovered_the_same_day_is_not_negative_consumption():
    d = day({"energy_import": [p(0, 500), p(0.25, 400), p(0.5, 501)]})
    assert rules.negative_consumption(d, T) == []
    assert rules.register_backwards(d, T)


# --- zero consumption ---------------------------------------------------------------------------

def _zero(occupied, raw_end=100, hours_back=48):
    return day({"energy_import": [p(0, 100), p(23.75, raw_end)]}, zero_window_start=p(-hours_back, 100),
               occupied_throughout=occupied)


def test_no_use_for_three_days_on_an_occupied_premise_is_flagged():
    found = rules.zero_consumption(_zero(True), T)
    assert found and found[0].detail["days"] == 3


def test_a_vacant_premise_using_nothing_is_normal():
    assert rules.zero_consumption(_zero(False), T) == []


def test_any_use_or_too_short_a_window_is_not_zero_consumption():
    assert rules.zero_consumption(_zero(True, raw_end="100.01"), T) == []
    assert rules.zero_consumption(_zero(True, hours_back=24), T) == []  # two days only


# --- tariff sum -------------------------------------------------------------------------------

def _tariffs(total, parts):
    out = {"energy_import": [p(0, total)]}
    for i, value in enumerate(parts, start=1):
        out[f"energy_import_t{i}"] = [p(0, value)]
    return day(out)


def test_tariffs_not_adding_up_to_the_total_are_flagged():
    found = rules.tariff_sum(_tariffs("100.00", ["10", "20", "30", "39.8"]), T)
    assert found and found[0].detail["worst_difference"] == "-0.2"


def test_tariff_sum_within_the_tolerance_is_fine_including_the_boundary():
    assert rules.tariff_sum(_tariffs("100.00", ["10", "20", "30", "39.9"]), T) == []
    assert rules.tariff_sum(_tariffs("100.00", ["10", "20", "30", "40.1"]), T) == []


def test_meters_without_tariff_registers_are_not_checked():
    assert rules.tariff_sum(day({"energy_import": [p(0, 100)]}), T) == []


# --- duplicates and future --------------------------------------------------------------------

def test_conflicting_deliveries_become_findings_on_the_stored_value():
    d = day({}, conflicts=[("energy_import", at(1), Decimal("5"), Decimal("6"))])
    found = rules.duplicate_conflict(d, T)
    assert [(f.ts, f.detail) for f in found] == [(at(1), {"stored": "5", "other": "6"})]
    assert found[0].suspect == (at(1),)


def test_readings_from_the_future_beyond_the_clock_tolerance():
    now = at(10)
    d = day({"voltage_a": [p(10 + 300 / 3600, 220), p(10 + 301 / 3600, 220)]}, now=now)
    found = rules.future_timestamp(d, T)
    assert [f.detail["ahead_s"] for f in found] == [301]


# --- properties ----------------------------------------------------------------------------------

registers = st.lists(st.decimals(min_value=0, max_value=999_999, places=2), min_size=2, max_size=30)


@given(registers)
def test_a_rising_register_is_never_flagged_backwards_or_negative(values):
    points = [p(i / 4, v) for i, v in enumerate(sorted(values))]
    d = day({"energy_import": points})
    assert rules.register_backwards(d, T) == []
    assert rules.negative_consumption(d, T) == []
    assert series.consumption(points, T.register_capacity) == points[-1].raw - points[0].raw


@given(st.decimals(min_value=Decimal("900000"), max_value=Decimal("999999.99"), places=2),
       st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999"), places=2))
def test_any_rollover_is_counted_as_the_use_across_the_wrap(before, used):
    after = (before + used) % T.register_capacity
    if after >= before:
        return  # no wrap
    points = [p(0, before), p(0.25, after)]
    assert series.consumption(points, T.register_capacity) == used


@pytest.mark.parametrize("rule", sorted(rules.RULES))
def test_every_rule_is_quiet_on_an_empty_day(rule):
    assert rules.RULES[rule](day({}), T) == []


def test_every_rule_s_finding_reads_as_a_sentence():
    from zoneinfo import ZoneInfo

    from django.utils import translation

    from meterhub.vee import labels

    found = (rules.missing_interval(day({}, expected_slots=[at(0)]), T)
             + rules.spike(_spike_day(41, [Decimal(10)] * 14), T)
             + rules.limits(day({"voltage_a": [p(0, 280)]}), T)
             + rules.register_backwards(day({"energy_import": [p(0, 500), p(1, 499)]}), T)
             + rules.negative_consumption(day({"energy_import": [p(0, 500), p(1, 499)]}), T)
             + rules.zero_consumption(_zero(True), T)
             + rules.tariff_sum(_tariffs("100", ["10", "20", "30", "39"]), T)
             + rules.duplicate_conflict(day({}, conflicts=[("energy_import", at(1), Decimal(5), Decimal(6))]), T)
             + rules.future_timestamp(day({"voltage_a": [p(30, 220)]}, now=at(1)), T))
    assert sorted({f.rule for f in found}) == sorted(rules.RULES)
    shanghai = ZoneInfo("Asia/Shanghai")
    for f in found:
        text = labels.describe(f.rule, f.detail, shanghai)
        assert "%" not in text and "suspect" not in text and ": " not in text, (f.rule, text)
    backwards = next(f for f in found if f.rule == "register_backwards")
    with translation.override("en"):
        assert labels.describe(backwards.rule, backwards.detail, shanghai) == "500 at 05-04 08:00, then 499"
    with translation.override("zh-hans"):
        assert labels.describe(backwards.rule, backwards.detail, shanghai) == "05-04 08:00 为 500，之后为 499"
