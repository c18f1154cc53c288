"""The durable command queue end to end: database, head-end, a collector over loopback TCP."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone

from meterhub.assets.models import Meter
from meterhub.comms import commands
from meterhub.comms.fleet import load_fleet
from meterhub.comms.models import Command
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.headend.worker import CommandWorker
from tests.headend.fake_collector import FakeCollector, FakeMeter

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def relay_meter(collector):
    return Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector,
                                switch="relay", baud_rate=9600, password="02123456", operator_code="00000001")


async def with_headend(body, fake_meters, sink=None):
    headend = HeadEnd(load_fleet, sink or BatchSink(lambda batch: None), node="test-node",
                      thread_finalizer=connections.close_all)
    port = await headend.start("127.0.0.1", 0)
    collector = FakeCollector("REG-1", fake_meters)
    await collector.connect("127.0.0.1", port)
    for _ in range(200):
        if headend.sessions:
            break
        await asyncio.sleep(0.01)
    worker = CommandWorker(headend, commands.claim, commands.finish, commands.expire_overdue)
    try:
        return await body(headend, worker)
    finally:
        await worker.close()
        await collector.drop()
        await headend.close()


def test_relay_trip_is_sent_once_confirmed_and_every_step_kept(relay_meter, make_operator):
    fake = FakeMeter("000000000001")
    command = commands.request_command(relay_meter, "relay_trip", actor=make_operator("operator"),
                                       reason="balance exhausted")

    async def body(headend, worker):
        started = await worker.tick()
        await worker.drain()
        return started

    assert asyncio.run(with_headend(body, [fake])) == 1
    command.refresh_from_db()
    assert command.status == "done" and command.result == {"relay_open": True}
    assert fake.relay_open and fake.relay_operations == 1
    assert [s.step for s in command.steps.all()] == ["queued", "claimed", "sent", "acknowledged", "confirmed"]
    assert command.steps.first().detail["reason"] == "balance exhausted"


def test_a_restart_mid_command_neither_loses_nor_repeats_it(relay_meter):
    """Claimed, sent, then the head-end died before recording it: the next one checks first."""
    fake = FakeMeter("000000000001")
    fake.relay_open = fake.trip_commanded = True  # the trip reached the meter before the crash
    command = commands.request_command(relay_meter, "relay_trip", requested_by="billing")
    claimed = commands.claim("dead-node", {("REG-1", 1)})
    assert [t.id for t in claimed] == [command.pk]
    assert commands.claim("other-node", {("REG-1", 1)}) == []  # leased: nobody else takes it
    Command.objects.filter(pk=command.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    async def body(headend, worker):
        started = await worker.tick()
        await worker.drain()
        return started

    assert asyncio.run(with_headend(body, [fake])) == 1
    command.refresh_from_db()
    assert command.status == "done" and command.attempts == 2
    assert fake.relay_operations == 0, "the meter was already tripped: no second operation"
    assert command.steps.filter(step="confirmed", detail__already=True).exists()


def test_wrong_password_fails_the_command_with_the_meters_reason(relay_meter):
    Meter.objects.filter(pk=relay_meter.pk).update(password="02999999")
    command = commands.request_command(relay_meter, "relay_trip", requested_by="ops")
    async def body(headend, worker):
        await worker.tick()
        await worker.drain()

    asyncio.run(with_headend(body, [FakeMeter("000000000001")]))
    command.refresh_from_db()
    assert command.status == "failed"
    assert command.result["errors"] == ["password wrong / not authorised"]


def test_silent_meter_is_retried_then_failed(relay_meter):
    command = commands.request_command(relay_meter, "relay_trip", requested_by="ops")

    async def body(headend, worker):
        for _ in range(commands.MAX_ATTEMPTS):
            await worker.tick()
            await worker.drain()

    asyncio.run(with_headend(body, [FakeMeter("000000000001", silent=True)]))
    command.refresh_from_db()
    assert (command.status, command.attempts) == ("failed", commands.MAX_ATTEMPTS)
    assert command.steps.filter(step="no_answer").count() == commands.MAX_ATTEMPTS


def test_commands_expire_at_their_valid_until(relay_meter):
    command = commands.request_command(relay_meter, "relay_trip", requested_by="ops", valid_for=timedelta(0))
    assert commands.expire_overdue(timezone.now() + timedelta(seconds=1)) == 1
    command.refresh_from_db()
    assert command.status == "expired"
    assert commands.claim("n", {("REG-1", 1)}) == []


def test_commands_for_other_buses_are_left_for_their_head_end(relay_meter):
    commands.request_command(relay_meter, "relay_trip", requested_by="ops")
    assert commands.claim("n", {("SOMEONE-ELSE", 1)}) == []


def test_a_command_nobody_signed_in_asked_for_is_audited_under_who_asked(relay_meter):
    from meterhub.accounts.models import AuditEntry

    commands.request_command(relay_meter, "read_now", requested_by="kiosk:LOBBY-1")
    assert AuditEntry.objects.get(action="command").actor_name == "kiosk:LOBBY-1"


def test_relay_command_on_a_meter_without_relay_is_refused(collector):
    from django.core.exceptions import ValidationError

    water = Meter.objects.create(serial="W1", site=collector.site, address="1", protocol="mbus",
                                 collector=collector, switch="valve")
    with pytest.raises(ValidationError, match="no relay"):
        commands.request_command(water, "relay_trip", requested_by="ops")


def test_what_read_now_reads_is_stored_as_on_demand_readings(relay_meter):
    from meterhub.comms.store import write_batch
    from meterhub.headend.records import ReadingRecord
    from meterhub.readings.models import Reading

    relay_meter.ct_ratio = 50
    relay_meter.save()
    command = commands.request_command(relay_meter, "read_now", requested_by="vee",
                                       params={"items": ["00010000", "04000503"]})
    sink = BatchSink(lambda batch: None)
    records = []
    sink.put = records.append

    async def body(headend, worker):
        await worker.tick()
        await worker.drain()

    asyncio.run(with_headend(body, [FakeMeter("000000000001", energy="321.09")], sink))
    command.refresh_from_db()
    assert command.status == "done"
    assert command.result["relay_open"] is False  # status word 3, as the meter reports its relay
    readings = [r for r in records if isinstance(r, ReadingRecord)]
    assert [(r.quantity, r.raw_value, r.multiplier, r.source) for r in readings] == [
        ("energy_import", Decimal("321.09"), Decimal(50), "on_demand")]  # the status word is not a reading
    write_batch(records)
    stored = Reading.objects.get(meter=relay_meter)
    assert (stored.value, stored.quality, stored.source) == (Decimal("16054.5"), "actual", "on_demand")
