"""Collectors over real loopback TCP, against a minimal head-end written here: the
registration packet, DL/T 645 reads built with meterhub.protocols.dlt645 and parsed
with its stream parser, heartbeats, dial-out, reconnect with backoff, and the
collector faults. (`HeadEnd` and `Link` are imported by the other sim tests.)
"""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal

import pytest

from meterhub.protocols.dlt645 import (
    Frame,
    Noise,
    Read,
    ReadAddress,
    ReadReply,
    StreamParser,
    parse_reply,
)
from meterhub.sim.collector import (
    BusSpec,
    Collector,
    CollectorFaults,
    CollectorSpec,
    MeterSpec,
    registration_packet,
)

from .test_bus import ENERGY, VOLTAGE, FakeMeter

REG = "860000000000001"


class Link:
    """The head-end's side of one collector connection."""

    def __init__(self, registration: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.registration = registration
        self.reader, self.writer = reader, writer
        self.parser = StreamParser()
        self.events: list = []  # everything the parser reported that was not a frame
        self.raw = bytearray()

    async def frame(self, timeout: float = 2.0) -> Frame | None:
        """The next complete frame, or None if none came within `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for ev in self.parser:
                if isinstance(ev, Frame):
                    return ev
                self.events.append(ev)
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                chunk = await asyncio.wait_for(self.reader.read(4096), left)
            except TimeoutError:
                return None
            if not chunk:
                return None
            self.raw += chunk
            self.parser.feed(chunk)

    async def request(self, raw: bytes, timeout: float = 2.0) -> Frame | None:
        self.writer.write(raw)
        await self.writer.drain()
        return await self.frame(timeout)

    async def read_value(self, address: str, di: int):
        f = await self.request(Read(address, di).encode(4))
        assert f is not None, f"no reply to {di:08X}"
        reply = parse_reply(f)
        assert isinstance(reply, ReadReply) and reply.di == di
        return reply.value()

    def close(self):
        self.writer.close()


class HeadEnd:
    """A minimal dial-in head-end: accepts, reads the registration line, queues the link."""

    def __init__(self):
        self.links: asyncio.Queue[Link] = asyncio.Queue()
        self.registrations: list[bytes] = []
        self.port = 0

    async def __aenter__(self):
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0, backlog=1024)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc):
        self.server.close()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    async def _accept(self, reader, writer):
        try:
            reg = await asyncio.wait_for(reader.readuntil(b"\r\n"), 5)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            writer.close()
            return
        self.registrations.append(reg)
        await self.links.put(Link(reg, reader, writer))

    async def next_link(self, timeout: float = 5.0) -> Link:
        return await asyncio.wait_for(self.links.get(), timeout)


def one_bus(code="DTU-1", reg=REG, addresses=("240101000001",), baud=9600, **kw) -> CollectorSpec:
    meters = [MeterSpec(serial="E" + a, address=a) for a in addresses]
    return CollectorSpec(code=code, registration_id=reg, buses=[BusSpec(1, baud, meters)], **kw)


def fake_factory(delay=0.02):
    return lambda spec: FakeMeter(spec.address, delay)


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- dial-in ------------------------------------------------------------------------------


def test_registration_packets():
    assert registration_packet(REG) == b"REG:860000000000001\r\n"
    assert registration_packet(REG, 2) == b"REG:860000000000001:2\r\n"


def test_dial_in_registers_and_serves_dlt645_reads():
    async def go():
        async with HeadEnd() as he:
            c = Collector(one_bus(addresses=("240101000001", "240101000002")), headend=he.address,
                          meter_factory=fake_factory(), time_scale=0.2)
            await c.start()
            link = await he.next_link()
            assert link.registration == b"REG:860000000000001\r\n"
            assert await link.read_value("240101000001", ENERGY) == Decimal("1234.56")
            assert await link.read_value("240101000002", VOLTAGE) == Decimal("220.1")
            f = await link.request(ReadAddress().encode(4), timeout=0.5)
            assert f is None  # two meters answer the wildcard at once: a collision
            assert link.raw  # ...which arrives as noise
            await c.stop()
            return c

    c = run(go())
    assert c.buses[0].stats.requests == 3 and c.buses[0].stats.collisions == 1


def test_one_socket_per_bus_with_the_port_in_the_registration():
    spec = CollectorSpec(code="DTU-2", registration_id=REG, buses=[
        BusSpec(1, 9600, [MeterSpec("E1", "000000000001")]),
        BusSpec(2, 9600, [MeterSpec("E2", "000000000002")]),
    ])

    async def go():
        async with HeadEnd() as he:
            c = Collector(spec, headend=he.address, meter_factory=fake_factory(), time_scale=0.2)
            await c.start()
            links = {(await he.next_link()).registration: None for _ in range(2)}
            assert set(links) == {b"REG:860000000000001\r\n", b"REG:860000000000001:2\r\n"}
            await c.stop()

    run(go())


def test_heartbeats_while_idle_and_between_request_and_reply():
    async def go():
        async with HeadEnd() as he:
            c = Collector(one_bus(heartbeat_s=0.05), headend=he.address,
                          meter_factory=fake_factory(delay=0.3), time_scale=1.0)
            await c.start()
            link = await he.next_link()
            await asyncio.sleep(0.2)
            idle = await asyncio.wait_for(link.reader.read(100), 1)
            assert idle.startswith(b"HB\r\n") and set(idle.split(b"\r\n")) <= {b"HB", b""}
            # the meter takes 300 ms: heartbeats come in between, the parser skips them
            value = await link.read_value("240101000001", ENERGY)
            assert value == Decimal("1234.56")
            assert any(isinstance(e, Noise) and b"HB" in e.raw for e in link.events)
            await c.stop()

    run(go())


def test_reconnects_with_backoff_and_registers_again():
    async def go():
        async with HeadEnd() as he:
            spec = one_bus(reconnect_min_s=0.05, reconnect_max_s=0.2)
            c = Collector(spec, headend=he.address, meter_factory=fake_factory(), time_scale=0.2)
            await c.start()
            first = await he.next_link()
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            first.close()  # the head-end drops the collector
            second = await he.next_link()
            waited = loop.time() - t0
            assert second.registration == first.registration
            assert waited >= 0.05 * 0.5  # at least the jittered minimum backoff
            assert await second.read_value("240101000001", ENERGY) == Decimal("1234.56")
            assert c.drops == 1 and c.connects == 2
            await c.stop()

    run(go())


def test_backoff_grows_while_the_head_end_is_away():
    c = Collector(one_bus(reconnect_min_s=1, reconnect_max_s=8), seed=3)
    delays = [c.backoff(n) for n in range(1, 7)]
    assert all(0.5 * b <= d <= b for d, b in zip(delays, [1, 2, 4, 8, 8, 8], strict=True))

    async def go():
        port = free_port()  # nobody listens: connects fail and the collector keeps trying
        spec = one_bus(reconnect_min_s=0.02, reconnect_max_s=0.1)
        col = Collector(spec, headend=("127.0.0.1", port), meter_factory=fake_factory())
        await col.start()
        await asyncio.sleep(0.4)
        assert col.failed_connects >= 3
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
        for _ in range(50):
            if col.links:
                break
            await asyncio.sleep(0.02)
        assert col.links, "did not come back once the head-end listened"
        await col.stop()
        server.close()

    run(go())


def test_drop_fault_and_fixed_reconnect():
    async def go():
        async with HeadEnd() as he:
            c = Collector(one_bus(), headend=he.address, meter_factory=fake_factory())
            await c.start()
            await he.next_link()
            assert c.drop(reconnect_in=0.05) == 1
            link = await he.next_link(2)
            assert link.registration == b"REG:860000000000001\r\n"
            await c.stop()

    run(go())


def test_periodic_drops_from_the_spec():
    async def go():
        async with HeadEnd() as he:
            spec = one_bus(reconnect_min_s=0.02, faults=CollectorFaults(drop_every_s=0.1))
            c = Collector(spec, headend=he.address, meter_factory=fake_factory())
            await c.start()
            for _ in range(3):
                await he.next_link(2)
            await c.stop()
            assert c.drops >= 2

    run(go())


def test_garbage_fault_is_noise_and_reads_still_work():
    async def go():
        async with HeadEnd() as he:
            c = Collector(one_bus(), headend=he.address, meter_factory=fake_factory(), time_scale=0.2)
            await c.start()
            link = await he.next_link()
            assert c.inject_garbage(24) == 1
            assert await link.frame(0.2) is None
            link.parser.feed(b"")  # not really the end; just to flush the noise count
            assert any(isinstance(e, Noise) and e.count == 24 for e in [*link.events, *link.parser])
            link.parser = StreamParser()
            assert await link.read_value("240101000001", ENERGY) == Decimal("1234.56")
            await c.stop()

    run(go())


def test_impersonation_sends_another_collectors_id():
    async def go():
        async with HeadEnd() as he:
            spec = one_bus(faults=CollectorFaults(impersonate="860000000000999"))
            c = Collector(spec, headend=he.address, meter_factory=fake_factory())
            await c.start()
            link = await he.next_link()
            assert link.registration == b"REG:860000000000999\r\n"
            c.impersonate(None)
            c.drop(reconnect_in=0.01)
            assert (await he.next_link()).registration == b"REG:860000000000001\r\n"
            await c.stop()

    run(go())


# --- dial-out -----------------------------------------------------------------------------


def test_dial_out_sends_registration_on_accept():
    async def go():
        port = free_port()
        spec = one_bus(transport="dialout_tcp", host="127.0.0.1", port=port)
        c = Collector(spec, meter_factory=fake_factory(), time_scale=0.2)
        await c.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        reg = await asyncio.wait_for(reader.readuntil(b"\r\n"), 2)
        assert reg == b"REG:860000000000001\r\n"
        link = Link(reg, reader, writer)
        assert await link.read_value("240101000001", ENERGY) == Decimal("1234.56")
        # a second head-end connection takes the bus over
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        link2 = Link(await asyncio.wait_for(r2.readuntil(b"\r\n"), 2), r2, w2)
        assert await link2.read_value("240101000001", VOLTAGE) == Decimal("220.1")
        assert await reader.read() == b""  # the old one was closed
        writer.close()
        w2.close()
        await c.stop()

    run(go())


def test_dial_out_without_registration_is_a_plain_bridge():
    async def go():
        port = free_port()
        spec = one_bus(transport="dialout_tcp", host="127.0.0.1", port=port, register=False)
        c = Collector(spec, meter_factory=fake_factory(), time_scale=0.2)
        await c.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        link = Link(b"", reader, writer)
        assert await link.read_value("240101000001", ENERGY) == Decimal("1234.56")
        assert not link.events  # nothing but the reply came
        writer.close()
        await c.stop()

    run(go())


@pytest.mark.parametrize("transport", ["dialin_tcp", "dialout_tcp", "mqtt"])
def test_status_is_plain_data(transport):
    kw = {"host": "127.0.0.1", "port": 1} if transport == "dialout_tcp" else {}
    c = Collector(one_bus(transport=transport, **kw))
    s = c.status()
    assert s["code"] == "DTU-1" and s["transport"] == transport and s["links"] == []
    assert s["buses"][1]["meters"] == 1
