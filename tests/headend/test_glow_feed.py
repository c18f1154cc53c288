"""Glow feeds through the machine's real Mosquitto broker."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from decimal import Decimal

import aiomqtt
import pytest

from meterhub.headend.fleet import Fleet
from meterhub.headend.glow_feed import GlowFeed
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.records import ReadingRecord
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from tests.conftest import skip_or_fail

BROKER = ("127.0.0.1", 1883)


@pytest.fixture(scope="module")
def broker():
    try:
        socket.create_connection(BROKER, timeout=2).close()
    except OSError:
        skip_or_fail(f"no MQTT broker at {BROKER[0]}:{BROKER[1]} (start mosquitto)")
    return BROKER


def glow_fleet() -> Fleet:
    return Fleet.build([], [MeterRef(id=7, serial="G7", address="0123456789AB", protocol="glow_mqtt")])


def test_electricity_and_gas_messages_become_readings_and_bad_ones_are_refused(broker, testdata_dir):
    payloads = json.loads((testdata_dir / "glow" / "payloads.json").read_text())["messages"]
    prefix = f"glow-test-{uuid.uuid4().hex[:8]}"

    async def scenario():
        records: list = []
        headend = HeadEnd(glow_fleet, BatchSink(records.extend, interval_s=0.05), node="t")
        await headend.refresh_fleet()
        headend.sink.start()
        feed = GlowFeed(headend, host=broker[0], port=broker[1], prefix=prefix, shared=False)
        task = asyncio.create_task(feed.run())
        await asyncio.wait_for(feed.subscribed.wait(), 10)
        async with aiomqtt.Client(*broker) as client:
            for message in payloads:
                topic = message["topic"].replace("glow/", f"{prefix}/", 1)
                await client.publish(topic, json.dumps(message["payload"]), qos=1)
            await client.publish(f"{prefix}/0123456789AB/SENSOR/electricitymeter", b"{not json", qos=1)
            await client.publish(f"{prefix}/FFFFFFFFFFFF/SENSOR/electricitymeter",
                                 json.dumps(payloads[1]["payload"]), qos=1)
        for _ in range(100):
            if feed.counts["bad"] and feed.counts["unknown_device"]:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        task.cancel()
        await headend.close()
        return records, feed.counts

    records, counts = asyncio.run(scenario())
    readings = [r for r in records if isinstance(r, ReadingRecord)]
    first = payloads[1]["expect"]
    assert any(r.quantity == "energy_import" and r.value == Decimal(str(first["import_kwh"])) for r in readings)
    assert any(r.quantity == "power_active" and r.value == Decimal(str(first["power_kw"])) for r in readings)
    assert all(r.meter_id == 7 and r.source == "mqtt" for r in readings)
    # the error value -8388.608 in the second message is a missing power reading, never a number
    assert not any(r.value < 0 for r in readings)
    assert sum(1 for r in readings if r.quantity == "power_active") == 1
    gas = payloads[3]["expect"]
    assert any(r.quantity == "gas_volume" and r.value == Decimal(str(gas["volume_m3"])) for r in readings)
    assert counts["bad"] == 1 and counts["unknown_device"] == 1 and counts["state"] >= 1
