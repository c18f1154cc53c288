"""Simulated data collectors (DTUs): transparent TCP or MQTT links to buses of meters.

What a collector does, per docs/protocols/collector-link.md:

* **dial-in** (`dialin_tcp`): one TCP connection *per bus* to the head-end; the first
  bytes are the registration packet `REG:<id>[:<port>]\\r\\n`, then `HB\\r\\n` every
  `heartbeat_s`; bytes from the socket go on the bus, replies come back. When the
  connection drops it reconnects with exponential backoff and jitter, and registers
  again.
* **dial-out** (`dialout_tcp`): the collector listens, bus n on `port + n - 1`;
  the registration packet is sent when the head-end connects (unless the spec says
  `register: false`, which turns the collector into a plain TCP-to-meter bridge, as
  third-party DL/T 645 TCP clients expect).
* **MQTT gateway** (`mqtt`): requests arrive on `meterhub/gw/<id>/<port>/down`,
  replies go to `.../<port>/up` (binary, QoS 1); `online` retained on
  `meterhub/gw/<id>/state`, `offline` as the will.

Every bus connection is one asyncio task (the reconnect loop) around a low-level
`asyncio.Protocol`; timers are `call_later` callbacks. No threads.

Faults, from the spec or at run time: `drop()` (optionally with a fixed reconnect
delay, which is what a reconnect storm uses), `inject_garbage()`, `impersonate(id)`
(register with another collector's id), and periodic drops and garbage
(`CollectorFaults.drop_every_s`, `garbage_every_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .bus import Bus, MeterSlot, family_of

log = logging.getLogger(__name__)

TRANSPORTS = ("dialin_tcp", "dialout_tcp", "mqtt")
HEARTBEAT = b"HB\r\n"


def registration_packet(registration_id: str, port: int = 1) -> bytes:
    """`REG:<id>\\r\\n` for port 1, `REG:<id>:<port>\\r\\n` for the others."""
    suffix = f":{port}" if port > 1 else ""
    return f"REG:{registration_id}{suffix}\r\n".encode("ascii")


def topic_down(registration_id: str, port: int) -> str:
    return f"meterhub/gw/{registration_id}/{port}/down"


def topic_up(registration_id: str, port: int) -> str:
    return f"meterhub/gw/{registration_id}/{port}/up"


def topic_state(registration_id: str) -> str:
    return f"meterhub/gw/{registration_id}/state"


# --- specs: what the fleet file says --------------------------------------------------


@dataclass(slots=True)
class MeterSpec:
    serial: str
    address: str
    protocol: str = "dlt645_2007"  # dlt645_2007 | dlt645_1997 | mbus
    kind: str = "electricity"  # electricity | water | gas
    profile: str = ""
    phase: str = "single"
    seed: int | None = None  # None: derived from the fleet seed and the serial
    payment_mode: str = "postpaid"
    switch: str = "none"
    password: str = ""
    operator_code: str = ""
    options: dict = field(default_factory=dict)  # more constructor keywords
    faults: dict = field(default_factory=dict)  # set on meter.faults when it is built


@dataclass(slots=True)
class BusSpec:
    port: int = 1
    baud: int = 2400
    meters: list[MeterSpec] = field(default_factory=list)


@dataclass(slots=True)
class CollectorFaults:
    drop_every_s: float = 0.0  # drop the link this often (0: never)
    garbage_every_s: float = 0.0  # send junk up this often (0: never)
    garbage_bytes: int = 16
    impersonate: str | None = None  # register with this id instead of our own


@dataclass(slots=True)
class CollectorSpec:
    code: str
    registration_id: str = ""
    transport: str = "dialin_tcp"
    host: str = ""  # dial-out: where we listen; dial-in: head-end host (fleet default if empty)
    port: int = 0  # dial-out: first listening port; dial-in: head-end port (fleet default if 0)
    model: str = "DTU-4G"
    name: str = ""
    heartbeat_s: float = 60.0
    register: bool = True  # send the registration packet
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 60.0
    buses: list[BusSpec] = field(default_factory=list)
    faults: CollectorFaults = field(default_factory=CollectorFaults)

    def __post_init__(self):
        if not self.registration_id:
            self.registration_id = self.code
        if self.transport not in TRANSPORTS:
            raise ValueError(f"collector {self.code}: transport {self.transport!r} is not one of {TRANSPORTS}")


# --- one live bus connection ------------------------------------------------------------


class _Link(asyncio.Protocol):
    """A TCP connection carrying one bus."""

    def __init__(self, collector: Collector, bus: Bus):
        self.collector = collector
        self.bus = bus
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future = asyncio.get_running_loop().create_future()
        self._timers: list[asyncio.TimerHandle] = []
        self.opened_at = 0.0

    # asyncio.Protocol
    def connection_made(self, transport):
        self.transport = transport
        c = self.collector
        loop = asyncio.get_running_loop()
        self.opened_at = loop.time()
        if c.spec.register:
            transport.write(registration_packet(c.sent_id, self.bus.port))
        self.bus.attach(self._up)
        c._link_up(self)
        f = c.spec.faults
        if c.spec.heartbeat_s > 0:
            self._every(c.spec.heartbeat_s, self._heartbeat)
        if f.garbage_every_s > 0:
            self._every(f.garbage_every_s, lambda: self.write(c.garbage()))
        if f.drop_every_s > 0:
            self._timers.append(loop.call_later(f.drop_every_s * c.jitter(), self.close))

    def data_received(self, data):
        self.bus.feed(data)

    def eof_received(self):
        return False  # close our side too

    def connection_lost(self, exc):
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        if self.bus._on_up == self._up:
            self.bus.detach()
        self.transport = None
        self.collector._link_down(self)
        if not self.closed.done():
            self.closed.set_result(exc)

    # ours
    def _every(self, period: float, fn: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        slot = len(self._timers)

        def tick():
            if self.transport is None:
                return
            fn()
            self._timers[slot] = loop.call_later(period, tick)

        self._timers.append(loop.call_later(period, tick))

    def _heartbeat(self):
        self.write(HEARTBEAT)

    def _up(self, data: bytes) -> None:
        self.write(data)

    def write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)

    def close(self) -> None:
        t = self.transport
        if t is not None:
            t.abort()


# --- the collector ------------------------------------------------------------------------


class Collector:
    """One simulated DTU and its buses. `await start()`, `await stop()`.

    headend: (host, port) a dial-in collector connects to (spec.host/port win).
    mqtt: (host, port) of the broker for MQTT gateways.
    meter_factory: MeterSpec -> SimMeter, called the first time a meter is needed.
    connect_limit: a shared semaphore that caps simultaneous TCP connects (a fleet
    of thousands would otherwise overflow the head-end's accept backlog).
    on_up(collector, bus_port): called each time a bus link comes up.
    """

    def __init__(
        self,
        spec: CollectorSpec,
        *,
        headend: tuple[str, int] = ("127.0.0.1", 9100),
        mqtt: tuple[str, int] = ("127.0.0.1", 1883),
        clock: Any = None,
        seed: int = 0,
        meter_factory: Callable[[MeterSpec], Any] | None = None,
        time_scale: float = 1.0,
        connect_limit: asyncio.Semaphore | None = None,
        on_up: Callable[[Collector, int], None] | None = None,
    ):
        self.spec = spec
        self.headend = (spec.host or headend[0], spec.port or headend[1])
        self.mqtt = mqtt
        self.clock = clock
        self.seed = seed
        self._rng = random.Random(seed)
        self.buses: list[Bus] = []
        for n, b in enumerate(spec.buses or [BusSpec()]):
            proto = b.meters[0].protocol if b.meters else "dlt645_2007"
            self.buses.append(Bus(
                port=b.port, baud=b.baud, clock=clock, time_scale=time_scale, family=family_of(proto),
                slots=[MeterSlot(m, meter_factory) for m in b.meters], seed=seed + n,
            ))
        self.links: dict[int, _Link] = {}
        self.connects = 0
        self.drops = 0
        self.failed_connects = 0
        self.impersonating: str | None = spec.faults.impersonate
        self._limit = connect_limit
        self._on_up = on_up
        self._tasks: list[asyncio.Task] = []
        self._servers: list[asyncio.Server] = []
        self._reconnect_in: dict[int, float] = {}
        self._stopping = False
        self._mqtt_client = None
        self._mqtt_kick: asyncio.Event | None = None
        self._pubs: set[asyncio.Task] = set()

    def __repr__(self):
        return f"<Collector {self.spec.code} {self.spec.transport} links={len(self.links)}>"

    @property
    def code(self) -> str:
        return self.spec.code

    @property
    def sent_id(self) -> str:
        """The id this collector registers with (another's, when impersonating)."""
        return self.impersonating or self.spec.registration_id

    @property
    def connected(self) -> bool:
        return bool(self.links) or self._mqtt_client is not None

    def bus(self, port: int) -> Bus:
        for b in self.buses:
            if b.port == port:
                return b
        raise KeyError(port)

    def find(self, key: str) -> tuple[Bus, MeterSlot] | None:
        for b in self.buses:
            s = b.find(key)
            if s is not None:
                return b, s
        return None

    # -- life cycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Dial in / start listening / connect to the broker. Returns at once for
        dial-in and MQTT (the links come up in the background); after the servers
        listen for dial-out."""
        self._stopping = False
        t = self.spec.transport
        if t == "dialin_tcp":
            for bus in self.buses:
                self._tasks.append(asyncio.create_task(self._dial_in(bus), name=f"{self.code}:{bus.port}"))
        elif t == "dialout_tcp":
            loop = asyncio.get_running_loop()
            host = self.spec.host or "127.0.0.1"
            for bus in self.buses:
                port = self.spec.port + bus.port - 1
                server = await loop.create_server(lambda bus=bus: _Link(self, bus), host, port,
                                                  reuse_address=True)
                self._servers.append(server)
                if self._on_up:
                    self._on_up(self, bus.port)
        else:
            self._tasks.append(asyncio.create_task(self._mqtt_loop(), name=f"{self.code}:mqtt"))

    async def stop(self) -> None:
        self._stopping = True
        for s in self._servers:
            s.close()
        client = self._mqtt_client
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    client.publish(topic_state(self.sent_id), b"offline", qos=1, retain=True), 2)
        for link in list(self.links.values()):
            link.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for s in self._servers:
            with contextlib.suppress(Exception):
                await s.wait_closed()
        self._servers.clear()

    # -- faults ----------------------------------------------------------------------------

    def drop(self, reconnect_in: float | None = None) -> int:
        """Drop every link now (as a 4G DTU losing its bearer). The links come back
        after the usual backoff, or after exactly `reconnect_in` seconds."""
        n = 0
        for port, link in list(self.links.items()):
            if reconnect_in is not None:
                self._reconnect_in[port] = reconnect_in
            link.close()
            n += 1
        client = self._mqtt_client
        if client is not None:
            if reconnect_in is not None:
                self._reconnect_in[self.buses[0].port] = reconnect_in
            # an abrupt end (no DISCONNECT) so the broker publishes our will
            with contextlib.suppress(Exception):
                client._client.socket().shutdown(socket.SHUT_RDWR)
            n += 1
        return n

    def garbage(self, n: int | None = None) -> bytes:
        """Random junk (never containing a frame start, so it stays noise)."""
        n = n or self.spec.faults.garbage_bytes
        return bytes(self._rng.choice(_JUNK) for _ in range(n))

    def inject_garbage(self, n: int | None = None) -> int:
        """Send junk bytes up every link now; returns how many links got it."""
        sent = 0
        for link in list(self.links.values()):
            link.write(self.garbage(n))
            sent += 1
        if self._mqtt_client is not None:
            for bus in self.buses:
                self._mqtt_publish(bus.port, self.garbage(n))
                sent += 1
        return sent

    def impersonate(self, registration_id: str | None) -> None:
        """Register with another collector's id from the next connection on."""
        self.impersonating = registration_id or None

    def jitter(self) -> float:
        return 0.5 + self._rng.random() * 0.5

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: min_s, 2 x min_s, ... up to max_s."""
        s = self.spec
        base = min(s.reconnect_max_s, s.reconnect_min_s * (2 ** max(0, attempt - 1)))
        return base * self.jitter()

    # -- internals -------------------------------------------------------------------------

    def _link_up(self, link: _Link) -> None:
        old = self.links.get(link.bus.port)
        if old is not None and old is not link:
            old.close()  # dial-out: a new head-end connection replaces the old one
        self.links[link.bus.port] = link
        self.connects += 1
        if self._on_up:
            self._on_up(self, link.bus.port)

    def _link_down(self, link: _Link) -> None:
        if self.links.get(link.bus.port) is link:
            del self.links[link.bus.port]
            if not self._stopping:
                self.drops += 1

    async def _dial_in(self, bus: Bus) -> None:
        loop = asyncio.get_running_loop()
        attempt = 0
        while not self._stopping:
            host, port = self.headend
            try:
                if self._limit is not None:
                    async with self._limit:
                        _, link = await asyncio.wait_for(
                            loop.create_connection(lambda: _Link(self, bus), host, port), 10)
                else:
                    _, link = await asyncio.wait_for(
                        loop.create_connection(lambda: _Link(self, bus), host, port), 10)
            except (TimeoutError, OSError):
                self.failed_connects += 1
                attempt += 1
                await asyncio.sleep(self._next_delay(bus, attempt))
                continue
            await link.closed
            if self._stopping:
                break
            # a link that died young (refused after registering?) backs off further
            lived = loop.time() - link.opened_at
            attempt = attempt + 1 if lived < 10 * self.spec.reconnect_min_s else 1
            await asyncio.sleep(self._next_delay(bus, attempt))

    def _next_delay(self, bus: Bus, attempt: int) -> float:
        fixed = self._reconnect_in.pop(bus.port, None)
        return fixed if fixed is not None else self.backoff(attempt)

    # -- MQTT gateway ----------------------------------------------------------------------

    async def _mqtt_loop(self) -> None:
        import aiomqtt

        host, port = self.mqtt
        attempt = 0
        while not self._stopping:
            rid = self.sent_id
            state = topic_state(rid)
            try:
                async with aiomqtt.Client(
                    hostname=host, port=port, identifier=f"meterhub-sim-{rid}-{self.seed}",
                    will=aiomqtt.Will(state, b"offline", qos=1, retain=True), keepalive=30,
                ) as client:
                    for bus in self.buses:
                        await client.subscribe(topic_down(rid, bus.port), qos=1)
                    await client.publish(state, b"online", qos=1, retain=True)
                    self._mqtt_client = client
                    for bus in self.buses:
                        bus.attach(lambda data, p=bus.port: self._mqtt_publish(p, data))
                        self.connects += 1
                        if self._on_up:
                            self._on_up(self, bus.port)
                    attempt = 0
                    async for message in client.messages:
                        try:
                            p = int(str(message.topic).rsplit("/", 2)[-2])
                            bus = self.bus(p)
                        except (ValueError, KeyError):
                            continue
                        bus.feed(bytes(message.payload))
            except aiomqtt.MqttError as exc:
                log.debug("%s: MQTT link lost: %s", self.code, exc)
                if self._mqtt_client is not None and not self._stopping:
                    self.drops += 1
            finally:
                self._mqtt_client = None
                for bus in self.buses:
                    bus.detach()
            if self._stopping:
                break
            attempt += 1
            await asyncio.sleep(self._next_delay(self.buses[0], attempt))

    def _mqtt_publish(self, port: int, data: bytes) -> None:
        client = self._mqtt_client
        if client is None:
            return
        task = asyncio.get_running_loop().create_task(
            client.publish(topic_up(self.sent_id, port), data, qos=1))
        self._pubs.add(task)
        task.add_done_callback(_forget(self._pubs))

    # -- reporting -------------------------------------------------------------------------

    def status(self) -> dict:
        return {
            "code": self.code, "registration_id": self.spec.registration_id, "sent_id": self.sent_id,
            "transport": self.spec.transport, "links": sorted(self.links) if self.spec.transport != "mqtt"
            else ([b.port for b in self.buses] if self._mqtt_client else []),
            "connects": self.connects, "drops": self.drops, "failed_connects": self.failed_connects,
            "buses": {b.port: {"baud": b.baud, "meters": len(b.slots), **b.stats.as_dict()}
                      for b in self.buses},
        }


# junk bytes: anything but a frame start (68, 10), the FE/FF fill or CR/LF
_JUNK = bytes(b for b in range(256) if b not in (0x68, 0x10, 0xE5, 0xFE, 0xFF, 0x0D, 0x0A))


def _forget(tasks: set):
    def done(task: asyncio.Task):
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("MQTT publish failed: %s", task.exception())

    return done
