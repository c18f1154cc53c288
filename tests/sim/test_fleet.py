"""Fleets from YAML against a test head-end: the full and the compact form, lazily
built meters, seeds, reconnect storms, and the control channel."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from meterhub.protocols.dlt645 import Read, ReadReply, parse_reply
from meterhub.sim.control import send_command, send_command_async
from meterhub.sim.fleet import Fleet, FleetError, load_fleet, parse_fleet

from .test_bus import ENERGY, VOLTAGE, FakeMeter
from .test_collector import HeadEnd, free_port, run

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo-fleet.yaml"

SMALL = """
seed: 7
site: north
headend: 127.0.0.1:{port}
clock: {{start: "2026-03-01T08:00:00+08:00", speed: 0}}
time_scale: 0.1
defaults:
  heartbeat_s: 0
  reconnect_min_s: 0.05
collectors:
  - code: DTU-A
    registration_id: "860000000000001"
    buses:
      - port: 1
        baud: 9600
        meters:
          - {{address: "240101000001", profile: household}}
          - {{address: "240101000002", profile: shop, phase: three}}
      - port: 2
        baud: 2400
        meters:
          - {{address: "240101000003", protocol: dlt645_1997}}
  - code: DTU-B
    registration_id: "860000000000002"
    meters:
      - {{serial: SHOP-9, address: "240101000009", payment_mode: prepaid, switch: relay}}
