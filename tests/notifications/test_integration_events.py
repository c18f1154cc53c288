"""The integrator's webhooks beyond alarms: payment.credited / payment.refunded, relay.changed and
reading.arrived. Each event gives exactly one signed delivery to a real local HTTP server, in the
transaction of what it reports (rolled back with it), and nothing when no endpoint subscribes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from meterhub.billing import payments
from meterhub.notifications import channels, signing
from meterhub.notifications.models import Message, WebhookEndpoint
from tests.billing.conftest import make_account
from tests.conftest import REPO
from tests.notifications.helpers import run_worker

SECRET = "integrator-secret"
D = Decimal


def subscribe(receiver, *events, site=None) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(name="ERP", url=receiver.url, secret=SECRET, events=list(events), site=site)


def documented_verify():
    """The receiver's check as docs/api.md shows it (Webhooks > Verifying a delivery)."""
    text = (REPO / "docs" / "api.md").read_text()
    code = text.split("### Verifying a delivery", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(code, namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


def delivered(receiver) -> list[dict]:
    """Run the real notifier; every delivery must carry a valid signature, by our reference check and by
    the one in the docs. The bodies, as they arrived (a batch is sent concurrently: in any order)."""
    run_worker({"webhook": channels.Webhook()})
    verify = documented_verify()
    for d in receiver.accepted:
        assert signing.verify(SECRET, d.headers, d.body) and verify(SECRET, d.headers, d.body)
        assert not verify("another-secret", d.headers, d.body) and not verify(SECRET, d.headers, d.body + b" ")
    return [d.json for d in receiver.accepted]


@pytest.fixture
def account(site, collector):
    return make_account(site, "P1", mode="prepaid", switch="relay", collector=collector)


# --- payments ------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_a_payment_is_told_once_with_the_balance_it_leaves(account, receiver):
    subscribe(receiver, "payment.credited", site=account.site)
    payment = payments.take_payment(account, D("50.00"), method="cash", key="pay:form:once")
    payments.take_payment(account, D("50.00"), method="cash", key="pay:form:once")  # a double click
    [body] = delivered(receiver)
    assert body["type"] == "payment.credited"
    assert body["data"] | {"received_at": None} == {
        "id": payment.pk, "receipt_no": payment.receipt_no, "kind": "payment", "method": "cash",
        "account_id": account.pk, "account": "P1", "site": "north", "amount": "50.00", "currency": "CNY",
        "received_at": None, "provider": None, "reference": "", "operator": None, "refund_of": None, "note": "",
        "balance": "50.00", "supply": "on"}


@pytest.mark.django_db(transaction=True)
def test_a_refund_is_told_as_payment_refunded(account, receiver):
    subscribe(receiver, "payment.refunded")
    payment = payments.take_payment(account, D("50.00"), method="cash")
    refund = payments.refund(payment, D("20.00"))
    [body] = delivered(receiver)
    assert (body["type"], body["data"]["id"], body["data"]["refund_of"], body["data"]["amount"],
            body["data"]["balance"]) == ("payment.refunded", refund.pk, payment.pk, "20.00", "30.00")


@pytest.mark.django_db
def test_a_payment_rolled_back_tells_nobody(account, receiver):
    subscribe(receiver, "payment.credited")
    with pytest.raises(RuntimeError), transaction.atomic():
        payments.take_payment(account, D("50.00"), method="cash")
        assert Message.objects.count() == 1
        raise RuntimeError("the caller's transaction fails after the payment")
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_no_message_without_a_subscriber(account, receiver, site):
    from meterhub.assets.models import Site

    subscribe(receiver, "payment.refunded", "relay.changed", "reading.arrived")
    subscribe(receiver, "payment.credited", site=Site.objects.create(code="south", name="South"))
    payments.take_payment(account, D("50.00"), method="cash")
    assert not Message.objects.exists()


# --- relay.changed -------------------------------------------------------------------------

@pytest.fixture
def switched(site, collector):
    """A meter with a relay and a gas meter with a valve, on the collectors of the alarms' simulated field."""
    from meterhub.assets.models import Collector, Meter
    from tests.alarms.test_alarms_end_to_end import ADDRESS, GAS

    relay = Meter.objects.create(serial="E1", site=site, address=ADDRESS, collector=collector, baud_rate=9600,
                                 switch="relay")
    valve = Meter.objects.create(serial="G7", site=site, address=GAS, baud_rate=9600, kind="gas", protocol="mbus",
                                 switch="valve",
                                 collector=Collector.objects.create(code="DTU-2", site=site, registration_id="REG-2"))
    return relay, valve


@pytest.mark.django_db(transaction=True)
def test_relay_and_valve_moves_are_told_once_each_by_command_or_by_status_read(switched, make_operator, receiver,
                                                                               tmp_path, monkeypatch):
    """The simulated field and the real head-end: a relay trip and a valve close confirmed by read-back, and
    a relay closed by hand seen by a status read, make three deliveries; first reads and repeats make none."""
    import asyncio
    from datetime import UTC, datetime

    from meterhub.comms import commands
    from meterhub.headend.worker import CommandWorker
    from tests.alarms.test_alarms_end_to_end import ADDRESS, field_and_headend, plan
    from tests.seals.test_chips_end_to_end import in_thread

    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    relay, valve = switched
    olga = make_operator("operator", "olga")
    subscribe(receiver, "relay.changed")

    async def scenario():
        headend, sim, scheduler = await field_and_headend()
        worker = CommandWorker(headend, commands.claim, commands.finish, commands.expire_overdue)

        async def cycle(meter, items):
            await scheduler.run_plan(plan(meter.serial, items=items), datetime.now(UTC).replace(microsecond=0))
            await headend.sink.flush(backoff=False)

        async def command(meter, kind):
            await in_thread(lambda: commands.request_command(meter, kind, actor=olga, reason="unpaid"))
            await worker.tick()
            await worker.drain()

        try:
            await cycle(relay, "status")  # the first sighting: a baseline
            await cycle(valve, "instant")
            await command(relay, "relay_trip")
            await command(valve, "valve_close")
            await asyncio.sleep(1.1)
            await cycle(relay, "status")  # open, as the command left it: nothing new
            sim.meter(ADDRESS).close_relay()  # closed by hand
            await asyncio.sleep(1.1)
            await cycle(relay, "status")
        finally:
            await sim.stop()
            await headend.close()

    asyncio.run(scenario())
    bodies = sorted(delivered(receiver), key=lambda b: b["data"]["at"])  # the worker sends a batch at once
    moves = [(b["data"]["meter"], b["data"]["old_state"], b["data"]["new_state"], b["data"]["supply"],
              b["data"]["seen_by"], b["data"]["requested_by"]) for b in bodies]
    assert moves == [("E1", "closed", "open", "off", "command", "olga"),
                     ("G7", "open", "closed", "off", "command", "olga"),
                     ("E1", "open", "closed", "on", "status_read", None)]
    trip = bodies[0]["data"]
    assert (trip["command"], trip["reason"], trip["switch"]) == ("relay_trip", "unpaid", "relay")
    assert trip["command_id"] == relay.commands.get().pk
    assert len({b["id"] for b in bodies}) == 3


def sighting(meter, is_open, minute, kind="relay_state"):
    from datetime import UTC, datetime

    from meterhub.headend.records import EventRecord

    field = "relay_open" if kind == "relay_state" else "valve_open"
    return EventRecord(meter.pk, kind, datetime(2026, 3, 1, 0, minute, tzinfo=UTC), {field: is_open}, "scheduled")


@pytest.mark.django_db
def test_a_first_sighting_is_a_baseline_and_a_late_older_one_is_not_news(switched):
    from meterhub.comms import store
    from meterhub.comms.models import SwitchState

    relay, _valve = switched
    WebhookEndpoint.objects.create(name="x", url="http://127.0.0.1:9/", secret=SECRET, events=["relay.changed"])
    store.write_batch([sighting(relay, False, 10)])
    assert not Message.objects.exists() and SwitchState.objects.get(meter=relay).open is False
    store.write_batch([sighting(relay, True, 5)])  # read before the last one, delivered late
    assert not Message.objects.exists()
    store.write_batch([sighting(relay, True, 20), sighting(relay, True, 25)])
    [message] = Message.objects.all()
    assert message.payload["data"]["at"] == "2026-03-01T00:20:00Z"
    state = SwitchState.objects.get(meter=relay)
    assert (state.open, state.since.minute, state.seen_at.minute) == (True, 20, 25)


@pytest.mark.django_db
def test_a_relay_move_rolled_back_with_its_batch_tells_nobody(switched):
    from meterhub.comms import store

    relay, _valve = switched
    WebhookEndpoint.objects.create(name="x", url="http://127.0.0.1:9/", secret=SECRET, events=["relay.changed"])
    store.write_batch([sighting(relay, False, 10)])
    with pytest.raises(RuntimeError), transaction.atomic():
        store.write_batch([sighting(relay, True, 20)])
        assert Message.objects.count() == 1
        raise RuntimeError("the batch's transaction fails")
    assert not Message.objects.exists()
    store.write_batch([sighting(relay, True, 20)])  # the head-end writes the batch again
    assert Message.objects.count() == 1


# --- reading.arrived -----------------------------------------------------------------------

def store_reads(*meters, day=1, hours=(0, 6, 12)):
    from datetime import UTC, datetime

    from meterhub.headend.records import ReadingRecord
    from meterhub.readings.ingest import store_readings

    store_readings([ReadingRecord(m.pk, "energy_import", datetime(2026, 3, day, h, tzinfo=UTC), D(h), D(1), "kWh",
                                  "scheduled") for m in meters for h in hours])


def process():
    from meterhub.readings import processing

    while processing.process_dirty():
        pass


@pytest.fixture
def two_sites(site, collector):
    from meterhub.assets.models import Meter, Site

    south = Site.objects.create(code="south", name="South", time_zone="UTC")
    return [Meter.objects.create(serial=f"E{i}", site=site, address=f"{i:012d}") for i in (1, 2)], \
        Meter.objects.create(serial="S1", site=south, address="000000000009")


def test_reading_arrived_is_the_last_processing_step():
    from meterhub.readings import processing

    assert processing.steps()[-1] == "webhooks.reading-arrived"


@pytest.mark.django_db(transaction=True)
def test_arrived_readings_are_told_once_per_site_and_round_with_the_range_to_fetch(two_sites, receiver):
    (e1, e2), s1 = two_sites
    subscribe(receiver, "reading.arrived")
    store_reads(e1, e2, s1)
    store_reads(e1, day=2)  # late data for another day of the same meter
    process()
    process()  # nothing left: nothing more to tell
    bodies = sorted(delivered(receiver), key=lambda b: b["data"]["site"])
    assert [b["data"]["site"] for b in bodies] == ["north", "south"]
    north = sorted((m["meter"], m["start"], m["end"]) for m in bodies[0]["data"]["meters"])
    assert north == [("E1", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"),
                     ("E1", "2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
                     ("E2", "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")]
    assert bodies[1]["data"]["meters"] == [{"meter_id": s1.pk, "meter": "S1", "start": "2026-03-01T00:00:00Z",
                                            "end": "2026-03-02T00:00:00Z"}]


@pytest.mark.django_db
def test_a_round_that_fails_tells_nothing_and_its_retry_tells_once(two_sites, monkeypatch):
    from meterhub.readings import processing
    from meterhub.readings.models import DirtyDay

    (e1, _e2), _s1 = two_sites
    WebhookEndpoint.objects.create(name="x", url="http://127.0.0.1:9/", secret=SECRET, events=["reading.arrived"])
    store_reads(e1)

    def fails(meter_days):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(processing, "_steps", [*processing._steps, (99, "fails", fails)])
    with pytest.raises(RuntimeError):
        processing.process_dirty()
    assert not Message.objects.exists() and DirtyDay.objects.count() == 1
    monkeypatch.setattr(processing, "_steps", processing._steps[:-1])
    process()
    [message] = Message.objects.all()
    assert [m["meter"] for m in message.payload["data"]["meters"]] == ["E1"]
    assert not DirtyDay.objects.exists()


@pytest.mark.django_db
def test_no_reading_arrived_without_a_subscriber(two_sites, receiver):
    (e1, _e2), s1 = two_sites
    subscribe(receiver, "reading.arrived", site=s1.site)  # another site's integrator
    subscribe(receiver, "payment.credited")
    store_reads(e1)
    process()
    assert not Message.objects.exists()


# --- the console ---------------------------------------------------------------------------

INTEGRATOR_EVENTS = ["payment.credited", "payment.refunded", "relay.changed", "reading.arrived"]


@pytest.mark.django_db
def test_the_webhook_form_offers_the_integrator_events(signed_in, site):
    from meterhub.comms import switch_state
    from meterhub.readings import arrivals

    assert {switch_state.EVENT, arrivals.EVENT} <= set(INTEGRATOR_EVENTS)
    client, _admin = signed_in("administrator")
    page = client.get("/alarms/settings/").content.decode()
    assert all(f'value="{event}"' in page for event in INTEGRATOR_EVENTS)
    client.post("/alarms/settings/webhooks/", {"name": "Billing", "url": "https://billing.example.test/hook",
                                               "events": INTEGRATOR_EVENTS, "site": site.pk})
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == INTEGRATOR_EVENTS and endpoint.site == site
    client.post("/alarms/settings/webhooks/", {"name": "Bad", "url": "https://x.example.test/",
                                               "events": ["reading.deleted"]})
    assert WebhookEndpoint.objects.count() == 1


@pytest.mark.django_db
def test_any_run_of_status_reads_tells_each_move_once_however_it_is_batched(switched):
    """Property: relay positions read in time order, handed over in any batches and some twice, make one
    relay.changed per change of position after the first read, and none for repeats."""
    from django.db import transaction
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from meterhub.comms import store

    relay, _valve = switched
    WebhookEndpoint.objects.create(name="x", url="http://127.0.0.1:9/", secret=SECRET, events=["relay.changed"])

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(st.booleans(), min_size=1, max_size=12), st.data())
    def check(positions, data):
        sid = transaction.savepoint()
        try:
            sightings = [sighting(relay, is_open, minute) for minute, is_open in enumerate(positions)]
            cuts = sorted(data.draw(st.sets(st.integers(1, len(sightings)), max_size=4)))
            batches = [sightings[a:b] for a, b in zip([0, *cuts], [*cuts, len(sightings)], strict=True) if a < b]
            for batch in batches:
                store.write_batch(batch)
                if data.draw(st.booleans()):
                    store.write_batch(batch)  # delivered again
            moves = [(m.payload["data"]["old_state"], m.payload["data"]["new_state"])
                     for m in Message.objects.order_by("id")]
            expected = [("open" if a else "closed", "open" if b else "closed")
                        for a, b in zip(positions, positions[1:], strict=False) if a != b]
            assert moves == expected
        finally:
            transaction.savepoint_rollback(sid)

    check()
