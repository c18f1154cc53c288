"""VEE in the dirty-day pipeline: findings, suspect readings, estimates and the actual data
that replaces them, against the real database."""

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meterhub.assets import history
from meterhub.assets.models import Customer, Meter, Premise
from meterhub.comms.models import Command
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import DirtyDay, Reading, ReadingConflict
from meterhub.vee import estimation, reread, validation
from meterhub.vee.models import Finding, ReReadRequest
from tests.vee.helpers import Q, drain, rec, slot_now

pytestmark = pytest.mark.django_db(transaction=True)


def stored(meter, quantity="energy_import"):
    return {ts: (raw, quality) for ts, raw, quality in
            Reading.objects.filter(meter=meter, quantity=quantity).values_list("ts", "raw_value", "quality")}


def test_a_short_gap_is_estimated_and_the_actual_values_replace_the_estimates(meter):
    end = slot_now() - 2 * Q
    slots = [end - i * Q for i in range(7, -1, -1)]  # 8 slots, the middle two missing
    store_readings([rec(meter, ts, 100 + i) for i, ts in enumerate(slots) if i not in (3, 4)])
    drain()
    rows = stored(meter)
    assert rows[slots[3]] == (Decimal(103), "estimated") and rows[slots[4]] == (Decimal(104), "estimated")
    missing = Finding.objects.get(meter=meter, rule="missing_interval", status="open")
    assert missing.detail["missing"] == 2

    store_readings([rec(meter, slots[3], "103.4"), rec(meter, slots[4], "104.1")])  # late actual data
    drain()
    rows = stored(meter)
    assert rows[slots[3]] == (Decimal("103.4"), "actual") and rows[slots[4]] == (Decimal("104.1"), "actual")
    assert not Reading.objects.filter(meter=meter, quality="estimated").exists()
    missing.refresh_from_db()
    assert (missing.status, missing.note) == ("resolved", validation.NO_LONGER_FOUND)
    assert not DirtyDay.objects.exists()


def test_a_gap_after_the_last_actual_read_is_not_estimated(meter):
    end = slot_now() - 10 * Q
    store_readings([rec(meter, end - i * Q, 100 - i) for i in range(4)])
    drain()
    assert not Reading.objects.filter(meter=meter, quality="estimated").exists()


def test_a_long_gap_takes_the_shape_of_the_same_weekday_in_earlier_weeks(meter):
    gap_end = slot_now() - 4 * Q
    gap_start = gap_end - 10 * Q
    records = []
    for weeks in (1, 2):  # proxy days: use only in the 3rd and 4th of the 10 parts of the gap
        base = gap_start - timedelta(days=7 * weeks)
        records += [rec(meter, base + i * Q, 10 + (5 if i >= 3 else 0) + (5 if i >= 4 else 0)) for i in range(11)]
    records += [rec(meter, gap_start, 100), rec(meter, gap_end, 110)]
    store_readings(records)
    estimation.estimate_days(sorted({(meter.pk, gap_start.date()), (meter.pk, gap_end.date())}))
    rows = stored(meter)
    values = [rows[gap_start + i * Q][0] for i in range(1, 10)]
    assert values == [Decimal(100)] * 2 + [Decimal(105)] + [Decimal(110)] * 6
    assert {rows[gap_start + i * Q][1] for i in range(1, 10)} == {"estimated"}


def test_estimation_settles_and_writes_nothing_the_second_time(meter):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - 6 * Q, 100), rec(meter, end, 106)])
    days = sorted({(meter.pk, (end - 6 * Q).date()), (meter.pk, end.date())})
    assert estimation.estimate_days(days) == 5
    assert estimation.estimate_days(days) == 0


def test_a_gap_across_utc_midnight_is_estimated_once_for_both_its_days(meter):
    midnight = (slot_now() - timedelta(days=2)).replace(hour=0, minute=0)
    store_readings([rec(meter, midnight - 3 * Q, 100), rec(meter, midnight + 3 * Q, 106)])
    days = [(meter.pk, (midnight - Q).date()), (meter.pk, midnight.date())]
    assert estimation.estimate_days(days) == 5  # 23:15 .. 00:15, each once
    assert Reading.objects.filter(meter=meter, quality="estimated").count() == 5
    assert estimation.estimate_days(days) == 0


def test_no_estimate_across_a_meter_reinstallation(meter, site):
    premise = Premise.objects.create(site=site, unit="101")
    end = slot_now() - 2 * Q
    history.install_meter(meter, premise, end - timedelta(days=2))
    history.remove_meter(meter, end - 3 * Q)
    store_readings([rec(meter, end - 6 * Q, 5000), rec(meter, end, 2)])
    drain()
    assert not Reading.objects.filter(meter=meter, quality="estimated").exists()
    assert not Finding.objects.filter(rule__in=["register_backwards", "negative_consumption"]).exists()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["actual", "estimated"]), st.integers(0, 7), st.integers(0, 9)),
                min_size=1, max_size=25))
def test_any_sequence_of_actual_and_estimated_deliveries_ends_with_the_actual_values(meter, deliveries):
    Reading.objects.all().delete()
    ReadingConflict.objects.all().delete()
    base = slot_now() - timedelta(days=1)
    first_actual: dict[int, int] = {}
    for quality, slot, value in deliveries:
        if quality == "actual":
            first_actual.setdefault(slot, value)
        store_readings([rec(meter, base + slot * Q, value, quality=quality)])
    rows = {int((ts - base) / Q): (int(raw), quality) for ts, (raw, quality) in stored(meter).items()}
    for slot, value in first_actual.items():
        assert rows[slot] == (value, "actual")
    assert all(quality == "estimated" for slot, (_v, quality) in rows.items() if slot not in first_actual)


