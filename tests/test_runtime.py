"""The composition root: the head-end's sink keeps what the database refuses, the
components are supervised, housekeeping runs every hour, and MQTT gateways are served only
when asked for."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from click.testing import CliRunner

from meterhub import runtime
from meterhub.headend.records import LinkRecord, ReadingRecord

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def reading(meter_id: int, minutes: int = 0) -> ReadingRecord:
    return ReadingRecord(meter_id, "energy_import", T0.replace(minute=minutes), Decimal("10.5"), Decimal(1),
                         "kWh", "scheduled")


def dead_letters(path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the dead letter ---------------------------------------------------------------------

def test_dead_letter_appends_one_json_line_per_record_and_logs(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    with caplog.at_level(logging.ERROR, logger="meterhub.runtime"):
        runtime.dead_letter(reading(7), ValueError("numeric field overflow"))
        runtime.dead_letter(LinkRecord(T0, "R" * 80, 1, "online"), ValueError("value too long"))
    lines = dead_letters(tmp_path / "headend-dead-letter.jsonl")
    assert [line["type"] for line in lines] == ["ReadingRecord", "LinkRecord"]
    assert lines[0]["fields"] == {"meter_id": "7", "quantity": "energy_import", "ts": str(T0),
                                  "raw_value": "10.5", "multiplier": "1", "unit": "kWh", "source": "scheduled",
                                  "quality": "actual"}
    assert lines[0]["error"] == "ValueError: numeric field overflow" and lines[0]["time"]
    assert lines[1]["fields"]["registration_id"] == "R" * 80
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_transient_means_the_database_is_unavailable():
    from django.db.utils import DataError, IntegrityError, InterfaceError, OperationalError

    assert runtime.is_transient(OperationalError("server closed the connection unexpectedly"))
    assert runtime.is_transient(InterfaceError("connection already closed"))
    assert not any(runtime.is_transient(e) for e in (DataError("too long"), IntegrityError("fk"), ValueError()))


async def _write_through_the_sink(records) -> runtime.BatchSink:
    from django.db import connections

    from meterhub.headend.blocking import Blocking

    sink = runtime.make_sink("test")
    blocking = Blocking(connections.close_all)  # as in the HeadEnd: the database thread
    sink.offload = blocking.run
    for record in records:
        sink.put(record)
    try:
        for _ in range(5):
            if not sink.pending:
                break
            await sink.flush(backoff=False)
    finally:
        await blocking.close()
    return sink


@pytest.mark.django_db(transaction=True)
def test_a_record_the_database_refuses_goes_to_the_dead_letter_and_the_rest_are_stored(
        collector, tmp_path, monkeypatch):
    from django.db import connection

    from meterhub.assets.models import Meter
    from meterhub.comms.models import LinkEvent
    from meterhub.readings.models import Reading

    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    meter = Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector)
    too_long = "R" * 80  # LinkEvent.registration_id is varchar(64)
    records = [reading(meter.pk, 0), LinkRecord(T0, too_long, 1, "refused", "10.0.0.9:1", "unknown"),
               reading(meter.pk, 15), LinkRecord(T0, "REG-1", 1, "online", "10.0.0.1:1")]
    sink = asyncio.run(_write_through_the_sink(records))

    assert sink.pending == 0
    assert Reading.objects.filter(meter=meter).count() == 2
    assert LinkEvent.objects.filter(registration_id="REG-1").count() == 1
    lines = dead_letters(tmp_path / "headend-dead-letter.jsonl")
    if connection.vendor == "postgresql":
        assert [(line["type"], line["fields"]["registration_id"]) for line in lines] == [("LinkRecord", too_long)]
        assert lines[0]["error"].startswith("DataError")
    else:  # SQLite does not enforce varchar lengths: the long id is simply stored
        assert lines == []


@pytest.mark.django_db(transaction=True)
def test_a_reading_of_a_deleted_meter_does_not_block_the_others(collector, tmp_path, monkeypatch):
    from meterhub.assets.models import Meter
    from meterhub.readings.models import Reading, RejectedReading

    monkeypatch.setenv("METERHUB_VAR", str(tmp_path))
    meter = Meter.objects.create(serial="E1", site=collector.site, address="000000000001", collector=collector)
    gone = meter.pk + 1000  # a meter deleted after the fleet snapshot
    sink = asyncio.run(_write_through_the_sink([reading(meter.pk, 0), reading(gone, 0), reading(meter.pk, 15)]))

    assert sink.pending == 0 and sink.dead == 0
    assert Reading.objects.filter(meter=meter).count() == 2
    # refused by ingest, kept in the database with its reason (no dead letter needed)
    rejected = RejectedReading.objects.get()
    assert (rejected.meter_ref, rejected.reason) == (str(gone), "unknown meter")
    assert dead_letters(tmp_path / "headend-dead-letter.jsonl") == []


# --- supervision -------------------------------------------------------------------------

def test_a_failing_component_is_logged_and_restarted(caplog):
    calls = []

    async def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'")
        await asyncio.sleep(3600)

    async def scenario():
        task = asyncio.create_task(runtime.supervise("dial-out", flaky, backoff_s=(0.01, 0.05)))
        for _ in range(200):
            if len(calls) == 2:
                break
            await asyncio.sleep(0.01)
        running = not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return running

    with caplog.at_level(logging.ERROR, logger="meterhub.runtime"):
        assert asyncio.run(scenario())
    assert len(calls) == 2
    failed = [r for r in caplog.records if "dial-out failed" in r.getMessage()]
    assert len(failed) == 1 and failed[0].exc_info and failed[0].exc_info[0] is TypeError


def test_the_restart_backoff_doubles_up_to_its_limit(monkeypatch):
    waits = []
    real_sleep = asyncio.sleep

    async def sleep(delay):
        waits.append(delay)
        await real_sleep(0)

    async def broken():
        raise RuntimeError("broken")

    async def scenario():
        monkeypatch.setattr(runtime.asyncio, "sleep", sleep)
        task = asyncio.create_task(runtime.supervise("broken", broken))
        while len(waits) < 9:
            await real_sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert waits[:9] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


# --- housekeeping ------------------------------------------------------------------------

def test_housekeeping_purges_old_portal_records_every_hour_and_survives_a_failure(monkeypatch, caplog):
    from django.db.utils import OperationalError

    from meterhub.portal import retention

    offloaded, waits = [], []

    async def offload(fn, *args):  # the database thread, here as a stand-in
        offloaded.append(fn)
        if len(offloaded) == 1:
            raise OperationalError("the database is restarting")
        return 3

    async def sleep(delay):
        waits.append(delay)
        if len(waits) == 2:
            raise asyncio.CancelledError

    monkeypatch.setattr(runtime.asyncio, "sleep", sleep)
    with caplog.at_level(logging.INFO, logger="meterhub.runtime"), pytest.raises(asyncio.CancelledError):
        asyncio.run(runtime.run_housekeeping(offload))
    assert offloaded == [retention.purge, retention.purge] and waits == [3600, 3600]
    said = [r.getMessage() for r in caplog.records]
    assert "housekeeping failed; again in 3600 s" in said
    assert "housekeeping: removed 3 portal records past their retention" in said


class _Fake:
    made: list[str] = []

    def __init__(self, headend, **kwargs):
        self.made.append(type(self).__name__)
        self.runs = 0

    async def run(self):
        self.runs += 1
        await asyncio.sleep(3600)


class _FakeHeadEnd:
    def __init__(self):
        self.closed = False
        self.blocking = self
        self.offloaded = set()

    async def run(self, fn, *args):  # the database thread: nothing to process here
        self.offloaded.add(fn)
        return 0

    async def start(self, host, port):
        return 9999

    async def close(self):
        self.closed = True


def _fake_runtime(monkeypatch, dial_out_run=None):
    _Fake.made = []
    headend = _FakeHeadEnd()
    parts = {name: type(name, (_Fake,), {}) for name in ("GlowFeed", "MqttGateways", "DialOut", "SerialLinks")}
    if dial_out_run is not None:
        parts["DialOut"].run = dial_out_run
    for name, cls in parts.items():
        monkeypatch.setattr(runtime, name, cls)
    monkeypatch.setattr(runtime, "build_headend", lambda node: (headend, _Fake(headend), _Fake(headend)))
    monkeypatch.setattr(runtime, "RESTART_BACKOFF_S", (0.01, 0.05), raising=False)
    return headend


def _run_until_ready(**kwargs):
    async def scenario():
        ready = asyncio.Event()
        task = asyncio.create_task(runtime.run_headend("127.0.0.1", 0, "t", ready=ready, **kwargs))
        await asyncio.wait_for(ready.wait(), 2)
        await asyncio.sleep(0.2)
        alive = not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return alive

    return asyncio.run(scenario())


def test_glow_feeds_do_not_make_a_head_end_a_master_of_mqtt_gateways(monkeypatch):
    headend = _fake_runtime(monkeypatch)
    assert _run_until_ready(mqtt=("broker", 1883))
    assert "GlowFeed" in _Fake.made and "MqttGateways" not in _Fake.made
    assert headend.closed


def test_the_head_end_runs_the_housekeeping(monkeypatch):
    from meterhub.portal import retention

    headend = _fake_runtime(monkeypatch)
    assert _run_until_ready()
    assert retention.purge in headend.offloaded


def test_mqtt_gateways_are_served_when_asked_for(monkeypatch):
    _fake_runtime(monkeypatch)
    assert _run_until_ready(mqtt=("broker", 1883), mqtt_gateways=True)
    assert "GlowFeed" in _Fake.made and "MqttGateways" in _Fake.made


def test_one_failing_component_does_not_stop_the_head_end(monkeypatch):
    calls = []

    async def dial_out_run(self):
        calls.append(1)
        if len(calls) == 1:
            raise TypeError("unsupported operand type(s) for +: 'NoneType' and 'int'")
        await asyncio.sleep(3600)

    headend = _fake_runtime(monkeypatch, dial_out_run)
    assert _run_until_ready()
    assert len(calls) == 2 and headend.closed


def test_cli_mqtt_gateways_is_a_separate_opt_in(monkeypatch):
    from meterhub.cli import main

    seen = []

    async def fake_run_headend(host, port, node, **kwargs):
        seen.append(kwargs)

    monkeypatch.setattr(runtime, "run_headend", fake_run_headend)
    help_text = CliRunner().invoke(main, ["headend", "--help"]).output
    assert "--mqtt-gateways" in help_text and "one head-end per broker" in " ".join(help_text.split())
    assert CliRunner().invoke(main, ["headend", "--mqtt", "broker:1884"]).exit_code == 0
    assert CliRunner().invoke(main, ["headend", "--mqtt", "broker:1884", "--mqtt-gateways"]).exit_code == 0
    assert [(k["mqtt"], k["mqtt_gateways"]) for k in seen] == [(("broker", 1884), False),
                                                               (("broker", 1884), True)]
    assert CliRunner().invoke(main, ["headend", "--mqtt-gateways"]).exit_code != 0
