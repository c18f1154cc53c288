"""BatchSink: nothing taken for writing is lost, and one bad record blocks nothing."""

from __future__ import annotations

import asyncio
import logging

from meterhub.headend.sink import BatchSink


def run(coro):
    return asyncio.run(coro)


class Gate:
    """An offload whose writes block until released."""

    def __init__(self):
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, fn, *args):
        self.calls += 1
        self.started.set()
        await self.release.wait()
        return fn(*args)


async def inline(fn, *args):
    return fn(*args)


def test_close_waits_for_the_write_in_progress_instead_of_losing_it():
    written = []

    async def scenario():
        sink = BatchSink(written.extend, interval_s=0.01)
        gate = Gate()
        sink.offload = gate
        sink.start()
        sink.put("a")
        sink.put("b")
        await asyncio.wait_for(gate.started.wait(), 2)
        closing = asyncio.create_task(sink.close())
        await asyncio.sleep(0.05)
        assert not closing.done()  # still waiting for the write, not cancelling it
        sink.put("c")  # arrives during shutdown: the final flush takes it
        gate.release.set()
        await asyncio.wait_for(closing, 2)
        return sink

    sink = run(scenario())
    assert written == ["a", "b", "c"]
    assert sink.pending == 0 and sink.written == 3


def test_a_cancelled_flush_puts_its_batch_back():
    async def scenario():
        sink = BatchSink(lambda batch: None, interval_s=0.01)
        gate = Gate()
        sink.offload = gate
        sink.put("a")
        sink.put("b")
        flushing = asyncio.create_task(sink.flush())
        await asyncio.wait_for(gate.started.wait(), 2)
        sink.put("c")
        flushing.cancel()
        try:
            await flushing
        except asyncio.CancelledError:
            pass
        return sink._pending

    assert run(scenario()) == ["a", "b", "c"]


def test_a_cancelled_flusher_task_loses_nothing():
    written = []

    async def scenario():
        sink = BatchSink(written.extend, interval_s=0.01)
        gate = Gate()
        sink.offload = gate
        sink.start()
        sink.put("a")
        await asyncio.wait_for(gate.started.wait(), 2)
        sink._task.cancel()  # e.g. the loop shutting down around it
        await asyncio.sleep(0)
        sink.offload = inline
        await sink.close()

    run(scenario())
    assert written == ["a"]


class Store:
    """A fake write: refuses records for good (ValueError) or while 'down' (ConnectionError)."""

    def __init__(self, bad=()):
        self.bad = set(bad)
        self.down = False
        self.rows = []
        self.calls = []

    def write(self, batch):
        self.calls.append(list(batch))
        if self.down:
            raise ConnectionError("database is down")
        for record in batch:
            if record in self.bad:
                raise ValueError(f"value too long: {record}")
        self.rows.extend(batch)


def test_one_bad_record_goes_to_the_dead_letter_and_the_rest_are_written():
    store = Store(bad={"bad"})
    dead = []

    async def scenario():
        sink = BatchSink(store.write, interval_s=0.001, dead_letter=lambda r, e: dead.append((r, e)))
        sink.offload = inline
        for record in ("r1", "bad", "r2"):
            sink.put(record)
        await sink.flush()  # whole: fails
        assert sink.pending == 3 and not dead
        await sink.flush()  # whole again: fails
        assert sink.pending == 3 and not dead
        await sink.flush()  # one at a time
        sink.put("r3")
        await sink.flush()  # back to whole batches
        return sink

    sink = run(scenario())
    assert store.rows == ["r1", "r2", "r3"]
    assert [r for r, _ in dead] == ["bad"] and isinstance(dead[0][1], ValueError)
    assert store.calls[-1] == ["r3"] and sink.pending == 0 and sink.dead == 1


def test_the_default_dead_letter_logs_the_record_and_the_error(caplog):
    store = Store(bad={"bad"})

    async def scenario():
        sink = BatchSink(store.write, interval_s=0.001)
        sink.offload = inline
        sink.put("bad")
        for _ in range(3):
            await sink.flush()
        return sink

    with caplog.at_level(logging.ERROR, logger="meterhub.headend.sink"):
        sink = run(scenario())
    assert sink.pending == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("'bad'" in m and "value too long: bad" in m for m in errors), errors


def test_while_the_database_is_down_nothing_is_dead_lettered():
    store = Store(bad={"bad"})
    store.down = True
    dead = []

    async def scenario():
        sink = BatchSink(store.write, interval_s=0.001, dead_letter=lambda r, e: dead.append(r))
        sink.offload = inline
        for record in ("r1", "bad", "r2"):
            sink.put(record)
        for _ in range(6):  # whole, whole, split (stops at the first connection error), ...
            await sink.flush()
        assert sink.pending == 3 and not dead and not store.rows
        assert [1 for c in store.calls if len(c) == 1] == [1, 1]  # the split tried one record, twice
        store.down = False
        for _ in range(3):
            await sink.flush()
        return sink

    sink = run(scenario())
    assert store.rows == ["r1", "r2"] and dead == ["bad"] and sink.pending == 0


def test_is_transient_decides_what_stays_pending():
    class Outage(Exception):
        pass

    def write(batch):
        raise Outage("server closed the connection")

    dead = []

    async def scenario():
        sink = BatchSink(write, interval_s=0.001, dead_letter=lambda r, e: dead.append(r),
                         is_transient=lambda e: isinstance(e, Outage))
        sink.offload = inline
        sink.put("r1")
        for _ in range(5):
            await sink.flush()
        return sink

    sink = run(scenario())
    assert sink.pending == 1 and not dead


def test_what_cannot_be_written_at_shutdown_goes_to_the_dead_letter():
    store = Store()
    store.down = True
    dead = []

    async def scenario():
        sink = BatchSink(store.write, interval_s=0.01, dead_letter=lambda r, e: dead.append(r))
        sink.offload = inline
        sink.start()
        sink.put("r1")
        sink.put("r2")
        await asyncio.sleep(0.05)
        await asyncio.wait_for(sink.close(), 2)  # the backoff does not hold up shutdown

    run(scenario())
    assert dead == ["r1", "r2"]
