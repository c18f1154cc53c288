"""A bill run killed (SIGKILL) in the middle, then run again from the command line, bills
every account exactly once: no account twice, none left out, every bill with its entry."""

import json
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from tests.readings.test_kill_during_ingest import ROOT, _admin_url, _env

ACCOUNTS, BATCH = 400, 20


def _worker(env, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-m", "tests.billing.billrun_worker", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True, **kwargs)


def _check(env) -> dict:
    out, _ = _worker(env, "check").communicate(timeout=120)
    return json.loads(out)


def expected_total() -> Decimal:
    # account i used i kWh: 50 at 0.50, the rest at 0.80, plus 5.00 standing
    return sum((Decimal(5) + Decimal("0.5") * min(i, 50) + Decimal("0.8") * max(0, i - 50) for i in range(ACCOUNTS)),
               Decimal(0))


@pytest.mark.django_db
def test_sigkill_mid_bill_run_then_a_rerun_bills_every_account_once(tmp_path):
    env, pg_name = _env(tmp_path)
    try:
        assert _worker(env, "setup", str(ACCOUNTS)).wait(timeout=300) == 0
        worker = _worker(env, "run", str(BATCH))
        done = 0
        for _line in worker.stdout:
            done += 1
            if done == 4:
                worker.send_signal(signal.SIGKILL)  # most likely inside batch 5's transaction
                break
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        after_crash = _check(env)
        assert 4 * BATCH <= after_crash["billed_accounts"] < ACCOUNTS
        assert after_crash["billed_accounts"] % BATCH == 0, "a batch was half committed"
        assert after_crash["bill_entries"] == after_crash["billed_accounts"]

        cli = Path(sys.executable).parent / "meterhub"
        rerun = subprocess.run([str(cli), "bill", "run", "--period", "2026-11", "--batch-size", str(BATCH)], cwd=ROOT,
                               env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert f"{ACCOUNTS - after_crash['billed_accounts']} billed" in rerun.stdout
        assert f"{after_crash['billed_accounts']} already billed" in rerun.stdout
        final = _check(env)
        assert final == {"accounts": ACCOUNTS, "billed_accounts": ACCOUNTS, "max_bills_per_account": 1,
                         "bill_entries": ACCOUNTS, "bills_without_entry": 0, "mismatched_balances": 0,
                         "total_billed": str(expected_total().quantize(Decimal("0.01")))}
        again = subprocess.run([str(cli), "bill", "run", "--period", "2026-11"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
        assert "0 billed" in again.stdout and _check(env) == final
    finally:
        if pg_name:
            with psycopg.connect(_admin_url(), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
