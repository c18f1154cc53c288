"""MQTT gateways: collectors whose buses reach the head-end through the broker.

The contract (docs/protocols/collector-link.md, "MQTT gateway"): a gateway publishes
bus bytes on `meterhub/gw/<registration id>/<port>/up`, takes requests on
`.../<port>/down` (binary, QoS 1), says `online` retained on
`meterhub/gw/<registration id>/state` and has `offline` as its will.

`MqttGateways` turns that into the head-end's usual bus sessions: when a known gateway
(a collector with transport "mqtt") says online, every bus the fleet has for it becomes
a session through `HeadEnd.attach()`, with a `GatewayLink` as its transport; up
messages are fed to the session; `offline` (said or the will) detaches them. When our
own broker connection drops we know nothing about the gateways any more, so every MQTT
session is detached; the retained states bring them back after the reconnect.

MQTT sessions do not carry heartbeats: while the broker connection is up and the
gateway's retained state says online, the broker's keepalive and the will stand for
the link's liveness, so the head-end's idle watch leaves MQTT sessions alone
(HeadEnd.attach sets watch_idle from the collector's transport).

One head-end per gateway: the subscriptions are not shared, since a bus takes one
master (two head-ends on one gateway would collide on its buses).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter

import aiomqtt

from meterhub.headend.records import LinkRecord
from meterhub.headend.server import utcnow

log = logging.getLogger(__name__)

PREFIX = "meterhub/gw"
STATE_TOPIC = f"{PREFIX}/+/state"
UP_TOPIC = f"{PREFIX}/+/+/up"
TRANSPORT = "mqtt"
REFRESH_MIN_S = 10.0  # an unknown gateway refreshes the fleet at most this often


def down_topic(registration_id: str, port: int) -> str:
    return f"{PREFIX}/{registration_id}/{port}/down"


class GatewayLink:
    """The transport of one MQTT bus session: write() publishes on the down topic,
    close() detaches the session from the head-end."""

    def __init__(self, gateways: MqttGateways, client: aiomqtt.Client, registration_id: str, port: int):
        self.gateways = gateways
        self.client = client
        self.registration_id = registration_id
        self.port = port
        self.topic = down_topic(registration_id, port)
        self.session = None  # set by MqttGateways once the head-end has made it
        self.closed = False

    def write(self, data: bytes) -> None:
        if self.closed:
            log.debug("%s: write after close dropped (%d bytes)", self.topic, len(data))
            return
        self.gateways._publish(self.client, self.registration_id, self.topic, bytes(data))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.gateways._link_closed(self)


class MqttGateways:
    def __init__(self, headend, *, host: str = "127.0.0.1", port: int = 1883, client_id: str | None = None):
        self.headend, self.host, self.port = headend, host, port
        # not GlowFeed's id: two clients with one id would keep throwing each other off
        self.client_id = client_id or f"meterhub-gw-{headend.node}"
        self.peer = f"mqtt:{host}:{port}"
        self.links: dict[tuple[str, int], GatewayLink] = {}
        self.online: set[str] = set()  # gateways whose last state said online (known or not)
        self.counts: Counter = Counter()
        self.subscribed = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._refused: set[str] = set()  # ids logged as refused (once per id)
        self._last_pub: dict[str, asyncio.Task] = {}  # per gateway: keeps its writes in order
        self._pubs: set[asyncio.Task] = set()
        self._ports_of: dict[str, list[int]] = {}
        self._ports_fleet = None
        self._refreshing: asyncio.Task | None = None
        self._refreshed_at = float("-inf")

    # --- the broker connection ------------------------------------------------------------

    async def run(self) -> None:
        backoff = 1.0
        keeper = asyncio.create_task(self._keep_alive(), name="mqtt-gateways-keepalive")
        try:
            while True:
                try:
                    async with aiomqtt.Client(self.host, self.port, identifier=self.client_id) as client:
                        self._client = client
                        await client.subscribe(STATE_TOPIC, qos=1)
                        await client.subscribe(UP_TOPIC, qos=1)
                        self.subscribed.set()
                        backoff = 1.0
                        log.info("MQTT gateways: subscribed on %s:%s", self.host, self.port)
                        async for message in client.messages:
                            try:
                                self.handle(client, str(message.topic), bytes(message.payload))
                            except Exception:
                                log.exception("MQTT gateways: message on %s not handled", message.topic)
                except aiomqtt.MqttError as exc:
                    log.warning("MQTT gateways: broker %s:%s: %s; retrying in %.0f s",
                                self.host, self.port, exc, backoff)
                finally:
                    self._lost_broker()  # also when cancelled: nothing is attached without us
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60)
        finally:
            keeper.cancel()

    def _lost_broker(self) -> None:
        """Our broker connection is gone: every gateway is offline as far as we know."""
        self.subscribed.clear()
        self._client = None
        self.online.clear()
        for link in list(self.links.values()):
            link.close()
        self._last_pub.clear()

    async def _keep_alive(self) -> None:
        """Attach gateways that said online before the fleet knew them (or their buses)."""
        while True:
            await asyncio.sleep(max(1.0, min(30.0, self.headend.idle_timeout_s / 3)))
            self.reconcile()

    # --- messages -------------------------------------------------------------------------

    def handle(self, client: aiomqtt.Client, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) == 4 and parts[3] == "state":
            self._state(client, parts[2], payload)
        elif len(parts) == 5 and parts[4] == "up":
            try:
                port = int(parts[3])
            except ValueError:
                self.counts["bad_topic"] += 1
                return
            self._up(parts[2], port, payload)
        else:
            self.counts["bad_topic"] += 1

    def _up(self, registration_id: str, port: int, payload: bytes) -> None:
        link = self.links.get((registration_id, port))
        if link is None or link.closed or link.session is None:
            self.counts["up_unattached"] += 1
            log.debug("MQTT gateways: %d bytes from unattached %s port %s", len(payload), registration_id, port)
            return
        self.counts["up"] += 1
        link.session.receive(payload)

    def _state(self, client: aiomqtt.Client, registration_id: str, payload: bytes) -> None:
        state = payload.strip().decode("ascii", "replace").lower()
        if state == "online":
            self.counts["online"] += 1
            self.online.add(registration_id)
            self._gateway_online(client, registration_id)
        elif state in ("offline", ""):  # "" : the retained state was cleared
            self.counts["offline"] += 1
            self.online.discard(registration_id)
            self._gateway_offline(registration_id)
        else:
            self.counts["bad_state"] += 1
            log.warning("MQTT gateway %s: state %r is neither online nor offline", registration_id, state[:40])

    def _gateway_online(self, client: aiomqtt.Client, registration_id: str) -> None:
        collector = self.headend.fleet.collectors.get(registration_id)
        if collector is None:
            self._refuse(registration_id, "unknown registration id")
            self._refresh_soon()  # it may have been registered a moment ago
            return
        if not collector.enabled:
            self._refuse(registration_id, "collector disabled")
            return
        if collector.transport != TRANSPORT:
            self._refuse(registration_id, f"collector transport is {collector.transport}, not {TRANSPORT}")
            return
        self._refused.discard(registration_id)
        ports = self._ports(registration_id)
        if not ports:
            log.info("MQTT gateway %s (%s) online, but it has no buses in the fleet", collector.code,
                     registration_id)
        for port in ports:
            link = self.links.get((registration_id, port))
            if link is not None and not link.closed and link.client is client:
                continue  # a repeated "online": the session we have is still good
            self._attach(client, collector, port)

    def _attach(self, client: aiomqtt.Client, collector, port: int) -> None:
        link = GatewayLink(self, client, collector.registration_id, port)
        old = self.links.get((collector.registration_id, port))
        self.links[(collector.registration_id, port)] = link
        if old is not None:
            old.close()
        link.session = self.headend.attach(collector, port, link, self.peer)

    def _gateway_offline(self, registration_id: str) -> None:
        for (rid, _port), link in list(self.links.items()):
            if rid == registration_id:
                link.close()
        self._last_pub.pop(registration_id, None)

    def _refuse(self, registration_id: str, reason: str) -> None:
        if registration_id not in self._refused:
            self._refused.add(registration_id)
            log.warning("refused MQTT gateway %r from %s: %s", registration_id, self.peer, reason)
        self.counts["refused"] += 1
        self.headend.sink.put(LinkRecord(utcnow(), registration_id, 1, "refused", self.peer, reason))

    def _link_closed(self, link: GatewayLink) -> None:
        key = (link.registration_id, link.port)
        if self.links.get(key) is link:
            del self.links[key]
        if link.session is not None:
            self.headend.detach(link.registration_id, link.port, link.session, self.peer)

    # --- the fleet ------------------------------------------------------------------------

    def _ports(self, registration_id: str) -> list[int]:
        fleet = self.headend.fleet
        if fleet is not self._ports_fleet:
            ports: dict[str, list[int]] = {}
            for rid, port in fleet.buses:
                ports.setdefault(rid, []).append(port)
            self._ports_of = {rid: sorted(p) for rid, p in ports.items()}
            self._ports_fleet = fleet
        return self._ports_of.get(registration_id, [])

    def reconcile(self) -> None:
        """Attach what the fleet now has for gateways that are online (new collectors, new buses)."""
        client = self._client
        if client is None:
            return
        for rid in list(self.online):
            collector = self.headend.fleet.collectors.get(rid)
            if collector is None or not collector.enabled or collector.transport != TRANSPORT:
                continue
            if any(self.links.get((rid, p)) is None for p in self._ports(rid)):
                self._gateway_online(client, rid)

    def _refresh_soon(self) -> None:
        if self._refreshing is not None and not self._refreshing.done():
            return
        if time.monotonic() - self._refreshed_at < REFRESH_MIN_S:
            return
        self._refreshed_at = time.monotonic()

        async def refresh():
            try:
                await self.headend.refresh_fleet()
            except Exception:
                log.exception("MQTT gateways: fleet refresh failed")
                return
            self.reconcile()

        self._refreshing = asyncio.get_running_loop().create_task(refresh(), name="mqtt-gateways-refresh")

    # --- publishing -----------------------------------------------------------------------

    def _publish(self, client: aiomqtt.Client, registration_id: str, topic: str, data: bytes) -> None:
        """Publish in the background, after this gateway's previous write, so its frames
        go out in the order the sessions wrote them."""
        previous = self._last_pub.get(registration_id)
        task = asyncio.get_running_loop().create_task(self._send(client, previous, topic, data))
        self._last_pub[registration_id] = task
        self._pubs.add(task)
        task.add_done_callback(self._pubs.discard)

    async def _send(self, client: aiomqtt.Client, previous: asyncio.Task | None, topic: str, data: bytes) -> None:
        if previous is not None and not previous.done():
            with contextlib.suppress(BaseException):
                await asyncio.shield(previous)
        try:
            await client.publish(topic, data, qos=1)
            self.counts["down"] += 1
        except Exception as exc:
            self.counts["down_failed"] += 1
            log.warning("MQTT gateways: publish of %d bytes to %s failed: %s", len(data), topic, exc)
