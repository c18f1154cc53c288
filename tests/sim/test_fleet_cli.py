"""`meterhub simulate ...` through click's CliRunner (the command is registered in
meterhub.cli by the lead engineer; here it is imported directly)."""

from __future__ import annotations

import asyncio
import csv
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from meterhub.cli.simulate import simulate
from meterhub.sim.fleet import COLLECTOR_COLUMNS, METER_COLUMNS, Fleet, load_fleet

from .test_bus import FakeMeter
from .test_collector import free_port

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo-fleet.yaml"


def fleet_file(tmp_path, collectors=20, **extra) -> Path:
    hp, cp = free_port(), free_port()
    lines = [f"headend: 127.0.0.1:{hp}", f"control: 127.0.0.1:{cp}", f"collectors: {collectors}",
             "meters_per_collector: 4", "defaults: {heartbeat_s: 0}"]
    lines += [f"{k}: {v}" for k, v in extra.items()]
    path = tmp_path / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_help_and_bare_group():
    r = CliRunner().invoke(simulate, ["--help"])
    assert r.exit_code == 0 and "--site" in r.output and "tamper" in r.output
    r = CliRunner().invoke(simulate, [])
    assert r.exit_code == 0 and "Usage" in r.output


@pytest.mark.parametrize("how", ["run", "--site"])
def test_run_with_a_sink_for_a_while(tmp_path, how):
    path = fleet_file(tmp_path)
    args = ["run", str(path)] if how == "run" else ["--site", str(path)]
    r = CliRunner().invoke(simulate, [*args, "--sink", "--duration", "0.5", "--quiet"])
    assert r.exit_code == 0, r.output
    assert "all 20 links up in" in r.output and "MB RSS" in r.output
    assert "sink: 20 registrations on 20 connections" in r.output


def test_run_without_a_head_end_keeps_trying(tmp_path):
    path = fleet_file(tmp_path, collectors=3)
    r = CliRunner().invoke(simulate, ["run", str(path), "--duration", "0.3"])
    assert r.exit_code == 0, r.output
    assert "0 of 3 links up so far" in r.output


def test_bad_file_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("collectors:\n  - {name: nameless}\n")
    r = CliRunner().invoke(simulate, ["run", str(path)])
    assert r.exit_code != 0 and "needs a code" in r.output


def test_export_writes_the_importer_columns(tmp_path):
    r = CliRunner().invoke(simulate, ["export", str(DEMO), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "out" / "collectors.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == COLLECTOR_COLUMNS
    spec = load_fleet(DEMO)
    assert [r["code"] for r in rows] == [c.code for c in spec.collectors]
    dialout = next(r for r in rows if r["transport"] == "dialout_tcp")
    assert dialout["host"] == "127.0.0.1" and dialout["port"] == "9201"
    with open(tmp_path / "out" / "meters.csv", newline="") as f:
        meters = list(csv.DictReader(f))
    assert tuple(meters[0]) == METER_COLUMNS and len(meters) == spec.meter_count
    assert {m["bus_port"] for m in meters if m["collector"] == "DTU-0001"} == {"1", "2"}


def _fleet_in_a_thread(path):
    """Run a fleet (with its control channel) on a loop in another thread."""
    ready = threading.Event()
    box: dict = {}

    def main():
        async def go():
            spec = load_fleet(path)
            fleet = Fleet(spec, meter_factory=lambda s: FakeMeter(s.address))
            await fleet.start(wait=False, control=True)
            box["fleet"], box["loop"], box["stop"] = fleet, asyncio.get_running_loop(), asyncio.Event()
            ready.set()
            await box["stop"].wait()
            await fleet.stop()

        asyncio.run(go())

    t = threading.Thread(target=main, daemon=True)
    t.start()
    assert ready.wait(10)
    return box, t


def test_tamper_fault_status_reach_a_running_simulator(tmp_path):
    path = fleet_file(tmp_path, collectors=2)
    box, thread = _fleet_in_a_thread(path)
    fleet = box["fleet"]
    try:
        runner = CliRunner()
        r = runner.invoke(simulate, ["--site", str(path), "tamper", "--meter", "E240101000001",
                                     "--kind", "seal-open"])
        assert r.exit_code == 0, r.output
        assert '"ok": true' in r.output
        assert fleet.meter("E240101000001").seal_open is True

        port = fleet.spec.control_port
        r = runner.invoke(simulate, ["fault", "--meter", "240101000002", "--kind", "late", "--value", "1.5",
                                     "--port", str(port)])
        assert r.exit_code == 0, r.output
        assert fleet.meter("240101000002").faults.late_reply_s == 1.5

        r = runner.invoke(simulate, ["fault", "--collector", "SIM-00001", "--kind", "impersonate",
                                     "--value", "X1", "--port", str(port)])
        assert r.exit_code == 0 and fleet.collector("SIM-00001").sent_id == "X1"

        r = runner.invoke(simulate, ["fault", "--collector", "SIM-00001", "--kind", "late",
                                     "--port", str(port)])
        assert r.exit_code != 0 and "not a collector fault" in r.output

        r = runner.invoke(simulate, ["status", "--port", str(port)])
        assert r.exit_code == 0 and '"collectors": 2' in r.output

        r = runner.invoke(simulate, ["tamper", "--meter", "nope", "--kind", "magnet", "--port", str(port)])
        assert r.exit_code == 1 and "no meter nope" in r.output
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)


def test_control_commands_without_a_simulator_say_so():
    r = CliRunner().invoke(simulate, ["status", "--port", str(free_port())])
    assert r.exit_code != 0 and "no simulator on" in r.output
