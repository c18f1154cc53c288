"""Chart series: every reading for short ranges, worst-quality buckets for long ones, consumption from registers."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import Reading
from meterhub.readings.series import bucket_size, meter_series

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
pytestmark = pytest.mark.django_db


def register(meter_id, n, *, start=T0, per_step="0.25", first="100", quantity="energy_import", multiplier="40",
             quality=None):
    """n 15-minute register reads rising by per_step (raw), with the multiplier applied."""
    quality = quality or {}
    return [ReadingRecord(meter_id, quantity, start + i * STEP, Decimal(first) + i * Decimal(per_step),
                          Decimal(multiplier), "kWh", "scheduled", quality.get(i, "actual")) for i in range(n)]


def test_a_short_range_returns_every_reading_with_raw_value_multiplier_and_quality(meter):
    store_readings(register(meter.pk, 8, quality={3: "estimated"}))
    series = meter_series(meter.pk, "energy_import", T0 + STEP, T0 + 6 * STEP)
    assert series.bucket_s == 0
    assert series.t == [int((T0 + i * STEP).timestamp()) for i in range(1, 6)]
    assert series.raw == ["100.250000", "100.500000", "100.750000", "101.000000", "101.250000"]
    assert series.multiplier == ["40.0000"] * 5
    assert series.value == [4010.0, 4020.0, 4030.0, 4040.0, 4050.0]
    assert series.quality == ["actual", "actual", "estimated", "actual", "actual"]
    # the first interval uses the reading just before the range
    assert series.consumption == [10.0] * 5
    assert series.consumption_quality == ["actual", "actual", "estimated", "estimated", "actual"]
    assert series.unit == "kWh" and series.cumulative


def test_consumption_spans_a_missing_interval_and_starts_unknown_without_an_earlier_reading(meter):
    records = register(meter.pk, 6)
    del records[3]
    store_readings(records)
    series = meter_series(meter.pk, "energy_import", T0, T0 + timedelta(hours=2))
    assert series.consumption == [None, 10.0, 10.0, 20.0, 10.0]


def test_a_long_range_is_bucketed_with_min_mean_max_and_the_register_at_each_end(meter):
    days = 40
    store_readings(register(meter.pk, days * 96, quality={5: "estimated", 6: "suspect", 200: "edited"}))
    series = meter_series(meter.pk, "energy_import", T0, T0 + timedelta(days=days))
    assert series.bucket_s == 3600 and len(series.t) == days * 24
    assert series.t[:2] == [int(T0.timestamp()), int(T0.timestamp()) + 3600]
    # first hour: raw 100, 100.25, 100.5, 100.75 x 40
    assert (series.low[0], series.value[0], series.high[0], series.last[0]) == (4000.0, 4015.0, 4030.0, 4030.0)
    assert series.raw[0] == "100.750000" and series.multiplier[0] == "40.0000"
    assert series.consumption[0] is None and series.consumption[1:] == [40.0] * (days * 24 - 1)
    # the worst reading decides: hour 1 holds an estimate and a suspect reading
    assert series.quality[:3] == ["actual", "suspect", "actual"]
    assert series.quality[50] == "edited"
    assert series.quality.count("actual") == days * 24 - 2
    assert sum(series.consumption[1:]) == pytest.approx(series.last[-1] - series.last[0])


def test_instantaneous_quantities_have_no_consumption(meter):
    store_readings([ReadingRecord(meter.pk, "voltage_a", T0 + i * STEP, Decimal(220 + i % 3), Decimal(1), "V",
                                  "scheduled") for i in range(96)])
    series = meter_series(meter.pk, "voltage_a", T0, T0 + timedelta(days=1), max_points=10)
    assert not series.cumulative and "consumption" not in series.as_json()
    assert series.bucket_s == 3 * 3600 and len(series.t) == 8
    assert (series.low[0], series.high[0]) == (220.0, 222.0)


def test_daily_buckets_follow_the_sites_midnight(meter):
    zone = ZoneInfo("Asia/Shanghai")
    start = datetime(2026, 3, 1, tzinfo=zone)
    store_readings(register(meter.pk, 10 * 96, start=start))
    series = meter_series(meter.pk, "energy_import", start, start + timedelta(days=10), time_zone="Asia/Shanghai",
                          max_points=10)
    assert series.bucket_s == 86400
    assert [datetime.fromtimestamp(t, zone).strftime("%m-%d %H:%M") for t in series.t[:2]] == ["03-01 00:00",
                                                                                              "03-02 00:00"]
    assert series.consumption[1:] == [96 * 10.0] * 9


def test_other_meters_and_quantities_stay_out(meter, other_meter):
    store_readings(register(meter.pk, 4) + register(other_meter.pk, 4, first="900")
                   + register(meter.pk, 4, quantity="energy_export", first="5"))
    series = meter_series(meter.pk, "energy_import", T0, T0 + timedelta(hours=1))
    assert series.raw == ["100.000000", "100.250000", "100.500000", "100.750000"]


@pytest.mark.parametrize("start, end, message", [
    (T0.replace(tzinfo=None), T0 + STEP, "aware"),
    (T0, T0, "end after"),
    (T0, T0 + timedelta(days=401), "400 days"),
])
def test_bad_ranges_are_refused_with_the_reason(meter, start, end, message):
    with pytest.raises(ValueError, match=message):
        meter_series(meter.pk, "energy_import", start, end)


@given(span_s=st.integers(60, 400 * 86400), readings=st.integers(0, 10**6), max_points=st.integers(10, 5000))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
def test_bucket_size_keeps_under_the_point_budget_when_it_can(span_s, readings, max_points):
    size = bucket_size(timedelta(seconds=span_s), readings, max_points)
    if readings <= max_points:
        assert size == 0
    elif size != 604800:
        assert span_s / size <= max_points


def test_the_sum_of_bucket_consumption_equals_the_register_difference(meter):
    store_readings(register(meter.pk, 96 * 3 + 1, per_step="0.37", start=T0 - STEP))
    total = Reading.objects.get(meter=meter, ts=T0 + (96 * 3 - 1) * STEP).value - Reading.objects.get(
        meter=meter, ts=T0 - STEP).value
    for points in (5, 20, 300, 2000):
        series = meter_series(meter.pk, "energy_import", T0, T0 + timedelta(days=3), max_points=points)
        assert None not in series.consumption
        assert sum(series.consumption) == pytest.approx(float(total))
