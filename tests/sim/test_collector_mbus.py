"""An M-Bus bus of real simulated water and gas meters behind a dial-in collector:
secondary-address selection, REQ_UD2, and what happens when every meter answers."""

from __future__ import annotations

import asyncio

from meterhub.protocols.mbus import (
    MBusStreamParser,
    SingleChar,
    decode_rsp_ud,
    req_ud2,
    select_secondary,
)
from meterhub.protocols.mbus.frame import LongFrame
from meterhub.protocols.mbus.select import SecondaryAddress
from meterhub.sim.fleet import Fleet, parse_fleet

from .test_collector import HeadEnd, run

SPEC = {
    "seed": 11,
    "clock": {"start": 1_772_323_200, "speed": 0},
    "collectors": [{
        "code": "DTU-W", "registration_id": "860000000000042", "heartbeat_s": 0,
        "buses": [{"port": 1, "baud": 2400, "meters": [
            {"kind": "water", "address": "24020001"},
            {"kind": "water", "address": "24020002"},
            {"kind": "gas", "address": "24030001"},
        ]}],
    }],
}


async def frames(reader, parser, timeout):
    out = []
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        try:
            chunk = await asyncio.wait_for(reader.read(4096), end - loop.time())
        except TimeoutError:
            break
        out += parser.feed(chunk)
        if out:
            break
    return out


def _fleet(he_port, meters):
    spec = {**SPEC, "headend": f"127.0.0.1:{he_port}"}
    spec["collectors"] = [{**spec["collectors"][0], "buses": [{"port": 1, "baud": 2400, "meters": meters}]}]
    return Fleet(parse_fleet(spec), time_scale=0.1)


def test_primary_addressing_and_everybody_answering_at_once():
    async def go():
        async with HeadEnd() as he:
            fleet = _fleet(he.port, [{"kind": "water", "address": "1"}, {"kind": "water", "address": "2"},
                                     {"kind": "gas", "address": "3"}])
            await fleet.start()
            link = await he.next_link()
            assert link.registration == b"REG:860000000000042\r\n"
            r, w = link.reader, link.writer
            p = MBusStreamParser()
            for primary, medium in ((1, 0x07), (3, 0x03), (2, 0x07)):
                w.write(req_ud2(primary))
                (f,) = await frames(r, p, 2)
                assert isinstance(f, LongFrame) and f.address == primary
                assert decode_rsp_ud(f).header.medium == medium
            # FE: "everybody answer" -- three meters talk at once and collide
            w.write(req_ud2(0xFE))
            got = await frames(r, p, 1.0)
            assert not any(isinstance(x, LongFrame) for x in got)
            stats = fleet.collectors["DTU-W"].buses[0].stats
            assert stats.collisions >= 1 and stats.garbled_replies == 3
            await fleet.stop()

    run(go())


def test_secondary_selection_and_read():
    async def go():
        async with HeadEnd() as he:
            fleet = _fleet(he.port, [{"kind": "water", "address": "24020001"},
                                     {"kind": "water", "address": "24020002"},
                                     {"kind": "gas", "address": "24030001"}])
            await fleet.start()
            link = await he.next_link()
            r, w = link.reader, link.writer
            p = MBusStreamParser()
            for ident, medium in (("24020001", 0x07), ("24030001", 0x03)):
                w.write(select_secondary(SecondaryAddress.of(ident)))
                assert await frames(r, p, 2) == [SingleChar()]  # only the selected meter acks
                w.write(req_ud2(0xFD))
                (f,) = await frames(r, p, 2)
                assert isinstance(f, LongFrame)
                telegram = decode_rsp_ud(f)
                assert telegram.header.id_text == ident and telegram.header.medium == medium
            await fleet.stop()

    run(go())
