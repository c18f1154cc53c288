"""The head-end against the simulated field (meterhub.sim) over loopback TCP."""

from __future__ import annotations

import asyncio
import socket
from datetime import datetime, timedelta

from meterhub.headend import meter_io
from meterhub.headend.bus import BusError
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.records import LinkRecord
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.protocols import dlt645
from meterhub.sim.fleet import Fleet as SimFleet
from meterhub.sim.fleet import parse_fleet

ENERGY, STATUS_3, SEAL = 0x00010000, 0x04000503, dlt645.DEFAULT_SEAL_SPEC.di
ADDRESSES = ["240101000001", "240101000002", "240101000003"]


def field(port: int) -> dict:
    meters = [{"address": a, "options": {"password": "123456", "operators": ("00000001",)}} for a in ADDRESSES]
    return {"seed": 3, "headend": f"127.0.0.1:{port}", "time_scale": 0.05,
            "defaults": {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "collectors": [{"code": "DTU-A", "registration_id": "REG-A", "buses": [{"baud": 9600, "meters": meters}]},
                           {"code": "DTU-B", "registration_id": "REG-B", "buses": [{"baud": 9600, "meters": [
                               {"address": "240102000001"}]}]}]}


def headend_fleet() -> Fleet:
    collectors = [CollectorRef(1, "DTU-A", "REG-A", "dialin_tcp", link_latency_s=0.05),
                  CollectorRef(2, "DTU-B", "REG-B", "dialin_tcp", link_latency_s=0.05)]
    meters = [MeterRef(n, f"E{a}", a, "dlt645_2007", "REG-A", baud_rate=9600, password="02123456",
                       operator_code="00000001") for n, a in enumerate(ADDRESSES, 1)]
    meters.append(MeterRef(9, "E240102000001", "240102000001", "dlt645_2007", "REG-B", baud_rate=9600))
    return Fleet.build(collectors, meters)


async def dialled_in(headend: HeadEnd, config: dict, buses: int) -> SimFleet:
    """The simulated field started, once `buses` of its buses hold a session on the head-end."""
    sim = SimFleet(parse_fleet(config))
    await sim.start(timeout=20)
    for _ in range(300):
        if len(headend.sessions) >= buses:
            break
        await asyncio.sleep(0.02)
    return sim


async def running(body, registration_timeout_s: float = 10.0):
    records: list = []
    headend = HeadEnd(headend_fleet, BatchSink(records.extend, interval_s=0.05), node="t",
                      registration_timeout_s=registration_timeout_s)
    port = await headend.start("127.0.0.1", 0)
    sim = await dialled_in(headend, field(port), 2)
    try:
        return await body(headend, sim, records)
    finally:
        await sim.stop()
        await headend.close()


def test_reads_every_meter_of_the_simulated_field():
    async def body(headend, sim, records):
        return {a: await headend.read_meter(f"E{a}", [ENERGY]) for a in ADDRESSES}

    values = asyncio.run(running(body))
    assert all(v[ENERGY] > 0 for v in values.values())
    assert len({v[ENERGY] for v in values.values()}) == 3, "each meter has its own register"


def test_relay_trip_cuts_the_simulated_supply_and_status_word_shows_it():
    async def body(headend, sim, records):
        meter = headend.fleet.meters["E240101000002"]
        session = headend.session_for(meter)
        until = datetime.now() + timedelta(hours=8, minutes=30)  # meter local time (UTC+8)
        await meter_io.relay_control(session, meter, dlt645.RelayAction.TRIP, until)
        status = await meter_io.read_item(session, meter, STATUS_3)
        return status, sim.meter("240101000002").relay_open

    status, simulated_open = asyncio.run(running(body))
    assert status["relay_open"] is True and simulated_open is True


def test_a_seal_opened_in_the_field_is_read_by_the_head_end():
    async def body(headend, sim, records):
        meter = headend.fleet.meters["E240101000001"]
        before = await meter_io.read_item(headend.session_for(meter), meter, SEAL)
        sim.meter("240101000001").open_seal()
        after = await meter_io.read_item(headend.session_for(meter), meter, SEAL)
        return before, after

    before, after = asyncio.run(running(body))
    assert before.sealed is True and after.sealed is False
    assert after.asset_number == before.asset_number
    assert after.changed_at is not None


def test_a_dropped_collector_reconnects_and_is_read_again():
    async def body(headend, sim, records):
        sim.collector("DTU-A").drop(reconnect_in=0.1)
        await asyncio.sleep(0.05)
        for _ in range(100):
            if ("REG-A", 1) in headend.sessions:
                break
            await asyncio.sleep(0.02)
        values = await headend.read_meter("E240101000001", [ENERGY])
        await headend.sink.flush()
        return values, [r.kind for r in records if isinstance(r, LinkRecord) and r.registration_id == "REG-A"]

    values, kinds = asyncio.run(running(body))
    assert values[ENERGY] > 0
    assert kinds[0] == "online" and "offline" in kinds and kinds[-1] == "online"


def test_a_collector_using_anothers_id_takes_over_its_bus_and_is_logged():
    """The head-end cannot tell which one is lying; it records the takeover so an
    operator sees two sources fighting over one id, and the real meters stop answering."""

    async def body(headend, sim, records):
        sim.collector("DTU-B").impersonate("REG-A")
        sim.collector("DTU-B").drop(reconnect_in=0.05)
        for _ in range(100):
            await headend.sink.flush()
            if any(isinstance(r, LinkRecord) and r.kind == "replaced" for r in records):
                break
            await asyncio.sleep(0.02)
        values = await headend.read_meter("E240101000001", [ENERGY])
        return values, [r.kind for r in records if isinstance(r, LinkRecord) and r.registration_id == "REG-A"]

    values, kinds = asyncio.run(running(body))
    assert "replaced" in kinds
    # whichever socket holds the bus at that moment: a value, or a typed failure, never a crash
    assert isinstance(values[ENERGY], BusError) or values[ENERGY] > 0


def test_a_flood_of_silent_connections_is_refused_and_the_field_keeps_working():
    async def body(headend, sim, records):
        port = headend._servers[0].sockets[0].getsockname()[1]
        flood = []
        for _ in range(300):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            flood.append(s)
        values = await headend.read_meter("E240101000003", [ENERGY])
        await asyncio.sleep(0.6)
        await headend.sink.flush()
        for s in flood:
            s.close()
        refused = [r for r in records if isinstance(r, LinkRecord) and r.kind == "refused"]
        return values, refused, len(headend.sessions)

    values, refused, sessions = asyncio.run(running(body, registration_timeout_s=0.3))
    assert values[ENERGY] > 0
    assert len(refused) == 300 and all("no registration" in r.reason for r in refused)
    assert sessions == 2


def mbus_field(port: int) -> dict:
    return {"seed": 5, "headend": f"127.0.0.1:{port}", "time_scale": 0.05,
            "collectors": [{"code": "MB-1", "registration_id": "REG-M", "buses": [{"baud": 9600, "meters": [
                {"address": "01000005", "kind": "water", "protocol": "mbus"},
                {"address": "7", "kind": "gas", "protocol": "mbus"}]}]}]}


def mbus_headend_fleet() -> Fleet:
    return Fleet.build([CollectorRef(3, "MB-1", "REG-M", "dialin_tcp", link_latency_s=0.05)], [
        MeterRef(21, "W01000005", "01000005", "mbus", "REG-M", baud_rate=9600, kind="water"),
        MeterRef(22, "G7", "7", "mbus", "REG-M", baud_rate=9600, kind="gas")])


def test_mbus_water_and_gas_meters_are_read_and_the_valve_closes():
    from meterhub.headend.commands import CommandTask, execute
    from meterhub.headend.records import ReadingRecord

    async def scenario():
        records: list = []
        headend = HeadEnd(mbus_headend_fleet, BatchSink(records.extend, interval_s=0.05), node="t")
        port = await headend.start("127.0.0.1", 0)
        sim = SimFleet(parse_fleet(mbus_field(port)))
        await sim.start(timeout=20)
        for _ in range(200):
            if headend.sessions:
                break
            await asyncio.sleep(0.02)
        try:
            water = await headend.read_meter("W01000005", [])
            gas = await headend.read_meter("G7", [])
            meter = headend.fleet.meters["W01000005"]
            task = CommandTask(1, "valve_close", meter, datetime.now(), "Asia/Shanghai", 1)
            outcome = await execute(headend.session_for(meter), task, datetime.now())
            states = []
            for n, kind in enumerate(("valve_open", "valve_close", "valve_open", "valve_close"), start=2):
                again = await execute(headend.session_for(meter), CommandTask(n, kind, meter, datetime.now(),
                                                                               "Asia/Shanghai", 1), datetime.now())
                states.append((again.status, sim.meter("01000005").valve_open))
            await headend.sink.flush()
            return water, gas, outcome, states, records
        finally:
            await sim.stop()
            await headend.close()

    water, gas, outcome, states, records = asyncio.run(scenario())
    assert water["water_volume"] > 0 and water["valve_open"] is True
    assert gas["gas_volume"] > 0
    assert outcome.status == "done" and outcome.result == {"valve_open": False}
    # every command acts: none is mistaken for a repeat by the meter's frame count bit
    assert states == [("done", True), ("done", False), ("done", True), ("done", False)]
    quantities = {(r.meter_id, r.quantity) for r in records if isinstance(r, ReadingRecord)}
    assert {(21, "water_volume"), (21, "water_flow"), (22, "gas_volume")} <= quantities


def test_clock_plan_corrects_drifted_clocks_by_broadcast_or_password_write():
    from datetime import UTC

    from meterhub.headend.commands import clock_offset_s
    from meterhub.headend.records import EventRecord
    from meterhub.headend.schedule import PlanSpec, Scheduler

    async def body(headend, sim, records):
        sim.meter("240101000001").set_clock_offset(120)  # two minutes fast: broadcast
        sim.meter("240101000002").set_clock_offset(-3600)  # an hour slow: needs the password write
        plan = PlanSpec(1, "clock", "30 2 * * *", "Asia/Shanghai", "clock", 0,
                        frozenset(f"E{a}" for a in ADDRESSES), None)
        scheduler = Scheduler(headend, lambda: [], lambda *a: None)
        corrected = await scheduler.run_clock_plan(plan, datetime.now(UTC))
        await headend.sink.flush()
        after = {}
        for a in ADDRESSES:
            meter = headend.fleet.meters[f"E{a}"]
            after[a] = await clock_offset_s(headend.session_for(meter), meter, datetime.now(UTC), "Asia/Shanghai")
        events = {(r.meter_id, r.kind) for r in records if isinstance(r, EventRecord)}
        return corrected, after, events

    corrected, after, events = asyncio.run(running(body))
    assert corrected == 2
    assert all(abs(offset) <= 5 for offset in after.values()), after
    assert {(1, "clock_broadcast"), (2, "clock_write"), (3, "clock_ok")} <= events
