"""Bus physics in real time (time_scale 1.0), through a dial-in collector over TCP.

N reads through one collector cannot be faster than the wire time the baud rate
implies for every request and reply (bytes x 11 / baud) plus each meter's reply
delay; and a second request sent before the first reply collides.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from meterhub.protocols.dlt645 import ReadReply, parse_reply
from meterhub.sim.bus import wire_time
from meterhub.sim.collector import BusSpec, Collector, CollectorSpec, MeterSpec

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


def test_reads_take_wire_time_plus_meter_delays():
    from meterhub.protocols.dlt645 import Read

    plan = [(a, di) for a in DELAYS for di in (ENERGY, VOLTAGE)]  # 6 reads

    async def go():
        async with HeadEnd() as he:
            c = Collector(spec(), headend=he.address, meter_factory=factory, time_scale=1.0)
            await c.start()
            link = await he.next_link()
            floor = 0.0
            t0 = time.perf_counter()
            for address, di in plan:
                req = Read(address, di).encode(4)
                f = await link.request(req, timeout=3)
                assert f is not None
                reply = parse_reply(f)
                assert isinstance(reply, ReadReply) and reply.address == address and reply.di == di
                reply_len = len(f.encode())  # as sent, FE preamble included
                floor += wire_time(len(req), BAUD) + DELAYS[address] + wire_time(reply_len, BAUD)
            elapsed = time.perf_counter() - t0
            await c.stop()
            return elapsed, floor

    elapsed, floor = run(go())
    # 6 x (20-byte request + 22/20-byte reply at 2400 baud ~ 0.19 s) + 0.8 s of delays
    assert floor > 1.8
    assert elapsed >= floor
    assert elapsed < floor + 1.0  # and not much more: the simulator adds little of its own


def test_a_request_before_the_reply_collides():
    from meterhub.protocols.dlt645 import Read

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
