"""Local serial ports as collectors: an RS-485 / M-Bus adapter wired to the head-end machine.

A collector with transport "serial" has no registration packet: the port itself is its
identity. For each one in the fleet (enabled, with a device) a keeper task opens the
port 8E1 at its bus's baud, makes it the bus session of (collector, port 1) through
`HeadEnd.attach()`, and when the port goes away (USB adapter unplugged, device
missing) detaches it and reopens with backoff, logging once per state change.

The keeper follows the fleet: a collector removed, disabled, or given another device
or baud is closed and, where it still applies, opened again with the new settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import serial_asyncio_fast

log = logging.getLogger(__name__)

BUS_PORT = 1  # a serial port is one bus
BACKOFF_MIN_S = 1.0
BACKOFF_MAX_S = 30.0
RESCAN_S = 5.0  # how often the fleet snapshot is checked for serial collectors
CLOSE_TIMEOUT_S = 2.0


def wanted(fleet) -> dict[str, tuple]:
    """{registration id: (collector, device, baud)} of the serial ports to keep open."""
    out = {}
    for collector in fleet.collectors.values():
        if collector.transport == "serial" and collector.serial_device and collector.enabled:
            baud = fleet.bus(collector.registration_id, BUS_PORT).baud
            out[collector.registration_id] = (collector, collector.serial_device, baud)
    return out


class SerialLink(asyncio.Protocol):
    """One open serial port: the bus session's transport, as CollectorConnection is for TCP."""

    def __init__(self, headend, collector, device: str):
        self.headend, self.collector, self.device = headend, collector, device
        self.transport = None
        self.session = None
        self.gone: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.session = self.headend.attach(self.collector, BUS_PORT, transport, peer=self.device)

    def data_received(self, data: bytes) -> None:
        if self.session is not None:
            self.session.receive(data)

    def connection_lost(self, exc) -> None:
        if self.session is not None:
            self.headend.detach(self.collector.registration_id, BUS_PORT, self.session, self.device)
        if not self.gone.done():
            self.gone.set_result(exc)


class SerialLinks:
    """Keeps every serial collector of `headend.fleet` open. `open_serial` has the
    signature of serial_asyncio_fast.create_serial_connection (tests inject their own)."""

    def __init__(self, headend, *, open_serial: Callable | None = None, backoff_min_s: float = BACKOFF_MIN_S,
                 backoff_max_s: float = BACKOFF_MAX_S, rescan_s: float = RESCAN_S):
        self.headend = headend
        self._open = open_serial or serial_asyncio_fast.create_serial_connection
        self.backoff_min_s, self.backoff_max_s, self.rescan_s = backoff_min_s, backoff_max_s, rescan_s
        self.links: dict[str, SerialLink] = {}  # the open ports, by registration id
        self._keepers: dict[str, tuple[tuple, asyncio.Task]] = {}  # registration id -> ((device, baud), task)

    async def run(self) -> None:
        try:
            while True:
                self.sync()
                await asyncio.sleep(self.rescan_s)
        finally:
            tasks = [task for _, task in self._keepers.values()]
            self._keepers.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def sync(self) -> None:
        """Start, stop or restart keepers to match the fleet snapshot."""
        want = wanted(self.headend.fleet)
        for rid, (settings, task) in list(self._keepers.items()):
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("serial keeper of %s failed; restarting it", rid, exc_info=task.exception())
            if rid not in want or want[rid][1:] != settings or task.done():
                task.cancel()
                del self._keepers[rid]
        for rid, (collector, device, baud) in want.items():
            if rid not in self._keepers:
                task = asyncio.create_task(self._keep(rid, device, baud), name=f"serial-{collector.code}")
                self._keepers[rid] = ((device, baud), task)

    async def _keep(self, rid: str, device: str, baud: int) -> None:
        loop = asyncio.get_running_loop()
        backoff = self.backoff_min_s
        state = ""
        while True:
            collector = self.headend.fleet.collectors.get(rid)
            if collector is None:
                return
            link = SerialLink(self.headend, collector, device)
            try:
                transport, _ = await self._open(loop, lambda link=link: link, device, baudrate=baud, bytesize=8,
                                                 parity="E", stopbits=1)
            except Exception as exc:  # missing device, permission, busy: all worth retrying
                if state != "missing":
                    log.warning("collector %s: cannot open serial port %s (%s); retrying", collector.code, device, exc)
                    state = "missing"
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.backoff_max_s)
                continue
            log.info("collector %s: serial port %s open at %s 8E1", collector.code, device, baud)
            state, backoff = "open", self.backoff_min_s
            self.links[rid] = link
            try:
                exc = await asyncio.shield(link.gone)
            except asyncio.CancelledError:
                transport.close()  # and let connection_lost detach the session before we go
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await link.gone
                raise
            finally:
                if self.links.get(rid) is link:
                    del self.links[rid]
            log.warning("collector %s: serial port %s went away%s; reopening", collector.code, device,
                        f" ({exc})" if exc else "")
            state = "lost"
            await asyncio.sleep(backoff)

