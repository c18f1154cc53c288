"""Interoperability: the PyPI `dlt645` package's own TCP client reads a simulated
meter over loopback TCP.

Its `TcpClient` connects *to the meter* (a TCP-to-RS-485 converter in server mode)
and expects nothing but DL/T 645 frames on the socket, so the meter is served by a
dial-out collector with `register: false` (no registration packet).

Address workaround: the peer's `set_address("240101000002")` packs the nameplate
digits big-endian, i.e. byte-reversed on the wire (docs/protocols/dlt645.md); a
real meter would ignore such a frame. We hand it the wire order instead:
`set_address(address_to_wire(A).hex())`. The same reversal comes back from its
`read_address()`, whose value is the wire bytes as digits; we reverse the byte
pairs to get the nameplate address.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from meterhub.protocols.dlt645 import Read, address_to_wire, decode_frame, parse_reply
from meterhub.sim.clock import SimClock
from meterhub.sim.fleet import Fleet, parse_fleet

from .test_bus import ENERGY, VOLTAGE
from .test_collector import free_port, run

peer = pytest.importorskip("dlt645", reason="the PyPI dlt645 peer is a dev dependency")

A = "240101000002"
T = 1_772_323_200.0  # 2026-03-01 00:00 UTC


def nameplate(wire_digits: str) -> str:
    """The peer's read_address() value (wire order) -> the nameplate address."""
    return "".join(reversed([wire_digits[i : i + 2] for i in range(0, len(wire_digits), 2)]))


def test_peer_tcp_client_reads_energy_voltage_and_address():
    from dlt645 import MeterClientService

    port = free_port()
    spec = parse_fleet({"seed": 5, "collectors": [{
        "code": "BRIDGE-1", "transport": "dialout_tcp", "host": "127.0.0.1", "port": port,
        "register": False, "heartbeat_s": 0,
        "buses": [{"port": 1, "baud": 9600, "meters": [
            {"address": "240101000001", "profile": "household"},
            {"address": A, "profile": "shop", "phase": "three"},
        ]}],
    }]})
    clock = SimClock(start=T + 40 * 86400, speed=0)  # frozen: values hold still between reads

    box = {}

    def peer_reads():
        box["client"] = client = MeterClientService.new_tcp_client("127.0.0.1", port, timeout=3.0)
        assert client.set_address(address_to_wire(A).hex())  # the workaround
        return client.read_00(ENERGY), client.read_02(VOLTAGE)

    def peer_read_address(timeout=3.0):
        client = box["client"]
        client.client.timeout = timeout
        return client.read_address()

    async def go():
        fleet = Fleet(spec, clock=clock, time_scale=0.2)
        await fleet.start()
        meter = fleet.meter(A)
        energy, voltage = await asyncio.to_thread(peer_reads)
        # what our own codec reads from the same meter at the same (frozen) time
        ours = {di: parse_reply(decode_frame(meter.respond(Read(A, di).encode(), clock.now()).data)).value()
                for di in (ENERGY, VOLTAGE)}
        # two meters on the bus both answer the wildcard read-address: a collision, and
        # the peer gets nothing; with one meter left on the bus it gets the address
        collided = await asyncio.to_thread(peer_read_address, 0.4)
        fleet.collectors["BRIDGE-1"].buses[0].slots.pop(0)
        alone = await asyncio.to_thread(peer_read_address)
        box["client"].client.disconnect()
        await fleet.stop()
        return energy, voltage, ours, collided, alone

    energy, voltage, ours, collided, alone = run(go())
    assert energy is not None and voltage is not None
    assert energy.unit.strip() == "kWh" and Decimal(str(energy.value)) == ours[ENERGY] > 0
    assert voltage.unit.strip() == "V" and Decimal(str(voltage.value)) == ours[VOLTAGE]
    assert 150 < voltage.value < 280
    assert collided is None
    assert alone is not None and nameplate(alone.value) == A
    assert alone.value == address_to_wire(A).hex()  # the peer shows wire order
