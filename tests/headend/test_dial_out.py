"""The head-end dials out to collectors that listen, and redials when a link drops."""

from __future__ import annotations

import asyncio
import socket

from meterhub.headend.dial_out import DialOut
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.records import LinkRecord
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.sim.fleet import Fleet as SimFleet
from meterhub.sim.fleet import parse_fleet

ENERGY = 0x00010000


def free_port_pair() -> int:
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
        try:
            with socket.socket() as b:
                b.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


def test_dial_out_reads_both_buses_and_redials_after_a_drop():
    listen = free_port_pair()
    field = {"seed": 9, "time_scale": 0.05, "collectors": [{
        "code": "DO-1", "registration_id": "REG-DO", "transport": "dialout_tcp", "host": "127.0.0.1", "port": listen,
        "buses": [{"port": 1, "baud": 9600, "meters": [{"address": "240103000001"}]},
                  {"port": 2, "baud": 9600, "meters": [{"address": "240103000002"}]}]}]}
    fleet = Fleet.build(
        [CollectorRef(1, "DO-1", "REG-DO", "dialout_tcp", host="127.0.0.1", port=listen, link_latency_s=0.05)],
        [MeterRef(1, "E1", "240103000001", "dlt645_2007", "REG-DO", 1, baud_rate=9600),
         MeterRef(2, "E2", "240103000002", "dlt645_2007", "REG-DO", 2, baud_rate=9600)])

    async def scenario():
        records: list = []
        headend = HeadEnd(lambda: fleet, BatchSink(records.extend, interval_s=0.05), node="t")
        await headend.start("127.0.0.1", 0)
        sim = SimFleet(parse_fleet(field))
        await sim.start(timeout=10)  # listening
        dial = asyncio.create_task(DialOut(headend, backoff_s=(0.05, 0.2)).run())
        try:
            for _ in range(200):
                if len(headend.sessions) == 2:
                    break
                await asyncio.sleep(0.02)
            first = [await headend.read_meter(s, [ENERGY]) for s in ("E1", "E2")]
            sim.collector("DO-1").drop()
            await asyncio.sleep(0.1)
            for _ in range(200):
                if len(headend.sessions) == 2:
                    break
                await asyncio.sleep(0.02)
            again = await headend.read_meter("E1", [ENERGY])
            await headend.sink.flush()
            return first, again, [r.kind for r in records if isinstance(r, LinkRecord) and r.port == 1]
        finally:
            dial.cancel()
            await sim.stop()
            await headend.close()

    first, again, kinds = asyncio.run(scenario())
    assert all(v[ENERGY] > 0 for v in first)
    assert again[ENERGY] > 0
    assert kinds[:2] == ["online", "offline"] and kinds[-1] == "online"


def test_removing_a_dial_out_collector_hangs_up_its_link():
    listen = free_port_pair()
    field = {"seed": 9, "time_scale": 0.05, "collectors": [{
        "code": "DO-2", "registration_id": "REG-DO2", "transport": "dialout_tcp", "host": "127.0.0.1",
        "port": listen, "buses": [{"port": 1, "baud": 9600, "meters": [{"address": "240103000003"}]}]}]}
    with_collector = Fleet.build(
        [CollectorRef(1, "DO-2", "REG-DO2", "dialout_tcp", host="127.0.0.1", port=listen, link_latency_s=0.05)],
        [MeterRef(1, "E3", "240103000003", "dlt645_2007", "REG-DO2", 1, baud_rate=9600)])
    current = {"fleet": with_collector}

    async def scenario():
        headend = HeadEnd(lambda: current["fleet"], BatchSink(lambda b: None), node="t")
        await headend.start("127.0.0.1", 0)
        sim = SimFleet(parse_fleet(field))
        await sim.start(timeout=10)
        dial = asyncio.create_task(DialOut(headend, refresh_s=0.05, backoff_s=(0.05, 0.2)).run())
        try:
            for _ in range(200):
                if headend.sessions:
                    break
                await asyncio.sleep(0.02)
            was_up = bool(headend.sessions)
            current["fleet"] = Fleet.build([], [])  # the collector is deleted from the registry
            await headend.refresh_fleet()
            for _ in range(100):
                if not headend.sessions:
                    break
                await asyncio.sleep(0.02)
            return was_up, dict(headend.sessions)
        finally:
            dial.cancel()
            await sim.stop()
            await headend.close()

    was_up, sessions_after = asyncio.run(scenario())
    assert was_up and sessions_after == {}
