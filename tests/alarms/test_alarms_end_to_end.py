"""The simulated field, the real head-end, store, rules, outbox and worker, real gateways on
127.0.0.1: a seal opened, a gas leak and a collector killed each make exactly one alarm and
the right messages, and the gas valve is closed by the head-end's command."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from meterhub import runtime
from meterhub.alarms import rules
from meterhub.alarms.models import Alarm
from meterhub.assets import history
from meterhub.assets.models import Building, Collector, Customer, Meter, Premise
from meterhub.comms import commands
from meterhub.comms.fleet import load_fleet
from meterhub.comms.models import Command
from meterhub.headend.covers import CoverWatch
from meterhub.headend.schedule import PlanSpec, Scheduler
from meterhub.headend.server import HeadEnd
from meterhub.headend.worker import CommandWorker
from meterhub.notifications.models import DutyShift, Message
from meterhub.notifications.worker import run_notifier
from meterhub.sim.seal_chip import reported_asset
from tests.headend.test_headend_with_sim import dialled_in
from tests.notifications.helpers import pending
from tests.seals.test_chips_end_to_end import in_thread, install_smart_seal

ADDRESS, GAS = "240101000001", "7"
pytestmark = pytest.mark.django_db(transaction=True)


def sim_field(port: int) -> dict:
    return {"seed": 5, "headend": f"127.0.0.1:{port}", "time_scale": 0.05,
            "defaults": {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "collectors": [
                {"code": "DTU-1", "registration_id": "REG-1", "buses": [{"baud": 9600, "meters": [
                    {"address": ADDRESS}]}]},
                # the simulated gas meter does not shut itself: the head-end's command must
                {"code": "DTU-2", "registration_id": "REG-2", "buses": [{"baud": 9600, "meters": [
                    {"address": GAS, "kind": "gas", "protocol": "mbus", "options": {"close_on_leak": False}}]}]}]}


@pytest.fixture
def estate(site, collector, make_operator, tmp_path, monkeypatch):
    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    meter = Meter.objects.create(serial="E" + ADDRESS, site=site, address=ADDRESS, collector=collector,
                                 baud_rate=9600)
    gas_collector = Collector.objects.create(code="DTU-2", site=site, registration_id="REG-2")
    gas = Meter.objects.create(serial="G7", site=site, address=GAS, collector=gas_collector, baud_rate=9600,
                               kind="gas", protocol="mbus", switch="valve")
    building = Building.objects.create(site=site, code="B1", name="Block 1")
    customer = Customer.objects.create(account_no="C-1", name="Li Wei", phone="13800000001")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for unit, m in (("101", meter), ("102", gas)):
        premise = Premise.objects.create(site=site, building=building, unit=unit)
        history.install_meter(m, premise, start)
    history.move_in(customer, gas.installations.get().premise, start)
    keeper, tech = make_operator("administrator", "keeper"), make_operator("technician", "tina")
    olga = make_operator("operator", "olga")
    olga.phone, olga.email = "13900000002", "olga@meterhub.test"
    olga.save()
    DutyShift.objects.create(user=olga, site=site, starts_at=start, ends_at=datetime(2030, 1, 1, tzinfo=UTC))
    return meter, gas, customer, keeper, tech


def plan(*serials, items="instant") -> PlanSpec:
    return PlanSpec(1, "p", "*/5 * * * *", "Asia/Shanghai", items, 0, frozenset(serials), None)


async def field_and_headend():
    """The real head-end on a free port and the simulated field dialled in to it."""
    headend = HeadEnd(load_fleet, runtime.make_sink("t"), node="t", thread_finalizer=connections.close_all)
    port = await headend.start("127.0.0.1", 0)
    sim = await dialled_in(headend, sim_field(port), 2)
    return headend, sim, Scheduler(headend, lambda node: [], lambda *a: None)


async def deliver_all(headend, adapters) -> None:
    notifier = asyncio.create_task(run_notifier(headend.blocking.run, node="t", adapters=adapters, idle_s=0.05))
    for _ in range(200):
        await asyncio.sleep(0.1)
        if await headend.blocking.run(pending) == 0:
            break
    notifier.cancel()
    await asyncio.gather(notifier, return_exceptions=True)


def test_seal_gas_leak_and_dead_collector_each_make_one_alarm_the_right_messages_and_the_valve_closes(
        estate, adapters, sms_gateway, mailbox):
    meter, gas, customer, keeper, tech = estate

    async def scenario():
        headend, sim, scheduler = await field_and_headend()
        worker = CommandWorker(headend, commands.claim, commands.finish, commands.expire_overdue)

        async def cycle(p):
            await scheduler.run_plan(p, datetime.now(UTC).replace(microsecond=0))
            await headend.sink.flush(backoff=False)

        try:
            # 1. a seal opened
            await in_thread(install_smart_seal, (meter, customer, keeper, tech),
                            reported_asset(sim.meter(ADDRESS).seal.asset_number))
            await headend.refresh_fleet()
            await cycle(plan(meter.serial, items="status"))
            sim.meter(ADDRESS).open_seal()
            for _ in range(2):
                await cycle(plan(meter.serial, items="status"))
            # 2. a gas leak: the next read sees it, the alarm queues the valve command
            await cycle(plan(gas.serial))
            assert sim.meter(GAS).valve_open
            sim.meter(GAS).trigger_leak()
            for _ in range(2):
                await cycle(plan(gas.serial))
            await worker.tick()
            await worker.drain()
            valve_after = sim.meter(GAS).valve_open
            # 3. a collector killed: offline past the limit
            await sim.collector("DTU-1").stop()
            for _ in range(300):
                if ("REG-1", 1) not in headend.sessions or headend.sessions[("REG-1", 1)].closed:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.1)
            await headend.sink.flush(backoff=False)
            later = datetime.now(UTC) + timedelta(minutes=31)
            for _ in range(2):
                await headend.blocking.run(rules.sweep, later)
            await deliver_all(headend, adapters)
            return valve_after
        finally:
            await sim.stop()
            await headend.close()

    valve_after = asyncio.run(scenario())

    alarms = {a.kind: a for a in Alarm.objects.all()}
    assert sorted(alarms) == ["collector_offline", "gas_leak", "seal_open"], "exactly one alarm each"
    assert all(a.count == 1 for a in alarms.values())
    assert alarms["collector_offline"].collector.code == "DTU-1"
    assert alarms["gas_leak"].meter == gas and alarms["gas_leak"].severity == "critical"

    [command] = Command.objects.filter(meter=gas)
    assert (command.kind, command.status, command.requested_by) == ("valve_close", "done", "alarm")
    assert valve_after is False, "the simulated valve is shut"

    sms = sorted((r.json["to"], r.json["text"]) for r in sms_gateway.accepted)
    to_olga = [t for to, t in sms if to == "13900000002"]
    assert len(to_olga) == 3 and len(sms) == 4, sms
    assert [to for to, _t in sms].count("13800000001") == 1, "the customer hears of the gas leak only"
    assert any("G7" in t for to, t in sms if to == "13800000001")
    assert any("DTU-1" in t for t in to_olga) and any("E" + ADDRESS in t for t in to_olga)
    assert sorted(rcpt[0] for rcpt, _m in mailbox.messages) == ["olga@meterhub.test"] * 3
    assert set(Message.objects.values_list("status", flat=True)) == {"sent"}


def test_the_head_end_reports_relay_changes_and_a_relay_closed_after_a_trip_alarms(estate):
    meter, *_ = estate

    async def scenario():
        headend, sim, scheduler = await field_and_headend()

        async def cycle():
            await scheduler.run_plan(plan(meter.serial, items="status"), datetime.now(UTC).replace(microsecond=0))
            await headend.sink.flush(backoff=False)

        try:
            await in_thread(lambda: Command.objects.create(
                meter=meter, kind="relay_trip", status="done", finished_at=datetime.now(UTC) - timedelta(hours=1),
                valid_until=datetime.now(UTC), requested_by="olga"))
            sim.meter(ADDRESS).trip()
            await cycle()
            await asyncio.sleep(1.1)
            await cycle()  # unchanged: no new event
            sim.meter(ADDRESS).close_relay()  # someone closed it by hand
            await asyncio.sleep(1.1)
            await cycle()
        finally:
            await sim.stop()
            await headend.close()

    asyncio.run(scenario())
    from meterhub.readings.models import MeterEvent

    states = list(MeterEvent.objects.filter(meter=meter, kind="relay_state").order_by("ts")
                  .values_list("detail__relay_open", flat=True))
    assert states == [True, False], "one event per change"
    [alarm] = Alarm.objects.filter(kind="relay_mismatch")
    assert alarm.meter == meter and alarm.detail["relay_open"] is False


def test_a_cover_opened_in_the_field_is_one_alarm_the_operator_on_duty_hears_of_once(
        estate, adapters, sms_gateway, mailbox):
    """Read by the 15-minute plan: the count rises, the newest record is read, the event
    raises the alarm; reading it again (also after a restart) raises nothing more, and the
    record's end reaches the alarm when the cover is closed."""
    meter, *_ = estate

    async def scenario():
        headend, sim, scheduler = await field_and_headend()

        async def cycle():
            await scheduler.run_plan(plan(meter.serial), datetime.now(UTC).replace(microsecond=0))
            await headend.sink.flush(backoff=False)
            await asyncio.sleep(1.1)  # the next slot

        try:
            await cycle()
            sim.meter(ADDRESS).open_cover(break_seal=False)
            await cycle()
            await cycle()  # open still: the record is read again
            headend.covers = CoverWatch()  # a restart forgets what it saw ...
            await headend.refresh_fleet()  # ... and resumes from what was stored
            await cycle()
            sim.meter(ADDRESS).close_cover()
            await cycle()
            await cycle()
            await deliver_all(headend, adapters)
        finally:
            await sim.stop()
            await headend.close()

    asyncio.run(scenario())
    from meterhub.readings.models import MeterEvent

    [alarm] = Alarm.objects.all()
    assert (alarm.kind, alarm.meter, alarm.count, alarm.severity) == ("cover_open", meter, 1, "critical")
    assert alarm.detail["number"] == 1 and alarm.detail["end"] is not None
    opened = MeterEvent.objects.get(meter=meter, kind="cover_open")
    assert alarm.raised_at == opened.ts, "the meter's time of opening, not the read's"
    assert MeterEvent.objects.filter(meter=meter, kind="cover_closed").count() == 1
    sms = [(r.json["to"], r.json["text"]) for r in sms_gateway.accepted]
    assert [to for to, _t in sms] == ["13900000002"] and "E" + ADDRESS in sms[0][1], "the operator on duty, once"
    assert [rcpt for rcpt, _m in mailbox.messages] == [["olga@meterhub.test"]]
