"""The bus on its own (no sockets): framing of master bytes, multi-drop addressing,
lazily built meters, and collisions. Timing here runs on a fast time_scale; the
real-time physics is in test_collector_physics.py.

`FakeMeter` is a test double that follows the SimMeter interface exactly
(address, protocol, respond(request, now) -> Response | None); the other sim tests
import it from here.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from meterhub.protocols.dlt645 import (
    WILDCARD,
    AddressReply,
    Dlt645Error,
    Frame,
    Read,
    ReadAddress,
    ReadReply,
    decode_frame,
    parse_request,
    parse_stream,
)
from meterhub.sim.bus import Bus, MeterSlot, dlt645_target, next_frame, wire_time
from meterhub.sim.clock import SimClock
from meterhub.sim.electricity import ElectricityMeter
from meterhub.sim.meter import Response

ENERGY = 0x00010000  # combined active energy, kWh
VOLTAGE = 0x02010100  # phase A voltage, V


class FakeFaults:
    def __init__(self):
        self.no_reply = False
        self.late_reply_s = None
        self.corrupt_byte = False
        self.bad_checksum = False

    def clear(self):
        self.__init__()

    def to_dict(self):
        return dict(vars(self))


class FakeMeter:
    """A DL/T 645-2007 meter with fixed values and a fixed reply delay."""

    protocol = "dlt645_2007"

    def __init__(self, address: str, delay: float = 0.05, energy: str = "1234.56", voltage: str = "220.1"):
        self.address = address
        self.delay = delay
        self.values = {ENERGY: Decimal(energy), VOLTAGE: Decimal(voltage)}
        self.heard: list[bytes] = []
        self.faults = FakeFaults()
        self.seal_open = False

    def open_seal(self):
        self.seal_open = True

    def respond(self, request: bytes, now: float) -> Response | None:
        self.heard.append(request)
        try:
            frame = decode_frame(request)
            req = parse_request(frame, "2007")
        except Dlt645Error:
            return None
        if self.faults.no_reply:
            return None
        delay = self.faults.late_reply_s or self.delay
        if isinstance(req, ReadAddress):
            if frame.address in (WILDCARD, self.address):
                return Response(AddressReply(self.address).encode(4), delay)
            return None
        if frame.address != self.address:
            return None
        if isinstance(req, Read) and req.di in self.values:
            return Response(ReadReply.of(self.address, req.di, self.values[req.di]).encode(4), delay)
        return None


def frames(data: bytes) -> list[Frame]:
    return [e for e in parse_stream(data) if isinstance(e, Frame)]


# --- framing of what the head-end sends ---------------------------------------------------


def test_next_frame_finds_dlt645_frames_with_preamble_and_junk():
    req = Read("240101000001", ENERGY).encode(4)
    assert next_frame(req) == (0, len(req))
    assert next_frame(b"\x01\x02" + req) == (2, len(req) + 2)
    assert next_frame(req[:7]) == (0, 0)  # started, not complete
    assert next_frame(req[:-1]) == (0, 0)
    assert next_frame(b"\x01\x02\x03") is None
    two = req + Read("240101000002", VOLTAGE).encode()
    start, end = next_frame(two)
    assert (start, end) == (0, len(req))
    assert next_frame(two[end:]) == (0, len(two) - end)


def test_next_frame_mbus():
    short = bytes.fromhex("105b01 5c16".replace(" ", ""))
    assert next_frame(short, "mbus") == (0, 5)
    long = bytes.fromhex("6804046853fe5100a216".replace(" ", ""))
    assert next_frame(b"\x00" + long, "mbus") == (1, 1 + len(long))
    assert next_frame(long[:5], "mbus") == (0, 0)


def test_target_address():
    assert dlt645_target(Read("240101000001", ENERGY).encode(4)) == "240101000001"
    assert dlt645_target(ReadAddress().encode()) is None
    assert dlt645_target(b"junk") is None


# --- multi-drop, lazy meters, collisions ------------------------------------------------


def run(coro):
    return asyncio.run(coro)


async def exchange(bus: Bus, data: bytes, wait: float = 0.3) -> bytes:
    got = bytearray()
    bus.attach(got.extend)
    bus.feed(data)
    await asyncio.sleep(wait)
    return bytes(got)


def test_only_the_addressed_meter_answers_and_only_it_is_built():
    built = []

    def factory(spec):
        built.append(spec.address)
        return FakeMeter(spec.address, delay=0.02)

    class Spec:
        def __init__(self, a):
            self.address, self.serial = a, "E" + a

    bus = Bus(slots=[MeterSlot(Spec(f"24010100000{i}"), factory) for i in range(1, 9)], baud=9600,
              time_scale=0.1)

    async def go():
        return await exchange(bus, Read("240101000003", ENERGY).encode(4))

    up = run(go())
    (f,) = frames(up)
    assert f.address == "240101000003"
    assert ReadReply(f.address, ENERGY, f.data[4:]).value() == Decimal("1234.56")
    assert built == ["240101000003"]  # the other seven are still specs
    assert bus.stats.requests == 1 and bus.stats.replies == 1 and bus.stats.collisions == 0


def test_every_meter_hears_every_request():
    a, b = FakeMeter("000000000001", 0.02), FakeMeter("000000000002", 0.02)
    bus = Bus.with_meters([a, b], baud=9600, time_scale=0.1)
    run(exchange(bus, Read("000000000001", ENERGY).encode()))
    assert len(a.heard) == len(b.heard) == 1


class CountingElectricityMeter(ElectricityMeter):
    """The fleet's real meter, counting the frames the bus hands it."""

    __slots__ = ("handed",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.handed = 0

    def respond(self, request, now):
        self.handed += 1
        return super().respond(request, now)


def test_meters_that_ignore_other_addresses_are_spared_frames_for_others():
    meters = [CountingElectricityMeter(f"00000000000{i}", i, clock=SimClock()) for i in (1, 2, 3)]
    bus = Bus.with_meters(meters, baud=9600, time_scale=0.1)

    async def go():
        up = await exchange(bus, Read("000000000002", ENERGY).encode(4))
        handed = [m.handed for m in meters]
        await exchange(bus, ReadAddress().encode(4))  # a wildcard still reaches every meter
        return up, handed, [m.handed for m in meters]

    up, handed, after_wildcard = run(go())
    assert [f.address for f in frames(up)] == ["000000000002"]
    assert handed == [0, 1, 0]
    assert after_wildcard == [1, 2, 1]


def test_two_meters_with_one_address_both_answer():
    a, b, c = (CountingElectricityMeter(address, seed, clock=SimClock())
               for address, seed in (("000000000007", 1), ("000000000007", 2), ("000000000008", 3)))
    bus = Bus.with_meters([a, b, c], baud=9600, time_scale=0.1)
    up = run(exchange(bus, Read("000000000007", ENERGY).encode(4)))
    assert len(frames(up)) + bus.stats.garbled_replies == 2  # apart, or garbled if they overlap
    assert (a.handed, b.handed, c.handed) == (1, 1, 0)


def test_two_meters_answering_at_once_collide():
    # read address to the wildcard: both meters answer, 20 ms and 25 ms after the request
    bus = Bus.with_meters([FakeMeter("000000000001", 0.020), FakeMeter("000000000002", 0.025)],
                          baud=9600)
    up = run(exchange(bus, ReadAddress().encode(4), wait=0.2))
    assert frames(up) == []  # nothing valid came back
    assert len(up) == 2 * len(AddressReply("000000000001").encode(4))  # both, garbled
    assert bus.stats.collisions == 1 and bus.stats.garbled_replies == 2


def test_replies_far_apart_do_not_collide():
    # 20 ms and 200 ms: the first reply (~22 ms at 9600 baud) is over before the second
    bus = Bus.with_meters([FakeMeter("000000000001", 0.020), FakeMeter("000000000002", 0.200)],
                          baud=9600)
    up = run(exchange(bus, ReadAddress().encode(4), wait=0.4))
    assert [f.address for f in frames(up)] == ["000000000001", "000000000002"]


def test_second_request_while_busy_garbles_both():
    m = FakeMeter("000000000001", 0.05)
    bus = Bus.with_meters([m], baud=9600, time_scale=0.5)

    async def go():
        got = bytearray()
        bus.attach(got.extend)
        bus.feed(Read("000000000001", ENERGY).encode(4))
        await asyncio.sleep(0.02)  # request done (~11 ms), reply due at ~36 ms
        bus.feed(Read("000000000001", VOLTAGE).encode(4))
        await asyncio.sleep(0.3)
        return bytes(got)

    up = run(go())
    assert frames(up) == []
    assert up  # the first reply still went up, as noise
    assert bus.stats.collisions >= 1 and bus.stats.garbled_requests == 1
    assert len(m.heard) == 1  # the meter never made sense of the second request


def test_back_to_back_requests_in_one_chunk_collide():
    bus = Bus.with_meters([FakeMeter("000000000001", 0.02)], baud=9600, time_scale=0.2)
    both = Read("000000000001", ENERGY).encode(4) + Read("000000000001", VOLTAGE).encode(4)
    up = run(exchange(bus, both))
    assert frames(up) == []
    assert bus.stats.garbled_requests == 1


def test_a_request_split_over_two_chunks_is_one_frame():
    bus = Bus.with_meters([FakeMeter("000000000001", 0.02)], baud=9600, time_scale=0.2)
    req = Read("000000000001", ENERGY).encode(4)

    async def go():
        got = bytearray()
        bus.attach(got.extend)
        bus.feed(req[:9])
        bus.feed(req[9:])
        await asyncio.sleep(0.2)
        return bytes(got)

    assert len(frames(run(go()))) == 1


def test_junk_before_a_frame_is_noise():
    bus = Bus.with_meters([FakeMeter("000000000001", 0.02)], baud=9600, time_scale=0.2)
    up = run(exchange(bus, b"\x01\x02\x03" + Read("000000000001", ENERGY).encode(4)))
    assert len(frames(up)) == 1
    assert bus.stats.noise_bytes == 3


def test_a_broken_meter_does_not_break_the_bus(caplog):
    class Broken(FakeMeter):
        def respond(self, request, now):
            raise RuntimeError("boom")

    bus = Bus.with_meters([Broken("000000000001"), FakeMeter("000000000002", 0.02)], baud=9600,
                          time_scale=0.2)
    up = run(exchange(bus, Read("000000000002", ENERGY).encode()))
    assert len(frames(up)) == 1
    assert "boom" in caplog.text


@pytest.mark.parametrize("baud", [1200, 2400, 9600])
def test_wire_time(baud):
    assert wire_time(20, baud) == pytest.approx(20 * 11 / baud)
