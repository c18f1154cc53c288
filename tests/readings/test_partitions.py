"""PostgreSQL: readings land in their month's partition, created as needed."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection

from meterhub.headend.records import ReadingRecord
from meterhub.readings import partitions
from meterhub.readings.ingest import store_readings

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("partitioning applies to PostgreSQL only (the suite's PostgreSQL run covers it)")
    partitions.forget()


def partition_of(meter_id: int, ts: datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM readings_reading WHERE meter_id = %s AND ts = %s",
                       [meter_id, ts])
        return cursor.fetchone()[0]


def test_readings_go_to_their_month_partition(meter):
    t1, t2 = datetime(2031, 1, 31, 23, 59, tzinfo=UTC), datetime(2031, 2, 1, 0, 0, tzinfo=UTC)
    store_readings([ReadingRecord(meter.pk, "energy_import", t, Decimal(1), Decimal(1), "kWh", "scheduled")
                    for t in (t1, t2)])
    assert partition_of(meter.pk, t1) == "readings_reading_p2031_01"
    assert partition_of(meter.pk, t2) == "readings_reading_p2031_02"


def test_creating_a_month_moves_its_rows_out_of_the_default_partition(meter):
    ts = datetime(2032, 6, 15, tzinfo=UTC)
    with connection.cursor() as cursor:  # written around ingest, so no partition was made for it
        cursor.execute("INSERT INTO readings_reading (meter_id, quantity, ts, value, raw_value, multiplier, unit,"
                       " quality, source) VALUES (%s, 'energy_import', %s, 1, 1, 1, 'kWh', 'actual', 'manual')",
                       [meter.pk, ts])
    assert partition_of(meter.pk, ts) == "readings_reading_default"
    assert partitions.ensure_months({date(2032, 6, 1)}) == 1
    assert partition_of(meter.pk, ts) == "readings_reading_p2032_06"
    assert partitions.ensure_months({date(2032, 6, 1)}) == 0