"""


def small(port: int, **kw):
    import yaml

    return parse_fleet({**yaml.safe_load(SMALL.format(port=port)), **kw})


def test_yaml_full_form():
    spec = small(9100)
    assert [c.code for c in spec.collectors] == ["DTU-A", "DTU-B"]
    a, b = spec.collectors
    assert [(bus.port, bus.baud, len(bus.meters)) for bus in a.buses] == [(1, 9600, 2), (2, 2400, 1)]
    assert a.buses[0].meters[0].serial == "E240101000001"
    assert a.buses[1].meters[0].protocol == "dlt645_1997"
    assert b.buses[0].meters[0].serial == "SHOP-9" and b.buses[0].meters[0].switch == "relay"
    assert a.heartbeat_s == 0 and a.reconnect_min_s == 0.05
    assert spec.links == 3 and spec.meter_count == 4 and spec.site == "north"


@pytest.mark.parametrize("bad, message", [
    ({"collectors": [{"name": "x"}]}, "needs a code"),
    ({"collectors": [{"code": "A", "transport": "carrier-pigeon"}]}, "transport"),
    ({"collectors": [{"code": "A", "transport": "dialout_tcp"}]}, "port it listens on"),
    ({"collectors": [{"code": "A"}, {"code": "A", "registration_id": "2"}]}, "appears twice"),
    ({"collectors": [{"code": "A", "registration_id": "1"}, {"code": "B", "registration_id": "1"}]},
     "impersonate"),
    ({"collectors": [{"code": "A", "meters": [{"address": "1"}, {"address": "000000000001"}]}]},
     "twice"),
    ({"collectors": [{"code": "A", "faults": {"explode": True}}]}, "unknown fault"),
    ({"collectors": [{"code": "A", "meters": [{"address": "12ab"}]}]}, "12 digits"),
    ({"collectors": "lots"}, "list or a number"),
])
def test_yaml_errors_say_where(bad, message):
    with pytest.raises(FleetError, match=message):
        parse_fleet(bad)


def test_generated_form():
    spec = parse_fleet({"seed": 1, "collectors": 3, "meters_per_collector": 8, "buses_per_collector": 2})
    assert [c.registration_id for c in spec.collectors] == ["860000000000001", "860000000000002",
                                                            "860000000000003"]
    assert spec.links == 6 and spec.meter_count == 24
    addresses = [m.address for c in spec.collectors for b in c.buses for m in b.meters]
    assert len(set(addresses)) == 24 and addresses[0] == "240101000001"


def test_demo_file_loads():
    spec = load_fleet(DEMO)
    assert spec.collectors and spec.meter_count >= 10
    assert {c.transport for c in spec.collectors} == {"dialin_tcp", "dialout_tcp", "mqtt"}


def test_fleet_of_real_meters_serves_reads():
    async def go():
        async with HeadEnd() as he:
            fleet = Fleet(small(he.port))
            await fleet.start(timeout=10)
            regs = set()
            links = {}
            for _ in range(3):
                link = await he.next_link()
                regs.add(link.registration)
                links[link.registration] = link
            assert regs == {b"REG:860000000000001\r\n", b"REG:860000000000001:2\r\n",
                            b"REG:860000000000002\r\n"}
            assert fleet.status()["meters_built"] == 0  # nobody asked yet
            link = links[b"REG:860000000000001\r\n"]
            f = await link.request(Read("240101000002", ENERGY).encode(4), timeout=2)
            energy = parse_reply(f).value()
            assert isinstance(energy, Decimal) and energy >= 0
            f = await link.request(Read("240101000002", VOLTAGE).encode(4), timeout=2)
            assert 150 < parse_reply(f).value() < 280
            assert fleet.status()["meters_built"] == 1  # only the meter asked
            m = fleet.meter("E240101000002")
            assert m.address == "240101000002" and m.phases == 3
            await fleet.stop()

    run(go())


def test_same_seed_same_meters():
    def meter_bytes(seed):
        spec = small(9100, seed=seed)
        fleet = Fleet(spec)
        req = Read("240101000001", ENERGY).encode(4)
        m = fleet.meter("240101000001")
        return m.respond(req, 1_772_323_200.0 + 86400 * 30).data

    assert meter_bytes(7) == meter_bytes(7)
    assert meter_bytes(7) != meter_bytes(8)


def test_build_meters_builds_them_all_and_they_answer_as_lazily_built_ones():
    req = Read("240101000001", ENERGY).encode(4)
    when = 1_772_323_200.0 + 86400 * 30
    eager, lazy = Fleet(small(9100, seed=7)), Fleet(small(9100, seed=7))
    assert eager.status()["meters_built"] == 0
    assert eager.build_meters() == eager.spec.meter_count
    assert eager.status()["meters_built"] == eager.spec.meter_count
    assert eager.meter("240101000001").respond(req, when) == lazy.meter("240101000001").respond(req, when)


def test_compact_fleet_starts_and_survives_a_reconnect_storm():
    async def go():
        async with HeadEnd() as he:
            spec = parse_fleet({"collectors": 40, "meters_per_collector": 8, "headend": f"127.0.0.1:{he.port}",
                                "defaults": {"heartbeat_s": 0}, "connect_concurrency": 16})
            seen = []
            fleet = Fleet(spec, meter_factory=lambda s: FakeMeter(s.address, 0.02), time_scale=0.1)
            # the timeout only gives up on a fleet that never comes up: start-up speed is a benchmark
            await fleet.start(progress=lambda up, total: seen.append((up, total)), timeout=20)
            assert seen == [(up, 40) for up in range(1, 41)]
            first = [await he.next_link() for _ in range(40)]
            assert len({link.registration for link in first}) == 40
            assert fleet.status()["links_up"] == 40
            # every collector drops at the same moment and all come back together
            assert fleet.storm(reconnect_in=0.1) == 40
            again = [await he.next_link(5) for _ in range(40)]
            assert {link.registration for link in again} == {link.registration for link in first}
            status = fleet.status()
            assert status["drops"] == 40 and status["connects"] == 80
            f = await again[0].request(Read(fleet.collector(again[0].registration[4:-2].decode())
                                            .buses[0].slots[0].address, ENERGY).encode(4))
            assert isinstance(parse_reply(f), ReadReply)
            await fleet.stop()

    run(go())


def test_control_channel_tamper_fault_status():
    async def go():
        async with HeadEnd() as he:
            spec = small(he.port, control={"host": "127.0.0.1", "port": free_port()})
            fleet = Fleet(spec)
            await fleet.start(control=True)
            port = fleet.control.port
            links = [await he.next_link() for _ in range(3)]

            r = await send_command_async({"cmd": "tamper", "meter": "E240101000001", "kind": "seal-open"},
                                         port=port)
            assert r["ok"] and r["state"]["seal"]["sealed"] is False
            assert fleet.meter("240101000001").seal.sealed is False
            assert fleet.meter("240101000001").events()["meter_cover_open"] == 1

            r = await send_command_async({"cmd": "tamper", "meter": "240101000001", "kind": "foreign-seal",
                                          "value": "ZZ999999"}, port=port)
            assert r["ok"] and fleet.meter("240101000001").seal.asset_number == "ZZ999999"
            r = await send_command_async({"cmd": "tamper", "meter": "240101000001", "kind": "bypass",
                                          "value": 0.4}, port=port)
            assert r["ok"]
            r = await send_command_async({"cmd": "fault", "meter": "SHOP-9", "kind": "no-reply"}, port=port)
            assert r["ok"] and r["state"]["faults"]["no_reply"] == 1.0
            link_b = next(x for x in links if x.registration == b"REG:860000000000002\r\n")
            assert await link_b.request(Read("240101000009", ENERGY).encode(4), timeout=0.5) is None
            r = await send_command_async({"cmd": "fault", "meter": "SHOP-9", "kind": "clear"}, port=port)
            assert await link_b.request(Read("240101000009", ENERGY).encode(4), timeout=2) is not None

            r = await send_command_async({"cmd": "fault", "collector": "DTU-B", "kind": "impersonate"},
                                         port=port)
            assert r["sends_id"] == "860000000000001"  # the other collector's
            r = await send_command_async({"cmd": "fault", "collector": "DTU-B", "kind": "drop", "value": 0.05},
                                         port=port)
            assert r["links_dropped"] == 1
            assert (await he.next_link()).registration == b"REG:860000000000001\r\n"

            bad = await send_command_async({"cmd": "tamper", "meter": "nope", "kind": "magnet"}, port=port)
            assert not bad["ok"] and "no meter nope" in bad["error"]
            bad = await send_command_async({"cmd": "tamper", "meter": "SHOP-9", "kind": "dance"}, port=port)
            assert not bad["ok"] and "unknown tamper kind" in bad["error"]

            # the blocking client (what the CLI uses) from a thread
            status = await asyncio.to_thread(send_command, {"cmd": "status"}, port=port)
            assert status["ok"] and status["status"]["collectors"] == 2
            assert status["status"]["meters_built"] == 2
            await fleet.stop()

    run(go())


def test_storms_from_the_file():
    async def go():
        async with HeadEnd() as he:
            spec = parse_fleet({"seed": 3, "collectors": 10, "meters_per_collector": 2,
                                "headend": f"127.0.0.1:{he.port}", "defaults": {"heartbeat_s": 0},
                                "storm": {"every_s": 0.3, "fraction": 0.5, "reconnect_in": 0.05}})
            fleet = Fleet(spec, meter_factory=lambda s: FakeMeter(s.address))
            await fleet.start()
            first = [await he.next_link() for _ in range(10)]
            again = [await he.next_link(3) for _ in range(5)]  # the first storm: half of them
            assert fleet.storms == 1
            assert len({x.registration for x in again}) == 5
            assert {x.registration for x in again} <= {x.registration for x in first}
            await fleet.stop()

    run(go())


def test_storm_settings_are_checked():
    with pytest.raises(FleetError, match="fraction"):
        parse_fleet({"storm": {"every_s": 1, "fraction": 0}})
    with pytest.raises(FleetError, match="storm takes"):
        parse_fleet({"storm": {"often": True}})


@pytest.mark.parametrize("start", ["2026-03-01T08:00:00+08:00", "2026-03-01 00:00:00", "2026-03-01",
                                   1_772_323_200])
def test_clock_start_forms(start):
    import yaml

    text = f"clock: {{start: {start}, speed: 0}}"
    assert parse_fleet(yaml.safe_load(text)).clock_start == 1_772_323_200.0  # zone-less = UTC
    with pytest.raises(FleetError, match="ISO"):
        parse_fleet({"clock": {"start": "soon"}})


@pytest.mark.parametrize("meter, message", [
    ({"address": "1", "scael": 1.5}, "unknown key"),
    ({"address": "1", "profile": "bakery"}, "unknown load profile"),
    ({"address": "1", "faults": {"on_fire": True}}, "unknown fault"),
])
def test_meters_the_factory_cannot_build_fail_at_start(meter, message):
    spec = parse_fleet({"collectors": [{"code": "A", "meters": [meter]}]})
    with pytest.raises(FleetError, match=message):
        Fleet(spec)


def test_meter_options_reach_the_constructor():
    spec = parse_fleet({"collectors": [{"code": "A", "meters": [
        {"address": "1", "scale": 1.25}, {"kind": "water", "address": "7", "leak_m3h": 0.5}]}]})
    fleet = Fleet(spec)
    assert fleet.meter("E000000000001").scale == 1.25
    assert fleet.meter("W7").leak_m3h == 0.5


def test_tamper_kinds_on_real_meters():
    from meterhub.sim.control import CommandError, meter_state, tamper

    spec = parse_fleet({"clock": {"start": 1_772_323_200, "speed": 0}, "collectors": [{"code": "A", "meters": [
        {"address": "240101000001"}, {"kind": "water", "address": "24020001"}]}]})
    fleet = Fleet(spec)
    e, w = fleet.meter("240101000001"), fleet.meter("W24020001")
    ours = e.seal.asset_number
    tamper(e, "foreign-seal")
    assert e.seal.asset_number != ours and len(e.seal.asset_number) == 16 and e.seal.sealed
    tamper(e, "terminal-cover-open")
    assert e.events()["terminal_cover_open"] == 1
    tamper(e, "terminal-cover-close")
    tamper(e, "terminal-cover-open")  # a new opening only once it was closed
    for kind in ("cover-open", "cover-close", "cover-open", "cover-open"):
        tamper(e, kind)
    assert e.events() == {"meter_cover_open": 2, "terminal_cover_open": 2}
    tamper(e, "magnet")
    tamper(e, "bypass", 0.3)
    tamper(w, "leak")
    assert w.leak and meter_state(w)["leak"] is True
    tamper(w, "clear-leak")
    assert not w.leak
    with pytest.raises(CommandError, match="no trigger_leak"):
        tamper(e, "leak")
