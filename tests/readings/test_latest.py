"""The quantities a meter has sent and the newest reading of each, however old."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.headend.records import ReadingRecord
from meterhub.readings.ingest import store_readings
from meterhub.readings.latest import latest_per_quantity, quantities_sent
from meterhub.readings.models import Reading

T0 = datetime(2026, 3, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
pytestmark = pytest.mark.django_db


def reading(meter_id, quantity, ts, value, unit="kWh"):
    return ReadingRecord(meter_id, quantity, ts, Decimal(value), Decimal(1), unit, "scheduled")


def test_a_register_frozen_a_month_ago_is_there_beside_a_flood_of_interval_data(meter, other_meter):
    frozen = [reading(meter.pk, "energy_import_t1", T0 - timedelta(days=40), "812.5"),
              reading(meter.pk, "energy_import_t1", T0 - timedelta(days=70), "700")]
    interval = [reading(meter.pk, q, T0 + i * STEP, str(100 + i)) for i in range(400)
                for q in ("energy_import", "power_active")]
    elsewhere = [reading(other_meter.pk, "water_volume", T0 + timedelta(days=1), "5", "m3")]
    store_readings(frozen + interval + elsewhere)

    latest = latest_per_quantity(meter.pk)

    assert [(r.quantity, r.ts, r.value) for r in latest] == [
        ("energy_import", T0 + 399 * STEP, Decimal(499)),
        ("energy_import_t1", T0 - timedelta(days=40), Decimal("812.5")),
        ("power_active", T0 + 399 * STEP, Decimal(499))]
    assert all(r.meter_id == meter.pk for r in latest)
    assert quantities_sent(meter.pk) == ["energy_import", "energy_import_t1", "power_active"]


def test_a_meter_never_read_has_no_quantities(meter):
    assert (quantities_sent(meter.pk), latest_per_quantity(meter.pk)) == ([], [])


def test_the_lookup_is_two_statements_whatever_the_history(meter):
    store_readings([reading(meter.pk, f"q{n:02d}", T0 + i * STEP, str(i)) for n in range(12) for i in range(50)])
    with CaptureQueriesContext(connection) as queries:
        assert len(latest_per_quantity(meter.pk)) == 12
    assert len(queries) == 2  # the quantities, then their newest readings


# names that sort differently by locale than by byte order, and months far apart (partitions)
QUANTITIES = st.sampled_from(["energy_import", "energy_import_t1", "Energy", "energy", "e_1", "e-1", "电能", "z"])
INSTANTS = st.integers(0, 3 * 366 * 96).map(lambda i: T0 + i * STEP)


@given(rows=st.lists(st.tuples(QUANTITIES, INSTANTS, st.integers(0, 10**6)), max_size=40))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_newest_of_each_quantity_is_what_a_scan_of_every_reading_finds(meter, rows):
    Reading.objects.filter(meter=meter).delete()
    store_readings([reading(meter.pk, q, ts, str(v)) for q, ts, v in rows])
    stored = list(Reading.objects.filter(meter=meter))
    newest = {}
    for r in stored:
        if r.quantity not in newest or r.ts > newest[r.quantity].ts:
            newest[r.quantity] = r

    assert [(r.quantity, r.ts, r.value) for r in latest_per_quantity(meter.pk)] == [
        (r.quantity, r.ts, r.value) for r in sorted(newest.values(), key=lambda r: r.quantity)]
    assert sorted(quantities_sent(meter.pk)) == sorted(newest)
