"""The test loop whose clock jumps to the next timer (tests/virtual_clock.py)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from tests.virtual_clock import run


def test_an_hour_of_sleeping_passes_at_once_and_to_the_exact_time():
    async def scenario():
        loop = asyncio.get_running_loop()
        await asyncio.sleep(3600)
        slept = loop.time()
        await asyncio.gather(asyncio.sleep(0.25), asyncio.sleep(0.1))
        return slept, loop.time()

    assert run(scenario()) == (3600, 3600.25)


def test_bytes_already_written_are_read_before_the_clock_moves():
    async def scenario():
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        (reader, ours_writer), (_, writer) = [await asyncio.open_connection(sock=s) for s in (ours, theirs)]
        writer.write(b"ping")
        data = await asyncio.wait_for(reader.readexactly(4), timeout=5)
        writer.close()
        ours_writer.close()
        return data, loop.time()

    assert run(scenario()) == (b"ping", 0)


def test_waiting_for_what_can_never_come_is_an_error_not_a_hang():
    async def scenario():
        await asyncio.get_running_loop().create_future()

    with pytest.raises(RuntimeError, match="would wait forever"):
        run(scenario())


def test_threads_are_refused():
    async def scenario():
        await asyncio.to_thread(print)

    with pytest.raises(RuntimeError, match="no threads"):
        run(scenario())
