"""`meterhub seal`: verify with the database or with a copied key list, keys, stock, labels."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from meterhub.cli import main
from meterhub.seals import custody, keys
from meterhub.seals.custody import Where


def installed_code(tech, storekeeper, meter, serial="S000001"):
    custody.issue([serial], tech, Where(storekeeper))
    return custody.install(serial, Where(tech), meter=meter, position="meter_cover").code


def test_verify_against_the_database(batch, tech, storekeeper, meter):
    code = installed_code(tech, storekeeper, meter)
    ok = CliRunner().invoke(main, ["seal", "verify", code, "--meter", "E240101000001"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output)["verdict"] == "valid"
    other = CliRunner().invoke(main, ["seal", "verify", code, "--meter", "E9"])
    assert other.exit_code == 1 and json.loads(other.output)["verdict"] == "other_meter"
    bad = CliRunner().invoke(main, ["seal", "verify", code[:-2] + "00"])
    assert json.loads(bad.output)["verdict"] == "not_genuine"


def test_verify_with_a_copied_key_list_needs_no_database(batch, tech, storekeeper, meter, tmp_path):
    code = installed_code(tech, storekeeper, meter)
    listed = tmp_path / "keys.json"
    assert CliRunner().invoke(main, ["seal", "keys", "publish", "-o", str(listed)]).exit_code == 0
    trust = CliRunner().invoke(main, ["seal", "keys", "trust"]).output.strip()
    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none", "METERHUB_VAR": str(tmp_path / "v")}
    script = Path(sys.executable).with_name("meterhub")
    run = subprocess.run([str(script), "seal", "verify", code, "--meter", "E240101000001", "--keys", str(listed),
                          "--trust", trust], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["code"]["seal"] == "S000001"
    assert not (tmp_path / "v").exists(), "no database, no var directory touched"
    wrong = subprocess.run([str(script), "seal", "verify", code, "--keys", str(listed), "--trust", keys.b64(bytes(32))],
                           capture_output=True, text=True, env=env, timeout=60)
    assert wrong.returncode == 1 and "signature does not match" in wrong.stderr


def test_rotate_then_old_code_still_verifies(batch, tech, storekeeper, meter):
    code = installed_code(tech, storekeeper, meter)
    result = CliRunner().invoke(main, ["seal", "keys", "rotate"])
    assert result.exit_code == 0 and "new seal key" in result.output
    assert CliRunner().invoke(main, ["seal", "verify", code]).exit_code == 0


def test_receive_and_labels(storekeeper, tech, meter, tmp_path):
    result = CliRunner().invoke(main, ["seal", "receive", "--batch", "B7", "--type", "wire", "--first", "1",
                                       "--last", "3", "--prefix", "W"])
    assert result.exit_code == 0 and "W000001 .. W000003" in result.output
    again = CliRunner().invoke(main, ["seal", "receive", "--batch", "B8", "--type", "wire", "--first", "3",
                                      "--last", "4", "--prefix", "W"])
    assert again.exit_code == 1 and "already registered: W000003" in again.output
    installed_code(tech, storekeeper, meter, "W000002")
    pdf = tmp_path / "labels.pdf"
    result = CliRunner().invoke(main, ["seal", "labels", "--meter", "E240101000001", "-o", str(pdf)])
    assert result.exit_code == 0, result.output
    assert pdf.read_bytes().startswith(b"%PDF")
    none = CliRunner().invoke(main, ["seal", "labels", "--meter", "NOPE", "-o", str(pdf)])
    assert none.exit_code == 1 and "no installed seal" in none.output