# --- findings and suspect readings -------------------------------------------------------------

def test_a_register_going_backwards_is_found_once_and_its_reading_made_suspect(meter):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - 2 * Q, 500), rec(meter, end - Q, 499), rec(meter, end, 501)])
    drain()
    finding = Finding.objects.get(rule="register_backwards")
    assert (finding.ts, finding.severity, finding.status) == (end - Q, "error", "open")
    assert stored(meter)[end - Q] == (Decimal(499), "suspect")
    DirtyDay.objects.create(meter_id=meter.pk, day=end.date())  # validated again: nothing doubles
    drain()
    assert Finding.objects.filter(rule="register_backwards").count() == 1


def test_a_rollover_is_not_a_finding(meter):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end - Q, "999999.90"), rec(meter, end, "0.40")])
    drain()
    assert not Finding.objects.exclude(rule="missing_interval").exists()
    assert set(q for _v, q in stored(meter).values()) == {"actual"}


def test_duplicates_with_different_values_become_findings(meter):
    end = slot_now() - 2 * Q
    store_readings([rec(meter, end, 100)])
    store_readings([rec(meter, end, 101)])
    drain()
    finding = Finding.objects.get(rule="duplicate_conflict")
    assert finding.detail == {"stored": "100", "other": "101", "suspect": [end.isoformat()]}
    assert stored(meter)[end][1] == "suspect"


def test_zero_use_for_days_is_found_on_an_occupied_premise_and_not_on_a_vacant_one(meter, collector, site):
    vacant_meter = Meter.objects.create(serial="E2", site=site, address="000000000002", collector=collector)
    start = slot_now() - timedelta(days=5)
    for m, unit in ((meter, "101"), (vacant_meter, "102")):
        premise = Premise.objects.create(site=site, unit=unit)
        history.install_meter(m, premise, start - timedelta(days=30))
        if m is meter:
            history.move_in(Customer.objects.create(account_no="A1", name="Ann"), premise, start - timedelta(days=30))
        store_readings([rec(m, start + i * timedelta(hours=1), 42) for i in range(5 * 24)])
    drain()
    assert Finding.objects.filter(rule="zero_consumption", meter=meter).exists()
    assert not Finding.objects.filter(rule="zero_consumption", meter=vacant_meter).exists()


def test_readings_in_the_future_are_suspect(meter):
    ahead = slot_now() + timedelta(hours=2)
    store_readings([rec(meter, ahead, 100)])
    drain()
    assert Finding.objects.get(rule="future_timestamp").ts == ahead
    assert stored(meter)[ahead][1] == "suspect"


# --- re-reads -------------------------------------------------------------------------------------

def test_a_meter_silent_since_its_last_read_is_asked_once_for_a_re_read(meter):
    last = slot_now() - 6 * Q
    store_readings([rec(meter, last - Q, 99), rec(meter, last, 100)])
    drain()
    request = ReReadRequest.objects.get(meter=meter)
    assert request.gap_start == last + Q
    assert (request.command.kind, request.command.requested_by) == (Command.Kind.READ_NOW, "vee")
    DirtyDay.objects.create(meter_id=meter.pk, day=last.date())
    drain()
    assert ReReadRequest.objects.count() == 1 and Command.objects.count() == 1


def test_an_old_gap_or_a_closed_gap_asks_for_no_re_read(meter):
    old = slot_now() - timedelta(hours=30)
    store_readings([rec(meter, old, 100)])  # silent for 30 h: beyond the 24 h window
    drain()
    assert not ReReadRequest.objects.exists()
    now = slot_now()
    store_readings([rec(meter, now - 8 * Q, 101), rec(meter, now - 2 * Q, 102)])  # closed: read on both sides
    drain()
    assert not ReReadRequest.objects.exists()


def test_the_sweep_brings_silent_meters_round_to_validation(meter):
    from django.utils import timezone

    from meterhub.comms.models import MeterCommStatus

    now = timezone.now()
    MeterCommStatus.objects.create(meter=meter, last_success=now - timedelta(hours=2))
    assert reread.sweep_silent_meters(now, force=True) == 1
    assert DirtyDay.objects.filter(meter_id=meter.pk, day=now.date()).exists()


def test_two_nodes_sweeping_while_each_holds_the_others_mark_do_not_deadlock(meter, collector):
    """Each node's processing has claimed one silent meter's mark and then sweeps: the
    sweep leaves marks that are there alone, so neither waits on the other."""
    import threading

    from django.db import connection, connections, transaction
    from django.utils import timezone

    from meterhub.comms.models import MeterCommStatus

    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time: two processing rounds cannot overlap")
    now = timezone.now()
    second = Meter.objects.create(serial="E2", site=collector.site, address="000000000002", collector=collector)
    for m in (meter, second):
        MeterCommStatus.objects.create(meter=m, last_success=now - timedelta(hours=2))
        DirtyDay.objects.create(meter_id=m.pk, day=now.date())
    both_claimed, errors = threading.Barrier(2, timeout=30), []

    def node(claimed):
        try:
            with transaction.atomic():
                list(DirtyDay.objects.select_for_update().filter(meter_id=claimed.pk))
                both_claimed.wait()
                reread.sweep_silent_meters(now, force=True)
        except Exception as exc:  # a deadlock aborts one node's round
            errors.append(exc)
        finally:
            connections.close_all()

    nodes = [threading.Thread(target=node, args=(m,)) for m in (meter, second)]
    for t in nodes:
        t.start()
    for t in nodes:
        t.join(60)
    assert not errors and not any(t.is_alive() for t in nodes)
    assert DirtyDay.objects.filter(day=now.date()).count() == 2
