"""A seal opened in the simulated field: the head-end's next read raises the alarm, with the
chip's time, and the customer's record shows it. Real head-end, real simulator over TCP,
the real store and the real database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.urls import reverse

from meterhub import runtime
from meterhub.alarms.models import Alarm
from meterhub.assets import history
from meterhub.assets.models import Building, Customer, Meter, Premise
from meterhub.comms.fleet import load_fleet
from meterhub.headend.schedule import PlanSpec, Scheduler
from meterhub.headend.seal_chips import chip_time_utc
from meterhub.headend.server import HeadEnd
from meterhub.readings.models import MeterEvent
from meterhub.seals import custody
from meterhub.seals.custody import Where
from meterhub.sim.fleet import Fleet as SimFleet
from meterhub.sim.fleet import parse_fleet
from meterhub.sim.seal_chip import reported_asset

ADDRESS = "240101000001"

pytestmark = pytest.mark.django_db(transaction=True)


def sim_field(port: int) -> dict:
    return {"seed": 5, "headend": f"127.0.0.1:{port}", "time_scale": 0.05,
            "defaults": {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "collectors": [{"code": "DTU-1", "registration_id": "REG-1",
                            "buses": [{"baud": 9600, "meters": [{"address": ADDRESS}]}]}]}


@pytest.fixture
def estate(site, collector, make_operator, tmp_path, monkeypatch):
    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    meter = Meter.objects.create(serial="E" + ADDRESS, site=site, address=ADDRESS, collector=collector,
                                 baud_rate=9600)
    building = Building.objects.create(site=site, code="B1", name="Block 1")
    premise = Premise.objects.create(site=site, building=building, unit="101")
    customer = Customer.objects.create(account_no="C-1", name="Li Wei")
    history.install_meter(meter, premise, datetime(2026, 1, 1, tzinfo=UTC))
    history.move_in(customer, premise, datetime(2026, 1, 1, tzinfo=UTC))
    keeper, tech = make_operator("administrator", "keeper"), make_operator("technician", "tina")
    return meter, customer, keeper, tech


async def in_thread(fn, *args):
    """Run database code off the loop, closing the thread's connection after it."""

    def run():
        try:
            return fn(*args)
        finally:
            connections.close_all()

    return await asyncio.to_thread(run)


def plan(meter) -> PlanSpec:
    return PlanSpec(1, "status", "*/5 * * * *", "Asia/Shanghai", "status", 0, frozenset({meter.serial}), None)


async def field_and_headend(body):
    headend = HeadEnd(load_fleet, runtime.make_sink("t"), node="t", thread_finalizer=connections.close_all)
    port = await headend.start("127.0.0.1", 0)
    sim = SimFleet(parse_fleet(sim_field(port)))
    await sim.start(timeout=20)
    for _ in range(200):
        if headend.sessions:
            break
        await asyncio.sleep(0.02)
    scheduler = Scheduler(headend, lambda node: [], lambda *a: None)

    async def one_cycle(meter):
        await scheduler.run_plan(plan(meter), datetime.now(UTC).replace(microsecond=0))
        await headend.sink.flush(backoff=False)

    try:
        return await body(headend, sim, one_cycle)
    finally:
        await sim.stop()
        await headend.close()


def install_smart_seal(estate, chip_asset: str, serial_no: int = 1):
    meter, _customer, keeper, tech = estate
    serial = f"SM{serial_no:06d}"
    custody.receive_batch(f"B{serial_no}", "smart", serial_no, serial_no, Where(keeper), prefix="SM",
                          chip_assets={serial: chip_asset})
    custody.issue([serial], tech, Where(keeper))
    return custody.install(serial, Where(tech), meter=meter, position="meter_cover")


def test_seal_opened_in_the_simulator_is_an_alarm_and_on_the_customer_record_within_one_cycle(
        estate, client, make_operator):
    meter, customer, keeper, tech = estate

    async def body(headend, sim, one_cycle):
        chip = sim.meter(ADDRESS).seal
        await in_thread(install_smart_seal, estate, reported_asset(chip.asset_number))
        await headend.refresh_fleet()  # the fleet now asks this meter for its chip
        assert headend.fleet.meters[meter.serial].seal_di is not None
        await one_cycle(meter)
        quiet = await in_thread(lambda: list(Alarm.objects.all()))
        sim.meter(ADDRESS).open_seal()
        status = chip.status()
        await one_cycle(meter)
        return quiet, status

    quiet, status = asyncio.run(field_and_headend(body))
    assert quiet == [], "a sealed chip that matches raises nothing"
    alarm = Alarm.objects.get()
    assert (alarm.kind, alarm.meter, alarm.state, alarm.severity) == ("seal_open", meter, "raised", "critical")
    assert alarm.raised_at == chip_time_utc(status, "Asia/Shanghai"), "the chip's time, not the read's"
    assert abs(alarm.raised_at - datetime.now(UTC)) < timedelta(minutes=5)
    assert MeterEvent.objects.filter(meter=meter, kind="seal_open").count() == 1

    client.force_login(make_operator("operator", "olga"))
    page = client.get(reverse("customer-detail", args=[customer.pk])).content.decode()
    assert 'data-seal-alarm="seal_open"' in page and "SM000001" in page
    meter_page = client.get(reverse("meter-detail", args=[meter.pk])).content.decode()
    assert 'data-seal-alarm="seal_open"' in meter_page


def test_repeated_reads_of_an_open_seal_are_one_alarm_and_a_reseal_job_clears_it(estate):
    meter, customer, keeper, tech = estate

    async def body(headend, sim, one_cycle):
        chip = sim.meter(ADDRESS).seal
        await in_thread(install_smart_seal, estate, reported_asset(chip.asset_number))
        await headend.refresh_fleet()
        sim.meter(ADDRESS).open_seal()
        for _ in range(3):
            await one_cycle(meter)
        headend.chips = type(headend.chips)()  # a head-end restart forgets what it saw
        await one_cycle(meter)

    asyncio.run(field_and_headend(body))
    alarm = Alarm.objects.get()
    assert alarm.count == 1, "the same opening, read again and again, is one occurrence"
    custody.receive_batch("B9", "plastic", 9, 9, Where(keeper), prefix="PL")
    custody.issue(["PL000009"], tech, Where(keeper))
    with pytest.raises(Exception, match="work order"):
        custody.reseal(meter, "meter_cover", "PL000009", Where(tech), job="")
    custody.reseal(meter, "meter_cover", "PL000009", Where(tech), job="WO-77")
    alarm.refresh_from_db()
    assert (alarm.state, alarm.cleared_by) == ("cleared", tech) and "WO-77" in alarm.clear_reason
    assert custody.installed_at(meter, None, "meter_cover").serial == "PL000009"


def test_a_foreign_chip_raises_a_foreign_seal_alarm(estate):
    meter, *_ = estate

    async def body(headend, sim, one_cycle):
        chip = sim.meter(ADDRESS).seal
        await in_thread(install_smart_seal, estate, reported_asset(chip.asset_number))
        await headend.refresh_fleet()
        await one_cycle(meter)
        sim.meter(ADDRESS).swap_seal("7777000011112222")
        await one_cycle(meter)

    asyncio.run(field_and_headend(body))
    alarm = Alarm.objects.get()
    assert alarm.kind == "foreign_seal" and alarm.detail["asset_number"] == "7777000011112222"
