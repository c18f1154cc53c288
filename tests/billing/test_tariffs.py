"""Tariff pricing: worked examples, and a property test against an independent calculation."""

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meterhub.billing import tariffs
from meterhub.billing.tariffs import Segment, TariffError, Version, parse, price

D = Decimal
TOU = {"sharp": "1.2", "peak": "0.9", "flat": "0.6", "valley": "0.3"}
BLOCKS = [{"up_to": "200", "price": "0.56"}, {"up_to": "400", "price": "0.61"}, {"price": "0.86"}]


def amounts(lines):
    return {line.code: line.amount for line in lines}


def test_flat_tariff_with_standing_charge():
    plan = parse({"energy": {"price": "0.5283"}, "standing_charge": "10"})
    lines = price([Segment(plan, 30)], {"total": D("123.45")}, month=11, currency="CNY")
    assert amounts(lines) == {"energy": D("65.22"), "standing": D("10.00")}  # 65.218635 -> 65.22


def test_tiered_blocks_by_monthly_volume():
    lines = price([Segment(parse({"tiers": BLOCKS}), 30)], {"total": D(450)}, month=3, currency="CNY")
    assert [(line.code, line.quantity, line.amount) for line in lines] == [
        ("tier:1", D(200), D("112.00")), ("tier:2", D(200), D("122.00")), ("tier:3", D(50), D("43.00"))]


def test_time_of_use_from_tariff_registers():
    lines = price([Segment(parse({"energy": {"periods": TOU}}), 30)],
                  {"sharp": D(10), "peak": D(20), "flat": D(30), "valley": D(40)}, month=1, currency="CNY")
    assert tariffs.total(lines) == D("12") + D("18") + D("18") + D("12")


def test_tiered_time_of_use_adds_block_surcharges():
    plan = parse({"energy": {"periods": TOU}, "tiers": [{"up_to": "200", "price": "0"}, {"price": "0.3"}]})
    lines = price([Segment(plan, 30)], {"peak": D(150), "valley": D(100)}, month=1, currency="CNY")
    assert amounts(lines) == {"energy:peak": D("135.00"), "energy:valley": D("30.00"), "tier:1": D("0.00"),
                              "tier:2": D("15.00")}


def test_rounding_is_half_up_at_line_level():
    plan = parse({"energy": {"price": "0.5"}})
    assert amounts(price([Segment(plan, 30)], {"total": D("0.01")}, month=1, currency="CNY")) == {"energy": D("0.01")}
    assert amounts(price([Segment(plan, 30)], {"total": D("0.05")}, month=1, currency="JPY")) == {"energy": D("0")}
    assert amounts(price([Segment(plan, 30)], {"total": D("1")}, month=1, currency="JPY")) == {"energy": D("1")}


def test_mid_period_price_change_is_prorated_by_days_with_tier_limits():
    old, new = parse({"tiers": BLOCKS, "standing_charge": "30"}), parse({"tiers": [{"price": "1"}]})
    lines = price([Segment(old, 10, date(2026, 11, 1)), Segment(new, 20, date(2026, 11, 11))], {"total": D(300)},
                  month=11, currency="CNY")
    # 10/30 of 300 = 100 kWh in the old tariff, whose first block shrinks to 200 x 10/30 = 66.67 kWh;
    # the other 200 kWh at 1.00
    assert [(line.code, line.amount, line.valid_from) for line in lines] == [
        ("tier:1", D("37.33"), date(2026, 11, 1)), ("tier:2", D("20.33"), date(2026, 11, 1)),
        ("standing", D("10.00"), date(2026, 11, 1)), ("tier:1", D("200.00"), date(2026, 11, 11))]


def test_annual_tiers_continue_from_the_years_volume():
    plan = parse({"tiers": [{"up_to": "2160", "price": "0.5"}, {"price": "0.8"}], "tier_basis": "annual"})
    lines = price([Segment(plan, 31)], {"total": D(300)}, month=12, currency="CNY", prior_volume=D(2000))
    assert amounts(lines) == {"tier:1": D("80.00"), "tier:2": D("112.00")}


def test_seasons_replace_prices_for_their_months():
    plan = parse({"energy": {"price": "0.5"}, "seasons": [{"months": [7, 8], "energy": {"price": "0.7"}}]})
    assert tariffs.total(price([Segment(plan, 31)], {"total": D(100)}, month=7, currency="CNY")) == D("70.00")
    assert tariffs.total(price([Segment(plan, 31)], {"total": D(100)}, month=6, currency="CNY")) == D("50.00")


def test_schedule_puts_local_times_in_periods_with_rest_days():
    plan = parse({"energy": {"periods": TOU}, "schedule": {
        "workday": [["00:00", "valley"], ["08:00", "flat"], ["10:00", "peak"], ["11:00", "sharp"],
                    ["13:00", "flat"], ["22:00", "valley"]],
        "rest_day": [["00:00", "valley"], ["08:00", "flat"], ["22:00", "valley"]]}})
    monday, saturday = datetime(2026, 11, 16, 11, 30), datetime(2026, 11, 21, 11, 30)
    assert tariffs.period_at(plan, monday) == "sharp"
    assert tariffs.period_at(plan, saturday) == "flat"
    assert tariffs.period_at(plan, monday, holidays={date(2026, 11, 16)}) == "flat"
    assert tariffs.period_at(plan, monday.replace(hour=23)) == "valley"


