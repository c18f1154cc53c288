"""The head-end's fleet from the registry: where cover watching resumes."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from meterhub.assets.models import Meter
from meterhub.comms.fleet import load_fleet, newest_cover_numbers
from meterhub.readings.models import MeterEvent

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def meters(site, n):
    return Meter.objects.bulk_create(Meter(serial=f"E{i}", site=site, address=f"{i:012d}") for i in range(1, n + 1))


def event(meter, kind, hours, number):
    return MeterEvent(meter=meter, kind=kind, ts=T0 + timedelta(hours=hours), detail={"number": number},
                      source="scheduled")


def test_the_newest_opening_of_each_kind_wins_whatever_the_order_stored(site):
    one, two, three, quiet = meters(site, 4)
    Meter.objects.filter(pk=three.pk).update(active=False)
    MeterEvent.objects.bulk_create([
        event(one, "cover_open", 5, 7), event(one, "cover_open", 9, 2),  # the meter's records were cleared
        event(one, "cover_open", 1, 6), event(one, "cover_closed", 30, 9),
        event(one, "terminal_cover_open", 2, 4), event(one, "terminal_cover_open", -3, 3),
        event(two, "terminal_cover_open", 0, 1), event(two, "cover_open", 0, 12),
        event(two, "cover_open", -1, 11), event(two, "relay_state", 50, 99),
        event(three, "cover_open", 4, 5), event(three, "cover_open", 3, 8),
        MeterEvent(meter=two, kind="terminal_cover_open", ts=T0 + timedelta(hours=1), detail={}, source="scheduled"),
    ])
    assert newest_cover_numbers() == {
        one.pk: (("cover_open", 2), ("terminal_cover_open", 4)),
        two.pk: (("cover_open", 12),),  # its newest terminal-cover record has no number
        three.pk: (("cover_open", 5),),
    }
    fleet = load_fleet().meters
    assert fleet["E1"].cover_numbers == (("cover_open", 2), ("terminal_cover_open", 4))
    assert fleet["E4"].cover_numbers == () and "E3" not in fleet


def test_finding_them_reads_one_record_per_meter_and_kind_not_every_opening(site):
    """The fleet loader's work grows with the fleet, not with the history of each meter:
    the newest record of each meter and kind is found down the (meter, kind, ts) index."""
    fleet = meters(site, 40)
    MeterEvent.objects.bulk_create(event(m, kind, 100, 1) for m in fleet
                                   for kind in ("cover_open", "terminal_cover_open"))
    few = database_work(newest_cover_numbers)
    MeterEvent.objects.bulk_create(event(m, kind, n, n) for m in fleet for n in range(2, 21)
                                   for kind in ("cover_open", "terminal_cover_open"))
    assert set(newest_cover_numbers().values()) == {(("cover_open", 1), ("terminal_cover_open", 1))}
    many = database_work(newest_cover_numbers)
    assert many < 1.5 * few, f"twenty openings per meter and kind cost {many / few:.1f} times one"


def database_work(call) -> int:
    """What the database does for call(): event rows read (PostgreSQL, this transaction's
    table statistics) or virtual machine steps (SQLite, its progress handler)."""
    if connection.vendor == "postgresql":
        def rows_read():
            with connection.cursor() as cursor:
                cursor.execute("SELECT seq_tup_read + coalesce(idx_tup_fetch, 0) FROM pg_stat_xact_user_tables"
                               " WHERE relname = 'readings_meterevent'")
                return cursor.fetchone()[0]
        before = rows_read()
        call()
        return rows_read() - before
    steps = [0]

    def count():
        steps[0] += 1

    connection.ensure_connection()
    connection.connection.set_progress_handler(count, 100)
    try:
        call()
    finally:
        connection.connection.set_progress_handler(None, 100)
    return steps[0]
