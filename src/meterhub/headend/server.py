"""The master station: accepts collectors, owns one BusSession per bus, reads meters.

One `HeadEnd` per process. It never touches the database: the fleet comes from a loader
and everything it learns goes to a BatchSink, both run in threads by the caller's
wiring (`meterhub headend`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

from meterhub.gc_tuning import settle_long_lived
from meterhub.headend import meter_io, quantities
from meterhub.headend.blocking import Blocking
from meterhub.headend.bus import BusError, BusSession, CollectorGone
from meterhub.headend.covers import ITEM_DIS as COVER_ITEMS
from meterhub.headend.covers import CoverWatch
from meterhub.headend.fleet import Fleet
from meterhub.headend.link import DEFAULT_LINK, RegistrationError, RegistrationParser
from meterhub.headend.records import CommRecord, EventRecord, LinkRecord, ReadingRecord
from meterhub.headend.seal_chips import ChipWatch
from meterhub.headend.sink import BatchSink
from meterhub.protocols.dlt645.seal import SealStatus

log = logging.getLogger(__name__)

REGISTRATION_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 300.0  # no byte (not even a heartbeat) for this long: the link is dead
FLEET_REFRESH_S = 60.0


def utcnow() -> datetime:
    return datetime.now(UTC)


class HeadEnd:
    def __init__(self, load_fleet: Callable[[], Fleet], sink: BatchSink, *, node: str | None = None,
                 idle_timeout_s: float = IDLE_TIMEOUT_S, thread_finalizer: Callable[[], None] | None = None,
                 registration_timeout_s: float = REGISTRATION_TIMEOUT_S):
        self._load_fleet = load_fleet
        self.blocking = Blocking(thread_finalizer)
        self.sink = sink
        sink.offload = self.blocking.run
        self.fleet = Fleet()
        self.sessions: dict[tuple[str, int], BusSession] = {}
        self.node = node or socket.gethostname()
        self.idle_timeout_s = idle_timeout_s
        self.registration_timeout_s = registration_timeout_s
        self._last_refresh_request = float("-inf")
        self._servers: list[asyncio.AbstractServer] = []
        self._tasks: set[asyncio.Task] = set()
        self.chips = ChipWatch()
        self.covers = CoverWatch()
        # last state seen per (meter id, what): leak inputs and relays become events on change
        self.states: dict[tuple[int, str], object] = {}

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 9100) -> int:
        """Load the fleet, start the sink and the collector listener; returns the bound port."""
        await self.refresh_fleet()
        settle_long_lived()  # the modules and the fleet live as long as the process
        self.sink.start()
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: CollectorConnection(self), host, port, backlog=4096)
        self._servers.append(server)
        self._spawn(self._refresh_loop(), "fleet-refresh")
        self._spawn(self._idle_watch(), "idle-watch")
        bound = server.sockets[0].getsockname()[1]
        log.info("head-end %s listening for collectors on %s:%s", self.node, host, bound)
        return bound

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._tasks):
            task.cancel()
        for session in list(self.sessions.values()):
            await session.close()
        await self.sink.close()
        await self.blocking.close()

    def _spawn(self, coro, name: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def refresh_fleet(self) -> None:
        self.fleet = await self.blocking.run(self._load_fleet)

    def refresh_soon(self, min_interval_s: float = 10.0) -> None:
        """Reload the fleet in the background, at most once per interval: a decommissioned
        DTU redialling every few seconds must not keep the database thread busy."""
        now = time.monotonic()
        if now - self._last_refresh_request < min_interval_s:
            return
        self._last_refresh_request = now
        self._spawn(self.refresh_fleet(), "fleet-refresh-now")

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(FLEET_REFRESH_S)
            try:
                await self.refresh_fleet()
            except Exception:
                log.exception("fleet refresh failed; keeping the previous snapshot")

    async def _idle_watch(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self.idle_timeout_s / 2))
            now = time.monotonic()
            for session in list(self.sessions.values()):
                if session.watch_idle and now - session.stats.last_rx > self.idle_timeout_s and not session.busy:
                    log.info("%s: idle for %.0f s, closing", session.name, now - session.stats.last_rx)
                    await session.close()

    # --- collectors ------------------------------------------------------------------------

    def registered(self, conn: CollectorConnection, registration) -> BusSession | None:
        """A connection said who it is: give it a session, or refuse it."""
        collector = self.fleet.collectors.get(registration.registration_id)
        if collector is None or not collector.enabled:
            why = "unknown registration id" if collector is None else "collector disabled"
            self.refuse(conn, registration.registration_id, registration.port, why)
            if collector is None:  # it may have been registered a moment ago: refresh for its retry
                self.refresh_soon()
            return None
        return self.attach(collector, registration.port, conn.transport, conn.peer)

    def attach(self, collector, port: int, transport, peer: str = "") -> BusSession:
        """Make `transport` the bus session of (collector, port), replacing an older one.

        Every link kind comes through here: dial-in and dial-out TCP, MQTT gateways,
        serial ports. `transport` needs write(bytes) and close(); feed what arrives to
        the session's receive() and call detach() when the link goes.
        """
        key = (collector.registration_id, port)
        bus = self.fleet.bus(*key)
        session = BusSession(transport, protocol=bus.protocol, baud=bus.baud,
                             link_latency_s=collector.link_latency_s, name=f"{collector.code}:{port}")
        # Serial lines and MQTT gateways send no heartbeats; their loss is reported by the
        # port itself or by the gateway's will.
        session.watch_idle = collector.transport not in ("serial", "mqtt")
        old = self.sessions.get(key)
        self.sessions[key] = session
        if old is not None:
            # The collector came back from a new address (4G re-attach): the old socket is dead.
            self.sink.put(LinkRecord(utcnow(), collector.registration_id, port, "replaced", peer,
                                     "reconnected while the previous connection was open"))
            self._spawn(old.close(), "close-replaced")
        self.sink.put(LinkRecord(utcnow(), collector.registration_id, port, "online", peer))
        log.info("collector %s port %s online from %s", collector.code, port, peer)
        return session

    def detach(self, registration_id: str, port: int, session: BusSession, peer: str = "") -> None:
        """The link of a session went away; record it unless a newer session replaced it."""
        session.lost()
        key = (registration_id, port)
        if self.sessions.get(key) is session:
            del self.sessions[key]
            self.sink.put(LinkRecord(utcnow(), registration_id, port, "offline", peer))
            log.info("collector %s port %s offline", session.name, port)

    def disconnected(self, conn: CollectorConnection) -> None:
        if conn.session is not None:
            self.detach(conn.registration.registration_id, conn.registration.port, conn.session, conn.peer)

    def refuse(self, conn: CollectorConnection, registration_id: str, port: int, reason: str) -> None:
        log.warning("refused collector %r from %s: %s", registration_id, conn.peer, reason)
        self.sink.put(LinkRecord(utcnow(), registration_id, port, "refused", conn.peer, reason))
        conn.transport.close()

    def session_for(self, meter: meter_io.MeterRef) -> BusSession:
        session = self.sessions.get((meter.collector, meter.bus_port))
        if session is None or session.closed:
            raise CollectorGone(f"collector of meter {meter.serial} is offline")
        return session

    # --- reading ---------------------------------------------------------------------------

    async def read_meter(self, serial: str, dis: list[int], *, source: str = "on_demand",
                         ts: datetime | None = None) -> dict[int, object]:
        """Read data items from a meter now; values or the BusError for each item.

        Readings and the communication result go to the sink, stamped `ts` (the plan's
        slot for scheduled reads, so a repeated read of the same slot is idempotent).
        """
        meter = self.fleet.meters.get(serial)
        if meter is None:
            raise KeyError(f"unknown meter {serial!r}")
        try:
            session = self.session_for(meter)
        except CollectorGone as exc:
            self.sink.put(CommRecord(meter.id, utcnow(), False, str(exc)))
            return dict.fromkeys(dis, exc)
        if meter.protocol == "mbus":
            return await self._read_mbus(session, meter, source, ts or utcnow())
        values = await meter_io.read_items(session, meter, dis)
        records = self.covers.records_to_read(meter, values)
        if records:  # a cover was opened since the last read: its newest records
            values.update(await meter_io.read_items(session, meter, records))
        self._publish(meter, values, source, ts or utcnow())
        return values

    async def _read_mbus(self, session, meter, source: str, ts: datetime) -> dict:
        """An M-Bus meter answers with all its records at once: {quantity: value}."""
        try:
            records = await meter_io.read_mbus(session, meter)
        except BusError as exc:
            self.sink.put(CommRecord(meter.id, utcnow(), False, str(exc)[:200]))
            return {"records": exc}
        self.sink.put(CommRecord(meter.id, utcnow(), True))
        out = {}
        for record in records:
            quantity = quantities.mbus_quantity(meter.kind, record)
            if quantity is not None and isinstance(record.value, Decimal):
                out[quantity.name] = record.value
                self.sink.put(ReadingRecord(meter.id, quantity.name, ts, record.value, Decimal(1), quantity.unit,
                                            source))
        valve = meter_io.valve_open(records)
        if valve is not None:
            out["valve_open"] = valve
            self._on_change(meter, "valve", valve, None, EventRecord(meter.id, "valve_state", ts, {"valve_open": valve},
                                                                     source))
        leak = meter_io.leak(records)
        if leak is not None:
            out["leak"] = leak
            self._on_change(meter, "leak", leak, False, EventRecord(
                meter.id, "leak" if leak else "leak_cleared", ts, {"valve_open": valve}, source))
        return out

    def _on_change(self, meter, what: str, state, assumed, event: EventRecord) -> None:
        """Hand over `event` when `state` differs from the last seen (`assumed` before any)."""
        key = (meter.id, what)
        if self.states.get(key, assumed) != state:
            self.sink.put(event)
        self.states[key] = state

    def _publish(self, meter, values: dict, source: str, ts: datetime) -> None:
        errors = [v for v in values.values() if isinstance(v, BusError)]
        self.sink.put(CommRecord(meter.id, utcnow(), not errors or len(errors) < len(values),
                                 str(errors[0])[:200] if errors else ""))
        for event in self.covers.observe(meter, values, source):
            self.sink.put(event)
        for di, value in values.items():
            if di in COVER_ITEMS:
                continue  # events above
            if isinstance(value, SealStatus):
                event = self.chips.observe(meter, value, ts, source)
                if event is not None:
                    self.sink.put(event)
                continue
            if di == quantities.STATUS_WORD_3 and isinstance(value, dict) and "relay_open" in value:
                relay = (value["relay_open"], value.get("relay_trip_commanded"))
                self._on_change(meter, "relay", relay, None, EventRecord(
                    meter.id, "relay_state", ts, {"relay_open": relay[0], "trip_commanded": relay[1]}, source))
                continue
            quantity = quantities.quantity_for(meter.version, di)
            if quantity is None or isinstance(value, BusError) or value is None:
                continue
            if not isinstance(value, Decimal):
                try:
                    value = Decimal(str(value))
                except (ArithmeticError, ValueError, TypeError):
                    continue  # not a number (a status word): nothing to store as a reading
            raw = value
            self.sink.put(ReadingRecord(meter.id, quantity.name, ts, raw, meter.ratio(quantity.scale),
                                        quantity.unit, source))

    def publish_read_now(self, meter, values: dict) -> None:
        """What a read_now command read ({DI hex: value text, or an error}) goes to the
        store as on-demand readings too: an operator's read and a VEE re-read are data."""
        read = {}
        for di, value in values.items():
            if isinstance(value, str):
                try:
                    read[int(di, 16)] = Decimal(value)
                except (ArithmeticError, ValueError):
                    continue  # not a number (a status word, a date)
        if read:
            self._publish(meter, read, "on_demand", utcnow())

    async def poll_bus(self, key: tuple[str, int], dis_for, *, source: str = "scheduled",
                       ts: datetime | None = None) -> int:
        """Read every meter on one bus, one after another. Returns meters read successfully."""
        bus = self.fleet.buses.get(key)
        if bus is None:
            return 0
        ok = 0
        for meter in bus.meters:
            values = await self.read_meter(meter.serial, dis_for(meter), source=source, ts=ts)
            if any(not isinstance(v, BusError) for v in values.values()):
                ok += 1
            elif any(isinstance(v, CollectorGone) for v in values.values()):
                break  # the rest of this bus is unreachable too
        return ok


class CollectorConnection(asyncio.Protocol):
    """One TCP connection from a collector: first its registration, then its bus's bytes."""

    def __init__(self, headend: HeadEnd):
        self.headend = headend
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.registration = None
        self.session: BusSession | None = None
        self._parser = RegistrationParser(DEFAULT_LINK)
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if peer else ""
        self._timer = asyncio.get_running_loop().call_later(self.headend.registration_timeout_s,
                                                            self._no_registration)

    def _no_registration(self) -> None:
        if self.session is None and not self.transport.is_closing():
            self.headend.refuse(self, "", 1, f"no registration within {self.headend.registration_timeout_s:g} s")

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.receive(data)
            return
        if self.transport.is_closing():
            return
        try:
            result = self._parser.feed(data)
        except RegistrationError as exc:
            self.headend.refuse(self, "", 1, f"no registration: {exc}")
            return
        if result is None:
            return
        self._timer.cancel()
        self.registration, rest = result
        self.session = self.headend.registered(self, self.registration)
        if self.session is not None and rest:
            self.session.receive(rest)

    def connection_lost(self, exc) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.headend.disconnected(self)
