"""Bus physics in real time (time_scale 1.0).

Through a dial-in collector over TCP, N reads cannot be faster than the wire time the
baud rate implies for every request and reply (bytes x 11 / baud) plus each meter's
reply delay, and a second request sent before the first reply collides. That the
simulator adds nothing of its own is checked on the bus alone, on a virtual clock
(tests/virtual_clock.py), where it is exact whatever the machine's load.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from meterhub.protocols.dlt645 import Read, ReadReply, parse_reply
from meterhub.sim.bus import Bus, wire_time
from meterhub.sim.collector import BusSpec, Collector, CollectorSpec, MeterSpec
from tests import virtual_clock

from .test_bus import ENERGY, VOLTAGE, FakeMeter
from .test_collector import HeadEnd, run

BAUD = 2400
DELAYS = {"240101000001": 0.030, "240101000002": 0.120, "240101000003": 0.250}


def spec() -> CollectorSpec:
    meters = [MeterSpec("E" + a, a) for a in DELAYS]
    return CollectorSpec(code="DTU-P", registration_id="860000000000077", heartbeat_s=0,
                         buses=[BusSpec(1, BAUD, meters)])


def factory(s):
    return FakeMeter(s.address, DELAYS[s.address])


PLAN = [(a, di) for a in DELAYS for di in (ENERGY, VOLTAGE)]  # 6 reads


def physics(address: str, request: bytes, reply: bytes) -> float:
    """Seconds from a request going on the wire to the end of its reply."""
    return wire_time(len(request), BAUD) + DELAYS[address] + wire_time(len(reply), BAUD)


def test_reads_take_at_least_wire_time_plus_meter_delays():
    async def go():
        async with HeadEnd() as he:
            c = Collector(spec(), headend=he.address, meter_factory=factory, time_scale=1.0)
            await c.start()
            link = await he.next_link()
            floor = 0.0
            t0 = time.perf_counter()
            for address, di in PLAN:
                req = Read(address, di).encode(4)
                f = await link.request(req, timeout=3)
                assert f is not None
                reply = parse_reply(f)
                assert isinstance(reply, ReadReply) and reply.address == address and reply.di == di
                floor += physics(address, req, f.encode())  # as sent, FE preamble included
            elapsed = time.perf_counter() - t0
            await c.stop()
            return elapsed, floor

    elapsed, floor = run(go())
    # 6 x (20-byte request + 22/20-byte reply at 2400 baud ~ 0.19 s) + 0.8 s of delays
    assert floor > 1.8
    assert elapsed >= floor


def test_the_bus_delivers_each_reply_exactly_when_the_physics_says():
    """Nothing of the simulator's own: on a virtual clock each reply reaches the uplink
    exactly request wire time + the meter's delay + reply wire time after the request."""
    bus = Bus.with_meters([FakeMeter(a, d) for a, d in DELAYS.items()], baud=BAUD)

    async def go():
        loop = asyncio.get_running_loop()
        exchanges = []
        for address, di in PLAN:
            await asyncio.sleep(0.01)  # the master's turnaround after the previous reply
            req = Read(address, di).encode(4)
            replied = loop.create_future()
            bus.attach(replied.set_result)
            sent = loop.time()
            bus.feed(req)
            reply = await replied
            exchanges.append((loop.time() - sent, physics(address, req, reply)))
        return exchanges

    exchanges = virtual_clock.run(go())
    assert [took for took, _ in exchanges] == pytest.approx([needed for _, needed in exchanges])
    assert bus.stats.replies == len(PLAN) and bus.stats.collisions == 0


def test_a_request_before_the_reply_collides():
    async def go():
        async with HeadEnd() as he:
            c = Collector(spec(), headend=he.address, meter_factory=factory, time_scale=1.0)
            await c.start()
            link = await he.next_link()
            first = Read("240101000002", ENERGY).encode(4)
            link.writer.write(first)
            # the request is on the wire for 92 ms and the meter answers 120 ms after it:
            # a second request 150 ms in goes out while the bus is busy
            await asyncio.sleep(0.150)
            assert c.buses[0].busy
            got = await link.request(Read("240101000003", VOLTAGE).encode(4), timeout=1.0)
            assert got is None  # neither the first reply nor the second came back intact
            stats = c.buses[0].stats
            assert stats.collisions >= 1 and stats.garbled_requests == 1 and stats.garbled_replies == 1
            assert len(link.raw) > 0  # the garbled reply arrives as noise
            # once the bus is quiet again, reads work
            assert await link.read_value("240101000003", VOLTAGE) == Decimal("220.1")
            await c.stop()

    run(go())
