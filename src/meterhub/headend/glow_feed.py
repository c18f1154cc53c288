"""Glow IHD/CAD feeds: subscribe to the broker, map each device to a meter, hand readings on.

With `shared=True` the subscription is an MQTT 5 shared subscription ($share/meterhub/...)
so several head-ends split one feed instead of each storing every message.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import aiomqtt

from meterhub.headend.records import ReadingRecord
from meterhub.protocols import glow

log = logging.getLogger(__name__)
ONE = Decimal(1)

# (message field, stored quantity, unit) per message kind
FIELDS = {
    "electricity": (("import_kwh", "energy_import", "kWh"), ("export_kwh", "energy_export", "kWh"),
                    ("power_kw", "power_active", "kW")),
    "gas": (("volume_m3", "gas_volume", "m3"), ("import_kwh", "gas_energy", "kWh")),
}


class GlowFeed:
    def __init__(self, headend, *, host: str = "127.0.0.1", port: int = 1883, prefix: str = "glow",
                 shared: bool = True, client_id: str | None = None):
        self.headend, self.host, self.port, self.prefix, self.shared = headend, host, port, prefix, shared
        self.client_id = client_id or f"meterhub-{headend.node}"
        self.counts: Counter = Counter()
        self.subscribed = asyncio.Event()

    @property
    def topic(self) -> str:
        topic = f"{self.prefix}/+/#"
        return f"$share/meterhub/{topic}" if self.shared else topic

    def handle(self, topic: str, payload: bytes) -> int:
        """One message -> readings in the sink. Returns how many readings it gave."""
        try:
            message = glow.parse_message(topic, payload)
        except glow.GlowError as exc:
            self.counts["bad"] += 1
            log.warning("glow message on %s refused: %s", topic, exc)
            return 0
        if message.kind == "state":
            self.counts["state"] += 1
            return 0
        meter = self.headend.fleet.glow.get(message.device_id.upper())
        if meter is None:
            self.counts["unknown_device"] += 1
            if self.counts["unknown_device"] <= 10:
                log.warning("glow device %s is not registered as a meter", message.device_id)
            return 0
        ts = message.timestamp or datetime.now(UTC)
        n = 0
        for attr, quantity, unit in FIELDS[message.kind]:
            value = getattr(message, attr)
            if value is None:  # missing or the device's error value: never stored as a number
                continue
            self.headend.sink.put(ReadingRecord(meter.id, quantity, ts, value, ONE, unit, "mqtt"))
            n += 1
        self.counts["readings"] += n
        return n

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                async with aiomqtt.Client(self.host, self.port, identifier=self.client_id,
                                          protocol=aiomqtt.ProtocolVersion.V5) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.subscribed.set()
                    backoff = 1.0
                    async for message in client.messages:
                        self.handle(str(message.topic), bytes(message.payload))
            except aiomqtt.MqttError as exc:
                self.subscribed.clear()
                log.warning("MQTT broker %s:%s: %s; retrying in %.0f s", self.host, self.port, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