def test_class_specific_version_beats_the_generic_one_day_by_day():
    generic, own = parse({"energy": {"price": "1"}}), parse({"energy": {"price": "2"}})
    versions = [Version("electricity", "", date(2026, 1, 1), None, generic),
                Version("electricity", "commercial", date(2026, 11, 11), None, own)]
    segs = tariffs.segments(versions, "electricity", "commercial", date(2026, 11, 1), date(2026, 12, 1))
    assert [(s.plan, s.days, s.valid_from) for s in segs] == [(generic, 10, date(2026, 11, 1)),
                                                              (own, 20, date(2026, 11, 11))]
    assert len(tariffs.segments(versions, "electricity", "residential", date(2026, 11, 1), date(2026, 12, 1))) == 1
    with pytest.raises(TariffError, match="no water tariff"):
        tariffs.segments(versions, "water", "", date(2026, 11, 1), date(2026, 12, 1))


@pytest.mark.parametrize("definition, message", [
    ({"energy": {"price": "-1"}}, "non-negative"),
    ({"energy": {"price": "x"}}, "must be a number"),
    ({"tiers": [{"up_to": "200", "price": "1"}]}, "open-ended"),
    ({"tiers": [{"up_to": "200", "price": "1"}, {"up_to": "100", "price": "1"}, {"price": "2"}]}, "must rise"),
    ({"energy": {"periods": {"noon": "1"}}}, "periods are some of"),
    ({"energy": {"price": "1"}, "tier_basis": "weekly"}, "monthly or annual"),
    ({"energy": {"price": "1"}, "colour": "red"}, "unknown tariff keys"),
    ({}, "needs an energy price or tiers"),
])
def test_bad_definitions_are_refused_with_the_reason(definition, message):
    with pytest.raises(TariffError, match=message):
        parse(definition)


def test_time_of_use_tariff_refuses_a_total_only_volume():
    with pytest.raises(TariffError, match="volumes per period"):
        price([Segment(parse({"energy": {"periods": TOU}}), 30)], {"total": D(1)}, month=1, currency="CNY")


# --- property: the bill equals a straightforward calculation written separately ----------

def money(value: Fraction) -> Decimal:
    """Half-up to cents, via Decimal's own rounding of the exact value (not tariffs.round_money)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)  # enough digits for these sizes
    return exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def expected_bill(definition: dict, parts: list[tuple[dict, int]], volumes: dict[str, Decimal]) -> Decimal:
    """Independent: walk each tariff part, charge each period's volume, then each block."""
    days_total = sum(days for _d, days in parts)
    total_volume = sum(volumes.values())
    bill = Decimal(0)
    for definition, days in parts:
        share = Fraction(days, days_total)
        energy = definition.get("energy", {})
        if "price" in energy:
            bill += money(Fraction(total_volume) * share * Fraction(energy["price"]))
        for period, volume in volumes.items():
            if "periods" in energy:
                bill += money(Fraction(volume) * share * Fraction(energy["periods"][period]))
        lower = Fraction(0)
        for tier in definition.get("tiers", []):
            upper = Fraction(tier["up_to"]) * share if "up_to" in tier else None
            in_block = Fraction(total_volume) * share - lower
            if upper is not None:
                in_block = min(in_block, upper - lower)
            if in_block > 0:
                bill += money(in_block * Fraction(tier["price"]))
            if upper is None:
                break
            lower = upper
        if "standing_charge" in definition and Fraction(definition["standing_charge"]):
            bill += money(Fraction(definition["standing_charge"]) * share)
    return bill


prices_st = st.decimals(min_value=0, max_value=5, places=4).map(str)
volume_st = st.decimals(min_value=0, max_value=2000, places=3)


@st.composite
def definitions(draw, tou: bool):
    definition: dict = {}
    if draw(st.booleans()) or not tou:
        if tou:
            definition["energy"] = {"periods": {p: draw(prices_st) for p in tariffs.PERIODS}}
        elif draw(st.booleans()):
            definition["energy"] = {"price": draw(prices_st)}
    limits = sorted(set(draw(st.lists(st.integers(1, 1500), max_size=3))))
    if limits or "energy" not in definition:
        definition["tiers"] = [{"up_to": str(lim), "price": draw(prices_st)} for lim in limits]
        definition["tiers"].append({"price": draw(prices_st)})
    if draw(st.booleans()):
        definition["standing_charge"] = str(draw(st.decimals(min_value=0, max_value=100, places=2)))
    return definition


@st.composite
def cases(draw):
    tou = draw(st.booleans())
    days = draw(st.lists(st.integers(1, 16), min_size=1, max_size=3))
    parts = [(draw(definitions(tou)), d) for d in days]
    if tou:
        volumes = {p: draw(volume_st) for p in tariffs.PERIODS}
    else:
        volumes = {"total": draw(volume_st)}
    return parts, volumes


@settings(max_examples=300, deadline=None)
@given(cases())
def test_bill_equals_an_independent_calculation(case):
    parts, volumes = case
    start = date(2026, 11, 1)
    segments = []
    for definition, days in parts:
        segments.append(Segment(parse(definition), days, start))
    lines = price(segments, volumes, month=11, currency="CNY")
    assert tariffs.total(lines) == expected_bill(None, parts, volumes)
    assert all(line.amount == line.amount.quantize(Decimal("0.01")) for line in lines)
