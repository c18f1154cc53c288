"""The dirty-day pipeline: steps in order, marks removed only with the work done."""

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from meterhub.headend.records import ReadingRecord
from meterhub.readings import processing
from meterhub.readings.ingest import store_readings
from meterhub.readings.models import DirtyDay, Reading

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def recorded_steps(monkeypatch):
    monkeypatch.setattr(processing, "_steps", [])
    calls = []
    processing.register(20, "second", lambda days: calls.append(("second", days)))
    processing.register(10, "first", lambda days: calls.append(("first", days)))
    return calls


def read(meter_id, value="1"):
    return ReadingRecord(meter_id, "energy_import", T0, Decimal(value), Decimal(1), "kWh", "scheduled")


def test_steps_run_in_order_over_the_marked_days_and_the_marks_go(meter, recorded_steps):
    store_readings([read(meter.pk)])
    assert processing.process_dirty() == 1
    assert recorded_steps == [("first", [(meter.pk, T0.date())]), ("second", [(meter.pk, T0.date())])]
    assert not DirtyDay.objects.exists()
    assert processing.process_dirty() == 0


def test_a_failing_step_keeps_the_marks(meter, recorded_steps):
    def broken(days):
        raise RuntimeError("disk full")

    processing.register(15, "broken", broken)
    store_readings([read(meter.pk)])
    with pytest.raises(RuntimeError):
        processing.process_dirty()
    assert DirtyDay.objects.count() == 1


def test_a_day_marked_again_during_processing_comes_round_again(meter, other_meter, recorded_steps):
    def writes_a_reading(days):  # as estimation does
        if len(recorded_steps) == 1:
            store_readings([ReadingRecord(other_meter.pk, "energy_import", T0, Decimal(2), Decimal(1), "kWh",
                                          "scheduled", "estimated")])
            store_readings([ReadingRecord(meter.pk, "energy_import", T0.replace(hour=13), Decimal(2), Decimal(1),
                                          "kWh", "scheduled", "estimated")])

    processing.register(15, "estimate", writes_a_reading)
    store_readings([read(meter.pk)])
    processing.process_dirty()
    assert set(DirtyDay.objects.values_list("meter_id", flat=True)) == {meter.pk, other_meter.pk}


def test_a_day_written_while_its_processing_runs_comes_round_again(meter, recorded_steps):
    """The ingest meets the mark processing has claimed, waits for that processing to
    commit (and remove the mark), then marks the day anew: its readings are processed
    next round, never lost between the two."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: an ingest cannot start while processing holds the lock")

    started, outcome = threading.Event(), {}

    def late_reading():
        try:
            store_readings([ReadingRecord(meter.pk, "energy_import", T0.replace(hour=14), Decimal(5), Decimal(1),
                                          "kWh", "scheduled")])
            outcome["stored"] = True
        finally:
            connections.close_all()

    def step_with_an_ingest_beside_it(days):
        if not started.is_set():
            started.set()
            outcome["thread"] = threading.Thread(target=late_reading)
            outcome["thread"].start()
            outcome["thread"].join(1.0)  # it waits for this processing's lock on the mark
            outcome["done_before_commit"] = not outcome["thread"].is_alive()

    processing.register(15, "beside", step_with_an_ingest_beside_it)
    store_readings([read(meter.pk)])
    assert processing.process_dirty() == 1
    outcome["thread"].join(30)
    assert outcome.get("stored") and outcome["done_before_commit"] is False
    assert list(DirtyDay.objects.values_list("meter_id", "day")) == [(meter.pk, T0.date())]
    assert Reading.objects.filter(meter=meter).count() == 2


def test_a_mark_renewed_with_an_earlier_time_still_comes_round_again(meter, other_meter, recorded_steps):
    """The node that renews a mark may have a clock behind the one that made it: any change
    of the time keeps the mark, not only a later one."""
    def renews_with_a_slow_clock(days):
        if len(recorded_steps) == 1:
            DirtyDay.objects.filter(meter_id=meter.pk).update(marked_at=F("marked_at") - timedelta(seconds=2))

    processing.register(15, "slow clock", renews_with_a_slow_clock)
    store_readings([read(meter.pk)])
    processing.process_dirty()
    assert list(DirtyDay.objects.values_list("meter_id", flat=True)) == [meter.pk]


def _marks(count: int) -> list[tuple[int, date]]:
    """`count` marks over meters 1.. and eight days each (marks need no meter row)."""
    start = T0.date()
    DirtyDay.objects.bulk_create(DirtyDay(meter_id=1 + i // 8, day=start + timedelta(days=i % 8))
                                 for i in range(count))
    return sorted(DirtyDay.objects.values_list("meter_id", "day"))


def _statements_of_a_round() -> int:
    with CaptureQueriesContext(connection) as round_:
        processing.process_dirty()
    return len(round_.captured_queries)


def test_removing_the_marks_takes_as_many_statements_for_many_marks_as_for_one(recorded_steps):
    _marks(1)
    for_one = _statements_of_a_round()
    _marks(300)
    assert _statements_of_a_round() == for_one
    assert not DirtyDay.objects.exists()


def test_marks_are_removed_a_chunk_per_statement(recorded_steps, monkeypatch):
    monkeypatch.setattr(processing, "MARK_CHUNK", 7)
    _marks(1)
    for_one = _statements_of_a_round()
    _marks(20)
    assert _statements_of_a_round() == for_one + 2  # 20 marks: three chunks
    assert not DirtyDay.objects.exists()


def test_of_many_marks_only_the_ones_renewed_during_processing_stay(recorded_steps):
    """Each mark is matched on its own meter, day and time: the renewed ones stay, whatever
    their neighbours in the round."""
    marked = _marks(40)
    renewed = [marked[3], marked[17], marked[39]]

    def renews_some(days):
        if len(recorded_steps) == 1:
            for meter_id, day in renewed:
                DirtyDay.objects.filter(meter_id=meter_id, day=day).update(
                    marked_at=F("marked_at") + timedelta(microseconds=1))

    processing.register(15, "renews some", renews_some)
    assert processing.process_dirty() == 40
    assert sorted(DirtyDay.objects.values_list("meter_id", "day")) == renewed
    assert processing.process_dirty() == 3
    assert not DirtyDay.objects.exists()
