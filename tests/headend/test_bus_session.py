"""BusSession deadlines over a real socket pair, on a virtual clock (tests/virtual_clock.py):
each request fails exactly at its own deadline, and a read's retries cost exactly their
deadlines and backoffs, measured in loop time, so the assertions are exact and do not
depend on how loaded the machine is."""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal

import pytest

from meterhub.headend import meter_io, timing
from meterhub.headend.bus import BusSession, NoReply
from meterhub.protocols import dlt645
from tests.virtual_clock import run

ADDRESS = "000000000001"
ENERGY = 0x00010000


class _Link(asyncio.Protocol):
    def __init__(self):
        self.session: BusSession | None = None

    def data_received(self, data: bytes) -> None:
        self.session.receive(data)

    def connection_lost(self, exc) -> None:
        self.session.lost()


async def _session() -> tuple[BusSession, asyncio.StreamReader, asyncio.StreamWriter]:
    """A session on one end of a socket pair; the other end plays the meter by hand."""
    ours, theirs = socket.socketpair()
    transport, link = await asyncio.get_running_loop().connect_accepted_socket(_Link, ours)
    link.session = BusSession(transport, protocol="dlt645_2007", baud=9600, link_latency_s=0.05, name="t")
    reader, writer = await asyncio.open_connection(sock=theirs)
    return link.session, reader, writer


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read one request and answer it as the meter."""
    await reader.readuntil(b"\x16")
    writer.write(dlt645.ReadReply.of(ADDRESS, ENERGY, Decimal("1.5")).encode())
    await writer.drain()


REQUEST = dlt645.Read(ADDRESS, ENERGY).encode(preamble=4)


async def _time_out(session: BusSession, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(NoReply):
        await session.transact(REQUEST, timeout=timeout)
    return loop.time() - started


def test_an_unanswered_request_gets_its_own_deadline_after_answered_ones():
    """The timer set for the first request fires first; the request then in flight must
    still get its full deadline, counted from when it was sent."""

    async def scenario():
        session, reader, writer = await _session()
        for _ in range(3):
            answered = asyncio.create_task(_answer(reader, writer))
            frame = await session.transact(REQUEST, timeout=0.4)
            await answered
            assert dlt645.parse_reply(frame).value() == Decimal("1.5")
        await asyncio.sleep(0.15)  # the first request's deadline is now 0.25 s ahead
        took = await _time_out(session, 0.4)
        await session.close()
        writer.close()
        return took, session.stats

    took, stats = run(scenario())
    assert took == pytest.approx(0.4)
    assert (stats.requests, stats.replies, stats.timeouts) == (4, 3, 1)


def test_a_shorter_deadline_after_a_longer_one_is_kept():
    async def scenario():
        session, reader, writer = await _session()
        answered = asyncio.create_task(_answer(reader, writer))
        await session.transact(REQUEST, timeout=5.0)
        await answered
        took = await _time_out(session, 0.2)
        await session.close()
        writer.close()
        return took

    assert run(scenario()) == pytest.approx(0.2)


def test_fast_replies_share_one_timer():
    """A timer per request was a tenth of the head-end's CPU at 10,000 collectors."""

    async def scenario():
        session, reader, writer = await _session()
        loop = asyncio.get_running_loop()
        timers = []
        call_at = loop.call_at
        loop.call_at = lambda when, *args, **kw: timers.append(when) or call_at(when, *args, **kw)
        for _ in range(20):
            answered = asyncio.create_task(_answer(reader, writer))
            await session.transact(REQUEST)
            await answered
        loop.call_at = call_at
        await session.close()
        writer.close()
        return len(timers)

    assert run(scenario()) == 1


def test_a_lost_link_fails_the_request_at_once_and_cancels_the_timer():
    async def scenario():
        session, reader, writer = await _session()
        loop = asyncio.get_running_loop()
        started = loop.time()
        pending = asyncio.create_task(session.transact(REQUEST, timeout=5.0))
        await reader.readuntil(b"\x16")
        writer.close()
        with pytest.raises(Exception) as caught:
            await pending
        return caught.value, loop.time() - started, session._timer

    error, took, timer = run(scenario())
    assert type(error).__name__ == "CollectorGone"
    assert took == 0, "no timer had to fire first"
    assert timer is None


def test_a_silent_meter_costs_its_bus_three_deadlines_and_the_backoffs_between():
    """A read that gets no reply is tried exactly three times, each attempt failing at the
    deadline the bus timing gives it, with the backoffs between; then NoReply."""
    meter = meter_io.MeterRef(id=1, serial="E1", address=ADDRESS, protocol="dlt645_2007", baud_rate=9600)

    async def scenario():
        session, reader, writer = await _session()  # the meter's end never answers
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(NoReply):
            await meter_io.read_item(session, meter, ENERGY)
        took = loop.time() - started
        await session.close()
        writer.close()
        return took, session.stats

    took, stats = run(scenario())
    deadline = timing.reply_deadline(len(REQUEST), 9600, link_latency_s=0.05)
    assert (stats.requests, stats.timeouts) == (3, 3)
    assert took == pytest.approx(3 * deadline + sum(meter_io.RETRY_BACKOFF_S))
