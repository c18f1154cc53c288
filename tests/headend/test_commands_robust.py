"""The command queue stays alive when one command is bad, slow, or orphaned.

- an unexpected exception fails the command (it is not re-claimed for ever);
- a command whose meter left its collector cannot stop claiming, and other nodes'
  backlog cannot starve this node's buses;
- one slow command does not hold up the others on the node.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from meterhub.assets.models import Collector, Meter
from meterhub.comms import commands
from meterhub.comms.models import Command
from meterhub.headend import commands as executor
from meterhub.headend.bus import CollectorGone
from meterhub.headend.meter_io import MeterRef
from meterhub.headend.worker import CommandWorker
from tests.headend.fake_collector import FakeMeter
from tests.headend.test_commands import with_headend


def _queue(meter, kind, params=None, valid_for=timedelta(hours=1)) -> Command:
    """A command straight into the table, as an older release or a later edit may have left it."""
    return Command.objects.create(meter=meter, kind=kind, params=params or {}, requested_by="ops",
                                  valid_until=timezone.now() + valid_for)


async def _tick_and_drain(headend, worker):
    started = await worker.tick()
    await worker.drain()
    return started, await worker.tick()


# --- (4) an unexpected exception finishes the command ------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_relay_command_on_a_1997_meter_fails_once_instead_of_being_reclaimed(collector):
    meter = Meter.objects.create(serial="E97", site=collector.site, address="000000000001", collector=collector,
                                 protocol="dlt645_1997", switch="relay", password="02123456")
    command = _queue(meter, "relay_trip")  # the codec refuses: EncodeError, not a BusError

    started, again = asyncio.run(with_headend(_tick_and_drain, [FakeMeter("000000000001")]))

    assert (started, again) == (1, 0), "finished the first time, so nothing left to claim"
    command.refresh_from_db()
    assert (command.status, command.attempts) == ("failed", 1)
    assert command.result["error"].startswith("EncodeError: ")
    assert command.finished_at is not None
    assert [s.step for s in command.steps.all()] == ["claimed", "error"]
    assert command.steps.get(step="error").detail == {"error": command.result["error"]}


@pytest.mark.django_db(transaction=True)
def test_bad_read_now_params_fail_the_command_with_the_error(relay_meter_2007):
    command = _queue(relay_meter_2007, "read_now", {"items": ["not-hex"]})  # int("not-hex", 16)

    started, again = asyncio.run(with_headend(_tick_and_drain, [FakeMeter("000000000001")]))

    assert (started, again) == (1, 0)
    command.refresh_from_db()
    assert command.status == "failed"
    assert command.result == {"error": "ValueError: invalid literal for int() with base 16: 'not-hex'"}


@pytest.fixture
def relay_meter_2007(collector):
    return Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector,
                                switch="relay", password="02123456", operator_code="00000001")


@pytest.mark.django_db
def test_1997_meters_are_refused_relay_and_clock_commands_at_request_time(collector):
    old = Meter.objects.create(serial="E97", site=collector.site, address="000000000001", collector=collector,
                               protocol="dlt645_1997", switch="relay")
    for kind in ("relay_trip", "relay_close_allowed", "relay_direct_close"):
        with pytest.raises(ValidationError, match="DL/T 645-1997 meters have no relay control"):
            commands.request_command(old, kind, requested_by="ops")
    with pytest.raises(ValidationError, match="DL/T 645-1997 meters cannot report their clock"):
        commands.request_command(old, "time_sync", requested_by="ops")
    assert not Command.objects.exists()
    ok = commands.request_command(old, "read_now", requested_by="ops", params={"items": ["00009010"]})
    assert ok.params == {"items": ["00009010"]}


@pytest.mark.django_db
@pytest.mark.parametrize("params", [
    {"items": ["zz"]}, {"items": ["0001000"]}, {"items": ["000100000"]}, {"items": [0x00010000]},
    {"items": "00010000"}, {"items": ["00010000", " 0010000"]}, {"items": ["0x010000"]},
])
def test_read_now_items_are_checked_at_request_time(relay_meter_2007, params):
    with pytest.raises(ValidationError, match="8 hex digits"):
        commands.request_command(relay_meter_2007, "read_now", requested_by="ops", params=params)
    assert not Command.objects.exists()


@pytest.mark.django_db
def test_valid_read_now_items_are_queued(relay_meter_2007, collector):
    command = commands.request_command(relay_meter_2007, "read_now", requested_by="ops",
                                       params={"items": ["00010000", "0201ff00"]})
    assert command.params == {"items": ["00010000", "0201ff00"]}
    assert commands.request_command(relay_meter_2007, "read_now", requested_by="ops").params == {}
    old = Meter.objects.create(serial="E97", site=collector.site, address="000000000002", collector=collector,
                               protocol="dlt645_1997")
    with pytest.raises(ValidationError, match="4 hex digits"):
        commands.request_command(old, "read_now", requested_by="ops", params={"items": ["00010000"]})


@pytest.mark.django_db
def test_time_sync_tolerance_must_be_a_number(relay_meter_2007):
    with pytest.raises(ValidationError, match="tolerance"):
        commands.request_command(relay_meter_2007, "time_sync", requested_by="ops", params={"tolerance_s": "5"})
    command = commands.request_command(relay_meter_2007, "time_sync", requested_by="ops", params={"tolerance_s": 5})
    assert command.params == {"tolerance_s": 5}


# --- (5) claiming survives orphans and cannot be starved ---------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_meter_taken_off_its_collector_does_not_stop_claiming(relay_meter_2007, collector):
    orphan_meter = Meter.objects.create(serial="E2", site=collector.site, address="000000000002",
                                        collector=collector, switch="relay")
    orphaned = commands.request_command(orphan_meter, "relay_trip", requested_by="ops")  # the oldest
    good = commands.request_command(relay_meter_2007, "relay_trip", requested_by="ops")
    Meter.objects.filter(pk=orphan_meter.pk).update(collector=None)

    tasks = commands.claim("n", {("REG-1", 1)})

    assert [t.id for t in tasks] == [good.pk]
    orphaned.refresh_from_db()
    assert orphaned.status == "failed" and orphaned.finished_at is not None
    assert orphaned.result == {"error": commands.ORPHANED}
    assert orphaned.steps.get(step="error").detail == {"error": commands.ORPHANED}
    assert orphaned.attempts == 0, "never claimed"
    assert commands.claim("n", {("REG-1", 1)}) == []


@pytest.mark.django_db(transaction=True)
def test_orphans_are_failed_even_by_a_node_holding_no_bus(relay_meter_2007):
    command = commands.request_command(relay_meter_2007, "relay_trip", requested_by="ops")
    Meter.objects.filter(pk=relay_meter_2007.pk).update(collector=None)
    assert commands.claim("n", set()) == []
    command.refresh_from_db()
    assert command.status == "failed"


@pytest.mark.django_db(transaction=True)
def test_other_nodes_backlog_does_not_starve_this_nodes_buses(relay_meter_2007, collector):
    elsewhere = Collector.objects.create(code="DTU-2", site=collector.site, registration_id="REG-2")
    far = Meter.objects.create(serial="E9", site=collector.site, address="000000000009", collector=elsewhere,
                               switch="relay")
    valid_until = timezone.now() + timedelta(hours=1)
    Command.objects.bulk_create([Command(meter=far, kind="relay_trip", requested_by="ops", valid_until=valid_until)
                                 for _ in range(450)])  # older than ours, all for a bus another node holds
    mine = commands.request_command(relay_meter_2007, "relay_trip", requested_by="ops")

    assert [t.id for t in commands.claim("n", {("REG-1", 1)}, limit=100)] == [mine.pk]
    assert Command.objects.filter(status="pending").count() == 450, "the others are left alone"
    assert len(commands.claim("m", {("REG-2", 1)}, limit=100)) == 100


@pytest.mark.django_db(transaction=True)
def test_claim_matches_the_bus_port_as_well_as_the_collector(collector):
    on_port_2 = Meter.objects.create(serial="E2", site=collector.site, address="000000000002",
                                     collector=collector, bus_port=2, switch="relay")
    command = commands.request_command(on_port_2, "relay_trip", requested_by="ops")
    assert commands.claim("n", {("REG-1", 1), ("REG-2", 2)}) == []
    assert [t.id for t in commands.claim("n", {("REG-1", 2)})] == [command.pk]


@pytest.mark.django_db(transaction=True)
def test_claim_with_thousands_of_buses_is_one_query(relay_meter_2007, django_assert_max_num_queries):
    command = commands.request_command(relay_meter_2007, "relay_trip", requested_by="ops")
    buses = {(f"REG-{n}", port) for n in range(2, 3000) for port in (1, 2)} | {("REG-1", 1)}
    # orphan sweep + the claim itself + (save, step) for the one claimed
    with django_assert_max_num_queries(6):
        tasks = commands.claim("n", buses)
    assert [t.id for t in tasks] == [command.pk]


# --- (10) one slow command does not hold up the node -------------------------------------------


class _Blocking:
    async def run(self, fn, *args):
        return fn(*args)


class _Session:
    closed = False


class _HeadEnd:
    node = "test-node"

    def __init__(self):
        self.blocking, self.sessions = _Blocking(), {("REG-1", 1): _Session()}
        self.published = []

    def publish_read_now(self, meter, values):
        self.published.append((meter.serial, values))

    def session_for(self, meter):
        session = self.sessions.get((meter.collector, meter.bus_port))
        if session is None:
            raise CollectorGone("offline")
        return session


def _task(command_id: int, kind: str = "read_now") -> executor.CommandTask:
    meter = MeterRef(id=command_id, serial=f"E{command_id}", address=f"{command_id:012d}", protocol="dlt645_2007",
                     collector="REG-1", bus_port=1)
    return executor.CommandTask(command_id, kind, meter, datetime.now(UTC) + timedelta(hours=1),
                                "Asia/Shanghai", 1)


class _Queue:
    """claim/finish doubles: hands out what was put in (again, as after a lease ran out)."""

    def __init__(self, *tasks):
        self.pending, self.finished = list(tasks), []

    def claim(self, node, buses):
        return list(self.pending)

    def finish(self, command_id, outcome, node):
        self.pending = [t for t in self.pending if t.id != command_id]
        self.finished.append((command_id, outcome.status))


@pytest.fixture
def slow_first(monkeypatch):
    gate: dict[str, asyncio.Event] = {}
    calls: list[int] = []

    async def execute(session, task, now):
        calls.append(task.id)
        if task.id == 1:
            await gate.setdefault("slow", asyncio.Event()).wait()
        return executor.Outcome("done", {}, [])

    monkeypatch.setattr(executor, "execute", execute)
    return gate, calls


def test_a_slow_command_does_not_hold_up_the_others(slow_first):
    gate, calls = slow_first
    queue = _Queue(_task(1), _task(2))

    async def scenario():
        worker = CommandWorker(_HeadEnd(), queue.claim, queue.finish)
        started = await asyncio.wait_for(worker.tick(), 1)  # returns although command 1 is stuck
        for _ in range(5):
            await asyncio.sleep(0)
        assert queue.finished == [(2, "done")], "the fast one finished while the slow one runs"
        queue.pending.append(_task(3))
        again = await asyncio.wait_for(worker.tick(), 1)  # 1 is handed out again: still running, skipped
        await asyncio.sleep(0.01)
        gate["slow"].set()
        await asyncio.wait_for(worker.drain(), 1)
        return started, again, worker

    started, again, worker = asyncio.run(scenario())
    assert (started, again) == (2, 1)
    assert sorted(queue.finished) == [(1, "done"), (2, "done"), (3, "done")]
    assert calls.count(1) == 1, "never run twice at once"
    assert not worker._tasks and not worker._running


def test_close_cancels_commands_in_flight(slow_first):
    gate, calls = slow_first
    queue = _Queue(_task(1))

    async def scenario():
        worker = CommandWorker(_HeadEnd(), queue.claim, queue.finish)
        assert await asyncio.wait_for(worker.tick(), 1) == 1
        await asyncio.sleep(0.01)
        await asyncio.wait_for(worker.close(), 1)
        return worker

    worker = asyncio.run(scenario())
    assert calls == [1] and queue.finished == [], "left for its lease to run out and be taken up again"
    assert not worker._tasks and not worker._running


def test_run_cancelled_cancels_its_commands(slow_first):
    gate, calls = slow_first
    queue = _Queue(_task(1))

    async def scenario():
        worker = CommandWorker(_HeadEnd(), queue.claim, queue.finish, interval_s=0.01)
        runner = asyncio.create_task(worker.run())
        await asyncio.sleep(0.05)
        runner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await runner
        return worker

    worker = asyncio.run(scenario())
    assert calls == [1] and not worker._tasks


def test_unexpected_errors_in_a_command_are_logged_and_fail_it(monkeypatch, caplog):
    async def execute(session, task, now):
        raise AttributeError("'NoneType' object has no attribute 'get'")

    monkeypatch.setattr(executor, "execute", execute)
    queue = _Queue(_task(7))

    async def scenario():
        worker = CommandWorker(_HeadEnd(), queue.claim, queue.finish)
        await asyncio.wait_for(worker.tick(), 1)
        await asyncio.wait_for(worker.drain(), 1)

    with caplog.at_level(logging.ERROR, logger="meterhub.headend.worker"):
        asyncio.run(scenario())
    assert queue.finished == [(7, "failed")]
    record = next(r for r in caplog.records if "command 7" in r.getMessage())
    assert record.exc_info and record.exc_info[0] is AttributeError


def test_a_failing_finish_is_logged_not_lost(caplog):
    def finish(command_id, outcome, node):
        raise RuntimeError("database went away")

    async def scenario():
        worker = CommandWorker(_HeadEnd(), lambda node, buses: [_task(8)], finish)
        worker.headend.sessions.clear()  # CollectorGone -> retry outcome -> finish raises
        assert await asyncio.wait_for(worker.tick(), 1) == 1
        await asyncio.wait_for(worker.drain(), 1)
        return worker

    with caplog.at_level(logging.ERROR, logger="meterhub.headend.worker"):
        worker = asyncio.run(scenario())
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)
    assert not worker._running, "it can be taken up again"
