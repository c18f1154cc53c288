"""The head-end reads meters behind simulated MQTT gateways, through the machine's real
Mosquitto (127.0.0.1:1883, or $METERHUB_MQTT_HOST/PORT). Under CI=true a missing broker fails.

Registration ids are fresh per run (the topic prefix is fixed by the contract), so
parallel runs and retained states of earlier runs do not meet."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

import aiomqtt
import pytest

from meterhub.headend.bus import CollectorGone
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.mqtt_gateways import MqttGateways
from meterhub.headend.records import LinkRecord
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.sim.collector import topic_state
from meterhub.sim.fleet import Fleet as SimFleet
from meterhub.sim.fleet import parse_fleet
from tests.conftest import skip_or_fail

HOST = os.environ.get("METERHUB_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("METERHUB_MQTT_PORT", "1883"))
ENERGY = 0x00010000
ADDRESS = "240101000001"


@pytest.fixture(scope="module", autouse=True)
def broker():
    try:
        socket.create_connection((HOST, PORT), timeout=2).close()
    except OSError:
        skip_or_fail(f"no MQTT broker at {HOST}:{PORT} (install/start mosquitto)")


def ids() -> tuple[str, str]:
    run = uuid.uuid4().hex[:12]
    return f"GWT{run}", f"GWX{run}"  # a known gateway, an unknown one


def sim_field(known: str, unknown: str) -> dict:
    return {"seed": 11, "mqtt": f"{HOST}:{PORT}", "time_scale": 0.05,
            "defaults": {"transport": "mqtt", "reconnect_min_s": 0.05, "reconnect_max_s": 0.2},
            "collectors": [
                {"code": "GW-KNOWN", "registration_id": known,
                 "buses": [{"baud": 9600, "meters": [{"address": ADDRESS}]}]},
                {"code": "GW-STRANGER", "registration_id": unknown,
                 "buses": [{"baud": 9600, "meters": [{"address": "240101000009"}]}]}]}


def headend_fleet(known: str):
    def load() -> Fleet:
        return Fleet.build([CollectorRef(1, "GW-KNOWN", known, "mqtt", link_latency_s=0.1)],
                           [MeterRef(1, f"E{ADDRESS}", ADDRESS, "dlt645_2007", known, baud_rate=9600)])

    return load


async def until(condition, timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def scenario(body):
    known, unknown = ids()
    records: list = []
    headend = HeadEnd(headend_fleet(known), BatchSink(records.extend, interval_s=0.05), node="t")
    await headend.refresh_fleet()
    headend.sink.start()
    gateways = MqttGateways(headend, host=HOST, port=PORT, client_id=f"meterhub-gw-test-{known}")
    task = asyncio.create_task(gateways.run())
    sim = SimFleet(parse_fleet(sim_field(known, unknown)))
    try:
        await asyncio.wait_for(gateways.subscribed.wait(), 5)
        await sim.start(timeout=5)
        await until(lambda: (known, 1) in headend.sessions, what="the gateway's session")
        return await body(headend, gateways, sim, records, known, unknown)
    finally:
        await sim.stop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await headend.close()
        async with aiomqtt.Client(HOST, PORT, identifier=f"cleanup-{known}") as client:
            for rid in (known, unknown):  # leave the broker without our retained states
                await client.publish(topic_state(rid), b"", qos=1, retain=True)


def links(records, rid) -> list[str]:
    return [r.kind for r in records if isinstance(r, LinkRecord) and r.registration_id == rid]


def test_a_gateway_is_read_goes_offline_comes_back_and_a_stranger_is_refused(caplog):
    caplog.set_level(logging.INFO, logger="meterhub.headend.mqtt_gateways")

    async def body(headend, gateways, sim, records, known, unknown):
        first = await headend.read_meter(f"E{ADDRESS}", [ENERGY])

        # both gateways lose their bearer without a DISCONNECT: the broker says their will
        sim.collector("GW-KNOWN").drop(reconnect_in=1.0)
        sim.collector("GW-STRANGER").drop(reconnect_in=0.1)
        await until(lambda: (known, 1) not in headend.sessions, what="the gateway going offline")
        # the sink's own flusher may hold the batch: wait for it to land rather than flush()
        await until(lambda: len(links(records, known)) >= 2, what="the offline record")
        kinds_offline = links(records, known)
        while_offline = await headend.read_meter(f"E{ADDRESS}", [ENERGY])

        await until(lambda: (known, 1) in headend.sessions, what="the gateway coming back")
        second = await headend.read_meter(f"E{ADDRESS}", [ENERGY])
        await until(lambda: gateways.counts["refused"] >= 2, what="the stranger's second refusal")
        return first, kinds_offline, while_offline, second, records, known, unknown

    first, kinds_offline, while_offline, second, records, known, unknown = asyncio.run(scenario(body))
    assert first[ENERGY] > 0
    assert kinds_offline == ["online", "offline"]
    assert isinstance(while_offline[ENERGY], CollectorGone)
    assert second[ENERGY] >= first[ENERGY] > 0

    assert links(records, known)[:3] == ["online", "offline", "online"]
    refused = [r for r in records if isinstance(r, LinkRecord) and r.registration_id == unknown]
    assert len(refused) >= 2 and all(r.kind == "refused" for r in refused)
    assert refused[0].reason == "unknown registration id" and refused[0].peer == f"mqtt:{HOST}:{PORT}"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and unknown in r.getMessage()]
    assert len(warnings) == 1, "an unknown gateway is logged once, however often it comes back"


def test_losing_the_broker_takes_every_gateway_offline_until_the_retained_state_returns():
    async def body(headend, gateways, sim, records, known, unknown):
        assert (await headend.read_meter(f"E{ADDRESS}", [ENERGY]))[ENERGY] > 0
        # our own connection to the broker dies abruptly
        gateways._client._client.socket().shutdown(socket.SHUT_RDWR)
        await until(lambda: (known, 1) not in headend.sessions, what="sessions detached")
        assert not gateways.links
        await until(lambda: (known, 1) in headend.sessions, timeout=8, what="re-attached on the retained state")
        again = await headend.read_meter(f"E{ADDRESS}", [ENERGY])
        return again, records, known

    again, records, known = asyncio.run(scenario(body))  # the head-end's close flushed the sink
    assert again[ENERGY] > 0
    assert links(records, known)[:3] == ["online", "offline", "online"]


def test_writes_go_out_on_the_down_topic_in_the_order_the_sessions_wrote_them():
    known, _ = ids()

    async def go():
        headend = HeadEnd(headend_fleet(known), BatchSink(lambda batch: None, interval_s=0.05), node="t")
        await headend.refresh_fleet()
        headend.sink.start()
        gateways = MqttGateways(headend, host=HOST, port=PORT, client_id=f"meterhub-gw-test-{known}")
        task = asyncio.create_task(gateways.run())
        try:
            async with aiomqtt.Client(HOST, PORT, identifier=f"gw-{known}") as gw:
                await gw.subscribe(f"meterhub/gw/{known}/1/down", qos=1)
                await asyncio.wait_for(gateways.subscribed.wait(), 5)
                await gw.publish(topic_state(known), b"online", qos=1, retain=True)
                await until(lambda: (known, 1) in headend.sessions, what="the session")
                link = gateways.links[(known, 1)]
                for n in range(50):
                    link.write(b"%d" % n)
                got = []
                messages = gw.messages.__aiter__()
                while len(got) < 50:
                    got.append(bytes((await asyncio.wait_for(anext(messages), 5)).payload))
                await gw.publish(topic_state(known), b"", qos=1, retain=True)
                await until(lambda: (known, 1) not in headend.sessions, what="detached on the cleared state")
                return got, gateways.counts["down_failed"]
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await headend.close()

    got, failed = asyncio.run(go())
    assert got == [b"%d" % n for n in range(50)] and failed == 0
