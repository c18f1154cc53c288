"""Serial collectors over a real pseudo-terminal: pyserial-asyncio-fast opens the pty's
slave as it would /dev/ttyUSB0, and a simulated DL/T 645 meter answers on the master.

Some kernels refuse parity on a pty (tcsetattr PARENB: EINVAL); there the opener asks
for 8E1 as the head-end does and, refused, opens the same pty 8N1: a pty has no wire
for parity bits anyway.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import termios
import time
import tty

import serial_asyncio_fast

from meterhub.headend.bus import CollectorGone
from meterhub.headend.fleet import CollectorRef, Fleet
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.records import LinkRecord
from meterhub.headend.serial_links import SerialLinks, wanted
from meterhub.headend.server import HeadEnd
from meterhub.headend.sink import BatchSink
from meterhub.protocols import dlt645
from meterhub.sim.electricity import ElectricityMeter

ENERGY = 0x00010000
ADDRESS = "240301000001"
FAST = dict(backoff_min_s=0.05, backoff_max_s=0.2, rescan_s=0.05)


EIGHT_E_ONE = dict(baudrate=9600, bytesize=8, parity="E", stopbits=1)


class PtyOpener:
    """serial_asyncio_fast.create_serial_connection, recording what was asked for."""

    def __init__(self):
        self.requests: list[tuple[str, dict]] = []

    async def __call__(self, loop, factory, url, **kwargs):
        self.requests.append((url, kwargs))
        try:
            return await serial_asyncio_fast.create_serial_connection(loop, factory, url, **kwargs)
        except termios.error as exc:
            if exc.args[0] != errno.EINVAL or kwargs.get("parity") == "N":
                raise
            return await serial_asyncio_fast.create_serial_connection(loop, factory, url, **(kwargs | {"parity": "N"}))


class PtyMeter:
    """The meter end of the wire: the master side of a pty pair."""

    def __init__(self, meter: ElectricityMeter, delay_s: float = 0.02):
        self.meter, self.delay_s = meter, delay_s
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo of the meter's own replies, whatever opens the slave
        self.device = os.ttyname(self._slave)
        self.parser = dlt645.StreamParser()
        self.requests = 0
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except OSError:
            return
        self.parser.feed(data)
        for event in self.parser:
            if not isinstance(event, dlt645.Frame):
                continue
            self.requests += 1
            response = self.meter.respond(event.encode(), time.time())
            if response is not None and response.data:
                self.loop.call_later(self.delay_s, self._write, response.data)

    def _write(self, data: bytes) -> None:
        if self.master >= 0:
            os.write(self.master, data)

    def unplug(self) -> None:
        """The adapter is pulled out: the far end of the port is gone."""
        self.loop.remove_reader(self.master)
        os.close(self.master)
        os.close(self._slave)
        self.master = -1


def the_fleet(device: str, **collector) -> Fleet:
    collectors = [CollectorRef(1, "RS485-1", "SER1", "serial", serial_device=device, link_latency_s=0.05,
                               **collector)]
    meters = [MeterRef(1, "E1", ADDRESS, "dlt645_2007", "SER1", baud_rate=9600)]
    return Fleet.build(collectors, meters)


async def until(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def running(fleet_of, body, **links_kw):
    records: list = []
    headend = HeadEnd(fleet_of, BatchSink(records.extend, interval_s=0.02), node="t")
    await headend.start("127.0.0.1", 0)
    links = SerialLinks(headend, **(FAST | links_kw))
    task = asyncio.create_task(links.run())
    try:
        return await body(headend, links, records)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await headend.close()


def kinds(records) -> list[str]:
    return [r.kind for r in records if isinstance(r, LinkRecord) and r.registration_id == "SER1"]


def test_reads_a_meter_through_a_real_pty_and_goes_offline_when_unplugged():
    async def main():
        meter = ElectricityMeter(ADDRESS, seed=7)
        pty = PtyMeter(meter)

        async def body(headend, links, records):
            await until(lambda: ("SER1", 1) in headend.sessions)
            values = await headend.read_meter("E1", [ENERGY])
            session = headend.sessions[("SER1", 1)]
            pty.unplug()
            await until(lambda: ("SER1", 1) not in headend.sessions)
            after = await headend.read_meter("E1", [ENERGY])
            await headend.sink.flush()
            return values, session, after, list(records)

        values, session, after, records = await running(lambda: the_fleet(pty.device), body, open_serial=opener)
        return meter, pty, values, session, after, records

    opener = PtyOpener()
    meter, pty, values, session, after, records = asyncio.run(main())
    assert opener.requests[0] == (pty.device, EIGHT_E_ONE)
    assert pty.requests >= 1
    assert values[ENERGY] > 0
    assert meter.energy_kwh - 0.05 <= float(values[ENERGY]) <= meter.energy_kwh
    assert session.closed and session.baud == 9600 and session.protocol == "dlt645"
    assert isinstance(after[ENERGY], CollectorGone)
    online = [r for r in records if isinstance(r, LinkRecord) and r.kind == "online"]
    assert online and online[0].peer == pty.device and online[0].port == 1
    assert kinds(records) == ["online", "offline"]


def test_the_link_comes_back_when_a_new_adapter_is_plugged_in(tmp_path, caplog):
    """The configured name is stable (as udev's /dev/serial/by-id links are); the pty behind
    it changes. Reopening is retried with backoff and the missing device logged once."""
    device = str(tmp_path / "usb-rs485-if00")
    opener = PtyOpener()
    attempts = opener.requests

    async def main():
        first = PtyMeter(ElectricityMeter(ADDRESS, seed=7))
        os.symlink(first.device, device)

        async def body(headend, links, records):
            await until(lambda: ("SER1", 1) in headend.sessions)
            before = await headend.read_meter("E1", [ENERGY])
            first.unplug()
            os.unlink(device)
            await until(lambda: ("SER1", 1) not in headend.sessions)
            opened = len(attempts)
            await until(lambda: len(attempts) >= opened + 3)  # retrying while the device is missing
            second = PtyMeter(ElectricityMeter(ADDRESS, seed=7))
            os.symlink(second.device, device)
            await until(lambda: ("SER1", 1) in headend.sessions)
            again = await headend.read_meter("E1", [ENERGY])
            await headend.sink.flush()
            second.unplug()
            return before, again, second.requests, list(records)

        return await running(lambda: the_fleet(device), body, open_serial=opener)

    with caplog.at_level(logging.INFO, logger="meterhub.headend.serial_links"):
        before, again, requests, records = asyncio.run(main())
    assert all(kwargs == EIGHT_E_ONE for _, kwargs in opener.requests)
    assert before[ENERGY] > 0 and again[ENERGY] >= before[ENERGY]
    assert requests >= 1, "the second read went through the new pty"
    assert kinds(records) == ["online", "offline", "online"]
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot open" in m for m in messages) == 1, messages
    assert sum("went away" in m for m in messages) == 1, messages
    assert sum(" open at 9600 8E1" in m for m in messages) == 2, messages


def test_follows_the_fleet():
    """Only enabled serial collectors with a device are opened; a changed device reopens."""
    fleet = Fleet.build([CollectorRef(1, "A", "A", "serial", serial_device="/dev/ttyUSB0"),
                         CollectorRef(2, "B", "B", "serial"),
                         CollectorRef(3, "C", "C", "serial", serial_device="/dev/ttyUSB1", enabled=False),
                         CollectorRef(4, "D", "D", "dialin_tcp", serial_device="/dev/ttyUSB2")], [])
    assert {rid: w[1:] for rid, w in wanted(fleet).items()} == {"A": ("/dev/ttyUSB0", 2400)}

    opened: list[str] = []

    async def opener(loop, factory, url, **kwargs):
        opened.append(url)
        raise OSError(2, "No such file or directory", url)

    async def main():
        state = {"fleet": the_fleet("/dev/ttyUSB7")}

        async def body(headend, links, records):
            await until(lambda: "/dev/ttyUSB7" in opened)
            state["fleet"] = the_fleet("/dev/ttyUSB8")
            await headend.refresh_fleet()
            await until(lambda: "/dev/ttyUSB8" in opened)
            n = len(opened)
            state["fleet"] = the_fleet("/dev/ttyUSB8", enabled=False)
            await headend.refresh_fleet()
            await asyncio.sleep(0.4)
            return opened[n:]

        return await running(lambda: state["fleet"], body, open_serial=opener)

    late = asyncio.run(main())
    assert "/dev/ttyUSB7" not in late and len(late) <= 1, late
