"""An MQTT gateway through the machine's Mosquitto (127.0.0.1:1883): requests on
meterhub/gw/<id>/<port>/down, replies on .../up, `online` retained on .../state and
`offline` as the will when the link dies. Under CI=true a missing broker fails."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from decimal import Decimal

import pytest

from meterhub.protocols.dlt645 import Frame, Read, ReadReply, parse_reply, parse_stream
from meterhub.sim.collector import Collector, topic_down, topic_state, topic_up

from ..conftest import skip_or_fail
from .test_bus import ENERGY, VOLTAGE, FakeMeter
from .test_collector import one_bus, run

aiomqtt = pytest.importorskip("aiomqtt")

HOST = os.environ.get("METERHUB_MQTT_HOST", "127.0.0.1")
PORT = int(os.environ.get("METERHUB_MQTT_PORT", "1883"))


@pytest.fixture(scope="module", autouse=True)
def broker():
    try:
        socket.create_connection((HOST, PORT), timeout=1).close()
    except OSError:
        skip_or_fail(f"no MQTT broker at {HOST}:{PORT} (install mosquitto)")


async def next_message(messages, timeout=3.0):
    return await asyncio.wait_for(anext(messages), timeout)


def test_gateway_serves_reads_over_mqtt_and_leaves_a_will():
    reg = "GW" + uuid.uuid4().hex[:12]  # a fresh id: retained messages of other runs do not matter

    async def go():
        c = Collector(one_bus(code="GW-1", reg=reg, addresses=("240101000001",), transport="mqtt",
                              reconnect_min_s=0.05),
                      mqtt=(HOST, PORT), meter_factory=lambda s: FakeMeter(s.address, 0.02), time_scale=0.2)
        async with aiomqtt.Client(HOST, PORT, identifier=f"test-{reg}") as he:
            await he.subscribe(topic_state(reg), qos=1)
            await he.subscribe(topic_up(reg, 1), qos=1)
            messages = he.messages.__aiter__()
            await c.start()
            msg = await next_message(messages)
            assert str(msg.topic) == topic_state(reg) and msg.payload == b"online"

            async def read(di):
                await he.publish(topic_down(reg, 1), Read("240101000001", di).encode(4), qos=1)
                m = await next_message(messages)
                assert str(m.topic) == topic_up(reg, 1)
                (f,) = [e for e in parse_stream(bytes(m.payload)) if isinstance(e, Frame)]
                reply = parse_reply(f)
                assert isinstance(reply, ReadReply)
                return reply.value()

            assert await read(ENERGY) == Decimal("1234.56")
            assert await read(VOLTAGE) == Decimal("220.1")

            # the link dies without a DISCONNECT: the broker publishes the will
            assert c.drop() == 1
            msg = await next_message(messages, 5)
            assert str(msg.topic) == topic_state(reg) and msg.payload == b"offline"
            # ...and the gateway comes back
            msg = await next_message(messages, 5)
            assert msg.payload == b"online"
            assert await read(ENERGY) == Decimal("1234.56")

            await c.stop()  # a clean stop says offline itself
            msg = await next_message(messages)
            assert msg.payload == b"offline"
            await he.publish(topic_state(reg), b"", retain=True)  # leave the broker clean
        return c

    c = run(go())
    assert c.connects == 2 and c.drops == 1
