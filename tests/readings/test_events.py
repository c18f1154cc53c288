"""Meter events: stored once each, and each given back once, to the transaction that stored it."""

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection, connections, transaction

from meterhub.headend.records import EventRecord
from meterhub.readings import ingest
from meterhub.readings.ingest import store_events
from meterhub.readings.models import MeterEvent

T0 = datetime(2026, 5, 1, 8, 0, 0, 250_000, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


def opened(meter, minutes, number=1, **detail):
    return EventRecord(meter.pk, "cover_open", T0 + timedelta(minutes=minutes), {"number": number, **detail})


@pytest.mark.django_db
def test_it_gives_back_the_events_new_to_the_table_in_their_order(meter, other_meter):
    stored_before = opened(meter, 5)
    assert store_events([stored_before]) == [stored_before]
    a, b, c = opened(other_meter, 9), opened(meter, 1), opened(meter, 7)
    again = EventRecord(meter.pk, "cover_open", stored_before.ts.astimezone(BEIJING), {"number": 99})
    twice = EventRecord(other_meter.pk, "cover_open", a.ts, {"number": 2})  # a again in the batch, other detail
    relay = EventRecord(meter.pk, "relay_state", b.ts, {"relay_open": True}, "on_demand")  # same instant, other kind

    assert store_events([a, again, b, twice, relay, c]) == [a, b, relay, c]
    assert store_events([c, a, relay]) == []
    assert store_events([]) == []
    rows = {(e.meter_id, e.kind, e.ts): e for e in MeterEvent.objects.all()}
    assert len(rows) == 5
    assert rows[(other_meter.pk, "cover_open", a.ts)].detail == {"number": 1}, "the batch's first one is kept"
    assert rows[(meter.pk, "cover_open", stored_before.ts)].detail == {"number": 1}, "the stored one is kept"
    kept = rows[(meter.pk, "relay_state", b.ts)]
    assert (kept.detail, kept.source, kept.ts) == ({"relay_open": True}, "on_demand", T0 + timedelta(minutes=1))
    assert kept.received_at is not None


@pytest.mark.django_db
def test_a_batch_larger_than_one_statement_is_given_back_whole(meter, monkeypatch):
    monkeypatch.setattr(ingest, "EVENT_CHUNK", 4)
    events = [opened(meter, n, n, note='quote " and, comma {}') for n in range(10)]
    assert store_events(events[3:6]) == events[3:6]
    assert store_events(events + events[:2]) == events[:3] + events[6:]
    assert MeterEvent.objects.count() == 10
    assert MeterEvent.objects.get(ts=events[9].ts).detail == {"number": 9, "note": 'quote " and, comma {}'}


@pytest.mark.django_db(transaction=True)
def test_two_nodes_storing_the_same_events_at_once_only_one_gets_them_back(meter):
    """Two head-end nodes hand over the same events at the same moment: the second waits for
    the first's transaction and gets nothing back, so the rules act on the events once."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: the second node cannot start storing before the first commits")
    events = [opened(meter, n, n) for n in range(3)]
    first_stored, got = threading.Event(), {}

    def first_node():
        try:
            with transaction.atomic():
                got["first"] = store_events(events)
                first_stored.set()
                # hold the transaction open until the second node waits on the rows it inserted
                deadline = time.monotonic() + 10
                with connection.cursor() as cursor:
                    while time.monotonic() < deadline:
                        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else read once per transaction
                        cursor.execute("SELECT count(*) FROM pg_stat_activity"
                                       " WHERE datname = current_database() AND wait_event_type = 'Lock'")
                        if cursor.fetchone()[0]:
                            got["second_waited"] = True
                            break
                        time.sleep(0.02)
        finally:
            first_stored.set()
            connections.close_all()

    def second_node():
        try:
            first_stored.wait(10)
            with transaction.atomic():
                got["second"] = store_events(events)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=first_node), threading.Thread(target=second_node)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert got.get("second_waited"), "the second node was not seen waiting for the first"
    assert got["first"] == events
    assert got["second"] == []
    assert MeterEvent.objects.count() == 3
